//! `https://` server URLs (supervisor-rs; see docs/tls.md).
//!
//! The server's certificate is verified against `tls_ca=` of `[supervisorctl]` when it
//! is set, else against the system's trusted roots (read by rustls-native-certs: the
//! `SSL_CERT_FILE`/`SSL_CERT_DIR` variables when set, else the distribution's bundle,
//! `/etc/ssl/certs` on Debian). The host name (or IP address) of the URL must be one the
//! certificate names. `--insecure` skips the certificate check (the handshake's own
//! signatures are still checked) and says so on stderr every time. `tls_cert=` and
//! `tls_key=` give a client certificate for servers with `tls_client_ca`.
//!
//! Failures are reported as [`TlsProblem`]s: one plain stdout line like the other
//! connection problems (`https://h:9001 certificate not trusted`) and a `hint:` line.

use std::io;
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::pem::{self, PemObject};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{AlertDescription, CertificateError, ClientConfig, DigitallySignedStruct};
use rustls::{ClientConnection, RootCertStore, SignatureScheme, StreamOwned};

/// The longest a TLS handshake may take before the connection is given up.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(30);

/// The largest PEM file read.
const MAX_PEM_FILE: u64 = 16 * 1024 * 1024;

/// What the client uses for `https://` URLs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TlsOptions {
    /// `tls_ca=`: CA certificates to trust instead of the system's roots.
    pub ca: Option<PathBuf>,
    /// `tls_cert=`: the client certificate chain.
    pub cert: Option<PathBuf>,
    /// `tls_key=`: its private key.
    pub key: Option<PathBuf>,
    /// `--insecure`: do not verify the server's certificate.
    pub insecure: bool,
}

/// The warning printed on stderr whenever `--insecure` is in effect.
pub const INSECURE_WARNING: &str = "warning: --insecure: the server's TLS certificate is NOT \
verified; anyone on the network path can impersonate supervisord and read the password";

/// Why an `https://` connection failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TlsProblem {
    /// The certificate does not chain to a trusted CA.
    NotTrusted,
    /// The certificate is not valid for the URL's host.
    NameMismatch,
    /// The certificate has expired.
    Expired,
    /// The certificate is not valid yet.
    NotYetValid,
    /// The server asks for a client certificate and none was given.
    ClientCertRequired,
    /// The server refused the client certificate given.
    ClientCertRefused,
    /// The server does not speak TLS (a plain HTTP server, most likely).
    NotTls,
    /// An `http://` URL reached a server that speaks only HTTPS (supervisord's 400).
    WantsTls,
    /// The client's own TLS files could not be used (message names the key).
    Setup(String),
    /// Any other TLS failure (rustls's words).
    Other(String),
}

/// How supervisord's answer to plain HTTP on a TLS port begins.
pub const PLAIN_HTTP_REFUSAL: &[u8] = b"This server speaks HTTPS";

/// The error for a 400 whose body is [`PLAIN_HTTP_REFUSAL`]: an `http://` URL used where
/// `https://` is needed.
pub fn wants_tls(status: u16, body: &[u8]) -> Option<io::Error> {
    (status == 400 && body.starts_with(PLAIN_HTTP_REFUSAL)).then(|| io::Error::other(WantsTls))
}

#[derive(Debug)]
struct WantsTls;

impl std::fmt::Display for WantsTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the server speaks HTTPS")
    }
}

impl std::error::Error for WantsTls {}

/// The setup error carried inside an `io::Error` (so it travels the transport's paths).
#[derive(Debug)]
struct SetupError(String);

impl std::fmt::Display for SetupError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for SetupError {}

