//! A new activity from a contact's page: its time typed as the CLI takes it, a refused value
//! said beside its field, then saved; it shows in the calendar's week and in `crm agenda`.

use super::{browser, screenshot, text, until};
use crm_tests::web_ui::WebUi;
use crm_tests::Crm;
use fantoccini::{Client, Locator};

async fn type_into(c: &Client, css: &str, value: &str) {
    let field = c
        .wait()
        .for_element(Locator::Css(css))
        .await
        .expect("the field");
    field.clear().await.expect("cleared");
    field.send_keys(value).await.expect("typed");
}

async fn save(c: &Client) {
    c.find(Locator::Css("form.record button[type=submit]"))
        .await
        .expect("a save button")
        .click()
        .await
        .expect("sent");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rep_adds_a_meeting_from_a_contacts_page_and_finds_it_in_the_week_and_in_crm_agenda() {
    let ana = Crm::init("ana");
    let org = ana.add(&["org", "add", "--name", "Acme Tools"]);
    let contact = ana.add(&["contact", "add", "--name", "Ana Lima", "--org", &org]);
    let ui = WebUi::start(&ana);
    let (_driver, c) = browser().await;
    c.goto(&ui.sign_in)
        .await
        .expect("the sign-in address opens");
    c.goto(&format!("{}/contacts/{contact}", ui.base()))
        .await
        .expect("her page opens");
    c.wait()
        .for_element(Locator::Css("#new-activity"))
        .await
        .expect("a new-activity link")
        .click()
        .await
        .expect("the form opens");

    // The contact is preset from the page it was opened from.
    until("the form opens with her preset", || async {
        match c.find(Locator::Css("#f_contact")).await {
            Ok(f) => f.prop("value").await.ok().flatten().as_deref() == Some(contact.as_str()),
            Err(_) => false,
        }
    })
    .await;
    c.find(Locator::Css("#f_kind"))
        .await
        .expect("a kind list")
        .select_by_value("meeting")
        .await
        .expect("meeting picked");
    type_into(&c, "#f_subject", "Forklift demo").await;
    type_into(&c, "#f_at", "tomorrow at teatime").await;
    type_into(&c, "#f_duration", "90m").await;
    type_into(&c, "#f_remind", "30m").await;
    save(&c).await;
    until("the time's error shows beside it", || async {
        !text(&c, "#error_at").await.is_empty()
    })
    .await;
    screenshot(&c, "new-activity").await;
    assert_eq!(
        ana.json(&["activity", "list"]),
        serde_json::json!([]),
        "nothing saved"
    );

    type_into(&c, "#f_at", "tomorrow 10:00").await;
    save(&c).await;
    until("her page opens again, saved", || async {
        text(&c, "h1").await.starts_with("Ana Lima")
            && text(&c, ".banner.ok").await.contains("Saved")
    })
    .await;

    // The CLI sees it, with its end and reminder, in the agenda of the week.
    let listed = ana.json(&["activity", "list"]);
    let meeting = listed
        .as_array()
        .and_then(|a| a.iter().find(|a| a["subject"] == "Forklift demo").cloned())
        .expect("the CLI lists the meeting");
    let shown = ana.json(&["activity", "show", meeting["id"].as_str().unwrap_or("")]);
    assert_eq!(shown["kind"], "meeting", "{shown}");
    assert_eq!(shown["contact"], contact.as_str(), "{shown}");
    let start = shown["start"].as_str().unwrap_or_default().to_string();
    assert!(start.ends_with("T10:00"), "{shown}");
    assert!(
        shown["end"]
            .as_str()
            .unwrap_or_default()
            .ends_with("T11:30"),
        "{shown}"
    );
    assert_eq!(shown["remind"], 30, "{shown}");
    let agenda = ana.ok(&["agenda", "--week"]);
    assert!(agenda.contains("Forklift demo"), "{agenda}");

    // And the calendar's week shows it on its day.
    let day = &start[..10];
    c.goto(&format!("{}/agenda?date={day}", ui.base()))
        .await
        .expect("the week opens");
    until("the week shows the meeting", || async {
        text(&c, ".calendar.week").await.contains("Forklift demo")
    })
    .await;
    screenshot(&c, "agenda-new-meeting").await;
    c.close().await.expect("the browser closes");
}
