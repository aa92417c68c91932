//! The revocation watch: every half second, applies grants and revocations to live connections
//! (a revoked or expired token's connections are closed; changed grants take effect), and leaves
//! open mode once a user exists.

use super::Access;
use crate::close_code;
use crate::directory::{unix_now, Directory};
use crate::hub::Input;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::mpsc;

/// Every half second: applies grants and revocations to live connections (a revoked or expired
/// token's connections are closed; changed grants take effect), and leaves open mode once a
/// user exists.
pub async fn watch(
    directory: Arc<Mutex<Directory>>,
    access: Arc<Access>,
    hub: mpsc::Sender<Input>,
) {
    let mut every = tokio::time::interval(Duration::from_millis(500));
    loop {
        every.tick().await;
        let mut kicks = Vec::new();
        {
            let Ok(d) = directory.lock() else { return };
            let now = unix_now();
            if access.is_open() && d.has_users().unwrap_or(false) {
                tracing::info!("a user exists: tokens are required from now on");
                access.set_open(false);
                kicks.extend(access.anonymous_connections());
            }
            for (token, conn) in access.connections_by_token() {
                match d.principal_of_token(token, now) {
                    Ok(Some(p)) => access.refresh(conn, p),
                    Ok(None) => kicks.push(conn),
                    Err(e) => tracing::error!(cause = %e, "cannot check tokens"),
                }
            }
        }
        for conn in kicks {
            access.disconnect(conn);
            let kick = Input::Kick {
                conn,
                code: close_code::POLICY,
                reason: "token revoked or expired".into(),
            };
            if hub.send(kick).await.is_err() {
                return;
            }
        }
    }
}