impl TlsProblem {
    /// The TLS problem an I/O error stands for, if it is one.
    pub fn of(e: &io::Error) -> Option<TlsProblem> {
        let inner = e.get_ref()?;
        if let Some(s) = inner.downcast_ref::<SetupError>() {
            return Some(TlsProblem::Setup(s.0.clone()));
        }
        if inner.is::<WantsTls>() {
            return Some(TlsProblem::WantsTls);
        }
        let r = inner.downcast_ref::<rustls::Error>()?;
        Some(match r {
            rustls::Error::InvalidCertificate(c) => match c {
                CertificateError::UnknownIssuer | CertificateError::BadSignature => {
                    TlsProblem::NotTrusted
                }
                CertificateError::NotValidForName
                | CertificateError::NotValidForNameContext { .. } => TlsProblem::NameMismatch,
                CertificateError::Expired | CertificateError::ExpiredContext { .. } => {
                    TlsProblem::Expired
                }
                CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => {
                    TlsProblem::NotYetValid
                }
                other => TlsProblem::Other(format!("invalid server certificate ({other:?})")),
            },
            rustls::Error::AlertReceived(a) => match a {
                AlertDescription::CertificateRequired => TlsProblem::ClientCertRequired,
                AlertDescription::BadCertificate
                | AlertDescription::UnknownCA
                | AlertDescription::CertificateUnknown
                | AlertDescription::CertificateExpired
                | AlertDescription::CertificateRevoked
                | AlertDescription::UnsupportedCertificate
                | AlertDescription::AccessDenied => TlsProblem::ClientCertRefused,
                other => TlsProblem::Other(format!("the server ended the handshake ({other:?})")),
            },
            rustls::Error::InvalidMessage(_) | rustls::Error::InappropriateMessage { .. } => {
                TlsProblem::NotTls
            }
            other => TlsProblem::Other(other.to_string()),
        })
    }

    /// The stdout line, in the style of the other connection problems.
    pub fn line(&self, serverurl: &str) -> String {
        match self {
            TlsProblem::NotTrusted => format!("{serverurl} certificate not trusted"),
            TlsProblem::NameMismatch => format!("{serverurl} certificate name mismatch"),
            TlsProblem::Expired => format!("{serverurl} certificate expired"),
            TlsProblem::NotYetValid => format!("{serverurl} certificate not yet valid"),
            TlsProblem::ClientCertRequired => {
                format!("{serverurl} requires a client certificate")
            }
            TlsProblem::ClientCertRefused => {
                format!("{serverurl} refused the client certificate")
            }
            TlsProblem::NotTls => format!("{serverurl} does not speak TLS"),
            TlsProblem::WantsTls => format!("{serverurl} speaks HTTPS only"),
            TlsProblem::Setup(m) => format!("{serverurl} TLS setup failed: {m}"),
            TlsProblem::Other(m) => format!("{serverurl} TLS error: {m}"),
        }
    }

    /// What to check (one `hint: ` line for stderr).
    pub fn hint(&self, host: &str) -> String {
        match self {
            TlsProblem::NotTrusted => "hint: the server's certificate is not signed by a CA this \
                client trusts: set tls_ca= in [supervisorctl] to the PEM file of the CA that \
                signed it (without tls_ca the system's trusted roots are used)"
                .to_string(),
            TlsProblem::NameMismatch => format!(
                "hint: the server's certificate is not issued for {host:?}: connect with a host \
                 name or IP address the certificate lists (its subjectAltName), or reissue it"
            ),
            TlsProblem::Expired | TlsProblem::NotYetValid => "hint: check the validity dates of \
                the server's certificate (openssl x509 -noout -dates -in CERT) and this \
                machine's clock; renew the certificate and reload supervisord"
                .to_string(),
            TlsProblem::ClientCertRequired => "hint: supervisord has tls_client_ca set and \
                accepts only clients with a certificate: set tls_cert= and tls_key= in \
                [supervisorctl]"
                .to_string(),
            TlsProblem::ClientCertRefused => "hint: supervisord does not trust this client \
                certificate: it must be signed by a CA in supervisord's tls_client_ca, and be \
                valid for client authentication"
                .to_string(),
            TlsProblem::NotTls => "hint: nothing speaks TLS on that port (a plain HTTP \
                server?): use an http:// URL, or set tls_cert=/tls_key= in supervisord's \
                [inet_http_server]"
                .to_string(),
            TlsProblem::WantsTls => "hint: supervisord has tls_cert= on this port: use an \
                https:// URL (serverurl= in [supervisorctl] or -s), with tls_ca= if its \
                certificate is not signed by a CA of the system"
                .to_string(),
            TlsProblem::Setup(_) => "hint: tls_ca=, tls_cert= and tls_key= in [supervisorctl] \
                must name readable PEM files"
                .to_string(),
            TlsProblem::Other(_) => "hint: the TLS handshake with supervisord failed; its \
                main log may say more"
                .to_string(),
        }
    }

