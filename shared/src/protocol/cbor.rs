//! A small, defensive CBOR layer: a bounded value reader on top of `minicbor` and an infallible writer.
//!
//! The reader accepts everything cbor-x (the JS encoder of automerge-repo) writes: non-minimal length
//! headers (`0xb9` + 2-byte length), `undefined` (`0xf7`), half/single/double floats, indefinite-length
//! strings and containers, tags. It never allocates from a length header (containers grow one decoded
//! item at a time, so memory is bounded by the input size) and it refuses nesting deeper than
//! [`MAX_DEPTH`].

use minicbor::data::Type;
use minicbor::Decoder;

use super::DecodeError;

/// The deepest nesting of arrays, maps and tags the reader accepts.
pub const MAX_DEPTH: usize = 16;

/// One decoded CBOR item.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Value {
    Uint(u64),
    /// A negative integer, `-1 - n`.
    Nint(u64),
    Float(f64),
    Bytes(Vec<u8>),
    Text(String),
    Array(Vec<Value>),
    Map(Vec<(Value, Value)>),
    Bool(bool),
    Null,
    Undefined,
    Simple(u8),
    Tag(u64, Box<Value>),
}

impl Value {
    /// A non-negative integer, also from a float with an integral value (cbor-x may write `1.0`).
    pub(crate) fn as_u64(&self) -> Option<u64> {
        match self {
            Value::Uint(n) => Some(*n),
            Value::Float(f) if f.is_finite() && *f >= 0.0 && f.fract() == 0.0 && *f < 1.8e19 => {
                Some(*f as u64)
            }
            Value::Tag(_, inner) => inner.as_u64(),
            _ => None,
        }
    }

    pub(crate) fn as_str(&self) -> Option<&str> {
        match self {
            Value::Text(s) => Some(s),
            _ => None,
        }
    }

    pub(crate) fn as_bytes(&self) -> Option<&[u8]> {
        match self {
            Value::Bytes(b) => Some(b),
            // cbor-x may tag typed arrays (tag 64 = Uint8Array).
            Value::Tag(_, inner) => inner.as_bytes(),
            _ => None,
        }
    }

    /// `null` and `undefined` both mean "absent" in the JS protocol.
    pub(crate) fn is_absent(&self) -> bool {
        matches!(self, Value::Null | Value::Undefined)
    }

    /// Moves the byte string of a text key out of a map (leaving it empty there): what
    /// [`Value::get`] and [`Value::as_bytes`] would have read, without copying it.
    pub(crate) fn take_bytes(&mut self, key: &str) -> Option<Vec<u8>> {
        fn take(v: &mut Value) -> Option<Vec<u8>> {
            match v {
                Value::Bytes(b) => Some(std::mem::take(b)),
                Value::Tag(_, inner) => take(inner),
                _ => None,
            }
        }
        match self {
            Value::Map(entries) => entries
                .iter_mut()
                .find(|(k, _)| k.as_str() == Some(key))
                .and_then(|(_, v)| take(v)),
            _ => None,
        }
    }

    /// The value of a text key in a map.
    pub(crate) fn get(&self, key: &str) -> Option<&Value> {
        match self {
            Value::Map(entries) => entries
                .iter()
                .find(|(k, _)| k.as_str() == Some(key))
                .map(|(_, v)| v)
                .filter(|v| !v.is_absent()),
            _ => None,
        }
    }
}

fn cbor_err(e: minicbor::decode::Error, at: usize) -> DecodeError {
    DecodeError::Cbor {
        offset: e.position().unwrap_or(at),
        reason: e.to_string(),
    }
}

/// Decode exactly one CBOR item filling all of `input`.
pub(crate) fn read(input: &[u8]) -> Result<Value, DecodeError> {
    let mut d = Decoder::new(input);
    let v = read_value(&mut d, 0)?;
    if d.position() != input.len() {
        return Err(DecodeError::TrailingBytes(input.len() - d.position()));
    }
    Ok(v)
}

