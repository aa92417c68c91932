//! `crm demo-data`: a realistic sample book (companies, people, cases across stages, activities)
//! of a chosen size, for trying the CRM and measuring it; `--remove` takes it away again.
//!
//! Every sample record is marked (`demo: yes`, [`DEMO_FIELD`]). Sample data never mixes with real
//! work by accident: a data dir that holds real records, or syncs with a server (whose next sync
//! would share the samples with the team), is refused unless `--force` is given.

use super::Ctx;
use crate::cli::{DemoArgs, InitArgs};
use crate::output;
use crate::store::Store;
use anyhow::Result;
use automerge::AutoCommit;
use crm_shared::schema::{create_record, Edit, NewRecord, Record, Scalar, StageChange, DEMO_FIELD};
use crm_shared::{DocumentId, RecordKind, Stage};
use rand::rngs::StdRng;
use rand::{Rng, RngCore, SeedableRng};

const GIVEN: &[&str] = &[
    "Ana", "Bruno", "Carla", "David", "Elena", "Filipe", "Greta", "Hugo", "Ines", "Jonas",
    "Katrin", "Luis", "Marta", "Nils", "Olga", "Pedro", "Rita", "Sven", "Teresa", "Ulrich", "Vera",
    "Walter", "Yara", "Zoe",
];
const FAMILY: &[&str] = &[
    "Silva",
    "Schmidt",
    "Duarte",
    "Novak",
    "Rossi",
    "Dubois",
    "Jansen",
    "Kowalski",
    "Moreau",
    "Nielsen",
    "Ferreira",
    "Weber",
    "Costa",
    "Horvat",
    "Lindqvist",
    "Bauer",
    "Martins",
    "Berg",
    "Fischer",
    "Almeida",
];
const COMPANY_A: &[&str] = &[
    "Nordic", "Atlas", "Blue", "Summit", "Iberia", "Delta", "Orion", "Alpine", "Harbor", "Vertex",
    "Granite", "Lumen",
];
const COMPANY_B: &[&str] = &[
    "Logistics",
    "Foods",
    "Pharma",
    "Motors",
    "Textiles",
    "Energy",
    "Systems",
    "Retail",
    "Builders",
    "Optics",
    "Chemicals",
    "Media",
];
const INDUSTRIES: &[&str] = &[
    "manufacturing",
    "retail",
    "healthcare",
    "logistics",
    "energy",
    "software",
    "construction",
    "food",
];
const REGIONS: &[&str] = &["north", "south", "east", "west", "central"];
const TITLES: &[&str] = &[
    "CEO",
    "CFO",
    "Head of Purchasing",
    "IT Manager",
    "Operations Director",
    "Buyer",
    "Plant Manager",
    "Sales Director",
];
const SUBJECTS: &[&str] = &[
    "Intro call",
    "Product demo",
    "Site visit",
    "Pricing discussion",
    "Contract review",
    "Follow-up",
    "Quarterly review",
    "Send proposal",
];
const KINDS: &[&str] = &["call", "meeting", "visit", "task", "email"];
const SOURCES: &[&str] = &["fair", "referral", "web", "cold-call", "partner"];

/// Why sample data is not added to a data dir (without `--force`).
#[derive(Debug, thiserror::Error)]
pub enum DemoRefusal {
    #[error("this data dir syncs with {0}, and the next sync would share the sample records with your team: use a new --data-dir, or --force to add them anyway (`crm demo-data --remove` takes them away)")]
    Syncs(String),
    #[error("this data dir holds real records (the {kind} \"{title}\", ...), and the sample records would mix with them: use a new --data-dir, or --force to add them anyway (`crm demo-data --remove` takes them away)")]
    RealRecords { kind: String, title: String },
}

/// True for a record `crm demo-data` made.
pub fn is_demo(r: &Record) -> bool {
    r.bool(DEMO_FIELD) == Some(true)
}

