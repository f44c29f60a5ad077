//! The daemon's process lifecycle, observed on real children through the main log and the
//! files the children write.

mod util;

use std::time::Duration;
use util::{alive, find_line, line_time, wait_file, wait_gone, Sd};

#[test]
fn autorestart_matrix() {
    // (name, autorestart, exit code, restarts?)
    let cases = [
        ("never0", "false", 0, false),
        ("never3", "false", 3, false),
        ("unexp0", "unexpected", 0, false),
        ("unexp3", "unexpected", 3, true),
        ("always0", "true", 0, true),
        ("always3", "true", 3, true),
    ];
    let mut body = String::new();
    for (name, ar, code, _) in cases {
        body.push_str(&format!(
            "[program:{name}]\ncommand=/bin/sh -c 'sleep 0.3; exit {code}'\nstartsecs=0\nautorestart={ar}\nstdout_logfile=NONE\nstderr_logfile=NONE\n\n"
        ));
    }
    let mut sd = Sd::start(&body);
    for (name, _, code, restarts) in cases {
        let expected = if code == 0 {
            format!("INFO exited: {name} (exit status 0; expected)")
        } else {
            format!("WARN exited: {name} (exit status {code}; not expected)")
        };
        sd.wait_for(&expected);
        if restarts {
            sd.wait_count(&format!("spawned: '{name}'"), 2);
        }
    }
    // A would-be restart is decided by the pass that handles the exit or the next one.
    // Proof that those passes ran: after the last exit of a program that must stay down,
    // some restarting program exited and was spawned again (no fixed sleep: on a slow
    // machine this waits longer, on a fast one it does not wait for nothing).
    let text = sd.mainlog();
    let settled = cases
        .iter()
        .filter(|c| !c.3)
        .map(|(name, ..)| {
            let needle = format!("exited: {name} (");
            text.rfind(&needle).expect("exit logged") + needle.len()
        })
        .max()
        .expect("cases that stay down");
    let restarting: Vec<&str> = cases.iter().filter(|c| c.3).map(|c| c.0).collect();
    sd.wait_until(
        util::WAIT,
        "a restart cycle after the last exit of a program that stays down",
        |t| {
            let tail = &t[settled..];
            restarting.iter().any(|name| {
                tail.find(&format!("exited: {name} ("))
                    .is_some_and(|at| tail[at..].contains(&format!("spawned: '{name}'")))
            })
        },
    );
    for (name, _, _, restarts) in cases {
        let n = sd.count(&format!("spawned: '{name}'"));
        if restarts {
            assert!(n >= 2, "{name} spawned {n} times");
        } else {
            assert_eq!(n, 1, "{name} was restarted:\n{}", sd.mainlog());
        }
    }
    assert!(sd.stop().success());
}

#[test]
fn startretries_backoff_then_fatal() {
    let mut sd = Sd::start(
        "[program:quick]\ncommand=/bin/sh -c 'exit 1'\nstartsecs=5\nstartretries=2\n\n\
[program:nocmd]\ncommand=/no/such/cmd\nstartretries=0\n",
    );
    sd.wait_for("gave up: quick entered FATAL state, too many start retries too quickly");
    sd.wait_for("gave up: nocmd entered FATAL state");
    let log = sd.mainlog();
    assert_eq!(sd.count("spawned: 'quick'"), 3, "{log}");
    assert_eq!(
        sd.count("WARN exited: quick (exit status 1; not expected)"),
        3
    );
    // retries wait 1 s, then 2 s
    let t: Vec<f64> = (0..3)
        .map(|i| line_time(&find_line(&log, "spawned: 'quick'", i).unwrap()))
        .collect();
    let gap1 = t[1] - t[0];
    let gap2 = t[2] - t[1];
    assert!(
        (0.95..1.5).contains(&gap1),
        "first retry after {gap1}s\n{log}"
    );
    assert!(
        (1.95..2.5).contains(&gap2),
        "second retry after {gap2}s\n{log}"
    );
    assert!(log.contains("INFO spawnerr: can't find command '/no/such/cmd'"));
    assert_eq!(sd.count("spawned: 'nocmd'"), 0);
    assert!(sd.stop().success());
}

