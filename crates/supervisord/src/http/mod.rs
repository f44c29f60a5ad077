//! The HTTP servers: one handler stack (hyper HTTP/1.0 and 1.1, keep-alive, chunked
//! streaming) served on the unix socket and on every TCP port.
//!
//! Every request is first authenticated ([`auth`]) when the server has credentials, then
//! routed like the reference: any path starting with `/RPC2` is XML-RPC, then `/logtail/...`,
//! `/events` (Server-Sent Events of the event bus, beyond the reference), `/mainlogtail`,
//! then the web UI ([`WebUi`]), else 404. Errors are the reference's small
//! HTML pages. Process state is never touched here: requests go to the event loop as
//! [`ControlRequest`]s and the connection task awaits the answer, so a slow call or a slow
//! client never holds up anyone else.
//!
//! Limits: request heads are bounded ([`Limits::max_head`]), bodies too
//! ([`Limits::max_body`], 413), a client must send a body within [`Limits::body_timeout`],
//! its first request head within [`Limits::head_timeout`] of connecting, and an idle
//! keep-alive connection is closed after [`Limits::idle_timeout`]. At most
//! [`Limits::max_connections`] connections are open at once per server: past that, the
//! oldest one that has not sent a request head is closed to make room (see [`conns`]),
//! so half-open connections cannot shut out a legitimate client, and a reserve of
//! descriptors lets a server accept and answer even when the process has none left.
//! A slow client only ever occupies its own connection task.

pub mod auth;
pub mod bind;
pub mod conns;
pub mod health;
pub mod metrics;
pub mod tail;
pub mod tls;
pub mod web;

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::body::{Frame, Incoming};
use hyper::header::{HeaderValue, CONTENT_LENGTH, CONTENT_TYPE};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::{mpsc, oneshot, watch};

use crate::rpc::{ControlRequest, LogTarget};
use supervisor_config::{Credentials, LogLevel};
use supervisor_protocol::xmlrpc;

pub use bind::{bind_inet, bind_unix, BindError, SocketFile};

/// The body of every response: a whole buffer or a stream of chunks.
pub enum Body {
    /// A complete body (sent with `Content-Length`).
    Full(Option<Bytes>),
    /// A stream (sent chunked on HTTP/1.1, close-delimited on 1.0).
    Stream(mpsc::Receiver<Bytes>),
}

impl Body {
    /// A complete body.
    pub fn full(b: impl Into<Bytes>) -> Body {
        Body::Full(Some(b.into()))
    }
}

impl hyper::body::Body for Body {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        match self.get_mut() {
            Body::Full(b) => Poll::Ready(b.take().map(|b| Ok(Frame::data(b)))),
            Body::Stream(rx) => rx.poll_recv(cx).map(|o| o.map(|b| Ok(Frame::data(b)))),
        }
    }

    fn is_end_stream(&self) -> bool {
        matches!(self, Body::Full(None))
    }

    fn size_hint(&self) -> hyper::body::SizeHint {
        match self {
            Body::Full(Some(b)) => hyper::body::SizeHint::with_exact(b.len() as u64),
            Body::Full(None) => hyper::body::SizeHint::with_exact(0),
            Body::Stream(_) => hyper::body::SizeHint::default(),
        }
    }
}

/// A request for a web UI path, with its body already read (bounded).
pub struct WebRequest {
    /// `GET`, `POST`, ...
    pub method: Method,
    /// The request target.
    pub uri: hyper::Uri,
    /// The request headers.
    pub headers: hyper::HeaderMap,
    /// The body (empty for GET).
    pub body: Bytes,
    /// Who sends it (`None` on a server built without [`ServerContext::access`]): the UI
    /// makes its calls as this caller, and shows no action to a `read` one.
    pub caller: Option<Arc<crate::access::Caller>>,
}

/// The boxed future a [`WebUi`] returns.
pub type WebFuture = Pin<Box<dyn Future<Output = Option<Response<Body>>> + Send>>;

/// The hook for the web UI: given an authenticated request that is not XML-RPC or a log
/// tail, return its response, or `None` when the path is not one of the UI's (then 404).
/// `control` is the channel to the event loop (call XML-RPC methods through it).
pub trait WebUi: Send + Sync + 'static {
    /// Answers one request.
    fn handle(&self, request: WebRequest, control: mpsc::Sender<ControlRequest>) -> WebFuture;
}

/// A server without the web UI: serves `/ok.html` (the reference's `OK` page) and nothing
/// else. The daemon's UI is [`web::SupervisorWebUi`].
pub struct NoWebUi;

impl WebUi for NoWebUi {
    fn handle(&self, request: WebRequest, _: mpsc::Sender<ControlRequest>) -> WebFuture {
        let ok = request.uri.path() == "/ok.html"
            && (request.method == Method::GET || request.method == Method::POST);
        Box::pin(async move {
            ok.then(|| {
                let mut r = Response::new(Body::full(Bytes::from_static(b"OK")));
                r.headers_mut().insert(
                    CONTENT_TYPE,
                    HeaderValue::from_static("text/html;charset=utf-8"),
                );
                r
            })
        })
    }
}

