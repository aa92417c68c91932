//! What the server answers at `GET /me` (beside the WebSocket, with the same `Authorization:
//! Bearer` token): who the token belongs to, their role, the books they may read and write, and
//! the server's storage id. A client keeps it to choose its book and to refuse on the laptop what
//! the server would refuse later (a rep's settings change, a rep's move of a record it holds).

use serde::{Deserialize, Serialize};

/// The path of the grants endpoint, beside the sync path (`/sync` -> `/me`).
pub const GRANTS_PATH: &str = "me";

/// What a user is on a server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Reads and writes the books granted to them.
    Rep,
    /// Every book; moves records between books; changes the workspace settings.
    Manager,
    /// What a manager may, and runs the server.
    Admin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Rep => "rep",
            Role::Manager => "manager",
            Role::Admin => "admin",
        }
    }
}

/// A role name that is none of `rep`, `manager`, `admin`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a role (rep, manager or admin)")]
pub struct UnknownRole(pub String);

impl std::str::FromStr for Role {
    type Err = UnknownRole;
    fn from_str(s: &str) -> Result<Self, UnknownRole> {
        match s {
            "rep" => Ok(Role::Rep),
            "manager" => Ok(Role::Manager),
            "admin" => Ok(Role::Admin),
            _ => Err(UnknownRole(s.to_string())),
        }
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a user may do in one book.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BookGrant {
    pub book: String,
    pub read: bool,
    pub write: bool,
}

/// The answer of `GET /me`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Grants {
    /// The server has no users yet: anyone may connect, read and write every book.
    pub open: bool,
    /// The token's user (none when open).
    pub user: Option<String>,
    pub role: Option<Role>,
    /// The books the user may read, each with whether they may write it (managers and admins:
    /// every book the server has, writable). Empty when open.
    pub books: Vec<BookGrant>,
    /// The server's storage id (as in `peerMetadata`).
    pub storage_id: String,
}

impl Grants {
    /// True for a manager or an admin, and for everyone on an open server.
    pub fn is_manager(&self) -> bool {
        self.open || matches!(self.role, Some(Role::Manager | Role::Admin))
    }

    /// True when the user may write records of `book`.
    pub fn may_write(&self, book: &str) -> bool {
        self.is_manager() || self.books.iter().any(|g| g.book == book && g.write)
    }

    /// True when the user may read records of `book`.
    pub fn may_read(&self, book: &str) -> bool {
        self.is_manager() || self.books.iter().any(|g| g.book == book && g.read)
    }

    /// The books the user may write, as the server lists them.
    pub fn writable(&self) -> Vec<&str> {
        self.books
            .iter()
            .filter(|g| g.write)
            .map(|g| g.book.as_str())
            .collect()
    }

    /// The books the user may read.
    pub fn readable(&self) -> Vec<&str> {
        self.books
            .iter()
            .filter(|g| g.read)
            .map(|g| g.book.as_str())
            .collect()
    }

    /// True when the user may change the workspace settings: a manager or an admin.
    pub fn may_change_settings(&self) -> bool {
        self.is_manager()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rep_writes_only_the_books_granted_writable_and_a_manager_every_book() {
        let rep = Grants {
            open: false,
            user: Some("ana".into()),
            role: Some(Role::Rep),
            books: vec![
                BookGrant {
                    book: "north".into(),
                    read: true,
                    write: true,
                },
                BookGrant {
                    book: "south".into(),
                    read: true,
                    write: false,
                },
            ],
            storage_id: "s".into(),
        };
        assert!(rep.may_write("north") && !rep.may_write("south") && !rep.may_write("default"));
        assert!(rep.may_read("south") && !rep.may_read("default"));
        assert_eq!(rep.writable(), ["north"]);
        assert!(!rep.may_change_settings());
        let json = serde_json::to_value(&rep).unwrap();
        assert_eq!(json["role"], "rep");
        assert_eq!(serde_json::from_value::<Grants>(json).unwrap(), rep);
        let manager = Grants {
            role: Some(Role::Manager),
            books: Vec::new(),
            ..rep
        };
        assert!(manager.may_write("anything") && manager.may_change_settings());
    }
}
