//! The addresses the UI answers, behind the [`super::guard`] rules, and how a failed request
//! is shown.

use super::{assets, guard, live, pages, App};
use crate::StoreError;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use std::sync::Arc;

pub fn router(app: Arc<App>) -> Router {
    Router::new()
        .route("/", get(pages::today::page))
        .route("/agenda", get(pages::calendar::page))
        .route("/settings", get(pages::settings::page))
        .route("/settings/probability", post(pages::settings::probability))
        .route("/settings/grades", post(pages::settings::grades))
        .route("/settings/step", post(pages::settings::step))
        .route("/settings/currency", post(pages::settings::currency))
        .route("/settings/rate", post(pages::settings::rate))
        .route("/contacts", get(pages::records::contacts))
        .route("/contacts/{id}", get(pages::records::contact))
        .route("/orgs", get(pages::records::orgs))
        .route("/orgs/{id}", get(pages::records::org))
        .route("/cases", get(pages::cases::board))
        .route("/cases/{id}", get(pages::cases::case))
        .route("/cases/{id}/move", post(pages::cases::move_case))
        .route(
            "/new/{kind}",
            get(pages::edit::new_form).post(pages::edit::create),
        )
        .route(
            "/edit/{kind}/{id}",
            get(pages::edit::form).post(pages::edit::save),
        )
        .route("/stale/{id}", get(pages::edit::stale))
        .route("/resolve/{id}", post(pages::records::resolve))
        .route("/sync", get(pages::sync_status::page))
        .route("/reports", get(pages::reports::page))
        .route("/events", get(live::events))
        .route("/assets/{name}", get(assets::asset))
        .fallback(not_found)
        .layer(axum::middleware::from_fn_with_state(
            Arc::clone(&app),
            guard::guard,
        ))
        .with_state(app)
}

async fn not_found() -> Response {
    UiError(anyhow::anyhow!("There is no such page here."))
        .into_response_with(StatusCode::NOT_FOUND)
}

/// A request that failed: its one-line message as a small page (404 for a record not here).
pub struct UiError(pub anyhow::Error);

impl<E: Into<anyhow::Error>> From<E> for UiError {
    fn from(e: E) -> UiError {
        UiError(e.into())
    }
}

impl UiError {
    fn into_response_with(self, status: StatusCode) -> Response {
        let message: Vec<String> = self.0.chain().map(ToString::to_string).collect();
        let page = maud::html! {
            (maud::DOCTYPE)
            html lang="en" {
                head { meta charset="utf-8"; title { "CRM" } link rel="stylesheet" href="/assets/style.css"; }
                body { main { div.banner.error role="alert" { (message.join(": ")) } p { a href="/" { "Back to today" } } } }
            }
        };
        (status, Html(page.into_string())).into_response()
    }
}

impl IntoResponse for UiError {
    fn into_response(self) -> Response {
        let status = match self.0.downcast_ref::<StoreError>() {
            Some(
                StoreError::NoSuch(..)
                | StoreError::NotFound(_)
                | StoreError::BadId(..)
                | StoreError::WrongKind { .. },
            ) => StatusCode::NOT_FOUND,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        };
        self.into_response_with(status)
    }
}
