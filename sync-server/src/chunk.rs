//! Automerge's binary storage format, read without loading anything into Automerge: the chunk
//! header constants, a LEB128 cursor and column metadata. The limit check (`limits.rs`) and the
//! screening of book moves (`access.rs`) both walk incoming chunks with it.

/// The magic bytes that open every storage chunk.
pub(crate) const MAGIC: [u8; 4] = [0x85, 0x6f, 0x4a, 0x83];
pub(crate) const CHUNK_DOCUMENT: u8 = 0;
pub(crate) const CHUNK_CHANGE: u8 = 1;
pub(crate) const CHUNK_COMPRESSED: u8 = 2;
pub(crate) const CHUNK_BUNDLE: u8 = 3;
/// The bit of a column specification that says the column is deflated.
pub(crate) const COLUMN_DEFLATE: u32 = 0b1000;

pub(crate) fn take<'a>(data: &mut &'a [u8], n: usize) -> Option<&'a [u8]> {
    if data.len() < n {
        return None;
    }
    let (head, rest) = data.split_at(n);
    *data = rest;
    Some(head)
}

/// A cursor over bytes, LEB128 as Automerge writes it.
pub(crate) struct Reader<'a>(pub(crate) &'a [u8]);

impl<'a> Reader<'a> {
    pub(crate) fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        take(&mut self.0, n)
    }

    pub(crate) fn byte(&mut self) -> Option<u8> {
        self.take(1).map(|b| b[0])
    }

    pub(crate) fn uleb(&mut self) -> Option<u64> {
        let mut value = 0u64;
        for shift in (0..64).step_by(7) {
            let b = self.byte()?;
            value |= u64::from(b & 0x7f).checked_shl(shift)?;
            if b & 0x80 == 0 {
                return Some(value);
            }
        }
        None
    }

    pub(crate) fn sleb(&mut self) -> Option<i64> {
        let mut value = 0i64;
        let mut shift = 0u32;
        loop {
            let b = self.byte()?;
            if shift >= 64 {
                return None;
            }
            value |= i64::from(b & 0x7f) << shift;
            shift += 7;
            if b & 0x80 == 0 {
                if shift < 64 && b & 0x40 != 0 {
                    value |= -1i64 << shift;
                }
                return Some(value);
            }
        }
    }

    /// Length-prefixed bytes.
    pub(crate) fn prefixed(&mut self) -> Option<&'a [u8]> {
        let n = self.uleb()?;
        self.take(usize::try_from(n).ok()?)
    }

    /// Column metadata: a count, then (spec, length) pairs.
    pub(crate) fn columns(&mut self) -> Option<Vec<(u32, usize)>> {
        let n = self.uleb()?;
        // Each pair takes at least two bytes: no allocation from a length header.
        if n > self.0.len() as u64 / 2 {
            return None;
        }
        let mut out = Vec::with_capacity(n as usize);
        for _ in 0..n {
            let spec = u32::try_from(self.uleb()?).ok()?;
            let len = usize::try_from(self.uleb()?).ok()?;
            out.push((spec, len));
        }
        Some(out)
    }
}
