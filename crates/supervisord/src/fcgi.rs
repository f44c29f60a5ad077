//! The shared listening socket of an `[fcgi-program:x]` group.
//!
//! The daemon creates it (bind + listen, plus owner and mode for unix sockets) before the
//! first child of the group is spawned, passes it to every child as fd 0
//! (`SpawnRequest::fcgi_socket`), and closes it when the last child is gone. Reference
//! counting belongs to the caller; this module creates and closes, with the reference's
//! log texts.

use std::io;
use std::net::{TcpListener, ToSocketAddrs};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixListener;
use std::path::PathBuf;

use supervisor_config::{FcgiSocketConfig, SocketAddress};

/// The URL the reference shows for a socket: `tcp://<host lower-cased>:<port>` or
/// `unix://<path>`.
pub fn socket_url(address: &SocketAddress) -> String {
    match address {
        SocketAddress::Tcp { host, port } => format!("tcp://{}:{}", host.to_lowercase(), port),
        SocketAddress::Unix(p) => format!("unix://{}", p.display()),
    }
}

/// `Creating socket <url>` (INFO, before binding).
pub fn creating_message(config: &FcgiSocketConfig) -> String {
    format!("Creating socket {}", socket_url(&config.address))
}

/// `Closing socket <url>` (INFO).
pub fn closing_message(config: &FcgiSocketConfig) -> String {
    format!("Closing socket {}", socket_url(&config.address))
}

/// A bound, listening fcgi socket (blocking, close-on-exec in the daemon).
#[derive(Debug)]
pub struct FcgiSocket {
    fd: OwnedFd,
    url: String,
    unix_path: Option<PathBuf>,
}

impl FcgiSocket {
    /// The socket, to pass as `SpawnRequest::fcgi_socket`.
    pub fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }

    /// Its URL as shown in log lines.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The socket file of a unix socket.
    pub fn unix_path(&self) -> Option<&std::path::Path> {
        self.unix_path.as_deref()
    }

    /// Closes the socket (the reference leaves a unix socket file in place; so do we,
    /// the next create replaces it).
    pub fn close(self) {
        drop(self.fd);
    }
}

/// Python's `str()` of a socket error: `[Errno 98] Address already in use`.
fn py_errno_text(e: &io::Error) -> String {
    match e.raw_os_error() {
        Some(code) => {
            let text = io::Error::from_raw_os_error(code).to_string();
            let text = text
                .strip_suffix(&format!(" (os error {code})"))
                .unwrap_or(&text)
                .to_string();
            format!("[Errno {code}] {text}")
        }
        None => e.to_string(),
    }
}

fn listen(fd: &OwnedFd, backlog: Option<u32>) -> io::Result<()> {
    let backlog = backlog
        .map(|b| b.min(i32::MAX as u32) as i32)
        .unwrap_or(libc::SOMAXCONN);
    // SAFETY: listen on a socket we own; calling it again just updates the backlog.
    if unsafe { libc::listen(fd.as_raw_fd(), backlog) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

fn create_inner(config: &FcgiSocketConfig) -> io::Result<FcgiSocket> {
    let url = socket_url(&config.address);
    match &config.address {
        SocketAddress::Tcp { host, port } => {
            let addr = (host.as_str(), *port)
                .to_socket_addrs()?
                .find(|a| a.is_ipv4())
                .ok_or_else(|| io::Error::from_raw_os_error(libc::EADDRNOTAVAIL))?;
            let listener = TcpListener::bind(addr)?;
            let fd = OwnedFd::from(listener);
            listen(&fd, config.backlog)?;
            Ok(FcgiSocket {
                fd,
                url,
                unix_path: None,
            })
        }
        SocketAddress::Unix(path) => {
            if std::fs::symlink_metadata(path).is_ok() {
                std::fs::remove_file(path)?;
            }
            let cleanup = |e: io::Error| {
                let _ = std::fs::remove_file(path);
                e
            };
            let listener = UnixListener::bind(path)?;
            let fd = OwnedFd::from(listener);
            if let Some((uid, gid)) = config.owner {
                std::os::unix::fs::chown(path, Some(uid), Some(gid)).map_err(cleanup)?;
            }
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(config.mode))
                .map_err(cleanup)?;
            listen(&fd, config.backlog).map_err(cleanup)?;
            Ok(FcgiSocket {
                fd,
                url,
                unix_path: Some(path.clone()),
            })
        }
    }
}

/// Creates, binds and listens. The error is the reference's start-up failure text:
/// `Could not create FastCGI socket <url>: <error>`.
pub fn create(config: &FcgiSocketConfig) -> Result<FcgiSocket, String> {
    create_inner(config).map_err(|e| {
        format!(
            "Could not create FastCGI socket {}: {}",
            socket_url(&config.address),
            py_errno_text(&e)
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};

    fn tcp(host: &str, port: u16) -> FcgiSocketConfig {
        FcgiSocketConfig {
            url: format!("tcp://{host}:{port}"),
            address: SocketAddress::Tcp {
                host: host.into(),
                port,
            },
            backlog: Some(5),
            owner: None,
            mode: 0o700,
        }
    }

    #[test]
    fn tcp_socket_accepts_connections() {
        let cfg = tcp("127.0.0.1", 0);
        assert_eq!(creating_message(&cfg), "Creating socket tcp://127.0.0.1:0");
        let sock = create(&cfg).unwrap();
        let listener = TcpListener::from(sock.fd.try_clone().unwrap());
        let addr = listener.local_addr().unwrap();
        let mut c = std::net::TcpStream::connect(addr).unwrap();
        let (mut s, _) = listener.accept().unwrap();
        c.write_all(b"ping").unwrap();
        let mut buf = [0u8; 4];
        s.read_exact(&mut buf).unwrap();
        assert_eq!(&buf, b"ping");
        assert_eq!(closing_message(&cfg), "Closing socket tcp://127.0.0.1:0");
        sock.close();
    }

    #[test]
    fn tcp_port_in_use_is_reported() {
        let first = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = first.local_addr().unwrap().port();
        // std sets SO_REUSEADDR, which does not allow two listeners on one port.
        let err = create(&tcp("LOCALHOST", port)).unwrap_err();
        assert_eq!(
            err,
            format!("Could not create FastCGI socket tcp://localhost:{port}: [Errno 98] Address already in use")
        );
    }

    #[test]
    fn unix_socket_mode_and_replacement() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("fcgi.sock");
        std::fs::write(&path, "stale").unwrap();
        let cfg = FcgiSocketConfig {
            url: format!("unix://{}", path.display()),
            address: SocketAddress::Unix(path.clone()),
            backlog: None,
            owner: Some((
                nix::unistd::getuid().as_raw(),
                nix::unistd::getgid().as_raw(),
            )),
            mode: 0o640,
        };
        let sock = create(&cfg).unwrap();
        assert_eq!(sock.url(), format!("unix://{}", path.display()));
        let meta = std::fs::metadata(&path).unwrap();
        assert_eq!(meta.permissions().mode() & 0o777, 0o640);
        std::os::unix::net::UnixStream::connect(&path).unwrap();
        sock.close();
        let missing = FcgiSocketConfig {
            address: SocketAddress::Unix(dir.path().join("no/such/dir/s.sock")),
            ..cfg
        };
        assert!(create(&missing)
            .unwrap_err()
            .starts_with("Could not create FastCGI socket unix://"));
    }
}
