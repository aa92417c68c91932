//! Live probes: an edit made on one laptop must reach the laptops in `--watch` by itself.

use super::*;

impl Sim {
    /// A watcher's laptop adds a contact, which must reach the manager with no one-shot sync on
    /// that laptop; and a manager's edit to a record of that book must reach the watcher.
    pub(crate) fn live_probe(&mut self) {
        let w = *WATCHERS.choose(&mut self.rng).expect("a watcher");
        self.probe(w);
    }

    pub(crate) fn probe(&mut self, w: usize) {
        let ready = |s: &Sim, d: usize| s.up && s.token_valid(d) && !s.devices[d].pending_token;
        if self.live_broken
            || !ready(self, w)
            || !ready(self, MANAGER)
            || !self.devices[w].laptop.has_watch()
            || self.devices[MANAGER].pending_server.is_some()
        {
            return;
        }
        let who = self.name(w);
        let name = self.value("name", w);
        let Some(out) = self.crm(w, &["contact", "add", "--name", &name]) else {
            return;
        };
        let id = out.trim().to_string();
        let book = self.member(w).home;
        self.note(format!(
            "{who}: crm contact add --name {name:?} -> {id} (while watching)"
        ));
        self.records.insert(
            id.clone(),
            Record {
                kind: Kind::Contact,
                book,
                books_ever: BTreeSet::from([book]),
                moved: false,
            },
        );
        self.record_op(w, &id, vec![("name", Value::from(name))]);
        let manager = &self.devices[MANAGER].laptop.crm;
        let arrived = wait_for(LIVE, || {
            let _ = manager.run(&["sync"]);
            manager.run(&["contact", "show", &id]).status.success()
        });
        if !arrived {
            self.live_broken = true;
            self.finding(format!(
                "{who}: a contact added while `crm sync --watch` ran ({id}) did not reach the \
                 manager within {LIVE:?} (the manager synced meanwhile; {who} ran no one-shot sync)"
            ));
            return;
        }
        self.note(format!("max: received {id} live"));
        // The other way: the manager edits a record of the watcher's book that both hold.
        let managers: BTreeSet<String> = self.ids(MANAGER, Kind::Contact).into_iter().collect();
        let theirs: Vec<String> = self
            .ids(w, Kind::Contact)
            .into_iter()
            .filter(|id| managers.contains(id))
            .filter(|id| self.records.get(id).is_some_and(|r| r.book == book))
            .collect();
        let Some(target) = theirs.choose(&mut self.rng).cloned() else {
            return;
        };
        let title = self.value("title", MANAGER);
        if self
            .crm(MANAGER, &["contact", "edit", &target, "--title", &title])
            .is_none()
        {
            return;
        }
        self.record_op(
            MANAGER,
            &target,
            vec![("title", Value::from(title.clone()))],
        );
        self.note(format!("max: crm contact edit {target} --title {title:?}"));
        if self.sync(MANAGER).is_none() {
            return;
        }
        let crm = &self.devices[w].laptop.crm;
        let arrived = wait_for(LIVE, || {
            let out = crm.run(&["--json", "contact", "show", &target]);
            serde_json::from_slice::<Value>(&out.stdout).is_ok_and(|v| v["title"] == title.as_str())
        });
        if !arrived {
            self.live_broken = true;
            self.finding(format!(
                "{who}: the manager's synced edit of {target} did not reach `crm sync --watch` \
                 within {LIVE:?}"
            ));
        } else {
            self.note(format!("{who}: received the edit of {target} live"));
        }
    }
}