/// Size and time bounds of one server.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Largest request body accepted (413 beyond).
    pub max_body: usize,
    /// Largest request head (request line + headers) accepted.
    pub max_head: usize,
    /// Most headers in one request.
    pub max_headers: usize,
    /// Time allowed from connecting to the end of the first request head.
    pub head_timeout: Duration,
    /// Idle time after which a keep-alive connection is closed (it also bounds the time
    /// to send a later request's head).
    pub idle_timeout: Duration,
    /// Time allowed to send a request body.
    pub body_timeout: Duration,
    /// Most connections open at once on one server (default: [`conns::connection_cap`]
    /// of the descriptor limit).
    pub max_connections: usize,
    /// How long a connection without a complete request head (or an idle keep-alive one)
    /// is left alone before it may be closed to make room for a new one at the cap.
    pub evict_after: Duration,
    /// Like `evict_after`, for a connection whose task has read everything the client
    /// sent so far without finding a complete head (it is not merely unread yet).
    pub evict_starved_after: Duration,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_body: 16 * 1024 * 1024,
            max_head: 64 * 1024,
            max_headers: 100,
            head_timeout: Duration::from_secs(30),
            idle_timeout: Duration::from_secs(300),
            body_timeout: Duration::from_secs(30),
            max_connections: conns::connection_cap(conns::nofile_limit()),
            evict_after: Duration::from_secs(1),
            evict_starved_after: Duration::from_millis(100),
        }
    }
}

/// Something that writes main-log lines (the daemon's logger).
pub type LogFn = Arc<dyn Fn(LogLevel, String) + Send + Sync>;

/// Everything one server's connections share.
pub struct ServerContext {
    /// The section's credentials (`None` = no authentication). Used only when `access`
    /// is `None`.
    pub credentials: Option<Credentials>,
    /// The section's users, roles and tokens ([`crate::access`]); when set, it decides
    /// who a request comes from (and `credentials` is not looked at).
    pub access: Option<Arc<crate::access::server::ServerAccess>>,
    /// The event loop's inbox.
    pub control: mpsc::Sender<ControlRequest>,
    /// The web UI.
    pub web: Arc<dyn WebUi>,
    /// Bounds.
    pub limits: Limits,
    /// Main-log output for request errors (None = silent).
    pub log: Option<LogFn>,
    /// The main log's level: lines below it are not even formatted (the per-call trace
    /// lines would otherwise cost every request a message to the loop).
    pub log_level: LogLevel,
    /// `health_auth = false` in the section: `/livez` and `/readyz` answer without
    /// credentials ([`health`]).
    pub health_open: bool,
}

impl ServerContext {
    fn log(&self, level: LogLevel, text: String) {
        if let Some(l) = &self.log {
            l(level, text);
        }
    }

    /// Whether a line at `level` would be written.
    fn logs(&self, level: LogLevel) -> bool {
        self.log.is_some() && level as u8 >= self.log_level as u8
    }
}

/// The reference's reason phrases for the statuses we send.
fn reason(code: StatusCode) -> &'static str {
    match code.as_u16() {
        400 => "Bad Request",
        401 => "Unauthorized",
        404 => "Not Found",
        405 => "Method Not Allowed",
        411 => "Length Required",
        413 => "Request Entity Too Large",
        500 => "Internal Server Error",
        _ => code.canonical_reason().unwrap_or("Error"),
    }
}

/// The reference's error page for `code`.
pub fn error_response(code: StatusCode) -> Response<Body> {
    let body = format!(
        "<head>\r\n<title>Error response</title>\r\n</head>\r\n<body>\r\n<h1>Error response</h1>\r\n\
<p>Error code {}.\r\n<p>Message: {}.\r\n</body>\r\n",
        code.as_u16(),
        reason(code)
    );
    let mut r = Response::new(Body::full(body));
    *r.status_mut() = code;
    r.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("text/html"));
    r
}

fn unauthorized() -> Response<Body> {
    let mut r = error_response(StatusCode::UNAUTHORIZED);
    let h = r.headers_mut();
    h.insert(
        "WWW-Authenticate",
        HeaderValue::from_static("Basic realm=\"default\""),
    );
    h.insert("Connection", HeaderValue::from_static("close"));
    r
}

/// Answers one request (after hyper parsed its head).
pub async fn handle(ctx: Arc<ServerContext>, req: Request<Incoming>) -> Response<Body> {
    if let Some(r) = health::open_route(&ctx, &req).await {
        return r;
    }
    if let Some(access) = ctx.access.clone() {
        let authz = req
            .headers()
            .get(hyper::header::AUTHORIZATION)
            .map(|h| h.as_bytes().to_vec());
        let mut peer = crate::access::current_peer();
        peer.cert_user = req
            .extensions()
            .get::<tls::ClientCert>()
            .and_then(|c| c.user())
            .map(String::from);
        return match access.authenticate(authz.as_deref(), &peer).await {
            crate::access::server::AuthOutcome::Allowed(caller) => {
                route(ctx, req, Some(Arc::new(caller))).await
            }
            crate::access::server::AuthOutcome::Unauthorized => {
                drain_body(&ctx, req).await;
                unauthorized()
            }
            crate::access::server::AuthOutcome::Malformed => {
                drain_body(&ctx, req).await;
                let mut r = error_response(StatusCode::BAD_REQUEST);
                r.headers_mut()
                    .insert("Connection", HeaderValue::from_static("close"));
                r
            }
        };
    }
    let authz = req.headers().get(hyper::header::AUTHORIZATION);
    // A verified client certificate whose CN names the user (tls_client_cn_user) stands
    // for the credentials when the request sends none.
    let by_cert = authz.is_none() && tls::certificate_user(&req, ctx.credentials.as_ref());
    let checked = if by_cert {
        auth::AuthResult::Allowed
    } else {
        auth::check(ctx.credentials.as_ref(), authz.map(|h| h.as_bytes()))
    };
    match checked {
        auth::AuthResult::Allowed => {}
        auth::AuthResult::Unauthorized => {
            drain_body(&ctx, req).await;
            return unauthorized();
        }
        auth::AuthResult::Malformed => {
            drain_body(&ctx, req).await;
            let mut r = error_response(StatusCode::BAD_REQUEST);
            r.headers_mut()
                .insert("Connection", HeaderValue::from_static("close"));
            return r;
        }
    }
    route(ctx, req, None).await
}

