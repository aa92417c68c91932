//! How `crm import` finds the records already here, through the read model: any of a contact's
//! e-mails and phones (not only the first), written as another product writes them, and the id
//! an earlier import kept (`external_ids`), even once the record shares nothing else with the
//! file.

use crm_tests::{rows, Crm};
use serde_json::Value;

fn import(crm: &Crm, dir_file: &str, text: &str) -> Value {
    let path = crm.dir().join(dir_file);
    std::fs::write(&path, text).expect("the file is written");
    crm.json(&["import", path.to_str().expect("a UTF-8 path")])
}

fn count(v: &Value, what: &str) -> usize {
    v[what].as_array().map(Vec::len).unwrap_or(0)
}

#[test]
fn a_contact_is_found_by_its_second_email_or_its_third_phone() {
    let crm = Crm::init("ana");
    let ines = crm.add(&[
        "contact",
        "add",
        "--name",
        "Ines Duarte",
        "--email",
        "ines@acme.pt",
        "--phone",
        "+351 912 000 111",
    ]);
    crm.ok(&[
        "contact",
        "edit",
        &ines,
        "--add-email",
        "home=ines.duarte@mail.pt",
    ]);
    crm.ok(&[
        "contact",
        "edit",
        &ines,
        "--add-phone",
        "mobile=+351 913 222 333",
    ]);
    crm.ok(&[
        "contact",
        "edit",
        &ines,
        "--add-phone",
        "home=+351 214 444 555",
    ]);
    // Her second address, in capitals, with nothing else: the same person, completed.
    let out = import(
        &crm,
        "by-email.csv",
        "Name,E-mail Address,Job Title\r\nInes Duarte,INES.DUARTE@MAIL.PT,CFO\r\n",
    );
    assert_eq!(count(&out, "created"), 0, "{out}");
    assert_eq!(out["updated"][0]["id"], ines.as_str(), "{out}");
    // Her third phone written the way a phone exports it (trunk prefix, no country code).
    let out = import(
        &crm,
        "by-phone.vcf",
        "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:I. Duarte\r\nTEL;TYPE=HOME:00351 214-444-555\r\nNOTE:met at the fair\r\nEND:VCARD\r\n",
    );
    assert_eq!(count(&out, "created"), 0, "{out}");
    assert_eq!(out["updated"][0]["id"], ines.as_str(), "{out}");
    let shown = crm.json(&["contact", "show", &ines]);
    assert_eq!(shown["title"], "CFO", "{shown}");
    assert_eq!(shown["notes"], "met at the fair", "{shown}");
    let list = crm.json(&["contact", "list", "--all"]);
    assert_eq!(rows(&list).len(), 1, "{list}");
}

#[test]
fn a_card_imported_before_is_found_by_its_uid_after_every_value_of_it_changed() {
    let crm = Crm::init("ana");
    let card = |email: &str| {
        format!(
            "BEGIN:VCARD\r\nVERSION:4.0\r\nUID:urn:uuid:4fbe8971-0bc3-424c-9c26-36c3e1eff6b1\r\nFN:Rita Weber\r\nEMAIL:{email}\r\nEND:VCARD\r\n"
        )
    };
    let first = import(&crm, "rita.vcf", &card("rita@weber.de"));
    let rita = first["created"][0]["id"]
        .as_str()
        .expect("created")
        .to_string();
    crm.ok(&[
        "contact",
        "edit",
        &rita,
        "--name",
        "Rita Schulz",
        "--email",
        "rita@schulz.de",
    ]);
    // Another address and the old name: only the UID tells it is her.
    let again = import(&crm, "rita-2.vcf", &card("r.schulz@example.org"));
    assert_eq!(count(&again, "created"), 0, "{again}");
    assert_eq!(again["updated"][0]["id"], rita.as_str(), "{again}");
    // A removed record is not matched: the card makes a new one.
    crm.ok(&["contact", "rm", &rita]);
    let after = import(&crm, "rita-3.vcf", &card("rita@weber.de"));
    assert_eq!(count(&after, "created"), 1, "{after}");
}
