//! The pipeline board's drag, with real WebDriver pointer actions (a mouse pressed on a card,
//! moved over another column, released): the case moves as `crm case move` moves it, the
//! playbook of its new stage shows, and lost asks for the reason first.

use super::{browser, screenshot, text, until};
use crm_tests::web_ui::WebUi;
use crm_tests::Crm;
use fantoccini::actions::{InputSource, MouseActions, PointerAction, MOUSE_BUTTON_LEFT};
use fantoccini::{Client, Locator};
use std::time::Duration;

/// Presses the mouse on the card of `case` (on its amount line, not its link or form), moves
/// it in steps onto the column of `stage` and releases it there.
async fn drag(c: &Client, case: &str, stage: &str) {
    let grip = c
        .wait()
        .for_element(Locator::Css(&format!(
            "article[data-case='{case}'] div.amount"
        )))
        .await
        .expect("the card's amount line");
    let column = c
        .find(Locator::Css(&format!(
            "section.column[data-stage='{stage}'] h2"
        )))
        .await
        .expect("the column's heading");
    let mouse = MouseActions::new("mouse".into())
        .then(PointerAction::MoveToElement {
            element: grip,
            duration: None,
            x: 0.0,
            y: 0.0,
        })
        .then(PointerAction::Down {
            button: MOUSE_BUTTON_LEFT,
        })
        .then(PointerAction::MoveBy {
            duration: Some(Duration::from_millis(100)),
            x: 15.0,
            y: 15.0,
        })
        .then(PointerAction::MoveToElement {
            element: column,
            duration: Some(Duration::from_millis(300)),
            x: 0.0,
            y: 40.0,
        })
        .then(PointerAction::Up {
            button: MOUSE_BUTTON_LEFT,
        });
    c.perform_actions(mouse)
        .await
        .expect("the drag is performed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rep_drags_a_card_to_proposal_sees_its_playbook_and_gives_a_reason_to_drag_it_to_lost() {
    let ana = Crm::init("ana");
    let org = ana.add(&["org", "add", "--name", "Acme Tools"]);
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
    let ui = WebUi::start(&ana);
    let (_driver, c) = browser().await;
    c.goto(&ui.sign_in)
        .await
        .expect("the sign-in address opens");
    c.goto(&format!("{}/cases", ui.base()))
        .await
        .expect("the board opens");
    let card = format!("article[data-case='{case}']");

    // Dragged onto proposal: the card lands there and the CLI sees the move.
    drag(&c, &case, "proposal").await;
    until("the card is in the proposal column", || async {
        c.find(Locator::Css(&format!(
            "section[data-stage='proposal'] {card}"
        )))
        .await
        .is_ok()
    })
    .await;
    assert_eq!(ana.json(&["case", "show", &case])["stage"], "proposal");
    screenshot(&c, "pipeline-dragged").await;

    // Its page shows the checklist of proposal.
    c.find(Locator::Css(&format!("{card} a")))
        .await
        .expect("the card's link")
        .click()
        .await
        .expect("the case opens");
    until("the playbook of proposal shows", || async {
        text(&c, "#playbook").await.contains("Send the proposal")
    })
    .await;
    screenshot(&c, "case-playbook").await;

    // Dragged onto lost: a reason is asked first; cancelling leaves the case where it was.
    c.goto(&format!("{}/cases", ui.base()))
        .await
        .expect("the board opens");
    drag(&c, &case, "lost").await;
    let dialog = c
        .wait()
        .for_element(Locator::Css("dialog#lost-reason[open]"))
        .await
        .expect("the reason is asked for");
    dialog
        .find(Locator::Css("button[value='cancel']"))
        .await
        .expect("a cancel button")
        .click()
        .await
        .expect("cancelled");
    until("the dialog closes", || async {
        c.find(Locator::Css("dialog#lost-reason[open]"))
            .await
            .is_err()
    })
    .await;
    assert_eq!(ana.json(&["case", "show", &case])["stage"], "proposal");

    drag(&c, &case, "lost").await;
    let dialog = c
        .wait()
        .for_element(Locator::Css("dialog#lost-reason[open]"))
        .await
        .expect("the reason is asked for");
    screenshot(&c, "pipeline-lost-reason").await;
    dialog
        .find(Locator::Css("input[name='reason']"))
        .await
        .expect("a reason field")
        .send_keys("Went with a cheaper offer")
        .await
        .expect("typed");
    dialog
        .find(Locator::Css("button[value='move']"))
        .await
        .expect("a move button")
        .click()
        .await
        .expect("moved");
    until("the card is in the lost column", || async {
        c.find(Locator::Css(&format!("section[data-stage='lost'] {card}")))
            .await
            .is_ok()
    })
    .await;
    let shown = ana.json(&["case", "show", &case]);
    assert_eq!(shown["stage"], "lost", "{shown}");
    assert!(
        shown.to_string().contains("Went with a cheaper offer"),
        "the reason is kept: {shown}"
    );
    c.close().await.expect("the browser closes");
}
