//! The rules every request passes before a page sees it: the Host header names this server
//! (no DNS rebinding), the browser is signed in (the one-time token of the printed address,
//! then the session cookie), and every POST carries the CSRF token. Responses forbid framing,
//! referrers, caching and any source but this server.

use super::session::SignIn;
use super::App;
use axum::body::{to_bytes, Body};
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::sync::Arc;

/// The largest form body read (a record's form is a few kB).
const MAX_FORM: usize = 1 << 20;

/// The middleware: refuses what breaks a rule, passes the rest to the routes.
pub async fn guard(State(app): State<Arc<App>>, req: Request, next: Next) -> Response {
    let mut response = match check(&app, req).await {
        Ok(req) => next.run(req).await,
        Err(refusal) => refusal,
    };
    let headers = response.headers_mut();
    for (name, value) in [
        (
            header::CONTENT_SECURITY_POLICY,
            "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; frame-ancestors 'none'; form-action 'self'",
        ),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::REFERRER_POLICY, "no-referrer"),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::CACHE_CONTROL, "no-store"),
    ] {
        headers.insert(name, HeaderValue::from_static(value));
    }
    response
}

async fn check(app: &App, req: Request) -> Result<Request, Response> {
    let host = req
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("");
    if host != format!("127.0.0.1:{}", app.port) && host != format!("localhost:{}", app.port) {
        return Err(refuse(
            StatusCode::FORBIDDEN,
            &format!(
                "This server answers only at http://127.0.0.1:{}/ (the request named host `{host}`).",
                app.port
            ),
        ));
    }
    if let Some(token) = query_value(req.uri().query(), "token") {
        return Err(match app.session.sign_in(&token) {
            SignIn::Accepted => {
                let mut r =
                    (StatusCode::SEE_OTHER, [(header::LOCATION, req.uri().path().to_string())])
                        .into_response();
                if let Ok(v) = HeaderValue::from_str(&app.session.set_cookie()) {
                    r.headers_mut().insert(header::SET_COOKIE, v);
                }
                r
            }
            SignIn::Used => refuse(
                StatusCode::FORBIDDEN,
                "This sign-in address was used already (it works once). Restart `crm ui` for a new one.",
            ),
            SignIn::Wrong => refuse(
                StatusCode::FORBIDDEN,
                "This sign-in address is not the one `crm ui` printed: copy it again from the terminal.",
            ),
        });
    }
    let signed_in = req
        .headers()
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| app.session.has_cookie(v));
    if !signed_in {
        return Err(refuse(
            StatusCode::UNAUTHORIZED,
            "Not signed in: open the address `crm ui` printed in the terminal (it holds a one-time token).",
        ));
    }
    if req.method() != Method::POST {
        return Ok(req);
    }
    let by_header = req
        .headers()
        .get("x-csrf-token")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| app.session.csrf_ok(t));
    if by_header {
        return Ok(req);
    }
    // A plain form: the token is its `_csrf` field. The body is read and put back.
    let (parts, body) = req.into_parts();
    let bytes = to_bytes(body, MAX_FORM)
        .await
        .map_err(|_| refuse(StatusCode::PAYLOAD_TOO_LARGE, "This form is too large."))?;
    let fields: Vec<(String, String)> = serde_urlencoded::from_bytes(&bytes).unwrap_or_default();
    let by_field = fields
        .iter()
        .any(|(k, v)| k == "_csrf" && app.session.csrf_ok(v));
    if !by_field {
        return Err(refuse(
            StatusCode::FORBIDDEN,
            "This form has no valid CSRF token: reload the page and send it again.",
        ));
    }
    Ok(Request::from_parts(parts, Body::from(bytes)))
}

/// The value of `name` in a query string.
fn query_value(query: Option<&str>, name: &str) -> Option<String> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(query?).ok()?;
    pairs.into_iter().find(|(k, _)| k == name).map(|(_, v)| v)
}

/// A refusal: its status and one line saying what to do, as a small page.
fn refuse(status: StatusCode, message: &str) -> Response {
    let page = maud::html! {
        (maud::DOCTYPE)
        html lang="en" { head { meta charset="utf-8"; title { "CRM" } } body { p { (message) } } }
    };
    (status, axum::response::Html(page.into_string())).into_response()
}
