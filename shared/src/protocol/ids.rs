//! Peer-level ids of the automerge-repo protocol: `PeerId`, `StorageId`, `SessionId`.
//!
//! automerge-repo treats all three as opaque strings (`peer-k70wuzbp`, a UUID, a random string); we
//! keep them opaque too, but typed so that one cannot be passed where another is expected.

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

/// Why a string is not a valid id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    #[error("an id must not be empty")]
    Empty,
    #[error("an id must be at most {MAX_ID_LEN} bytes long (this one has {0})")]
    TooLong(usize),
}

/// The longest id accepted from the wire (automerge-repo's are ~20-40 bytes).
pub const MAX_ID_LEN: usize = 256;

fn check(s: &str) -> Result<(), IdError> {
    if s.is_empty() {
        Err(IdError::Empty)
    } else if s.len() > MAX_ID_LEN {
        Err(IdError::TooLong(s.len()))
    } else {
        Ok(())
    }
}

macro_rules! string_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        // Shared, not copied: an id is cloned into every message and action about its peer.
        #[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(Arc<str>);

        impl $name {
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl FromStr for $name {
            type Err = IdError;
            fn from_str(s: &str) -> Result<Self, IdError> {
                check(s)?;
                Ok($name(Arc::from(s)))
            }
        }

        impl TryFrom<String> for $name {
            type Error = IdError;
            fn try_from(s: String) -> Result<Self, IdError> {
                check(&s)?;
                Ok($name(Arc::from(s)))
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({:?})", stringify!($name), self.0)
            }
        }
    };
}

string_id!(
    /// The id a peer announces in `senderId` (one per running repo; JS uses `peer-<random>`).
    PeerId
);
string_id!(
    /// The id of a peer's persistent storage (`peerMetadata.storageId`); stable across restarts,
    /// so it is the key under which to keep sync states of a peer between connections.
    StorageId
);
string_id!(
    /// The session of an ephemeral-message sender (dedupe key together with `senderId` and `count`).
    SessionId
);