fn read_value(d: &mut Decoder<'_>, depth: usize) -> Result<Value, DecodeError> {
    if depth > MAX_DEPTH {
        return Err(DecodeError::TooDeep(MAX_DEPTH));
    }
    let at = d.position();
    let ty = d.datatype().map_err(|e| cbor_err(e, at))?;
    let e = |err| cbor_err(err, at);
    Ok(match ty {
        Type::U8 | Type::U16 | Type::U32 | Type::U64 => Value::Uint(d.u64().map_err(e)?),
        Type::I8 | Type::I16 | Type::I32 | Type::I64 | Type::Int => {
            let n = i128::from(d.int().map_err(e)?);
            if n >= 0 {
                Value::Uint(u64::try_from(n).unwrap_or(u64::MAX))
            } else {
                Value::Nint(u64::try_from(-1 - n).unwrap_or(u64::MAX))
            }
        }
        Type::F16 => {
            let &[hi, lo] = input_slice(d, at + 1, 2)? else {
                return Err(DecodeError::Cbor {
                    offset: at,
                    reason: "truncated half float".into(),
                });
            };
            d.set_position(at + 3);
            Value::Float(f16_to_f64(u16::from_be_bytes([hi, lo])))
        }
        Type::F32 => Value::Float(f64::from(d.f32().map_err(e)?)),
        Type::F64 => Value::Float(d.f64().map_err(e)?),
        Type::Bool => Value::Bool(d.bool().map_err(e)?),
        Type::Null => {
            d.null().map_err(e)?;
            Value::Null
        }
        Type::Undefined => {
            d.undefined().map_err(e)?;
            Value::Undefined
        }
        Type::Simple => Value::Simple(d.simple().map_err(e)?),
        Type::Bytes => Value::Bytes(d.bytes().map_err(e)?.to_vec()),
        Type::BytesIndef => {
            let mut out = Vec::new();
            for chunk in d.bytes_iter().map_err(e)? {
                out.extend_from_slice(chunk.map_err(e)?);
            }
            Value::Bytes(out)
        }
        Type::String => Value::Text(d.str().map_err(e)?.to_owned()),
        Type::StringIndef => {
            let mut out = String::new();
            for chunk in d.str_iter().map_err(e)? {
                out.push_str(chunk.map_err(e)?);
            }
            Value::Text(out)
        }
        Type::Array | Type::ArrayIndef => {
            let len = d.array().map_err(e)?;
            let mut items = Vec::new();
            match len {
                Some(n) => {
                    for _ in 0..n {
                        items.push(read_value(d, depth + 1)?);
                    }
                }
                None => {
                    while !at_break(d)? {
                        items.push(read_value(d, depth + 1)?);
                    }
                }
            }
            Value::Array(items)
        }
        Type::Map | Type::MapIndef => {
            let len = d.map().map_err(e)?;
            let mut entries = Vec::new();
            match len {
                Some(n) => {
                    for _ in 0..n {
                        let k = read_value(d, depth + 1)?;
                        let v = read_value(d, depth + 1)?;
                        entries.push((k, v));
                    }
                }
                None => {
                    while !at_break(d)? {
                        let k = read_value(d, depth + 1)?;
                        let v = read_value(d, depth + 1)?;
                        entries.push((k, v));
                    }
                }
            }
            Value::Map(entries)
        }
        Type::Tag => {
            let tag = d.tag().map_err(e)?;
            Value::Tag(u64::from(tag), Box::new(read_value(d, depth + 1)?))
        }
        Type::Break | Type::Unknown(_) => {
            return Err(DecodeError::Cbor {
                offset: at,
                reason: format!("unexpected {ty}"),
            })
        }
    })
}

fn input_slice<'b>(d: &Decoder<'b>, start: usize, len: usize) -> Result<&'b [u8], DecodeError> {
    d.input()
        .get(start..start.saturating_add(len))
        .ok_or(DecodeError::Cbor {
            offset: start,
            reason: "end of input".into(),
        })
}

/// True (and consumes it) if the next byte is a break (`0xff`).
fn at_break(d: &mut Decoder<'_>) -> Result<bool, DecodeError> {
    let at = d.position();
    if input_slice(d, at, 1)? == [0xff] {
        d.set_position(at + 1);
        Ok(true)
    } else {
        Ok(false)
    }
}

