//! The workspace settings: one document shared by every replica (a fixed id), holding the
//! pipeline (each stage's default probability), the playbook (the steps of each stage), the
//! minimum number of A/B/C cases per rep, and the currencies in use.
//!
//! Architecture invariant: every setting is one scalar key at the root, never a container
//! (`probability/proposal`, `step/proposal/send-proposal`, `grade_min/A`, `currency/USD`,
//! `base_currency`, `rate/USD/EUR/2026-12-01` = `"0.92"`: 1 USD is 0.92 EUR from that day on). Two replicas that each create the settings document offline then merge key
//! by key, and a setting both changed is a conflict like any other field. A key that is absent
//! means "the default", so a replica without the document works with the defaults.

use super::author::ChangeAuthor;
use super::read::{scalar_to_int, scalar_to_string};
use super::write::{commit, WriteError};
use crate::model::{Stage, GRADES};
use crate::rates::{ExchangeRate, Rate};
use crate::values::Currency;
use crate::DocumentId;
use automerge::transaction::Transactable;
use automerge::{ActorId, AutoCommit, Automerge, ReadDoc, ScalarValue, Value, ROOT};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The id of the settings document: the same on every replica, so their settings merge.
pub fn settings_id() -> DocumentId {
    DocumentId::from_random(*b"crm-settings-doc")
}

/// One step of a stage's playbook.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Step {
    /// Short key typed on the command line (`crm case check ID KEY`).
    pub key: String,
    pub title: String,
    /// Moving on with a required step undone warns (it never blocks).
    pub required: bool,
    /// Position in the stage's checklist.
    pub order: i64,
}

/// The stored value of a step key.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct StoredStep {
    #[serde(default)]
    title: String,
    #[serde(default)]
    required: bool,
    #[serde(default)]
    order: i64,
    /// A removed step (also hides a default step of that key).
    #[serde(default)]
    removed: bool,
}

/// The effective settings: defaults overridden by the settings document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Settings {
    /// Default win probability of each stage, in percent, keyed by stage key.
    pub probabilities: BTreeMap<String, i64>,
    /// The least number of open cases of each grade a rep should hold.
    pub grade_minimums: BTreeMap<String, i64>,
    /// Currencies in use, the base one first.
    pub currencies: Vec<String>,
    pub base_currency: String,
    /// The checklist of each stage, in order, keyed by stage key.
    pub playbook: BTreeMap<String, Vec<Step>>,
    /// Dated exchange rates (`rate/FROM/TO/DATE` keys), by pair and date.
    pub rates: Vec<ExchangeRate>,
    /// The company's header on quote documents (`company/...` keys).
    pub company: super::company::Company,
}

/// The playbook every workspace starts with: (stage, key, title, required).
const DEFAULT_STEPS: &[(Stage, &str, &str, bool)] = &[
    (
        Stage::Prospecting,
        "research",
        "Research the account",
        false,
    ),
    (
        Stage::Prospecting,
        "first-contact",
        "Make first contact",
        true,
    ),
    (Stage::Qualification, "budget", "Confirm the budget", true),
    (
        Stage::Qualification,
        "decision-maker",
        "Identify the decision maker",
        true,
    ),
    (
        Stage::Qualification,
        "timeline",
        "Agree on a timeline",
        false,
    ),
    (
        Stage::NeedsAnalysis,
        "needs-meeting",
        "Hold a needs-analysis meeting",
        true,
    ),
    (
        Stage::NeedsAnalysis,
        "requirements",
        "Write down the requirements",
        false,
    ),
    (Stage::Proposal, "send-proposal", "Send the proposal", true),
    (Stage::Proposal, "present", "Present the proposal", false),
    (
        Stage::Negotiation,
        "terms",
        "Agree on terms and price",
        true,
    ),
    (Stage::Negotiation, "contract", "Send the contract", true),
];

