//! The keys two records share when they are likely the same person or organization
//! (`rm_match_keys`, read by `crm duplicates`): each e-mail, each phone number and the name, each
//! normalised so that the ways people write the same one give the same key.
//!
//! - e-mail `e:` lowercased and trimmed (`Ines@ACME.pt` = `ines@acme.pt`);
//! - phone `p:` its last 9 digits, or all of them when fewer but at least 6: `+351 912 345 678`,
//!   `00351912345678` and `912-345-678` are one number (a country code or trunk prefix is left
//!   out, the subscriber number is kept);
//! - name `n:` transliterated to ASCII (`deunicode`: `Inês` = `Ines`, `Ж` = `Zh`, `王` = `Wang`),
//!   lowercased, with punctuation dropped and the words sorted (`Duarte, Inês` = `Ines Duarte`).

/// What a key says two records share.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Reason {
    Email,
    Phone,
    Name,
}

impl Reason {
    pub fn prefix(self) -> &'static str {
        match self {
            Reason::Email => "e:",
            Reason::Phone => "p:",
            Reason::Name => "n:",
        }
    }

    /// The reason of a stored key.
    pub fn of_key(key: &str) -> Option<Reason> {
        [Reason::Email, Reason::Phone, Reason::Name]
            .into_iter()
            .find(|r| key.starts_with(r.prefix()))
    }
}

/// Digits of a phone number kept in its key.
const PHONE_DIGITS: usize = 9;
/// Fewer digits than this make no phone key (an extension, a typo).
const MIN_PHONE_DIGITS: usize = 6;

/// The keys of a record with these e-mails, phones and name, without repeats.
pub fn keys(name: &str, emails: &[String], phones: &[String]) -> Vec<String> {
    let mut keys: Vec<String> = Vec::new();
    keys.extend(emails.iter().filter_map(|e| email_key(e)));
    for p in phones {
        if let Some(k) = phone_key(p) {
            keys.push(k);
        }
    }
    if let Some(k) = name_key(name) {
        keys.push(k);
    }
    keys.sort();
    keys.dedup();
    keys
}

/// The key of an e-mail (`None`: not an address).
pub fn email_key(email: &str) -> Option<String> {
    let e = email.trim().to_lowercase();
    e.contains('@').then(|| format!("e:{e}"))
}

/// The key of a phone number (`None`: fewer than 6 digits).
pub fn phone_key(phone: &str) -> Option<String> {
    let digits: Vec<char> = phone.chars().filter(char::is_ascii_digit).collect();
    if digits.len() < MIN_PHONE_DIGITS {
        return None;
    }
    let tail: String = digits[digits.len().saturating_sub(PHONE_DIGITS)..]
        .iter()
        .collect();
    Some(format!("p:{tail}"))
}

/// A name folded for comparison: accents, case, punctuation, script and word order left out.
pub fn fold_name(name: &str) -> String {
    let ascii = deunicode::deunicode(name).to_lowercase();
    let mut words: Vec<&str> = ascii
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect();
    words.sort_unstable();
    words.join(" ")
}

fn name_key(name: &str) -> Option<String> {
    let folded = fold_name(name);
    (!folded.is_empty()).then(|| format!("n:{folded}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn names_written_differently_fold_to_one_key() {
        let one = fold_name("Inês Duarte");
        for other in [
            "ines duarte",
            "DUARTE, Ines",
            "Inés  Duarte.",
            "Ines-Duarte",
        ] {
            assert_eq!(fold_name(other), one, "{other}");
        }
        assert_eq!(fold_name("Żółć Łukasz"), fold_name("Lukasz Zolc"));
        assert_eq!(fold_name("Müller"), "muller");
        assert_eq!(fold_name("Сергей Иванов"), fold_name("Ivanov Sergei"));
        assert_ne!(fold_name("Ines Duarte"), fold_name("Ines Duartes"));
    }

    #[test]
    fn phones_and_emails_written_differently_give_one_key() {
        let a = keys("", &v(&["Ines@ACME.pt "]), &v(&["+351 912 345 678"]));
        let b = keys("", &v(&["ines@acme.pt"]), &v(&["00351-912-345-678"]));
        let c = keys("", &[], &v(&["912 345 678"]));
        assert_eq!(a, b);
        assert!(a.contains(&"p:912345678".to_string()));
        assert_eq!(c, vec!["p:912345678".to_string()]);
        assert!(keys("", &v(&["not-an-address"]), &v(&["123"])).is_empty());
    }
}
