//! TLS on an `[inet_http_server]` (supervisor-rs; see docs/tls.md).
//!
//! With `tls_cert` and `tls_key` the server speaks HTTPS only (rustls, ring provider,
//! TLS 1.2 and 1.3, ALPN `http/1.1`). With `tls_client_ca` every client must present a
//! certificate that chains to one of those CAs, or the handshake is refused; with
//! `tls_client_cn_user = true` the subject CN of that verified certificate authenticates
//! the connection's requests as the user of that name (see [`ClientCert`]).
//!
//! The files are read when the servers are bound, i.e. at every start and every restart
//! (SIGHUP, `supervisorctl reload`): a renewed certificate is picked up by the restart,
//! and every connection accepted after it uses the new one. Errors name the key, where it
//! was written and the file ([`TlsError`]).
//!
//! The handshake runs on the connection's task under the same bounds as a plain
//! connection: it must finish within the first-head deadline (`Limits::head_timeout`,
//! counted from the accept), and until a request head arrives the connection counts as
//! head-less, so it may be closed to make room at the connection cap. A client that
//! sends plain HTTP to the TLS port gets a plain-text `400` saying so, and is closed.

use std::io;
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::pem::{self, PemObject};
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig};
use supervisor_config::{InetTlsConfig, TlsFile};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The largest PEM file read (certificate chains and CA bundles are far smaller).
const MAX_PEM_FILE: u64 = 16 * 1024 * 1024;

/// A TLS file that cannot be used: the message names the key, where it was set and the
/// file (`[inet_http_server] tls_key (file: '/etc/supervisord.conf', line 7): ...`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsError {
    /// The key at fault (`tls_cert`, `tls_key`, `tls_client_ca`).
    pub key: String,
    /// The whole message, starting with where the key was written.
    pub message: String,
}

impl std::fmt::Display for TlsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for TlsError {}

fn fail(file: &TlsFile, what: impl std::fmt::Display) -> TlsError {
    TlsError {
        key: file.key.clone(),
        message: format!("{}: {what}", file.origin),
    }
}

/// Reads one PEM file (bounded), with errors naming the key.
fn read_file(file: &TlsFile) -> Result<Vec<u8>, TlsError> {
    let path = file.path.display();
    let f = std::fs::File::open(&file.path).map_err(|e| {
        fail(
            file,
            format!("cannot read {path}: {}", supervisor_io_text(&e)),
        )
    })?;
    let meta = f.metadata().map_err(|e| {
        fail(
            file,
            format!("cannot read {path}: {}", supervisor_io_text(&e)),
        )
    })?;
    if meta.is_dir() {
        return Err(fail(file, format!("{path} is a directory, not a PEM file")));
    }
    let mut bytes = Vec::new();
    use std::io::Read;
    f.take(MAX_PEM_FILE + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| {
            fail(
                file,
                format!("cannot read {path}: {}", supervisor_io_text(&e)),
            )
        })?;
    if bytes.len() as u64 > MAX_PEM_FILE {
        return Err(fail(
            file,
            format!("{path} is larger than {MAX_PEM_FILE} bytes: not a PEM file"),
        ));
    }
    Ok(bytes)
}

/// An I/O error as plain words (`No such file or directory`, `Permission denied`).
fn supervisor_io_text(e: &io::Error) -> String {
    let s = e.to_string();
    // "No such file or directory (os error 2)" -> "No such file or directory".
    match s.find(" (os error") {
        Some(i) => s[..i].to_string(),
        None => s,
    }
}

/// What is wrong with a PEM document, in plain words.
fn pem_text(e: &pem::Error) -> String {
    match e {
        pem::Error::MissingSectionEnd { .. } => "a PEM block has no matching -----END line".into(),
        pem::Error::IllegalSectionStart { .. } => "a -----BEGIN line is malformed".into(),
        pem::Error::Base64Decode(_) => "a PEM block is not valid base64".into(),
        pem::Error::SectionTooLarge => "a PEM block is too large".into(),
        other => other.to_string(),
    }
}

