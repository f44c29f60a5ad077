//! `tail -f` over HTTP: the last bytes of a log file, then whatever is appended, for as long
//! as the client stays. Rotation is noticed by the path's inode changing (the rest of the
//! old file is sent, then the new one from its start), truncation by the size shrinking
//! (`==> File truncated <==` is sent).
//!
//! The follower looks at the file when the daemon's writer of that path says it wrote
//! (logs/follow.rs), not on a timer: a line is sent within a loop turn of being logged,
//! and an idle follower never wakes up.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::mpsc;

/// How many bytes of existing content a tail starts with.
pub const HEAD: u64 = 1024;
/// The most bytes sent in one chunk (a burst of output is sent in several).
pub const CHUNK: u64 = 64 * 1024;
/// How often a file that no writer of this daemon has open is looked at (a log of a
/// group removed meanwhile, a file another program appends to). Logs the daemon writes
/// are never polled.
pub const FOREIGN_INTERVAL: Duration = Duration::from_secs(1);
/// The text sent when the file got shorter.
pub const TRUNCATED: &[u8] = b"==> File truncated <==\n";

/// Follows one file.
pub struct Follower {
    path: PathBuf,
    file: File,
    ino: u64,
    /// How far the client has been sent.
    pos: u64,
}

impl Follower {
    /// Opens `path`; the first read returns its last [`HEAD`] bytes (all of it if shorter).
    pub fn open(path: PathBuf) -> std::io::Result<Follower> {
        let file = File::open(&path)?;
        let meta = file.metadata()?;
        let pos = meta.len().saturating_sub(HEAD);
        Ok(Follower {
            path,
            ino: meta.ino(),
            file,
            pos,
        })
    }

    /// What to send now: new bytes, the truncation notice, or nothing (`None`).
    pub fn poll(&mut self) -> std::io::Result<Option<Bytes>> {
        // Rotated? Follow the path to the new file from its start.
        if let Ok(meta) = std::fs::metadata(&self.path) {
            if meta.ino() != self.ino {
                // What the old file got before it was renamed is sent first.
                if let Some(rest) = self.read_more()? {
                    return Ok(Some(rest));
                }
                if let Ok(f) = File::open(&self.path) {
                    self.ino = f.metadata().map(|m| m.ino()).unwrap_or(meta.ino());
                    self.file = f;
                    self.pos = 0;
                }
            }
        }
        let size = self.file.metadata()?.len();
        if size < self.pos {
            self.pos = 0;
            return Ok(Some(Bytes::from_static(TRUNCATED)));
        }
        self.read_more()
    }

    /// The next bytes of the open file after `pos` (at most [`CHUNK`]), `None` at its end.
    fn read_more(&mut self) -> std::io::Result<Option<Bytes>> {
        let size = self.file.metadata()?.len();
        if size <= self.pos {
            return Ok(None);
        }
        let want = (size - self.pos).min(CHUNK);
        self.file.seek(SeekFrom::Start(self.pos))?;
        let mut buf = Vec::with_capacity(want as usize);
        (&mut self.file).take(want).read_to_end(&mut buf)?;
        self.pos += buf.len() as u64;
        if buf.is_empty() {
            return Ok(None);
        }
        Ok(Some(Bytes::from(buf)))
    }
}

