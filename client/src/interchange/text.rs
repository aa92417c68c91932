//! A file's bytes as text: the encoding given with `--encoding`, else its byte-order mark
//! (UTF-8, UTF-16), else UTF-8 when the bytes are UTF-8, else the legacy encoding `chardetng`
//! guesses (Outlook's "ANSI" CSV is Windows-1252 with no mark).

use super::Problem;
use encoding_rs::{DecoderResult, Encoding, UTF_8};

/// The decoded text and the name of the encoding it was read in.
pub fn decode(bytes: &[u8], given: Option<&str>) -> Result<(String, &'static str), Problem> {
    if let Some(label) = given {
        let enc = Encoding::for_label(label.trim().as_bytes()).ok_or_else(|| Problem {
            line: 0,
            reason: format!(
                "unknown encoding `{label}`: give one such as utf-8, utf-16le, windows-1252, iso-8859-2"
            ),
        })?;
        let (enc, skip) = match Encoding::for_bom(bytes) {
            Some((bom_enc, len)) if bom_enc == enc => (enc, len),
            _ => (enc, 0),
        };
        return strict(enc, &bytes[skip..]).map(|t| (t, enc.name()));
    }
    if let Some((enc, len)) = Encoding::for_bom(bytes) {
        return strict(enc, &bytes[len..]).map(|t| (t, enc.name()));
    }
    match std::str::from_utf8(bytes) {
        Ok(t) => Ok((t.to_string(), UTF_8.name())),
        Err(e) => {
            let valid = &bytes[..e.valid_up_to()];
            // Text that is UTF-8 up to a point (it has multi-byte characters) and then is not
            // is a damaged file, not a legacy one: guessing would turn it into mojibake.
            if valid.iter().any(|b| *b >= 0x80) {
                return Err(Problem {
                    line: line_of(bytes, e.valid_up_to()),
                    reason: "the file is UTF-8 up to here, then holds bytes that are not UTF-8: repair the file, or give its encoding with --encoding".into(),
                });
            }
            let mut detector =
                chardetng::EncodingDetector::new(chardetng::Iso2022JpDetection::Deny);
            detector.feed(bytes, true);
            let enc = detector.guess(None, chardetng::Utf8Detection::Deny);
            let (text, _, _) = enc.decode(bytes);
            Ok((text.into_owned(), enc.name()))
        }
    }
}

/// Decodes all of `bytes` in `enc`, or says at which line it is not that encoding.
fn strict(enc: &'static Encoding, bytes: &[u8]) -> Result<String, Problem> {
    let mut decoder = enc.new_decoder_without_bom_handling();
    let mut out = String::with_capacity(
        decoder
            .max_utf8_buffer_length_without_replacement(bytes.len())
            .unwrap_or(bytes.len() * 3),
    );
    let (result, read) = decoder.decode_to_string_without_replacement(bytes, &mut out, true);
    match result {
        DecoderResult::InputEmpty => Ok(out),
        DecoderResult::Malformed(_, _) => Err(Problem {
            line: line_of(bytes, read),
            reason: format!(
                "this is not {} text: give the file's encoding with --encoding (e.g. windows-1252)",
                enc.name()
            ),
        }),
        DecoderResult::OutputFull => Err(Problem {
            line: line_of(bytes, read),
            reason: "the file could not be decoded".into(),
        }),
    }
}

/// The 1-based line holding byte `at` (UTF-16 counts its 0x0A bytes, which is close enough to
/// point at the place).
fn line_of(bytes: &[u8], at: usize) -> usize {
    bytes[..at.min(bytes.len())]
        .iter()
        .filter(|b| **b == b'\n')
        .count()
        + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utf16_with_a_mark_and_windows_1252_without_one_are_read() {
        let mut utf16 = vec![0xFF, 0xFE];
        for u in "Name\nJosé".encode_utf16() {
            utf16.extend(u.to_le_bytes());
        }
        assert_eq!(decode(&utf16, None).unwrap().0, "Name\nJosé");
        let ansi = b"First Name,Last Name\nJos\xe9,M\xfcller\n";
        let (text, enc) = decode(ansi, None).unwrap();
        assert!(
            text.contains("José") && text.contains("Müller"),
            "{text} {enc}"
        );
    }

    #[test]
    fn damaged_utf8_is_refused_with_its_line() {
        let bad = "Name\nZoë\nAnn\n".as_bytes().to_vec();
        let mut bad = bad;
        bad.extend(b"B\xffob\n");
        let err = decode(&bad, None).unwrap_err();
        assert_eq!(err.line, 4, "{err}");
        let err = decode(b"a\nb\xff\n", Some("utf-8")).unwrap_err();
        assert_eq!(err.line, 2, "{err}");
    }
}
