//! Column metadata and the headers of change and document bodies (automerge's
//! `storage/columns/` and `Change::parse_following_header`, `Document::parse`).
//!
//! A body lists its columns as (specification, length) pairs, then holds the columns one after
//! another. A specification is `id << 4 | deflate bit << 3 | type`.

use super::leb128::{take, Reader};

/// How a column's values are encoded (the low three bits of its specification).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnType {
    /// Run-length encoded unsigned counts of the next group.
    Group,
    /// Run-length encoded actor indexes.
    Actor,
    /// Run-length encoded unsigned integers.
    Integer,
    /// Delta-encoded signed integers (run-length encoded).
    Delta,
    /// Alternating run lengths of false and true.
    Boolean,
    /// Run-length encoded length-prefixed strings.
    String,
    /// Run-length encoded value metadata: `length << 4 | value type`.
    ValueMetadata,
    /// Raw value bytes, their lengths in the metadata column.
    Value,
}

impl From<u32> for ColumnType {
    fn from(spec: u32) -> ColumnType {
        match spec & 0b111 {
            0 => ColumnType::Group,
            1 => ColumnType::Actor,
            2 => ColumnType::Integer,
            3 => ColumnType::Delta,
            4 => ColumnType::Boolean,
            5 => ColumnType::String,
            6 => ColumnType::ValueMetadata,
            _ => ColumnType::Value,
        }
    }
}

/// A column specification.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ColumnSpec(pub u32);

impl ColumnSpec {
    /// The bit of a specification that says the column is deflated.
    pub const DEFLATE: u32 = 0b1000;

    /// The column of the operations' object actor.
    pub const OBJ_ACTOR: ColumnSpec = ColumnSpec(0x01);
    /// The column of the operations' object counter.
    pub const OBJ_COUNTER: ColumnSpec = ColumnSpec(0x02);
    /// The column of the operations' map keys.
    pub const KEY_STRING: ColumnSpec = ColumnSpec(0x15);
    /// The column of the operations' actions.
    pub const ACTION: ColumnSpec = ColumnSpec(0x42);
    /// The column of the operations' value metadata.
    pub const VALUE_META: ColumnSpec = ColumnSpec(0x56);
    /// The column of the operations' raw values.
    pub const VALUE_RAW: ColumnSpec = ColumnSpec(0x57);
    /// The column of the operations' successor counts.
    pub const SUCC_COUNT: ColumnSpec = ColumnSpec(0x80);

    pub fn deflated(self) -> bool {
        self.0 & Self::DEFLATE != 0
    }

    pub fn column_type(self) -> ColumnType {
        ColumnType::from(self.0)
    }

    /// The specification without its deflate bit (how a column is known either way).
    pub fn plain(self) -> ColumnSpec {
        ColumnSpec(self.0 & !Self::DEFLATE)
    }
}

/// The action of a `set` operation (in the action column).
pub const ACTION_SET: u64 = 1;
/// The value type of a UTF-8 string (the low four bits of value metadata).
pub const VALUE_STRING: u64 = 6;

/// Column metadata: a count, then (specification, length) pairs.
pub fn read_columns(r: &mut Reader<'_>) -> Option<Vec<(ColumnSpec, usize)>> {
    let n = r.uleb()?;
    // Each pair takes at least two bytes: no allocation from a length header.
    if n > r.rest().len() as u64 / 2 {
        return None;
    }
    let mut out = Vec::with_capacity(usize::try_from(n).ok()?);
    for _ in 0..n {
        let spec = u32::try_from(r.uleb()?).ok()?;
        let len = r.len()?;
        out.push((ColumnSpec(spec), len));
    }
    Some(out)
}

/// Splits the columns (laid out one after another in `data`) by their metadata; `None` when
/// `data` is shorter than the metadata says.
pub fn split_columns<'a>(
    columns: &[(ColumnSpec, usize)],
    mut data: &'a [u8],
) -> Option<Vec<(ColumnSpec, &'a [u8])>> {
    columns
        .iter()
        .map(|&(spec, len)| take(&mut data, len).map(|c| (spec, c)))
        .collect()
}

/// The body of a change chunk, up to its columns.
#[derive(Debug, Clone)]
pub struct ChangeHeader<'a> {
    /// The body up to the column metadata (dependencies, actor, sequence number, start op,
    /// time, message, other actors).
    pub prefix: &'a [u8],
    /// The column metadata.
    pub columns: Vec<(ColumnSpec, usize)>,
    /// The columns, one after another.
    pub data: &'a [u8],
}

impl<'a> ChangeHeader<'a> {
    pub fn parse(body: &'a [u8]) -> Option<ChangeHeader<'a>> {
        let mut r = Reader(body);
        let deps = r.len()?;
        r.take(deps.checked_mul(32)?)?;
        r.prefixed()?; // actor
        r.uleb()?; // seq
        r.uleb()?; // start op
        r.uleb()?; // timestamp (signed: same length)
        r.prefixed()?; // message
        let others = r.uleb()?;
        for _ in 0..others {
            r.prefixed()?;
        }
        let prefix = &body[..body.len() - r.rest().len()];
        let columns = read_columns(&mut r)?;
        Some(ChangeHeader {
            prefix,
            columns,
            data: r.rest(),
        })
    }
}

/// The body of a document chunk, up to its columns.
#[derive(Debug, Clone)]
pub struct DocumentHeader<'a> {
    /// The metadata of the change columns (one item per change).
    pub change_columns: Vec<(ColumnSpec, usize)>,
    /// The metadata of the operation columns (one item per operation).
    pub op_columns: Vec<(ColumnSpec, usize)>,
    /// The change columns then the operation columns, one after another.
    pub data: &'a [u8],
}

impl<'a> DocumentHeader<'a> {
    pub fn parse(body: &'a [u8]) -> Option<DocumentHeader<'a>> {
        let mut r = Reader(body);
        let actors = r.uleb()?;
        for _ in 0..actors {
            r.prefixed()?;
        }
        let heads = r.len()?;
        r.take(heads.checked_mul(32)?)?;
        let change_columns = read_columns(&mut r)?;
        let op_columns = read_columns(&mut r)?;
        Some(DocumentHeader {
            change_columns,
            op_columns,
            data: r.rest(),
        })
    }

    /// The operation columns; `None` when a column is deflated or the body is shorter than the
    /// metadata says.
    pub fn plain_op_columns(&self) -> Option<Vec<(ColumnSpec, &'a [u8])>> {
        let mut data = self.data;
        let mut change_bytes = 0usize;
        for (spec, len) in &self.change_columns {
            if spec.deflated() {
                return None;
            }
            change_bytes = change_bytes.checked_add(*len)?;
        }
        take(&mut data, change_bytes)?;
        if self.op_columns.iter().any(|(spec, _)| spec.deflated()) {
            return None;
        }
        split_columns(&self.op_columns, data)
    }
}
