//! The configs cut from the seed articles, the reference's `echo_supervisord_conf` output and
//! our own sample all load, and their expanded models are what the articles describe.

use std::path::{Path, PathBuf};
use supervisor_config::load::{load_with_context, LoadContext};
use supervisor_config::*;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures")
        .canonicalize()
        .unwrap()
}

fn ctx() -> LoadContext {
    LoadContext {
        environ: vec![("HOME".into(), "/home/tester".into())],
        hostname: "testhost".into(),
        cwd: PathBuf::from("/"),
        uid: 0,
    }
}

fn load_fixture(rel: &str) -> Config {
    let p = fixtures().join(rel);
    load_with_context(&p, &ctx()).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

fn names(c: &Config) -> Vec<(String, Vec<String>)> {
    c.groups
        .iter()
        .map(|g| {
            (
                g.name.clone(),
                g.processes.iter().map(|p| p.name.clone()).collect(),
            )
        })
        .collect()
}

#[test]
fn seed_000_handover_group() {
    let c = load_fixture("seeds/000_handover.conf");
    let here = fixtures().join("seeds");
    assert_eq!(
        names(&c),
        vec![(
            "tornado_handover_system_services".to_string(),
            (8081..=8084).map(|p| format!("handover_{p}")).collect()
        )]
    );
    let g = &c.groups[0];
    assert_eq!(g.kind, GroupKind::Heterogeneous);
    let p = &g.processes[1];
    assert_eq!(p.group, "tornado_handover_system_services");
    assert_eq!(
        p.command,
        "/root/anaconda3/bin/python /opt/handover_system/tornado1/handover.py --port=8082"
    );
    assert_eq!(
        p.directory.as_deref(),
        Some("/opt/handover_system/tornado1/")
    );
    assert_eq!(p.autorestart, AutoRestart::Always);
    assert_eq!(p.startsecs, 2);
    assert!(p.redirect_stderr);
    assert_eq!(
        p.stdout.logfile,
        LogFile::Path(here.join("handover_8082.log"))
    );
    assert_eq!(p.stderr.logfile, LogFile::None);
    let inet = &c.inet_http_servers[0];
    assert_eq!((inet.host.as_str(), inet.port), ("127.0.0.1", 9001));
    assert_eq!(
        inet.credentials,
        Some(Credentials {
            username: "user".into(),
            password: "123".into()
        })
    );
    assert!(c.unix_http_server.is_none());
}

#[test]
fn seed_000_app_program() {
    let c = load_fixture("seeds/000_app.conf");
    let p = &c.groups[0].processes[0];
    assert_eq!(p.name, "app");
    assert_eq!(p.command, "python server.py");
    assert_eq!(
        p.environment,
        vec![("PATH".to_string(), "/home/app_env/bin".to_string())]
    );
    assert_eq!((p.user.as_deref(), p.uid), (Some("root"), Some(0)));
    assert_eq!(p.stdout.logfile_maxbytes, 20 * 1024 * 1024);
    assert_eq!(p.stdout.logfile_backups, 20);
    assert!(p.autostart);
    assert_eq!(p.autorestart, AutoRestart::Always);
}

#[test]
fn seed_001_ci_and_demo() {
    let c = load_fixture("seeds/001_ci.conf");
    assert_eq!(
        names(&c),
        vec![(
            "appgroup".to_string(),
            vec!["ci".to_string(), "demo".to_string()]
        )]
    );
    let ci = &c.groups[0].processes[0];
    assert_eq!(ci.command, "java -jar /home/ci/jenkins.war --httpPort=9001");
    assert_eq!((ci.startsecs, ci.startretries), (30, 5));
    let demo = &c.groups[0].processes[1];
    assert_eq!(demo.command, "yourcommand");
    assert_eq!(demo.directory.as_deref(), Some("yourpath"));
    assert_eq!(c.inet_http_servers[0].host, "");
    assert_eq!(c.inet_http_servers[0].port, 9001);
    assert!(c.inet_http_servers[0].credentials.is_none());
}

#[test]
fn seed_002_stripped_sample() {
    let c = load_fixture("seeds/002_sample_stripped.conf");
    let s = &c.supervisord;
    assert_eq!(s.logfile, LogFile::Path("/tmp/supervisord.log".into()));
    assert_eq!(s.pidfile, PathBuf::from("/tmp/supervisord.pid"));
    assert_eq!((s.logfile_maxbytes, s.logfile_backups), (50 << 20, 10));
    assert_eq!(s.loglevel, LogLevel::Info);
    assert!(!s.nodaemon && !s.silent);
    assert_eq!((s.minfds, s.minprocs), (1024, 200));
    let u = c.unix_http_server.as_ref().unwrap();
    assert_eq!(u.file, PathBuf::from("/tmp/supervisor.sock"));
    assert_eq!((u.chmod, u.chown), (0o700, None));
    assert_eq!(c.rpc_interfaces[0].name, "supervisor");
    assert!(c.groups.is_empty());
}

#[test]
fn seed_002_etc_with_include() {
    let c = load_fixture("seeds/002_etc.conf");
    let here = fixtures().join("seeds");
    let u = c.unix_http_server.as_ref().unwrap();
    assert_eq!((u.chmod, u.chown), (0o770, Some((0, 0))));
    assert_eq!(
        c.supervisord.logfile,
        LogFile::Path(here.join("supervisord.log"))
    );
    assert_eq!(
        names(&c),
        vec![
            (
                "test".to_string(),
                vec![
                    "test-task_service".to_string(),
                    "test-collector".to_string()
                ]
            ),
            ("test-main".to_string(), vec!["test-main".to_string()]),
        ]
    );
    let inc = here.join("supervisord.d/supervisor-test.ini");
    assert_eq!(
        c.parse_messages,
        vec![ParseMessage {
            level: LogLevel::Info,
            text: format!("Included extra file \"{}\" during parsing", inc.display()),
        }]
    );
    let main = &c.groups[1].processes[0];
    assert_eq!(main.file, inc);
    assert_eq!(
        main.stdout.logfile,
        LogFile::Path(here.join("supervisord.d/test.log"))
    );
}

#[test]
fn seed_003_everything() {
    let c = load_fixture("seeds/003_jp.conf");
    let s = &c.supervisord;
    assert_eq!(s.user.as_deref(), Some("root"));
    assert_eq!(s.directory, Some(PathBuf::from("/tmp")));
    assert!(s.nocleanup);
    assert_eq!(
        s.environment,
        vec![
            ("KEY1".into(), "value1".into()),
            ("KEY2".into(), "value2".into())
        ]
    );
    // the listener pool (priority -1) sorts before the group (999)
    assert_eq!(c.groups[0].name, "theeventlistenername");
    let GroupKind::EventListenerPool(pool) = &c.groups[0].kind else {
        panic!("not a pool")
    };
    assert_eq!(
        pool.events,
        vec![supervisor_protocol::events::EventType::ProcessState]
    );
    assert_eq!(pool.event_names(), ["PROCESS_STATE"]);
    assert_eq!(pool.buffer_size, 10);
    assert_eq!(c.groups[0].processes.len(), 5);
    assert_eq!(c.groups[0].processes[4].name, "theeventlistenername_04");
    assert_eq!(c.groups[0].processes[0].stopsignal, 3);
    assert_eq!(c.groups[0].processes[0].exitcodes, vec![0, 2]);
    let cat = &c.groups[1].processes[0];
    assert_eq!(c.groups[1].name, "foo");
    assert_eq!(cat.command, "/bin/cat");
    assert_eq!(cat.umask, Some(0o22));
    assert_eq!(cat.stdout.capture_maxbytes, 1 << 20);
    assert_eq!(cat.serverurl, None);
    assert_eq!(cat.startsecs, 10);
}

#[test]
fn seed_004_include_and_group() {
    let c = load_fixture("seeds/004_cn.conf");
    assert_eq!(c.groups.len(), 2);
    assert_eq!(c.groups[0].kind, GroupKind::Heterogeneous);
    assert_eq!(c.inet_http_servers[0].port, 9001);
}

#[test]
fn reference_sample_loads() {
    let c = load_fixture("reference_sample.conf");
    assert_eq!(
        c.unix_http_server.as_ref().unwrap().file,
        PathBuf::from("/tmp/supervisor.sock")
    );
    assert!(c.inet_http_servers.is_empty());
    assert!(c.groups.is_empty());
    assert_eq!(
        c.supervisord.logfile,
        LogFile::Path("/tmp/supervisord.log".into())
    );
}

#[test]
fn our_sample_loads_and_matches_its_fixture() {
    let fixture = std::fs::read_to_string(fixtures().join("our_sample.conf")).unwrap();
    assert_eq!(
        fixture, SAMPLE_CONF,
        "regenerate tests/fixtures/our_sample.conf"
    );
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("supervisord.conf");
    std::fs::write(&p, SAMPLE_CONF).unwrap();
    let c = load_with_context(&p, &ctx()).unwrap();
    assert_eq!(c.supervisord.logfile_maxbytes, 50 << 20);
    assert_eq!(c.supervisord.minfds, 1024);
    assert_eq!(c.rpc_interfaces.len(), 1);
    let ctl = supervisor_config::load::load_ctl_with_context(&p, &ctx()).unwrap();
    assert_eq!(ctl.serverurl, "unix:///tmp/supervisor.sock");
    assert_eq!(ctl.prompt, "supervisor");
}

#[test]
fn our_sample_has_every_reference_key_in_order() {
    let key_lines = |t: &str| -> Vec<String> {
        t.lines()
            .filter_map(|l| {
                let l = l.trim_start_matches(';');
                let (k, _) = l.split_once('=')?;
                let k = k.trim();
                (!k.is_empty() && !k.contains(' ')).then(|| k.to_string())
            })
            .collect()
    };
    let reference = std::fs::read_to_string(fixtures().join("reference_sample.conf")).unwrap();
    let ours = key_lines(SAMPLE_CONF);
    let mut pos = 0;
    for k in key_lines(&reference) {
        let found = ours[pos..]
            .iter()
            .position(|o| *o == k)
            .unwrap_or_else(|| panic!("key {k} missing or out of order in our sample"));
        pos += found + 1;
    }
}
