//! TLS on the inet server (issue 13 item 5) over real sockets in front of the fake
//! backend: HTTPS answers, client certificates (required, verified, CN as the user),
//! plain HTTP on the TLS port, and the connection bounds applied to TLS connections
//! (a handshake that stalls is closed at the first-head deadline, and is evicted to make
//! room at the connection cap).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use supervisor_config::{Credentials, InetHttpServerConfig, InetTlsConfig, TlsFile};
use supervisor_protocol::xmlrpc::{parse_method_response, write_method_call};
use supervisor_protocol::Value;
use supervisord::http::{self, Limits, Listener, NoWebUi, ServerContext};
use supervisord::rpc::fake::{run_loop, FakeBackend};

/// A test CA with helpers to issue leaf certificates into a temp dir.
struct Pki {
    dir: tempfile::TempDir,
    ca_cert: rcgen::Certificate,
    ca_key: rcgen::KeyPair,
}

impl Pki {
    fn new(name: &str) -> Pki {
        let ca_key = rcgen::KeyPair::generate().unwrap();
        let mut p = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        p.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        p.distinguished_name.push(rcgen::DnType::CommonName, name);
        let ca_cert = p.self_signed(&ca_key).unwrap();
        Pki {
            dir: tempfile::tempdir().unwrap(),
            ca_cert,
            ca_key,
        }
    }

    fn write(&self, name: &str, text: &str) -> PathBuf {
        let p = self.dir.path().join(name);
        std::fs::write(&p, text).unwrap();
        p
    }

    fn ca(&self) -> PathBuf {
        self.write("ca.crt", &self.ca_cert.pem())
    }

    /// (cert, key) files of a leaf for `names` with subject CN `cn`.
    fn leaf(&self, file: &str, cn: &str, names: &[&str]) -> (PathBuf, PathBuf) {
        let key = rcgen::KeyPair::generate().unwrap();
        let mut p =
            rcgen::CertificateParams::new(names.iter().map(|s| s.to_string()).collect::<Vec<_>>())
                .unwrap();
        p.distinguished_name.push(rcgen::DnType::CommonName, cn);
        let cert = p.signed_by(&key, &self.ca_cert, &self.ca_key).unwrap();
        (
            self.write(&format!("{file}.crt"), &cert.pem()),
            self.write(&format!("{file}.key"), &key.serialize_pem()),
        )
    }
}

fn tls_file(key: &str, path: &Path) -> TlsFile {
    TlsFile {
        key: key.into(),
        path: path.to_path_buf(),
        origin: format!("[inet_http_server] {key}"),
    }
}

struct Server {
    port: u16,
}

fn start(tls: InetTlsConfig, creds: Option<Credentials>, limits: Limits) -> Server {
    let loaded = Arc::new(http::tls::load(&tls).unwrap());
    let tl = http::bind_inet(&InetHttpServerConfig {
        section: "inet_http_server".into(),
        host: "127.0.0.1".into(),
        port: 0,
        credentials: creds.clone(),
        tls: Some(tls),
    })
    .unwrap();
    let port = tl.local_addr().unwrap().port();
    let fake = FakeBackend::new(&[("cat", &["cat"])]);
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let (tx, rx) = tokio::sync::mpsc::channel(1024);
            let ctx = Arc::new(ServerContext {
                credentials: creds,
                access: None,
                control: tx,
                web: Arc::new(NoWebUi),
                limits,
                log: None,
                log_level: supervisor_config::LogLevel::Info,
                health_open: false,
            });
            tokio::spawn(http::serve(
                Listener::from_std_tls(tl, loaded).unwrap(),
                ctx.clone(),
            ));
            drop(ctx);
            run_loop(fake, rx, Duration::from_millis(200)).await;
        });
    });
    Server { port }
}

/// A rustls client trusting `ca`, with an optional client certificate.
fn client_config(ca: &Path, client: Option<(&Path, &Path)>) -> Arc<rustls::ClientConfig> {
    let mut roots = rustls::RootCertStore::empty();
    for c in CertificateDer::pem_file_iter(ca).unwrap() {
        roots.add(c.unwrap()).unwrap();
    }
    let b = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots);
    let c = match client {
        Some((cert, key)) => b
            .with_client_auth_cert(
                CertificateDer::pem_file_iter(cert)
                    .unwrap()
                    .map(|c| c.unwrap())
                    .collect(),
                PrivateKeyDer::from_pem_file(key).unwrap(),
            )
            .unwrap(),
        None => b.with_no_client_auth(),
    };
    let mut c = c;
    // What browsers and curl offer: the server must pick HTTP/1.1.
    c.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Arc::new(c)
}

type Tls = rustls::StreamOwned<rustls::ClientConnection, TcpStream>;