/// Routes an authenticated request (`caller` = who, when the server has [`ServerContext::access`]).
async fn route(
    ctx: Arc<ServerContext>,
    req: Request<Incoming>,
    caller: Option<Arc<crate::access::Caller>>,
) -> Response<Body> {
    let path = req.uri().path().to_string();
    if path.starts_with("/RPC2") {
        return rpc(ctx, req, caller).await;
    }
    if path.starts_with("/logtail") {
        if req.method() != Method::GET {
            return error_response(StatusCode::BAD_REQUEST);
        }
        return match logtail_target(&path) {
            Some(target) => tail_response(&ctx, target).await,
            None => error_response(StatusCode::NOT_FOUND),
        };
    }
    if path == "/events" {
        if req.method() != Method::GET {
            return error_response(StatusCode::BAD_REQUEST);
        }
        return events_response(&ctx, req.uri().query()).await;
    }
    if path == "/metrics" {
        let openmetrics = req
            .headers()
            .get(hyper::header::ACCEPT)
            .and_then(|a| a.to_str().ok())
            .is_some_and(|a| a.contains("application/openmetrics-text"));
        return metrics_response(&ctx, req.method(), openmetrics).await;
    }
    if health::is_health_path(&path) {
        return health::respond(&ctx, req.method(), &path).await;
    }
    if path.starts_with("/mainlogtail") {
        if req.method() != Method::GET {
            return error_response(StatusCode::BAD_REQUEST);
        }
        return tail_response(&ctx, LogTarget::Main).await;
    }
    let (parts, body) = req.into_parts();
    let body = match read_body(&ctx, body).await {
        Ok(b) => b,
        Err(code) => return error_response(code),
    };
    let web = WebRequest {
        method: parts.method,
        uri: parts.uri,
        headers: parts.headers,
        body,
        caller,
    };
    let get_or_head = web.method == Method::GET || web.method == Method::HEAD;
    match ctx.web.handle(web, ctx.control.clone()).await {
        Some(r) => r,
        // Like the reference's fallback handler: only GET and HEAD can be "not found".
        None if get_or_head => error_response(StatusCode::NOT_FOUND),
        None => error_response(StatusCode::BAD_REQUEST),
    }
}

/// Reads and discards the body of a request that is refused before it is looked at, so
/// the client has written all of it when the answer and the close come (a close with
/// unread input resets the connection, and the client sees a broken pipe instead of the
/// answer). Bounded by [`Limits::max_body`] (a larger declared body is not read) and
/// [`Limits::body_timeout`]; nothing is kept.
async fn drain_body(ctx: &ServerContext, req: Request<Incoming>) {
    let declared = req
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|s| s.trim().parse::<u64>().ok());
    if declared.is_some_and(|n| n > ctx.limits.max_body as u64) {
        return;
    }
    let mut body = req.into_body();
    let max = ctx.limits.max_body;
    let _ = tokio::time::timeout(ctx.limits.body_timeout, async {
        let mut seen = 0usize;
        while let Some(Ok(frame)) = body.frame().await {
            if let Some(d) = frame.data_ref() {
                seen = seen.saturating_add(d.len());
                if seen > max {
                    return;
                }
            }
        }
    })
    .await;
}

/// Reads a whole body within the size and time limits.
///
/// The chunks are appended to one buffer as they come, sized up front from
/// `Content-Length` (already checked against the limit): the body is held once, not as a
/// list of chunks plus their concatenation.
async fn read_body(ctx: &ServerContext, body: Incoming) -> Result<Bytes, StatusCode> {
    let max = ctx.limits.max_body;
    let declared = hyper::body::Body::size_hint(&body).exact();
    let mut body = body;
    let read = async move {
        let mut buf: Vec<u8> = match declared {
            Some(n) if n as usize <= max => Vec::with_capacity(n as usize),
            Some(_) => return Err(StatusCode::PAYLOAD_TOO_LARGE),
            None => Vec::new(),
        };
        while let Some(frame) = body.frame().await {
            let frame = frame.map_err(|_| StatusCode::BAD_REQUEST)?;
            if let Some(d) = frame.data_ref() {
                if buf.len() + d.len() > max {
                    return Err(StatusCode::PAYLOAD_TOO_LARGE);
                }
                buf.extend_from_slice(d);
            }
        }
        Ok(Bytes::from(buf))
    };
    match tokio::time::timeout(ctx.limits.body_timeout, read).await {
        Ok(r) => r,
        Err(_) => Err(StatusCode::BAD_REQUEST),
    }
}

fn xml_response(body: Vec<u8>) -> Response<Body> {
    let mut r = Response::new(Body::full(body));
    r.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("text/xml"));
    r
}

