//! `GET /livez` and `GET /readyz` (issue 17): probes for Kubernetes, Nomad and load
//! balancers, on every HTTP server of the daemon (inet and unix).
//!
//! * `/livez`: 200 `ok` when the event loop answers a question within [`LIVEZ_TIMEOUT`]
//!   (a stuck loop, or a daemon on its way out, gets 503).
//! * `/readyz`: 200 `ready` when every autostart process is RUNNING, no `critical` process
//!   is down and the daemon is not shutting down or restarting
//!   ([`crate::core::HealthReport::ready`]); otherwise 503 with what is not ready, one
//!   `name: STATE` line each (at most [`MAX_LINES`]).
//!
//! Both answer GET and HEAD (anything else: 405), as `text/plain`, never cached.
//! Authentication is the server's, as for `/ok.html` and every other path, unless the
//! server section says `health_auth = false`: then these two paths (and only they)
//! answer without credentials ([`open_route`], before the authentication).

use std::time::Duration;

use hyper::header::{HeaderValue, CACHE_CONTROL, CONTENT_TYPE};
use hyper::{Method, Request, Response, StatusCode};
use tokio::sync::oneshot;

use super::{Body, ServerContext};
use crate::core::HealthReport;
use crate::rpc::ControlRequest;

/// How long a probe waits for the loop's answer before it reports 503.
pub const LIVEZ_TIMEOUT: Duration = Duration::from_secs(5);

/// At most this many "not ready" lines in a 503 body (then `... and N more`).
pub const MAX_LINES: usize = 20;

/// True for the two health paths.
pub fn is_health_path(path: &str) -> bool {
    path == "/livez" || path == "/readyz"
}

/// The health paths of a server with `health_auth = false`: answered before the
/// authentication (`None` for every other request, which goes on as usual).
pub async fn open_route<B>(ctx: &ServerContext, req: &Request<B>) -> Option<Response<Body>> {
    if !ctx.health_open || !is_health_path(req.uri().path()) {
        return None;
    }
    Some(respond(ctx, req.method(), req.uri().path()).await)
}

/// Answers `/livez` or `/readyz` (`path` must be one of them).
pub async fn respond(ctx: &ServerContext, method: &Method, path: &str) -> Response<Body> {
    if method != Method::GET && method != Method::HEAD {
        let mut r = text(
            StatusCode::METHOD_NOT_ALLOWED,
            "method not allowed\n".into(),
        );
        r.headers_mut()
            .insert("Allow", HeaderValue::from_static("GET, HEAD"));
        return r;
    }
    let report = ask(ctx).await;
    if path == "/livez" {
        return match report {
            Ok(_) => text(StatusCode::OK, "ok\n".into()),
            Err(why) => text(StatusCode::SERVICE_UNAVAILABLE, format!("{why}\n")),
        };
    }
    match report {
        Ok(h) if h.ready => text(StatusCode::OK, "ready\n".into()),
        Ok(h) => text(StatusCode::SERVICE_UNAVAILABLE, not_ready_body(&h)),
        Err(why) => text(StatusCode::SERVICE_UNAVAILABLE, format!("{why}\n")),
    }
}

/// The 503 body of `/readyz`: `not ready`, then one line per thing not ready.
pub fn not_ready_body(h: &HealthReport) -> String {
    let mut body = String::from("not ready\n");
    for line in h.not_ready.iter().take(MAX_LINES) {
        body.push_str(line);
        body.push('\n');
    }
    if h.not_ready.len() > MAX_LINES {
        body.push_str(&format!("... and {} more\n", h.not_ready.len() - MAX_LINES));
    }
    body
}

/// The loop's health report, or why there is none.
async fn ask(ctx: &ServerContext) -> Result<HealthReport, &'static str> {
    let (tx, rx) = oneshot::channel();
    if ctx
        .control
        .send(ControlRequest::Health { reply: tx })
        .await
        .is_err()
    {
        return Err("shutting down");
    }
    match tokio::time::timeout(LIVEZ_TIMEOUT, rx).await {
        Ok(Ok(Some(h))) => Ok(h),
        Ok(Ok(None)) => Err("no health report"),
        Ok(Err(_)) => Err("shutting down"),
        Err(_) => Err("event loop not answering"),
    }
}

fn text(code: StatusCode, body: String) -> Response<Body> {
    let mut r = Response::new(Body::full(body));
    *r.status_mut() = code;
    let h = r.headers_mut();
    h.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    h.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::ProcessState;

    #[test]
    fn paths() {
        assert!(is_health_path("/livez") && is_health_path("/readyz"));
        assert!(!is_health_path("/livez/") && !is_health_path("/ok.html"));
    }

    #[test]
    fn the_503_body_is_short() {
        let h = HealthReport {
            ready: false,
            settled: false,
            not_ready: (0..25).map(|i| format!("p{i}: STARTING")).collect(),
            counts: vec![(ProcessState::Starting, 25)],
        };
        let body = not_ready_body(&h);
        assert!(body.starts_with("not ready\np0: STARTING\n"));
        assert!(body.ends_with("p19: STARTING\n... and 5 more\n"), "{body}");
        assert_eq!(body.lines().count(), 1 + MAX_LINES + 1);
    }
}
