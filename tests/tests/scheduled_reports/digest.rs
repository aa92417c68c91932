//! The digest of overdue tasks at the time the rep chose, in the rep's time zone, once a day.

use super::*;

#[test]
fn a_digest_set_for_half_past_seven_in_tokyo_arrives_then_once_a_day_from_a_runner_in_utc() {
    let sink = SmtpSink::start();
    let crm = manager_with_pipeline(&sink);
    let now = "2026-12-05T09:00";
    ok(&crm, now, &["config", "email", "mia@example.com"]);
    ok(
        &crm,
        now,
        &[
            "activity",
            "add",
            "--kind",
            "task",
            "--subject",
            "Call Acme back",
            "--due",
            "2026-12-04",
        ],
    );
    // The rep is in Tokyo (UTC+9) when she asks for it.
    let args = ["config", "digest", "on", "--at", "07:30"];
    let out = cmd(&crm, "2026-12-05T18:00", &args)
        .env("TZ", "Asia/Tokyo")
        .output()
        .unwrap();
    let said = expect_ok(&args, out);
    assert!(said.contains("07:30 (Asia/Tokyo)"), "{said}");

    // The runner runs in UTC: 07:29 in Tokyo on the 7th is 22:29 UTC on the 6th.
    let passes = [
        ("2026-12-06T22:29", false),
        ("2026-12-06T22:30", true),
        ("2026-12-07T08:00", false),
        ("2026-12-07T22:29", false),
        ("2026-12-07T23:10", true),
    ];
    for (at, sends) in passes {
        let out = ok(&crm, at, &["agent", "--offline"]);
        assert_eq!(
            out.contains("digest of 1 overdue task(s) to mia@example.com: sent"),
            sends,
            "{at}: {out}"
        );
    }
    let subjects: Vec<String> = sink
        .messages()
        .iter()
        .map(|m| parse(m).subject().unwrap().to_string())
        .collect();
    assert_eq!(
        subjects,
        [
            "1 overdue task(s) on 2026-12-07",
            "1 overdue task(s) on 2026-12-08"
        ]
    );

    // A time that is not HH:MM is refused in one line; the digest stays as it was.
    let args = ["config", "digest", "on", "--at", "7h30"];
    let e = expect_clean_failure(&args, run(&crm, now, &args));
    assert!(e.contains("HH:MM"), "{e}");
    let out = ok(&crm, "2026-12-08T22:31", &["agent", "--offline"]);
    assert!(out.contains("digest of 1 overdue task(s)"), "{out}");
}