async fn rpc(
    ctx: Arc<ServerContext>,
    req: Request<Incoming>,
    caller: Option<Arc<crate::access::Caller>>,
) -> Response<Body> {
    if req.method() != Method::POST {
        return error_response(StatusCode::BAD_REQUEST);
    }
    let Some(len) = req.headers().get(CONTENT_LENGTH) else {
        return error_response(StatusCode::LENGTH_REQUIRED);
    };
    let len: Option<u64> = len.to_str().ok().and_then(|s| s.trim().parse().ok());
    match len {
        None => return error_response(StatusCode::BAD_REQUEST),
        Some(n) if n > ctx.limits.max_body as u64 => {
            let mut r = error_response(StatusCode::PAYLOAD_TOO_LARGE);
            r.headers_mut()
                .insert("Connection", HeaderValue::from_static("close"));
            return r;
        }
        Some(_) => {}
    }
    let body = match read_body(&ctx, req.into_body()).await {
        Ok(b) => b,
        Err(code) => return error_response(code),
    };
    let call = match xmlrpc::parse_method_call(&body) {
        Ok(c) => c,
        Err(e) if e.is_limit() => {
            // Well-formed but over one of the parser's limits (the reference has none): a
            // fault naming the limit, not the 400 of a malformed document.
            ctx.log(LogLevel::Error, format!("XML-RPC request refused: {e}"));
            return xml_response(xmlrpc::write_fault(&crate::rpc::over_limit_fault(&e)));
        }
        Err(e) => {
            let why = if e.is_missing_method_name() {
                "no method name"
            } else {
                "unmarshallable"
            };
            ctx.log(
                LogLevel::Error,
                format!(
                    "XML-RPC request data {} is invalid: {why}",
                    // Bounded: a huge bad body is not copied whole into the log.
                    python_str_repr(&String::from_utf8_lossy(&body[..body.len().min(65536)]))
                ),
            );
            return error_response(StatusCode::BAD_REQUEST);
        }
    };
    // The request text is not needed any more: free it before the answer is built.
    drop(body);
    if ctx.logs(LogLevel::Trace) {
        ctx.log(
            LogLevel::Trace,
            format!("XML-RPC method called: {}()", call.name),
        );
    }
    let (tx, rx) = oneshot::channel();
    let name = call.name.clone();
    let asked = std::time::Instant::now();
    // The loop answers with the encoded document (big answers are written straight from
    // the process table, without a value tree).
    let mut msg = ControlRequest::CallXml {
        name: call.name,
        params: call.params,
        reply: tx,
    };
    if let Some(caller) = caller {
        msg = ControlRequest::As {
            caller,
            request: Box::new(msg),
        };
    }
    if ctx.control.send(msg).await.is_err() {
        return error_response(StatusCode::INTERNAL_SERVER_ERROR);
    }
    let answer = rx.await;
    metrics::record_rpc(
        &name,
        match &answer {
            Ok(Ok(_)) => metrics::RpcOutcome::Ok,
            Ok(Err(_)) => metrics::RpcOutcome::Fault,
            Err(_) => metrics::RpcOutcome::Error,
        },
        asked.elapsed(),
    );
    match answer {
        Ok(Ok(body)) => {
            if ctx.logs(LogLevel::Trace) {
                ctx.log(
                    LogLevel::Trace,
                    format!("XML-RPC method {name}() returned successfully"),
                );
            }
            xml_response(body)
        }
        Ok(Err(f)) => {
            if ctx.logs(LogLevel::Trace) {
                ctx.log(
                    LogLevel::Trace,
                    format!(
                        "XML-RPC method {name}() returned fault: [{}] {}",
                        f.code, f.string
                    ),
                );
            }
            xml_response(xmlrpc::write_fault(&f))
        }
        Err(_) => error_response(StatusCode::INTERNAL_SERVER_ERROR),
    }
}

/// `GET /metrics` (HEAD too): the page the loop renders; 404 when the daemon has none.
async fn metrics_response(
    ctx: &ServerContext,
    method: &Method,
    openmetrics: bool,
) -> Response<Body> {
    if method != Method::GET && method != Method::HEAD {
        return error_response(StatusCode::BAD_REQUEST);
    }
    let (tx, rx) = oneshot::channel();
    if ctx
        .control
        .send(ControlRequest::Metrics {
            openmetrics,
            reply: tx,
        })
        .await
        .is_err()
    {
        return error_response(StatusCode::INTERNAL_SERVER_ERROR);
    }
    match rx.await {
        Ok(Some(page)) => {
            let mut r = Response::new(Body::full(page));
            let kind = if openmetrics {
                metrics::OPENMETRICS_CONTENT_TYPE
            } else {
                metrics::CONTENT_TYPE
            };
            r.headers_mut()
                .insert(CONTENT_TYPE, HeaderValue::from_static(kind));
            r
        }
        Ok(None) => error_response(StatusCode::NOT_FOUND),
        Err(_) => error_response(StatusCode::INTERNAL_SERVER_ERROR),
    }
}

pub use supervisor_protocol::pyrepr::str_repr as python_str_repr;

/// Decodes `%XX` escapes (invalid escapes are kept as written; bytes that are not UTF-8
/// become U+FFFD, as Python's `unquote` does).
pub fn percent_decode(s: &str) -> String {
    percent_encoding::percent_decode_str(s)
        .decode_utf8_lossy()
        .into_owned()
}

/// `/logtail/<namespec>[/<channel>]` → the target (channel defaults to stdout).
pub fn logtail_target(path: &str) -> Option<LogTarget> {
    let path = percent_decode(path);
    let trimmed = path.trim_start_matches('/');
    let (_, rest) = trimmed.split_once('/')?;
    let (namespec, channel) = match rest.split_once('/') {
        Some((n, c)) => (n, c),
        None => (rest, "stdout"),
    };
    Some(LogTarget::Process {
        namespec: namespec.to_string(),
        channel: channel.to_string(),
    })
}

