use super::*;

struct T {
    dir: tempfile::TempDir,
}

impl T {
    fn new() -> Self {
        T {
            dir: tempfile::tempdir().unwrap(),
        }
    }
    fn ctx(&self) -> LoadContext {
        LoadContext {
            environ: vec![
                ("HOME".into(), "/home/u".into()),
                (
                    "TMPDIR".into(),
                    self.dir.path().to_string_lossy().into_owned(),
                ),
                ("FOO".into(), "foo".into()),
            ],
            hostname: "box".into(),
            cwd: self.dir.path().to_path_buf(),
            uid: 0,
        }
    }
    fn load(&self, text: &str) -> Result<Config, ConfigError> {
        let p = self.dir.path().join("s.conf");
        std::fs::write(&p, text).unwrap();
        load_with_context(Path::new("s.conf"), &self.ctx())
    }
    fn here(&self) -> String {
        self.dir.path().to_string_lossy().into_owned()
    }
}

fn err(text: &str) -> String {
    T::new().load(text).unwrap_err().message
}

const SD: &str = "[supervisord]\n";

#[test]
fn load_from_str_matches_the_file_loader_and_refuses_includes() {
    let t = T::new();
    std::fs::write(
        t.dir.path().join("inc.conf"),
        "[program:fromfile]\ncommand=/bin/cat\n",
    )
    .unwrap();
    let text = "[supervisord]\nlogfile=%(here)s/x.log\n[program:cat]\ncommand=/bin/cat\n\
                [include]\nfiles=inc.conf\n";
    // The pseudo path is never read: its directory exists, the file does not.
    std::fs::create_dir(t.dir.path().join("virtual")).unwrap();
    let c = load_from_str(Path::new("virtual/s.conf"), text, &t.ctx()).unwrap();
    let here = t.dir.path().join("virtual").to_string_lossy().into_owned();
    assert_eq!(
        c.supervisord.logfile,
        LogFile::Path(format!("{here}/x.log").into())
    );
    let names: Vec<&str> = c.groups.iter().map(|g| g.name.as_str()).collect();
    assert_eq!(names, ["cat"], "the include matched nothing");
    assert!(c
        .parse_messages
        .iter()
        .any(|m| m.text == format!("No file matches via include \"{here}/inc.conf\"")));
    // The file loader reads the include.
    let f = t.load(text).unwrap();
    assert_eq!(f.groups.len(), 2);
    let e = load_from_str(Path::new("s.conf"), "[supervisord]\nminfds=x\n", &t.ctx());
    assert_eq!(e.unwrap_err().message, err("[supervisord]\nminfds=x\n"));
}

#[test]
fn supervisord_defaults() {
    let t = T::new();
    let c = t.load(SD).unwrap();
    let s = &c.supervisord;
    let here = t.here();
    assert_eq!(
        s.logfile,
        LogFile::Path(format!("{here}/supervisord.log").into())
    );
    assert_eq!(s.logfile_maxbytes, 50 * 1024 * 1024);
    assert_eq!(s.logfile_backups, 10);
    assert_eq!(s.loglevel, LogLevel::Info);
    assert_eq!(s.pidfile, PathBuf::from(format!("{here}/supervisord.pid")));
    assert_eq!(s.umask, 0o22);
    assert!(!s.nodaemon && !s.silent && !s.nocleanup && !s.strip_ansi);
    assert_eq!((s.minfds, s.minprocs), (1024, 200));
    assert_eq!(s.childlogdir, PathBuf::from(&here));
    assert_eq!(s.user, None);
    assert_eq!(s.directory, None);
    assert!(s.environment.is_empty());
    assert_eq!(s.identifier, "supervisor");
    assert!(c.unix_http_server.is_none());
    assert!(c.inet_http_servers.is_empty() && c.rpc_interfaces.is_empty());
    assert!(c.groups.is_empty() && c.parse_messages.is_empty());
}

