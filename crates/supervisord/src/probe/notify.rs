//! `notify` checks: the sd_notify protocol, as systemd speaks it for `Type=notify`.
//!
//! Each process with `ready = notify` gets a unix datagram socket of its own, bound in a
//! directory the daemon creates (mode 0711) under the temp dir, with mode 0600 and owned
//! by the program's `user=` when one is set; its path is the child's `NOTIFY_SOCKET`.
//! Because the socket belongs to one process, whatever arrives on it is that process's
//! (or its helpers', like `systemd-notify`), so no peer-credential check is needed and
//! a sender that exits at once is still heard. A message is newline-separated
//! `KEY=VALUE` assignments: `READY=1` passes the check of the child being waited for,
//! `STATUS=text` becomes part of its description; the others (`MAINPID=`, `STOPPING=1`,
//! `WATCHDOG=1`, `BARRIER=1`...) are accepted and ignored. File descriptors sent along
//! (`sd_notify_barrier`) are closed by the kernel on receipt, which is what a barrier
//! waits for.

use std::cell::Cell;
use std::collections::HashMap;
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::PathBuf;
use std::rc::Rc;

use tokio::task::JoinHandle;

use crate::core::{ProbeKind, ProbeReport, ProcKey};

use super::{ProbeMsg, ProbeTx};

/// The longest message read (longer ones are truncated; systemd's own limit is larger,
/// but READY/STATUS fit easily).
const MAX_MESSAGE: usize = 8 * 1024;
/// The longest `STATUS=` text kept.
const MAX_STATUS: usize = 512;

/// One process's socket and who it is listening for.
#[derive(Debug)]
struct NotifySocket {
    path: PathBuf,
    /// The child waited for (0 = none).
    armed: Rc<Cell<i32>>,
    /// The child whose STATUS= lines are shown (the last one armed).
    current: Rc<Cell<i32>>,
    task: JoinHandle<()>,
}

/// Every notify socket of the daemon, in one directory removed when this is dropped.
#[derive(Debug, Default)]
pub struct NotifySockets {
    dir: Option<PathBuf>,
    socks: HashMap<ProcKey, NotifySocket>,
}

impl NotifySockets {
    /// The socket path for `key`, binding the socket (and its directory) on first use.
    pub fn ensure(
        &mut self,
        key: ProcKey,
        uid: Option<u32>,
        tx: &ProbeTx,
    ) -> Result<String, String> {
        if let Some(s) = self.socks.get(&key) {
            return Ok(s.path.display().to_string());
        }
        let dir = self.dir()?;
        let path = dir.join(format!("{key}.sock"));
        let _ = std::fs::remove_file(&path);
        let std_sock = std::os::unix::net::UnixDatagram::bind(&path)
            .map_err(|e| format!("cannot create notify socket {}: {e}", path.display()))?;
        std_sock
            .set_nonblocking(true)
            .map_err(|e| format!("cannot create notify socket {}: {e}", path.display()))?;
        let _ = std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600));
        if let Some(uid) = uid {
            if let Err(e) = std::os::unix::fs::chown(&path, Some(uid), None) {
                let _ = std::fs::remove_file(&path);
                return Err(format!(
                    "cannot give notify socket {} to uid {uid}: {e}",
                    path.display()
                ));
            }
        }
        let sock = tokio::net::UnixDatagram::from_std(std_sock)
            .map_err(|e| format!("cannot create notify socket {}: {e}", path.display()))?;
        let armed = Rc::new(Cell::new(0));
        let current = Rc::new(Cell::new(0));
        let task = tokio::task::spawn_local(listen(
            sock,
            key,
            armed.clone(),
            current.clone(),
            tx.clone(),
        ));
        let shown = path.display().to_string();
        self.socks.insert(
            key,
            NotifySocket {
                path,
                armed,
                current,
                task,
            },
        );
        Ok(shown)
    }

    /// Waits for `READY=1` from child `pid` of `key`.
    pub fn arm(&mut self, key: ProcKey, pid: i32) {
        if let Some(s) = self.socks.get(&key) {
            s.armed.set(pid);
            s.current.set(pid);
        }
    }

    /// Stops waiting (STATUS= lines are still shown).
    pub fn disarm(&mut self, key: ProcKey) {
        if let Some(s) = self.socks.get(&key) {
            s.armed.set(0);
        }
    }

    /// Closes and removes `key`'s socket.
    pub fn remove(&mut self, key: ProcKey) {
        if let Some(s) = self.socks.remove(&key) {
            s.task.abort();
            let _ = std::fs::remove_file(&s.path);
        }
    }

    fn dir(&mut self) -> Result<PathBuf, String> {
        if let Some(d) = &self.dir {
            return Ok(d.clone());
        }
        let mut base = std::env::temp_dir();
        // sun_path holds 108 bytes: keep room for "/<key>.sock".
        if base.as_os_str().len() > 60 {
            base = PathBuf::from("/tmp");
        }
        let stamp = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let mut last_err = String::new();
        for attempt in 0..16u32 {
            let d = base.join(format!(
                "supervisor-rs-notify.{}.{:x}",
                std::process::id(),
                stamp.wrapping_add(attempt.wrapping_mul(7919))
            ));
            match std::fs::DirBuilder::new().mode(0o711).create(&d) {
                Ok(()) => {
                    // The umask may have taken bits away: the children must reach their socket.
                    let _ = std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o711));
                    self.dir = Some(d.clone());
                    return Ok(d);
                }
                Err(e) => last_err = e.to_string(),
            }
        }
        Err(format!(
            "cannot create a directory for notify sockets in {}: {last_err}",
            base.display()
        ))
    }
}