#[test]
fn startsecs_success_line() {
    let mut sd = Sd::start("[program:web]\ncommand=sleep 30\nstartsecs=1\n");
    sd.wait_for(
        "INFO success: web entered RUNNING state, process has stayed up for > than 1 seconds (startsecs)",
    );
    let log = sd.mainlog();
    let spawned = line_time(&find_line(&log, "spawned: 'web'", 0).unwrap());
    let success = line_time(&find_line(&log, "success: web", 0).unwrap());
    // startsecs counts from the start of the spawn (as the reference's laststart, taken
    // before it forks), while "spawned:" is logged once the child exists: a spawn that
    // takes a few ms under load puts the two lines slightly less than 1 s apart.
    assert!(
        success - spawned >= 0.95 && success - spawned < 1.3,
        "{log}"
    );
    assert!(sd.stop().success());
}

#[test]
fn stopwaitsecs_sigkills_a_term_ignoring_child() {
    let mut sd = Sd::start(
        "[program:stubborn]\ncommand=/bin/sh -c 'trap \"\" TERM; echo ready; while :; do sleep 0.1; done'\n\
startsecs=0\nstopwaitsecs=1\n",
    );
    sd.wait_for("success: stubborn");
    let pid = sd.spawned_pids("stubborn")[0];
    let st = sd.stop();
    assert!(st.success());
    let log = sd.mainlog();
    assert!(
        log.contains(&format!(
            "DEBG killing stubborn (pid {pid}) with signal SIGTERM"
        )),
        "{log}"
    );
    assert!(
        log.contains(&format!("WARN killing 'stubborn' ({pid}) with SIGKILL")),
        "{log}"
    );
    assert!(
        log.contains("WARN stopped: stubborn (terminated by SIGKILL)"),
        "{log}"
    );
    let term = line_time(&find_line(&log, "with signal SIGTERM", 0).unwrap());
    let kill = line_time(&find_line(&log, "with SIGKILL", 0).unwrap());
    assert!((0.95..1.5).contains(&(kill - term)), "{log}");
    assert!(!alive(pid));
}

#[test]
fn stopasgroup_kills_grandchildren() {
    let mut sd = Sd::start(
        "[program:grp]\ncommand=/bin/sh -c 'sleep 300 & echo $! > {dir}/grp.pid; wait'\nstartsecs=0\nstopasgroup=true\n\n\
[program:solo]\ncommand=/bin/sh -c 'sleep 300 & echo $! > {dir}/solo.pid; wait'\nstartsecs=0\n",
    );
    let grp_gc: i32 = wait_file(&sd.path().join("grp.pid"), util::WAIT)
        .trim()
        .parse()
        .unwrap();
    let solo_gc: i32 = wait_file(&sd.path().join("solo.pid"), util::WAIT)
        .trim()
        .parse()
        .unwrap();
    assert!(alive(grp_gc) && alive(solo_gc));
    assert!(sd.stop().success());
    let log = sd.mainlog();
    assert!(log.contains("with signal SIGTERM"), "{log}");
    assert!(
        log.contains("killing grp (pid ") && log.contains(") process group with signal SIGTERM"),
        "{log}"
    );
    assert!(
        wait_gone(grp_gc, Duration::from_secs(5)),
        "grandchild of a stopasgroup program survived"
    );
    // without stopasgroup the grandchild is orphaned and survives
    let survived = alive(solo_gc);
    util::kill_if_running(solo_gc, "sleep");
    assert!(survived, "grandchild of a plain program should outlive it");
}

#[test]
fn priorities_order_start_and_shutdown() {
    let mut sd = Sd::start(
        "[program:late]\ncommand=sleep 30\npriority=300\nstartsecs=0\n\n\
[program:early]\ncommand=sleep 30\npriority=100\nstartsecs=0\n\n\
[program:middle]\ncommand=sleep 30\npriority=200\nstartsecs=0\n",
    );
    sd.wait_count("success: ", 3);
    assert!(sd.stop().success());
    let msgs = sd.messages();
    let order = |prefix: &str| -> Vec<String> {
        msgs.iter()
            .filter_map(|m| m.strip_prefix(prefix))
            .map(|r| {
                r.split([' ', '\''])
                    .find(|s| !s.is_empty())
                    .unwrap()
                    .to_string()
            })
            .collect()
    };
    assert_eq!(order("INFO spawned: "), ["early", "middle", "late"]);
    assert_eq!(order("WARN stopped: "), ["late", "middle", "early"]);
    assert_eq!(
        order("DEBG killing "),
        ["late", "middle", "early"],
        "{}",
        sd.mainlog()
    );
}

