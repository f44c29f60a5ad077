//! Differential test: every config in `tests/fixtures/differential/*.conf` is read by the
//! reference (Python Supervisor 4.3, through `scripts/ref_config_dump.py`) and by us; both
//! must accept or reject it alike, with the same message, and agree on every expanded value.
//!
//! The reference comes from the venv in `$SUPERVISOR_RS_VENV` (or `<repo>/.venv`). Without
//! it this test FAILS: run `scripts/setup-venv` (or `scripts/test`) first.
//!
//! A corpus file may start with `; env: K=V K2=V2` to add environment variables.

use serde_json::{json, Value};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use supervisor_config::load::{load_with_context, LoadContext};
use supervisor_config::*;

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

fn venv_python() -> PathBuf {
    let venv = std::env::var_os("SUPERVISOR_RS_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join(".venv"));
    let py = venv.join("bin/python");
    assert!(
        py.exists(),
        "the Python reference is missing: {} does not exist. Run scripts/setup-venv (or scripts/test) \
         or set SUPERVISOR_RS_VENV to a venv with supervisor==4.3.0",
        py.display()
    );
    py
}

fn base_env(dir: &Path) -> Vec<(String, String)> {
    vec![
        ("HOME".into(), dir.to_string_lossy().into_owned()),
        ("LC_CTYPE".into(), "C.UTF-8".into()),
        ("PATH".into(), "/usr/bin:/bin".into()),
    ]
}

fn env_for(dir: &Path, text: &str) -> Vec<(String, String)> {
    let mut env = base_env(dir);
    if let Some(first) = text.lines().next() {
        if let Some(spec) = first.strip_prefix("; env:") {
            for kv in spec.split_whitespace() {
                let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
                env.push((k.to_string(), v.replace("\\s", " ")));
            }
        }
    }
    env
}

fn logfile(l: &LogFile) -> Value {
    match l {
        LogFile::None => Value::Null,
        LogFile::Auto => json!("AUTO"),
        LogFile::Syslog => json!("syslog"),
        LogFile::Path(p) => json!(p.to_string_lossy()),
    }
}

fn pairs(v: &[(String, String)]) -> Value {
    Value::Array(v.iter().map(|(k, v)| json!([k, v])).collect())
}

fn process(p: &ProcessConfig, global_env: &[(String, String)]) -> Value {
    let mut env: Vec<(String, String)> = global_env.to_vec();
    for (k, v) in &p.environment {
        match env.iter_mut().find(|(ek, _)| ek == k) {
            Some(slot) => slot.1 = v.clone(),
            None => env.push((k.clone(), v.clone())),
        }
    }
    let mut d = json!({
        "name": p.name,
        "command": p.command,
        "directory": p.directory,
        "umask": p.umask,
        "priority": p.priority,
        "autostart": p.autostart,
        "autorestart": match p.autorestart {
            AutoRestart::Always => "true",
            AutoRestart::Never => "false",
            AutoRestart::Unexpected => "unexpected",
        },
        "startsecs": p.startsecs,
        "startretries": p.startretries,
        "uid": p.uid,
        "stopsignal": p.stopsignal,
        "stopwaitsecs": p.stopwaitsecs,
        "stopasgroup": p.stopasgroup,
        "killasgroup": p.killasgroup,
        "exitcodes": p.exitcodes,
        "redirect_stderr": p.redirect_stderr,
        "environment": pairs(&env),
        "serverurl": p.serverurl,
    });
    for (name, ch) in [("stdout", &p.stdout), ("stderr", &p.stderr)] {
        let o = d.as_object_mut().unwrap();
        o.insert(format!("{name}_logfile"), logfile(&ch.logfile));
        o.insert(
            format!("{name}_logfile_maxbytes"),
            json!(ch.logfile_maxbytes),
        );
        o.insert(format!("{name}_logfile_backups"), json!(ch.logfile_backups));
        o.insert(
            format!("{name}_capture_maxbytes"),
            json!(ch.capture_maxbytes),
        );
        o.insert(format!("{name}_events_enabled"), json!(ch.events_enabled));
        o.insert(format!("{name}_syslog"), json!(ch.syslog));
    }
    d
}

/// Our model in the JSON shape of `scripts/ref_config_dump.py`.
fn dump(c: &Config) -> Value {
    let s = &c.supervisord;
    let mut servers: Vec<Value> = c
        .inet_http_servers
        .iter()
        .map(|i| {
            json!({
                "section": i.section, "family": "inet", "host": i.host, "port": i.port,
                "username": i.credentials.as_ref().map(|c| &c.username),
                "password": i.credentials.as_ref().map(|c| &c.password),
            })
        })
        .collect();
    if let Some(u) = &c.unix_http_server {
        servers.push(json!({
            "section": u.section, "family": "unix", "file": u.file.to_string_lossy(),
            "chmod": u.chmod, "chown": u.chown.map(|(a, b)| vec![a, b]),
            "username": u.credentials.as_ref().map(|c| &c.username),
            "password": u.credentials.as_ref().map(|c| &c.password),
        }));
    }
    let groups: Vec<Value> = c
        .groups
        .iter()
        .map(|g| {
            let mut d = json!({
                "name": g.name, "priority": g.priority, "kind": "program",
                "processes": g.processes.iter().map(|p| process(p, &s.environment)).collect::<Vec<_>>(),
            });
            let o = d.as_object_mut().unwrap();
            match &g.kind {
                GroupKind::EventListenerPool(pool) => {
                    let mut ev = pool.event_names();
                    ev.sort();
                    o.insert("kind".into(), json!("eventlistener"));
                    o.insert("events".into(), json!(ev));
                    o.insert("buffer_size".into(), json!(pool.buffer_size));
                    o.insert("result_handler".into(), json!(pool.result_handler));
                }
                GroupKind::FcgiProgram(sock) => {
                    let unix = matches!(sock.address, SocketAddress::Unix(_));
                    o.insert("kind".into(), json!("fcgi"));
                    o.insert(
                        "socket".into(),
                        json!({
                            "url": sock.url, "backlog": sock.backlog,
                            "owner": sock.owner.map(|(a, b)| vec![a, b]),
                            "mode": if unix { Some(sock.mode) } else { None },
                        }),
                    );
                }
                _ => {}
            }
            d
        })
        .collect();
    let level = |l: LogLevel| l as i32;
    json!({
        "ok": true,
        "supervisord": {
            "logfile": match &s.logfile { LogFile::Path(p) => json!(p.to_string_lossy()), LogFile::Syslog => json!("syslog"), other => logfile(other) },
            "logfile_maxbytes": s.logfile_maxbytes,
            "logfile_backups": s.logfile_backups,
            "loglevel": level(s.loglevel),
            "pidfile": s.pidfile.to_string_lossy(),
            "umask": s.umask,
            "nodaemon": s.nodaemon,
            "silent": s.silent,
            "minfds": s.minfds,
            "minprocs": s.minprocs,
            "nocleanup": s.nocleanup,
            "childlogdir": s.childlogdir.to_string_lossy(),
            "user": s.user,
            "directory": s.directory.as_ref().map(|d| d.to_string_lossy().into_owned()),
            "strip_ansi": s.strip_ansi,
            "environment": pairs(&s.environment),
            "identifier": s.identifier,
        },
        "servers": servers,
        "rpcinterfaces": c.rpc_interfaces.iter().map(|r| json!({"name": r.name, "extra": pairs(&r.extra)})).collect::<Vec<_>>(),
        "groups": groups,
        "warnings": c.parse_messages.iter().filter(|m| m.level == LogLevel::Warn).map(|m| &m.text).collect::<Vec<_>>(),
        "infos": c.parse_messages.iter().filter(|m| m.level == LogLevel::Info).map(|m| &m.text).collect::<Vec<_>>(),
    })
}

/// First differing path between two JSON values, for a readable failure.
fn first_diff(a: &Value, b: &Value, path: &str) -> Option<String> {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            let mut keys: Vec<&String> = x.keys().chain(y.keys()).collect();
            keys.sort();
            keys.dedup();
            for k in keys {
                let (va, vb) = (
                    x.get(k).unwrap_or(&Value::Null),
                    y.get(k).unwrap_or(&Value::Null),
                );
                if let Some(d) = first_diff(va, vb, &format!("{path}.{k}")) {
                    return Some(d);
                }
            }
            None
        }
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => x
            .iter()
            .zip(y)
            .enumerate()
            .find_map(|(i, (va, vb))| first_diff(va, vb, &format!("{path}[{i}]"))),
        _ if a == b => None,
        _ => Some(format!("{path}: reference {a} / ours {b}")),
    }
}

