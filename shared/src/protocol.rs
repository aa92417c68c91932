//! The automerge-repo WebSocket protocol (to be written).