    /// The exit status for this problem: 77 (no permission, as for a refused login) when
    /// the server refuses our certificate, else 1.
    pub fn exit_status(&self) -> i32 {
        match self {
            TlsProblem::ClientCertRequired | TlsProblem::ClientCertRefused => 77,
            _ => 1,
        }
    }
}

fn setup(message: String) -> io::Error {
    io::Error::other(SetupError(message))
}

fn read_pem(key: &str, path: &Path) -> Result<Vec<u8>, String> {
    use std::io::Read;
    let text = |e: &io::Error| {
        let s = e.to_string();
        match s.find(" (os error") {
            Some(i) => s[..i].to_string(),
            None => s,
        }
    };
    let f = std::fs::File::open(path)
        .map_err(|e| format!("{key}: cannot read {}: {}", path.display(), text(&e)))?;
    let mut bytes = Vec::new();
    f.take(MAX_PEM_FILE + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("{key}: cannot read {}: {}", path.display(), text(&e)))?;
    if bytes.len() as u64 > MAX_PEM_FILE {
        return Err(format!(
            "{key}: {} is too large for a PEM file",
            path.display()
        ));
    }
    Ok(bytes)
}

fn pem_words(e: &pem::Error) -> String {
    match e {
        pem::Error::MissingSectionEnd { .. } => "a PEM block has no matching -----END line".into(),
        pem::Error::IllegalSectionStart { .. } => "a -----BEGIN line is malformed".into(),
        pem::Error::Base64Decode(_) => "a PEM block is not valid base64".into(),
        other => other.to_string(),
    }
}

fn read_certs(key: &str, path: &Path) -> Result<Vec<CertificateDer<'static>>, String> {
    let bytes = read_pem(key, path)?;
    let certs = CertificateDer::pem_slice_iter(&bytes)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| {
            format!(
                "{key}: {} is not valid PEM: {}",
                path.display(),
                pem_words(&e)
            )
        })?;
    if certs.is_empty() {
        return Err(format!(
            "{key}: {} holds no PEM certificate (no -----BEGIN CERTIFICATE----- block)",
            path.display()
        ));
    }
    Ok(certs)
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Accepts any server certificate (`--insecure`); handshake signatures are still checked.
#[derive(Debug)]
struct NoVerification(Arc<rustls::crypto::CryptoProvider>);

