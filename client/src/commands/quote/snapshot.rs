//! A quote as it is priced: the quote, its case and organization, its lines and their products,
//! read now or at the heads a document's fingerprint names, and that fingerprint.
//!
//! The fingerprint is `crm-fingerprint:` then `KIND=ID@HEAD+HEAD` entries joined by `;`: the
//! heads of every document the quote was priced and printed from (quote, case, organization,
//! each line, each product, the price list the quote records, if any, and the workspace
//! settings, whose company header the document shows).

use crate::store::Store;
use anyhow::Result;
use automerge::ChangeHash;
use crm_shared::pricing::{self, LineInput, Totals};
use crm_shared::quantity::MILLI;
use crm_shared::quote_rules::{self, ProductRules};
use crm_shared::schema::{self, Record};
use crm_shared::{DocumentId, RecordKind};

/// The marker before the fingerprint in a document.
pub const MARK: &str = "crm-fingerprint:";

/// One document the quote was made from, at its heads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    pub kind: RecordKind,
    pub id: DocumentId,
    pub heads: Vec<ChangeHash>,
}

/// One line with its product.
pub struct Line {
    pub line: Record,
    pub product: Record,
}

/// Everything the quote document shows.
pub struct Snapshot {
    pub quote: Record,
    pub case: Record,
    pub org: Option<Record>,
    pub lines: Vec<Line>,
    /// The company's header (from the settings document).
    pub company: schema::Company,
    /// The price list the quote records (as it stood at the fingerprint's heads).
    pub price_list: Option<Record>,
    pub sources: Vec<Source>,
}

impl Snapshot {
    /// The quote `id` as it is now.
    pub fn now(store: &Store, id: DocumentId) -> Result<Snapshot> {
        let mut ids = vec![(RecordKind::Quote, id)];
        let quote = store.record(id)?;
        let case_id: DocumentId = ref_id(&quote, "case")?;
        ids.push((RecordKind::Case, case_id));
        let case = store.record(case_id)?;
        if let Some(org) = case.str("org").and_then(|o| o.parse().ok()) {
            ids.push((RecordKind::Organization, org));
        }
        if let Some(list) = quote.str("price_list").and_then(|l| l.parse().ok()) {
            ids.push((RecordKind::PriceList, list));
        }
        let mut products = Vec::new();
        for line in lines_of(store, id)? {
            ids.push((RecordKind::QuoteLine, line));
            let r = store.record(line)?;
            let p: DocumentId = ref_id(&r, "product")?;
            if !products.contains(&p) {
                products.push(p);
            }
        }
        ids.extend(products.into_iter().map(|p| (RecordKind::Product, p)));
        let settings = schema::settings_id();
        if store.load(settings).is_ok() {
            ids.push((RecordKind::Settings, settings));
        }
        let mut sources = Vec::with_capacity(ids.len());
        for (kind, id) in ids {
            let mut doc = store.load(id)?;
            sources.push(Source {
                kind,
                id,
                heads: doc.get_heads(),
            });
        }
        Snapshot::at(store, sources)
    }

    /// The records as they stood at `sources`' heads.
    pub fn at(store: &Store, sources: Vec<Source>) -> Result<Snapshot> {
        let mut quote = None;
        let mut case = None;
        let mut org = None;
        let mut price_list = None;
        let mut lines = Vec::new();
        let mut products = std::collections::BTreeMap::new();
        let mut company = schema::Company::default();
        for s in &sources {
            let mut doc = store.load(s.id)?;
            if s.kind == RecordKind::Settings {
                let mut then = doc.fork_at(&s.heads)?;
                company = schema::read_settings(Some(then.document())).company;
                continue;
            }
            let r = schema::read_record(s.id, doc.document(), Some(&s.heads))?;
            match s.kind {
                RecordKind::Quote => quote = Some(r),
                RecordKind::Case => case = Some(r),
                RecordKind::Organization => org = Some(r),
                RecordKind::QuoteLine => lines.push(r),
                RecordKind::PriceList => price_list = Some(r),
                _ => {
                    products.insert(s.id.to_string(), r);
                }
            }
        }
        let (Some(quote), Some(case)) = (quote, case) else {
            anyhow::bail!("the fingerprint does not name a quote and its case");
        };
        let mut out = Vec::new();
        for line in lines {
            let p = line.str("product").unwrap_or("");
            let Some(product) = products.get(p) else {
                anyhow::bail!("the fingerprint lacks the product of line {}", line.id);
            };
            out.push(Line {
                product: product.clone(),
                line,
            });
        }
        out.sort_by_key(|l| (l.line.created_at, l.line.id.to_string()));
        Ok(Snapshot {
            quote,
            case,
            org,
            lines: out,
            company,
            price_list,
            sources,
        })
    }

