//! A manager's settings in the browser: a step added to a stage's checklist and an exchange
//! rate set, seen by the CLI and by a rep after a sync; the rep's page has no form, and a POST
//! forged from it is refused.

use super::{browser, screenshot, text, until};
use crm_tests::web_ui::WebUi;
use crm_tests::SyncServer;
use fantoccini::Locator;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_manager_changes_a_checklist_and_a_rate_that_the_team_sees_and_a_rep_only_reads_them() {
    let server = SyncServer::start();
    let (ana, _bruno) = server.north_team();
    server.admin(&["user", "add", "max", "--role", "manager"]);
    let max = server.device("max", "north", &server.token("max"));
    ana.ok(&["sync"]);

    let ui = WebUi::start(&max);
    let (_driver, c) = browser().await;
    c.goto(&ui.sign_in)
        .await
        .expect("the sign-in address opens");
    c.goto(&format!("{}/settings", ui.base()))
        .await
        .expect("settings open");

    // A new required step of proposal, typed into the playbook form.
    c.wait()
        .for_element(Locator::Css("#step_stage"))
        .await
        .expect("the step form")
        .select_by_value("proposal")
        .await
        .expect("proposal picked");
    for (field, value) in [
        ("#step_key", "confirm-budget"),
        ("#step_title", "Confirm the budget"),
    ] {
        c.find(Locator::Css(field))
            .await
            .expect("a step field")
            .send_keys(value)
            .await
            .expect("typed");
    }
    c.find(Locator::Css("#step_required"))
        .await
        .expect("the required box")
        .click()
        .await
        .expect("ticked");
    c.find(Locator::Css("#step button[type=submit]"))
        .await
        .expect("save step")
        .click()
        .await
        .expect("saved");
    until("the step is in proposal's checklist", || async {
        text(
            &c,
            "tr[data-stage='proposal'] li[data-step='confirm-budget']",
        )
        .await
        .contains("Confirm the budget")
    })
    .await;

    // A bad rate is refused beside its field; a good one is saved.
    for (field, value) in [("#rate_code", "USD"), ("#rate_rate", "cheap")] {
        c.find(Locator::Css(field))
            .await
            .expect("a rate field")
            .send_keys(value)
            .await
            .expect("typed");
    }
    c.find(Locator::Css("#rate button[type=submit]"))
        .await
        .expect("save rate")
        .click()
        .await
        .expect("sent");
    until("the rate's error shows beside it", || async {
        !text(&c, "#error_rate_rate").await.is_empty()
    })
    .await;
    let rate = c
        .find(Locator::Css("#rate_rate"))
        .await
        .expect("the rate field");
    rate.clear().await.expect("cleared");
    rate.send_keys("0.92").await.expect("typed");
    c.find(Locator::Css("#rate button[type=submit]"))
        .await
        .expect("save rate")
        .click()
        .await
        .expect("saved");
    until("the rate is listed", || async {
        text(&c, "#rates").await.contains("USD")
    })
    .await;
    screenshot(&c, "settings-manager").await;

    let shown = max.json(&["settings", "show"]);
    let step = shown["playbook"]["proposal"]
        .as_array()
        .and_then(|s| s.iter().find(|s| s["key"] == "confirm-budget").cloned())
        .expect("the CLI sees the step");
    assert_eq!(step["required"], true, "{step}");
    assert!(
        shown["rates"]
            .as_array()
            .is_some_and(|r| r.iter().any(|r| r["from"] == "USD" && r["rate"] == "0.92")),
        "{shown}"
    );

    // The rep gets them by sync, and reads them without a form.
    max.ok(&["sync"]);
    ana.ok(&["sync"]);
    let theirs = ana.json(&["settings", "show"]);
    assert!(
        theirs["playbook"]["proposal"]
            .to_string()
            .contains("confirm-budget"),
        "{theirs}"
    );
    let rep_ui = WebUi::start(&ana);
    c.goto(&rep_ui.sign_in).await.expect("the rep signs in");
    c.goto(&format!("{}/settings", rep_ui.base()))
        .await
        .expect("settings open");
    until("the page says it is read-only", || async {
        text(&c, "#read-only").await.contains("only a manager")
    })
    .await;
    assert!(text(&c, "#stages").await.contains("Confirm the budget"));
    assert!(
        c.find(Locator::Css("#main form")).await.is_err(),
        "no form on a rep's settings page"
    );

    // A form forged on the rep's page (with its own CSRF token) is refused; nothing changes.
    c.execute(
        r#"const f = document.createElement("form");
           f.method = "post"; f.action = "/settings/step";
           const add = (n, v) => { const i = document.createElement("input"); i.name = n; i.value = v; f.appendChild(i); };
           add("_csrf", document.querySelector('meta[name="csrf-token"]').content);
           add("stage", "proposal"); add("key", "forged"); add("title", "Forged");
           document.body.appendChild(f); f.submit();"#,
        vec![],
    )
    .await
    .expect("the forged form is sent");
    until("the refusal shows", || async {
        text(&c, ".banner.error")
            .await
            .contains("only a manager or an admin")
    })
    .await;
    assert!(!ana
        .json(&["settings", "show"])
        .to_string()
        .contains("forged"));
    c.close().await.expect("the browser closes");
}
