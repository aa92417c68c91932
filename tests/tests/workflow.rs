//! The sales workflow end to end: settings and the playbook, concurrent stage moves on two
//! replicas, handover while the absent rep edits offline, the relationship network, timelines
//! and reminders.

use crm_tests::{expect_ok, message, Crm};
use serde_json::Value;
use std::process::Output;

fn run_at(crm: &Crm, now: &str, args: &[&str]) -> Output {
    crm.command()
        .env("CRM_NOW", now)
        .env("TZ", "UTC")
        .args(args)
        .output()
        .expect("crm can be started")
}

fn at(crm: &Crm, now: &str, args: &[&str]) -> String {
    expect_ok(args, run_at(crm, now, args))
}

fn json_at(crm: &Crm, now: &str, args: &[&str]) -> Value {
    let mut all = vec!["--json"];
    all.extend_from_slice(args);
    let out = at(crm, now, &all);
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("{all:?}: {e}\n{out}"))
}

fn init_at(user: &str) -> Crm {
    let crm = Crm::new();
    at(&crm, "2026-01-01T09:00", &["init", "--user", user]);
    crm
}

#[test]
fn settings_drive_probabilities_and_the_playbook_guides_without_blocking() {
    let crm = Crm::init("ana");
    let case = crm.add(&["case", "add", "--title", "Fleet", "--amount", "1000"]);
    let list = crm.json(&["case", "list"]);
    assert_eq!(list[0]["probability"], 10, "{list}");

    // The stage's probability comes from the settings.
    crm.ok(&["settings", "probability", "prospecting", "15"]);
    assert_eq!(crm.json(&["case", "list"])[0]["probability"], 15);
    let s = crm.json(&["settings", "show"]);
    assert_eq!(s["probabilities"]["proposal"], 60, "{s}");
    assert_eq!(s["probabilities"]["prospecting"], 15, "{s}");

    // Playbook: a new required step; `case show` lists the current stage's steps.
    crm.ok(&[
        "settings",
        "step",
        "prospecting",
        "call-back",
        "--title",
        "Call back",
        "--required",
    ]);
    let shown = crm.json(&["case", "show", &case]);
    let steps = shown["playbook"]["steps"]
        .as_array()
        .expect("steps")
        .clone();
    let keys: Vec<&str> = steps.iter().filter_map(|s| s["key"].as_str()).collect();
    assert_eq!(keys, ["research", "first-contact", "call-back"], "{shown}");
    assert!(steps.iter().all(|s| s["done"] == false));

    crm.ok(&["case", "check", &case, "first-contact"]);
    crm.ok(&["case", "check", &case, "1"]);
    let err = crm.fail(&["case", "check", &case, "nope"]);
    assert!(message(&err).contains("first-contact"), "{err}");
    crm.fail(&["case", "check", &case, "research"]);
    let shown = crm.json(&["case", "show", &case]);
    let done: Vec<bool> = shown["playbook"]["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["done"] == true)
        .collect();
    assert_eq!(done, [true, true, false], "{shown}");

    // Moving on with a required step undone warns, and moves.
    let out = crm.run(&["case", "move", &case, "--stage", "qualification"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("warning") && stderr.contains("call-back"),
        "{stderr}"
    );
    assert_eq!(crm.json(&["case", "show", &case])["stage"], "qualification");
    // Moving to lost asks for a reason and keeps the last open stage.
    crm.fail(&["case", "move", &case, "--stage", "lost"]);
    crm.ok(&[
        "case", "move", &case, "--stage", "lost", "--reason", "price",
    ]);
    let shown = crm.json(&["case", "show", &case]);
    assert_eq!(shown["lost_from_stage"], "qualification");
    assert_eq!(shown["loss_reason"], "price");
    assert!(shown["close_date"].is_string());
}

#[test]
fn two_replicas_moving_one_case_offline_merge_with_the_conflict_shown_and_both_moves_kept() {
    let ana = init_at("ana");
    let case = at(
        &ana,
        "2026-01-02T10:00",
        &["case", "add", "--title", "Fleet"],
    )
    .trim()
    .to_string();
    let bruno = init_at("bruno");
    at(
        &bruno,
        "2026-01-02T11:00",
        &["merge", "--from", ana.dir().to_str().unwrap()],
    );

    at(
        &ana,
        "2026-01-05T10:00",
        &["case", "move", &case, "--stage", "proposal"],
    );
    at(
        &bruno,
        "2026-01-06T10:00",
        &["case", "move", &case, "--stage", "negotiation"],
    );
    at(
        &ana,
        "2026-01-07T10:00",
        &["merge", "--from", bruno.dir().to_str().unwrap()],
    );
    at(
        &bruno,
        "2026-01-07T10:00",
        &["merge", "--from", ana.dir().to_str().unwrap()],
    );

    for crm in [&ana, &bruno] {
        let shown = json_at(crm, "2026-01-07T12:00", &["case", "show", &case]);
        let history: Vec<(String, String)> = shown["stage_history"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| {
                (
                    c["stage"].as_str().unwrap().to_string(),
                    c["by"].as_str().unwrap().to_string(),
                )
            })
            .collect();
        assert_eq!(history.len(), 3, "{shown}");
        assert!(
            history.contains(&("proposal".into(), "ana".into())),
            "{shown}"
        );
        assert!(
            history.contains(&("negotiation".into(), "bruno".into())),
            "{shown}"
        );
        let conflicts = json_at(crm, "2026-01-07T12:00", &["conflicts"]);
        let stage = conflicts
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["field"] == "stage")
            .unwrap_or_else(|| panic!("no stage conflict: {conflicts}"));
        let mut values: Vec<&str> = stage["values"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|v| v["value"].as_str())
            .collect();
        values.sort();
        assert_eq!(values, ["negotiation", "proposal"]);
    }
    assert_eq!(
        json_at(&ana, "2026-01-07T12:00", &["case", "show", &case])["stage"],
        json_at(&bruno, "2026-01-07T12:00", &["case", "show", &case])["stage"],
        "both replicas show the same winner"
    );
    // The funnel counts both moves.
    let f = json_at(&ana, "2026-01-07T12:00", &["report", "funnel"]);
    let entered = |s: &str| {
        f["rows"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["stage"] == s)
            .unwrap()["entered"]
            .clone()
    };
    assert_eq!(
        (entered("proposal"), entered("negotiation")),
        (1.into(), 1.into()),
        "{f}"
    );
}

#[test]
fn handover_while_the_absent_rep_edits_offline_loses_nothing_and_flags_the_edits() {
    let ana = init_at("ana");
    let visit = at(
        &ana,
        "2026-01-02T10:00",
        &[
            "activity",
            "add",
            "--kind",
            "visit",
            "--subject",
            "Plant tour",
            "--at",
            "2026-01-10T10:00",
        ],
    )
    .trim()
    .to_string();
    let call = at(
        &ana,
        "2026-01-02T10:00",
        &[
            "activity",
            "add",
            "--kind",
            "call",
            "--subject",
            "Later call",
            "--at",
            "2026-02-10T10:00",
        ],
    )
    .trim()
    .to_string();
    let case = at(
        &ana,
        "2026-01-02T10:00",
        &["case", "add", "--title", "Fleet"],
    )
    .trim()
    .to_string();
    let manager = init_at("maria");
    at(
        &manager,
        "2026-01-03T10:00",
        &["merge", "--from", ana.dir().to_str().unwrap()],
    );

    // Ana is away; Maria hands her January activities and her cases to Bruno.
    let h = json_at(
        &manager,
        "2026-01-04T10:00",
        &[
            "handover",
            "--from",
            "ana",
            "--to",
            "bruno",
            "--from-date",
            "2026-01-01",
            "--to-date",
            "2026-01-31",
            "--cases",
        ],
    );
    assert_eq!(h["activities"], serde_json::json!([visit]), "{h}");
    assert_eq!(h["cases"], serde_json::json!([case]), "{h}");
    let agenda = json_at(&manager, "2026-01-10T08:00", &["agenda", "--user", "bruno"]);
    assert_eq!(agenda["items"][0]["id"], visit.as_str(), "{agenda}");

    // Meanwhile Ana, offline, writes notes on the visit and closes it.
    at(
        &ana,
        "2026-01-05T10:00",
        &[
            "activity",
            "edit",
            &visit,
            "--notes",
            "Met the plant manager",
            "--status",
            "done",
        ],
    );
    at(
        &manager,
        "2026-01-06T10:00",
        &["merge", "--from", ana.dir().to_str().unwrap()],
    );

    let shown = json_at(&manager, "2026-01-06T10:00", &["activity", "show", &visit]);
    assert_eq!(shown["owner"], "bruno", "{shown}");
    assert_eq!(shown["notes"], "Met the plant manager", "{shown}");
    assert_eq!(shown["status"], "done");
    assert_eq!(shown["handed_over_from"], "ana");
    let flagged = shown["handover_edits"].as_array().unwrap();
    assert_eq!(flagged.len(), 1, "{shown}");
    assert_eq!(flagged[0]["user"], "ana");
    let conflicts = json_at(&manager, "2026-01-06T10:00", &["conflicts"]);
    assert!(
        conflicts
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["field"] == "handover" && c["id"] == visit.as_str()),
        "{conflicts}"
    );
    // The February call stayed Ana's; the case is Bruno's and not flagged.
    assert_eq!(
        json_at(&manager, "2026-01-06T10:00", &["activity", "show", &call])["owner"],
        "ana"
    );
    let k = json_at(&manager, "2026-01-06T10:00", &["case", "show", &case]);
    assert_eq!(k["owner"], "bruno");
    assert_eq!(k["handover_edits"], serde_json::json!([]));
    let table = at(&manager, "2026-01-06T10:00", &["conflicts"]);
    assert!(table.contains("handover"), "{table}");
}