#[test]
fn child_sees_environment_directory_umask() {
    let work = tempfile::tempdir().unwrap();
    let wd = work.path().display().to_string();
    let mut sd = Sd::start_with(
        &format!(
            "[program:envy]\ncommand=/bin/sh -c 'env > {{dir}}/env.txt; pwd > {{dir}}/pwd.txt; umask > {{dir}}/umask.txt; exec sleep 30'\n\
directory={wd}\numask=027\nenvironment=FOO=\"bar baz\",SHARED=\"program\"\nstartsecs=0\n"
        ),
        "environment=SHARED=\"daemon\",DAEMONLEVEL=\"yes\"",
    );
    let env = wait_file(&sd.path().join("env.txt"), util::WAIT);
    let pwd = wait_file(&sd.path().join("pwd.txt"), util::WAIT);
    let umask = wait_file(&sd.path().join("umask.txt"), util::WAIT);
    let lines: Vec<&str> = env.lines().collect();
    for want in [
        "SUPERVISOR_ENABLED=1",
        "SUPERVISOR_PROCESS_NAME=envy",
        "SUPERVISOR_GROUP_NAME=envy",
        "FOO=bar baz",
        "SHARED=program",
        "DAEMONLEVEL=yes",
    ] {
        assert!(lines.contains(&want), "missing {want} in:\n{env}");
    }
    assert!(
        !env.contains("SUPERVISOR_SERVER_URL="),
        "no server configured:\n{env}"
    );
    assert_eq!(pwd.trim(), wd);
    assert_eq!(umask.trim(), "0027");
    assert!(sd.stop().success());
}

#[test]
fn killed_child_is_respawned_with_a_new_pid() {
    let mut sd = Sd::start("[program:phoenix]\ncommand=sleep 300\nstartsecs=0\nautorestart=true\n");
    sd.wait_for("success: phoenix");
    let first = sd.spawned_pids("phoenix")[0];
    // SAFETY: kill(2) on the pid our daemon spawned.
    unsafe { libc::kill(first, libc::SIGKILL) };
    sd.wait_count("spawned: 'phoenix'", 2);
    let pids = sd.spawned_pids("phoenix");
    assert_ne!(pids[1], first);
    let log = sd.mainlog();
    let exited = find_line(
        &log,
        "WARN exited: phoenix (terminated by SIGKILL; not expected)",
        0,
    )
    .expect("exit line");
    let respawn = find_line(&log, "spawned: 'phoenix'", 1).unwrap();
    let latency = line_time(&respawn) - line_time(&exited);
    assert!(latency < 0.1, "respawn took {latency}s\n{log}");
    assert!(alive(pids[1]));
    assert!(sd.stop().success());
    assert!(!alive(pids[1]));
}

#[test]
fn term_leaves_no_child_alive() {
    let mut body = String::new();
    for i in 0..5 {
        body.push_str(&format!(
            "[program:p{i}]\ncommand=sleep 300\nstartsecs=0\npriority={}\n\n",
            i * 10
        ));
    }
    body.push_str("[program:ignorer]\ncommand=/bin/sh -c 'trap \"\" TERM INT; while :; do sleep 0.1; done'\nstartsecs=0\nstopsignal=INT\nstopwaitsecs=1\n");
    let mut sd = Sd::start(&body);
    sd.wait_count("success: ", 6);
    let pids = sd.all_spawned_pids();
    assert_eq!(pids.len(), 6);
    let st = sd.stop();
    assert_eq!(st.code(), Some(0));
    for pid in pids {
        assert!(!alive(pid), "pid {pid} survived shutdown");
    }
    let log = sd.mainlog();
    assert!(log.contains("WARN received SIGTERM indicating exit request"));
    assert!(log.contains("INFO waiting for "), "{log}");
    assert!(!sd.path().join("supervisord.pid").exists());
}

#[test]
fn hup_restarts_every_child_in_the_same_process() {
    let mut sd = Sd::start(
        "[program:a]\ncommand=sleep 300\nstartsecs=0\n\n[program:b]\ncommand=sleep 300\nstartsecs=0\nautostart=false\n",
    );
    sd.wait_for("success: a");
    let first = sd.spawned_pids("a")[0];
    let daemon = sd.pid();
    // the config changes under the daemon: b now autostarts
    let conf = std::fs::read_to_string(&sd.conf).unwrap();
    std::fs::write(&sd.conf, conf.replace("autostart=false", "autostart=true")).unwrap();
    sd.signal(libc::SIGHUP);
    sd.wait_count("success: a", 2);
    sd.wait_for("success: b");
    let log = sd.mainlog();
    assert!(log.contains("WARN received SIGHUP indicating restart request"));
    assert_eq!(
        sd.count(&format!("supervisord started with pid {daemon}")),
        2,
        "{log}"
    );
    let pids = sd.spawned_pids("a");
    assert_ne!(pids[1], first);
    assert!(!alive(first));
    assert!(sd.stop().success());
}

