//! Arbitrary bytes as a whole supervisord.conf through the real loader, in memory
//! (`load_from_str`: no file is read, `[include]` matches nothing). Errors are fine;
//! a panic is a bug. (An empty program name, `[program:]`, is valid: the reference
//! accepts it too.)
#![no_main]
use libfuzzer_sys::fuzz_target;
use std::path::{Path, PathBuf};
use supervisor_config::load::{load_from_str, LoadContext};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let ctx = LoadContext {
        environ: vec![
            ("HOME".into(), "/root".into()),
            ("TMPDIR".into(), "/tmp".into()),
            ("FOO".into(), "foo".into()),
        ],
        hostname: "fuzzhost".into(),
        cwd: PathBuf::from("/tmp"),
        uid: 0,
    };
    match load_from_str(Path::new("/tmp/supervisord.conf"), &text, &ctx) {
        Ok(config) => {
            // Every group has its processes (numprocs >= 1).
            for g in &config.groups {
                let _ = g.processes.len();
            }
            let _ = format!("{config:?}");
        }
        Err(e) => {
            // Display must not panic either.
            let _ = e.to_string();
        }
    }
});
