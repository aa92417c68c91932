//! The web UI's pages over plain HTTP against the real `crm ui`: the agenda calendar, the
//! report charts, the settings (a manager changes them, a rep only reads them), a record's
//! network, the new-case form and the sync page, each checked against what the CLI says.

use crm_tests::web_ui::WebUi;
use crm_tests::Crm;
use crm_tests::SyncServer;

/// The CSRF token a page carries.
fn csrf_of(page: &str) -> String {
    let at = page
        .find(r#"name="csrf-token" content=""#)
        .expect("a page carries its CSRF token");
    page[at + 27..].chars().take_while(|c| *c != '"').collect()
}

/// A signed-in session: GET a page (200 expected), POST a form (its answer).
struct Session {
    ui: WebUi,
    cookie: String,
}

impl Session {
    fn new(crm: &Crm) -> Session {
        let ui = WebUi::start(crm);
        let cookie = ui.sign_in();
        Session { ui, cookie }
    }

    fn get(&self, path: &str) -> String {
        let r = self
            .ui
            .request("GET", path, &self.ui.host(), &self.cookie, "");
        assert_eq!(r.status, 200, "GET {path}: {}", r.body);
        r.body
    }

    /// Posts `form` (urlencoded, CSRF token added) and returns where it sends the browser.
    fn post(&self, path: &str, form: &str) -> String {
        let r = self.post_answer(path, form);
        assert_eq!(r.status, 303, "POST {path}: {}", r.body);
        r.header("location").unwrap_or_default().to_string()
    }

    /// Posts `form` (urlencoded, CSRF token added) and returns the answer.
    fn post_answer(&self, path: &str, form: &str) -> crm_tests::web_ui::Response {
        let token = csrf_of(&self.get("/"));
        let headers = format!(
            "{}Content-Type: application/x-www-form-urlencoded\r\n",
            self.cookie
        );
        self.ui.request(
            "POST",
            path,
            &self.ui.host(),
            &headers,
            &format!("{form}&_csrf={token}"),
        )
    }
}

#[test]
fn the_calendar_places_activities_by_day_in_week_and_month_and_links_to_who_they_are_with() {
    let ana = Crm::init("ana");
    let dora = ana.add(&["contact", "add", "--name", "Dora Weiss"]);
    ana.add(&[
        "activity",
        "add",
        "--kind",
        "meeting",
        "--subject",
        "Fleet review",
        "--at",
        "2026-03-11T10:30",
        "--contact",
        &dora,
    ]);
    ana.add(&[
        "activity",
        "add",
        "--kind",
        "call",
        "--subject",
        "Next week call",
        "--at",
        "2026-03-18T09:00",
    ]);
    let s = Session::new(&ana);
    let week = s.get("/agenda?view=week&date=2026-03-12");
    let day = week
        .split(r#"data-day="2026-03-11""#)
        .nth(1)
        .and_then(|rest| rest.split("data-day=").next())
        .expect("the week has Wednesday 11 March");
    assert!(
        day.contains("10:30") && day.contains("Fleet review"),
        "{day}"
    );
    assert!(
        day.contains(&format!(r#"href="/contacts/{dora}""#)),
        "{day}"
    );
    assert!(
        !week.contains("Next week call"),
        "only that week's activities"
    );
    assert!(
        week.contains(r#"href="/agenda?view=week&amp;date=2026-03-16""#),
        "next week"
    );
    assert!(
        week.contains(r#"href="/agenda?view=week&amp;date=2026-03-02""#),
        "previous week"
    );

    let next = s.get("/agenda?view=week&date=2026-03-16");
    assert!(next.contains("Next week call") && !next.contains("Fleet review"));

    let month = s.get("/agenda?view=month&date=2026-03-01");
    assert!(month.contains("March 2026"));
    assert!(month.contains("Fleet review") && month.contains("Next week call"));
    assert!(month.contains(r#"href="/agenda?view=month&amp;date=2026-04-01""#));
}

#[test]
fn a_busy_day_of_the_month_view_shows_its_first_activities_and_says_how_many_more() {
    let ana = Crm::init("ana");
    // Nine calls on the 11th (one a series of nine would be one a day, not nine in one day).
    for hour in 9..18 {
        let at = format!("2026-03-11T{hour:02}:00");
        let subject = format!("Call {hour:02}");
        ana.add(&[
            "activity",
            "add",
            "--kind",
            "call",
            "--subject",
            &subject,
            "--at",
            &at,
        ]);
    }
    let s = Session::new(&ana);
    let month = s.get("/agenda?view=month&date=2026-03-01");
    let day = month
        .split(r#"data-day="2026-03-11""#)
        .nth(1)
        .and_then(|rest| rest.split("data-day=").next())
        .expect("the month has the 11th");
    let shown = day.matches("data-activity=").count();
    assert_eq!(shown, 6, "the first six of the day: {day}");
    assert!(day.contains("Call 09") && !day.contains("Call 15"), "{day}");
    assert!(day.contains("and 3 more"), "{day}");
    // The week view has room for all nine.
    let week = s.get("/agenda?view=week&date=2026-03-11");
    assert_eq!(week.matches("data-activity=").count(), 9, "{week}");
    assert!(!week.contains("more ("), "{week}");
}

#[test]
fn reports_draw_the_funnel_with_losses_revenue_by_region_grades_against_minimums_and_cycle_times() {
    let ana = Crm::init("ana");
    let won = ana.add(&[
        "case",
        "add",
        "--title",
        "Forklifts",
        "--amount",
        "12000",
        "--region",
        "North",
        "--stage",
        "negotiation",
    ]);
    ana.ok(&["case", "move", &won, "--stage", "won"]);
    let lost = ana.add(&["case", "add", "--title", "Cranes", "--stage", "proposal"]);
    ana.ok(&[
        "case", "move", &lost, "--stage", "lost", "--reason", "price",
    ]);
    ana.ok(&["settings", "grades", "--a", "2"]);
    let s = Session::new(&ana);
    let page = s.get("/reports");
    for section in [
        "pipeline",
        "funnel",
        "revenue",
        "revenue-region",
        "grades",
        "cycle",
    ] {
        assert!(
            page.contains(&format!(r#"<section id="{section}"><h2>"#)),
            "a {section} section: {page}"
        );
    }
    let funnel = ana.json(&["report", "funnel"]);
    let proposal = funnel["rows"]
        .as_array()
        .and_then(|r| r.iter().find(|r| r["stage"] == "proposal"))
        .expect("a proposal row");
    let said = format!("{} entered, {} lost", proposal["entered"], proposal["lost"]);
    assert!(page.contains(&said), "the funnel says {said}");
    assert!(page.contains(r#"class="part""#), "losses are drawn");
    let region = page
        .split(r#"<section id="revenue-region">"#)
        .nth(1)
        .expect("revenue by region");
    assert!(
        region.contains("North")
            && (region.contains("12,000.00 EUR") || region.contains("12000.00 EUR")),
        "{region}"
    );
    let grades = page
        .split(r#"<section id="grades">"#)
        .nth(1)
        .expect("grades");
    assert!(grades.contains("minimum 2") && grades.contains("class=\"threshold\""));
    assert!(grades.contains("short"), "ana holds fewer A cases than 2");
    assert!(page.contains("days"), "cycle times in days");
    // As of a date before any case: the same sections, nothing to report.
    let before = s.get("/reports?as_of=2020-01-01");
    assert!(before.contains(r#"value="2020-01-01""#));
    assert!(!before.contains("12,000.00"));
}

#[test]
fn a_manager_changes_settings_as_crm_settings_does_and_a_rep_only_reads_them() {
    let ana = Crm::init("ana");
    let s = Session::new(&ana);
    let page = s.get("/settings");
    assert!(
        page.contains(r#"action="/settings/probability""#),
        "editable"
    );
    let to = s.post("/settings/probability", "stage=proposal&percent=55");
    assert!(to.starts_with("/settings?ok="), "{to}");
    let settings = ana.json(&["settings", "show"]);
    assert!(settings.to_string().contains("55"), "{settings}");
    // A refused value is said beside its field, in the words of `crm settings`.
    let refused = s.post_answer("/settings/probability", "stage=proposal&percent=150");
    assert_eq!(refused.status, 422, "{}", refused.body);
    assert!(
        refused.body.contains(
            r#"<span class="error" id="error_probability-proposal_percent">a probability is a whole percent"#
        ),
        "{}",
        refused.body
    );
    let to = s.post("/settings/grades", "a=3&b=&c=");
    assert!(to.starts_with("/settings?ok="), "{to}");
    assert!(ana.ok(&["settings", "show"]).contains("A >= 3"));

    // The playbook: a step added to a stage's checklist, another removed; the CLI sees both.
    let to = s.post(
        "/settings/step",
        "stage=proposal&key=confirm-budget&title=Confirm+the+budget&required=1&order=",
    );
    assert!(to.starts_with("/settings?ok="), "{to}");
    let steps = |crm: &Crm| crm.json(&["settings", "show"])["playbook"]["proposal"].clone();
    let step = steps(&ana)
        .as_array()
        .and_then(|s| s.iter().find(|s| s["key"] == "confirm-budget").cloned())
        .expect("the new step is in the CLI's settings");
    assert_eq!(step["title"], "Confirm the budget");
    assert_eq!(step["required"], true);
    let first = steps(&ana)[0]["key"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let to = s.post(
        "/settings/step",
        &format!("stage=proposal&key={first}&remove=1"),
    );
    assert!(to.starts_with("/settings?ok="), "{to}");
    assert!(!steps(&ana).to_string().contains(&format!(r#""{first}""#)));
    let refused = s.post_answer("/settings/step", "stage=proposal&key=Bad+Key&title=x");
    assert_eq!(refused.status, 422);
    assert!(
        refused
            .body
            .contains(r#"<span class="error" id="error_step_key">`Bad Key` is not a step key"#),
        "{}",
        refused.body
    );

    // A currency and its rate, as `crm settings currency` and `crm settings rate` save them.
    let to = s.post("/settings/currency", "code=usd");
    assert!(to.starts_with("/settings?ok="), "{to}");
    let to = s.post("/settings/rate", "code=USD&rate=0.92&date=2026-01-01");
    assert!(to.starts_with("/settings?ok="), "{to}");
    let shown = ana.json(&["settings", "show"]);
    assert!(shown["currencies"].to_string().contains("USD"), "{shown}");
    assert!(
        shown["rates"].as_array().is_some_and(|r| r
            .iter()
            .any(|r| r["from"] == "USD" && r["rate"] == "0.92" && r["date"] == "2026-01-01")),
        "{shown}"
    );
    let refused = s.post_answer("/settings/rate", "code=USD&rate=cheap");
    assert_eq!(refused.status, 422);
    assert!(
        refused
            .body
            .contains(r#"<span class="error" id="error_rate_rate">"#),
        "{}",
        refused.body
    );
    assert!(!refused
        .body
        .contains(r#"<span class="error" id="error_rate_rate"></span>"#));

    // A rep (as the server last said) sees them read-only and cannot change them.
    let server = SyncServer::start();
    let (rep, _bruno) = server.north_team();
    rep.ok(&["sync"]);
    let s = Session::new(&rep);
    let page = s.get("/settings");
    assert!(page.contains(r#"id="read-only""#), "{page}");
    assert!(!page.contains(r#"action="/settings/probability""#));
    assert!(!page.contains(r#"action="/settings/step""#));
    assert!(!page.contains(r#"action="/settings/rate""#));
    let forged = s.post_answer("/settings/probability", "stage=proposal&percent=42");
    assert_eq!(forged.status, 403, "{}", forged.body);
    assert!(
        forged.body.contains("only a manager or an admin"),
        "{}",
        forged.body
    );
    let forged = s.post_answer("/settings/step", "stage=proposal&key=forged&title=Forged");
    assert_eq!(forged.status, 403);
    let forged = s.post_answer("/settings/rate", "code=USD&rate=9");
    assert_eq!(forged.status, 403);
    let shown = rep.json(&["settings", "show"]).to_string();
    assert!(
        !shown.contains("42") && !shown.contains("forged"),
        "{shown}"
    );
}

#[test]
fn a_contact_page_shows_the_network_and_a_new_case_is_saved_as_crm_case_add_saves_it() {
    let ana = Crm::init("ana");
    let org = ana.add(&["org", "add", "--name", "Acme Tools"]);
    let dora = ana.add(&["contact", "add", "--name", "Dora Weiss", "--org", &org]);
    let emil = ana.add(&["contact", "add", "--name", "Emil Berg"]);
    ana.ok(&["relate", &emil, &dora, "--as", "referred-by"]);
    let s = Session::new(&ana);
    let page = s.get(&format!("/contacts/{dora}"));
    let network = page
        .split(r#"<section id="network">"#)
        .nth(1)
        .expect("a network section");
    assert!(
        network.contains("Emil Berg") && network.contains("referred-by"),
        "{network}"
    );
    assert!(
        network.contains(&format!(r#"href="/orgs/{org}""#)),
        "{network}"
    );

    // A refused field is said beside it, in the CLI's words, and nothing is saved.
    let refused = s.post_answer("/new/case", "title=Pallets&org=nothing-here&amount=900");
    assert_eq!(refused.status, 422);
    assert!(
        refused
            .body
            .contains(r#"<span class="error" id="error_org">`nothing-here`"#),
        "{}",
        refused.body
    );
    assert_eq!(ana.json(&["case", "list"]), serde_json::json!([]));
    let to = s.post("/new/case", &format!("title=Pallets&org={org}&amount=900"));
    assert!(to.starts_with("/cases/"), "{to}");
    let cases = ana.json(&["case", "list"]);
    let case = cases
        .as_array()
        .and_then(|c| c.iter().find(|c| c["title"] == "Pallets"))
        .expect("the case is listed by the CLI");
    assert_eq!(case["stage"], "prospecting");
    let shown = ana.json(&["case", "show", case["id"].as_str().unwrap_or("")]);
    assert_eq!(shown["org"], org.as_str(), "{shown}");
}

#[test]
fn a_contact_page_shows_the_path_to_the_decision_maker_of_an_organization_as_the_cli_finds_it() {
    let ana = Crm::init("ana");
    let org = ana.add(&["org", "add", "--name", "Acme Tools"]);
    let carla = ana.add(&["contact", "add", "--name", "Carla Chefe", "--org", &org]);
    let dora = ana.add(&["contact", "add", "--name", "Dora Weiss", "--org", &org]);
    let ines = ana.add(&["contact", "add", "--name", "Ines Ponte"]);
    ana.ok(&["relate", &ines, &dora, "--as", "colleague"]);
    ana.add(&[
        "case",
        "add",
        "--title",
        "Fleet",
        "--org",
        &org,
        "--contact",
        &format!("{carla}=decision-maker"),
        "--contact",
        &format!("{dora}=influencer"),
    ]);
    let cli = ana.json(&["contact", "network", &ines]);
    let cli_path: Vec<String> = cli["decision_makers"][0]["path"]
        .as_array()
        .map(|p| {
            p.iter()
                .filter_map(|s| s.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    assert_eq!(cli["decision_makers"][0]["to"], carla.as_str(), "{cli}");
    assert!(
        cli_path.len() >= 2 && cli_path[0].contains("Ines Ponte"),
        "a path from Ines through Dora: {cli}"
    );

    let s = Session::new(&ana);
    let page = s.get(&format!("/contacts/{ines}"));
    let paths = page
        .split(r#"<ul id="decision-paths">"#)
        .nth(1)
        .and_then(|rest| rest.split("</ul>").next())
        .expect("the paths to decision makers");
    assert!(
        paths.contains(&format!(r#"<a href="/contacts/{carla}">Carla Chefe</a>"#)),
        "{paths}"
    );
    assert!(paths.contains(&cli_path.join(", ")), "{paths}");
    let network = page
        .split(r#"<section id="network">"#)
        .nth(1)
        .expect("a network section");
    assert!(network.contains("decision-maker"), "{network}");
    assert!(
        network.contains(&format!(r#"href="/orgs/{org}""#)),
        "{network}"
    );
}

#[test]
fn the_sync_page_names_the_records_the_last_sync_left_here_and_what_to_do() {
    let server = SyncServer::start();
    let (ana, _bruno) = server.north_team();
    server.admin(&["book", "add", "south"]);
    let s = Session::new(&ana);
    assert!(s.get("/sync").contains("none kept yet"));
    drop(s);
    let ines = ana.add(&["contact", "add", "--name", "Ines North"]);
    ana.ok(&["sync"]);
    ana.ok(&["move", &ines, "--book", "south"]);
    let out = ana.run(&["sync"]);
    assert_eq!(
        out.status.code(),
        Some(3),
        "the server refuses a rep's move"
    );
    let s = Session::new(&ana);
    let page = s.get("/sync");
    assert!(page.contains("Not accepted by the server"), "{page}");
    assert!(
        page.contains(&format!(r#"href="/contacts/{ines}">Ines North</a>"#)),
        "{page}"
    );
    assert!(page.contains("Next: "), "{page}");
    assert!(page.contains(&server.url()), "the last sync's server");
}

#[test]
fn today_draws_the_first_hundred_overdue_tasks_and_says_how_many_more() {
    let ana = Crm::init("ana");
    // 105 tasks due on 1 March 2026, brought in from a calendar file in one import.
    let mut ics = String::from("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\n");
    for i in 0..105 {
        ics.push_str(&format!(
            "BEGIN:VTODO\r\nUID:task-{i}@test\r\nSUMMARY:Task {i:03}\r\nDUE:20260301T090000Z\r\nSTATUS:NEEDS-ACTION\r\nEND:VTODO\r\n"
        ));
    }
    ics.push_str("END:VCALENDAR\r\n");
    let file = ana.scratch().join("tasks.ics");
    std::fs::write(&file, ics).unwrap();
    ana.ok(&["import", file.to_str().unwrap()]);
    let overdue = ana.json(&["agenda"]);
    assert_eq!(
        overdue["overdue"].as_array().map(Vec::len),
        Some(105),
        "{overdue}"
    );
    let s = Session::new(&ana);
    let today = s.get("/");
    let section = today
        .split("Overdue tasks")
        .nth(1)
        .expect("the overdue tasks");
    assert_eq!(section.matches("<td>Task ").count(), 100, "{section}");
    assert!(section.contains("and 5 more"), "{section}");
}

#[test]
fn an_organization_page_lists_the_quotes_sent_to_it_as_crm_org_show_does() {
    let ana = Crm::init("ana");
    ana.add(&[
        "product",
        "add",
        "--sku",
        "KIT",
        "--name",
        "Install kit",
        "--price",
        "49.90",
    ]);
    let org = ana.add(&["org", "add", "--name", "Acme Tools"]);
    let case = ana.add(&["case", "add", "--title", "Pallets", "--org", &org]);
    let quote = ana.ok(&["quote", "new", &case]).trim().to_string();
    ana.add(&["quote", "add-line", &quote, "KIT", "--qty", "2"]);
    let s = Session::new(&ana);
    let page = s.get(&format!("/orgs/{org}"));
    assert!(!page.contains("<h2>Quotes</h2>"), "a draft was not sent");
    ana.ok(&["quote", "send", &quote]);
    let page = s.get(&format!("/orgs/{org}"));
    let quotes = page
        .split("<h2>Quotes</h2>")
        .nth(1)
        .expect("a Quotes section")
        .split("</table>")
        .next()
        .unwrap_or("");
    let shown = &ana.json(&["org", "show", &org])["quotes"][0];
    assert_eq!(shown["number"], quote.as_str());
    for expected in [
        quote.as_str(),
        "sent",
        "99.80 EUR",
        &format!(r#"href="/cases/{case}""#),
    ] {
        assert!(quotes.contains(expected), "{expected}: {quotes}");
    }
}
