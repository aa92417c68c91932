//! Times a 200-line quote priced from a price list, with bundles and fractional quantities:
//! loading it from a real SQLite store, pricing it and checking its rules (target <= 20 ms),
//! and rendering its PDF (target <= 300 ms). Run in release:
//! `cargo run --release -p crm-client --example quote_timing`.

use crm_client::commands::quote::{document, snapshot::Snapshot};
use crm_client::store::{Identity, Store};
use crm_shared::schema::{Edit, Scalar};
use crm_shared::values::Currency;
use crm_shared::{DocumentId, RecordKind};
use std::time::Instant;

fn s(field: &'static str, v: &str) -> Edit {
    Edit::Set {
        field,
        value: Scalar::Str(v.into()),
    }
}

fn i(field: &'static str, v: i64) -> Edit {
    Edit::Set {
        field,
        value: Scalar::Int(v),
    }
}

fn id(n: u32, salt: u8) -> DocumentId {
    let mut b = [salt; 16];
    b[..4].copy_from_slice(&n.to_le_bytes());
    DocumentId::from_random(b)
}

fn main() -> anyhow::Result<()> {
    const LINES: u32 = 200;
    let dir = tempfile::tempdir()?;
    let mut store = Store::init(
        dir.path(),
        Identity {
            user: "ana".into(),
            name: "Ana".into(),
            device: "00112233445566778899aabbccddeeff".into(),
            book: "north".into(),
            server: None,
        },
    )?;
    let now = 1_780_000_000_000;
    let case = id(0, 9);
    store.create(
        RecordKind::Case,
        case,
        None,
        &[s("title", "Fleet 東京"), s("stage", "proposal")],
        now,
    )?;
    let products: Vec<_> = (0..LINES)
        .map(|n| {
            let mut e = vec![
                s("sku", &format!("SKU-{n:04}")),
                s("name", &format!("Produkt Ωμέγα Лиценз {n}")),
                i("price", 1_000 + i64::from(n) * 37),
                i("tax", if n % 3 == 0 { 8 } else { 23 }),
                s("currency", "EUR"),
            ];
            if n % 20 == 5 {
                e.push(s(
                    "bundle",
                    &format!("SKU-{:04}:2,SKU-{:04}:1", n + 1, n + 2),
                ));
            }
            if n % 10 == 0 {
                e.push(Edit::AddToSet {
                    field: "requires",
                    item: format!("SKU-{:04}", n + 1),
                });
            }
            (id(n, 1), e)
        })
        .collect();
    store.create_many(RecordKind::Product, &products, now)?;
    let list = crm_shared::schema::price_list_id("North resellers");
    store.create_in(
        RecordKind::PriceList,
        list,
        None,
        "",
        &[
            s("name", "North resellers"),
            s("currency", "EUR"),
            s("region", "north"),
            i("percent_off", 500),
        ],
        now,
    )?;
    let quote = id(0, 2);
    store.create(
        RecordKind::Quote,
        quote,
        None,
        &[
            s("number", "Q-2026-ana-0001"),
            s("case", &case.to_string()),
            s("status", "draft"),
            s("currency", "EUR"),
            s("price_list", &list.to_string()),
            s("price_list_reason", "chosen: region north"),
        ],
        now,
    )?;
    let lines: Vec<_> = (0..LINES)
        .map(|n| {
            (
                id(n, 3),
                vec![
                    s("quote", &quote.to_string()),
                    s("product", &id(n, 1).to_string()),
                    i(
                        "quantity",
                        (1 + i64::from(n % 7)) * 1000 + i64::from(n % 2) * 500,
                    ),
                    i("discount", i64::from(n % 4) * 250),
                ],
            )
        })
        .collect();
    store.create_many(RecordKind::QuoteLine, &lines, now)?;

    let runs = 20;
    let mut load = Vec::new();
    let mut compute = Vec::new();
    let mut render = Vec::new();
    let mut size = 0;
    for _ in 0..runs {
        let t = Instant::now();
        let snap = Snapshot::now(&store, quote)?;
        let loaded = t.elapsed();
        let t = Instant::now();
        let (totals, broken) = snap.compute()?;
        let computed = t.elapsed();
        assert_eq!(totals.lines.len(), LINES as usize);
        assert!(broken.is_empty());
        let t = Instant::now();
        let pdf = document::pdf(&snap, &totals, Currency::parse("EUR")?)?;
        render.push(t.elapsed().as_secs_f64() * 1e3);
        size = pdf.len();
        load.push(loaded.as_secs_f64() * 1e3);
        compute.push(computed.as_secs_f64() * 1e3);
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    println!("200-line quote, median of {runs} runs:");
    println!(
        "  load from SQLite (400 documents): {:.2} ms",
        median(&mut load)
    );
    println!(
        "  price + check rules:              {:.3} ms (target <= 20 ms)",
        median(&mut compute)
    );
    println!(
        "  render PDF ({size} bytes):        {:.1} ms (target <= 300 ms)",
        median(&mut render)
    );
    Ok(())
}