impl Drop for NotifySockets {
    fn drop(&mut self) {
        let keys: Vec<ProcKey> = self.socks.keys().copied().collect();
        for k in keys {
            self.remove(k);
        }
        if let Some(d) = self.dir.take() {
            let _ = std::fs::remove_dir(d);
        }
    }
}

/// Reads the socket of `key` for as long as the process exists.
async fn listen(
    sock: tokio::net::UnixDatagram,
    key: ProcKey,
    armed: Rc<Cell<i32>>,
    current: Rc<Cell<i32>>,
    tx: ProbeTx,
) {
    let mut buf = vec![0u8; MAX_MESSAGE];
    loop {
        let n = match sock.recv(&mut buf).await {
            Ok(n) => n,
            Err(_) => {
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                continue;
            }
        };
        let msg = parse(&buf[..n]);
        let send = |pid: i32, report: ProbeReport| {
            let _ = tx.send(ProbeMsg {
                key,
                pid,
                kind: ProbeKind::Ready,
                report,
            });
        };
        if let Some(status) = msg.status {
            if current.get() != 0 {
                send(current.get(), ProbeReport::Status(status));
            }
        }
        if msg.ready && armed.get() != 0 {
            let pid = armed.replace(0);
            send(pid, ProbeReport::Passed);
        }
    }
}

/// What one notify message says.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Message {
    /// `READY=1` was in it.
    pub ready: bool,
    /// The last `STATUS=` text in it.
    pub status: Option<String>,
}

/// Parses one datagram of `KEY=VALUE` lines.
pub fn parse(data: &[u8]) -> Message {
    let mut m = Message::default();
    for line in data.split(|&b| b == b'\n') {
        if line == b"READY=1" {
            m.ready = true;
        } else if let Some(s) = line.strip_prefix(b"STATUS=") {
            let mut text: String = String::from_utf8_lossy(s)
                .chars()
                .map(|c| if c.is_control() { ' ' } else { c })
                .collect();
            if text.len() > MAX_STATUS {
                let mut cut = MAX_STATUS;
                while !text.is_char_boundary(cut) {
                    cut -= 1;
                }
                text.truncate(cut);
            }
            m.status = Some(text);
        }
    }
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages() {
        assert_eq!(
            parse(b"READY=1\nSTATUS=Serving 3 clients\nMAINPID=42"),
            Message {
                ready: true,
                status: Some("Serving 3 clients".into())
            }
        );
        assert!(!parse(b"READY=0").ready);
        assert_eq!(parse(b"WATCHDOG=1"), Message::default());
        let long = format!("STATUS={}", "é".repeat(600));
        assert!(parse(long.as_bytes()).status.unwrap().len() <= MAX_STATUS);
        assert_eq!(
            parse(b"STATUS=a\tb").status.as_deref(),
            Some("a b"),
            "control characters do not reach the description"
        );
    }

    #[test]
    fn ready_from_any_sender_on_the_socket_and_status_lines() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let local = tokio::task::LocalSet::new();
        local.block_on(&rt, async {
            let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
            let mut socks = NotifySockets::default();
            let path = socks.ensure(3, None, &tx).unwrap();
            socks.arm(3, 99);
            let client = std::os::unix::net::UnixDatagram::unbound().unwrap();
            client.send_to(b"STATUS=loading", &path).unwrap();
            client.send_to(b"READY=1", &path).unwrap();
            let a = rx.recv().await.unwrap();
            assert_eq!((a.key, a.pid), (3, 99));
            assert_eq!(a.report, ProbeReport::Status("loading".into()));
            let b = rx.recv().await.unwrap();
            assert_eq!((b.pid, b.report), (99, ProbeReport::Passed));
            // Once passed, READY=1 again reports nothing; STATUS still does.
            client.send_to(b"READY=1\nSTATUS=up", &path).unwrap();
            let c = rx.recv().await.unwrap();
            assert_eq!(c.report, ProbeReport::Status("up".into()));
            let dir = socks.dir.clone().unwrap();
            drop(socks);
            assert!(!dir.exists(), "the socket directory is removed");
        });
    }
}
