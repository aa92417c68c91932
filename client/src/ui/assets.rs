//! Scripts and styles, built into the binary: the UI fetches nothing from anywhere else.
//! `htmx.min.js` is htmx 2 from npm (`htmx.org`), under its licence in `assets/htmx-LICENSE`.

use axum::extract::Path;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};

const HTMX: &str = include_str!("assets/htmx.min.js");
const HTMX_LICENSE: &str = include_str!("assets/htmx-LICENSE");
const SCRIPT: &str = include_str!("assets/crm.js");
const STYLE: &str = include_str!("assets/style.css");

/// `GET /assets/NAME`.
pub async fn asset(Path(name): Path<String>) -> Response {
    let (body, kind) = match name.as_str() {
        "htmx.min.js" => (HTMX, "text/javascript; charset=utf-8"),
        "htmx-LICENSE" => (HTMX_LICENSE, "text/plain; charset=utf-8"),
        "crm.js" => (SCRIPT, "text/javascript; charset=utf-8"),
        "style.css" => (STYLE, "text/css; charset=utf-8"),
        _ => return (StatusCode::NOT_FOUND, "no such file").into_response(),
    };
    ([(header::CONTENT_TYPE, kind)], body).into_response()
}