/// The certificates of a PEM file (at least one).
fn read_certs(file: &TlsFile) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let bytes = read_file(file)?;
    let path = file.path.display();
    let certs = CertificateDer::pem_slice_iter(&bytes)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| fail(file, format!("{path} is not valid PEM: {}", pem_text(&e))))?;
    if certs.is_empty() {
        return Err(fail(
            file,
            format!("{path} holds no PEM certificate (no -----BEGIN CERTIFICATE----- block)"),
        ));
    }
    Ok(certs)
}

/// The private key of a PEM file.
fn read_key(file: &TlsFile) -> Result<PrivateKeyDer<'static>, TlsError> {
    let bytes = read_file(file)?;
    let path = file.path.display();
    PrivateKeyDer::from_pem_slice(&bytes).map_err(|e| match e {
        pem::Error::NoItemsFound => fail(
            file,
            format!(
                "{path} holds no PEM private key (a PRIVATE KEY, RSA PRIVATE KEY or \
                 EC PRIVATE KEY block; encrypted keys are not supported)"
            ),
        ),
        e => fail(file, format!("{path} is not valid PEM: {}", pem_text(&e))),
    })
}

/// The crypto provider both sides use.
pub fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// A loaded TLS server configuration.
pub struct ServerTls {
    acceptor: tokio_rustls::TlsAcceptor,
    cn_user: bool,
    client_ca: bool,
    /// The leaf certificate's subject CN and end of validity, for the start-up lines.
    leaf_cn: Option<String>,
    not_after: Option<std::time::SystemTime>,
}

/// A certificate closer to its end than this is warned about at every start.
const EXPIRY_WARNING: Duration = Duration::from_secs(14 * 24 * 3600);

impl std::fmt::Debug for ServerTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerTls")
            .field("cn_user", &self.cn_user)
            .finish_non_exhaustive()
    }
}

/// Reads and checks the files of `cfg`: the certificate chain, its key (which must match
/// the first certificate), and the client CAs.
pub fn load(cfg: &InetTlsConfig) -> Result<ServerTls, TlsError> {
    let certs = read_certs(&cfg.cert)?;
    let key = read_key(&cfg.key)?;
    let leaf_cn = subject_cn(&certs[0]);
    let not_after = not_after(&certs[0]);
    let provider = provider();
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| fail(&cfg.cert, format!("TLS setup failed: {e}")))?;
    let builder = match &cfg.client_ca {
        None => builder.with_no_client_auth(),
        Some(ca) => {
            let mut roots = RootCertStore::empty();
            for (i, c) in read_certs(ca)?.into_iter().enumerate() {
                roots.add(c).map_err(|e| {
                    fail(
                        ca,
                        format!(
                            "certificate {} of {} cannot be used as a CA: {}",
                            i + 1,
                            ca.path.display(),
                            rustls_text(&e)
                        ),
                    )
                })?;
            }
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                .build()
                .map_err(|e| fail(ca, format!("cannot verify clients with it: {e}")))?;
            builder.with_client_cert_verifier(verifier)
        }
    };
    let mut config = builder.with_single_cert(certs, key).map_err(|e| match e {
        rustls::Error::InconsistentKeys(_) => fail(
            &cfg.key,
            format!(
                "the key in {} does not match the certificate in {} (tls_cert)",
                cfg.key.path.display(),
                cfg.cert.path.display()
            ),
        ),
        rustls::Error::General(_) => fail(
            &cfg.key,
            format!(
                "the private key in {} cannot be used: {}",
                cfg.key.path.display(),
                rustls_text(&e)
            ),
        ),
        e => fail(
            &cfg.cert,
            format!(
                "the certificate in {} cannot be used: {}",
                cfg.cert.path.display(),
                rustls_text(&e)
            ),
        ),
    })?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(ServerTls {
        acceptor: tokio_rustls::TlsAcceptor::from(Arc::new(config)),
        cn_user: cfg.client_cn_user,
        client_ca: cfg.client_ca.is_some(),
        leaf_cn,
        not_after,
    })
}

/// A rustls error as words (its Display, without the enum noise where there is some).
fn rustls_text(e: &rustls::Error) -> String {
    match e {
        rustls::Error::InvalidCertificate(c) => format!("invalid certificate ({c:?})"),
        other => other.to_string(),
    }
}

