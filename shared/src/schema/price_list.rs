//! The id of a price list, derived from its name, and how the server tells a price list's id
//! from any other: its first bytes are a fixed mark. A price list is a workspace document (no
//! book) that every user reads and managers and admins change; two managers who create the
//! same list offline get one document that merges field by field.

use crate::DocumentId;
use sha2::{Digest, Sha256};

/// The first bytes of every price list's id.
const MARK: &[u8; 5] = b"crmPL";

/// The id of the price list named `name` (the same on every replica; case and spaces at the
/// ends do not matter).
pub fn price_list_id(name: &str) -> DocumentId {
    let hash = Sha256::new()
        .chain_update(b"crm-price-list\0")
        .chain_update(name.trim().to_lowercase().as_bytes())
        .finalize();
    let mut bytes = [0u8; 16];
    bytes[..MARK.len()].copy_from_slice(MARK);
    bytes[MARK.len()..].copy_from_slice(&hash[..16 - MARK.len()]);
    DocumentId::from_random(bytes)
}

/// True when `id` is a price list's.
pub fn is_price_list_id(id: &DocumentId) -> bool {
    id.as_bytes().starts_with(MARK)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_price_lists_id_is_its_names_and_is_told_apart() {
        let a = price_list_id("North resellers 2026");
        assert_eq!(a, price_list_id(" north RESELLERS 2026 "));
        assert_ne!(a, price_list_id("South 2026"));
        assert!(is_price_list_id(&a));
        assert!(!is_price_list_id(&DocumentId::from_random([7; 16])));
        assert!(!is_price_list_id(&crate::schema::settings_id()));
    }
}