#[test]
#[cfg_attr(
    not(feature = "os"),
    ignore = "needs the user/group lookups of the `os` feature"
)]
fn supervisord_values() {
    let t = T::new();
    let c = t
        .load("[supervisord]\nlogfile=syslog\nlogfile_maxbytes=1KB\nlogfile_backups=3\nloglevel=DEBUG\numask=077\nnodaemon=yes\nsilent=on\nminfds=10\nminprocs=20\nnocleanup=1\nchildlogdir=/\nuser=root\ndirectory=%(here)s\nstrip_ansi=true\nenvironment=A=\"1\",B=%(ENV_FOO)s\nidentifier=id-%(ENV_FOO)s\n")
        .unwrap();
    let s = &c.supervisord;
    assert_eq!(s.logfile, LogFile::Syslog);
    assert_eq!((s.logfile_maxbytes, s.logfile_backups), (1024, 3));
    assert_eq!(s.loglevel, LogLevel::Debug);
    assert_eq!(s.umask, 0o77);
    assert!(s.nodaemon && s.silent && s.nocleanup && s.strip_ansi);
    assert_eq!((s.minfds, s.minprocs), (10, 20));
    assert_eq!(s.childlogdir, PathBuf::from("/"));
    assert_eq!(s.user.as_deref(), Some("root"));
    assert_eq!(s.directory, Some(PathBuf::from(t.here())));
    assert_eq!(
        s.environment,
        vec![("A".into(), "1".into()), ("B".into(), "foo".into())]
    );
    assert_eq!(s.identifier, "id-foo");
}

#[test]
#[cfg_attr(
    not(feature = "os"),
    ignore = "needs the user/group lookups of the `os` feature"
)]
fn supervisord_validation_messages() {
    let cases = [
        ("minfds=x", "invalid literal for int() with base 10: 'x'"),
        ("minprocs=1.5", "invalid literal for int() with base 10: '1.5'"),
        ("directory=/nonexistent-xyz", "/nonexistent-xyz is not an existing directory"),
        ("umask=9", "9 can not be converted to an octal type"),
        ("logfile=/nonexistent-xyz/l", "The directory named as part of the path /nonexistent-xyz/l does not exist"),
        ("logfile_maxbytes=1XB", "invalid literal for int() with base 10: '1xb'"),
        ("logfile_backups=b", "invalid literal for int() with base 10: 'b'"),
        ("loglevel=warning", "bad logging level name 'warning'"),
        ("pidfile=/nonexistent-xyz/p", "The directory named as part of the path /nonexistent-xyz/p does not exist"),
        ("nodaemon=maybe", "not a valid boolean value: 'maybe'"),
        ("silent=2", "not a valid boolean value: '2'"),
        ("childlogdir=/nonexistent-xyz", "/nonexistent-xyz is not an existing directory"),
        ("nocleanup=x", "not a valid boolean value: 'x'"),
        ("strip_ansi=x", "not a valid boolean value: 'x'"),
        ("environment=A=1,B", "Unexpected end of key/value pairs in value 'A=1,B'"),
        ("user=nosuchuserxyz", "Invalid user name nosuchuserxyz"),
        ("identifier=%(nope)s", "Format string '%(nope)s' for 'supervisord.identifier' contains names ('nope') which cannot be expanded. Available names: ENV_FOO, ENV_HOME, ENV_TMPDIR, here"),
    ];
    for (line, want) in cases {
        assert_eq!(err(&format!("[supervisord]\n{line}\n")), want, "{line}");
    }
    assert_eq!(
        err("[program:a]\ncommand=a\n"),
        ".ini file does not include supervisord section"
    );
    assert_eq!(
        err("[supervisord]\n[include]\n"),
        ".ini file has [include] section, but no files setting"
    );
}

#[test]
fn program_defaults() {
    let t = T::new();
    let c = t
        .load("[supervisord]\n[program:a]\ncommand=/bin/a\n")
        .unwrap();
    assert_eq!(c.groups.len(), 1);
    let g = &c.groups[0];
    assert_eq!(
        (g.name.as_str(), g.priority, &g.kind),
        ("a", 999, &GroupKind::Program)
    );
    let p = &g.processes[0];
    assert_eq!(p.name, "a");
    assert_eq!(p.group, "a");
    assert_eq!(p.section, "program:a");
    assert_eq!(p.file, PathBuf::from("s.conf"));
    assert_eq!(p.command, "/bin/a");
    assert_eq!(p.priority, 999);
    assert!(p.autostart);
    assert_eq!(p.autorestart, AutoRestart::Unexpected);
    assert_eq!((p.startsecs, p.startretries), (1, 3));
    assert_eq!(p.exitcodes, vec![0]);
    assert_eq!(p.stopsignal, 15);
    assert_eq!(p.stopwaitsecs, 10);
    assert!(!p.stopasgroup && !p.killasgroup && !p.redirect_stderr);
    assert_eq!((p.user.as_ref(), p.uid), (None, None));
    for ch in [&p.stdout, &p.stderr] {
        assert_eq!(ch.logfile, LogFile::Auto);
        assert_eq!(ch.logfile_maxbytes, 50 << 20);
        assert_eq!(ch.logfile_backups, 10);
        assert_eq!(ch.capture_maxbytes, 0);
        assert!(!ch.events_enabled && !ch.syslog);
    }
    assert!(p.environment.is_empty());
    assert_eq!(
        (p.directory.as_ref(), p.umask, p.serverurl.as_ref()),
        (None, None, None)
    );
}