#[test]
fn reference_and_we_read_the_corpus_alike() {
    let py = venv_python();
    let dir = repo_root().join("tests/fixtures/differential");
    let list = |d: &Path| -> Vec<PathBuf> {
        let mut v: Vec<PathBuf> = std::fs::read_dir(d)
            .expect("corpus directory")
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|e| e == "conf"))
            .collect();
        v.sort();
        v
    };
    let mut files = list(&dir);
    assert!(files.len() >= 60, "corpus too small: {}", files.len());
    // the configs cut from the seed articles and both samples are part of the comparison
    files.extend(list(&dir.join("../seeds")));
    files.push(dir.join("../reference_sample.conf"));
    files.push(dir.join("../our_sample.conf"));

    let mut requests = String::new();
    let mut envs = Vec::new();
    for f in &files {
        let text = std::fs::read_to_string(f).unwrap_or_default();
        let env = env_for(&dir, &text);
        let env_obj: serde_json::Map<String, Value> =
            env.iter().map(|(k, v)| (k.clone(), json!(v))).collect();
        let name = rel_name(&dir, f);
        requests.push_str(&json!({"path": name, "env": env_obj}).to_string());
        requests.push('\n');
        envs.push(env);
    }
    let script = repo_root().join("scripts/ref_config_dump.py");
    let mut child = Command::new(&py)
        .arg(&script)
        .arg("--batch")
        .current_dir(&dir)
        .env_clear()
        .env("LC_CTYPE", "C.UTF-8")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run the reference dump script");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(requests.as_bytes())
        .unwrap();
    let out = child.wait_with_output().expect("reference output");
    assert!(
        out.status.success(),
        "reference dump failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<&str> = std::str::from_utf8(&out.stdout).unwrap().lines().collect();
    assert_eq!(lines.len(), files.len(), "one answer per config");

    let hostname = supervisor_config::load::hostname();
    let mut failures = Vec::new();
    let (mut accepted, mut rejected) = (0, 0);
    for ((f, env), line) in files.iter().zip(envs).zip(lines) {
        let name = rel_name(&dir, f);
        let reference: Value = serde_json::from_str(line).unwrap();
        let ctx = LoadContext {
            environ: env,
            hostname: hostname.clone(),
            cwd: dir.clone(),
            uid: nix_uid(),
        };
        let ours = load_with_context(Path::new(&name), &ctx);
        match (reference["ok"].as_bool().unwrap(), ours) {
            (true, Ok(cfg)) => {
                accepted += 1;
                if let Some(d) = first_diff(&reference, &dump(&cfg), "") {
                    failures.push(format!("{name}: values differ at {d}"));
                }
            }
            (false, Err(e)) => {
                rejected += 1;
                let want = reference["error"].as_str().unwrap();
                if want != e.message {
                    failures.push(format!(
                        "{name}: messages differ\n  reference: {want}\n  ours:      {}",
                        e.message
                    ));
                }
            }
            (true, Err(e)) => failures.push(format!("{name}: reference accepts, we reject: {e}")),
            (false, Ok(_)) => failures.push(format!(
                "{name}: reference rejects ({}), we accept",
                reference["error"]
            )),
        }
    }
    eprintln!("differential: {accepted} accepted, {rejected} rejected alike");
    assert!(
        failures.is_empty(),
        "{} differences:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(
        accepted >= 20 && rejected >= 20,
        "the corpus must hold both kinds"
    );
}

