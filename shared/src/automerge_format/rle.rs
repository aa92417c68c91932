//! Run-length encoded columns (automerge's RLE): a signed count; positive, a run of one value;
//! negative, that many literal values; zero, a run of nulls. An absent column is all nulls.

use super::columns::ColumnType;
use super::leb128::Reader;

/// One item of a run-length encoded column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Item<'a> {
    Uleb(u64),
    Str(&'a [u8]),
}

impl<'a> Item<'a> {
    pub fn uleb(self) -> Option<u64> {
        match self {
            Item::Uleb(n) => Some(n),
            Item::Str(_) => None,
        }
    }

    pub fn str(self) -> Option<&'a [u8]> {
        match self {
            Item::Str(s) => Some(s),
            Item::Uleb(_) => None,
        }
    }
}

/// A decoder of a run-length encoded column of unsigned integers or strings.
#[derive(Debug, Clone)]
pub struct Rle<'a> {
    data: Option<Reader<'a>>,
    strings: bool,
    left: u64,
    literal: bool,
    value: Option<Item<'a>>,
}

impl<'a> Rle<'a> {
    /// A decoder of `data` (`None`: an absent column), whose values are strings or unsigned
    /// integers.
    pub fn new(data: Option<&'a [u8]>, strings: bool) -> Self {
        Rle {
            data: data.map(Reader),
            strings,
            left: 0,
            literal: false,
            value: None,
        }
    }

    /// True when every item has been read.
    pub fn done(&self) -> bool {
        self.left == 0 && self.data.as_ref().is_none_or(|r| r.is_empty())
    }

    fn item(&mut self) -> Option<Item<'a>> {
        let r = self.data.as_mut()?;
        Some(if self.strings {
            Item::Str(r.prefixed()?)
        } else {
            Item::Uleb(r.uleb()?)
        })
    }

    /// The next item (`Some(None)`: a null); `None` when the column is malformed or ran out.
    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> Option<Option<Item<'a>>> {
        let Some(r) = self.data.as_mut() else {
            return Some(None);
        };
        if self.left == 0 {
            let count = r.sleb()?;
            if count > 0 {
                self.left = count.unsigned_abs();
                self.literal = false;
                self.value = Some(self.item()?);
            } else if count < 0 {
                self.left = count.unsigned_abs();
                self.literal = true;
            } else {
                self.left = r.uleb()?;
                self.literal = false;
                self.value = None;
            }
            if self.left == 0 {
                return None;
            }
        }
        self.left -= 1;
        if self.literal {
            Some(Some(self.item()?))
        } else {
            Some(self.value)
        }
    }
}

/// How many values a column of type `column_type` holds, counted without decoding them, up to
/// `limit` plus a little (enough to refuse it). Raw value columns count 0: their count comes from
/// the metadata column. A malformed column counts what was read before it broke.
pub fn count_items(column_type: ColumnType, column: &[u8], limit: u64) -> u64 {
    let mut r = Reader(column);
    let mut count = 0u64;
    match column_type {
        // Alternating run lengths.
        ColumnType::Boolean => {
            while let Some(n) = r.uleb() {
                count = count.saturating_add(n);
                if count > limit {
                    break;
                }
            }
        }
        ColumnType::Value => {}
        // Run-length encoded: uleb values (group, actor, integer, metadata), sleb (delta) or
        // length-prefixed strings.
        _ => {
            let strings = column_type == ColumnType::String;
            let value = |r: &mut Reader| -> Option<()> {
                if strings {
                    r.prefixed().map(|_| ())
                } else {
                    r.uleb().map(|_| ())
                }
            };
            while let Some(n) = r.sleb() {
                if n > 0 {
                    count = count.saturating_add(n as u64);
                    if value(&mut r).is_none() {
                        break;
                    }
                } else if n < 0 {
                    let literals = n.unsigned_abs();
                    count = count.saturating_add(literals);
                    if count > limit {
                        break;
                    }
                    if (0..literals).any(|_| value(&mut r).is_none()) {
                        break;
                    }
                } else {
                    let Some(nulls) = r.uleb() else { break };
                    count = count.saturating_add(nulls);
                }
                if count > limit {
                    break;
                }
            }
        }
    }
    count
}