pub fn run(ctx: &Ctx, a: DemoArgs) -> Result<()> {
    if a.remove {
        return remove(ctx);
    }
    if !Store::file(&ctx.data_dir).exists() {
        super::init::run(
            &Ctx {
                json: false,
                ..clone_ctx(ctx)
            },
            InitArgs {
                user: a.user.clone(),
                name: None,
                server: None,
                token: None,
                ca_cert: None,
                book: None,
            },
        )?;
    }
    let mut store = ctx.open()?;
    if !a.force {
        refusal(&store)?;
    }
    let mut rng = StdRng::seed_from_u64(a.seed);
    let user = store.identity.user.clone();
    let actor = store.identity.actor();
    let author = store.author();
    let book = store.identity.book.clone();
    let total = a.orgs + a.contacts + a.cases + a.activities;
    let bar = indicatif::ProgressBar::new(total).with_style(
        indicatif::ProgressStyle::with_template("{msg:>14} [{bar:40}] {pos}/{len} ({eta})")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let year_ms: i64 = 365 * 24 * 3600 * 1000;
    let now = ctx.now_ms;
    let mut id = || {
        let mut b = [0u8; 16];
        rng.fill_bytes(&mut b);
        DocumentId::from_random(b)
    };
    let org_ids: Vec<DocumentId> = (0..a.orgs).map(|_| id()).collect();
    let contact_ids: Vec<DocumentId> = (0..a.contacts).map(|_| id()).collect();
    let case_ids: Vec<DocumentId> = (0..a.cases).map(|_| id()).collect();
    let activity_ids: Vec<DocumentId> = (0..a.activities).map(|_| id()).collect();
    let pick = |rng: &mut StdRng, list: &[&'static str]| list[rng.random_range(0..list.len())];

    let mut batch: Vec<(DocumentId, RecordKind, AutoCommit)> = Vec::new();
    let flush = |store: &mut Store,
                 batch: &mut Vec<(DocumentId, RecordKind, AutoCommit)>,
                 force: bool|
     -> Result<()> {
        if batch.len() >= 2000 || (force && !batch.is_empty()) {
            store.insert_batch(batch)?;
            bar.inc(batch.len() as u64);
            batch.clear();
        }
        Ok(())
    };
    let s = |v: &str| Scalar::Str(v.to_string());
    let set = |field: &'static str, value: Scalar| Edit::Set { field, value };
    let make = |rng: &mut StdRng,
                id: DocumentId,
                kind: RecordKind,
                mut edits: Vec<Edit>|
     -> Result<(DocumentId, RecordKind, AutoCommit)> {
        edits.push(set(DEMO_FIELD, Scalar::Bool(true)));
        let created = now - rng.random_range(0..year_ms);
        let new = NewRecord {
            id,
            kind,
            created_at: created,
            created_by: user.clone(),
            owner: user.clone(),
            book: book.clone(),
        };
        Ok((
            id,
            kind,
            create_record(&new, &edits, actor.clone(), &author, created)?,
        ))
    };

    bar.set_message("organizations");
    for (i, org) in org_ids.iter().enumerate() {
        let name = format!(
            "{} {} {}",
            pick(&mut rng, COMPANY_A),
            pick(&mut rng, COMPANY_B),
            i + 1
        );
        let domain = name.to_lowercase().replace(' ', "");
        let edits = vec![
            set("name", s(&name)),
            set("industry", s(pick(&mut rng, INDUSTRIES))),
            set(
                "kind",
                s(pick(
                    &mut rng,
                    &["prospect", "customer", "customer", "partner"],
                )),
            ),
            set("region", s(pick(&mut rng, REGIONS))),
            set("website", s(&format!("https://{domain}.example"))),
            Edit::AddLabelled {
                field: "phones",
                label: "office".into(),
                value: format!(
                    "+351 21 {:03} {:04}",
                    rng.random_range(0..1000),
                    rng.random_range(0..10000)
                ),
            },
        ];
        batch.push(make(&mut rng, *org, RecordKind::Organization, edits)?);
        flush(&mut store, &mut batch, false)?;
    }
    flush(&mut store, &mut batch, true)?;
    bar.set_message("contacts");
    for contact in &contact_ids {
        let (g, f) = (pick(&mut rng, GIVEN), pick(&mut rng, FAMILY));
        let mut edits = vec![
            set("name", s(&format!("{g} {f}"))),
            set("given_name", s(g)),
            set("family_name", s(f)),
            set("title", s(pick(&mut rng, TITLES))),
            set("region", s(pick(&mut rng, REGIONS))),
            set("source", s(pick(&mut rng, SOURCES))),
            Edit::AddLabelled {
                field: "emails",
                label: "work".into(),
                value: format!(
                    "{}.{}{}@example.com",
                    g.to_lowercase(),
                    f.to_lowercase(),
                    rng.random_range(1..1000)
                ),
            },
            Edit::AddLabelled {
                field: "phones",
                label: "mobile".into(),
                value: format!(
                    "+351 91 {:03} {:04}",
                    rng.random_range(0..1000),
                    rng.random_range(0..10000)
                ),
            },
        ];
        if !org_ids.is_empty() {
            edits.push(Edit::Link {
                field: "orgs",
                id: org_ids[rng.random_range(0..org_ids.len())],
                role: String::new(),
            });
        }
        batch.push(make(&mut rng, *contact, RecordKind::Contact, edits)?);
        flush(&mut store, &mut batch, false)?;
    }
    flush(&mut store, &mut batch, true)?;
    bar.set_message("cases");
    for case in &case_ids {
        let final_stage = Stage::ALL[rng.random_range(0..Stage::ALL.len())];
        let mut edits = vec![
            set(
                "title",
                s(&format!(
                    "{} for {}",
                    pick(
                        &mut rng,
                        &[
                            "Fleet renewal",
                            "New plant line",
                            "Annual supply",
                            "Pilot project",
                            "Upgrade"
                        ]
                    ),
                    pick(&mut rng, COMPANY_A)
                )),
            ),
            set("stage", s(final_stage.key())),
            set("grade", s(pick(&mut rng, &["A", "B", "C"]))),
            set("interest", Scalar::Int(rng.random_range(1..=5))),
            set("amount", Scalar::Int(rng.random_range(10..2000) * 50_000)),
            set("currency", s("EUR")),
            set("region", s(pick(&mut rng, REGIONS))),
            set("source", s(pick(&mut rng, SOURCES))),
            set(
                "close_date",
                s(&(ctx.today + chrono::Days::new(rng.random_range(0..180))).to_string()),
            ),
        ];
        if !org_ids.is_empty() {
            edits.push(set(
                "org",
                s(&org_ids[rng.random_range(0..org_ids.len())].to_string()),
            ));
        }
        if !contact_ids.is_empty() {
            edits.push(Edit::Link {
                field: "contacts",
                id: contact_ids[rng.random_range(0..contact_ids.len())],
                role: "decision-maker".into(),
            });
        }
        let mut at = now - rng.random_range(year_ms / 4..year_ms);
        let mut from: Option<Stage> = None;
        let last_open = if final_stage.is_open() {
            final_stage as usize
        } else {
            rng.random_range(0..5)
        };
        for stage in Stage::ALL
            .iter()
            .take(last_open + 1)
            .copied()
            .chain((!final_stage.is_open()).then_some(final_stage))
        {
            edits.push(Edit::AppendStageChange(StageChange {
                stage: stage.key().into(),
                from: from.map(|f| f.key().into()),
                at,
                by: user.clone(),
            }));
            from = Some(stage);
            at += rng.random_range(1..30) * 24 * 3600 * 1000;
        }
        if final_stage == Stage::Lost {
            edits.push(set(
                "loss_reason",
                s(pick(
                    &mut rng,
                    &["price", "competitor", "no budget", "timing"],
                )),
            ));
            edits.push(set("lost_from_stage", s(Stage::ALL[last_open].key())));
        }
        batch.push(make(&mut rng, *case, RecordKind::Case, edits)?);
        flush(&mut store, &mut batch, false)?;
    }
    flush(&mut store, &mut batch, true)?;
    bar.set_message("activities");
    for activity in &activity_ids {
        let kind = pick(&mut rng, KINDS);
        let day = ctx.today + chrono::Days::new(rng.random_range(0..60)) - chrono::Days::new(30);
        let when = format!(
            "{}T{:02}:{}",
            day,
            rng.random_range(8..18),
            pick(&mut rng, &["00", "30"])
        );
        let past = day < ctx.today;
        let mut edits = vec![
            set("kind", s(kind)),
            set("subject", s(pick(&mut rng, SUBJECTS))),
            set(if kind == "task" { "due" } else { "start" }, s(&when)),
            set(
                "status",
                s(if past && rng.random_bool(0.8) {
                    "done"
                } else {
                    "planned"
                }),
            ),
        ];
        if !case_ids.is_empty() {
            edits.push(set(
                "case",
                s(&case_ids[rng.random_range(0..case_ids.len())].to_string()),
            ));
        }
        if !contact_ids.is_empty() {
            edits.push(set(
                "contact",
                s(&contact_ids[rng.random_range(0..contact_ids.len())].to_string()),
            ));
        }
        if past {
            edits.push(Edit::SetText {
                field: "notes",
                text: "Discussed requirements; next step agreed.".into(),
            });
        }
        batch.push(make(&mut rng, *activity, RecordKind::Activity, edits)?);
        flush(&mut store, &mut batch, false)?;
    }
    flush(&mut store, &mut batch, true)?;
    bar.finish_and_clear();
    if ctx.json {
        return output::json(
            &serde_json::json!({"organizations": a.orgs, "contacts": a.contacts, "cases": a.cases, "activities": a.activities}),
        );
    }
    println!(
        "Added {} organizations, {} contacts, {} cases and {} activities to {}.",
        a.orgs,
        a.contacts,
        a.cases,
        a.activities,
        ctx.data_dir.display()
    );
    Ok(())
}

/// Why sample data may not go into this store, if it may not.
fn refusal(store: &Store) -> Result<()> {
    if let Some(server) = &store.identity.server {
        return Err(DemoRefusal::Syncs(server.clone()).into());
    }
    let me = &store.identity.user;
    // The user record `crm init` made is not work; anything else that is not a sample is.
    let own_user = |r: &Record| r.kind == RecordKind::User && &r.created_by == me;
    let real = store.find_record(|r| !(is_demo(r) || own_user(r)))?;
    match real {
        Some(r) => Err(DemoRefusal::RealRecords {
            kind: super::record::cli_name(r.kind).to_string(),
            title: r.title().to_string(),
        }
        .into()),
        None => Ok(()),
    }
}

/// `crm demo-data --remove`: marks every sample record removed, in one transaction.
fn remove(ctx: &Ctx) -> Result<()> {
    let mut store = ctx.open()?;
    let now = ctx.now_ms;
    let removed = store.edit_each(now, |r| {
        if is_demo(r) && !r.is_deleted() {
            vec![Edit::Delete { at: now }]
        } else {
            vec![]
        }
    })?;
    if ctx.json {
        return output::json(&serde_json::json!({ "removed": removed }));
    }
    if removed == 0 {
        println!("No sample records here: nothing removed.");
    } else {
        println!(
            "Removed {removed} sample records (kept as removed, like `crm rm`; `crm sync` tells the team)."
        );
    }
    Ok(())
}

fn clone_ctx(ctx: &Ctx) -> Ctx {
    Ctx {
        data_dir: ctx.data_dir.clone(),
        json: ctx.json,
        now_ms: ctx.now_ms,
        today: ctx.today,
        now_local: ctx.now_local,
    }
}