fn connect(port: u16, config: Arc<rustls::ClientConfig>) -> Tls {
    let sock = TcpStream::connect(("127.0.0.1", port)).unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let conn =
        rustls::ClientConnection::new(config, ServerName::try_from("localhost").unwrap()).unwrap();
    rustls::StreamOwned::new(conn, sock)
}

fn rpc_request(name: &str, extra: &str) -> Vec<u8> {
    let body = write_method_call(name, &[]);
    let mut req = format!(
        "POST /RPC2 HTTP/1.1\r\nHost: localhost\r\nContent-Length: {}\r\n{extra}\r\n",
        body.len()
    )
    .into_bytes();
    req.extend_from_slice(&body);
    req
}

/// One response with a Content-Length body: (status, body), or the error that ended it.
fn read_response(c: &mut impl Read) -> std::io::Result<(u16, Vec<u8>)> {
    let mut head = Vec::new();
    let mut b = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if c.read(&mut b)? == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        head.push(b[0]);
    }
    let head = String::from_utf8(head).unwrap();
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    let len = head
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("content-length")
                .then(|| v.trim().parse::<usize>().unwrap())
        })
        .unwrap_or(0);
    let mut body = vec![0u8; len];
    c.read_exact(&mut body)?;
    Ok((status, body))
}

fn call(c: &mut (impl Read + Write), extra: &str) -> std::io::Result<(u16, Vec<u8>)> {
    c.write_all(&rpc_request("supervisor.getPID", extra))?;
    c.flush()?;
    read_response(c)
}

/// Whether the server closed `c` within `within` (EOF or reset).
fn closed_within(c: &mut impl Read, within: Duration) -> bool {
    let t0 = Instant::now();
    let mut b = [0u8; 64];
    loop {
        match c.read(&mut b) {
            Ok(0) | Err(_) if t0.elapsed() <= within => return true,
            Ok(0) | Err(_) => return false,
            Ok(_) => {}
        }
    }
}

fn server_tls(pki: &Pki, client_ca: Option<&Path>) -> InetTlsConfig {
    let (cert, key) = pki.leaf("server", "localhost", &["localhost", "127.0.0.1"]);
    InetTlsConfig {
        cert: tls_file("tls_cert", &cert),
        key: tls_file("tls_key", &key),
        client_ca: client_ca.map(|c| tls_file("tls_client_ca", c)),
        client_cn_user: client_ca.is_some(),
    }
}

#[test]
fn https_answers_on_a_kept_alive_connection() {
    let pki = Pki::new("test CA");
    let s = start(server_tls(&pki, None), None, Limits::default());
    let mut c = connect(s.port, client_config(&pki.ca(), None));
    for _ in 0..3 {
        let (status, body) = call(&mut c, "").unwrap();
        assert_eq!(status, 200);
        assert_eq!(
            parse_method_response(&body).unwrap().unwrap(),
            Value::Int(4242)
        );
    }
    assert_eq!(
        c.conn.alpn_protocol(),
        Some(&b"http/1.1"[..]),
        "the server speaks HTTP/1.1 only"
    );
}

#[test]
fn a_client_of_another_ca_is_refused_by_its_own_check() {
    let pki = Pki::new("test CA");
    let other = Pki::new("other CA");
    let s = start(server_tls(&pki, None), None, Limits::default());
    let mut c = connect(s.port, client_config(&other.ca(), None));
    let e = call(&mut c, "").unwrap_err();
    assert!(e.to_string().contains("UnknownIssuer"), "{e}");
}

#[test]
fn client_certificates_are_required_verified_and_name_the_user() {
    let pki = Pki::new("test CA");
    let ca = pki.ca();
    let creds = Credentials {
        username: "admin".into(),
        password: "s3cret".into(),
    };
    let s = start(server_tls(&pki, Some(&ca)), Some(creds), Limits::default());
    // No client certificate: the handshake is refused.
    let mut c = connect(s.port, client_config(&ca, None));
    let e = call(&mut c, "").unwrap_err();
    assert!(e.to_string().contains("CertificateRequired"), "{e}");
    // A certificate of another CA: refused too.
    let rogue = Pki::new("rogue CA");
    let (rc, rk) = rogue.leaf("rogue", "admin", &["admin"]);
    let mut c = connect(s.port, client_config(&ca, Some((&rc, &rk))));
    assert!(call(&mut c, "").is_err());
    // CN = the configured user: authenticated without a password.
    let (ac, ak) = pki.leaf("admin", "admin", &["admin"]);
    let mut c = connect(s.port, client_config(&ca, Some((&ac, &ak))));
    let (status, _) = call(&mut c, "").unwrap();
    assert_eq!(status, 200);
    // Another CN: a verified client, but not a user: Basic auth is still wanted.
    let (oc, ok) = pki.leaf("other", "somebody", &["somebody"]);
    let mut c = connect(s.port, client_config(&ca, Some((&oc, &ok))));
    let (status, _) = call(&mut c, "").unwrap();
    assert_eq!(status, 401);
    let mut c = connect(s.port, client_config(&ca, Some((&oc, &ok))));
    let auth = format!(
        "Authorization: {}\r\n",
        supervisor_protocol::basic_auth::header_value("admin", "s3cret")
    );
    let (status, _) = call(&mut c, &auth).unwrap();
    assert_eq!(status, 200);
    // Explicit credentials are checked even with the user's certificate.
    let mut c = connect(s.port, client_config(&ca, Some((&ac, &ak))));
    let bad = format!(
        "Authorization: {}\r\n",
        supervisor_protocol::basic_auth::header_value("admin", "wrong")
    );
    let (status, _) = call(&mut c, &bad).unwrap();
    assert_eq!(status, 401);
}

