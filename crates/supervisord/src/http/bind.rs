//! Opening the listening sockets of `[unix_http_server]` and `[inet_http_server]`, with the
//! reference's rules and error messages. Binding is synchronous (std sockets, set
//! non-blocking) so the daemon can report errors before it starts its event loop.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, ToSocketAddrs};
use std::os::fd::AsRawFd;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::time::Duration;

use supervisor_config::{InetHttpServerConfig, UnixHttpServerConfig};

/// The listen backlog the reference uses.
pub const BACKLOG: i32 = 1024;

/// Why a server socket could not be opened. `Display` is the reference's message (the
/// daemon prints it as a usage error).
#[derive(Debug)]
pub enum BindError {
    /// Something answers on the address already.
    AddressInUse,
    /// `chown` of the socket file was refused.
    ChownNotPermitted {
        /// The socket path.
        path: PathBuf,
        /// The (uid, gid) asked for.
        owner: (u32, u32),
        /// The current user's name.
        user: String,
    },
    /// Any other OS error.
    Os(std::io::Error),
    /// The host name did not resolve.
    Resolve(String),
}

impl std::fmt::Display for BindError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BindError::AddressInUse => f.write_str(
                "Another program is already listening on a port that one of our HTTP \
servers is configured to use.  Shut this program down first before starting supervisord.",
            ),
            BindError::ChownNotPermitted { path, owner, user } => write!(
                f,
                "Not permitted to chown {} to uid/gid ({}, {}); adjust \"sockchown\" value in \
config file or on command line to values that the current user ({}) can successfully chown",
                path.display(),
                owner.0,
                owner.1,
                user
            ),
            BindError::Os(e) => {
                let code = e.raw_os_error().unwrap_or(0);
                match supervisor_protocol::errno::name(code) {
                    Some(name) => write!(
                        f,
                        "Cannot open an HTTP server: socket.error reported errno.{name} ({code})"
                    ),
                    None => write!(
                        f,
                        "Cannot open an HTTP server: socket.error reported {code}"
                    ),
                }
            }
            BindError::Resolve(host) => write!(
                f,
                "Cannot open an HTTP server: socket.error reported cannot resolve {host}"
            ),
        }
    }
}

impl std::error::Error for BindError {}

/// A second line for a unix server that could not be opened, naming what the user can
/// fix: `the directory '/x' of [unix_http_server] file=/x/s.sock does not exist` (or is
/// not a directory, is not writable, is on a read-only file system). `None` for errors
/// that are not about the socket's directory (the reference's line says enough).
pub fn unix_bind_hint(cfg: &UnixHttpServerConfig, err: &BindError) -> Option<String> {
    let BindError::Os(e) = err else {
        return None;
    };
    let dir = match cfg.file.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let (dir, why) = match e.raw_os_error()? {
        libc::ENOENT => {
            // name the first missing directory on the way (the one to create)
            let missing = dir
                .ancestors()
                .filter(|a| !a.as_os_str().is_empty())
                .filter(|a| std::fs::symlink_metadata(a).is_err())
                .last()
                .map(Path::to_path_buf)
                .unwrap_or(dir);
            (missing, "does not exist")
        }
        libc::ENOTDIR => {
            let file = dir
                .ancestors()
                .filter(|a| !a.as_os_str().is_empty())
                .filter(|a| std::fs::metadata(a).is_ok_and(|m| !m.is_dir()))
                .last()
                .map(Path::to_path_buf)
                .unwrap_or(dir);
            (file, "is not a directory")
        }
        libc::EACCES | libc::EPERM => (dir, "is not writable by this user"),
        libc::EROFS => (dir, "is on a read-only file system"),
        _ => return None,
    };
    Some(format!(
        "the directory {} of [{}] file={} {why}",
        crate::spawn::pyfmt::py_repr(&dir.to_string_lossy()),
        cfg.section,
        cfg.file.display()
    ))
}

fn os_err(e: std::io::Error) -> BindError {
    if e.raw_os_error() == Some(libc::EADDRINUSE) {
        BindError::AddressInUse
    } else {
        BindError::Os(e)
    }
}

fn relisten(fd: i32) {
    // Raise the backlog from std's default to the reference's; failure keeps the default.
    // SAFETY: fd is a valid listening socket owned by the caller.
    unsafe {
        libc::listen(fd, BACKLOG);
    }
}