/// `f` relative to the corpus directory (`x.conf` or `../seeds/x.conf`).
fn rel_name(dir: &Path, f: &Path) -> String {
    let name = f.file_name().unwrap().to_string_lossy().into_owned();
    match f.parent() {
        Some(p) if p == dir => name,
        Some(p) if p == dir.join("../seeds") => format!("../seeds/{name}"),
        _ => format!("../{name}"),
    }
}

fn nix_uid() -> u32 {
    // the same uid the loader would use by default
    LoadContext::from_process().uid
}

/// Deterministic pseudo-random format strings, expanded by Python's `%` and by ours: the
/// results, or the error messages, must be identical.
#[test]
fn percent_formatting_matches_python() {
    use supervisor_config::pyfmt::{expand, Expansions, PyVal, Scope};
    let py = venv_python();
    let atoms = [
        "%",
        "%%",
        "%(a)s",
        "%(n)d",
        "%(neg)d",
        "%(a)",
        "%(",
        ")",
        "(",
        "s",
        "d",
        "x",
        "X",
        "o",
        "r",
        "a",
        "c",
        "e",
        "f",
        "g",
        "i",
        "u",
        "l",
        "h",
        "-",
        "+",
        " ",
        "#",
        "0",
        "5",
        "12",
        ".",
        ".3",
        "*",
        "%(n)",
        "%(a)5",
        "%(missing)s",
        "q",
        "é",
        "\n",
        "'",
        "%(n)#",
        "%(a)-",
        "%(n)0",
    ];
    let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let mut cases = Vec::new();
    for _ in 0..600 {
        let n = (next() % 6) as usize + 1;
        let s: String = (0..n)
            .map(|_| atoms[(next() % atoms.len() as u64) as usize])
            .collect();
        cases.push(s);
    }
    let program = r#"
import json, sys
from supervisor.options import expand
d = {"a": "hi", "n": 7, "neg": -12}
for line in sys.stdin:
    s = json.loads(line)
    try:
        print(json.dumps({"ok": expand(s, d, "k")}))
    except ValueError as e:
        print(json.dumps({"err": str(e)}))
"#;
    let mut child = Command::new(&py)
        .arg("-c")
        .arg(program)
        .env_clear()
        .env("LC_CTYPE", "C.UTF-8")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("python");
    let input: String = cases.iter().map(|c| format!("{}\n", json!(c))).collect();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    let mut e = Expansions::new();
    e.set_str("a", "hi");
    e.set("n", PyVal::Int(7));
    e.set("neg", PyVal::Int(-12));
    let lines: Vec<&str> = std::str::from_utf8(&out.stdout).unwrap().lines().collect();
    assert_eq!(lines.len(), cases.len(), "one answer per format string");
    let mut failures = Vec::new();
    for (case, line) in cases.iter().zip(lines) {
        let want: Value = serde_json::from_str(line).unwrap();
        let ours = match expand(case, &Scope::one(&e), "k") {
            Ok(v) => json!({ "ok": v }),
            Err(m) => json!({ "err": m }),
        };
        if ours != want {
            failures.push(format!("{case:?}: python {want} / ours {ours}"));
        }
    }
    assert!(
        failures.is_empty(),
        "{} differences:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