#[test]
#[cfg_attr(
    not(feature = "os"),
    ignore = "needs the user/group lookups of the `os` feature"
)]
fn program_values() {
    let t = T::new();
    let c = t
        .load("[supervisord]\n[program:a]\ncommand=run %(program_name)s %(process_num)02d/%(numprocs)d %(group_name)s %(host_node_name)s %(ENV_FOO)s %(ENV_X)s %%\nprocess_name=%(program_name)s-%(process_num)d\nnumprocs=2\nnumprocs_start=3\npriority=5\nautostart=false\nautorestart=true\nstartsecs=0\nstartretries=7\nexitcodes=0,2\nstopsignal=kill\nstopwaitsecs=1\nstopasgroup=true\nuser=root\nredirect_stderr=true\nstdout_logfile=%(here)s/o-%(process_num)d.log\nstdout_logfile_maxbytes=1MB\nstdout_logfile_backups=0\nstdout_capture_maxbytes=1KB\nstdout_events_enabled=true\nstdout_syslog=true\nenvironment=X=\"%(process_num)d\"\ndirectory=/d/%(ENV_X)s\numask=002\nserverurl=http://h:1\n")
        .unwrap();
    let g = &c.groups[0];
    assert_eq!(g.priority, 5);
    let names: Vec<&str> = g.processes.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, vec!["a-3", "a-4"]);
    let p = &g.processes[1];
    assert_eq!(p.command, "run a 04/2 a box foo 4 %");
    assert!(!p.autostart);
    assert_eq!(p.autorestart, AutoRestart::Always);
    assert_eq!((p.startsecs, p.startretries, p.stopwaitsecs), (0, 7, 1));
    assert_eq!(p.exitcodes, vec![0, 2]);
    assert_eq!(p.stopsignal, 9);
    assert!(p.stopasgroup && p.killasgroup && p.redirect_stderr);
    assert_eq!(p.uid, Some(0));
    assert_eq!(
        p.stdout.logfile,
        LogFile::Path(format!("{}/o-4.log", t.here()).into())
    );
    assert_eq!(p.stdout.logfile_maxbytes, 1 << 20);
    assert_eq!(p.stdout.logfile_backups, 0);
    assert_eq!(p.stdout.capture_maxbytes, 1024);
    assert!(p.stdout.events_enabled && p.stdout.syslog);
    assert_eq!(p.stderr.logfile, LogFile::None);
    assert_eq!(p.environment, vec![("X".to_string(), "4".to_string())]);
    assert_eq!(p.directory.as_deref(), Some("/d/4"));
    assert_eq!(p.umask, Some(0o2));
    assert_eq!(p.serverurl.as_deref(), Some("http://h:1"));
}

