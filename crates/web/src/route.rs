//! Turning an HTTP request for a web UI path into a [`WebRequest`] the HTTP layer acts on.
//!
//! Differences from the reference, on purpose: an action arriving by `GET` changes nothing
//! (the page asks for confirmation with a POST form instead), and a `POST` must carry a valid
//! anti-CSRF token (see [`crate::csrf`]).

use crate::action::Action;
use crate::assets;
use crate::clock::{ctime, LocalTime};
use crate::csrf::{self, CsrfKey};

/// The largest form body accepted (the HTTP layer should stop reading beyond it).
pub const MAX_FORM_BODY: usize = 64 * 1024;
/// The largest `limit` honoured by the tail page (bytes); larger values are clamped.
pub const MAX_TAIL_LIMIT: u64 = 4 * 1024 * 1024;
/// The smallest (and default) `limit` of the tail page, as in the reference.
pub const MIN_TAIL_LIMIT: u64 = 1024;

/// The parts of an HTTP request the web UI looks at.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    /// Method, e.g. `GET`.
    pub method: &'a str,
    /// The path, still percent-encoded, without the query (e.g. `/tail.html`).
    pub path: &'a str,
    /// The raw query string without `?` (empty if none).
    pub query: &'a str,
    /// The request body for POST (`application/x-www-form-urlencoded`), else empty.
    pub body: &'a [u8],
    /// The `X-CSRF-Token` header, if present.
    pub csrf_header: Option<&'a str>,
    /// The authenticated Basic-auth user name (empty when the server has no auth).
    pub user: &'a str,
    /// The user may only look (role `read`): pages show no actions and actions get 403.
    pub read_only: bool,
}

/// Which log of a process a tail view shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Channel {
    /// stdout (the reference's tail page shows only this one).
    Stdout,
    /// stderr.
    Stderr,
}

/// How to answer a completed action.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reply {
    /// The reference's way: `301` to `/?message=...` ([`crate::redirect_location`]).
    Redirect,
    /// JSON `{message, error}` ([`crate::action_json`]), for the page's scripts.
    Json,
}

/// What the HTTP layer should do with a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WebRequest {
    /// Render the status page ([`crate::render_status_page`]) with this message; when
    /// `confirm` is set, the page shows a POST form to confirm that action (a GET asked for it).
    StatusPage {
        /// The message area's text (`?message=`), if any.
        message: Option<String>,
        /// An action requested by GET, to be confirmed (nothing was done).
        confirm: Option<Action>,
    },
    /// Render the tail page ([`crate::render_tail_page`]) from the last `limit` bytes of the
    /// process's log (`readProcessStdoutLog(ns, -limit, 0)`, or the stderr variant).
    TailPage {
        /// The `processname` field; `None` (or empty) shows `No process name found`.
        processname: Option<String>,
        /// Bytes to show: `max(1024, limit)`, clamped to [`MAX_TAIL_LIMIT`].
        limit: u64,
        /// Which log.
        channel: Channel,
    },
    /// Carry out the action ([`Action::calls`]), then answer as `reply` says. The CSRF token
    /// has been verified.
    Action {
        /// What to do.
        action: Action,
        /// How to answer.
        reply: Reply,
    },
    /// Answer `200 application/json` with [`crate::render_status_json`].
    StatusJson,
    /// `GET /api/log.json`: a piece of a process log for the log viewer, whole lines only
    /// ([`crate::logview`]). Reads only, like every GET.
    LogJson {
        /// The `processname` field (empty: answered with an error object).
        processname: String,
        /// Which log.
        channel: Channel,
        /// Which piece.
        want: crate::logview::Want,
    },
    /// `/ok.html`: answer `200 text/plain` with body `OK`.
    Ok,
    /// An embedded static file: answer 200 with this type and body.
    Asset {
        /// The `Content-Type` value.
        content_type: &'static str,
        /// The bytes.
        body: &'static [u8],
    },
    /// A POST whose CSRF token is missing or invalid: answer `403` ([`crate::error_page`]).
    CsrfRejected,
    /// Unknown action or an action without its process name: the reference answers `500`.
    BadAction,
    /// A body larger than [`MAX_FORM_BODY`]: answer `413`.
    BodyTooLarge,
    /// A web UI path with a method other than GET/POST (or GET on a POST-only path):
    /// answer `405` with `Allow: GET, POST` (or `POST`).
    MethodNotAllowed {
        /// The `Allow` header value.
        allow: &'static str,
    },
    /// Not a web UI path: the HTTP layer answers 404.
    NotFound,
}

