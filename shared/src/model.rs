//! The CRM's domain vocabulary: record kinds, pipeline stages, grades and the other closed choices.
//!
//! The fields of each kind of record are described in [`crate::schema`]; this module holds the
//! choices and rules that the fields refer to.

use crate::values::ValueError;
use std::fmt;
use std::str::FromStr;

/// What a record is. Each record is one Automerge document whose root `type` is this name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RecordKind {
    Organization,
    Contact,
    Relationship,
    Case,
    Activity,
    User,
    /// The workspace settings (pipeline, playbook, thresholds, currencies): one shared document.
    Settings,
    /// A report schedule (`crm schedule`): a document without a book, managers' and admins'.
    Schedule,
    /// What was sent under one topic (reminders, digests, a campaign), so it is never sent twice.
    SendLog,
    /// A catalogue item: SKU, name, list price, tax rate and configuration rules.
    Product,
    /// A quote on a case: number, revision, status, price list; its lines are `QuoteLine`s.
    Quote,
    /// One line of a quote, a document of its own so reps editing different lines merge.
    QuoteLine,
    /// A price list: currency, optional region and customer kind, validity, per-product prices
    /// and a percentage off list. A workspace document (no book, an id derived from its name):
    /// every user reads it, managers and admins change it.
    PriceList,
}

impl RecordKind {
    pub const ALL: [RecordKind; 13] = [
        RecordKind::Organization,
        RecordKind::Contact,
        RecordKind::Relationship,
        RecordKind::Case,
        RecordKind::Activity,
        RecordKind::User,
        RecordKind::Settings,
        RecordKind::Schedule,
        RecordKind::SendLog,
        RecordKind::Product,
        RecordKind::Quote,
        RecordKind::QuoteLine,
        RecordKind::PriceList,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            RecordKind::Organization => "organization",
            RecordKind::Contact => "contact",
            RecordKind::Relationship => "relationship",
            RecordKind::Case => "case",
            RecordKind::Activity => "activity",
            RecordKind::User => "user",
            RecordKind::Settings => "settings",
            RecordKind::Schedule => "schedule",
            RecordKind::SendLog => "send_log",
            RecordKind::Product => "product",
            RecordKind::Quote => "quote",
            RecordKind::QuoteLine => "quote_line",
            RecordKind::PriceList => "price_list",
        }
    }
}

impl fmt::Display for RecordKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for RecordKind {
    type Err = ValueError;
    fn from_str(s: &str) -> Result<Self, ValueError> {
        RecordKind::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| choice_error("record type", s, &["organization", "contact", "case"]))
    }
}

/// A pipeline stage of a case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Stage {
    Prospecting,
    Qualification,
    NeedsAnalysis,
    Proposal,
    Negotiation,
    Won,
    Lost,
}

impl Stage {
    pub const ALL: [Stage; 7] = [
        Stage::Prospecting,
        Stage::Qualification,
        Stage::NeedsAnalysis,
        Stage::Proposal,
        Stage::Negotiation,
        Stage::Won,
        Stage::Lost,
    ];
    pub const KEYS: [&'static str; 7] = [
        "prospecting",
        "qualification",
        "needs-analysis",
        "proposal",
        "negotiation",
        "won",
        "lost",
    ];

    pub fn key(self) -> &'static str {
        Self::KEYS[self as usize]
    }

    /// The default win probability of a case in this stage, in percent.
    pub fn default_probability(self) -> i64 {
        match self {
            Stage::Prospecting => 10,
            Stage::Qualification => 20,
            Stage::NeedsAnalysis => 40,
            Stage::Proposal => 60,
            Stage::Negotiation => 80,
            Stage::Won => 100,
            Stage::Lost => 0,
        }
    }

    pub fn is_open(self) -> bool {
        !matches!(self, Stage::Won | Stage::Lost)
    }
}

impl fmt::Display for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.key())
    }
}

impl FromStr for Stage {
    type Err = ValueError;
    fn from_str(s: &str) -> Result<Self, ValueError> {
        let key = choice("stage", s, &Self::KEYS)?;
        let i = Self::KEYS.iter().position(|k| *k == key).unwrap_or(0);
        Ok(Self::ALL[i])
    }
}

pub const GRADES: &[&str] = &["A", "B", "C"];
pub const ORG_KINDS: &[&str] = &["prospect", "customer", "partner", "reseller", "competitor"];
pub const ACTIVITY_KINDS: &[&str] = &["call", "meeting", "visit", "task", "email", "note"];
pub const ACTIVITY_STATUSES: &[&str] = &["planned", "done", "cancelled"];
pub const DEAL_ROLES: &[&str] = &[
    "decision-maker",
    "economic-buyer",
    "evaluator",
    "influencer",
    "champion",
];
pub const RELATION_KINDS: &[&str] = &[
    "referred-by",
    "reports-to",
    "colleague",
    "subsidiary-of",
    "competitor-of",
];
pub const USER_ROLES: &[&str] = &["rep", "manager", "admin"];

/// A quote's status: draft -> sent -> accepted | rejected | expired; `superseded` when revised.
pub const QUOTE_STATUSES: &[&str] = &[
    "draft",
    "sent",
    "accepted",
    "rejected",
    "expired",
    "superseded",
];

/// The choice of `choices` that `value` names, in any letter case (`Won`, `b`, ` Call `).
pub fn choice(
    field: &'static str,
    value: &str,
    choices: &[&'static str],
) -> Result<&'static str, ValueError> {
    let t = value.trim();
    choices
        .iter()
        .find(|c| c.eq_ignore_ascii_case(t))
        .copied()
        .ok_or_else(|| choice_error(field, t, choices))
}

pub(crate) fn choice_error(field: &'static str, value: &str, expected: &[&str]) -> ValueError {
    ValueError::Choice {
        field,
        value: value.to_string(),
        expected: expected.join(", "),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stages_parse_and_carry_probabilities() {
        for (stage, key) in Stage::ALL.iter().zip(Stage::KEYS) {
            assert_eq!(key.parse::<Stage>().unwrap(), *stage);
            assert_eq!(stage.to_string(), key);
        }
        assert_eq!(Stage::Proposal.default_probability(), 60);
        let err = "closing".parse::<Stage>().unwrap_err().to_string();
        assert!(
            err.contains("closing") && err.contains("needs-analysis"),
            "{err}"
        );
    }
}