#[test]
#[cfg_attr(
    not(feature = "os"),
    ignore = "needs the user/group lookups of the `os` feature"
)]
fn program_validation_messages() {
    let suffix = " in section 'program:a' (file: 's.conf')";
    let cases = [
        ("autostart=x", "not a valid boolean value: 'x'"),
        ("autorestart=Sometimes", "invalid 'autorestart' value 'sometimes'"),
        ("startsecs=x", "invalid literal for int() with base 10: 'x'"),
        ("startretries=x", "invalid literal for int() with base 10: 'x'"),
        ("stopsignal=FOO", "value 'FOO' is not a valid signal name"),
        ("stopsignal=99", "value '99' is not a valid signal number"),
        ("stopwaitsecs=x", "invalid literal for int() with base 10: 'x'"),
        ("stopasgroup=x", "not a valid boolean value: 'x'"),
        ("killasgroup=x", "not a valid boolean value: 'x'"),
        ("exitcodes=300", "not a valid list of exit codes: '300'"),
        ("redirect_stderr=x", "not a valid boolean value: 'x'"),
        ("numprocs=x", "invalid literal for int() with base 10: 'x'"),
        ("numprocs=2", "%(process_num) must be present within process_name when numprocs > 1"),
        ("numprocs_start=x", "invalid literal for int() with base 10: 'x'"),
        ("environment=A", "Unexpected end of key/value pairs in value 'A'"),
        ("stdout_capture_maxbytes=x", "invalid literal for int() with base 10: 'x'"),
        ("stdout_events_enabled=x", "not a valid boolean value: 'x'"),
        ("stderr_capture_maxbytes=x", "invalid literal for int() with base 10: 'x'"),
        ("stderr_events_enabled=x", "not a valid boolean value: 'x'"),
        ("user=nosuchuserxyz", "Invalid user name nosuchuserxyz"),
        ("umask=x", "x can not be converted to an octal type"),
        ("process_name=a b", "Invalid name: 'a b' because of character: ' '"),
        ("stopasgroup=true\nkillasgroup=false", "Cannot set stopasgroup=true and killasgroup=false"),
        ("stdout_logfile=/nonexistent-xyz/o", "The directory named as part of the path /nonexistent-xyz/o does not exist"),
        ("stdout_logfile_backups=x", "invalid literal for int() with base 10: 'x'"),
        ("stdout_logfile_maxbytes=x", "invalid literal for int() with base 10: 'x'"),
        ("stdout_syslog=x", "not a valid boolean value: 'x'"),
        ("stderr_logfile=/nonexistent-xyz/e", "The directory named as part of the path /nonexistent-xyz/e does not exist"),
        ("command=%(process_num)", "Format string '%(process_num)' for 'program:a.command' is badly formatted: incomplete format"),
        ("startsecs=%(process_num)d", "Format string '%(process_num)d' for 'program:a.startsecs' contains names ('process_num') which cannot be expanded. Available names: ENV_FOO, ENV_HOME, ENV_TMPDIR, group_name, here, host_node_name, program_name"),
        ("stdout_logfile=a%%b", "Format string 'a%b' for 'stdout_logfile' is badly formatted: unsupported format character 'b' (0x62) at index 2"),
    ];
    for (line, want) in cases {
        let text = format!("[supervisord]\n[program:a]\ncommand=c\n{line}\n");
        assert_eq!(err(&text), format!("{want}{suffix}"), "{line}");
    }
    assert_eq!(
        err("[supervisord]\n[program:a]\n"),
        format!("program section program:a does not specify a command{suffix}")
    );
    // the group-level priority is read before the section is expanded: no suffix
    assert_eq!(
        err("[supervisord]\n[program:a]\ncommand=c\npriority=x\n"),
        "invalid literal for int() with base 10: 'x'"
    );
    assert_eq!(
        err("[supervisord]\n[program:a]\ncommand=c\npriority=%(program_name)s\n"),
        "Format string '%(program_name)s' for 'program:a.priority' contains names ('program_name') which cannot be expanded. Available names: ENV_FOO, ENV_HOME, ENV_TMPDIR, here"
    );
    assert_eq!(
        err("[supervisord]\n[program:a:b]\ncommand=c\n"),
        "Invalid name: 'a:b' because of character: ':'"
    );
}

#[test]
fn program_error_carries_location() {
    let e = T::new()
        .load("[supervisord]\n[program:a]\ncommand=c\n\nstartsecs=x\n")
        .unwrap_err();
    assert_eq!(e.line, Some(5));
    assert_eq!(e.section.as_deref(), Some("program:a"));
    assert_eq!(e.key.as_deref(), Some("startsecs"));
    assert_eq!(e.file, Some(PathBuf::from("s.conf")));
    assert_eq!(e.location(), "s.conf:5 [program:a] startsecs");
}

#[test]
fn program_parse_warnings() {
    let t = T::new();
    let c = t
        .load("[supervisord]\n[program:a]\ncommand=c\nstdout_logfile_maxbytes=0\nstderr_logfile=syslog\n[program:b]\ncommand=c\nredirect_stderr=true\nstderr_logfile=/tmp/x\n")
        .unwrap();
    let texts: Vec<&str> = c.parse_messages.iter().map(|m| m.text.as_str()).collect();
    assert_eq!(texts, vec![
        "For [program:a], AUTO logging used for stdout_logfile without rollover, set maxbytes > 0 to avoid filling up filesystem unintentionally",
        "For [program:a], stderr_logfile=syslog but this is deprecated and will be removed.  Use stderr_syslog=true to enable syslog instead.",
        "For [program:b], redirect_stderr=true but stderr_logfile has also been set to a filename, the filename has been ignored",
    ]);
    assert!(c.parse_messages.iter().all(|m| m.level == LogLevel::Warn));
    let a = &c.groups[0].processes[0];
    assert_eq!(a.stderr.logfile, LogFile::None);
    assert!(a.stderr.syslog);
}

