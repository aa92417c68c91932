//! What a sync costs on the wire: little when nothing changed, one round trip after a restore.

use super::*;

#[test]
fn a_sync_with_nothing_to_do_transfers_little() {
    let server = SyncServer::start();
    let url = server.url();
    let (ana, _) = Crm::init_with_server("ana", &url);
    ana.ok(&[
        "demo-data",
        "--force",
        "--contacts",
        "100",
        "--orgs",
        "20",
        "--cases",
        "30",
        "--activities",
        "50",
    ]);
    let first = sync(&ana);
    let total =
        |r: &Value| r["bytes_sent"].as_u64().unwrap() + r["bytes_received"].as_u64().unwrap();
    assert!(
        total(&first) > 10 * 1024,
        "the first sync sends the book: {first}"
    );
    let (bruno, init) = Crm::init_with_server("bruno", &url);
    assert_eq!(init["restored"]["created"], 201, "{init}");
    assert!(total(&init["restored"]) > 10 * 1024, "{init}");

    // Ana gets Bruno's user; after that, reconnecting with nothing new is cheap on both sides.
    assert_eq!(counts(&sync(&ana)), (1, 0));
    for (who, crm) in [("ana", &ana), ("bruno", &bruno), ("ana", &ana)] {
        let again = sync(crm);
        assert_eq!(counts(&again), (0, 0), "{who}: {again}");
        assert!(
            total(&again) < 10 * 1024,
            "{who} reconnected with nothing to do and moved {} bytes: {again}",
            total(&again)
        );
    }
}

#[test]
fn a_restore_receives_documents_as_stored_and_its_next_sync_is_one_round_trip() {
    let mut server = SyncServer::start();
    let url = server.url();
    let (ana, _) = Crm::init_with_server("ana", &url);
    ana.ok(&[
        "demo-data",
        "--force",
        "--contacts",
        "60",
        "--orgs",
        "10",
        "--cases",
        "20",
        "--activities",
        "30",
    ]);
    sync(&ana);
    // A restarted server holds every document on disk only (a running one keeps the few it
    // served last in memory, and answers fetches of those from memory).
    server
        .restart_on_same_port()
        .expect("the server restarts on its port");
    let metric = |name: &str| server.metric(name).unwrap_or(0.0) as u64;
    let loads = metric("crm_sync_storage_loads_total");
    let raw = metric("crm_sync_storage_raw_reads_total");

    let (bruno, init) = Crm::init_with_server("bruno", &url);
    let restored = &init["restored"];
    assert_eq!(
        restored["created"], 121,
        "120 records and Ana's user: {init}"
    );
    // Every document went as the server stores it: read raw, never loaded into Automerge there
    // (the one load is Bruno's own new user record arriving), and one small fetch each went up.
    assert_eq!(metric("crm_sync_storage_raw_reads_total") - raw, 121);
    assert!(
        metric("crm_sync_storage_loads_total") - loads <= 1,
        "the server loaded documents for a restore"
    );
    assert!(
        restored["bytes_sent"].as_u64().unwrap() < 8 * 1024,
        "{restored}"
    );
    // Once Ana has Bruno's user, the two views are the same: lists, search, a record's history.
    assert_eq!(counts(&sync(&ana)), (1, 0));
    let contact = &ana.ids("contact")[0];
    let case = &ana.ids("case")[0];
    let shown = [("contact", contact.as_str()), ("case", case.as_str())];
    assert_same(
        &view(&bruno, &shown),
        &view(&ana, &shown),
        "the restore differs",
    );

    // Its next sync finds nothing differing in one small round trip...
    let again = sync(&bruno);
    assert_eq!(again["differing"], 0, "{again}");
    assert_eq!(counts(&again), (0, 0), "{again}");
    let moved = again["bytes_sent"].as_u64().unwrap() + again["bytes_received"].as_u64().unwrap();
    assert!(moved < 2 * 1024, "{moved} bytes: {again}");
    // ...and a later edit reaches it as just that change.
    ana.ok(&["contact", "edit", contact, "--title", "Head of Fleet"]);
    sync(&ana);
    let edit = sync(&bruno);
    assert_eq!(counts(&edit), (0, 1), "{edit}");
    assert_eq!(edit["differing"], 1, "{edit}");
    assert_same(
        &view(&bruno, &shown),
        &view(&ana, &shown),
        "the edit did not arrive",
    );
}