/// An HTTP date (`Sat, 21 Nov 2026 19:14:21 GMT`) of an epoch time.
fn http_date(t: std::time::SystemTime) -> String {
    let dt: chrono::DateTime<chrono::Utc> = t.into();
    dt.format("%a, %d %b %Y %H:%M:%S GMT").to_string()
}

async fn tail_response(ctx: &ServerContext, target: LogTarget) -> Response<Body> {
    let is_main = target == LogTarget::Main;
    let (tx, rx) = oneshot::channel();
    if ctx
        .control
        .send(ControlRequest::LogPath { target, reply: tx })
        .await
        .is_err()
    {
        return error_response(StatusCode::INTERNAL_SERVER_ERROR);
    }
    let Ok(Some(path)) = rx.await else {
        return error_response(StatusCode::NOT_FOUND);
    };
    let Ok(meta) = std::fs::metadata(&path) else {
        return error_response(StatusCode::NOT_FOUND);
    };
    let Ok(follower) = tail::Follower::open(path) else {
        return error_response(StatusCode::NOT_FOUND);
    };
    let (ctx_tx, ctx_rx) = mpsc::channel(4);
    tokio::spawn(tail::run(follower, ctx_tx));
    let mut r = Response::new(Body::Stream(ctx_rx));
    let h = r.headers_mut();
    if let Ok(m) = meta.modified() {
        if let Ok(v) = HeaderValue::from_str(&http_date(m)) {
            h.insert("Last-Modified", v);
        }
    }
    h.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain;charset=utf-8"),
    );
    if !is_main {
        h.insert("X-Accel-Buffering", HeaderValue::from_static("no"));
    }
    r
}

/// The value of query parameter `key`, percent-decoded (`+` is a space).
pub fn query_param(query: Option<&str>, key: &str) -> Option<String> {
    query?.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        (percent_decode(k) == key).then(|| percent_decode(&v.replace('+', " ")))
    })
}

/// How long an `/events` stream may be silent before a keep-alive comment is sent.
pub const SSE_KEEPALIVE_AFTER: Duration = Duration::from_secs(15);

/// `/events[?events=TYPE,...]`: the event bus as Server-Sent Events (beyond the reference).
async fn events_response(ctx: &ServerContext, query: Option<&str>) -> Response<Body> {
    use supervisor_protocol::events::EventType;
    let types = match query_param(query, "events") {
        // Everything, the health events (a root of their own) included.
        None => vec![EventType::Event, EventType::ProcessHealth],
        Some(v) => match supervisor_events::validate::parse_events("events", Some(&v)) {
            Ok(t) => t,
            Err(e) => {
                let mut r = Response::new(Body::full(format!("{e}\n")));
                *r.status_mut() = StatusCode::BAD_REQUEST;
                r.headers_mut().insert(
                    CONTENT_TYPE,
                    HeaderValue::from_static("text/plain;charset=utf-8"),
                );
                return r;
            }
        },
    };
    let (tx, rx) = oneshot::channel();
    if ctx
        .control
        .send(ControlRequest::SubscribeEvents { types, reply: tx })
        .await
        .is_err()
    {
        return error_response(StatusCode::INTERNAL_SERVER_ERROR);
    }
    let Ok(Some(mut events)) = rx.await else {
        return error_response(StatusCode::NOT_FOUND);
    };
    let (out_tx, out_rx) = mpsc::channel::<Bytes>(4);
    tokio::spawn(async move {
        loop {
            let text = tokio::select! {
                item = events.recv() => match item {
                    Some(item) => item.to_sse(),
                    None => return,
                },
                _ = tokio::time::sleep(SSE_KEEPALIVE_AFTER) => {
                    supervisor_events::SSE_KEEPALIVE.to_string()
                }
                _ = out_tx.closed() => return,
            };
            if out_tx.send(Bytes::from(text)).await.is_err() {
                return;
            }
        }
    });
    let mut r = Response::new(Body::Stream(out_rx));
    let h = r.headers_mut();
    h.insert(CONTENT_TYPE, HeaderValue::from_static("text/event-stream"));
    h.insert("Cache-Control", HeaderValue::from_static("no-cache"));
    h.insert("X-Accel-Buffering", HeaderValue::from_static("no"));
    r
}

/// Serves one accepted connection until it closes.
pub async fn serve_connection<I>(io: I, ctx: Arc<ServerContext>)
where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (_keep, never) = watch::channel(false);
    serve_connection_until(io, ctx, never).await;
}

/// Serves one connection until it closes or `stop` turns true; then the response being
/// written is finished (graceful shutdown) and the connection closed.
pub async fn serve_connection_until<I>(io: I, ctx: Arc<ServerContext>, stop: watch::Receiver<bool>)
where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    serve_tracked(io, ctx, stop, conns::Conn::standalone(), None).await;
}

/// A response body that keeps its connection marked busy until it is written (or
/// dropped), so a `tail -f` stream is never taken for an idle connection.
struct TrackedBody {
    body: Body,
    _busy: conns::Busy,
    /// Whether the request or this answer was big enough to return freed memory to the
    /// system once the answer is written.
    trim: bool,
}

/// Requests or answers of at least this many bytes give the allocator's free memory back
/// to the system once they are done ([`release_free_memory`]).
pub const TRIM_AFTER: u64 = 1024 * 1024;

