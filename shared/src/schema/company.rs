//! The company's header on quote documents, kept in the workspace settings document so every
//! laptop has it offline: name, address and terms (text, several lines each) and a logo (the
//! bytes of a PNG or JPEG file, at most [`MAX_LOGO_BYTES`]). Each is one scalar key at the
//! settings' root (`company/name`, `company/address`, `company/terms`, `company/logo`), so
//! concurrent changes merge key by key like any other setting.

use automerge::transaction::Transactable;
use automerge::{AutoCommit, ReadDoc, ScalarValue, ROOT};
use serde::Serialize;

/// The largest logo kept, in bytes (256 kB): enough for a sharp header logo, small enough that
/// every laptop carries it in the settings document.
pub const MAX_LOGO_BYTES: usize = 256 * 1024;

/// The company's header.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Company {
    pub name: Option<String>,
    pub address: Option<String>,
    pub terms: Option<String>,
    /// The logo file's bytes (PNG or JPEG), not printed in JSON.
    #[serde(skip)]
    pub logo: Option<Vec<u8>>,
    /// The logo's size in bytes (0: none).
    pub logo_bytes: usize,
}

/// The image format of a logo, told by its first bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogoFormat {
    Png,
    Jpeg,
}

impl LogoFormat {
    /// The format the bytes start like (`None`: neither PNG nor JPEG).
    pub fn sniff(bytes: &[u8]) -> Option<LogoFormat> {
        if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
            Some(LogoFormat::Png)
        } else if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
            Some(LogoFormat::Jpeg)
        } else {
            None
        }
    }

    /// Its MIME type.
    pub fn mime(self) -> &'static str {
        match self {
            LogoFormat::Png => "image/png",
            LogoFormat::Jpeg => "image/jpeg",
        }
    }
}

/// One change to the header: a text set (`None`: removed), or the logo.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CompanyEdit {
    Name(Option<String>),
    Address(Option<String>),
    Terms(Option<String>),
    Logo(Option<Vec<u8>>),
}

/// Reads one `company/...` key into `c` (other keys are not the header's: false).
pub(super) fn read_key(c: &mut Company, key: &str, v: &ScalarValue) -> bool {
    let text = || match v {
        ScalarValue::Str(s) if !s.is_empty() => Some(s.to_string()),
        _ => None,
    };
    match key {
        "company/name" => c.name = text(),
        "company/address" => c.address = text(),
        "company/terms" => c.terms = text(),
        "company/logo" => {
            c.logo = match v {
                ScalarValue::Bytes(b) if LogoFormat::sniff(b).is_some() => Some(b.clone()),
                _ => None,
            };
            c.logo_bytes = c.logo.as_ref().map_or(0, Vec::len);
        }
        _ => return false,
    }
    true
}

/// Applies one header change to the settings document.
pub(super) fn apply(
    doc: &mut AutoCommit,
    e: &CompanyEdit,
) -> Result<(), automerge::AutomergeError> {
    let (key, value) = match e {
        CompanyEdit::Name(t) => ("company/name", t.clone().map(ScalarValue::from)),
        CompanyEdit::Address(t) => ("company/address", t.clone().map(ScalarValue::from)),
        CompanyEdit::Terms(t) => ("company/terms", t.clone().map(ScalarValue::from)),
        CompanyEdit::Logo(b) => ("company/logo", b.clone().map(ScalarValue::Bytes)),
    };
    match value {
        Some(v) => doc.put(ROOT, key, v),
        None if doc.get(ROOT, key)?.is_some() => doc.delete(ROOT, key),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_logo_is_told_png_or_jpeg_by_its_first_bytes() {
        assert_eq!(
            LogoFormat::sniff(b"\x89PNG\r\n\x1a\nrest"),
            Some(LogoFormat::Png)
        );
        assert_eq!(
            LogoFormat::sniff(&[0xFF, 0xD8, 0xFF, 0xE0]),
            Some(LogoFormat::Jpeg)
        );
        assert_eq!(LogoFormat::sniff(b"GIF89a"), None);
    }

    #[test]
    fn two_managers_changing_the_header_offline_merge_field_by_field() {
        use crate::schema::SettingsEdit::Company as C;
        use crate::schema::{create_settings, edit_settings, read_settings, ChangeAuthor};
        let author = |user: &str| ChangeAuthor {
            user: user.into(),
            device: format!("{user}-laptop"),
            offline: true,
            action: None,
        };
        let logo = b"\x89PNG\r\n\x1a\nrest".to_vec();
        let mut a = create_settings(
            &[C(CompanyEdit::Name(Some("Acme".into())))],
            automerge::ActorId::from([1u8; 16]),
            &author("max"),
            1_000,
        )
        .unwrap();
        let mut b = a.fork().with_actor(automerge::ActorId::from([2u8; 16]));
        edit_settings(
            &mut a,
            &[C(CompanyEdit::Address(Some(
                "Hafenstraße 5\nHamburg".into(),
            )))],
            &author("max"),
            2_000,
        )
        .unwrap();
        edit_settings(
            &mut b,
            &[
                C(CompanyEdit::Logo(Some(logo.clone()))),
                C(CompanyEdit::Name(None)),
            ],
            &author("mia"),
            2_000,
        )
        .unwrap();
        a.merge(&mut b).unwrap();
        let c = read_settings(Some(a.document())).company;
        assert_eq!(c.name, None, "removed by mia");
        assert_eq!(c.address.as_deref(), Some("Hafenstraße 5\nHamburg"));
        assert_eq!(c.logo, Some(logo));
        assert_eq!(c.logo_bytes, 12);
    }
}