/// Opens the TCP server of an `[inet_http_server]` section (SO_REUSEADDR, backlog 1024).
/// An empty host means every IPv4 interface.
pub fn bind_inet(cfg: &InetHttpServerConfig) -> Result<TcpListener, BindError> {
    let host = if cfg.host.is_empty() || cfg.host == "*" {
        "0.0.0.0"
    } else {
        cfg.host.as_str()
    };
    let addrs: Vec<SocketAddr> = (host, cfg.port)
        .to_socket_addrs()
        .map_err(|_| BindError::Resolve(host.to_string()))?
        .collect();
    let addr = addrs
        .iter()
        .find(|a| a.is_ipv4())
        .or_else(|| addrs.first())
        .copied()
        .ok_or_else(|| BindError::Resolve(host.to_string()))?;
    // std sets SO_REUSEADDR on unix listeners.
    let l = TcpListener::bind(addr).map_err(os_err)?;
    relisten(l.as_raw_fd());
    l.set_nonblocking(true).map_err(BindError::Os)?;
    Ok(l)
}

/// The socket file of a unix server, with the instance lock that makes it ours: while it
/// lives, `<file>.lock` is `flock`ed (an exclusive lock on an open file description that
/// the daemonized child inherits across its fork, close-on-exec so no program inherits
/// it). Dropping it (in the process that holds the lock) removes the socket file and the
/// lock file, then releases the lock.
#[derive(Debug)]
pub struct SocketFile {
    path: PathBuf,
    lock: Option<InstanceLock>,
}

impl SocketFile {
    /// The socket path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Removes the socket file and its lock file now (also done on drop).
    pub fn remove(&mut self) {
        if let Some(lock) = self.lock.take() {
            if !self.path.as_os_str().is_empty() {
                let _ = std::fs::remove_file(&self.path);
                self.path = PathBuf::new();
            }
            drop(lock);
        }
    }
}

impl Drop for SocketFile {
    fn drop(&mut self) {
        self.remove();
    }
}

/// An exclusive `flock` on `<socket file>.lock`, held for as long as the server runs.
#[derive(Debug)]
struct InstanceLock {
    path: PathBuf,
    _file: std::fs::File,
}

impl Drop for InstanceLock {
    fn drop(&mut self) {
        // Unlinked while still locked: a daemon that opened the old file meanwhile sees
        // that the name no longer leads to the inode it locked and tries again.
        let _ = std::fs::remove_file(&self.path);
    }
}

/// The lock file beside a socket file: `<file>.lock`.
pub fn lock_path(socket: &Path) -> PathBuf {
    let mut p = socket.as_os_str().to_owned();
    p.push(".lock");
    PathBuf::from(p)
}

/// Takes the instance lock of `socket`. `Err(AddressInUse)` when another live process
/// (running or stopped) holds it.
fn lock_instance(socket: &Path) -> Result<InstanceLock, BindError> {
    use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
    let path = lock_path(socket);
    // A lock file unlinked by its owner between our open and our flock leaves us holding
    // a lock nobody else can see; then open the new file. Bounded: each turn needs an
    // owner to exit meanwhile.
    for _ in 0..STALE_RETRIES {
        // std opens with O_CLOEXEC.
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(&path)
            .map_err(BindError::Os)?;
        // SAFETY: flock on an fd we own.
        if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } != 0 {
            let e = std::io::Error::last_os_error();
            return Err(match e.raw_os_error() {
                Some(libc::EWOULDBLOCK) => BindError::AddressInUse,
                _ => BindError::Os(e),
            });
        }
        let held = file.metadata().map_err(BindError::Os)?;
        match std::fs::metadata(&path) {
            Ok(now) if now.dev() == held.dev() && now.ino() == held.ino() => {
                return Ok(InstanceLock { path, _file: file });
            }
            _ => continue,
        }
    }
    Err(BindError::AddressInUse)
}

/// True when some process listens on `path` (a stopped one included: its backlog still
/// takes connections), or answers an HTTP request there.
fn socket_in_use(path: &Path) -> bool {
    let Ok(mut s) = UnixStream::connect(path) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
    let _ = s.set_write_timeout(Some(Duration::from_secs(2)));
    let _ = s.write_all(b"GET / HTTP/1.0\r\n\r\n");
    let mut b = [0u8; 1];
    let _ = s.read(&mut b);
    // The connection was accepted into a listening socket's backlog: not stale, whether
    // or not the listener answered in time.
    true
}

