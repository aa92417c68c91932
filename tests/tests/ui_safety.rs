//! The web UI's safety rules over plain HTTP, against the real `crm ui`: no page without the
//! one-time sign-in, no answer to another Host (DNS rebinding), no change without the CSRF token,
//! and Ctrl-C stops it.

use crm_tests::web_ui::WebUi;
use crm_tests::{wait_for, Crm};
use std::time::Duration;

/// The CSRF token a page carries.
fn csrf_of(page: &str) -> String {
    let at = page
        .find(r#"name="csrf-token" content=""#)
        .expect("a page carries its CSRF token");
    page[at + 27..].chars().take_while(|c| *c != '"').collect()
}

#[test]
fn nothing_is_served_without_the_one_time_sign_in_address() {
    let crm = Crm::init("ana");
    let ui = WebUi::start(&crm);
    let host = ui.host();
    assert_eq!(ui.request("GET", "/", &host, "", "").status, 401);
    assert_eq!(ui.request("GET", "/contacts", &host, "", "").status, 401);
    assert_eq!(
        ui.request("GET", "/?token=0123", &host, "", "").status,
        403,
        "a wrong token signs nobody in"
    );
    let forged = format!("Cookie: crm_session_{}=forged\r\n", ui.port);
    assert_eq!(ui.request("GET", "/", &host, &forged, "").status, 401);
    let cookie = ui.sign_in();
    assert!(cookie.contains(&format!("crm_session_{}=", ui.port)));
    let first = ui.request("GET", &ui.sign_in_path(), &host, "", "");
    assert_eq!(first.status, 403, "the sign-in address works once");
    let page = ui.request("GET", "/", &host, &cookie, "");
    assert_eq!(page.status, 200);
    assert!(page.body.contains("Today"), "{}", page.body);
}

#[test]
fn the_session_cookie_is_http_only_and_same_site_strict() {
    let crm = Crm::init("ana");
    let ui = WebUi::start(&crm);
    let r = ui.request("GET", &ui.sign_in_path(), &ui.host(), "", "");
    let set = r.header("set-cookie").expect("signing in sets a cookie");
    assert!(set.contains("HttpOnly"), "{set}");
    assert!(set.contains("SameSite=Strict"), "{set}");
    assert_eq!(
        r.header("location"),
        Some("/"),
        "the token leaves the address"
    );
}

#[test]
fn a_request_naming_another_host_is_refused_even_when_signed_in() {
    let crm = Crm::init("ana");
    let ui = WebUi::start(&crm);
    let cookie = ui.sign_in();
    let port = ui.port;
    for host in [
        format!("evil.example:{port}"),
        "127.0.0.1".to_string(),
        format!("127.0.0.1:{}", port.wrapping_add(1)),
        format!("rebind.attacker.test:{port}"),
    ] {
        let r = ui.request("GET", "/contacts", &host, &cookie, "");
        assert_eq!(r.status, 403, "Host {host} must be refused");
        assert!(!r.body.contains("<table"), "no data for Host {host}");
    }
    for host in [format!("127.0.0.1:{port}"), format!("localhost:{port}")] {
        assert_eq!(
            ui.request("GET", "/contacts", &host, &cookie, "").status,
            200
        );
    }
}

#[test]
fn a_post_without_the_csrf_token_changes_nothing() {
    let crm = Crm::init("ana");
    let id = crm.add(&["contact", "add", "--name", "Ana Lima", "--title", "Buyer"]);
    let ui = WebUi::start(&crm);
    let cookie = ui.sign_in();
    let host = ui.host();
    let form_headers = format!("{cookie}Content-Type: application/x-www-form-urlencoded\r\n");
    let path = format!("/edit/contact/{id}");
    let change = "title=CEO&shown_title=Buyer";
    let none = ui.request("POST", &path, &host, &form_headers, change);
    assert_eq!(none.status, 403);
    let wrong = ui.request(
        "POST",
        &path,
        &host,
        &form_headers,
        &format!("{change}&_csrf=00ff"),
    );
    assert_eq!(wrong.status, 403);
    let header_wrong = format!("{form_headers}X-CSRF-Token: 00ff\r\n");
    assert_eq!(
        ui.request("POST", &path, &host, &header_wrong, change)
            .status,
        403
    );
    let shown = crm.json(&["contact", "show", &id]);
    assert_eq!(shown["title"], "Buyer", "nothing was saved");

    let page = ui.request("GET", &path, &host, &cookie, "");
    let token = csrf_of(&page.body);
    let ok = ui.request(
        "POST",
        &path,
        &host,
        &form_headers,
        &format!("{change}&_csrf={token}"),
    );
    assert_eq!(ok.status, 303, "{}", ok.body);
    let shown = crm.json(&["contact", "show", &id]);
    assert_eq!(shown["title"], "CEO", "saved with the token");
}

#[test]
fn ctrl_c_stops_the_server_with_an_event_stream_open() {
    let crm = Crm::init("ana");
    let mut ui = WebUi::start(&crm);
    let cookie = ui.sign_in();
    let port = ui.port;
    // An open page's event stream: the server must not wait for it to end.
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connects");
    use std::io::Write;
    write!(
        stream,
        "GET /events HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n{cookie}\r\n"
    )
    .expect("the request is sent");
    let status = std::process::Command::new("kill")
        .args(["-INT", &ui.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(status.success());
    assert!(
        wait_for(Duration::from_secs(10), || ui.exited().is_some()),
        "crm ui stops on Ctrl-C"
    );
    assert_eq!(ui.exited().and_then(|s| s.code()), Some(0));
}