#[test]
fn groups_listeners_fcgi() {
    let t = T::new();
    let c = t
        .load("[supervisord]\n[program:w]\ncommand=w %(group_name)s\npriority=2\n[program:v]\ncommand=v\npriority=1\n[group:g]\nprograms=w,v\npriority=10\n[eventlistener:l]\ncommand=l\nevents=tick_5,PROCESS_STATE\n[fcgi-program:f]\ncommand=f\nsocket=unix://%(here)s/%(program_name)s.sock\n")
        .unwrap();
    let order: Vec<(&str, i32)> = c
        .groups
        .iter()
        .map(|g| (g.name.as_str(), g.priority))
        .collect();
    assert_eq!(order, vec![("l", -1), ("g", 10), ("f", 999)]);
    let GroupKind::EventListenerPool(pool) = &c.groups[0].kind else {
        panic!()
    };
    assert_eq!(
        pool.events,
        vec![
            supervisor_protocol::events::EventType::Tick5,
            supervisor_protocol::events::EventType::ProcessState
        ]
    );
    assert_eq!(pool.event_names(), ["TICK_5", "PROCESS_STATE"]);
    assert_eq!(pool.buffer_size, 10);
    assert_eq!(pool.result_handler, DEFAULT_RESULT_HANDLER);
    assert_eq!(c.groups[0].processes[0].priority, 999);
    let g = &c.groups[1];
    assert_eq!(g.kind, GroupKind::Heterogeneous);
    assert_eq!(g.processes[0].command, "w g");
    let GroupKind::FcgiProgram(sock) = &c.groups[2].kind else {
        panic!()
    };
    let path = format!("{}/f.sock", t.here());
    assert_eq!(sock.url, format!("unix://{path}"));
    assert_eq!(sock.address, SocketAddress::Unix(path.into()));
    assert_eq!((sock.backlog, sock.owner, sock.mode), (None, None, 0o700));
}

#[test]
fn group_listener_fcgi_messages() {
    let cases = [
        ("[group:g]\nprograms=x\n", "[group:g] names unknown program or fcgi-program x"),
        ("[program:a]\ncommand=a\n[group:g]\nprograms=a,x\n", "[program:a] names unknown program or fcgi-program x"),
        ("[program:a]\ncommand=a\n[fcgi-program:a]\ncommand=a\nsocket=tcp://h:1\n[group:g]\nprograms=a\n", "[group:g] name a is ambiguous (exists as program and fcgi-program)"),
        ("[group:g]\npriority=x\n", "invalid literal for int() with base 10: 'x'"),
        ("[eventlistener:l]\ncommand=l\n", "[eventlistener:l] section requires an \"events\" line"),
        ("[eventlistener:l]\ncommand=l\nevents=FOO\n", "Unknown event type FOO in [eventlistener:l] events"),
        ("[eventlistener:l]\ncommand=l\nevents=TICK_5\nbuffer_size=0\n", "[eventlistener:l] section sets invalid buffer_size (0)"),
        ("[eventlistener:l]\ncommand=l\nevents=TICK_5\nresult_handler=a:b\n", "a:b cannot be resolved within [eventlistener:l]"),
        ("[eventlistener:l]\ncommand=l\nevents=TICK_5\nredirect_stderr=true\n", "[eventlistener:l] section sets redirect_stderr=true but this is not allowed because it will interfere with the eventlistener protocol"),
        ("[fcgi-program:f]\ncommand=f\n", "[fcgi-program:f] section requires a \"socket\" line"),
        ("[fcgi-program:f]\ncommand=f\nsocket=foo\n", "('Bad socket format %s', 'foo') in [fcgi-program:f] socket"),
        ("[fcgi-program:f]\ncommand=f\nsocket=unix://x.sock\n", "('Unix socket path %s is not an absolute path', 'x.sock') in [fcgi-program:f] socket"),
        ("[fcgi-program:f]\ncommand=f\nsocket=tcp://h:1\nsocket_mode=0700\n", "socket_owner and socket_mode params should only be used with a Unix domain socket in [fcgi-program:f] socket"),
        ("[fcgi-program:f]\ncommand=f\nsocket=tcp://h:70000\n", "70000 is above upper bound (65535) in [fcgi-program:f] socket"),
        ("[fcgi-program:f]\ncommand=f\nsocket=tcp://h:1\nsocket_backlog=0\n", "Invalid socket_backlog value 0"),
        ("[fcgi-program:f]\ncommand=f\nsocket=unix:///s\nsocket_owner=nosuchuserxyz\n", "Invalid socket_owner value nosuchuserxyz"),
        ("[fcgi-program:f]\ncommand=f\nsocket=unix:///s\nsocket_mode=x\n", "Invalid socket_mode value x"),
        ("[rpcinterface:x]\n", "section [rpcinterface:x] does not specify a supervisor.rpcinterface_factory"),
        ("[rpcinterface:x]\nsupervisor.rpcinterface_factory=a:b\n", "a:b cannot be resolved within [rpcinterface:x]"),
    ];
    for (body, want) in cases {
        assert_eq!(err(&format!("{SD}{body}")), want, "{body}");
    }
}

