//! Document heads as stored bytes: concatenated 32-byte change hashes. Both stores (client and
//! server) keep a document's heads this way, so sync can start without loading the document.

use automerge::ChangeHash;

/// Heads as concatenated 32-byte hashes.
pub fn encode_heads(heads: &[ChangeHash]) -> Vec<u8> {
    heads.iter().flat_map(|h| h.0).collect()
}

/// Heads written by [`encode_heads`]; damaged bytes give none (the document then syncs in full).
pub fn decode_heads(bytes: &[u8]) -> Vec<ChangeHash> {
    if !bytes.len().is_multiple_of(32) {
        return Vec::new();
    }
    bytes
        .chunks_exact(32)
        .filter_map(|c| ChangeHash::try_from(c).ok())
        .collect()
}

/// The same set of heads, in any order (without allocating in the common one-head case).
pub fn same_heads(a: &[ChangeHash], b: &[ChangeHash]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    if a == b {
        return true;
    }
    let (mut a, mut b) = (a.to_vec(), b.to_vec());
    a.sort();
    b.sort();
    a == b
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heads_round_trip_and_damage_gives_none() {
        let heads = vec![ChangeHash([1; 32]), ChangeHash([2; 32])];
        assert_eq!(decode_heads(&encode_heads(&heads)), heads);
        assert!(decode_heads(&[0; 33]).is_empty());
        let (a, b) = (ChangeHash([1; 32]), ChangeHash([2; 32]));
        assert!(same_heads(&[a, b], &[b, a]));
        assert!(!same_heads(&[a, b], &[a]));
        assert!(!same_heads(&[a, a], &[a, b]));
    }
}