/// The verified client certificate of a TLS connection, attached to each of its requests
/// (as a request extension) when the server has `tls_client_ca`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientCert {
    /// The subject's common name (the first CN), when it has one.
    pub cn: Option<String>,
    /// Whether the server maps the CN to a user (`tls_client_cn_user = true`).
    pub cn_is_user: bool,
}

impl ClientCert {
    /// The user name this certificate authenticates as, if the server maps CNs to users.
    pub fn user(&self) -> Option<&str> {
        if self.cn_is_user {
            self.cn.as_deref()
        } else {
            None
        }
    }
}

/// Whether `req` is authenticated by its connection's client certificate: the server
/// maps CNs to users and the verified certificate's CN is the section's `username`.
pub fn certificate_user<B>(
    req: &hyper::Request<B>,
    credentials: Option<&supervisor_config::Credentials>,
) -> bool {
    let Some(user) = req.extensions().get::<ClientCert>().and_then(|c| c.user()) else {
        return false;
    };
    credentials
        .is_some_and(|c| super::auth::constant_time_eq(c.username.as_bytes(), user.as_bytes()))
}

/// The TLVs one after the other in `bytes` (the contents of a constructed value).
fn tlvs(bytes: &[u8]) -> Option<Vec<der::asn1::AnyRef<'_>>> {
    use der::{Decode, Reader};
    let mut r = der::SliceReader::new(bytes).ok()?;
    let mut out = Vec::new();
    while !r.is_finished() {
        out.push(der::asn1::AnyRef::decode(&mut r).ok()?);
    }
    Some(out)
}

/// The fields of a certificate's `tbsCertificate` after the optional version:
/// serialNumber, signature, issuer, validity, subject, subjectPublicKeyInfo, ...
/// (RFC 5280 4.1). The DER itself is read by the `der` crate; only the layout is ours.
fn tbs_fields(cert: &[u8]) -> Option<Vec<der::asn1::AnyRef<'_>>> {
    use der::{Decode, Tag, Tagged};
    let cert = der::asn1::AnyRef::from_der(cert).ok()?;
    if cert.tag() != Tag::Sequence {
        return None;
    }
    let tbs = *tlvs(cert.value())?.first()?;
    if tbs.tag() != Tag::Sequence {
        return None;
    }
    let mut fields = tlvs(tbs.value())?;
    // version [0] EXPLICIT, absent in v1 certificates.
    if fields.first()?.tag().is_context_specific() {
        fields.remove(0);
    }
    (fields.len() >= 6).then_some(fields)
}

/// The first subject CN of a DER certificate.
pub fn subject_cn(cert: &[u8]) -> Option<String> {
    use der::{Tag, Tagged};
    const CN: der::oid::ObjectIdentifier = der::oid::ObjectIdentifier::new_unwrap("2.5.4.3");
    let fields = tbs_fields(cert)?;
    let subject = fields[4];
    if subject.tag() != Tag::Sequence {
        return None;
    }
    // Name ::= SEQUENCE OF RelativeDistinguishedName (SET OF AttributeTypeAndValue).
    for rdn in tlvs(subject.value())? {
        for atv in tlvs(rdn.value())? {
            let pair = tlvs(atv.value())?;
            let [oid, value] = pair.as_slice() else {
                continue;
            };
            if oid.decode_as::<der::oid::ObjectIdentifier>().ok() != Some(CN) {
                continue;
            }
            let text = match value.tag() {
                Tag::Utf8String | Tag::PrintableString | Tag::Ia5String | Tag::TeletexString => {
                    String::from_utf8(value.value().to_vec()).ok()
                }
                _ => None,
            };
            if text.is_some() {
                return text;
            }
        }
    }
    None
}

/// The end of a DER certificate's validity (`notAfter`).
pub fn not_after(cert: &[u8]) -> Option<std::time::SystemTime> {
    use der::{Tag, Tagged};
    let fields = tbs_fields(cert)?;
    let validity = tlvs(fields[3].value())?;
    let end = validity.get(1)?;
    let since_epoch = match end.tag() {
        Tag::UtcTime => end
            .decode_as::<der::asn1::UtcTime>()
            .ok()?
            .to_unix_duration(),
        Tag::GeneralizedTime => end
            .decode_as::<der::asn1::GeneralizedTime>()
            .ok()?
            .to_unix_duration(),
        _ => return None,
    };
    std::time::UNIX_EPOCH.checked_add(since_epoch)
}