fn f16_to_f64(bits: u16) -> f64 {
    let sign = if bits & 0x8000 != 0 { -1.0 } else { 1.0 };
    let exp = i32::from((bits >> 10) & 0x1f);
    let frac = f64::from(bits & 0x3ff);
    match exp {
        0 => sign * frac * 2f64.powi(-24),
        31 if frac == 0.0 => sign * f64::INFINITY,
        31 => f64::NAN,
        _ => sign * (1.0 + frac / 1024.0) * 2f64.powi(exp - 15),
    }
}

/// An infallible CBOR writer that emits minimal headers (any CBOR decoder reads them).
#[derive(Default)]
pub(crate) struct Writer {
    out: Vec<u8>,
}

impl Writer {
    pub(crate) fn with_capacity(bytes: usize) -> Self {
        Writer {
            out: Vec::with_capacity(bytes),
        }
    }

    pub(crate) fn into_bytes(self) -> Vec<u8> {
        self.out
    }

    fn head(&mut self, major: u8, n: u64) {
        let m = major << 5;
        if n < 24 {
            self.out.push(m | n as u8);
        } else if let Ok(n) = u8::try_from(n) {
            self.out.extend_from_slice(&[m | 24, n]);
        } else if let Ok(n) = u16::try_from(n) {
            self.out.push(m | 25);
            self.out.extend_from_slice(&n.to_be_bytes());
        } else if let Ok(n) = u32::try_from(n) {
            self.out.push(m | 26);
            self.out.extend_from_slice(&n.to_be_bytes());
        } else {
            self.out.push(m | 27);
            self.out.extend_from_slice(&n.to_be_bytes());
        }
    }

    pub(crate) fn uint(&mut self, n: u64) -> &mut Self {
        self.head(0, n);
        self
    }

    pub(crate) fn bytes(&mut self, b: &[u8]) -> &mut Self {
        self.head(2, b.len() as u64);
        self.out.extend_from_slice(b);
        self
    }

    pub(crate) fn str(&mut self, s: &str) -> &mut Self {
        self.head(3, s.len() as u64);
        self.out.extend_from_slice(s.as_bytes());
        self
    }

    pub(crate) fn array(&mut self, len: usize) -> &mut Self {
        self.head(4, len as u64);
        self
    }

    pub(crate) fn map(&mut self, len: usize) -> &mut Self {
        self.head(5, len as u64);
        self
    }

    pub(crate) fn bool(&mut self, b: bool) -> &mut Self {
        self.out.push(if b { 0xf5 } else { 0xf4 });
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_what_cbor_x_writes() {
        // {"a": undefined} with a non-minimal map header, then a float 1.0 as f16 / f64.
        let v = read(&[0xb9, 0x00, 0x01, 0x61, b'a', 0xf7]).unwrap();
        assert_eq!(
            v,
            Value::Map(vec![(Value::Text("a".into()), Value::Undefined)])
        );
        assert!(v.get("a").is_none());
        assert_eq!(read(&[0xf9, 0x3c, 0x00]).unwrap().as_u64(), Some(1));
        let mut f = vec![0xfb];
        f.extend_from_slice(&7.0f64.to_be_bytes());
        assert_eq!(read(&f).unwrap().as_u64(), Some(7));
        assert_eq!(read(&[0xf9, 0x3e, 0x00]).unwrap(), Value::Float(1.5));
    }

    #[test]
    fn refuses_deep_nesting_and_trailing_bytes() {
        let deep = vec![0x81; 100];
        assert!(matches!(read(&deep), Err(DecodeError::TooDeep(_))));
        assert!(matches!(
            read(&[0x01, 0x02]),
            Err(DecodeError::TrailingBytes(1))
        ));
        // A huge announced length with no content is an error, not an allocation.
        assert!(read(&[0x9b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]).is_err());
    }

    #[test]
    fn indefinite_lengths() {
        // [_ "a", h'01'] and (_ "ab" "c")
        let v = read(&[0x9f, 0x61, b'a', 0x41, 0x01, 0xff]).unwrap();
        assert_eq!(
            v,
            Value::Array(vec![Value::Text("a".into()), Value::Bytes(vec![1])])
        );
        let s = read(&[0x7f, 0x62, b'a', b'b', 0x61, b'c', 0xff]).unwrap();
        assert_eq!(s.as_str(), Some("abc"));
    }
}
