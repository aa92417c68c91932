//! A data dir that exists twice: copied with `cp -r`, or a laptop's backup restored on a new
//! laptop while the old one is still in use. Both copies start with the same device; if both
//! kept writing with it, their changes would carry the same actor and sequence numbers and
//! could never be merged. Every test runs the real `crm-sync-server` with users, a book,
//! grants and tokens.

use crm_tests::{Crm, SyncServer};
use serde_json::Value;

/// `crm contact show ID --json`'s fields.
fn contact(crm: &Crm, id: &str) -> Value {
    crm.json(&["contact", "show", id])
}

/// The device id `crm config --json` reports.
fn device(crm: &Crm) -> String {
    let v = crm.json(&["config"]);
    v["device"]
        .as_str()
        .unwrap_or_else(|| panic!("crm config --json names the device: {v}"))
        .to_string()
}

#[test]
fn a_copied_data_dir_takes_a_new_device_so_both_copies_edits_merge() {
    let server = SyncServer::start();
    let (ana, bruno) = server.north_team();
    let id = ana.add(&["contact", "add", "--name", "Marta Sousa"]);
    ana.ok(&["sync"]);

    // The laptop's data dir, copied as a backup restored on a second laptop would be.
    let copy = Crm::copy_of(&ana);

    // Both edit the same record offline, different fields.
    ana.ok(&["contact", "edit", &id, "--phone", "+351 912 000 111"]);
    let first = copy.run(&["contact", "edit", &id, "--title", "Buyer"]);
    assert!(
        first.status.success(),
        "the copy's edit is saved: {first:?}"
    );
    let said = String::from_utf8_lossy(&first.stderr);
    assert!(
        said.contains("was copied, restored or moved") && said.contains("now writes as device"),
        "the copy says once that it writes as a new device: {said}"
    );
    let again = copy.run(&["contact", "show", &id]);
    assert!(
        again.stderr.is_empty(),
        "the next command says nothing more: {}",
        String::from_utf8_lossy(&again.stderr)
    );
    let untouched = ana.run(&["contact", "show", &id]);
    assert!(
        untouched.stderr.is_empty(),
        "the original keeps its device silently: {}",
        String::from_utf8_lossy(&untouched.stderr)
    );
    assert_ne!(
        device(&ana),
        device(&copy),
        "the copy writes with a device of its own"
    );

    ana.ok(&["sync"]);
    copy.ok(&["sync"]);
    ana.ok(&["sync"]);
    bruno.ok(&["sync"]);
    for (who, crm) in [("ana", &ana), ("the copy", &copy), ("bruno", &bruno)] {
        let c = contact(crm, &id);
        assert_eq!(c["title"], "Buyer", "{who} has the copy's edit: {c}");
        assert!(
            c["phones"].to_string().contains("912 000 111"),
            "{who} has ana's edit: {c}"
        );
    }
}

#[test]
fn a_copy_edited_beside_its_original_merges_back_with_merge_from() {
    let ana = Crm::init("ana");
    let id = ana.add(&["contact", "add", "--name", "Marta Sousa"]);
    let copy = Crm::copy_of(&ana);
    ana.ok(&["contact", "edit", &id, "--phone", "+351 912 000 111"]);
    copy.ok(&["contact", "edit", &id, "--title", "Buyer"]);

    let from = copy.dir().to_string_lossy().to_string();
    ana.ok(&["merge", "--from", &from]);
    let c = contact(&ana, &id);
    assert_eq!(c["title"], "Buyer", "the copy's edit came back: {c}");
    assert!(
        c["phones"].to_string().contains("912 000 111"),
        "the original's edit stays: {c}"
    );
}