#[test]
fn fcgi_tcp_and_defaults() {
    let c = T::new()
        .load("[supervisord]\n[fcgi-program:f]\ncommand=f\nsocket=tcp://LocalHost:0900\nsocket_backlog=5\n")
        .unwrap();
    let GroupKind::FcgiProgram(sock) = &c.groups[0].kind else {
        panic!()
    };
    assert_eq!(sock.url, "tcp://localhost:900");
    assert_eq!(
        sock.address,
        SocketAddress::Tcp {
            host: "localhost".into(),
            port: 900
        }
    );
    assert_eq!(sock.backlog, Some(5));
}

#[test]
fn servers() {
    let t = T::new();
    let c = t
        .load("[supervisord]\n[unix_http_server]\nfile=%(here)s/s.sock\n[inet_http_server]\nport=*:9001\nusername=u\npassword={SHA}abc\n")
        .unwrap();
    let u = c.unix_http_server.unwrap();
    assert_eq!(u.file, PathBuf::from(format!("{}/s.sock", t.here())));
    assert_eq!((u.chmod, u.chown, u.credentials), (0o700, None, None));
    let i = &c.inet_http_servers[0];
    assert_eq!((i.host.as_str(), i.port), ("", 9001));
    assert_eq!(i.credentials.as_ref().unwrap().password, "{SHA}abc");
    let cases = [
        ("[inet_http_server]\n", "section [inet_http_server] has no port value"),
        ("[inet_http_server]\nport=abc\n", "not a valid port number: 'abc' "),
        ("[inet_http_server]\nport=9001\nusername=u\n", "Section [inet_http_server] contains incomplete authentication: If a username or a password is specified, both the username and password must be specified"),
        ("[unix_http_server]\n", "section [unix_http_server] has no file value"),
        ("[unix_http_server]\nfile=/s\nchmod=x\n", "Invalid chmod value x"),
        ("[unix_http_server]\nfile=/s\nchown=nosuchuserxyz\n", "Invalid sockchown value nosuchuserxyz"),
    ];
    for (body, want) in cases {
        assert_eq!(err(&format!("{SD}{body}")), want, "{body}");
    }
}

#[test]
fn ctl_section() {
    let t = T::new();
    let p = t.dir.path().join("c.conf");
    std::fs::write(&p, "[supervisorctl]\n").unwrap();
    let c = load_ctl_with_context(&p, &t.ctx()).unwrap();
    assert_eq!(c, CtlConfig::default());
    std::fs::write(&p, "[supervisorctl]\nserverurl=unix://%(here)s/../x/s.sock\nusername=u\npassword=p\nprompt=box\nhistory_file=~/.h\n").unwrap();
    let c = load_ctl_with_context(&p, &t.ctx()).unwrap();
    let parent = t
        .dir
        .path()
        .parent()
        .unwrap()
        .to_string_lossy()
        .into_owned();
    assert_eq!(c.serverurl, format!("unix://{parent}/x/s.sock"));
    assert_eq!(
        (c.username.as_deref(), c.password.as_deref()),
        (Some("u"), Some("p"))
    );
    assert_eq!(c.prompt, "box");
    assert_eq!(c.history_file, Some(PathBuf::from("/home/u/.h")));
    std::fs::write(&p, "[supervisord]\n").unwrap();
    assert_eq!(
        load_ctl_with_context(&p, &t.ctx()).unwrap_err().message,
        ".ini file does not include supervisorctl section"
    );
    assert_eq!(
        load_ctl_with_context(Path::new("/nonexistent-xyz.conf"), &t.ctx())
            .unwrap_err()
            .message,
        "could not find config file /nonexistent-xyz.conf"
    );
}

