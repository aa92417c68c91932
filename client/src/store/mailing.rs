//! Schedules and send logs in the store (`schema::mailing`): read from their documents (the
//! read model holds nothing of them), each change one write transaction.

use super::{author_now, documents, read_model, Store};
use crate::error::StoreError;
use crm_shared::schema::{self, MailingEdit, Schedule, SendLog};
use crm_shared::{DocumentId, RecordKind};
use rusqlite::TransactionBehavior;

impl Store {
    /// Every schedule of the workspace, removed ones included, by name.
    pub fn schedules(&self) -> Result<Vec<Schedule>, StoreError> {
        let mut out = Vec::new();
        for (n, id) in documents::of_kind(&self.conn, RecordKind::Schedule)? {
            let mut doc = documents::load(&self.conn, n, id)?;
            out.push(schema::read_schedule(id, doc.document()));
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    /// The schedule named `name`, removed or not.
    pub fn schedule(&self, name: &str) -> Result<Option<Schedule>, StoreError> {
        let id = schema::schedule_id(name);
        match documents::number(&self.conn, id)? {
            Some(n) => {
                let mut doc = documents::load(&self.conn, n, id)?;
                Ok(Some(schema::read_schedule(id, doc.document())))
            }
            None => Ok(None),
        }
    }

    /// The send log of `topic` (empty when nothing was sent under it here).
    pub fn send_log(&self, topic: &str) -> Result<SendLog, StoreError> {
        let id = schema::send_log_id(topic);
        match documents::number(&self.conn, id)? {
            Some(n) => {
                let mut doc = documents::load(&self.conn, n, id)?;
                Ok(schema::read_send_log(doc.document()))
            }
            None => Ok(SendLog {
                topic: topic.to_string(),
                ..SendLog::default()
            }),
        }
    }

    /// Applies `edits` to the schedule or send log `id` of `kind`, creating it when this
    /// replica has none, in one write transaction.
    pub fn edit_mailing(
        &mut self,
        kind: RecordKind,
        id: DocumentId,
        edits: &[MailingEdit],
        now_ms: i64,
    ) -> Result<(), StoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let author = author_now(&self.identity, &self.path);
        match documents::number(&tx, id)? {
            Some(n) => {
                let mut doc = documents::load(&tx, n, id)?;
                doc.set_actor(self.identity.actor());
                let heads = doc.get_heads();
                schema::edit_mailing(&mut doc, kind, edits, &author, now_ms)?;
                if doc.get_heads() != heads {
                    documents::append(&tx, n, &mut doc, &heads)?;
                    read_model::upsert(&tx, n, doc.document(), id)?;
                }
            }
            None => {
                let mut doc = schema::create_mailing(
                    kind,
                    id,
                    edits,
                    self.identity.actor(),
                    &author,
                    now_ms,
                )?;
                let n = documents::insert(&tx, id, kind, &mut doc)?;
                read_model::upsert(&tx, n, doc.document(), id)?;
            }
        }
        tx.commit()?;
        Ok(())
    }
}