#[test]
fn plain_http_on_the_tls_port_gets_a_clear_400() {
    let pki = Pki::new("test CA");
    let s = start(server_tls(&pki, None), None, Limits::default());
    let mut c = TcpStream::connect(("127.0.0.1", s.port)).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let (status, body) = call(&mut c, "").unwrap();
    assert_eq!(status, 400);
    assert_eq!(body, b"This server speaks HTTPS: use an https:// URL.\r\n");
    assert!(closed_within(&mut c, Duration::from_secs(5)));
    // Garbage that is neither TLS nor HTTP: closed.
    let mut g = TcpStream::connect(("127.0.0.1", s.port)).unwrap();
    g.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    g.write_all(b"\x00\x01\x02garbage").unwrap();
    assert!(closed_within(&mut g, Duration::from_secs(5)));
    // The server still serves TLS clients.
    let mut ok = connect(s.port, client_config(&pki.ca(), None));
    assert_eq!(call(&mut ok, "").unwrap().0, 200);
}

#[test]
fn a_stalled_handshake_is_closed_at_the_first_head_deadline() {
    let pki = Pki::new("test CA");
    let s = start(
        server_tls(&pki, None),
        None,
        Limits {
            head_timeout: Duration::from_millis(700),
            ..Limits::default()
        },
    );
    // Nothing sent at all.
    let mut silent = TcpStream::connect(("127.0.0.1", s.port)).unwrap();
    silent
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    // Half a ClientHello: a TLS record header announcing more than is sent.
    let mut half = TcpStream::connect(("127.0.0.1", s.port)).unwrap();
    half.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    half.write_all(&[0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00])
        .unwrap();
    let t0 = Instant::now();
    assert!(closed_within(&mut silent, Duration::from_secs(4)));
    assert!(closed_within(&mut half, Duration::from_secs(4)));
    let took = t0.elapsed();
    assert!(
        took >= Duration::from_millis(500) && took < Duration::from_secs(4),
        "{took:?}"
    );
    // A client that completes its handshake and request at once is served.
    let mut ok = connect(s.port, client_config(&pki.ca(), None));
    assert_eq!(call(&mut ok, "").unwrap().0, 200);
}

#[test]
fn stalled_handshakes_are_evicted_at_the_connection_cap() {
    let pki = Pki::new("test CA");
    let s = start(
        server_tls(&pki, None),
        None,
        Limits {
            // Far longer than the test: only eviction can free the slots.
            head_timeout: Duration::from_secs(60),
            max_connections: 2,
            evict_after: Duration::from_millis(200),
            evict_starved_after: Duration::from_millis(100),
            ..Limits::default()
        },
    );
    let mut stalled: Vec<TcpStream> = (0..2)
        .map(|_| {
            let c = TcpStream::connect(("127.0.0.1", s.port)).unwrap();
            c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
            c
        })
        .collect();
    stalled[1]
        .write_all(&[0x16, 0x03, 0x01, 0x02, 0x00])
        .unwrap();
    std::thread::sleep(Duration::from_millis(400));
    let t0 = Instant::now();
    let mut ok = connect(s.port, client_config(&pki.ca(), None));
    assert_eq!(call(&mut ok, "").unwrap().0, 200);
    assert!(t0.elapsed() < Duration::from_secs(5), "{:?}", t0.elapsed());
    // At least one of the stalled handshakes made room.
    let mut closed = 0;
    for c in stalled.iter_mut() {
        c.set_read_timeout(Some(Duration::from_millis(500)))
            .unwrap();
        let mut b = [0u8; 8];
        let gone = match c.read(&mut b) {
            Ok(n) => n == 0,
            Err(e) => !matches!(
                e.kind(),
                std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
            ),
        };
        closed += usize::from(gone);
    }
    assert!(closed >= 1);
}
