//! supervisor-web: the web UI of supervisor-rs as pure code — request parts and process
//! snapshots in, HTML/JSON/asset bytes out. No sockets, no files, no clock: the HTTP layer
//! (`supervisord::http`) reads the request, asks the event loop for data or actions, and
//! writes what this crate renders. See `docs/web-ui.md` ("Wiring") for the exact steps.
//!
//! What it is for:
//! * [`handle`]: the whole UI in one async call — a [`Request`] in, a [`WebResponse`] out,
//!   XML-RPC calls made through a closure the daemon provides. Built from the pieces below,
//!   which can also be used one by one.
//! * [`route()`]: classify a request for a web UI path into a [`WebRequest`] (status page,
//!   tail page, action, JSON snapshot, embedded asset, ...), verifying the anti-CSRF token of
//!   POSTed actions. A GET never changes anything.
//! * [`render_status_page`], [`render_tail_page`], [`render_status_json`], [`error_page`]:
//!   the documents, every dynamic string escaped.
//! * [`Action::calls`] and [`action_message`]: the XML-RPC calls behind an action and the
//!   reference's message once they ran; [`redirect_location`] / [`action_json`] to answer.
//! * [`html_headers`], [`CONTENT_SECURITY_POLICY`]: the headers every page goes out with.
//!
//! What it is not for: authentication (the HTTP layer checks Basic auth before calling
//! anything here), `/logtail` streaming and the `/events` SSE stream (served by the daemon;
//! the page's script consumes them).

#![forbid(unsafe_code)]

pub mod action;
pub mod assets;
pub mod clock;
pub mod csrf;
pub mod escape;
pub mod logview;
pub mod pages;
pub mod respond;
pub mod route;
pub mod snapshot;

pub use action::{
    action_json, action_message, is_error_message, redirect_location, Action, CallResult, RpcCall,
};
pub use assets::asset;
pub use clock::LocalTime;
pub use csrf::{basic_auth_user, CsrfKey};
pub use logview::{LogPiece, Want};
pub use pages::{error_page, render_status_page, render_tail_page, TailLog};
pub use respond::{handle, WebResponse};
pub use route::{route, Channel, Reply, Request, WebRequest};
pub use snapshot::{render_status_json, ProcessRow, StatusSnapshot};

/// The version of supervisor-rs, shown in the page footer as
/// `supervisor-rs X.Y.Z (compatible with Supervisor 4.3.0)`.
pub const PRODUCT_VERSION: &str = env!("CARGO_PKG_VERSION");

/// The `Content-Security-Policy` sent with every page: scripts, styles, images and
/// connections only from the daemon itself; no inline script, no plugins, no framing.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; \
style-src 'self'; img-src 'self' data:; connect-src 'self'; object-src 'none'; \
base-uri 'none'; frame-ancestors 'none'; form-action 'self'";

/// Headers for the HTML pages (status, tail, error bodies): the reference's content type
/// and no-cache trio, plus the CSP and a few hardening headers.
pub fn html_headers() -> [(&'static str, &'static str); 8] {
    [
        ("Content-Type", "text/html;charset=utf-8"),
        ("Pragma", "no-cache"),
        ("Cache-Control", "no-cache"),
        ("Expires", "Thu, 01 Jan 1970 00:00:00 GMT"),
        ("Content-Security-Policy", CONTENT_SECURITY_POLICY),
        ("X-Content-Type-Options", "nosniff"),
        ("Referrer-Policy", "same-origin"),
        ("X-Frame-Options", "DENY"),
    ]
}

/// Headers for JSON answers (`/api/status.json`, `/api/action`).
pub fn json_headers() -> [(&'static str, &'static str); 4] {
    [
        ("Content-Type", "application/json"),
        ("Cache-Control", "no-cache"),
        ("X-Content-Type-Options", "nosniff"),
        ("Content-Security-Policy", CONTENT_SECURITY_POLICY),
    ]
}

/// Headers for an embedded asset, besides its `Content-Type` from [`WebRequest::Asset`].
pub fn asset_headers() -> [(&'static str, &'static str); 2] {
    [
        ("Cache-Control", "no-cache"),
        ("X-Content-Type-Options", "nosniff"),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csp_forbids_inline_script() {
        assert!(CONTENT_SECURITY_POLICY.contains("script-src 'self';"));
        assert!(!CONTENT_SECURITY_POLICY.contains("unsafe-inline"));
        assert!(html_headers()
            .iter()
            .any(|(k, v)| *k == "Content-Security-Policy" && *v == CONTENT_SECURITY_POLICY));
    }
}
