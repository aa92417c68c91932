//! What the reports read, loaded once per moment: the cases as they stood, the stage changes
//! known then (per case, in order), the reps and the settings. Every report of one request (the web UI's
//! reports page draws six) reads the same [`Facts`], so the store is read once, not per chart.

use super::{AsOf, CaseState};
use crate::store::Store;
use anyhow::Result;
use crm_shared::schema::Settings;
use crm_shared::values::Currency;
use crm_shared::Stage;
use std::cell::OnceCell;
use std::collections::HashMap;

/// One stage change known at the report's moment.
pub(super) struct Change {
    /// The case's place in [`Facts::cases`].
    pub case: u32,
    /// None for a stage this version does not know.
    pub stage: Option<Stage>,
    pub at: i64,
}

/// The read model at one moment, each part loaded the first time a report asks for it.
pub(super) struct Facts<'s> {
    pub store: &'s Store,
    pub as_of: AsOf,
    cases: OnceCell<Vec<CaseState>>,
    changes: OnceCell<Vec<Change>>,
    reps: OnceCell<Vec<String>>,
    settings: OnceCell<Settings>,
}

impl<'s> Facts<'s> {
    pub fn new(store: &'s Store, as_of: AsOf) -> Facts<'s> {
        Facts {
            store,
            as_of,
            cases: OnceCell::new(),
            changes: OnceCell::new(),
            reps: OnceCell::new(),
            settings: OnceCell::new(),
        }
    }

    /// The cases (not removed) as they stood at the moment.
    pub fn cases(&self) -> Result<&[CaseState]> {
        if self.cases.get().is_none() {
            let _ = self.cases.set(cases_at(self.store, self.as_of)?);
        }
        Ok(self.cases.get().map(Vec::as_slice).unwrap_or_default())
    }

    /// The stage changes of those cases known at the moment, grouped by case, each case's in
    /// the order they happened.
    pub fn changes(&self) -> Result<&[Change]> {
        if self.changes.get().is_none() {
            let changes = changes_at(self.store, self.as_of, self.cases()?)?;
            let _ = self.changes.set(changes);
        }
        Ok(self.changes.get().map(Vec::as_slice).unwrap_or_default())
    }

    /// The settings of now (reports as of an earlier date use them too).
    pub fn settings(&self) -> Result<&Settings> {
        if self.settings.get().is_none() {
            let _ = self.settings.set(self.store.settings()?);
        }
        self.settings
            .get()
            .ok_or_else(|| anyhow::anyhow!("the settings could not be read"))
    }

    /// Every user the workspace knew at the moment (a rep with no case or activity is in the
    /// reports too, the first who needs a warning).
    pub fn reps(&self) -> Result<&[String]> {
        if self.reps.get().is_none() {
            let _ = self.reps.set(reps_at(self.store, self.as_of)?);
        }
        Ok(self.reps.get().map(Vec::as_slice).unwrap_or_default())
    }
}

fn cases_at(store: &Store, as_of: AsOf) -> Result<Vec<CaseState>> {
    let sql = format!(
        "SELECT v.case_id, v.stage, v.lost_from_stage, v.prob_override, v.amount, v.currency,
                v.owner, coalesce(v.region, o.region), v.grade, v.close_date, v.created_at,
                v.closed_at
         FROM rm_case_versions v LEFT JOIN rm_orgs o ON o.id = v.org_id
         WHERE v.deleted = 0 AND {}",
        as_of.condition()
    );
    let mut stmt = store.conn().prepare_cached(&sql)?;
    let rows = stmt.query_map(rusqlite::params_from_iter(as_of.params()), |r| {
        Ok(CaseState {
            id: r.get(0)?,
            stage: r.get(1)?,
            lost_from: r.get(2)?,
            prob_override: r.get(3)?,
            amount: r.get::<_, Option<i64>>(4)?.unwrap_or(0),
            currency: r
                .get::<_, Option<String>>(5)?
                .and_then(|c| Currency::parse(&c).ok())
                .unwrap_or(Currency::EUR)
                .to_string(),
            owner: r.get::<_, Option<String>>(6)?.unwrap_or_default(),
            region: r.get(7)?,
            grade: r.get(8)?,
            close_date: r.get(9)?,
            created_at: r.get::<_, Option<i64>>(10)?.unwrap_or(0),
            closed_at: r.get(11)?,
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Read in the table's own order (by case, then as the document holds them), with no sort in
/// SQL; each case's changes are then put in time order (ties keep the document's order).
fn changes_at(store: &Store, as_of: AsOf, cases: &[CaseState]) -> Result<Vec<Change>> {
    let live: HashMap<&str, u32> = cases
        .iter()
        .enumerate()
        .map(|(i, c)| (c.id.as_str(), i as u32))
        .collect();
    let cond = match as_of.0 {
        None => "1 = 1",
        Some(_) => "known_at <= ?1",
    };
    let sql = format!("SELECT case_id, stage, at FROM rm_stage_changes WHERE {cond}");
    let mut stmt = store.conn().prepare_cached(&sql)?;
    let mut rows = stmt.query(rusqlite::params_from_iter(as_of.params()))?;
    let mut out: Vec<Change> = Vec::new();
    while let Some(r) = rows.next()? {
        let Some(case) = live.get(r.get_ref(0)?.as_str()?) else {
            continue;
        };
        out.push(Change {
            case: *case,
            stage: r.get_ref(1)?.as_str()?.parse().ok(),
            at: r.get(2)?,
        });
    }
    // Each case's rows come together: a stable sort by case and time keeps ties in order.
    out.sort_by_key(|c| (c.case, c.at));
    Ok(out)
}

fn reps_at(store: &Store, as_of: AsOf) -> Result<Vec<String>> {
    let cond = match as_of.0 {
        None => "1 = 1",
        Some(_) => "coalesce(created_at, 0) <= ?1",
    };
    let sql = format!("SELECT DISTINCT login FROM rm_users WHERE deleted = 0 AND {cond}");
    let mut stmt = store.conn().prepare_cached(&sql)?;
    let rows = stmt.query_map(rusqlite::params_from_iter(as_of.params()), |r| r.get(0))?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}