    /// The lines as pricing inputs.
    pub fn inputs(&self) -> Vec<LineInput> {
        self.lines
            .iter()
            .map(|l| LineInput {
                sku: l.product.str("sku").unwrap_or("").to_string(),
                unit_price: l.line.int("price").or(l.product.int("price")).unwrap_or(0),
                qty_milli: qty_milli(&l.line),
                discount_bp: l.line.int("discount").unwrap_or(0),
                tax_percent: l.product.int("tax").unwrap_or(0),
            })
            .collect()
    }

    /// Prices the quote and lists its broken rules.
    pub fn compute(&self) -> Result<(Totals, Vec<String>)> {
        let totals = pricing::price(&self.inputs())?;
        let qty: Vec<(String, i64)> = totals
            .lines
            .iter()
            .map(|l| (l.sku.clone(), l.qty.0))
            .collect();
        let rules: Vec<ProductRules> = self.lines.iter().map(|l| rules_of(&l.product)).collect();
        let mut broken = quote_rules::check(&qty, &rules);
        broken.dedup();
        Ok((totals, broken))
    }

    /// The fingerprint text.
    pub fn fingerprint(&self) -> String {
        let parts: Vec<String> = self
            .sources
            .iter()
            .map(|s| {
                let heads: Vec<String> = s.heads.iter().map(|h| h.to_string()).collect();
                format!("{}={}@{}", s.kind.as_str(), s.id, heads.join("+"))
            })
            .collect();
        format!("{MARK}{}", parts.join(";"))
    }
}

/// Reads a fingerprint back (`None` when it is not one).
pub fn parse_fingerprint(text: &str) -> Option<Vec<Source>> {
    let body = text.strip_prefix(MARK)?;
    body.split(';')
        .map(|part| {
            let (kind, rest) = part.split_once('=')?;
            let (id, heads) = rest.split_once('@')?;
            let heads = if heads.is_empty() {
                Vec::new()
            } else {
                heads
                    .split('+')
                    .map(|h| h.parse().ok())
                    .collect::<Option<Vec<ChangeHash>>>()?
            };
            Some(Source {
                kind: kind.parse().ok()?,
                id: id.parse().ok()?,
                heads,
            })
        })
        .collect()
}

/// A product's configuration rules.
pub fn rules_of(p: &Record) -> ProductRules {
    ProductRules {
        sku: p.str("sku").unwrap_or("").to_string(),
        requires: p.set("requires").to_vec(),
        excludes: p.set("excludes").to_vec(),
        min_qty: p.int("min_qty"),
        max_qty: p.int("max_qty"),
        contains: bundle_of(p),
    }
}

/// A bundle's contents (SKU, units in one bundle); empty for a plain product.
pub fn bundle_of(p: &Record) -> Vec<(String, i64)> {
    p.str("bundle")
        .and_then(|b| quote_rules::parse_bundle(b).ok())
        .unwrap_or_default()
}

/// A line's quantity in thousandths (lines made before `quantity` hold whole units in `qty`).
pub fn qty_milli(line: &Record) -> i64 {
    line.int("quantity")
        .or_else(|| line.int("qty").map(|q| q.saturating_mul(MILLI)))
        .unwrap_or(0)
}

/// The live lines of a quote, in the order they were added.
pub fn lines_of(store: &Store, quote: DocumentId) -> Result<Vec<DocumentId>> {
    let mut stmt = store.conn().prepare_cached(
        "SELECT id FROM rm_catalogue WHERE type = 'quote_line' AND parent = ?1 AND deleted = 0 ORDER BY id",
    )?;
    let ids = stmt
        .query_map([quote.to_string()], |r| r.get::<_, String>(0))?
        .collect::<Result<Vec<_>, _>>()?;
    let mut out = Vec::with_capacity(ids.len());
    for id in ids {
        if let Ok(id) = id.parse() {
            out.push(id);
        }
    }
    Ok(out)
}

/// The record id in field `name` of `r`.
pub fn ref_id(r: &Record, name: &str) -> Result<DocumentId> {
    r.str(name)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| anyhow::anyhow!("{} {} has no {name}", r.kind, r.id))
}