/// Feeds `tx` from the follower until the receiver goes away.
pub async fn run(mut f: Follower, tx: mpsc::Sender<Bytes>) {
    let mut written = crate::logs::follow::watch(&f.path);
    loop {
        // Bumps from now on wake the wait below, even those landing during the read.
        written.mark_seen();
        match f.poll() {
            Ok(Some(chunk)) => {
                if tx.send(chunk).await.is_err() {
                    return;
                }
                continue;
            }
            Ok(None) => {}
            Err(_) => return,
        }
        // A file this daemon writes: nothing to look at until the writer says so (no
        // timer). A file only others write (no writer here) is looked at every second.
        let has_writer = written.has_writer();
        let foreign = async move {
            if has_writer {
                std::future::pending::<()>().await
            } else {
                tokio::time::sleep(FOREIGN_INTERVAL).await
            }
        };
        tokio::select! {
            () = foreign => {}
            () = written.changed() => {}
            _ = tx.closed() => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn head_follow_truncate_rotate() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("log");
        let big: Vec<u8> = (0..3000u32).map(|i| b'a' + (i % 26) as u8).collect();
        std::fs::write(&p, &big).unwrap();
        let mut f = Follower::open(p.clone()).unwrap();
        assert_eq!(
            f.poll().unwrap().unwrap(),
            Bytes::from(big[3000 - 1024..].to_vec())
        );
        assert_eq!(f.poll().unwrap(), None);
        std::fs::OpenOptions::new()
            .append(true)
            .open(&p)
            .unwrap()
            .write_all(b"more\n")
            .unwrap();
        assert_eq!(f.poll().unwrap().unwrap(), Bytes::from_static(b"more\n"));
        // Truncation.
        std::fs::OpenOptions::new()
            .write(true)
            .truncate(true)
            .open(&p)
            .unwrap()
            .write_all(b"x")
            .unwrap();
        assert_eq!(f.poll().unwrap().unwrap(), Bytes::from_static(TRUNCATED));
        assert_eq!(f.poll().unwrap().unwrap(), Bytes::from_static(b"x"));
        // Rotation: the path now names a new file.
        std::fs::rename(&p, dir.path().join("log.1")).unwrap();
        std::fs::write(&p, b"new file\n").unwrap();
        assert_eq!(
            f.poll().unwrap().unwrap(),
            Bytes::from_static(b"new file\n")
        );
    }

    #[test]
    fn rotation_sends_the_rest_of_the_old_file_first() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("log");
        std::fs::write(&p, b"one\n").unwrap();
        let mut f = Follower::open(p.clone()).unwrap();
        assert_eq!(f.poll().unwrap().unwrap(), Bytes::from_static(b"one\n"));
        // Written, then rotated away before the follower looked.
        std::fs::OpenOptions::new()
            .append(true)
            .open(&p)
            .unwrap()
            .write_all(b"two\n")
            .unwrap();
        std::fs::rename(&p, dir.path().join("log.1")).unwrap();
        std::fs::write(&p, b"three\n").unwrap();
        assert_eq!(f.poll().unwrap().unwrap(), Bytes::from_static(b"two\n"));
        assert_eq!(f.poll().unwrap().unwrap(), Bytes::from_static(b"three\n"));
        assert_eq!(f.poll().unwrap(), None);
    }

    #[tokio::test]
    async fn run_is_woken_by_the_writer() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("log");
        let mut w = crate::logs::RotatingFile::open(p.clone(), 0, 0).unwrap();
        w.write(b"first\n").unwrap();
        let (tx, mut rx) = mpsc::channel(4);
        tokio::spawn(run(Follower::open(p).unwrap(), tx));
        let got = tokio::time::timeout(std::time::Duration::from_secs(5), rx.recv()).await;
        assert_eq!(got.unwrap().unwrap(), Bytes::from_static(b"first\n"));
        // Nothing written: nothing sent (and no timer would send it).
        let idle = tokio::time::timeout(std::time::Duration::from_millis(50), rx.recv()).await;
        assert!(idle.is_err());
        w.write(b"second\n").unwrap();
        let got = tokio::time::timeout(std::time::Duration::from_secs(5), rx.recv()).await;
        assert_eq!(got.unwrap().unwrap(), Bytes::from_static(b"second\n"));
    }

    #[test]
    fn short_file_is_sent_whole() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("log");
        std::fs::write(&p, b"hello\n").unwrap();
        let mut f = Follower::open(p).unwrap();
        assert_eq!(f.poll().unwrap().unwrap(), Bytes::from_static(b"hello\n"));
    }
}