/// Default minimum open cases per rep, by grade.
const DEFAULT_GRADE_MINIMUMS: [(&str, i64); 3] = [("A", 2), ("B", 3), ("C", 0)];

impl Default for Settings {
    fn default() -> Self {
        let mut playbook: BTreeMap<String, Vec<Step>> = BTreeMap::new();
        for (i, (stage, key, title, required)) in DEFAULT_STEPS.iter().enumerate() {
            playbook.entry(stage.key().into()).or_default().push(Step {
                key: (*key).into(),
                title: (*title).into(),
                required: *required,
                order: i as i64,
            });
        }
        Settings {
            probabilities: Stage::ALL
                .iter()
                .map(|s| (s.key().to_string(), s.default_probability()))
                .collect(),
            grade_minimums: DEFAULT_GRADE_MINIMUMS
                .iter()
                .map(|(g, n)| (g.to_string(), *n))
                .collect(),
            currencies: vec!["EUR".into()],
            base_currency: "EUR".into(),
            playbook,
            rates: Vec::new(),
            company: Default::default(),
        }
    }
}

impl Settings {
    /// The default probability of a stage.
    pub fn probability(&self, stage: Stage) -> i64 {
        self.probabilities
            .get(stage.key())
            .copied()
            .unwrap_or_else(|| stage.default_probability())
    }

    /// The checklist of a stage, in order.
    pub fn steps(&self, stage: Stage) -> &[Step] {
        self.playbook
            .get(stage.key())
            .map(Vec::as_slice)
            .unwrap_or(&[])
    }

    /// What a case's `steps_done` set holds for a done step: `stage/key`.
    pub fn done_key(stage: Stage, key: &str) -> String {
        format!("{}/{key}", stage.key())
    }

    pub fn grade_minimum(&self, grade: &str) -> i64 {
        self.grade_minimums.get(grade).copied().unwrap_or(0)
    }
}

/// Reads the settings from the settings document (`None`: there is none yet, the defaults hold).
/// Keys of an unexpected shape are ignored, as readers of records do.
pub fn read_settings(doc: Option<&Automerge>) -> Settings {
    let mut s = Settings::default();
    let Some(doc) = doc else { return s };
    let mut steps: BTreeMap<(String, String), StoredStep> = BTreeMap::new();
    for key in doc.keys(ROOT) {
        let Ok(Some((Value::Scalar(v), _))) = doc.get(ROOT, key.as_str()) else {
            continue;
        };
        let v = v.into_owned();
        if super::company::read_key(&mut s.company, &key, &v) {
            continue;
        }
        let parts: Vec<&str> = key.split('/').collect();
        match parts.as_slice() {
            ["probability", stage] => {
                if let (Ok(stage), Some(p)) = (stage.parse::<Stage>(), scalar_to_int(&v)) {
                    s.probabilities.insert(stage.key().into(), p.clamp(0, 100));
                }
            }
            ["grade_min", grade] if GRADES.contains(grade) => {
                if let Some(n) = scalar_to_int(&v) {
                    s.grade_minimums.insert(grade.to_string(), n.max(0));
                }
            }
            ["currency", code] => {
                let present = matches!(v, ScalarValue::Boolean(true));
                s.currencies.retain(|c| c != code);
                if present && Currency::parse(code).is_ok() {
                    s.currencies.push(code.to_string());
                }
            }
            ["base_currency"] => {
                if let Some(c) = scalar_to_string(&v).filter(|c| Currency::parse(c).is_ok()) {
                    s.base_currency = c;
                }
            }
            ["rate", from, to, date] => {
                let rate = scalar_to_string(&v).unwrap_or_default();
                if Rate::parse(&rate).is_ok()
                    && Currency::parse(from).is_ok()
                    && Currency::parse(to).is_ok()
                    && crate::values::parse_date(date).is_ok()
                {
                    s.rates.push(ExchangeRate {
                        from: from.to_string(),
                        to: to.to_string(),
                        date: date.to_string(),
                        rate,
                    });
                }
            }
            ["step", stage, step] => {
                let stored =
                    scalar_to_string(&v).and_then(|j| serde_json::from_str::<StoredStep>(&j).ok());
                if let (Ok(stage), Some(stored)) = (stage.parse::<Stage>(), stored) {
                    steps.insert((stage.key().to_string(), step.to_string()), stored);
                }
            }
            _ => {}
        }
    }
    for ((stage, key), stored) in steps {
        let list = s.playbook.entry(stage).or_default();
        list.retain(|st| st.key != key);
        if !stored.removed {
            list.push(Step {
                key,
                title: stored.title,
                required: stored.required,
                order: stored.order,
            });
        }
    }
    for list in s.playbook.values_mut() {
        list.sort_by(|a, b| a.order.cmp(&b.order).then_with(|| a.key.cmp(&b.key)));
    }
    s.playbook.retain(|_, l| !l.is_empty());
    if !s.currencies.contains(&s.base_currency) {
        s.currencies.insert(0, s.base_currency.clone());
    } else {
        let base = s.base_currency.clone();
        s.currencies.retain(|c| *c != base);
        s.currencies.insert(0, base);
    }
    s
}

