//! A campaign's template: a `Subject:` line, a blank line, then the body, with `{{field}}`
//! placeholders filled from each contact (a mail merge). An unknown placeholder is refused
//! before anything is sent.

use anyhow::Result;
use std::collections::BTreeMap;

/// The placeholders a template may use.
pub const FIELDS: [&str; 8] = [
    "name",
    "first_name",
    "last_name",
    "title",
    "org",
    "email",
    "region",
    "owner",
];

/// A piece of text: as written, or a placeholder.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    Text(String),
    Field(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    subject: Vec<Piece>,
    body: Vec<Piece>,
}

fn pieces(text: &str, line_of: &dyn Fn(usize) -> usize) -> Result<Vec<Piece>> {
    let mut out = Vec::new();
    let mut rest = text;
    let mut offset = 0;
    while let Some(open) = rest.find("{{") {
        let Some(close) = rest[open..].find("}}") else {
            anyhow::bail!(
                "line {}: `{{{{` is not closed with `}}}}`",
                line_of(offset + open)
            );
        };
        out.push(Piece::Text(rest[..open].to_string()));
        let name = rest[open + 2..open + close].trim();
        if !FIELDS.contains(&name) {
            anyhow::bail!(
                "line {}: `{{{{{name}}}}}` is not a field: use {}",
                line_of(offset + open),
                FIELDS.map(|f| format!("{{{{{f}}}}}")).join(", ")
            );
        }
        out.push(Piece::Field(name.to_string()));
        offset += open + close + 2;
        rest = &rest[open + close + 2..];
    }
    out.push(Piece::Text(rest.to_string()));
    Ok(out)
}

impl Template {
    pub fn parse(text: &str) -> Result<Template> {
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let (first, body) = text.split_once('\n').unwrap_or((text, ""));
        let subject = first
            .trim_end_matches('\r')
            .strip_prefix("Subject:")
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .ok_or_else(|| {
                anyhow::anyhow!("the template's first line must be `Subject: ...`, then a blank line, then the body")
            })?;
        let body = body
            .strip_prefix("\r\n")
            .or_else(|| body.strip_prefix('\n'))
            .unwrap_or(body);
        if body.trim().is_empty() {
            anyhow::bail!(
                "the template has no body: write it after the Subject line and a blank line"
            );
        }
        let body_start = text.len() - body.len();
        let line_of = |at: usize| {
            text[..(body_start + at).min(text.len())]
                .lines()
                .count()
                .max(1)
        };
        Ok(Template {
            subject: pieces(subject, &|_| 1)?,
            body: pieces(body, &line_of)?,
        })
    }

    fn fill(pieces: &[Piece], fields: &BTreeMap<&str, String>) -> String {
        pieces
            .iter()
            .map(|p| match p {
                Piece::Text(t) => t.as_str(),
                Piece::Field(f) => fields.get(f.as_str()).map(String::as_str).unwrap_or(""),
            })
            .collect()
    }

    /// The subject and body for one contact's fields.
    pub fn render(&self, fields: &BTreeMap<&str, String>) -> (String, String) {
        (
            Self::fill(&self.subject, fields).replace(['\r', '\n'], " "),
            Self::fill(&self.body, fields),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_template_is_filled_with_each_contacts_fields() {
        let t = Template::parse(
            "Subject: Hello {{ first_name }}\n\nDear {{first_name}} of {{org}},\nbye\n",
        )
        .unwrap();
        let fields = BTreeMap::from([
            ("first_name", "Ana".to_string()),
            ("org", "Acme".to_string()),
        ]);
        let (subject, body) = t.render(&fields);
        assert_eq!(subject, "Hello Ana");
        assert_eq!(body, "Dear Ana of Acme,\nbye\n");
    }

    #[test]
    fn an_unknown_field_or_a_missing_subject_is_refused_with_what_to_write() {
        let e = Template::parse("Subject: Hi\n\nDear {{nmae}},\n")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("line 3") && e.contains("{{nmae}}") && e.contains("{{first_name}}"),
            "{e}"
        );
        let e = Template::parse("Hello\n\nbody").unwrap_err().to_string();
        assert!(e.contains("Subject:"), "{e}");
        let e = Template::parse("Subject: Hi\n\nDear {{name,\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("not closed"), "{e}");
    }
}