/// The form fields of a request: query first, then (for POST) the body; later values win,
/// as in the reference (which keeps the first of duplicates within each part).
struct Form {
    fields: Vec<(String, String)>,
}

impl Form {
    fn parse(query: &str, body: &[u8]) -> Form {
        let mut fields: Vec<(String, String)> = Vec::new();
        for part in [query.as_bytes(), body] {
            let mut seen: Vec<String> = Vec::new();
            for (k, v) in form_urlencoded::parse(part) {
                if seen.iter().any(|s| s == &*k) {
                    continue;
                }
                seen.push(k.to_string());
                fields.retain(|(fk, _)| fk != &*k);
                fields.push((k.into_owned(), v.into_owned()));
            }
        }
        Form { fields }
    }

    fn get(&self, key: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

/// The tail page's byte count: digits → `max(1024, n)` clamped; anything else → 1024.
fn tail_limit(raw: Option<&str>) -> u64 {
    match raw {
        Some(s) if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) => s
            .parse::<u64>()
            .unwrap_or(MAX_TAIL_LIMIT)
            .clamp(MIN_TAIL_LIMIT, MAX_TAIL_LIMIT),
        _ => MIN_TAIL_LIMIT,
    }
}

fn channel(raw: Option<&str>) -> Channel {
    match raw {
        Some("stderr") => Channel::Stderr,
        _ => Channel::Stdout,
    }
}

/// Classifies a request. `csrf` and `now` verify tokens of POSTed actions (and make the
/// `refresh` message); `route` itself performs nothing.
pub fn route(req: &Request<'_>, csrf: &CsrfKey, now: LocalTime) -> WebRequest {
    let path = req.path.trim_start_matches('/');
    let path = if path.is_empty() { "index.html" } else { path };
    let is_get = req.method == "GET";
    let is_post = req.method == "POST";

    match path {
        "index.html" | "tail.html" | "ok.html" | "api/action" | "api/status.json"
        | "api/log.json" => {}
        _ => {
            return match assets::asset(path) {
                Some((content_type, body)) if is_get || req.method == "HEAD" => {
                    WebRequest::Asset { content_type, body }
                }
                Some(_) => WebRequest::MethodNotAllowed { allow: "GET" },
                None => WebRequest::NotFound,
            };
        }
    }
    if !is_get && !is_post {
        return WebRequest::MethodNotAllowed { allow: "GET, POST" };
    }
    if req.body.len() > MAX_FORM_BODY {
        return WebRequest::BodyTooLarge;
    }
    let body = if is_post { req.body } else { &[][..] };
    let form = Form::parse(req.query, body);

    match path {
        "ok.html" => WebRequest::Ok,
        "api/status.json" => WebRequest::StatusJson,
        "api/log.json" => {
            if !is_get {
                return WebRequest::MethodNotAllowed { allow: "GET" };
            }
            let offset = |k: &str| {
                form.get(k)
                    .filter(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
                    .and_then(|s| s.parse::<u64>().ok())
            };
            WebRequest::LogJson {
                processname: form.get("processname").unwrap_or("").to_string(),
                channel: channel(form.get("channel")),
                want: match (offset("before"), offset("after")) {
                    (_, Some(a)) => crate::logview::Want::After(a),
                    (Some(b), None) => crate::logview::Want::Before(b),
                    (None, None) => crate::logview::Want::Last,
                },
            }
        }
        "tail.html" => WebRequest::TailPage {
            processname: form.get("processname").map(str::to_string),
            limit: tail_limit(form.get("limit")),
            channel: channel(form.get("channel")),
        },
        "api/action" | "index.html" => {
            let api = path == "api/action";
            if api && !is_post {
                return WebRequest::MethodNotAllowed { allow: "POST" };
            }
            let message = form.get("message").map(str::to_string);
            let Some(name) = form.get("action").filter(|a| !a.is_empty()) else {
                return WebRequest::StatusPage {
                    message,
                    confirm: None,
                };
            };
            let Some(action) = Action::parse(name, form.get("processname")) else {
                return WebRequest::BadAction;
            };
            if is_get {
                // Never act on a GET. A bookmarked refresh link still shows its message.
                return match action {
                    Action::Refresh => WebRequest::StatusPage {
                        message: Some(format!("Page refreshed at {}", ctime(now))),
                        confirm: None,
                    },
                    other => WebRequest::StatusPage {
                        message,
                        confirm: Some(other),
                    },
                };
            }
            let token = req.csrf_header.or(form.get(csrf::FORM_FIELD)).unwrap_or("");
            if !csrf.verify(token, req.user, now.unix) {
                return WebRequest::CsrfRejected;
            }
            WebRequest::Action {
                action,
                reply: if api { Reply::Json } else { Reply::Redirect },
            }
        }
        _ => WebRequest::NotFound,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: LocalTime = LocalTime {
        unix: 1_795_284_920,
        utc_offset: 0,
    };

    fn key() -> CsrfKey {
        CsrfKey::new(&[1; 32])
    }

    fn req<'a>(method: &'a str, path: &'a str, query: &'a str, body: &'a [u8]) -> Request<'a> {
        Request {
            method,
            path,
            query,
            body,
            csrf_header: None,
            user: "user",
            read_only: false,
        }
    }

    #[test]
    fn status_page_paths_and_messages() {
        for p in ["/", "", "/index.html", "//index.html"] {
            assert_eq!(
                route(&req("GET", p, "", b""), &key(), NOW),
                WebRequest::StatusPage {
                    message: None,
                    confirm: None
                }
            );
        }
        assert_eq!(
            route(
                &req("GET", "/", "message=Process%20a%20started", b""),
                &key(),
                NOW
            ),
            WebRequest::StatusPage {
                message: Some("Process a started".into()),
                confirm: None
            }
        );
        assert_eq!(
            route(&req("GET", "/ok.html", "", b""), &key(), NOW),
            WebRequest::Ok
        );
        assert_eq!(
            route(&req("GET", "/nope.html", "", b""), &key(), NOW),
            WebRequest::NotFound
        );
        assert_eq!(
            route(&req("DELETE", "/index.html", "", b""), &key(), NOW),
            WebRequest::MethodNotAllowed { allow: "GET, POST" }
        );
        assert_eq!(
            route(&req("GET", "/api/status.json", "", b""), &key(), NOW),
            WebRequest::StatusJson
        );
    }

    #[test]
    fn a_get_never_acts() {
        let r = route(
            &req("GET", "/index.html", "processname=web&action=stop", b""),
            &key(),
            NOW,
        );
        assert_eq!(
            r,
            WebRequest::StatusPage {
                message: None,
                confirm: Some(Action::Stop("web".into()))
            }
        );
        let r = route(&req("GET", "/", "action=stopall", b""), &key(), NOW);
        assert!(matches!(
            r,
            WebRequest::StatusPage {
                confirm: Some(Action::StopAll),
                ..
            }
        ));
        let r = route(&req("GET", "/", "action=refresh", b""), &key(), NOW);
        assert_eq!(
            r,
            WebRequest::StatusPage {
                message: Some("Page refreshed at Sat Nov 21 18:15:20 2026".into()),
                confirm: None
            }
        );
        // Even with a valid token in the query string.
        let tok = key().token("user", NOW.unix);
        let q = format!("processname=web&action=stop&csrf_token={tok}");
        let r = route(&req("GET", "/index.html", &q, b""), &key(), NOW);
        assert!(matches!(
            r,
            WebRequest::StatusPage {
                confirm: Some(_),
                ..
            }
        ));
        assert_eq!(
            route(
                &req("GET", "/api/action", "action=stopall", b""),
                &key(),
                NOW
            ),
            WebRequest::MethodNotAllowed { allow: "POST" }
        );
    }

    #[test]
    fn a_post_needs_a_valid_token() {
        let tok = key().token("user", NOW.unix);
        let body = format!("csrf_token={tok}");
        let r = route(
            &req(
                "POST",
                "/index.html",
                "processname=grp%3Aweb&action=stop",
                body.as_bytes(),
            ),
            &key(),
            NOW,
        );
        assert_eq!(
            r,
            WebRequest::Action {
                action: Action::Stop("grp:web".into()),
                reply: Reply::Redirect
            }
        );
        // Body fields win over the query.
        let body = format!("processname=b&action=start&csrf_token={tok}");
        let r = route(
            &req("POST", "/api/action", "processname=a", body.as_bytes()),
            &key(),
            NOW,
        );
        assert_eq!(
            r,
            WebRequest::Action {
                action: Action::Start("b".into()),
                reply: Reply::Json
            }
        );
        // Header token.
        let mut rq = req("POST", "/api/action", "", b"action=stopall");
        rq.csrf_header = Some(&tok);
        assert!(matches!(route(&rq, &key(), NOW), WebRequest::Action { .. }));
        // Missing, wrong, other user's or another daemon's token.
        let other = CsrfKey::new(&[2; 32]).token("user", NOW.unix);
        let other_user = key().token("mallory", NOW.unix);
        for t in ["", "garbage", other.as_str(), other_user.as_str()] {
            let body = format!("action=stopall&csrf_token={t}");
            assert_eq!(
                route(
                    &req("POST", "/index.html", "", body.as_bytes()),
                    &key(),
                    NOW
                ),
                WebRequest::CsrfRejected
            );
        }
    }

    #[test]
    fn bad_actions_and_bodies() {
        let tok = key().token("user", NOW.unix);
        let body = format!("action=explode&csrf_token={tok}");
        assert_eq!(
            route(&req("POST", "/", "", body.as_bytes()), &key(), NOW),
            WebRequest::BadAction
        );
        assert_eq!(
            route(&req("GET", "/", "action=stop", b""), &key(), NOW),
            WebRequest::BadAction
        );
        let big = vec![b'a'; MAX_FORM_BODY + 1];
        assert_eq!(
            route(&req("POST", "/", "", &big), &key(), NOW),
            WebRequest::BodyTooLarge
        );
        // POST without an action just shows the page (as the reference does).
        assert!(matches!(
            route(&req("POST", "/", "", b"x=1"), &key(), NOW),
            WebRequest::StatusPage { .. }
        ));
    }

    #[test]
    fn tail_page_limits() {
        let t = |q: &str| route(&req("GET", "/tail.html", q, b""), &key(), NOW);
        assert_eq!(
            t("processname=a"),
            WebRequest::TailPage {
                processname: Some("a".into()),
                limit: 1024,
                channel: Channel::Stdout
            }
        );
        assert!(matches!(
            t("processname=a&limit=5000"),
            WebRequest::TailPage { limit: 5000, .. }
        ));
        assert!(matches!(
            t("processname=a&limit=10"),
            WebRequest::TailPage { limit: 1024, .. }
        ));
        assert!(matches!(
            t("processname=a&limit=-5"),
            WebRequest::TailPage { limit: 1024, .. }
        ));
        assert!(matches!(
            t("processname=a&limit=99999999999999999999999"),
            WebRequest::TailPage {
                limit: MAX_TAIL_LIMIT,
                ..
            }
        ));
        assert!(matches!(
            t("processname=a&channel=stderr"),
            WebRequest::TailPage {
                channel: Channel::Stderr,
                ..
            }
        ));
        assert!(matches!(
            t(""),
            WebRequest::TailPage {
                processname: None,
                ..
            }
        ));
    }

    #[test]
    fn log_json_requests() {
        use crate::logview::Want;
        let r = |m: &str, q: &str| route(&req(m, "/api/log.json", q, b""), &key(), NOW);
        assert_eq!(
            r("GET", "processname=a&channel=stderr"),
            WebRequest::LogJson {
                processname: "a".into(),
                channel: Channel::Stderr,
                want: Want::Last
            }
        );
        assert!(matches!(
            r("GET", "processname=a&before=100"),
            WebRequest::LogJson {
                want: Want::Before(100),
                channel: Channel::Stdout,
                ..
            }
        ));
        assert!(matches!(
            r("GET", "processname=a&after=7&before=3"),
            WebRequest::LogJson {
                want: Want::After(7),
                ..
            }
        ));
        assert!(matches!(
            r("GET", "processname=a&before=-3"),
            WebRequest::LogJson {
                want: Want::Last,
                ..
            }
        ));
        assert_eq!(
            r("POST", "processname=a"),
            WebRequest::MethodNotAllowed { allow: "GET" }
        );
    }

    #[test]
    fn assets_are_served_by_get_only() {
        assert!(matches!(
            route(
                &req("GET", "/stylesheets/supervisor.css", "", b""),
                &key(),
                NOW
            ),
            WebRequest::Asset {
                content_type: "text/css; charset=utf-8",
                ..
            }
        ));
        assert!(matches!(
            route(&req("GET", "/assets/app.js", "", b""), &key(), NOW),
            WebRequest::Asset { .. }
        ));
        assert_eq!(
            route(&req("POST", "/assets/app.js", "", b""), &key(), NOW),
            WebRequest::MethodNotAllowed { allow: "GET" }
        );
        assert_eq!(
            route(&req("GET", "/assets/../Cargo.toml", "", b""), &key(), NOW),
            WebRequest::NotFound
        );
    }
}