/// One change to the settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SettingsEdit {
    Probability(Stage, i64),
    GradeMinimum(String, i64),
    Currency {
        code: Currency,
        used: bool,
    },
    BaseCurrency(Currency),
    /// Sets (or with `rate: None` removes) the rate of 1 `from` in `to` from `date` on.
    Rate {
        from: Currency,
        to: Currency,
        date: chrono::NaiveDate,
        rate: Option<Rate>,
    },
    /// Adds or replaces a step of a stage's playbook.
    Step {
        stage: Stage,
        key: String,
        title: String,
        required: bool,
        order: i64,
    },
    RemoveStep {
        stage: Stage,
        key: String,
    },
    /// The company's header on quote documents.
    Company(super::company::CompanyEdit),
}

/// True when `key` can name a step: lowercase letters, digits and dashes.
pub fn valid_step_key(key: &str) -> bool {
    !key.is_empty()
        && key.len() <= 40
        && key
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

/// Creates the settings document (when this replica has none) with `edits`, as one change.
pub fn create_settings(
    edits: &[SettingsEdit],
    actor: ActorId,
    author: &ChangeAuthor,
    time_ms: i64,
) -> Result<AutoCommit, WriteError> {
    let mut doc = AutoCommit::new().with_actor(actor);
    doc.put(ROOT, "schema", ScalarValue::Uint(super::SCHEMA_VERSION))?;
    doc.put(ROOT, "type", crate::RecordKind::Settings.as_str())?;
    doc.put(ROOT, "id", settings_id().to_string())?;
    apply(&mut doc, edits)?;
    commit(&mut doc, author, time_ms);
    Ok(doc)
}

/// Applies `edits` to the settings document as one change. Returns false when nothing changed.
pub fn edit_settings(
    doc: &mut AutoCommit,
    edits: &[SettingsEdit],
    author: &ChangeAuthor,
    time_ms: i64,
) -> Result<bool, WriteError> {
    if let Err(e) = apply(doc, edits) {
        doc.rollback();
        return Err(e);
    }
    Ok(commit(doc, author, time_ms))
}

fn apply(doc: &mut AutoCommit, edits: &[SettingsEdit]) -> Result<(), WriteError> {
    for e in edits {
        match e {
            SettingsEdit::Company(c) => super::company::apply(doc, c)?,
            SettingsEdit::Probability(stage, p) => {
                doc.put(
                    ROOT,
                    format!("probability/{}", stage.key()),
                    (*p).clamp(0, 100),
                )?;
            }
            SettingsEdit::GradeMinimum(grade, n) => {
                if !GRADES.contains(&grade.as_str()) {
                    return Err(crate::model::choice_error("grade", grade, GRADES).into());
                }
                doc.put(ROOT, format!("grade_min/{grade}"), (*n).max(0))?;
            }
            SettingsEdit::Currency { code, used } => {
                doc.put(ROOT, format!("currency/{code}"), *used)?;
            }
            SettingsEdit::BaseCurrency(code) => {
                doc.put(ROOT, "base_currency", code.as_str())?;
                doc.put(ROOT, format!("currency/{code}"), true)?;
            }
            SettingsEdit::Rate {
                from,
                to,
                date,
                rate,
            } => {
                let key = format!("rate/{from}/{to}/{date}");
                match rate {
                    Some(r) => doc.put(ROOT, key, r.to_string())?,
                    None if doc.get(ROOT, key.as_str())?.is_some() => doc.delete(ROOT, key)?,
                    None => {}
                }
            }
            SettingsEdit::Step {
                stage,
                key,
                title,
                required,
                order,
            } => {
                check_step_key(key)?;
                let stored = StoredStep {
                    title: title.clone(),
                    required: *required,
                    order: *order,
                    removed: false,
                };
                doc.put(
                    ROOT,
                    format!("step/{}/{key}", stage.key()),
                    serde_json::to_string(&stored).unwrap_or_default(),
                )?;
            }
            SettingsEdit::RemoveStep { stage, key } => {
                check_step_key(key)?;
                let stored = StoredStep {
                    title: String::new(),
                    required: false,
                    order: 0,
                    removed: true,
                };
                doc.put(
                    ROOT,
                    format!("step/{}/{key}", stage.key()),
                    serde_json::to_string(&stored).unwrap_or_default(),
                )?;
            }
        }
    }
    Ok(())
}

fn check_step_key(key: &str) -> Result<(), WriteError> {
    if valid_step_key(key) {
        Ok(())
    } else {
        Err(WriteError::Value(crate::values::ValueError::Choice {
            field: "step",
            value: key.to_string(),
            expected: "a short key of lowercase letters, digits and dashes".into(),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn author(user: &str) -> ChangeAuthor {
        ChangeAuthor {
            user: user.into(),
            device: format!("{user}-laptop"),
            offline: true,
            action: None,
        }
    }

    #[test]
    fn defaults_follow_the_product() {
        let s = read_settings(None);
        assert_eq!(s.probability(Stage::Proposal), 60);
        assert_eq!(s.probability(Stage::Won), 100);
        assert!(s.steps(Stage::Proposal).iter().any(|st| st.required));
        assert_eq!(s.currencies, vec!["EUR".to_string()]);
    }

    #[test]
    fn two_replicas_creating_settings_offline_merge_key_by_key() {
        let mut a = create_settings(
            &[SettingsEdit::Probability(Stage::Proposal, 55)],
            ActorId::from([1u8; 16]),
            &author("ana"),
            1_000,
        )
        .unwrap();
        let mut b = create_settings(
            &[
                SettingsEdit::GradeMinimum("A".into(), 4),
                SettingsEdit::RemoveStep {
                    stage: Stage::Proposal,
                    key: "present".into(),
                },
                SettingsEdit::Step {
                    stage: Stage::Proposal,
                    key: "legal".into(),
                    title: "Legal review".into(),
                    required: true,
                    order: 100,
                },
                SettingsEdit::Currency {
                    code: Currency::parse("USD").unwrap(),
                    used: true,
                },
            ],
            ActorId::from([2u8; 16]),
            &author("bruno"),
            2_000,
        )
        .unwrap();
        a.merge(&mut b).unwrap();
        let s = read_settings(Some(a.document()));
        assert_eq!(s.probability(Stage::Proposal), 55);
        assert_eq!(s.grade_minimum("A"), 4);
        let keys: Vec<&str> = s
            .steps(Stage::Proposal)
            .iter()
            .map(|st| st.key.as_str())
            .collect();
        assert_eq!(keys, ["send-proposal", "legal"]);
        assert_eq!(s.currencies, ["EUR", "USD"]);
    }
}