/// Hands the allocator's free memory back to the system. glibc keeps the memory of freed
/// small blocks (a big request's value tree, say) in its heap, fragmented, so the RSS
/// would stay at its peak; `malloc_trim` returns every free page. It costs a walk over
/// the heap, so it runs only after big requests.
pub fn release_free_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only works on the allocator's own state.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// Allocations of at least this size get their own mapping (returned to the system when
/// freed), whatever sizes were freed before.
pub const MMAP_THRESHOLD: usize = 1024 * 1024;

/// Makes big request and answer buffers leave nothing behind: glibc raises its mmap
/// threshold after each big buffer freed, so the next big buffers are carved from the
/// heap and stay there once freed; a fixed threshold ([`MMAP_THRESHOLD`]) turns that
/// off. Done once per process, when the first server starts.
pub fn tune_allocator() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        #[cfg(all(target_os = "linux", target_env = "gnu"))]
        // SAFETY: mallopt only sets the allocator's parameters.
        unsafe {
            libc::mallopt(libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD as libc::c_int);
        }
    });
}

impl Drop for TrackedBody {
    fn drop(&mut self) {
        if self.trim {
            // The answer is dropped here; the request's values are gone already.
            self.body = Body::Full(None);
            release_free_memory();
        }
    }
}

impl hyper::body::Body for TrackedBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        Pin::new(&mut self.get_mut().body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> hyper::body::SizeHint {
        self.body.size_hint()
    }
}

/// A connection's stream that tells its [`conns::Conn`] when a read finds nothing more to
/// read before the first request head is complete.
struct Watched<I> {
    io: I,
    conn: Arc<conns::Conn>,
}

impl<I: AsyncRead + Unpin> AsyncRead for Watched<I> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let this = self.get_mut();
        let r = Pin::new(&mut this.io).poll_read(cx, buf);
        if r.is_pending() && !this.conn.head_seen() {
            this.conn.note_starved();
        }
        r
    }
}

impl<I: AsyncWrite + Unpin> AsyncWrite for Watched<I> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }
}

/// Timeouts are cut to this, so no deadline computation can overflow.
const LONGEST_TIMEOUT: Duration = Duration::from_secs(365 * 24 * 3600);

async fn serve_tracked<I>(
    io: I,
    ctx: Arc<ServerContext>,
    mut stop: watch::Receiver<bool>,
    conn: Arc<conns::Conn>,
    client_cert: Option<tls::ClientCert>,
) where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let mut builder = hyper::server::conn::http1::Builder::new();
    // hyper's head timer runs from the moment it waits for a head, idle time included:
    // that makes it the keep-alive idle limit. The first head has its own, shorter limit
    // below (from the accept).
    builder
        .keep_alive(true)
        // `Content-Type`, not `content-type`: what the reference sends, for naive clients.
        .title_case_headers(true)
        .timer(TokioTimer::new())
        .header_read_timeout(ctx.limits.idle_timeout.min(LONGEST_TIMEOUT))
        .max_buf_size(ctx.limits.max_head.max(8192))
        .max_headers(ctx.limits.max_headers);
    let first_head_by = conn.accepted() + ctx.limits.head_timeout.min(LONGEST_TIMEOUT);
    let service_conn = conn.clone();
    let service = hyper::service::service_fn(move |mut req: Request<Incoming>| {
        let ctx = ctx.clone();
        let busy = service_conn.begin();
        // TLS with client certificates: each request carries the verified certificate.
        if let Some(c) = &client_cert {
            req.extensions_mut().insert(c.clone());
        }
        let big_request = hyper::body::Body::size_hint(req.body()).lower() >= TRIM_AFTER;
        async move {
            let mut r = handle(ctx, req).await;
            r.headers_mut()
                .insert("Server", HeaderValue::from_static("Medusa/1.12"));
            let (parts, body) = r.into_parts();
            let trim = big_request || hyper::body::Body::size_hint(&body).lower() >= TRIM_AFTER;
            Ok::<_, Infallible>(Response::from_parts(
                parts,
                TrackedBody {
                    body,
                    _busy: busy,
                    trim,
                },
            ))
        }
    });
    let io = Watched {
        io,
        conn: conn.clone(),
    };
    let http = builder.serve_connection(TokioIo::new(io), service);
    tokio::pin!(http);
    let first_head = tokio::time::sleep_until(first_head_by.into());
    tokio::pin!(first_head);
    let mut waiting_first_head = true;
    loop {
        tokio::select! {
            _ = http.as_mut() => return,
            _ = stop.wait_for(|s| *s) => break,
            // Closed to make room for another client: drop it at once.
            () = conn.evict.notified() => return,
            () = first_head.as_mut(), if waiting_first_head => {
                if !conn.head_seen() {
                    return;
                }
                waiting_first_head = false;
            }
        }
    }
    http.as_mut().graceful_shutdown();
    let _ = http.await;
}

/// A listening socket of either family.
pub enum Listener {
    /// `[unix_http_server]`.
    Unix(tokio::net::UnixListener),
    /// `[inet_http_server]`.
    Tcp(tokio::net::TcpListener),
    /// `[inet_http_server]` with `tls_cert`/`tls_key`: HTTPS only.
    Tls(tokio::net::TcpListener, Arc<tls::ServerTls>),
}

impl Listener {
    /// Wraps a std unix listener (must be called inside the runtime).
    pub fn from_std_unix(l: std::os::unix::net::UnixListener) -> std::io::Result<Listener> {
        l.set_nonblocking(true)?;
        Ok(Listener::Unix(tokio::net::UnixListener::from_std(l)?))
    }

