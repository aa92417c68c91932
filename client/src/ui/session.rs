//! The browser's session: a one-time sign-in token (in the address `crm ui` prints) that is
//! exchanged for an HttpOnly, SameSite=Strict cookie, and the CSRF token every POST carries.

use rand::RngCore;
use std::sync::atomic::{AtomicBool, Ordering};

/// The secrets of one `crm ui` process; all random, all gone when it stops.
pub struct Session {
    login: String,
    login_used: AtomicBool,
    cookie_value: String,
    csrf: String,
    port: u16,
}

/// How a sign-in attempt went.
#[derive(Debug, PartialEq, Eq)]
pub enum SignIn {
    /// The token was right and unused: set the cookie.
    Accepted,
    /// The token was right but already used.
    Used,
    Wrong,
}

impl Session {
    pub fn new(port: u16) -> Session {
        Session {
            login: random_token(),
            login_used: AtomicBool::new(false),
            cookie_value: random_token(),
            csrf: random_token(),
            port,
        }
    }

    /// The token of the address to open (works once).
    pub fn login_token(&self) -> &str {
        &self.login
    }

    /// Tries the token of a sign-in address; the first right one is the only accepted one.
    pub fn sign_in(&self, token: &str) -> SignIn {
        if !same(token, &self.login) {
            return SignIn::Wrong;
        }
        if self.login_used.swap(true, Ordering::SeqCst) {
            SignIn::Used
        } else {
            SignIn::Accepted
        }
    }

    /// The cookie's name: per port, since browsers share cookies between ports of one host.
    pub fn cookie_name(&self) -> String {
        format!("crm_session_{}", self.port)
    }

    /// The `Set-Cookie` header value that signs a browser in.
    pub fn set_cookie(&self) -> String {
        format!(
            "{}={}; HttpOnly; SameSite=Strict; Path=/",
            self.cookie_name(),
            self.cookie_value
        )
    }

    /// Whether a `Cookie` header carries this session.
    pub fn has_cookie(&self, header: &str) -> bool {
        let name = self.cookie_name();
        header.split(';').any(|pair| {
            pair.trim()
                .split_once('=')
                .is_some_and(|(k, v)| k == name && same(v, &self.cookie_value))
        })
    }

    /// The CSRF token pages put in their forms and in htmx's request headers.
    pub fn csrf(&self) -> &str {
        &self.csrf
    }

    pub fn csrf_ok(&self, token: &str) -> bool {
        same(token, &self.csrf)
    }
}

/// 32 random bytes as hex.
fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    crate::store::hex_encode(&bytes)
}

/// Compares secrets in time independent of where they differ.
fn same(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sign_in_token_works_once_and_a_wrong_one_never() {
        let s = Session::new(8080);
        assert_eq!(s.sign_in("nope"), SignIn::Wrong);
        let token = s.login_token().to_string();
        assert_eq!(s.sign_in(&token), SignIn::Accepted);
        assert_eq!(s.sign_in(&token), SignIn::Used);
    }

    #[test]
    fn the_cookie_is_recognised_among_others_and_only_with_its_value() {
        let s = Session::new(8080);
        let set = s.set_cookie();
        let pair = set.split(';').next().unwrap_or_default();
        assert!(s.has_cookie(&format!("other=1; {pair}")));
        assert!(!s.has_cookie("crm_session_8080=forged"));
        assert!(!s.has_cookie(&pair.replace("8080", "8081")));
    }
}
