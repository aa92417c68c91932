//! The frame of every page: navigation, the live indicator, the CSRF token for htmx, and the
//! `main` element that refreshes itself when the store changes after it was drawn (see
//! [`super::live`]).

use super::App;
use crate::store::Store;
use maud::{html, Markup, DOCTYPE};

/// The sections of the navigation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Section {
    Today,
    Agenda,
    Contacts,
    Organizations,
    Cases,
    Reports,
    Settings,
    Sync,
}

const NAV: [(Section, &str, &str); 8] = [
    (Section::Today, "/", "Today"),
    (Section::Agenda, "/agenda", "Agenda"),
    (Section::Contacts, "/contacts", "Contacts"),
    (Section::Organizations, "/orgs", "Organizations"),
    (Section::Cases, "/cases", "Pipeline"),
    (Section::Reports, "/reports", "Reports"),
    (Section::Settings, "/settings", "Settings"),
    (Section::Sync, "/sync", "Sync"),
];

/// How the page's `main` follows changes of the store.
pub enum Refresh<'a> {
    /// Re-fetched from this address (the page itself) when the store changes.
    Live(&'a str),
    /// Left alone (a form being edited); the page shows changes its own way.
    Still,
}

/// A whole page. `above` stays put when `main` refreshes (e.g. a search box being typed in).
/// `main` carries the store's change order it was drawn at (`data-seq`): the page's script
/// redraws it only for a change after that one, so a page drawn after a commit (with its
/// "Saved." banner) is not redrawn for that same commit.
pub fn page(
    app: &App,
    store: &Store,
    title: &str,
    section: Section,
    refresh: Refresh<'_>,
    above: Markup,
    main: Markup,
) -> Markup {
    let csrf = app.session.csrf();
    let user = &store.identity.user;
    // A store busy with another process's write reads as 0: the page then takes the next event.
    let seq = store.change_seq().unwrap_or(0);
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                meta name="csrf-token" content=(csrf);
                meta name="htmx-config" content=r#"{"includeIndicatorStyles":false,"allowEval":false}"#;
                title { (title) " · CRM" }
                link rel="stylesheet" href="/assets/style.css";
                script src="/assets/htmx.min.js" {}
                script src="/assets/crm.js" defer {}
            }
            body hx-headers=(format!(r#"{{"X-CSRF-Token":"{csrf}"}}"#)) {
                header {
                    nav {
                        @for (s, href, label) in NAV {
                            a href=(href) class=[(s == section).then_some("on")] { (label) }
                        }
                    }
                    span.who { (user) }
                    span #live .live { "connecting" }
                }
                (above)
                @match refresh {
                    Refresh::Live(url) => {
                        main #main data-seq=(seq) hx-get=(url) hx-trigger="crm-change from:body" hx-select="#main" hx-swap="outerHTML" { (main) }
                    }
                    Refresh::Still => { main #main data-seq=(seq) { (main) } }
                }
            }
        }
    }
}

/// A banner for a message carried in the address (`?error=` after a refused change).
pub fn banner(error: Option<&str>, ok: Option<&str>) -> Markup {
    html! {
        @if let Some(e) = error { div.banner.error role="alert" { (e) } }
        @if let Some(o) = ok { div.banner.ok role="status" { (o) } }
    }
}

/// The hidden CSRF field of a plain form.
pub fn csrf_field(app: &App) -> Markup {
    html! { input type="hidden" name="_csrf" value=(app.session.csrf()); }
}