#[test]
fn config_error_exits_2_and_starts_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("bad.conf");
    std::fs::write(
        &conf,
        format!(
            "[supervisord]\nlogfile={}/x.log\n\n[program:x]\nautostart=true\n",
            dir.path().display()
        ),
    )
    .unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_supervisord"))
        .arg("-n")
        .arg("-c")
        .arg(&conf)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.starts_with("Error: program section program:x does not specify a command"),
        "{err}"
    );
    assert!(
        err.ends_with(&format!(
            "For help, use {} -h\n",
            env!("CARGO_BIN_EXE_supervisord")
        )),
        "{err}"
    );
    assert!(!dir.path().join("x.log").exists());
}

#[test]
fn last_output_is_logged_before_the_exit_line() {
    let mut sd = Sd::start(
        "[program:talker]\ncommand=/bin/sh -c 'echo last words; exit 3'\nstartsecs=0\nautorestart=false\n\
stdout_logfile={dir}/talker.out\n",
    );
    sd.wait_for("exited: talker (exit status 3; not expected)");
    let log = sd.mainlog();
    let out = log
        .find("DEBG 'talker' stdout output:\nlast words")
        .expect(&log);
    let exit = log.find("exited: talker").unwrap();
    assert!(out < exit, "{log}");
    assert_eq!(
        std::fs::read_to_string(sd.path().join("talker.out")).unwrap(),
        "last words\n"
    );
    assert!(sd.stop().success());
}

#[test]
fn pipes_held_by_grandchildren_do_not_leak_fds() {
    let mut sd = Sd::start(
        "[program:forker]\ncommand=/bin/sh -c 'sleep 300 & echo $! >> {dir}/gc.pids; sleep 0.1; exit 1'\n\
startsecs=0\nautorestart=true\n",
    );
    let fds = |pid: i32| {
        std::fs::read_dir(format!("/proc/{pid}/fd"))
            .unwrap()
            .count()
    };
    sd.wait_count("spawned: 'forker'", 4);
    let early = fds(sd.pid());
    sd.wait_count("spawned: 'forker'", 12);
    let late = fds(sd.pid());
    let st = sd.stop();
    let gcs = std::fs::read_to_string(sd.path().join("gc.pids")).unwrap_or_default();
    for pid in gcs.lines().filter_map(|l| l.trim().parse::<i32>().ok()) {
        util::kill_if_running(pid, "sleep");
    }
    assert!(st.success());
    assert!(late <= early + 3, "fds grew from {early} to {late}");
}

#[test]
fn usr2_reopens_main_and_child_logs() {
    let mut sd = Sd::start(
        "[program:ticker]\ncommand=/bin/sh -c 'while :; do echo tick; sleep 0.05; done'\nstartsecs=0\n\
stdout_logfile={dir}/ticker.log\nstdout_logfile_maxbytes=0\n",
    );
    let child_log = sd.path().join("ticker.log");
    wait_file(&child_log, util::WAIT);
    // logrotate-style: move both files away, then ask for a reopen
    std::fs::rename(&child_log, sd.path().join("ticker.log.old")).unwrap();
    std::fs::rename(&sd.log, sd.path().join("supervisord.log.old")).unwrap();
    sd.signal(libc::SIGUSR2);
    let new_child = wait_file(&child_log, util::WAIT);
    assert!(new_child.starts_with("tick\n"), "{new_child}");
    // both lines go to the old file (written before the reopen), later ones to the new
    sd.wait_for("DEBG 'ticker' stdout output:");
    let old_main =
        std::fs::read_to_string(sd.path().join("supervisord.log.old")).unwrap_or_default();
    assert!(
        old_main.contains("INFO received SIGUSR2 indicating log reopen request\n")
            && old_main.contains("INFO supervisord logreopen\n"),
        "{old_main}"
    );
    assert!(sd.stop().success());
}
