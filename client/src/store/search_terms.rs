//! What the full-text index holds of a record, and what a search looks for in it.
//!
//! The index (`rm_search`, FTS5 with the `unicode61 remove_diacritics 2` tokenizer) matches every
//! typed word as a prefix of an indexed word. That alone misses look-ups people make every day,
//! so the indexed text gets extra words, and typed words the same folding:
//! - digits inside a phone number: every tail of its digits (from 3 digits) is a word, with and
//!   without a trunk `(0)`, so `45678` finds `+351 912 345 678` and `+49171` finds
//!   `+49 (0)171 ...`;
//! - names in scripts written without spaces (Han, kana, Hangul): every tail of a run is a word,
//!   so `小明` finds `王小明`;
//! - words joined by an apostrophe or a hyphen are also indexed whole: `obrien` finds `O'Brien`;
//! - letters the tokenizer does not fold (`ł`, `ø`, `đ`, `ß`, `æ`, `œ`, ...) are folded on both
//!   sides: `zolc` finds `Żółć`.

/// The text to index for a record's searchable values.
pub fn index_text(values: &[String], phones: &[String]) -> String {
    let mut words: Vec<String> = Vec::with_capacity(values.len() * 2);
    for value in values.iter().chain(phones) {
        let folded = fold(value);
        words.extend(joined_words(&folded));
        words.extend(cjk_tails(&folded));
        words.push(folded);
    }
    for phone in phones {
        words.extend(phone_tails(phone));
    }
    words.join(" ")
}

/// Turns what a user typed into an FTS5 query: every word must match as a prefix of an indexed
/// word. `None` when nothing searchable was typed.
pub fn fts_query(text: &str) -> Option<String> {
    let folded = fold(text);
    let terms: Vec<String> = folded
        .split(|c: char| !c.is_alphanumeric())
        .filter(|t| !t.is_empty())
        .map(|t| format!("\"{t}\"*"))
        .collect();
    (!terms.is_empty()).then(|| terms.join(" "))
}

/// Shortest tail of a phone number's digits that is indexed.
const MIN_PHONE_TAIL: usize = 3;

/// Every tail of a phone number's digits, from [`MIN_PHONE_TAIL`] digits, with and without a
/// trunk prefix written `(0)`.
fn phone_tails(phone: &str) -> Vec<String> {
    let digits = |s: &str| -> String { s.chars().filter(char::is_ascii_digit).collect() };
    let mut forms = vec![digits(phone)];
    if phone.contains("(0)") {
        forms.push(digits(&phone.replacen("(0)", "", 1)));
    }
    let mut tails = Vec::new();
    for form in forms {
        for start in 0..form.len().saturating_sub(MIN_PHONE_TAIL - 1) {
            tails.push(form[start..].to_string());
        }
    }
    tails.sort();
    tails.dedup();
    tails
}

/// Words written with an apostrophe or a hyphen inside, also indexed without it (`o'brien` ->
/// `obrien`, `jean-luc` -> `jeanluc`).
fn joined_words(text: &str) -> Vec<String> {
    text.split_whitespace()
        .filter(|w| w.contains(['\'', '’', '-']))
        .map(|w| {
            w.chars()
                .filter(|c| c.is_alphanumeric())
                .collect::<String>()
        })
        .filter(|w| !w.is_empty())
        .collect()
}

/// True for letters of scripts written without spaces between words.
fn is_cjk(c: char) -> bool {
    matches!(c as u32,
        0x3040..=0x30FF      // Hiragana, Katakana
        | 0x3400..=0x4DBF    // Han extension A
        | 0x4E00..=0x9FFF    // Han
        | 0xAC00..=0xD7AF    // Hangul syllables
        | 0xF900..=0xFAFF    // Han compatibility
        | 0x20000..=0x2FFFF) // Han extensions B-
}

/// Every tail (but the whole) of each run of such letters, as words of their own.
fn cjk_tails(text: &str) -> Vec<String> {
    let mut tails = Vec::new();
    let chars: Vec<char> = text.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        if !is_cjk(chars[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < chars.len() && is_cjk(chars[i]) {
            i += 1;
        }
        for tail in start + 1..i {
            tails.push(chars[tail..i].iter().collect());
        }
    }
    tails
}

/// Lowercases and folds the letters the tokenizer keeps apart although people type them plain.
fn fold(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars().flat_map(char::to_lowercase) {
        match c {
            'ł' => out.push('l'),
            'ø' => out.push('o'),
            'đ' | 'ð' => out.push('d'),
            'ħ' => out.push('h'),
            'ı' => out.push('i'),
            'ŧ' => out.push('t'),
            'þ' => out.push_str("th"),
            'ß' => out.push_str("ss"),
            'æ' => out.push_str("ae"),
            'œ' => out.push_str("oe"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Whether a search for `typed` finds `indexed`, as FTS5 would: every typed word a prefix of
    /// an indexed word (after the tokenizer's diacritic folding, which `strip` stands in for).
    fn finds(typed: &str, values: &[&str], phones: &[&str]) -> bool {
        let strip = |s: &str| -> String {
            s.chars()
                .map(|c| match c {
                    'ż' | 'ź' => 'z',
                    'ó' => 'o',
                    'ć' => 'c',
                    other => other,
                })
                .collect()
        };
        let values: Vec<String> = values.iter().map(|v| v.to_string()).collect();
        let phones: Vec<String> = phones.iter().map(|v| v.to_string()).collect();
        let text = strip(&index_text(&values, &phones));
        let indexed: Vec<&str> = text
            .split(|c: char| !c.is_alphanumeric())
            .filter(|w| !w.is_empty())
            .collect();
        let query = strip(&fold(typed));
        query
            .split(|c: char| !c.is_alphanumeric())
            .filter(|w| !w.is_empty())
            .all(|t| indexed.iter().any(|w| w.starts_with(t)))
    }

    #[test]
    fn everyday_look_ups_find_what_people_typed() {
        assert!(finds("45678", &[], &["+351 912 345 678"]));
        assert!(finds("912345", &[], &["+351 912 345 678"]));
        assert!(finds("+49171", &[], &["+49 (0)171 2345678"]));
        assert!(finds("01712345", &[], &["+49 (0)171 2345678"]));
        assert!(finds("小明", &["王小明"], &[]));
        assert!(finds("王小", &["王小明"], &[]));
        assert!(finds("obrien", &["Sean O'Brien"], &[]));
        assert!(finds("o'brien", &["Sean O'Brien"], &[]));
        assert!(finds("zolc", &["Gęślą Żółć"], &[]));
        assert!(finds("Żółć", &["Zolc"], &[]));
        assert!(finds("hauptstrasse", &["Hauptstraße 1"], &[]));
        // And still nothing that is not there.
        assert!(!finds("98765", &[], &["+351 912 345 678"]));
        assert!(!finds("明王", &["王小明"], &[]));
    }

    #[test]
    fn a_query_of_punctuation_alone_is_none() {
        assert_eq!(fts_query(" ,.'- "), None);
        assert_eq!(
            fts_query("Ana O'Brien").as_deref(),
            Some("\"ana\"* \"o\"* \"brien\"*")
        );
    }
}