    /// Wraps a std TCP listener (must be called inside the runtime).
    pub fn from_std_tcp(l: std::net::TcpListener) -> std::io::Result<Listener> {
        l.set_nonblocking(true)?;
        Ok(Listener::Tcp(tokio::net::TcpListener::from_std(l)?))
    }

    /// Wraps a std TCP listener that serves HTTPS with `tls` (inside the runtime).
    pub fn from_std_tls(
        l: std::net::TcpListener,
        tls: Arc<tls::ServerTls>,
    ) -> std::io::Result<Listener> {
        l.set_nonblocking(true)?;
        Ok(Listener::Tls(tokio::net::TcpListener::from_std(l)?, tls))
    }
}

/// Accepts connections forever, each served by its own task. An accept error never ends
/// the loop: out of descriptors, a spare one from the server's [`conns::Reserve`] is
/// given up and the accept retried at once; with none left (or on other errors) accepting
/// pauses briefly instead of spinning, the client waiting in the backlog.
pub async fn serve(listener: Listener, ctx: Arc<ServerContext>) {
    let (_keep, never) = watch::channel(false);
    serve_until(listener, ctx, never).await;
}

/// How long accepting pauses after an accept error that the reserve could not absorb.
const ACCEPT_ERROR_PAUSE: Duration = Duration::from_millis(50);

/// Like [`serve`], until `stop` turns true: then no connection is accepted any more, every
/// open connection finishes the response it is writing (e.g. the answer to
/// `supervisor.shutdown`) and closes, and this returns once they all have. Callers bound the
/// wait (a `tail -f` stream never finishes by itself):
///
/// ```ignore
/// let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
/// let server = tokio::spawn(http::serve_until(listener, ctx, stop_rx));
/// // ... at exit:
/// let _ = stop_tx.send(true);
/// let _ = tokio::time::timeout(Duration::from_secs(1), server).await;
/// ```
pub async fn serve_until(
    listener: Listener,
    ctx: Arc<ServerContext>,
    mut stop: watch::Receiver<bool>,
) {
    tune_allocator();
    let registry = Arc::new(conns::Registry::new());
    let reserve = Arc::new(conns::Reserve::new());
    let cap = ctx.limits.max_connections.max(1);
    let mut tasks = tokio::task::JoinSet::new();
    'accepting: loop {
        // Reap finished connection tasks so the set stays small.
        while tasks.try_join_next().is_some() {}
        reserve.refill();
        let accepted = tokio::select! {
            a = std::future::poll_fn(|cx| poll_accept(&listener, &reserve, cx)) => a,
            _ = stop.wait_for(|s| *s) => break,
        };
        let io = match accepted {
            Ok(io) => io,
            Err(e) => {
                // Out of descriptors with the reserve spent: close a connection that
                // may be closed (no head yet, or idle), let its task release the
                // descriptor into the reserve, and accept again.
                let pause = if conns::is_fd_exhaustion(&e) {
                    if registry
                        .evict_one(ctx.limits.evict_after, ctx.limits.evict_starved_after)
                        .is_ok()
                    {
                        Duration::from_millis(5)
                    } else {
                        ACCEPT_ERROR_PAUSE
                    }
                } else if conns::is_transient(&e) {
                    // A connection that failed on its way in (reset, aborted): next.
                    continue;
                } else {
                    ACCEPT_ERROR_PAUSE
                };
                tokio::select! {
                    () = tokio::time::sleep(pause) => {}
                    _ = stop.wait_for(|s| *s) => break,
                }
                reserve.refill();
                continue;
            }
        };
        // A spare descriptor was used for this one and cannot be reopened: win one back
        // from a connection that may be closed, so the next client gets in too.
        reserve.refill();
        if reserve.len() < conns::FD_RESERVE {
            let _ = registry.evict_one(ctx.limits.evict_after, ctx.limits.evict_starved_after);
        }
        // At the cap: make room, or hold this one until a connection closes or may be
        // closed (at most one connection waits here; the rest wait in the backlog).
        while registry.len() >= cap {
            match registry.evict_one(ctx.limits.evict_after, ctx.limits.evict_starved_after) {
                Ok(()) => break,
                Err(wait) => {
                    let wait = wait.unwrap_or(Duration::from_secs(1));
                    tokio::select! {
                        () = registry.changed() => {}
                        () = tokio::time::sleep(wait) => {}
                        _ = stop.wait_for(|s| *s) => break 'accepting,
                    }
                }
            }
        }
        let (id, conn) = registry.add();
        let ctx = ctx.clone();
        let stop = stop.clone();
        let registry = registry.clone();
        let reserve = reserve.clone();
        let peer = crate::access::Peer {
            addr: match &io {
                Accepted::Unix(s) => {
                    let cred = s.peer_cred().ok();
                    crate::access::PeerAddr::Unix {
                        uid: cred.as_ref().map(|c| c.uid()),
                        pid: cred.as_ref().and_then(|c| c.pid()),
                    }
                }
                Accepted::Tcp(s) | Accepted::Tls(s, _) => s
                    .peer_addr()
                    .map(crate::access::PeerAddr::Tcp)
                    .unwrap_or_default(),
            },
            cert_user: None,
        };
        tasks.spawn(crate::access::with_peer(peer, async move {
            match io {
                Accepted::Unix(s) => serve_tracked(s, ctx, stop, conn, None).await,
                Accepted::Tcp(s) => serve_tracked(s, ctx, stop, conn, None).await,
                Accepted::Tls(s, t) => tls::serve(s, t, ctx, stop, conn).await,
            }
            // The socket is closed by now: take its descriptor back into the reserve if
            // the reserve is short, before anything else can claim it.
            registry.remove(id);
            reserve.refill();
        }));
    }
    while tasks.join_next().await.is_some() {}
}