impl ServerCertVerifier for NoVerification {
    fn verify_server_cert(
        &self,
        _: &CertificateDer<'_>,
        _: &[CertificateDer<'_>],
        _: &ServerName<'_>,
        _: &[u8],
        _: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// Builds the client configuration for `opts` (errors name the key).
pub fn client_config(opts: &TlsOptions) -> Result<Arc<ClientConfig>, String> {
    let provider = provider();
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS setup: {e}"))?;
    let builder = if opts.insecure {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(NoVerification(provider)))
    } else {
        let mut roots = RootCertStore::empty();
        match &opts.ca {
            Some(ca) => {
                for c in read_certs("tls_ca", ca)? {
                    roots.add(c).map_err(|e| {
                        format!(
                            "tls_ca: {} holds a certificate that cannot be a CA: {e}",
                            ca.display()
                        )
                    })?;
                }
            }
            None => {
                let found = rustls_native_certs::load_native_certs();
                // Certificates of the store that rustls cannot use are skipped.
                let (added, _) = roots.add_parsable_certificates(found.certs);
                if added == 0 {
                    return Err(
                        "no trusted CA certificates found on this system (set tls_ca= \
                                in [supervisorctl], or SSL_CERT_FILE)"
                            .to_string(),
                    );
                }
            }
        }
        builder.with_root_certificates(roots)
    };
    let mut config = match (&opts.cert, &opts.key) {
        (Some(cert), Some(key)) => {
            let certs = read_certs("tls_cert", cert)?;
            let bytes = read_pem("tls_key", key)?;
            let pk = PrivateKeyDer::from_pem_slice(&bytes).map_err(|e| match e {
                pem::Error::NoItemsFound => {
                    format!("tls_key: {} holds no PEM private key", key.display())
                }
                e => format!(
                    "tls_key: {} is not valid PEM: {}",
                    key.display(),
                    pem_words(&e)
                ),
            })?;
            builder
                .with_client_auth_cert(certs, pk)
                .map_err(|e| match e {
                    rustls::Error::InconsistentKeys(_) => format!(
                        "tls_key: the key in {} does not match the certificate in {} (tls_cert)",
                        key.display(),
                        cert.display()
                    ),
                    e => format!("tls_cert/tls_key cannot be used: {e}"),
                })?
        }
        _ => builder.with_no_client_auth(),
    };
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

static OPTIONS: OnceLock<TlsOptions> = OnceLock::new();
static CONFIG: OnceLock<Result<Arc<ClientConfig>, String>> = OnceLock::new();

/// Sets the options of this process's `https://` connections (once, at start-up; the
/// first call wins). Prints [`INSECURE_WARNING`] on stderr when `insecure` is set.
pub fn configure(opts: TlsOptions) {
    if opts.insecure {
        eprintln!("{INSECURE_WARNING}");
    }
    let _ = OPTIONS.set(opts);
}

fn process_config() -> Result<Arc<ClientConfig>, String> {
    CONFIG
        .get_or_init(|| client_config(OPTIONS.get_or_init(TlsOptions::default)))
        .clone()
}

/// A TLS connection.
pub type TlsStream = StreamOwned<ClientConnection, TcpStream>;

/// Connects to `host:port` and completes the handshake with the process's options.
pub fn connect(host: &str, port: u16) -> io::Result<TlsStream> {
    let config = process_config().map_err(setup)?;
    connect_with(config, host, port)
}

/// Connects to `host:port` and completes the handshake with `config`.
pub fn connect_with(config: Arc<ClientConfig>, host: &str, port: u16) -> io::Result<TlsStream> {
    let name = ServerName::try_from(host.to_string()).map_err(|_| {
        setup(format!(
            "{host:?} is not a host name or IP address TLS can verify"
        ))
    })?;
    let mut sock = TcpStream::connect((host, port))?;
    let _ = sock.set_nodelay(true);
    let mut conn = ClientConnection::new(config, name)
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
    sock.set_read_timeout(Some(HANDSHAKE_TIMEOUT))?;
    sock.set_write_timeout(Some(HANDSHAKE_TIMEOUT))?;
    while conn.is_handshaking() {
        conn.complete_io(&mut sock)?;
    }
    // Whatever the handshake left to send (TLS 1.3 sends its Finished last).
    while conn.wants_write() {
        conn.write_tls(&mut sock)?;
    }
    sock.set_read_timeout(None)?;
    sock.set_write_timeout(None)?;
    Ok(StreamOwned::new(conn, sock))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, text).unwrap();
        p
    }

    #[test]
    fn setup_errors_name_the_key() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("none.pem");
        let e = client_config(&TlsOptions {
            ca: Some(missing.clone()),
            ..TlsOptions::default()
        })
        .unwrap_err();
        assert!(e.starts_with("tls_ca: cannot read "), "{e}");
        assert!(e.ends_with("none.pem: No such file or directory"), "{e}");
        let junk = write(dir.path(), "junk.pem", "not pem\n");
        let e = client_config(&TlsOptions {
            ca: Some(junk.clone()),
            ..TlsOptions::default()
        })
        .unwrap_err();
        assert!(e.contains("holds no PEM certificate"), "{e}");

        let ca_key = rcgen::KeyPair::generate().unwrap();
        let mut p = rcgen::CertificateParams::new(vec!["localhost".into()]).unwrap();
        p.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        let ca = p.self_signed(&ca_key).unwrap();
        let ca_path = write(dir.path(), "ca.pem", &ca.pem());
        let other_key = rcgen::KeyPair::generate().unwrap();
        let key_path = write(dir.path(), "k.pem", &other_key.serialize_pem());
        client_config(&TlsOptions {
            ca: Some(ca_path.clone()),
            ..TlsOptions::default()
        })
        .unwrap();
        let e = client_config(&TlsOptions {
            ca: Some(ca_path.clone()),
            cert: Some(ca_path.clone()),
            key: Some(key_path),
            insecure: false,
        })
        .unwrap_err();
        assert!(e.contains("does not match"), "{e}");
        let e = client_config(&TlsOptions {
            ca: Some(ca_path.clone()),
            cert: Some(ca_path.clone()),
            key: Some(junk),
            insecure: false,
        })
        .unwrap_err();
        assert!(e.starts_with("tls_key: "), "{e}");
        assert!(e.contains("holds no PEM private key"), "{e}");
    }