#[test]
fn include_files_and_messages() {
    let t = T::new();
    std::fs::create_dir(t.dir.path().join("conf.d")).unwrap();
    std::fs::write(
        t.dir.path().join("conf.d/b.ini"),
        "[program:b]\ncommand=b %(here)s\n",
    )
    .unwrap();
    std::fs::write(
        t.dir.path().join("conf.d/a.ini"),
        "[program:a]\ncommand=a\n[include]\nfiles=nested/*.ini\n",
    )
    .unwrap();
    let c = t
        .load("[supervisord]\n[include]\nfiles=conf.d/*.ini none/*.ini\n")
        .unwrap();
    let here = t.here();
    let texts: Vec<(LogLevel, &str)> = c
        .parse_messages
        .iter()
        .map(|m| (m.level, m.text.as_str()))
        .collect();
    assert_eq!(
        texts,
        vec![
            (
                LogLevel::Warn,
                format!("No file matches via include \"{here}/none/*.ini\"").as_str()
            ),
            (
                LogLevel::Info,
                format!("Included extra file \"{here}/conf.d/a.ini\" during parsing").as_str()
            ),
            (
                LogLevel::Info,
                format!("Included extra file \"{here}/conf.d/b.ini\" during parsing").as_str()
            ),
        ]
    );
    assert_eq!(c.groups[1].processes[0].command, format!("b {here}/conf.d"));
    assert_eq!(
        c.groups[1].processes[0].file,
        PathBuf::from(format!("{here}/conf.d/b.ini"))
    );
}

#[test]
fn parse_errors_name_the_file_and_line() {
    let e = T::new().load("[supervisord]\nnonsense\n").unwrap_err();
    assert_eq!(
        e.message,
        "Source contains parsing errors: 's.conf'\n\t[line  2]: 'nonsense\\n'"
    );
    assert_eq!(e.line, Some(2));
    assert_eq!(
        load_with_context(Path::new("/nonexistent-xyz.conf"), &T::new().ctx())
            .unwrap_err()
            .message,
        "could not find config file /nonexistent-xyz.conf"
    );
}

#[test]
fn thousand_included_files_are_fast() {
    let t = T::new();
    std::fs::create_dir(t.dir.path().join("d")).unwrap();
    for i in 0..1000 {
        std::fs::write(
            t.dir.path().join(format!("d/p{i:04}.ini")),
            format!("[program:p{i}]\ncommand=run %(here)s\nstdout_logfile=%(here)s/p{i}.log\n"),
        )
        .unwrap();
    }
    let start = std::time::Instant::now();
    let c = t.load("[supervisord]\n[include]\nfiles=d/*.ini\n").unwrap();
    let took = start.elapsed();
    assert_eq!(c.groups.len(), 1000);
    assert_eq!(
        c.groups[0].processes[0].command,
        format!("run {}/d", t.here())
    );
    assert!(took.as_secs_f64() < 5.0, "took {took:?}");
    eprintln!("1000 included files parsed in {took:?}");
}

#[test]
fn thousand_programs_are_fast() {
    let mut text = String::from("[supervisord]\n");
    for i in 0..1000 {
        text.push_str(&format!(
            "[program:p{i}]\ncommand=/bin/sleep %(process_num)d {i}\nnumprocs=2\nprocess_name=%(program_name)s_%(process_num)d\nenvironment=A=\"{i}\",B=%(ENV_FOO)s\nstdout_logfile=%(here)s/p{i}.log\n"
        ));
    }
    let t = T::new();
    let start = std::time::Instant::now();
    let c = t.load(&text).unwrap();
    let took = start.elapsed();
    assert_eq!(c.groups.len(), 1000);
    assert_eq!(
        c.groups.iter().map(|g| g.processes.len()).sum::<usize>(),
        2000
    );
    // generous for an unoptimised build on a busy 2-core machine; typically ~20 ms
    assert!(took.as_secs_f64() < 5.0, "took {took:?}");
    eprintln!("1000 programs / 2000 processes parsed in {took:?}");
}
