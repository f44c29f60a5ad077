//! The web UI on the daemon's HTTP servers. Everything is decided and rendered by
//! `supervisor_web::handle`; this module only converts the request and the response and
//! runs each XML-RPC call the UI asks for through the event loop, exactly as `/RPC2` does
//! (so a web action behaves like the RPC call, waits included).
//!
//! One [`SupervisorWebUi`] is shared by every server of the daemon: it holds the secret the
//! anti-CSRF tokens are derived from (drawn from the OS at start-up, never stored).
//!
//! See docs/web-ui.md, "Wiring".

use std::sync::Arc;

use bytes::Bytes;
use hyper::header::{HeaderName, HeaderValue, AUTHORIZATION, HOST};
use hyper::{Response, StatusCode};
use rand::RngCore;
use tokio::sync::mpsc;

use supervisor_protocol::{Fault, Value};
use supervisor_web as web;

use super::{Body, WebFuture, WebRequest, WebUi};
use crate::rpc::ControlRequest;

/// The web UI hook of the HTTP servers (see [`WebUi`]).
pub struct SupervisorWebUi {
    key: web::CsrfKey,
}

impl SupervisorWebUi {
    /// A web UI with a fresh random CSRF secret (tokens of a previous daemon run are refused).
    pub fn new() -> Arc<SupervisorWebUi> {
        let mut secret = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut secret);
        Arc::new(SupervisorWebUi {
            key: web::CsrfKey::new(&secret),
        })
    }
}

impl WebUi for SupervisorWebUi {
    fn handle(&self, request: WebRequest, control: mpsc::Sender<ControlRequest>) -> WebFuture {
        let key = self.key.clone();
        Box::pin(async move { answer(&key, request, control).await })
    }
}

/// Runs one XML-RPC method in the event loop, as `caller` (its role applies and its
/// actions are audited), and waits for its answer.
async fn call(
    control: mpsc::Sender<ControlRequest>,
    caller: Option<Arc<crate::access::Caller>>,
    method: &'static str,
    params: Vec<Value>,
) -> Result<Value, Fault> {
    crate::rpc::call_as(&control, caller, method, params).await
}

async fn answer(
    key: &web::CsrfKey,
    request: WebRequest,
    control: mpsc::Sender<ControlRequest>,
) -> Option<Response<Body>> {
    let now = chrono::Local::now();
    let now = web::LocalTime {
        unix: now.timestamp(),
        utc_offset: now.offset().local_minus_utc(),
    };
    let headers = &request.headers;
    let user = match &request.caller {
        Some(c) => c.name.clone(),
        None => web::basic_auth_user(headers.get(AUTHORIZATION).map(|v| v.as_bytes())),
    };
    let read_only = request
        .caller
        .as_ref()
        .is_some_and(|c| c.role < crate::access::Role::Operate);
    let req = web::Request {
        method: request.method.as_str(),
        path: request.uri.path(),
        query: request.uri.query().unwrap_or(""),
        body: &request.body,
        csrf_header: headers.get("x-csrf-token").and_then(|v| v.to_str().ok()),
        user: &user,
        read_only,
    };
    let host = headers.get(HOST).and_then(|v| v.to_str().ok());
    let caller = request.caller.clone();
    let rpc = |method, params| call(control.clone(), caller.clone(), method, params);
    let answer = web::handle(&req, host, key, now, rpc).await?;

    let body = match answer.body {
        std::borrow::Cow::Borrowed(b) => Bytes::from_static(b),
        std::borrow::Cow::Owned(v) => Bytes::from(v),
    };
    let mut response = Response::new(Body::full(body));
    *response.status_mut() =
        StatusCode::from_u16(answer.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    for (name, value) in &answer.headers {
        if let (Ok(n), Ok(v)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(value),
        ) {
            response.headers_mut().insert(n, v);
        }
    }
    Some(response)
}