    #[test]
    fn problems_from_errors() {
        let wrap = |e: rustls::Error| io::Error::new(io::ErrorKind::InvalidData, e);
        let p = |e| TlsProblem::of(&wrap(e));
        assert_eq!(
            p(rustls::Error::InvalidCertificate(
                CertificateError::UnknownIssuer
            )),
            Some(TlsProblem::NotTrusted)
        );
        assert_eq!(
            p(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName
            )),
            Some(TlsProblem::NameMismatch)
        );
        assert_eq!(
            p(rustls::Error::InvalidCertificate(CertificateError::Expired)),
            Some(TlsProblem::Expired)
        );
        assert_eq!(
            p(rustls::Error::InvalidCertificate(
                CertificateError::NotValidYet
            )),
            Some(TlsProblem::NotYetValid)
        );
        assert_eq!(
            p(rustls::Error::InvalidMessage(
                rustls::InvalidMessage::InvalidContentType
            )),
            Some(TlsProblem::NotTls)
        );
        assert_eq!(
            p(rustls::Error::AlertReceived(
                AlertDescription::CertificateRequired
            )),
            Some(TlsProblem::ClientCertRequired)
        );
        assert_eq!(
            p(rustls::Error::AlertReceived(AlertDescription::UnknownCA)),
            Some(TlsProblem::ClientCertRefused)
        );
        assert_eq!(TlsProblem::of(&io::Error::from_raw_os_error(111)), None);
        assert_eq!(
            TlsProblem::NotTrusted.line("https://h:1"),
            "https://h:1 certificate not trusted"
        );
        assert_eq!(TlsProblem::ClientCertRefused.exit_status(), 77);
        assert_eq!(TlsProblem::NameMismatch.exit_status(), 1);
        let w = wants_tls(400, b"This server speaks HTTPS: use an https:// URL.\r\n").unwrap();
        assert_eq!(TlsProblem::of(&w), Some(TlsProblem::WantsTls));
        assert!(wants_tls(400, b"<html>").is_none());
        assert!(wants_tls(200, PLAIN_HTTP_REFUSAL).is_none());
        let s = TlsProblem::of(&setup("tls_ca: x".into())).unwrap();
        assert_eq!(s.line("https://h"), "https://h TLS setup failed: tls_ca: x");
    }
}
