//! The admin subcommands: users, books, grants and tokens, on the server's store file.

use crate::config::{BookCommand, DataDir, GrantArgs, RevokeArgs, TokenCommand, UserCommand};
use crate::data_dir;
use crate::directory::unix_now as now;
use crate::directory::{Access, Directory, Role};
use anyhow::{Context, Result};

fn open(dir: &DataDir) -> Result<Directory> {
    std::fs::create_dir_all(&dir.data_dir)
        .with_context(|| format!("cannot create the data dir {}", dir.data_dir.display()))?;
    Ok(Directory::open(&data_dir::store_path(&dir.data_dir))?)
}

fn print_json(v: &impl serde::Serialize) -> Result<()> {
    println!("{}", serde_json::to_string_pretty(v)?);
    Ok(())
}

pub fn user(cmd: UserCommand) -> Result<()> {
    match cmd {
        UserCommand::Add { user, role, dir } => {
            let role: Role = role.parse()?;
            open(&dir)?.add_user(&user, role, now())?;
            println!("Added {role} {user}. Next: `crm-sync-server token issue {user}`.");
        }
        UserCommand::Role { user, role, dir } => {
            let role: Role = role.parse()?;
            open(&dir)?.set_role(&user, role)?;
            println!("{user} is now {role}.");
        }
        UserCommand::List { dir } => {
            let users = open(&dir)?.users()?;
            if dir.json {
                return print_json(&users);
            }
            println!("{:<20} {:<8} {:>6}  BOOKS", "USER", "ROLE", "TOKENS");
            for u in users {
                let books = if u.role == "rep" {
                    u.books.join(", ")
                } else {
                    "(all)".into()
                };
                println!("{:<20} {:<8} {:>6}  {books}", u.name, u.role, u.tokens);
            }
        }
    }
    Ok(())
}

pub fn book(cmd: BookCommand) -> Result<()> {
    match cmd {
        BookCommand::Add { book, dir } => {
            open(&dir)?.add_book(&book, now())?;
            println!("Added book {book}. Next: `crm-sync-server grant USER {book}`.");
        }
        BookCommand::List { dir } => {
            let books = open(&dir)?.books()?;
            if dir.json {
                return print_json(&books);
            }
            for b in books {
                println!("{b}");
            }
        }
    }
    Ok(())
}

pub fn grant(a: GrantArgs) -> Result<()> {
    let access = if a.read_only {
        Access::Read
    } else {
        Access::Write
    };
    open(&a.dir)?.grant(&a.user, &a.book, access)?;
    println!(
        "{} may now {} book {}.",
        a.user,
        if a.read_only {
            "read"
        } else {
            "read and write"
        },
        a.book
    );
    Ok(())
}

pub fn revoke(a: RevokeArgs) -> Result<()> {
    if open(&a.dir)?.revoke(&a.user, &a.book)? {
        println!("{} may no longer see book {}.", a.user, a.book);
    } else {
        println!("{} had no access to book {}.", a.user, a.book);
    }
    Ok(())
}

pub fn token(cmd: TokenCommand) -> Result<()> {
    match cmd {
        TokenCommand::Issue {
            user,
            expires_in,
            expires_in_days,
            dir,
        } => {
            let mut random = [0u8; 32];
            rand::fill(&mut random);
            let now = now();
            // At most 100 years (`parse_expiry`): no overflow.
            let seconds = expires_in
                .map(|s| s as i64)
                .or(expires_in_days.map(|d| i64::from(d) * 86_400));
            let expires = seconds.map(|s| now + s);
            let (id, token) = open(&dir)?.issue_token(&user, random, now, expires)?;
            if dir.json {
                return print_json(
                    &serde_json::json!({"id": id, "user": user, "token": token, "expires_at": expires}),
                );
            }
            eprintln!(
                "Token {id} for {user} (shown once; give it to {user} for `crm init --token`):"
            );
            println!("{token}");
        }
        TokenCommand::Revoke { id, user, dir } => {
            let mut d = open(&dir)?;
            match (id, user) {
                (Some(id), _) => {
                    d.revoke_token(id, now())?;
                    println!("Revoked token {id}; its connections close within a second.");
                }
                (None, Some(user)) => {
                    let n = d.revoke_user_tokens(&user, now())?;
                    println!(
                        "Revoked {n} token(s) of {user}; their connections close within a second."
                    );
                }
                (None, None) => anyhow::bail!("give a token id or --user USER"),
            }
        }
        TokenCommand::List { dir } => {
            let tokens = open(&dir)?.tokens()?;
            if dir.json {
                return print_json(&tokens);
            }
            println!("{:>4}  {:<20} {:<8}", "ID", "USER", "STATE");
            let now = now();
            for t in tokens {
                let state = match (t.revoked_at, t.expires_at) {
                    (Some(_), _) => "revoked",
                    (None, Some(e)) if e <= now => "expired",
                    _ => "active",
                };
                println!("{:>4}  {:<20} {state:<8}", t.id, t.user);
            }
        }
    }
    Ok(())
}
