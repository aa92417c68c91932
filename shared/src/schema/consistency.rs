//! What a merge can leave inconsistent in a case, for the person to settle: concurrent edits that
//! each were consistent (one rep moved the case to lost with a reason, another moved it to won)
//! merge into a case that is both, or open with a loss reason.

use super::conflicts::conflicts;
use super::read::Record;
use crate::model::RecordKind;
use automerge::Automerge;

/// Why a record needs attention after a merge of replicas, and what settles it: a case left
/// inconsistent, or a record merged into another and edited since by someone who had not seen it.
pub fn attention(doc: &Automerge, record: &Record) -> Option<String> {
    case_attention(doc, record).or_else(|| super::merge::merged_attention(doc, record))
}

/// Why a case needs attention after a merge, and what settles it; `None` when it is consistent.
pub fn case_attention(doc: &Automerge, record: &Record) -> Option<String> {
    if record.kind != RecordKind::Case || record.is_deleted() {
        return None;
    }
    let stage_values: Vec<String> = conflicts(doc, RecordKind::Case)
        .into_iter()
        .filter(|c| c.field == "stage")
        .flat_map(|c| c.values.into_iter().map(|v| v.text))
        .collect();
    if stage_values.iter().any(|s| s == "won") && stage_values.iter().any(|s| s == "lost") {
        return Some(
            "won and lost at once (concurrent moves): settle it with `crm resolve ID stage won` or `lost`"
                .into(),
        );
    }
    let stage = record.str("stage").unwrap_or("");
    if stage != "lost" && record.str("loss_reason").is_some() {
        return Some(format!(
            "{stage} but holding a loss reason (a concurrent move to lost): `crm case move ID --stage {stage}` clears it, `crm case move ID --stage lost --reason ...` keeps it"
        ));
    }
    None
}
