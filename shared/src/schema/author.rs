//! Who made a change: stored as JSON in each Automerge change's message.

use serde::{Deserialize, Serialize};

/// The author of one change: the user, the device (data dir) and whether it was made offline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChangeAuthor {
    pub user: String,
    pub device: String,
    /// True when the change was made with no live connection to the server.
    #[serde(default)]
    pub offline: bool,
    /// What the change did, when more than its fields say (a merge of records, an unmerge).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<String>,
}

impl ChangeAuthor {
    pub fn to_message(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// Reads the author from a change message; a message from another tool yields `None`.
    pub fn from_message(message: Option<&str>) -> Option<ChangeAuthor> {
        serde_json::from_str(message?).ok()
    }
}