#[test]
fn the_network_finds_a_path_to_the_decision_maker_and_timelines_log_everything() {
    let crm = init_at("ana");
    let add = |args: &[&str]| at(&crm, "2026-01-02T10:00", args).trim().to_string();
    let org = add(&["org", "add", "--name", "Acme"]);
    let ines = add(&["contact", "add", "--name", "Ines", "--org", &org]);
    let bruno = add(&["contact", "add", "--name", "Bruno"]);
    let carla = add(&["contact", "add", "--name", "Carla", "--org", &org]);
    let dora = add(&["contact", "add", "--name", "Dora"]);
    at(
        &crm,
        "2026-01-02T10:00",
        &["relate", &ines, &bruno, "--as", "referred-by"],
    );
    at(
        &crm,
        "2026-01-02T10:00",
        &["relate", &dora, &bruno, "--as", "colleague"],
    );
    let case = add(&[
        "case",
        "add",
        "--title",
        "Fleet",
        "--org",
        &org,
        "--contact",
        &format!("{carla}=decision-maker"),
    ]);

    let n = json_at(
        &crm,
        "2026-01-03T10:00",
        &["contact", "network", &bruno, "--to", &carla],
    );
    let node = |id: &str| {
        n["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["id"] == id)
            .unwrap_or_else(|| panic!("{id} not in {n}"))
            .clone()
    };
    assert_eq!(node(&ines)["distance"], 1);
    assert_eq!(node(&dora)["distance"], 1);
    assert_eq!(node(&org)["distance"], 2);
    assert_eq!(node(&carla)["distance"], 3);
    assert_eq!(n["decision_makers"][0]["to"], carla.as_str(), "{n}");
    assert_eq!(
        n["path"],
        serde_json::json!([
            "Ines is referred-by Bruno",
            "Ines works at Acme",
            "Carla works at Acme"
        ]),
        "{n}"
    );
    let short = json_at(
        &crm,
        "2026-01-03T10:00",
        &["contact", "network", &bruno, "--depth", "1"],
    );
    assert_eq!(short["nodes"].as_array().map(Vec::len), Some(2), "{short}");

    // Timelines: activities (with notes) and stage changes of their cases.
    add(&[
        "activity",
        "add",
        "--kind",
        "call",
        "--subject",
        "Intro",
        "--at",
        "2026-01-04T10:00",
        "--contact",
        &carla,
        "--org",
        &org,
        "--notes",
        "Wants a demo",
    ]);
    at(
        &crm,
        "2026-01-05T10:00",
        &["case", "move", &case, "--stage", "proposal"],
    );
    let c = json_at(&crm, "2026-01-06T10:00", &["contact", "show", &carla]);
    let texts: Vec<String> = c["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            format!(
                "{} {}",
                e["when"].as_str().unwrap(),
                e["text"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(
        texts,
        [
            "2026-01-05T10:00 case \"Fleet\": prospecting -> proposal",
            "2026-01-04T10:00 call: Intro (planned)",
            "2026-01-02T10:00 case \"Fleet\": prospecting",
        ],
        "{c}"
    );
    assert_eq!(c["timeline"][1]["notes"], "Wants a demo");
    let o = json_at(&crm, "2026-01-06T10:00", &["org", "show", &org]);
    assert_eq!(o["timeline"].as_array().map(Vec::len), Some(3), "{o}");
}

#[test]
fn the_agenda_shows_reminders_that_are_due() {
    let crm = init_at("ana");
    let visit = at(
        &crm,
        "2026-01-02T10:00",
        &[
            "activity",
            "add",
            "--kind",
            "visit",
            "--subject",
            "Demo",
            "--at",
            "2026-01-10T10:00",
            "--remind",
            "1d",
        ],
    )
    .trim()
    .to_string();
    let early = json_at(&crm, "2026-01-08T10:00", &["agenda"]);
    assert_eq!(early["reminders"], serde_json::json!([]), "{early}");
    let due = json_at(&crm, "2026-01-09T12:00", &["agenda"]);
    assert_eq!(due["reminders"][0]["id"], visit.as_str(), "{due}");
    let text = at(&crm, "2026-01-09T12:00", &["agenda"]);
    assert!(
        text.contains("Reminders") && text.contains("Demo"),
        "{text}"
    );
    let after = json_at(&crm, "2026-01-10T11:00", &["agenda"]);
    assert_eq!(after["reminders"], serde_json::json!([]), "{after}");
}
