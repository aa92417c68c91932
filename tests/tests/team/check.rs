//! The end of a simulation: everyone syncs, then every record, conflict and setting is compared across the laptops that may read it, and every acknowledged change must be there.

use super::*;

impl Sim {
    /// The end: the server runs, tokens are valid, watchers deliver live; then everyone syncs
    /// until a round changes nothing, and the checks run.
    pub(crate) fn finish(&mut self) {
        self.note("the end: everyone comes back".into());
        if !self.up {
            self.server_up();
        }
        for d in 0..self.devices.len() {
            if !self.token_valid(d) {
                self.new_token(d);
            } else if self.devices[d].pending_server.is_some() || self.devices[d].pending_token {
                self.sync(d);
            }
        }
        self.mind_watchers();
        for w in WATCHERS {
            self.probe(w);
        }
        self.mind_watchers();
        for w in WATCHERS {
            self.devices[w].laptop.stop_watch();
        }
        let mut quiet = false;
        for round in 1..=8 {
            let mut changed = 0;
            for d in 0..self.devices.len() {
                if let Some(r) = self.sync(d) {
                    changed +=
                        r["created"].as_u64().unwrap_or(0) + r["updated"].as_u64().unwrap_or(0);
                }
            }
            self.note(format!(
                "final sync round {round}: {changed} records changed"
            ));
            // From here on every laptop has synced since any restore: nothing may be refused.
            self.restored = false;
            if changed == 0 {
                quiet = true;
                break;
            }
        }
        if !quiet {
            self.finding("8 rounds of `crm sync` on every laptop still changed records".into());
        }
        self.check();
    }

