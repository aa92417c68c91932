//! The web UI in a real browser: headless Chromium (Debian `chromium` and `chromium-driver`),
//! driven over WebDriver with `fantoccini`, against the real `crm ui` on a temporary data dir.
//! Screenshots of the main pages are saved under `target/tmp/ui-screenshots/`.
//! One module per journey: a rep's day here, the board's drag (`board`), a manager's
//! settings (`settings`), a new activity (`activity`).

mod activity;
mod board;
mod settings;

use crm_tests::web_ui::WebUi;
use crm_tests::Crm;
use fantoccini::{Client, ClientBuilder, Locator};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A chromedriver process on a free port; killed when dropped.
struct Driver {
    child: Child,
    port: u16,
    _profile: tempfile::TempDir,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// Starts chromedriver and a headless Chromium session with a fresh profile.
async fn browser() -> (Driver, Client) {
    let port = free_port();
    let child = Command::new("chromedriver")
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("chromedriver runs (apt-get install chromium chromium-driver)");
    let profile = tempfile::tempdir().expect("a profile dir");
    let driver = Driver {
        child,
        port,
        _profile: profile,
    };
    let caps: serde_json::Map<String, serde_json::Value> = serde_json::from_value(serde_json::json!({
        "browserName": "chrome",
        "goog:chromeOptions": {
            "binary": "/usr/bin/chromium",
            "args": [
                "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--no-first-run",
                "--window-size=1400,1000",
                format!("--user-data-dir={}", driver._profile.path().display()),
            ],
        },
    }))
    .expect("capabilities");
    let url = format!("http://127.0.0.1:{}", driver.port);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        match ClientBuilder::new(connector)
            .capabilities(caps.clone())
            .connect(&url)
            .await
        {
            Ok(client) => return (driver, client),
            Err(e) if Instant::now() > deadline => panic!("no WebDriver session: {e}"),
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
}

/// Polls `check` until it holds (up to 15 s); panics saying `what` otherwise.
async fn until<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + Duration::from_secs(15);
    while !check().await {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The text of the element `css`, or empty if there is none.
async fn text(c: &Client, css: &str) -> String {
    match c.find(Locator::Css(css)).await {
        Ok(e) => e.text().await.unwrap_or_default(),
        Err(_) => String::new(),
    }
}

/// The attribute `name` of the element `css`, as a number (0 if absent).
async fn number_attr(c: &Client, css: &str, name: &str) -> i64 {
    match c.find(Locator::Css(css)).await {
        Ok(e) => e
            .attr(name)
            .await
            .ok()
            .flatten()
            .and_then(|v| v.parse().ok())
            .unwrap_or(0),
        Err(_) => 0,
    }
}

async fn screenshot(c: &Client, name: &str) {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("ui-screenshots");
    std::fs::create_dir_all(&dir).expect("the screenshot dir");
    let png = c.screenshot().await.expect("a screenshot");
    std::fs::write(dir.join(format!("{name}.png")), png).expect("the screenshot is saved");
}

/// Two replicas that set the same contact's title offline, merged into `ana`: a conflict.
fn team_with_a_conflict() -> (Crm, Crm, String, String) {
    let ana = Crm::init("ana");
    let org = ana.add(&["org", "add", "--name", "Acme Tools"]);
    let contact = ana.add(&[
        "contact",
        "add",
        "--name",
        "Ana Lima",
        "--email",
        "ana@acme.test",
        "--org",
        &org,
    ]);
    ana.add(&["contact", "add", "--name", "Zeca Other"]);
    let case = ana.add(&[
        "case",
        "add",
        "--title",
        "Forklifts",
        "--org",
        &org,
        "--amount",
        "12000",
        "--stage",
        "qualification",
    ]);
    let bruno = Crm::init("bruno");
    let from = |c: &Crm| c.dir().to_str().expect("a UTF-8 path").to_string();
    bruno.ok(&["merge", "--from", &from(&ana)]);
    ana.ok(&["contact", "edit", &contact, "--title", "Buyer"]);
    bruno.ok(&["contact", "edit", &contact, "--title", "Director"]);
    ana.ok(&["merge", "--from", &from(&bruno)]);
    assert_eq!(
        ana.json(&["conflicts"]).as_array().map(Vec::len),
        Some(1),
        "the merge left one conflict"
    );
    (ana, bruno, contact, case)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rep_searches_edits_resolves_moves_a_case_and_sees_changes_arrive_live() {
    let (ana, _bruno, contact, case) = team_with_a_conflict();
    ana.add(&[
        "activity",
        "add",
        "--kind",
        "meeting",
        "--subject",
        "Forklift demo",
        "--at",
        "tomorrow 10:00",
        "--contact",
        &contact,
    ]);
    let ui = WebUi::start(&ana);
    let (_driver, c) = browser().await;

    // Signing in with the printed address lands on Today.
    c.goto(&ui.sign_in)
        .await
        .expect("the sign-in address opens");
    until("Today shows", || async {
        text(&c, "h1").await.starts_with("Today")
    })
    .await;
    screenshot(&c, "today").await;

    // Search as you type: only the matching contact stays.
    c.goto(&format!("{}/contacts", ui.base()))
        .await
        .expect("contacts open");
    let search = c
        .wait()
        .for_element(Locator::Css("#search"))
        .await
        .expect("a search box");
    search.send_keys("lima").await.expect("typing");
    until("the search narrows the list to Ana", || async {
        let t = text(&c, "#main").await;
        t.contains("Ana Lima") && !t.contains("Zeca Other")
    })
    .await;
    assert!(c
        .current_url()
        .await
        .expect("an address")
        .as_str()
        .contains("q=lima"));
    screenshot(&c, "contacts").await;

    // Her page shows the conflict; "keep this" settles it as `crm resolve` does.
    c.wait()
        .for_element(Locator::LinkText("Ana Lima"))
        .await
        .expect("a link")
        .click()
        .await
        .expect("opens");
    until("the conflict shows", || async {
        text(&c, "#conflicts").await.contains("Director")
    })
    .await;
    screenshot(&c, "contact-conflict").await;
    let keep = c
        .wait()
        .for_element(Locator::XPath(
            "//li[span[@class='value' and text()='Director']]//button",
        ))
        .await
        .expect("a keep-this button for Director");
    keep.click().await.expect("keep this");
    // The page's own state, not its banner: the live update that the change itself sets off
    // may redraw the page (without the banner) at any moment after the answer.
    until("the conflict is gone", || async {
        c.find(Locator::Css("#conflicts")).await.is_err()
            && text(&c, "#main").await.contains("Director")
    })
    .await;
    assert!(
        c.find(Locator::Css("#conflicts")).await.is_err(),
        "no conflict left on the page"
    );
    assert_eq!(ana.json(&["conflicts"]), serde_json::json!([]));
    assert_eq!(
        ana.json(&["contact", "show", &contact])["title"],
        "Director"
    );

    // A bad e-mail is refused with the CLI's message beside the field; nothing is saved.
    c.goto(&format!("{}/edit/contact/{contact}", ui.base()))
        .await
        .expect("the form opens");
    let email = c
        .wait()
        .for_element(Locator::Css("#f_email"))
        .await
        .expect("an e-mail field");
    email.clear().await.expect("cleared");
    email.send_keys("not-an-address").await.expect("typed");
    // An e-mail input checks itself in the browser too; skip that to see the server's check.
    c.execute(
        "document.querySelector('form.record').noValidate = true",
        vec![],
    )
    .await
    .expect("script");
    c.wait()
        .for_element(Locator::Css("form.record button[type=submit]"))
        .await
        .expect("save")
        .click()
        .await
        .expect("saved");
    until("the e-mail error shows", || async {
        text(&c, "#error_email")
            .await
            .contains("is not an e-mail address")
    })
    .await;
    screenshot(&c, "contact-form-error").await;
    let shown = ana.json(&["contact", "show", &contact]);
    assert_eq!(
        shown["emails"][0]["value"], "ana@acme.test",
        "nothing saved"
    );

    // A good edit is saved and read back through the CLI.
    let email = c
        .wait()
        .for_element(Locator::Css("#f_email"))
        .await
        .expect("an e-mail field");
    email.clear().await.expect("cleared");
    email.send_keys("ana.lima@acme.test").await.expect("typed");
    c.wait()
        .for_element(Locator::Css("form.record button[type=submit]"))
        .await
        .expect("save")
        .click()
        .await
        .expect("saved");
    until("the record page shows the new address", || async {
        let main = text(&c, "#main").await;
        main.contains("ana.lima@acme.test") && !main.contains("not-an-address")
    })
    .await;
    let shown = ana.json(&["contact", "show", &contact]);
    assert_eq!(shown["emails"][0]["value"], "ana.lima@acme.test");

    // The page drawn after the save hears of that save from the watcher (a change order at or
    // after the one it was drawn at) and is not redrawn for it: the banner stays.
    let drawn_at = number_attr(&c, "#main", "data-seq").await;
    assert!(
        drawn_at > 0,
        "the page carries the change order it was drawn at"
    );
    until("the page has heard of its own save", || async {
        number_attr(&c, "#live", "data-heard").await >= drawn_at
    })
    .await;
    assert_eq!(
        number_attr(&c, "#live", "data-redraws").await,
        0,
        "no redraw for a change the page already shows"
    );
    assert!(text(&c, ".banner.ok").await.contains("Saved."));

    // A new contact is found by search.
    c.goto(&format!("{}/new/contact", ui.base()))
        .await
        .expect("the new form opens");
    c.wait()
        .for_element(Locator::Css("#f_name"))
        .await
        .expect("a name field")
        .send_keys("Carla Nova")
        .await
        .expect("typed");
    c.wait()
        .for_element(Locator::Css("form.record button[type=submit]"))
        .await
        .expect("save")
        .click()
        .await
        .expect("saved");
    until("the new contact's page opens", || async {
        text(&c, "h1").await.starts_with("Carla Nova")
    })
    .await;
    let found = ana.json(&["contact", "list", "--search", "carla"]);
    assert_eq!(found.as_array().map(Vec::len), Some(1));

    // The board: lost needs a reason; proposal moves the case and shows its playbook.
    c.goto(&format!("{}/cases", ui.base()))
        .await
        .expect("the board opens");
    screenshot(&c, "pipeline").await;
    let card = format!("article[data-case='{case}']");
    let form_css = format!("{card} form.move");
    let form = c
        .wait()
        .for_element(Locator::Css(&form_css))
        .await
        .expect("the card's move form");
    form.find(Locator::Css("select"))
        .await
        .expect("a stage list")
        .select_by_value("lost")
        .await
        .expect("lost picked");
    form.find(Locator::Css("button"))
        .await
        .expect("a move button")
        .click()
        .await
        .expect("moved");
    until("the board says a reason is needed", || async {
        text(&c, ".banner.error").await.contains("needs a reason")
    })
    .await;
    assert_eq!(ana.json(&["case", "show", &case])["stage"], "qualification");
    let form = c
        .wait()
        .for_element(Locator::Css(&form_css))
        .await
        .expect("the card's move form");
    form.find(Locator::Css("select"))
        .await
        .expect("a stage list")
        .select_by_value("proposal")
        .await
        .expect("picked");
    form.find(Locator::Css("button"))
        .await
        .expect("a move button")
        .click()
        .await
        .expect("moved");
    until("the card is in the proposal column", || async {
        c.find(Locator::Css(&format!(
            "section[data-stage='proposal'] {card}"
        )))
        .await
        .is_ok()
    })
    .await;
    assert_eq!(ana.json(&["case", "show", &case])["stage"], "proposal");
    c.goto(&format!("{}/cases/{case}", ui.base()))
        .await
        .expect("the case opens");
    until("the playbook of proposal shows", || async {
        text(&c, "#playbook").await.contains("Send the proposal")
    })
    .await;
    screenshot(&c, "case").await;

    // Another process's change arrives on the open list without a reload.
    c.goto(&format!("{}/contacts", ui.base()))
        .await
        .expect("contacts open");
    until("the page is live", || async {
        text(&c, "#live").await == "live"
    })
    .await;
    ana.add(&["contact", "add", "--name", "Dora Live"]);
    until("the new contact appears live", || async {
        text(&c, "#main").await.contains("Dora Live")
    })
    .await;

    c.goto(&format!("{}/reports", ui.base()))
        .await
        .expect("reports open");
    until("the pipeline chart shows", || async {
        c.find(Locator::Css("#pipeline svg.chart")).await.is_ok()
    })
    .await;
    screenshot(&c, "reports").await;

    // The other main pages, for the screenshots: the calendar, settings and sync status.
    for (path, css, name) in [
        ("/agenda", ".calendar.week", "agenda"),
        ("/agenda?view=month", "table.calendar.month", "agenda-month"),
        ("/settings", "#stages", "settings"),
        ("/sync", "#last-sync", "sync"),
    ] {
        c.goto(&format!("{}{path}", ui.base()))
            .await
            .expect("the page opens");
        c.wait()
            .for_element(Locator::Css(css))
            .await
            .expect("the page shows");
        screenshot(&c, name).await;
    }
    c.close().await.expect("the browser closes");
}
