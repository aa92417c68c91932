//! `crm contact list --search` finds what people type: digits inside a phone number, a part of a
//! name written without spaces, a name without its apostrophe, letters typed without their marks.

use crm_tests::{rows, Crm};

fn found(crm: &Crm, typed: &str) -> Vec<String> {
    let mut names: Vec<String> = rows(&crm.json(&["contact", "list", "--search", typed]))
        .iter()
        .map(|r| r["name"].as_str().unwrap_or("?").to_string())
        .collect();
    names.sort();
    names
}

#[test]
fn everyday_look_ups_find_the_contact() {
    let crm = Crm::init("ana");
    for (name, phone) in [
        ("Ines Duarte", "+351 912 345 678"),
        ("Jonas Weber", "+49 (0)171 9988776"),
        ("王小明", "+86 10 8765 4321"),
        ("Sean O'Brien", "+353 1 555 0100"),
        ("Zofia Żółć", "+48 22 111 22 33"),
    ] {
        crm.add(&["contact", "add", "--name", name, "--phone", phone]);
    }
    assert_eq!(found(&crm, "45678"), ["Ines Duarte"]);
    assert_eq!(found(&crm, "+49171"), ["Jonas Weber"]);
    assert_eq!(found(&crm, "0171 998"), ["Jonas Weber"]);
    assert_eq!(found(&crm, "小明"), ["王小明"]);
    assert_eq!(found(&crm, "obrien"), ["Sean O'Brien"]);
    assert_eq!(found(&crm, "O'Brien"), ["Sean O'Brien"]);
    assert_eq!(found(&crm, "zolc"), ["Zofia Żółć"]);
    assert_eq!(found(&crm, "Żółć"), ["Zofia Żółć"]);
    // Nothing is found that is not there.
    assert!(found(&crm, "98765").is_empty());
    assert!(found(&crm, "明王").is_empty());
}