/// How many times a stale socket file is removed before giving up (the reference loops
/// forever).
const STALE_RETRIES: u32 = 20;

/// Opens the unix server of `[unix_http_server]` the reference's way: bind a temporary name
/// `<file>.<pid>`, chmod it, hard-link it to `<file>`; if the link fails and something
/// answers on the existing file, the address is in use; otherwise the file is stale: print
/// `Unlinking stale socket <file>` on stderr, remove it, wait 0.3 s and try again. Then chown.
///
/// Before any of that the instance lock `<file>.lock` is taken ([`SocketFile`]): when
/// another live daemon holds it (even a stopped one), the address is in use, whatever a
/// connection to the socket would show.
pub fn bind_unix(cfg: &UnixHttpServerConfig) -> Result<(UnixListener, SocketFile), BindError> {
    let file = &cfg.file;
    let mut lock = Some(lock_instance(file)?);
    let mut temp = file.clone().into_os_string();
    temp.push(format!(".{}", std::process::id()));
    let temp = PathBuf::from(temp);
    let _ = std::fs::remove_file(&temp);
    let mut tries = 0;
    loop {
        let l = UnixListener::bind(&temp).map_err(os_err)?;
        let res = (|| {
            std::fs::set_permissions(&temp, std::fs::Permissions::from_mode(cfg.chmod))
                .map_err(BindError::Os)?;
            std::fs::hard_link(&temp, file).map_err(BindError::Os)
        })();
        let _ = std::fs::remove_file(&temp);
        match res {
            Ok(()) => {
                let guard = SocketFile {
                    path: file.clone(),
                    lock: lock.take(),
                };
                if let Some((uid, gid)) = cfg.chown {
                    if let Err(e) = nix::unistd::chown(
                        file.as_path(),
                        Some(nix::unistd::Uid::from_raw(uid)),
                        Some(nix::unistd::Gid::from_raw(gid)),
                    ) {
                        if e == nix::errno::Errno::EPERM {
                            let user = nix::unistd::User::from_uid(nix::unistd::geteuid())
                                .ok()
                                .flatten()
                                .map(|u| u.name)
                                .unwrap_or_default();
                            return Err(BindError::ChownNotPermitted {
                                path: file.clone(),
                                owner: (uid, gid),
                                user,
                            });
                        }
                        return Err(BindError::Os(std::io::Error::from_raw_os_error(e as i32)));
                    }
                }
                relisten(l.as_raw_fd());
                l.set_nonblocking(true).map_err(BindError::Os)?;
                return Ok((l, guard));
            }
            Err(BindError::Os(e)) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                drop(l);
                if socket_in_use(file) {
                    return Err(BindError::AddressInUse);
                }
                tries += 1;
                if tries > STALE_RETRIES {
                    return Err(BindError::Os(e));
                }
                eprintln!("Unlinking stale socket {}", file.display());
                let _ = std::fs::remove_file(file);
                std::thread::sleep(Duration::from_millis(300));
            }
            Err(e) => return Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::MetadataExt;
    use std::time::Instant;

    fn cfg(file: PathBuf) -> UnixHttpServerConfig {
        UnixHttpServerConfig {
            section: "unix_http_server".into(),
            file,
            chmod: 0o700,
            chown: None,
            credentials: None,
        }
    }

    #[test]
    fn binds_chmods_and_removes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.sock");
        let mut c = cfg(path.clone());
        c.chmod = 0o760;
        let (l, guard) = bind_unix(&c).unwrap();
        let meta = std::fs::metadata(&path).unwrap();
        assert_eq!(meta.mode() & 0o777, 0o760);
        // No temporary name left behind: the socket and its lock file.
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 2);
        drop(l);
        drop(guard);
        assert!(!path.exists());
    }

    #[test]
    fn stale_socket_is_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.sock");
        // A socket file nobody listens on.
        drop(UnixListener::bind(&path).unwrap());
        assert!(path.exists());
        let (_l, _g) = bind_unix(&cfg(path.clone())).unwrap();
        assert!(UnixStream::connect(&path).is_ok());
    }

    #[test]
    fn live_socket_is_in_use() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.sock");
        let l = UnixListener::bind(&path).unwrap();
        let t = std::thread::spawn(move || {
            let (mut s, _) = l.accept().unwrap();
            let mut buf = [0u8; 64];
            let _ = s.read(&mut buf);
            let _ = s.write_all(b"HTTP/1.0 200 OK\r\n\r\n");
        });
        let err = bind_unix(&cfg(path.clone())).unwrap_err();
        assert!(matches!(err, BindError::AddressInUse));
        assert!(err
            .to_string()
            .starts_with("Another program is already listening"));
        t.join().unwrap();
        assert!(path.exists());
    }

    #[test]
    fn lock_decides_ownership() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.sock");
        let (l, guard) = bind_unix(&cfg(path.clone())).unwrap();
        assert!(lock_path(&path).exists());
        // Even with the socket file gone, a second server is refused while the lock
        // is held, and leaves the owner's files alone.
        std::fs::remove_file(&path).unwrap();
        let err = bind_unix(&cfg(path.clone())).unwrap_err();
        assert!(matches!(err, BindError::AddressInUse), "{err}");
        assert!(lock_path(&path).exists());
        drop(l);
        drop(guard);
        assert!(!lock_path(&path).exists());
        let (_l, _g) = bind_unix(&cfg(path.clone())).unwrap();
    }

    #[test]
    fn silent_listener_is_in_use() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.sock");
        // Listens but never accepts (like a stopped daemon): not stale.
        let _l = UnixListener::bind(&path).unwrap();
        let t = Instant::now();
        let err = bind_unix(&cfg(path.clone())).unwrap_err();
        assert!(matches!(err, BindError::AddressInUse), "{err}");
        assert!(t.elapsed() < Duration::from_secs(5));
        assert!(path.exists());
        assert!(!lock_path(&path).exists());
    }

    #[test]
    fn missing_directory_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().display();
        // the first missing directory on the way is the one named
        let c = cfg(dir.path().join("no/deeper/s.sock"));
        let err = bind_unix(&c).unwrap_err();
        assert_eq!(
            err.to_string(),
            "Cannot open an HTTP server: socket.error reported errno.ENOENT (2)"
        );
        assert_eq!(
            unix_bind_hint(&c, &err).unwrap(),
            format!(
                "the directory '{d}/no' of [unix_http_server] file={d}/no/deeper/s.sock \
does not exist"
            )
        );
        // nothing left behind by the failed attempt
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    #[test]
    fn file_in_the_way_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().display();
        std::fs::write(dir.path().join("f"), b"").unwrap();
        let c = cfg(dir.path().join("f/s.sock"));
        let err = bind_unix(&c).unwrap_err();
        assert!(err.to_string().ends_with("errno.ENOTDIR (20)"), "{err}");
        assert_eq!(
            unix_bind_hint(&c, &err).unwrap(),
            format!(
                "the directory '{d}/f' of [unix_http_server] file={d}/f/s.sock is not a directory"
            )
        );
    }

    #[test]
    fn unwritable_directory_is_named() {
        let c = cfg(PathBuf::from("/x/s.sock"));
        let err = BindError::Os(std::io::Error::from_raw_os_error(libc::EACCES));
        assert_eq!(
            unix_bind_hint(&c, &err).unwrap(),
            "the directory '/x' of [unix_http_server] file=/x/s.sock is not writable by this user"
        );
        // errors that are not about the directory get no second line
        assert!(unix_bind_hint(&c, &BindError::AddressInUse).is_none());
        let other = BindError::Os(std::io::Error::from_raw_os_error(libc::EINVAL));
        assert!(unix_bind_hint(&c, &other).is_none());
    }

    #[test]
    fn chown_refused_message() {
        if nix::unistd::geteuid().is_root() {
            return; // root may chown anywhere; nothing to check
        }
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.sock");
        let mut c = cfg(path.clone());
        c.chown = Some((0, 0));
        let err = bind_unix(&c).unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.starts_with(&format!(
                "Not permitted to chown {} to uid/gid (0, 0); adjust \"sockchown\"",
                path.display()
            )),
            "{msg}"
        );
    }

    #[test]
    fn inet_in_use() {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let c = InetHttpServerConfig {
            section: "inet_http_server".into(),
            host: "127.0.0.1".into(),
            port,
            credentials: None,
            tls: None,
        };
        assert!(matches!(bind_inet(&c), Err(BindError::AddressInUse)));
        drop(l);
        assert!(bind_inet(&c).is_ok());
    }
}