/// A TLS connection after its handshake.
pub type Stream<IO> = tokio_rustls::server::TlsStream<IO>;

/// What the first bytes of a connection say.
enum Opening {
    /// A TLS record (0x16 handshake).
    Tls,
    /// Letters: someone speaks plain HTTP to the TLS port.
    PlainHttp,
    /// Anything else (or the client closed).
    Other,
}

async fn opening(tcp: &TcpStream) -> Opening {
    let mut first = [0u8; 1];
    match tcp.peek(&mut first).await {
        Ok(1) if first[0] == 0x16 => Opening::Tls,
        Ok(1) if first[0].is_ascii_uppercase() => Opening::PlainHttp,
        _ => Opening::Other,
    }
}

/// The answer to plain HTTP on the TLS port.
const PLAIN_HTTP_ANSWER: &[u8] = b"HTTP/1.0 400 Bad Request\r\nContent-Type: text/plain\r\n\
Content-Length: 48\r\nConnection: close\r\n\r\nThis server speaks HTTPS: use an https:// URL.\r\n";

/// Answers a plain-HTTP client with [`PLAIN_HTTP_ANSWER`], reading (and dropping) what it
/// sent for a moment so the close does not reset the connection before it reads the answer.
async fn refuse_plain_http<IO>(mut io: IO)
where
    IO: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let _ = tokio::time::timeout(Duration::from_secs(2), async {
        let mut buf = [0u8; 4096];
        // The request head (bounded): what is there now, then the answer.
        let _ = io.read(&mut buf).await;
        io.write_all(PLAIN_HTTP_ANSWER).await?;
        io.flush().await?;
        io.shutdown().await?;
        let mut left = 64 * 1024usize;
        while left > 0 {
            match io.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => left = left.saturating_sub(n),
            }
        }
        Ok::<_, io::Error>(())
    })
    .await;
}

/// After a refused handshake (the alert is written): closes our side and reads what the
/// client still sends for a moment, so the alert reaches it instead of a reset. With TLS
/// 1.3 a client whose certificate is refused has already sent its request when the
/// alert comes; closing at once would reset the connection and lose the alert.
async fn linger<IO>(mut io: IO)
where
    IO: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let _ = tokio::time::timeout(Duration::from_secs(1), async {
        let _ = io.flush().await;
        let _ = io.shutdown().await;
        let mut buf = [0u8; 4096];
        let mut left = 64 * 1024usize;
        while left > 0 {
            match io.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => left = left.saturating_sub(n),
            }
        }
    })
    .await;
}

impl ServerTls {
    /// The main-log lines of a server started with this TLS setup: what it serves (INFO)
    /// and, when the certificate has expired or expires within 14 days, a WARN.
    pub fn log_lines(
        &self,
        section: &str,
        now: std::time::SystemTime,
    ) -> Vec<(supervisor_config::LogLevel, String)> {
        use supervisor_config::LogLevel;
        let cn = self.leaf_cn.as_deref().unwrap_or("(no CN)");
        let until = self.not_after.map(|t| {
            let t: chrono::DateTime<chrono::Utc> = t.into();
            t.format("%Y-%m-%d %H:%M:%S UTC").to_string()
        });
        let clients = match (self.client_ca, self.cn_user) {
            (false, _) => "",
            (true, false) => "; client certificates required (tls_client_ca)",
            (true, true) => {
                "; client certificates required (tls_client_ca), their CN names the user"
            }
        };
        let mut lines = vec![(
            LogLevel::Info,
            format!(
                "{section} serves HTTPS: certificate CN={cn}, valid until {}{clients}",
                until.as_deref().unwrap_or("unknown")
            ),
        )];
        if let (Some(end), Some(until)) = (self.not_after, until) {
            match end.duration_since(now) {
                Err(_) => lines.push((
                    LogLevel::Warn,
                    format!(
                        "{section}: the TLS certificate (CN={cn}) expired on {until}: clients \
                         will refuse it; renew tls_cert/tls_key and restart (SIGHUP)"
                    ),
                )),
                Ok(left) if left < EXPIRY_WARNING => lines.push((
                    LogLevel::Warn,
                    format!(
                        "{section}: the TLS certificate (CN={cn}) expires on {until}, in {}: \
                         renew tls_cert/tls_key and restart (SIGHUP)",
                        match left.as_secs() / 86_400 {
                            0 => "less than a day".to_string(),
                            1 => "1 day".to_string(),
                            n => format!("{n} days"),
                        }
                    ),
                )),
                Ok(_) => {}
            }
        }
        lines
    }