    pub(crate) fn check(&mut self) {
        // What every laptop holds: each record's `show --json`, its conflicts and the settings.
        let mut held: Vec<BTreeMap<String, Value>> = Vec::new();
        let mut conflicts: Vec<Vec<Value>> = Vec::new();
        let mut settings: Vec<Value> = Vec::new();
        for d in 0..self.devices.len() {
            let mut records = BTreeMap::new();
            for kind in KINDS {
                for id in self.ids(d, kind) {
                    if let Some(v) = self.show(d, kind, &id) {
                        records.insert(id, v);
                    } else {
                        let who = self.name(d);
                        self.finding(format!("{who}: {kind:?} {id} is listed but not shown"));
                    }
                }
            }
            held.push(records);
            let crm = &self.devices[d].laptop.crm;
            conflicts.push(
                crm.json(&["conflicts"])
                    .as_array()
                    .cloned()
                    .unwrap_or_default(),
            );
            settings.push(crm.json(&["settings", "show"]));
        }
        let reference = held[MANAGER].clone();
        let book_of = |id: &str| -> Option<String> {
            reference
                .get(id)
                .and_then(|v| v["book"].as_str().map(str::to_string))
        };

        // (1) Each user holds every record of the books they may read, as the manager sees it.
        for (d, records) in held.iter().enumerate().skip(1) {
            let m = *self.member(d);
            let mut missing = Vec::new();
            let mut differ = Vec::new();
            for (id, mine) in &reference {
                if !book_of(id).is_some_and(|b| m.reads(&b)) {
                    continue;
                }
                match records.get(id) {
                    None => missing.push(id.clone()),
                    Some(theirs) if strip(theirs) != strip(mine) => differ.push(format!(
                        "{id}: max {} vs {} {}",
                        strip(mine),
                        m.name,
                        strip(theirs)
                    )),
                    Some(_) => {}
                }
            }
            if !missing.is_empty() {
                self.finding(format!(
                    "{}: lacks {} records of their books that the manager holds: {missing:?}",
                    m.name,
                    missing.len()
                ));
            }
            if !differ.is_empty() {
                self.finding(format!(
                    "{}: {} records differ from the manager's: {}",
                    m.name,
                    differ.len(),
                    differ
                        .iter()
                        .take(3)
                        .cloned()
                        .collect::<Vec<_>>()
                        .join(" | ")
                ));
            }
        }
        // ... and two users who read the same books see the same everywhere, views included.
        for a in 1..self.devices.len() {
            for b in a + 1..self.devices.len() {
                if self.member(a).home != self.member(b).home {
                    continue;
                }
                let (ma, mb) = (self.member(a).name, self.member(b).name);
                // Their views may also list the copies each kept of records moved out of their
                // books (kept as last synced, so they may differ): those entries are left out.
                let shared = |id: &str| book_of(id).is_some_and(|b2| self.member(a).reads(&b2));
                let seen =
                    |d: usize, id: &String| held[d].get(id).map(|v| views_of_shared(v, &shared));
                let differ: Vec<&String> = reference
                    .keys()
                    .filter(|id| shared(id))
                    .filter(|id| seen(a, id) != seen(b, id))
                    .collect();
                if !differ.is_empty() {
                    self.finding(format!(
                        "{ma} and {mb} read the same books but show {} records differently: {differ:?}",
                        differ.len()
                    ));
                }
            }
        }

        // (2) Acknowledged changes survive.
        let mut touches: BTreeMap<(&str, &str), Vec<usize>> = BTreeMap::new();
        for (i, op) in self.ops.iter().enumerate() {
            for (field, _) in &op.fields {
                touches
                    .entry((op.record.as_str(), field))
                    .or_default()
                    .push(i);
            }
        }
        let mut problems = Vec::new();
        for (id, r) in &self.records {
            if r.moved {
                continue;
            }
            let survives = self.ops.iter().any(|op| op.record == *id && !op.lost);
            if survives && !reference.contains_key(id) {
                problems.push(format!("{:?} {id} (book {}) is gone", r.kind, r.book));
            }
        }
        for ((record, field), ops) in &touches {
            let [only] = ops.as_slice() else {
                continue;
            };
            let op = &self.ops[*only];
            if op.lost || self.records.get(*record).is_some_and(|r| r.moved) {
                continue;
            }
            let expected = &op
                .fields
                .iter()
                .find(|(f, _)| f == field)
                .expect("the field")
                .1;
            if *record == "settings" {
                for (d, s) in settings.iter().enumerate() {
                    if s["probabilities"]["proposal"] != *expected {
                        problems.push(format!(
                            "{}: settings proposal {} instead of {expected} (set at step {})",
                            self.name(d),
                            s["probabilities"]["proposal"],
                            op.step
                        ));
                    }
                }
                continue;
            }
            for (d, records) in held.iter().enumerate() {
                let Some(v) = records.get(*record) else {
                    continue;
                };
                let ok = if *field == "deleted_at" {
                    v["deleted_at"].is_null() != (*expected == Value::Bool(true))
                } else {
                    v[*field] == *expected
                };
                if !ok {
                    problems.push(format!(
                        "{}: {record}.{field} is {} instead of {expected} (set once, at step {})",
                        self.name(d),
                        v[*field],
                        op.step
                    ));
                }
            }
        }
        for p in problems {
            self.finding(format!("an acknowledged change is missing: {p}"));
        }

        // (3) No record of a book a user may never read reached them.
        for (d, records) in held.iter().enumerate() {
            let m = *self.member(d);
            let strays: Vec<&String> = records
                .keys()
                .filter(|id| match self.records.get(*id) {
                    Some(r) => !r.books_ever.iter().any(|b| m.reads(b)),
                    None => true,
                })
                .collect();
            if !strays.is_empty() {
                self.finding(format!(
                    "{}: holds {} records of books they may not read: {strays:?}",
                    m.name,
                    strays.len()
                ));
            }
        }

        // (4) The same conflicts for every record a user may see; the same settings everywhere.
        let visible = |list: &[Value], m: &Member| -> Vec<String> {
            let mut v: Vec<String> = list
                .iter()
                .filter(|c| {
                    c["id"]
                        .as_str()
                        .and_then(book_of)
                        .is_some_and(|b| m.reads(&b))
                })
                .map(Value::to_string)
                .collect();
            v.sort();
            v
        };
        for d in 1..self.devices.len() {
            let m = *self.member(d);
            let (mine, theirs) = (visible(&conflicts[MANAGER], &m), visible(&conflicts[d], &m));
            if mine != theirs {
                self.finding(format!(
                    "{}: crm conflicts differs from the manager's on their books: max {mine:?} vs {theirs:?}",
                    m.name
                ));
            }
            if settings[d] != settings[MANAGER] {
                self.finding(format!(
                    "{}: the workspace settings differ from the manager's: proposal {} vs {}",
                    m.name,
                    settings[d]["probabilities"]["proposal"],
                    settings[MANAGER]["probabilities"]["proposal"]
                ));
            }
        }
        self.note(format!(
            "checked {} records, {} changes ({} lost with a replaced laptop), {} conflicts on the manager's laptop",
            reference.len(),
            self.ops.len(),
            self.ops.iter().filter(|o| o.lost).count(),
            conflicts[MANAGER].len()
        ));
    }
}

/// A record's `show --json` without the views of other records.
/// A record's `show --json` with the entries of its views of other records (`VIEWS_OF_OTHERS`)
/// that name a record not `shared` left out.
pub(crate) fn views_of_shared(v: &Value, shared: &dyn Fn(&str) -> bool) -> Value {
    let mut v = v.clone();
    if let Some(o) = v.as_object_mut() {
        for k in VIEWS_OF_OTHERS {
            if let Some(Value::Array(entries)) = o.get_mut(k) {
                entries.retain(|e| e["id"].as_str().is_none_or(shared));
            }
        }
    }
    v
}

pub(crate) fn strip(v: &Value) -> Value {
    let mut v = v.clone();
    if let Some(o) = v.as_object_mut() {
        for k in VIEWS_OF_OTHERS {
            o.remove(k);
        }
    }
    v
}
