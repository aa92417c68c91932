//! The team's everyday work in the simulation: records added, edited (also concurrently), removed and restored, moved between books, settings changed (and a rep's refused attempt), handovers.

use super::*;

impl Sim {
    pub(crate) fn add(&mut self) {
        let d = self.writer();
        let kind = *KINDS.choose(&mut self.rng).expect("a kind");
        let book = self.member(d).home;
        let first = kind.fields()[0];
        let name = self.value(first, d);
        let mut fields: Vec<(&'static str, Value)> = vec![(first, Value::from(name.clone()))];
        let mut args: Vec<String> = vec![kind.cmd().into(), "add".into(), format!("--{first}")];
        args.push(name);
        let extra = kind.fields()[self.rng.random_range(1..kind.fields().len())];
        let v = self.value(extra, d);
        args.extend([format!("--{extra}"), v.clone()]);
        fields.push((extra, Value::from(v)));
        match kind {
            Kind::Case => {
                let amount = self.rng.random_range(1..100_000u32);
                args.extend(["--amount".into(), amount.to_string()]);
                args.extend(["--currency".into(), "EUR".into()]);
                fields.push(("amount", Value::from(u64::from(amount) * 100)));
                if let Some(org) = self.held_record(d, Kind::Org, book) {
                    args.extend(["--org".into(), org]);
                }
            }
            Kind::Activity => {
                let day = self.rng.random_range(1..29u32);
                args.extend(["--kind".into(), "task".into()]);
                args.extend(["--due".into(), format!("2026-07-{day:02}")]);
                if let Some(case) = self.held_record(d, Kind::Case, book) {
                    args.extend(["--case".into(), case]);
                }
            }
            _ => {}
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let who = self.name(d);
        let Some(out) = self.crm(d, &args) else {
            return;
        };
        let id = out.trim().to_string();
        self.note(format!("{who}: crm {args:?} -> {id}"));
        self.records.insert(
            id.clone(),
            Record {
                kind,
                book,
                books_ever: BTreeSet::from([book]),
                moved: false,
            },
        );
        self.record_op(d, &id, fields);
    }

    /// A record of `kind` that laptop `d` holds and that is (as far as the test knows) in `book`.
    pub(crate) fn held_record(&mut self, d: usize, kind: Kind, book: &str) -> Option<String> {
        let ids: Vec<String> = self
            .ids(d, kind)
            .into_iter()
            .filter(|id| self.records.get(id).is_some_and(|r| r.book == book))
            .collect();
        ids.choose(&mut self.rng).cloned()
    }

    /// A record laptop `d` holds and its user may write (as far as the test knows).
    pub(crate) fn writable_record(&mut self, d: usize) -> Option<(Kind, String)> {
        let kind = *KINDS.choose(&mut self.rng).expect("a kind");
        let m = self.member(d);
        let ids: Vec<String> = self
            .ids(d, kind)
            .into_iter()
            .filter(|id| self.records.get(id).is_some_and(|r| m.writes(r.book)))
            .collect();
        ids.choose(&mut self.rng).map(|id| (kind, id.clone()))
    }

    /// Sets `field` of record `id` on laptop `d`: notes are typed on (appended to what the laptop
    /// shows), other fields replaced.
    pub(crate) fn set_field(&mut self, d: usize, kind: Kind, id: &str, field: &'static str) {
        let mut value = self.value(field, d);
        if field == "notes" {
            let before = self
                .show(d, kind, id)
                .and_then(|v| v["notes"].as_str().map(str::to_string))
                .unwrap_or_default();
            value = format!("{before} {value}").trim().to_string();
        }
        let who = self.name(d);
        let args = [kind.cmd(), "edit", id, &format!("--{field}"), &value];
        if self.crm(d, &args).is_some() {
            self.note(format!("{who}: crm {kind:?} edit {id} --{field} {value:?}"));
            self.record_op(d, id, vec![(field, Value::from(value))]);
        }
    }

    pub(crate) fn edit(&mut self) {
        let d = self.writer();
        let Some((kind, id)) = self.writable_record(d) else {
            return;
        };
        let field = *kind.fields().choose(&mut self.rng).expect("a field");
        self.set_field(d, kind, &id, field);
    }

    /// Two laptops edit one record before either syncs: the same field (or, with `notes`, both
    /// type into its notes), or two different fields.
    pub(crate) fn concurrent_edit(&mut self, notes: bool) {
        let d1 = self.writer();
        let Some((kind, id)) = self.writable_record(d1) else {
            return;
        };
        let book = self.records[&id].book;
        let others: Vec<usize> = (0..self.devices.len())
            .filter(|&d| d != d1 && self.member(d).writes(book))
            .filter(|&d| self.show(d, kind, &id).is_some())
            .collect();
        let Some(&d2) = others.choose(&mut self.rng) else {
            return;
        };
        let (f1, f2) = if notes {
            ("notes", "notes")
        } else {
            let f1 = *kind.fields().choose(&mut self.rng).expect("a field");
            let f2 = if self.rng.random_bool(0.6) {
                f1
            } else {
                *kind.fields().choose(&mut self.rng).expect("a field")
            };
            (f1, f2)
        };
        self.note(format!(
            "{} and {} edit {id} at once",
            self.name(d1),
            self.name(d2)
        ));
        self.set_field(d1, kind, &id, f1);
        self.set_field(d2, kind, &id, f2);
    }

    pub(crate) fn remove_or_restore(&mut self) {
        let d = self.writer();
        let Some((kind, id)) = self.writable_record(d) else {
            return;
        };
        let Some(shown) = self.show(d, kind, &id) else {
            return;
        };
        let removed = !shown["deleted_at"].is_null();
        let who = self.name(d);
        let args: Vec<&str> = if removed {
            vec![kind.cmd(), "rm", &id, "--restore"]
        } else {
            vec![kind.cmd(), "rm", &id]
        };
        if self.crm(d, &args).is_some() {
            self.note(format!("{who}: crm {args:?}"));
            self.record_op(d, &id, vec![("deleted_at", Value::Bool(!removed))]);
        }
    }

    pub(crate) fn manager_moves(&mut self) {
        let kind = *KINDS.choose(&mut self.rng).expect("a kind");
        let ids = self.ids(MANAGER, kind);
        let Some(id) = ids.choose(&mut self.rng).cloned() else {
            return;
        };
        let Some(shown) = self.show(MANAGER, kind, &id) else {
            return;
        };
        let to = if shown["book"] == "north" {
            "south"
        } else {
            "north"
        };
        if self.crm(MANAGER, &["move", &id, "--book", to]).is_some() {
            self.note(format!("max: crm move {id} --book {to}"));
            self.record_op(MANAGER, &id, vec![("book", Value::from(to))]);
            if let Some(r) = self.records.get_mut(&id) {
                r.book = to;
                r.books_ever.insert(to);
                r.moved = true;
            }
        }
    }

    pub(crate) fn manager_changes_settings(&mut self) {
        let p = self.rng.random_range(30..=90u32).to_string();
        if self
            .crm(MANAGER, &["settings", "probability", "proposal", &p])
            .is_some()
        {
            self.note(format!("max: crm settings probability proposal {p}"));
            self.record_op(
                MANAGER,
                "settings",
                vec![("proposal", Value::from(p.parse::<u64>().unwrap_or(0)))],
            );
        }
    }

    /// A rep tries to change the workspace settings: the laptop must refuse it (one line, non-zero
    /// exit) and keep the settings as they were.
    pub(crate) fn rep_tries_settings(&mut self) {
        let reps: Vec<usize> = (1..self.devices.len())
            .filter(|&d| self.member(d).writes_home)
            .collect();
        let d = *reps.choose(&mut self.rng).expect("a rep");
        let who = self.name(d);
        let before = self.devices[d]
            .laptop
            .crm
            .run(&["--json", "settings", "show"]);
        let p = self.rng.random_range(30..=90u32).to_string();
        let args = ["settings", "probability", "proposal", p.as_str()];
        let out = self.devices[d].laptop.crm.run(&args);
        self.note(format!("{who}: crm {args:?} (a rep)"));
        if out.status.success() {
            self.finding(format!(
                "{who} (a rep): crm settings probability proposal {p} succeeded on the laptop \
                 (must be refused there): {}",
                String::from_utf8_lossy(&out.stdout)
                    .lines()
                    .next()
                    .unwrap_or("")
            ));
            // It touched the settings on this laptop, but must not count anywhere.
            let op = self.record_op(
                d,
                "settings",
                vec![("proposal", Value::from(p.parse::<u64>().unwrap_or(0)))],
            );
            self.ops[op].lost = true;
            return;
        }
        if let Err(e) = check_failure(&out) {
            self.finding(format!("{who}: a rep's settings change failed badly: {e}"));
        }
        let after = self.devices[d]
            .laptop
            .crm
            .run(&["--json", "settings", "show"]);
        if before.stdout != after.stdout {
            self.finding(format!(
                "{who}: a refused settings change changed the laptop's settings"
            ));
        }
    }

    pub(crate) fn handover(&mut self) {
        let (from, to) = *[("ana", "bruno"), ("bruno", "ana"), ("carla", "duarte")]
            .choose(&mut self.rng)
            .expect("a pair");
        let book = TEAM.iter().find(|m| m.name == from).expect("a member").home;
        // A rep's laptop refuses to hand over another rep's work: the manager, or the absent rep
        // themself, runs it.
        let runners: Vec<usize> = (0..self.devices.len())
            .filter(|&d| {
                let m = self.member(d);
                m.writes(book) && (m.manager || m.name == from)
            })
            .collect();
        let d = *runners.choose(&mut self.rng).expect("a runner");
        let who = self.name(d);
        let Some(out) = self.crm(
            d,
            &["--json", "handover", "--from", from, "--to", to, "--cases"],
        ) else {
            return;
        };
        let out: Value = serde_json::from_str(&out).unwrap_or(Value::Null);
        let handed: Vec<String> = ["activities", "cases"]
            .iter()
            .flat_map(|k| out[k].as_array().cloned().unwrap_or_default())
            .filter_map(|v| v.as_str().map(str::to_string))
            .collect();
        self.note(format!(
            "{who}: crm handover --from {from} --to {to} --cases: {handed:?}"
        ));
        for id in handed {
            self.record_op(
                d,
                &id,
                vec![
                    ("owner", Value::from(to)),
                    ("handed_over_from", Value::from(from)),
                ],
            );
        }
    }
}
