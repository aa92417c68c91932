//! vCard files as phones, Apple Contacts and other products write them: every card, labels, photos, company cards, QUOTED-PRINTABLE and charsets, RELATED.

use super::*;

#[test]
fn every_real_vcard_export_imports_without_failing() {
    let crm = Crm::init("ana");
    let mut files: Vec<PathBuf> = std::fs::read_dir(real("vcard"))
        .expect("the shared vCard fixtures")
        .map(|e| e.expect("a file").path())
        .collect();
    files.sort();
    assert_eq!(files.len(), 8);
    for f in &files {
        let out = import(&crm, &[&f.display().to_string()]);
        let read = out["created"].as_array().map(Vec::len).unwrap_or(0)
            + out["updated"].as_array().map(Vec::len).unwrap_or(0)
            + out["unchanged"].as_array().map(Vec::len).unwrap_or(0);
        assert!(read > 0, "{} gives records: {out}", f.display());
        assert_eq!(out["skipped"], serde_json::json!([]), "{}", f.display());
    }
    // The iPhone card: its photo (587 folded lines, CR CR LF) does not get in the way.
    let john = contact(&crm, "Mr. John Richter James Doe Sr.");
    assert!(
        labelled(&john, "emails").contains(&("work".into(), "john.doe@ibm.com".into())),
        "{john}"
    );
    assert!(org_names(&crm, &john).contains(&"IBM".to_string()));
    // The Outlook 2.1 card's quoted-printable address label does not break it either; the
    // folded Evolution card keeps its e-mail whole.
    let names = contact_names(&crm);
    assert!(
        names.iter().any(|n| n.starts_with("Piotr Iksi")),
        "The Bat!'s card: {names:?}"
    );
    let google = contact(&crm, "VCard Test");
    assert!(!labelled(&google, "emails").is_empty(), "{google}");
}

#[test]
fn apple_contacts_labels_photo_and_company_card_are_read() {
    let crm = Crm::init("ana");
    let out = import(&crm, &[&ours("apple-contacts-vcard30-ablabel-photo.vcf")]);
    assert_eq!(
        titles(&out, "created"),
        ["Lars Eriksson", "Nordic Paper AB", "Sofia Lindqvist"]
    );
    assert_eq!(
        titles(&out, "updated"),
        ["Nordic Paper AB"],
        "the company card fills in the organization"
    );
    let sofia = contact(&crm, "Sofia Lindqvist");
    assert_eq!(
        labelled(&sofia, "emails"),
        pairs(&[
            ("work", "sofia.lindqvist@nordicpaper.example"),
            ("other", "sofia@private.example")
        ])
    );
    assert_eq!(
        labelled(&sofia, "phones"),
        pairs(&[
            ("mobile", "+46 70 123 45 67"),
            ("switchboard", "+46 8 555 010 00")
        ])
    );
    assert_eq!(sofia["address"], "Kungsgatan 12, Stockholm, 111 43, Sweden");
    assert_eq!(sofia["department"], "Sales");
    assert_eq!(strings(&sofia["tags"]), ["Customers", "Paper"]);
    assert_eq!(
        sofia["notes"],
        "Decides on paper orders over 50 t.\nAsk about the Gävle mill."
    );
    let orgs = crm.json(&["org", "list"]);
    let org = &rows(&orgs)[0];
    assert_eq!(org["name"], "Nordic Paper AB");
    assert_eq!(org["phone"], "+46 8 555 010 00");
    let org = crm.json(&["org", "show", org["id"].as_str().unwrap_or("")]);
    assert_eq!(org["website"], "https://nordicpaper.example");
}

#[test]
fn a_phones_vcard_21_with_quoted_printable_and_charsets_reads_non_latin_names() {
    let crm = Crm::init("ana");
    import(&crm, &[&ours("phone-vcard21-qp-charset.vcf")]);
    let m = contact(&crm, "Małgorzata Wiśniewska");
    assert_eq!(m["family_name"], "Wiśniewska");
    assert_eq!(
        m["notes"], "Spotkanie w Łodzi, dostawa w środę.",
        "a soft line break joins"
    );
    assert_eq!(
        labelled(&m, "phones"),
        pairs(&[("mobile", "+48601111222"), ("work", "+48225550101")])
    );
    let j = contact(&crm, "João Gonçalves");
    assert_eq!(org_names(&crm, &j), ["Vinhos do Porto Lda"]);
    assert_eq!(
        labelled(&j, "phones"),
        pairs(&[("home", "+351 22 123 4567")])
    );
}

#[test]
fn vcard_40_related_becomes_relationships_between_the_cards() {
    let crm = Crm::init("ana");
    import(&crm, &[&ours("vcard40-related.vcf")]);
    let priya = contact(&crm, "Priya Raman");
    let mut texts: Vec<String> = priya["relationships"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|r| r["kind"].as_str().unwrap_or("").to_string())
                .collect()
        })
        .unwrap_or_default();
    texts.sort();
    assert_eq!(texts, ["colleague", "reports-to"], "{priya}");
    let tom = contact(&crm, "Tom Hughes");
    assert!(
        priya["relationships"]
            .to_string()
            .contains(tom["id"].as_str().unwrap_or("?")),
        "{priya}"
    );
    assert_eq!(
        labelled(&priya, "phones"),
        pairs(&[("work", "+44-20-7946-0018")])
    );
}
