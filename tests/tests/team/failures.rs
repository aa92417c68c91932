//! What goes wrong in the simulation: the server killed and restarted, backups and restores, tokens revoked and issued again, laptops replaced.

use super::*;

impl Sim {
    pub(crate) fn server_down(&mut self) {
        self.server.kill9();
        self.up = false;
        self.note("server: kill -9".into());
    }

    /// Starts the server on its data dir, on the same port if it can; else on a new one, and every
    /// laptop is told the new address (`crm sync --server URL`).
    pub(crate) fn server_up(&mut self) {
        match self.server.restart_on_same_port() {
            Ok(()) => self.note("server: restarted on the same port".into()),
            Err(e) => {
                self.url = self.server.restart();
                self.note(format!(
                    "server: restarted on {} (same port: {e})",
                    self.url
                ));
                for d in 0..self.devices.len() {
                    self.devices[d].laptop.stop_watch();
                    self.devices[d].pending_server = Some(self.url.clone());
                }
            }
        }
        self.up = true;
        for d in 0..self.devices.len() {
            if self.devices[d].pending_server.is_some() {
                self.sync(d);
            }
        }
    }

    pub(crate) fn backup(&mut self) {
        let file = self
            .scratch
            .path()
            .join(format!("backup-{}.sqlite3", self.step));
        let to = file.to_string_lossy().into_owned();
        self.server.admin(&["backup", "--to", &to]);
        let acked = (0..self.ops.len()).filter(|&i| self.ops[i].acked).collect();
        self.backups.push(Backup {
            file,
            acked,
            valid_tokens: self.valid_tokens.clone(),
        });
        self.note(format!("server: backup --to {to} (while serving)"));
    }

    /// The server is stopped and restored from an earlier backup, then started; IT issues new
    /// tokens to those whose token the backup does not know.
    pub(crate) fn restore(&mut self) {
        if self.backups.is_empty() {
            return;
        }
        let b = self.rng.random_range(0..self.backups.len());
        self.server.kill9();
        self.up = false;
        let from = self.backups[b].file.to_string_lossy().into_owned();
        self.server.admin(&["restore", "--from", &from]);
        self.note(format!("server: kill -9, restore --from {from}"));
        for (i, op) in self.ops.iter_mut().enumerate() {
            op.acked &= self.backups[b].acked.contains(&i);
        }
        self.restored = true;
        self.valid_tokens = self.backups[b].valid_tokens.clone();
        self.server_up();
        for d in 0..self.devices.len() {
            if !self.token_valid(d) {
                self.new_token(d);
            }
        }
    }

    pub(crate) fn revoke(&mut self) {
        let d = self.rng.random_range(0..self.devices.len());
        let user = self.name(d);
        self.server.admin(&["token", "revoke", "--user", user]);
        for (u, t) in &self.issued {
            if *u == user {
                self.valid_tokens.remove(t);
            }
        }
        self.devices[d].watch_may_die = true;
        self.note(format!("server: token revoke --user {user}"));
    }

    pub(crate) fn reissue(&mut self) {
        let revoked: Vec<usize> = (0..self.devices.len())
            .filter(|&d| !self.token_valid(d))
            .collect();
        if let Some(&d) = revoked.choose(&mut self.rng) {
            self.new_token(d);
        }
    }

    /// IT issues a new token for laptop `d`'s user, who runs `crm sync --token NEW`.
    pub(crate) fn new_token(&mut self, d: usize) {
        let user = self.name(d);
        let token = self.issue(user);
        self.devices[d].token = token;
        self.devices[d].pending_token = true;
        // The rep stops the watcher that holds the old token and starts it again once the new
        // one took (see `mind_watchers`).
        self.devices[d].laptop.stop_watch();
        self.note(format!(
            "server: token issue {user}; {user}: crm sync --token NEW"
        ));
        self.sync(d);
    }

    /// A laptop is lost: what it had not synced (that the server does not hold) may be gone. A new
    /// one is set up with `crm init ... --server URL --token T`.
    pub(crate) fn replace_laptop(&mut self) {
        let d = self.rng.random_range(0..self.devices.len());
        if !self.token_valid(d) {
            self.new_token(d);
        }
        let old = self.devices[d].id;
        let mut lost = 0;
        for op in self.ops.iter_mut().filter(|op| op.device == old) {
            if !op.acked {
                op.lost = true;
                lost += 1;
            }
        }
        let member = *self.member(d);
        self.devices[d].laptop.stop_watch();
        let crm = match team::init(&member, &self.url, &self.devices[d].token) {
            Ok(crm) => crm,
            Err(e) => panic!("{}: crm init on a new laptop failed: {e}", member.name),
        };
        let id = self.new_device_id();
        let dev = &mut self.devices[d];
        dev.laptop = Laptop::new(crm);
        dev.id = id;
        dev.pending_server = None;
        dev.pending_token = false;
        dev.watch_may_die = false;
        self.note(format!(
            "{}: laptop replaced (crm init on a new data dir; {lost} changes not acknowledged)",
            member.name
        ));
    }
}
