//! What a rep's laptop refuses because only a manager or an admin may do it (handing over
//! another rep's work, changing the workspace settings): the server would refuse it at every
//! sync. Judged by the grants the server last gave this data dir (`grants.json`, kept at init and
//! sync); when they are unknown (never synced, or an open server) the laptop allows it, as the
//! server then decides.

use super::credentials::kept_grants;
use super::Ctx;
use crate::store::Store;
use anyhow::Result;
use crm_shared::protocol::Role;

/// Refuses `what` (e.g. "hands over another rep's work") when this data dir's user is known to
/// be a rep; the message says who may.
pub fn require_manager(ctx: &Ctx, store: &Store, what: &str) -> Result<()> {
    let Some(grants) = kept_grants(&ctx.data_dir)? else {
        return Ok(());
    };
    if grants.open || grants.role != Some(Role::Rep) {
        return Ok(());
    }
    let user = grants.user.as_deref().unwrap_or(&store.identity.user);
    let server = store.identity.server.as_deref().unwrap_or("the server");
    let managers = known_managers(store)?;
    let ask = if managers.is_empty() {
        "ask a manager or an admin".to_string()
    } else {
        format!("ask {}", managers.join(" or "))
    };
    anyhow::bail!(
        "only a manager or an admin {what}, and {user} is a rep on {server}: {ask}; nothing was changed"
    )
}

/// The managers and admins the workspace knows by their user records (`crm init` with a server
/// writes the role into the user's own record).
fn known_managers(store: &Store) -> Result<Vec<String>> {
    let mut stmt = store.conn().prepare(
        "SELECT DISTINCT login FROM rm_users WHERE role IN ('manager', 'admin') AND deleted = 0 ORDER BY login",
    )?;
    let rows = stmt.query_map([], |r| r.get::<_, String>(0))?;
    Ok(rows.collect::<Result<_, _>>()?)
}
