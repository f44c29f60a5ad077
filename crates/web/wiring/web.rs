//! The web UI on the daemon's HTTP servers: `supervisor_web` decides and renders, this
//! module fetches the data from the event loop and runs actions through the same XML-RPC
//! dispatcher as `/RPC2` (so a web action behaves exactly like the RPC call, waits included).
//!
//! One [`SupervisorWebUi`] is shared by every server of the daemon: it holds the secret the
//! anti-CSRF tokens are derived from (drawn from the OS at start-up, never stored).
//!
//! (Ready to be placed at `crates/supervisord/src/http/web.rs`; see docs/web-ui.md, "Wiring".)

use std::sync::Arc;

use bytes::Bytes;
use hyper::header::{HeaderName, HeaderValue, AUTHORIZATION, HOST, LOCATION};
use hyper::{Response, StatusCode};
use rand::RngCore;
use tokio::sync::{mpsc, oneshot};

use supervisor_protocol::{Fault, FaultCode, Value, SUPERVISOR_VERSION};
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

fn local_now() -> web::LocalTime {
    let now = chrono::Local::now();
    web::LocalTime {
        unix: now.timestamp(),
        utc_offset: now.offset().local_minus_utc(),
    }
}

/// Runs one XML-RPC method in the event loop and waits for its answer.
async fn call(
    control: &mpsc::Sender<ControlRequest>,
    method: &str,
    params: Vec<Value>,
) -> Result<Value, Fault> {
    let gone = || Fault::new(FaultCode::Failed, "the daemon is shutting down");
    let (reply, answer) = oneshot::channel();
    let request = ControlRequest::Call {
        name: method.to_string(),
        params,
        reply,
    };
    if control.send(request).await.is_err() {
        return Err(gone());
    }
    answer.await.unwrap_or_else(|_| Err(gone()))
}

async fn snapshot(
    control: &mpsc::Sender<ControlRequest>,
    now: web::LocalTime,
) -> Result<web::StatusSnapshot, Fault> {
    let infos = call(control, "supervisor.getAllProcessInfo", vec![]).await?;
    let identification = call(control, "supervisor.getIdentification", vec![])
        .await
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_else(|| "supervisor".to_string());
    let processes = match &infos {
        Value::Array(items) => items
            .iter()
            .filter_map(web::ProcessRow::from_process_info)
            .collect(),
        _ => Vec::new(),
    };
    Ok(web::StatusSnapshot {
        version: SUPERVISOR_VERSION.to_string(),
        identification,
        now: now.unix,
        year: web::clock::year(now),
        processes,
    })
}

fn respond(status: StatusCode, headers: &[(&str, &str)], body: impl Into<Bytes>) -> Response<Body> {
    let mut r = Response::new(Body::full(body));
    *r.status_mut() = status;
    for (name, value) in headers {
        if let (Ok(n), Ok(v)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(value),
        ) {
            r.headers_mut().insert(n, v);
        }
    }
    r
}

fn error(status: StatusCode, reason: &str) -> Response<Body> {
    respond(
        status,
        &web::html_headers(),
        web::error_page(status.as_u16(), reason),
    )
}

async fn answer(
    key: &web::CsrfKey,
    request: WebRequest,
    control: mpsc::Sender<ControlRequest>,
) -> Option<Response<Body>> {
    let now = local_now();
    let headers = &request.headers;
    let user = web::basic_auth_user(headers.get(AUTHORIZATION).map(|v| v.as_bytes()));
    let req = web::Request {
        method: request.method.as_str(),
        path: request.uri.path(),
        query: request.uri.query().unwrap_or(""),
        body: &request.body,
        csrf_header: headers.get("x-csrf-token").and_then(|v| v.to_str().ok()),
        user: &user,
    };
    let html = web::html_headers();
    let response = match web::route(&req, key, now) {
        web::WebRequest::NotFound => return None,
        web::WebRequest::StatusPage { message, confirm } => match snapshot(&control, now).await {
            Ok(snap) => {
                let token = key.token(&user, now.unix);
                let page =
                    web::render_status_page(&snap, message.as_deref(), confirm.as_ref(), &token);
                respond(StatusCode::OK, &html, page)
            }
            Err(_) => error(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error"),
        },
        web::WebRequest::TailPage {
            processname,
            limit,
            channel,
        } => {
            let ns = processname.clone().unwrap_or_default();
            let method = match channel {
                web::Channel::Stdout => "supervisor.readProcessStdoutLog",
                web::Channel::Stderr => "supervisor.readProcessStderrLog",
            };
            let result = if ns.is_empty() {
                Ok(String::new())
            } else {
                let offset = -i32::try_from(limit).unwrap_or(i32::MAX);
                let params = vec![Value::String(ns), Value::Int(offset), Value::Int(0)];
                call(&control, method, params)
                    .await
                    .map(|v| v.as_str().unwrap_or("").to_string())
            };
            let log = match &result {
                Ok(text) => Ok(text.as_str()),
                Err(fault) => Err(fault),
            };
            let token = key.token(&user, now.unix);
            let page = web::render_tail_page(processname.as_deref(), limit, channel, log, &token);
            respond(StatusCode::OK, &html, page)
        }
        web::WebRequest::Action { action, reply } => {
            let mut results = Vec::new();
            for c in action.calls() {
                results.push(call(&control, c.method, c.params).await);
            }
            let message = web::action_message(&action, &results, now);
            match reply {
                web::Reply::Json => {
                    respond(StatusCode::OK, &web::json_headers(), web::action_json(&message))
                }
                web::Reply::Redirect => {
                    let host = headers.get(HOST).and_then(|v| v.to_str().ok());
                    let location = web::redirect_location(host, "localhost", &message);
                    let mut r = error(StatusCode::MOVED_PERMANENTLY, "Moved Permanently");
                    if let Ok(v) = HeaderValue::from_str(&location) {
                        r.headers_mut().insert(LOCATION, v);
                    }
                    r
                }
            }
        }
        web::WebRequest::StatusJson => match snapshot(&control, now).await {
            Ok(snap) => {
                let body = web::render_status_json(&snap, &key.token(&user, now.unix));
                respond(StatusCode::OK, &web::json_headers(), body)
            }
            Err(_) => error(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error"),
        },
        web::WebRequest::Ok => respond(StatusCode::OK, &[("Content-Type", "text/plain")], "OK"),
        web::WebRequest::Asset { content_type, body } => {
            let mut r = respond(StatusCode::OK, &web::asset_headers(), Bytes::from_static(body));
            if let Ok(v) = HeaderValue::from_str(content_type) {
                r.headers_mut().insert(hyper::header::CONTENT_TYPE, v);
            }
            r
        }
        web::WebRequest::CsrfRejected => error(StatusCode::FORBIDDEN, "Forbidden"),
        web::WebRequest::BadAction => {
            error(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error")
        }
        web::WebRequest::BodyTooLarge => {
            error(StatusCode::PAYLOAD_TOO_LARGE, "Request Entity Too Large")
        }
        web::WebRequest::MethodNotAllowed { allow } => {
            let mut r = error(StatusCode::METHOD_NOT_ALLOWED, "Method Not Allowed");
            r.headers_mut()
                .insert(hyper::header::ALLOW, HeaderValue::from_static(allow));
            r
        }
    };
    Some(response)
}