enum Accepted {
    Unix(tokio::net::UnixStream),
    Tcp(tokio::net::TcpStream),
    Tls(tokio::net::TcpStream, Arc<tls::ServerTls>),
}

/// One accept; out of descriptors, a spare one is closed and the accept retried in the
/// same poll, so nothing else can take the freed descriptor first.
fn poll_accept(
    listener: &Listener,
    reserve: &conns::Reserve,
    cx: &mut Context<'_>,
) -> Poll<std::io::Result<Accepted>> {
    loop {
        let r = match listener {
            Listener::Unix(l) => l.poll_accept(cx).map_ok(|(s, _)| Accepted::Unix(s)),
            Listener::Tcp(l) => l.poll_accept(cx).map_ok(|(s, _)| {
                let _ = s.set_nodelay(true);
                Accepted::Tcp(s)
            }),
            Listener::Tls(l, t) => l.poll_accept(cx).map_ok(|(s, _)| {
                let _ = s.set_nodelay(true);
                Accepted::Tls(s, t.clone())
            }),
        };
        match r {
            Poll::Ready(Err(e)) if conns::is_fd_exhaustion(&e) && reserve.release_one() => continue,
            other => return other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_page_text() {
        let r = error_response(StatusCode::BAD_REQUEST);
        let Body::Full(Some(b)) = r.body() else {
            panic!()
        };
        assert_eq!(
            &b[..],
            b"<head>\r\n<title>Error response</title>\r\n</head>\r\n<body>\r\n<h1>Error response</h1>\r\n<p>Error code 400.\r\n<p>Message: Bad Request.\r\n</body>\r\n"
        );
    }

    #[test]
    fn logtail_paths() {
        let p = |ns: &str, ch: &str| {
            Some(LogTarget::Process {
                namespec: ns.into(),
                channel: ch.into(),
            })
        };
        assert_eq!(logtail_target("/logtail/foo"), p("foo", "stdout"));
        assert_eq!(logtail_target("/logtail/foo/stderr"), p("foo", "stderr"));
        assert_eq!(logtail_target("/logtail/grp%3Aga"), p("grp:ga", "stdout"));
        assert_eq!(logtail_target("/logtail/g:a/x/y"), p("g:a", "x/y"));
        assert_eq!(logtail_target("/logtail"), None);
        assert_eq!(percent_decode("a%2"), "a%2");
        assert_eq!(percent_decode("%41%zz"), "A%zz");
    }

    #[test]
    fn percent_decode_is_pythons_unquote() {
        // Expected values are Python's urllib.parse.unquote of each input.
        let cases = [
            ("", ""),
            ("%", "%"),
            ("%%", "%%"),
            ("%4", "%4"),
            ("%41", "A"),
            ("a%2", "a%2"),
            ("%41%zz", "A%zz"),
            ("%zz%41", "%zzA"),
            ("%%41", "%A"),
            ("%4%41", "%4A"),
            ("%G1", "%G1"),
            ("%+1", "%+1"),
            ("%-1", "%-1"),
            ("%+f", "%+f"),
            ("% 1", "% 1"),
            ("%1 ", "%1 "),
            ("%C3%A9", "\u{e9}"),
            ("%C3", "\u{fffd}"),
            ("%C3%", "\u{fffd}%"),
            ("%FF%FE", "\u{fffd}\u{fffd}"),
            ("%e9t%E9", "\u{fffd}t\u{fffd}"),
            ("%2F%2f", "//"),
            ("%00", "\u{0}"),
            ("+", "+"),
            ("a+b%20c", "a+b c"),
            ("%\u{e9}1", "%\u{e9}1"),
            ("%1\u{e9}", "%1\u{e9}"),
            ("\u{e9}%41", "\u{e9}A"),
            ("%ff", "\u{fffd}"),
            ("%80x", "\u{fffd}x"),
        ];
        for (input, expected) in cases {
            assert_eq!(percent_decode(input), expected, "{input:?}");
        }
    }

    #[test]
    fn python_repr() {
        assert_eq!(python_str_repr("a\nb"), "'a\\nb'");
        assert_eq!(python_str_repr("it's"), "\"it's\"");
        assert_eq!(python_str_repr("'\""), "'\\'\"'");
        assert_eq!(python_str_repr("\u{1}\\"), "'\\x01\\\\'");
    }

    #[test]
    fn query_params() {
        assert_eq!(
            query_param(Some("events=A,B&x=1"), "events"),
            Some("A,B".into())
        );
        assert_eq!(
            query_param(Some("x=1&events=TICK%5F5"), "events"),
            Some("TICK_5".into())
        );
        assert_eq!(query_param(Some("x=a+b"), "x"), Some("a b".into()));
        assert_eq!(query_param(Some("x"), "x"), Some("".into()));
        assert_eq!(query_param(Some("x=1"), "events"), None);
        assert_eq!(query_param(None, "events"), None);
    }

    #[test]
    fn dates() {
        let t = std::time::UNIX_EPOCH + Duration::from_secs(784111777);
        assert_eq!(http_date(t), "Sun, 06 Nov 1994 08:49:37 GMT");
    }
}