    /// Runs the server side of the handshake on an accepted connection. `io` is the
    /// connection as the HTTP layer wraps it; `tcp` gives the socket for a peek at the
    /// first byte. `None` when the client did not complete a handshake (plain HTTP is
    /// answered with a 400 first); bounding it in time is the caller's job.
    pub async fn handshake<IO>(
        &self,
        io: IO,
        tcp: impl FnOnce(&IO) -> &TcpStream,
    ) -> Option<(Stream<IO>, Option<ClientCert>)>
    where
        IO: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
    {
        match opening(tcp(&io)).await {
            Opening::Tls => {}
            Opening::PlainHttp => {
                refuse_plain_http(io).await;
                return None;
            }
            Opening::Other => return None,
        }
        let stream = match self.acceptor.accept(io).into_fallible().await {
            Ok(s) => s,
            Err((_, io)) => {
                linger(io).await;
                return None;
            }
        };
        let client = stream
            .get_ref()
            .1
            .peer_certificates()
            .and_then(|c| c.first())
            .map(|leaf| ClientCert {
                cn: subject_cn(leaf),
                cn_is_user: self.cn_user,
            });
        Some((stream, client))
    }
}

/// Serves one accepted TLS connection: the handshake, bounded like a plain connection's
/// first request head (the deadline from the accept, eviction to make room, the server's
/// stop), then HTTP over it with the connection's client certificate on every request.
pub(super) async fn serve(
    tcp: TcpStream,
    tls: Arc<ServerTls>,
    ctx: Arc<super::ServerContext>,
    mut stop: tokio::sync::watch::Receiver<bool>,
    conn: Arc<super::conns::Conn>,
) {
    let deadline = conn.accepted() + ctx.limits.head_timeout.min(super::LONGEST_TIMEOUT);
    // Reads during the handshake count as the client's: a client that sends half a
    // ClientHello is "starved" like one that sends half a request head.
    let io = super::Watched {
        io: tcp,
        conn: conn.clone(),
    };
    let done = tokio::select! {
        r = tls.handshake(io, |w| &w.io) => r,
        () = tokio::time::sleep_until(deadline.into()) => None,
        () = conn.evict.notified() => None,
        _ = stop.wait_for(|s| *s) => None,
    };
    let Some((stream, client)) = done else {
        return;
    };
    super::serve_tracked(stream, ctx, stop, conn, client).await;
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn file(key: &str, path: &Path) -> TlsFile {
        TlsFile {
            key: key.into(),
            path: path.to_path_buf(),
            origin: format!("[inet_http_server] {key} (file: '/x.conf', line 3)"),
        }
    }

    struct Pki {
        dir: tempfile::TempDir,
        ca_cert: rcgen::Certificate,
        ca_key: rcgen::KeyPair,
    }

    impl Pki {
        fn new() -> Pki {
            let ca_key = rcgen::KeyPair::generate().unwrap();
            let mut p = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
            p.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
            p.distinguished_name
                .push(rcgen::DnType::CommonName, "test CA");
            let ca_cert = p.self_signed(&ca_key).unwrap();
            Pki {
                dir: tempfile::tempdir().unwrap(),
                ca_cert,
                ca_key,
            }
        }

        fn write(&self, name: &str, text: &str) -> std::path::PathBuf {
            let p = self.dir.path().join(name);
            std::fs::write(&p, text).unwrap();
            p
        }

        /// A leaf signed by the CA: (cert path, key path).
        fn leaf(&self, name: &str, cn: &str) -> (std::path::PathBuf, std::path::PathBuf) {
            let key = rcgen::KeyPair::generate().unwrap();
            let mut p = rcgen::CertificateParams::new(vec!["localhost".into(), "127.0.0.1".into()])
                .unwrap();
            p.distinguished_name.push(rcgen::DnType::CommonName, cn);
            let cert = p.signed_by(&key, &self.ca_cert, &self.ca_key).unwrap();
            (
                self.write(&format!("{name}.crt"), &cert.pem()),
                self.write(&format!("{name}.key"), &key.serialize_pem()),
            )
        }

        fn ca(&self) -> std::path::PathBuf {
            self.write("ca.crt", &self.ca_cert.pem())
        }
    }

    fn cfg(cert: &Path, key: &Path, ca: Option<&Path>) -> InetTlsConfig {
        InetTlsConfig {
            cert: file("tls_cert", cert),
            key: file("tls_key", key),
            client_ca: ca.map(|c| file("tls_client_ca", c)),
            client_cn_user: ca.is_some(),
        }
    }

    fn err(c: &InetTlsConfig) -> String {
        let e = load(c).unwrap_err();
        assert!(e.message.contains(&format!("] {} (file", e.key)), "{e:?}");
        e.message
    }

    #[test]
    fn good_files_load() {
        let pki = Pki::new();
        let (c, k) = pki.leaf("server", "localhost");
        load(&cfg(&c, &k, None)).unwrap();
        let t = load(&cfg(&c, &k, Some(&pki.ca()))).unwrap();
        assert!(t.cn_user);
    }

    #[test]
    fn missing_and_unreadable_files_name_the_key() {
        let pki = Pki::new();
        let (c, k) = pki.leaf("server", "localhost");
        let missing = pki.dir.path().join("nope.pem");
        let e = err(&cfg(&missing, &k, None));
        assert!(
            e.starts_with("[inet_http_server] tls_cert (file: '/x.conf', line 3): cannot read "),
            "{e}"
        );
        assert!(e.ends_with("nope.pem: No such file or directory"), "{e}");
        let e = err(&cfg(&c, &missing, None));
        assert!(e.starts_with("[inet_http_server] tls_key "), "{e}");
        let e = err(&cfg(&c, &k, Some(&missing)));
        assert!(e.starts_with("[inet_http_server] tls_client_ca "), "{e}");
        let e = err(&cfg(pki.dir.path(), &k, None));
        assert!(e.contains("is a directory"), "{e}");
    }

    #[test]
    fn bad_pem_is_named() {
        let pki = Pki::new();
        let (c, k) = pki.leaf("server", "localhost");
        let junk = pki.write("junk.pem", "hello, not PEM at all\n");
        let e = err(&cfg(&junk, &k, None));
        assert!(e.starts_with("[inet_http_server] tls_cert "), "{e}");
        assert!(e.contains("holds no PEM certificate"), "{e}");
        let e = err(&cfg(&c, &junk, None));
        assert!(e.starts_with("[inet_http_server] tls_key "), "{e}");
        assert!(e.contains("holds no PEM private key"), "{e}");
        // A key file given as the certificate and the other way round.
        let e = err(&cfg(&k, &k, None));
        assert!(e.contains("holds no PEM certificate"), "{e}");
        let e = err(&cfg(&c, &c, None));
        assert!(e.contains("holds no PEM private key"), "{e}");
        let truncated = std::fs::read_to_string(&c).unwrap();
        let truncated = pki.write("cut.pem", &truncated[..truncated.len() - 30]);
        let e = err(&cfg(&truncated, &k, None));
        assert!(
            e.contains("is not valid PEM: a PEM block has no matching -----END line"),
            "{e}"
        );
        let bad64 = pki.write(
            "bad64.pem",
            "-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n",
        );
        let e = err(&cfg(&bad64, &k, None));
        assert!(e.contains("not valid base64"), "{e}");
        let e = err(&cfg(&c, &k, Some(&junk)));
        assert!(e.starts_with("[inet_http_server] tls_client_ca "), "{e}");
        assert!(e.contains("holds no PEM certificate"), "{e}");
        // Base64 that is no certificate.
        let notder = pki.write(
            "notder.pem",
            "-----BEGIN CERTIFICATE-----\naGVsbG8=\n-----END CERTIFICATE-----\n",
        );
        let e = err(&cfg(&notder, &k, None));
        assert!(e.starts_with("[inet_http_server] tls_cert "), "{e}");
        assert!(e.contains("cannot be used"), "{e}");
    }

    #[test]
    fn start_up_lines_say_what_is_served_and_warn_before_expiry() {
        let pki = Pki::new();
        let (c, k) = pki.leaf("server", "localhost");
        let t = load(&cfg(&c, &k, Some(&pki.ca()))).unwrap();
        let end = t.not_after.unwrap();
        let long_before = end - Duration::from_secs(30 * 24 * 3600);
        let lines = t.log_lines("inet_http_server", long_before);
        assert_eq!(lines.len(), 1, "{lines:?}");
        assert!(lines[0]
            .1
            .starts_with("inet_http_server serves HTTPS: certificate CN=localhost, valid until "));
        assert!(lines[0].1.ends_with("their CN names the user"), "{lines:?}");
        let soon = t.log_lines("inet_http_server", end - Duration::from_secs(3 * 24 * 3600));
        assert_eq!(soon[1].0, supervisor_config::LogLevel::Warn);
        assert!(soon[1].1.contains("in 3 days"), "{soon:?}");
        let after = t.log_lines("inet_http_server", end + Duration::from_secs(1));
        assert!(after[1].1.contains("expired on"), "{after:?}");
    }

    #[test]
    fn plain_http_answer_is_well_formed() {
        let text = std::str::from_utf8(PLAIN_HTTP_ANSWER).unwrap();
        let (head, body) = text.split_once("\r\n\r\n").unwrap();
        let len: usize = head
            .lines()
            .find_map(|l| l.strip_prefix("Content-Length: "))
            .unwrap()
            .parse()
            .unwrap();
        assert_eq!(len, body.len());
        assert!(body.starts_with("This server speaks HTTPS"));
    }

    #[test]
    fn key_must_match_certificate() {
        let pki = Pki::new();
        let (c, _) = pki.leaf("server", "localhost");
        let (_, other_key) = pki.leaf("other", "other");
        let e = err(&cfg(&c, &other_key, None));
        assert!(e.starts_with("[inet_http_server] tls_key "), "{e}");
        assert!(e.contains("does not match the certificate"), "{e}");
    }

    #[test]
    fn common_name_is_read() {
        let pki = Pki::new();
        let (c, _) = pki.leaf("client", "alice");
        let der = CertificateDer::from_pem_file(&c).unwrap();
        assert_eq!(subject_cn(&der).as_deref(), Some("alice"));
        assert_eq!(subject_cn(b"junk"), None);
        assert_eq!(not_after(b"junk"), None);
        // notAfter as rcgen wrote it (its default: 4096-01-01, a GeneralizedTime).
        let end = not_after(&der).unwrap();
        let year_4000 = std::time::UNIX_EPOCH + Duration::from_secs(64_060_588_800);
        assert!(end > year_4000, "{end:?}");
        // A UTCTime (years before 2050): 2030-01-02 00:00:00 UTC.
        let key = rcgen::KeyPair::generate().unwrap();
        let mut p = rcgen::CertificateParams::new(vec!["x".to_string()]).unwrap();
        p.not_after = rcgen::date_time_ymd(2030, 1, 2);
        let c = p.self_signed(&key).unwrap();
        assert_eq!(
            not_after(c.der()),
            Some(std::time::UNIX_EPOCH + Duration::from_secs(1_893_542_400))
        );
        assert_eq!(
            subject_cn(c.der()).as_deref(),
            Some("rcgen self signed cert")
        );
        let with = ClientCert {
            cn: Some("alice".into()),
            cn_is_user: true,
        };
        assert_eq!(with.user(), Some("alice"));
        let without = ClientCert {
            cn_is_user: false,
            ..with
        };
        assert_eq!(without.user(), None);
    }
}
