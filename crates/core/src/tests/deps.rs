//! Dependencies (`depends_on=`): waits in STARTING with pid 0, chains, diamonds, `done`
//! one-shots, failure propagation, stops while waiting, reverse-order stops, and
//! property tests over random dependency graphs.

use super::*;
use proptest::prelude::*;
use supervisor_config::{Dependency, DependencyCondition};

fn dep(name: &str) -> Dependency {
    Dependency {
        name: name.into(),
        condition: DependencyCondition::Ready,
    }
}

fn done(name: &str) -> Dependency {
    Dependency {
        name: name.into(),
        condition: DependencyCondition::Done,
    }
}

fn with_deps(name: &str, deps: Vec<Dependency>) -> ProcessConfig {
    let mut c = pconf(name);
    c.depends_on = deps;
    c
}

fn world(procs: Vec<ProcessConfig>) -> World {
    World::new(
        procs
            .into_iter()
            .map(|p| {
                let n = p.name.clone();
                group(&n, 999, vec![p])
            })
            .collect(),
    )
}

/// Runs to the next deadline while there is one (at most `n` times).
fn settle(w: &mut World, n: usize) {
    for _ in 0..n {
        if w.sup.next_deadline(w.now).is_none() {
            break;
        }
        w.run_to_deadline();
    }
}

fn spawned_order(w: &World) -> Vec<String> {
    w.host
        .spawned
        .iter()
        .map(|(k, _)| w.sup.process(*k).unwrap().name().to_string())
        .collect()
}

#[test]
fn chain_waits_in_starting_with_pid_0_then_spawns_when_running() {
    let mut w = world(vec![
        pconf("db"),
        with_deps("api", vec![dep("db")]),
        with_deps("web", vec![dep("api")]),
    ]);
    w.tick();
    assert_eq!(spawned_order(&w), ["db"]);
    for n in ["api", "web"] {
        assert_eq!(w.state(n), ProcessState::Starting);
        assert_eq!(w.pid(n), 0);
    }
    assert_eq!(w.info("api").description, "waiting for: db");
    assert_eq!(w.info("web").description, "waiting for: api");
    let logs = w.take_logs();
    assert!(
        logs.contains(&"INFO api is waiting for: db".to_string()),
        "{logs:?}"
    );
    // no timer for the waiting processes: only db's startsecs
    let d = w.sup.next_deadline(w.now).unwrap();
    assert!((d - (w.now.mono + 1.0)).abs() < 0.01, "{d}");
    w.run_to_deadline();
    assert_eq!(w.state("db"), ProcessState::Running);
    // api is spawned in the same tick db became RUNNING
    assert_eq!(spawned_order(&w), ["db", "api"]);
    assert_eq!(w.state("web"), ProcessState::Starting);
    assert_eq!(w.pid("web"), 0);
    w.run_to_deadline();
    assert_eq!(spawned_order(&w), ["db", "api", "web"]);
    assert_ne!(w.pid("web"), 0);
    // one STARTING event per process (the wait and the spawn are one STARTING)
    assert_eq!(w.payloads(EventType::ProcessStateStarting).len(), 3);
    w.run_to_deadline();
    assert_eq!(w.state("web"), ProcessState::Running);
    assert_eq!(w.sup.next_deadline(w.now), None);
}

#[test]
fn independent_programs_start_at_once_and_priority_orders_the_rest() {
    let mut a = pconf("a");
    a.autostart = false; // started because b needs it
    let b = with_deps("b", vec![dep("a")]);
    let mut c = pconf("c");
    c.priority = 5;
    let d = pconf("d");
    let mut w = World::new(vec![
        group("c", 5, vec![c]),
        group("b", 10, vec![b]),
        group("a", 20, vec![a]),
        group("d", 30, vec![d]),
    ]);
    w.tick();
    // c and d start at once, in priority order; a (autostart=false) because b waits for it
    assert_eq!(spawned_order(&w), ["c", "d", "a"]);
    assert_eq!(w.state("b"), ProcessState::Starting);
}

#[test]
fn diamond_waits_for_both_and_starts_the_shared_dependency_once() {
    let mut w = world(vec![
        pconf("db"),
        with_deps("left", vec![dep("db")]),
        with_deps("right", vec![dep("db")]),
        with_deps("top", vec![dep("left"), dep("right")]),
    ]);
    w.tick();
    assert_eq!(spawned_order(&w), ["db"]);
    assert_eq!(w.info("top").description, "waiting for: left, right");
    w.run_to_deadline();
    let order = spawned_order(&w);
    assert_eq!(order.len(), 3);
    assert!(order.contains(&"left".to_string()) && order.contains(&"right".to_string()));
    // left and right were spawned at the same time: both RUNNING after one startsecs
    w.run_to_deadline();
    assert_eq!(spawned_order(&w).last().unwrap(), "top");
    assert_eq!(spawned_order(&w).len(), 4);
}

#[test]
fn done_waits_for_an_expected_exit_of_a_one_shot() {
    let mut migrate = pconf("migrate");
    migrate.autorestart = AutoRestart::Never;
    migrate.autostart = false;
    migrate.startsecs = 0;
    migrate.depends_on = vec![dep("db")];
    let mut w = world(vec![
        pconf("db"),
        migrate,
        with_deps("web", vec![dep("db"), done("migrate")]),
    ]);
    w.tick();
    assert_eq!(spawned_order(&w), ["db"]);
    assert_eq!(w.info("web").description, "waiting for: db, migrate");
    w.run_to_deadline(); // db RUNNING -> migrate spawned (startsecs 0: RUNNING at once)
    assert_eq!(spawned_order(&w), ["db", "migrate"]);
    assert_eq!(w.state("migrate"), ProcessState::Running);
    assert_eq!(w.info("web").description, "waiting for: migrate");
    assert_eq!(w.pid("web"), 0);
    w.advance(2.0);
    w.exit("migrate", wait_status_exited(0));
    assert_eq!(w.state("migrate"), ProcessState::Exited);
    assert_eq!(spawned_order(&w), ["db", "migrate", "web"]);
    // restarting web later does not run the migration again
    let web = w.key("web");
    w.run_to_deadline();
    assert_eq!(w.state("web"), ProcessState::Running);
    w.sup.stop_process(web, w.now, &mut w.host).unwrap();
    w.exit("web", wait_status_signaled(15, false));
    w.sup.start_process(web, w.now, &mut w.host).unwrap();
    w.tick();
    assert_eq!(spawned_order(&w), ["db", "migrate", "web", "web"]);
}

#[test]
fn done_fails_on_an_unexpected_exit_that_is_not_retried() {
    let mut m = pconf("migrate");
    m.autorestart = AutoRestart::Never;
    m.startsecs = 0;
    m.autostart = false;
    let mut w = world(vec![m, with_deps("web", vec![done("migrate")])]);
    w.tick();
    w.exit("migrate", wait_status_exited(3));
    assert_eq!(w.state("web"), ProcessState::Fatal);
    assert_eq!(
        w.info("web").spawnerr,
        "dependency migrate exited with unexpected exit code 3"
    );
    assert_eq!(w.pid("web"), 0);
    assert!(!w.host.spawned.iter().any(|(k, _)| *k == w.key("web")));
}

#[test]
fn fatal_dependency_propagates_transitively() {
    let mut db = pconf("db");
    db.startretries = 0;
    let mut w = world(vec![
        db,
        with_deps("api", vec![dep("db")]),
        with_deps("web", vec![dep("api")]),
    ]);
    w.tick();
    w.advance(0.1);
    w.exit("db", wait_status_exited(1)); // too quickly: BACKOFF
    settle(&mut w, 5); // retries exhausted: FATAL
    assert_eq!(w.state("db"), ProcessState::Fatal);
    assert_eq!(w.state("api"), ProcessState::Fatal);
    assert_eq!(w.info("api").spawnerr, "dependency db is FATAL");
    assert_eq!(w.info("api").description, "dependency db is FATAL");
    assert_eq!(w.state("web"), ProcessState::Fatal);
    assert_eq!(w.info("web").spawnerr, "dependency api is FATAL");
    assert_eq!(spawned_order(&w), ["db"]);
    let logs = w.take_logs();
    assert!(
        logs.contains(&"INFO gave up: api entered FATAL state, dependency db is FATAL".to_string()),
        "{logs:?}"
    );
    // nothing is left waiting: no deadline, nothing due
    assert_eq!(w.sup.next_deadline(w.now), None);
    // FATAL events for each
    assert_eq!(w.payloads(EventType::ProcessStateFatal).len(), 3);
}

#[test]
fn spawn_error_of_the_dependency_also_ends_the_wait() {
    let mut db = pconf("db");
    db.startretries = 1;
    let mut w = world(vec![db, with_deps("web", vec![dep("db")])]);
    w.host.fail.insert("db".into());
    w.tick();
    for _ in 0..5 {
        if w.state("web") == ProcessState::Fatal {
            break;
        }
        w.run_to_deadline();
    }
    assert_eq!(w.state("db"), ProcessState::Fatal);
    assert_eq!(w.info("web").spawnerr, "dependency db is FATAL");
}

#[test]
fn stopping_the_dependency_fails_the_wait_and_stopping_the_waiter_is_immediate() {
    let mut w = world(vec![
        pconf("db"),
        with_deps("web", vec![dep("db")]),
        with_deps("worker", vec![dep("db")]),
    ]);
    w.tick();
    // stop the waiting worker: STOPPED at once, no signal sent
    let worker = w.key("worker");
    w.sup.stop_process(worker, w.now, &mut w.host).unwrap();
    w.tick();
    assert_eq!(w.state("worker"), ProcessState::Stopped);
    assert!(w.host.kills.is_empty());
    // stopping db while web waits for it
    let db = w.key("db");
    w.sup.stop_process(db, w.now, &mut w.host).unwrap();
    w.exit("db", wait_status_signaled(15, false));
    assert_eq!(w.state("db"), ProcessState::Stopped);
    assert_eq!(w.state("web"), ProcessState::Fatal);
    assert_eq!(w.info("web").spawnerr, "dependency db was stopped");
    // the stopped waiter is not autostarted again
    w.tick();
    assert_eq!(w.state("worker"), ProcessState::Stopped);
    assert_ne!(w.info("worker").description, "Not started");
}

#[test]
fn start_process_starts_dependencies_and_reports_waits() {
    let mut db = pconf("db");
    db.autostart = false;
    let mut web = with_deps("web", vec![dep("db")]);
    web.autostart = false;
    let mut w = world(vec![db, web]);
    w.tick();
    assert!(w.host.spawned.is_empty());
    let web = w.key("web");
    w.sup.start_process(web, w.now, &mut w.host).unwrap();
    w.drain();
    assert_eq!(spawned_order(&w), ["db"]);
    assert_eq!(w.state("web"), ProcessState::Starting);
    // a parked startProcess(wait=True) returns only when web is RUNNING
    let id = w.sup.add_waiter(WaitCondition::Running(web));
    w.tick();
    assert!(w.sup.take_completed_waiters().is_empty());
    w.run_to_deadline(); // db RUNNING, web spawned
    assert!(w.sup.take_completed_waiters().is_empty());
    w.run_to_deadline(); // web RUNNING
    assert_eq!(
        w.sup.take_completed_waiters(),
        vec![(id, WaitOutcome::Done)]
    );
    // starting a waiting/started process again: ALREADY_STARTED
    assert_eq!(
        w.sup.start_process(web, w.now, &mut w.host),
        Err(StartError::AlreadyStarted)
    );
}

#[test]
fn start_process_wait_faults_when_the_dependency_fails() {
    let mut db = pconf("db");
    db.autostart = false;
    db.startretries = 0;
    let mut web = with_deps("web", vec![dep("db")]);
    web.autostart = false;
    let mut w = world(vec![db, web]);
    let web = w.key("web");
    w.sup.start_process(web, w.now, &mut w.host).unwrap();
    let id = w.sup.add_waiter(WaitCondition::Running(web));
    w.advance(0.1);
    w.exit("db", wait_status_exited(1));
    for _ in 0..3 {
        if w.state("web") == ProcessState::Fatal {
            break;
        }
        w.run_to_deadline();
    }
    assert_eq!(w.state("web"), ProcessState::Fatal);
    assert_eq!(
        w.sup.take_completed_waiters(),
        vec![(id, WaitOutcome::SpawnError)]
    );
}

#[test]
fn group_and_group_process_names() {
    let mut c0 = pconf("c0");
    c0.section = "program:cache".into();
    let mut c1 = pconf("c1");
    c1.section = "program:cache".into();
    c1.startsecs = 3;
    let web = with_deps("web", vec![dep("cache")]);
    let api = with_deps("api", vec![dep("cache:c0")]);
    let mut w = World::new(vec![
        group("cache", 999, vec![c0, c1]),
        group("web", 999, vec![web]),
        group("api", 999, vec![api]),
    ]);
    w.tick();
    w.run_to_deadline(); // c0 RUNNING after 1 s
    assert_ne!(w.pid("api"), 0);
    assert_eq!(w.pid("web"), 0);
    assert_eq!(w.info("web").description, "waiting for: cache");
    w.advance(2.1); // c1 RUNNING after 3 s
    assert_eq!(w.state("cache:c1"), ProcessState::Running);
    assert_ne!(w.pid("web"), 0);
}

#[test]
fn a_cycle_the_loader_would_refuse_fails_instead_of_waiting_forever() {
    // the config loader refuses cycles; a table built without it must not hang
    let mut w = world(vec![
        with_deps("web", vec![dep("api")]),
        with_deps("api", vec![dep("web")]),
        with_deps("top", vec![dep("web")]),
    ]);
    w.tick();
    assert!(w.host.spawned.is_empty());
    assert_eq!(w.state("web"), ProcessState::Fatal);
    assert_eq!(w.info("web").spawnerr, "dependency cycle web -> api -> web");
    assert_eq!(w.state("api"), ProcessState::Fatal);
    assert_eq!(w.state("top"), ProcessState::Fatal);
    assert_eq!(w.sup.next_deadline(w.now), None);
}

#[test]
fn shutdown_stops_dependents_first() {
    let mut w = world(vec![
        pconf("db"),
        with_deps("api", vec![dep("db")]),
        with_deps("web", vec![dep("api")]),
        pconf("other"),
    ]);
    w.tick();
    settle(&mut w, 6);
    for n in ["db", "api", "web", "other"] {
        assert_eq!(w.state(n), ProcessState::Running, "{n}");
    }
    w.sup.request_shutdown();
    w.tick();
    let killed = |w: &World| -> Vec<i32> { w.host.kills.iter().map(|(p, _)| *p).collect() };
    let (db, api, web, other) = (w.pid("db"), w.pid("api"), w.pid("web"), w.pid("other"));
    // web and other are free: stopped together; api and db wait
    let k = killed(&w);
    assert!(
        k.contains(&web) && k.contains(&other) && k.len() == 2,
        "{k:?}"
    );
    w.exit("other", wait_status_signaled(15, false));
    assert_eq!(killed(&w).len(), 2);
    w.exit("web", wait_status_signaled(15, false));
    assert_eq!(killed(&w)[2..], [api]);
    w.exit("api", wait_status_signaled(15, false));
    assert_eq!(killed(&w)[3..], [db]);
    w.exit("db", wait_status_signaled(15, false));
    assert!(w.sup.is_finished());
}

#[test]
fn shutdown_while_waiting_cancels_the_waits() {
    let mut w = world(vec![pconf("db"), with_deps("web", vec![dep("db")])]);
    w.tick();
    w.sup.request_shutdown();
    w.tick();
    assert_eq!(w.state("web"), ProcessState::Stopped);
    assert_eq!(w.host.kills.len(), 1); // db only
    w.exit("db", wait_status_signaled(15, false));
    assert!(w.sup.is_finished());
    assert_eq!(spawned_order(&w), ["db"]);
}

#[test]
fn stop_all_holds_dependencies_back_until_dependents_stopped() {
    let mut w = world(vec![pconf("db"), with_deps("web", vec![dep("db")])]);
    w.tick();
    w.run_to_deadline();
    w.run_to_deadline();
    let (db, web) = (w.key("db"), w.key("web"));
    // stopAllProcesses goes in priority order: db first, then web
    w.sup.stop_after_dependents(db, w.now, &mut w.host).unwrap();
    assert!(w.sup.is_stop_deferred(db));
    w.sup
        .stop_after_dependents(web, w.now, &mut w.host)
        .unwrap();
    w.tick();
    assert_eq!(w.host.kills, vec![(w.pid("web"), 15)]);
    assert_eq!(w.state("db"), ProcessState::Running);
    w.exit("web", wait_status_signaled(15, false));
    assert_eq!(w.state("db"), ProcessState::Stopping);
    assert!(!w.sup.is_stop_deferred(db));
}

#[test]
fn without_dependencies_stop_after_dependents_is_a_plain_stop() {
    let mut w = world(vec![pconf("a")]);
    w.tick();
    let a = w.key("a");
    w.sup.stop_after_dependents(a, w.now, &mut w.host).unwrap();
    assert_eq!(w.state("a"), ProcessState::Stopping);
}

#[test]
fn dependency_restart_does_not_restart_dependents() {
    let mut w = world(vec![pconf("db"), with_deps("web", vec![dep("db")])]);
    w.tick();
    w.run_to_deadline();
    w.run_to_deadline();
    let web_pid = w.pid("web");
    w.advance(5.0);
    w.exit("db", wait_status_exited(1)); // autorestart=unexpected: restarted
    assert_eq!(w.state("db"), ProcessState::Starting);
    assert_eq!(w.pid("web"), web_pid);
    assert_eq!(w.state("web"), ProcessState::Running);
}

#[test]
fn dependent_restarting_waits_for_its_dependency_again() {
    let mut w = world(vec![pconf("db"), with_deps("web", vec![dep("db")])]);
    w.tick();
    settle(&mut w, 6);
    assert_eq!(w.state("web"), ProcessState::Running);
    w.advance(5.0);
    w.exit("db", wait_status_exited(1)); // db restarting (STARTING)
    w.exit("web", wait_status_exited(1)); // web restarts: waits for db again
    assert_eq!(w.state("web"), ProcessState::Starting);
    assert_eq!(w.pid("web"), 0);
    w.run_to_deadline();
    assert_eq!(w.state("db"), ProcessState::Running);
    assert_ne!(w.pid("web"), 0);
}

#[test]
fn an_idle_wait_has_no_deadline_and_costs_no_pass() {
    let mut db = pconf("db");
    db.startsecs = 100;
    let mut procs = vec![db];
    for i in 0..100 {
        procs.push(with_deps(&format!("w{i}"), vec![dep("db")]));
    }
    let mut w = world(procs);
    w.tick();
    w.tick();
    let d = w.sup.next_deadline(w.now).unwrap();
    assert!(
        (d - (w.now.mono + 100.0)).abs() < 0.01,
        "only db's startsecs: {d}"
    );
    let passes = w.sup.transition_passes();
    for _ in 0..10 {
        w.advance(1.0);
    }
    assert_eq!(
        w.sup.transition_passes(),
        passes,
        "no pass while nothing changes"
    );
    w.now = w.now.plus(100.0);
    w.tick();
    assert_eq!(w.host.spawned.len(), 101);
}

// ---- properties -------------------------------------------------------------------------

/// A random acyclic dependency graph over `n` programs (edges only to lower indices),
/// with random conditions, startsecs, retries and spawn failures.
fn arb_graph() -> impl Strategy<Value = (Vec<ProcessConfig>, Vec<String>)> {
    (2usize..7).prop_flat_map(|n| {
        (
            proptest::collection::vec(
                (
                    proptest::collection::vec((0usize..8, any::<bool>()), 0..3),
                    0u64..3,
                    0u32..2,
                    any::<bool>(),
                    any::<bool>(),
                ),
                n,
            ),
            proptest::collection::vec(0usize..n, 0..2),
        )
            .prop_map(move |(specs, failing)| {
                let mut procs = Vec::new();
                for (i, (deps, startsecs, retries, autostart, one_shot)) in
                    specs.into_iter().enumerate()
                {
                    let mut c = pconf(&format!("p{i}"));
                    c.startsecs = startsecs;
                    c.startretries = retries;
                    c.autostart = autostart || i + 1 == n;
                    if one_shot {
                        c.autorestart = AutoRestart::Never;
                    }
                    if i > 0 {
                        for (j, is_done) in deps {
                            let d = format!("p{}", j % i);
                            if c.depends_on.iter().any(|x| x.name == d) {
                                continue;
                            }
                            c.depends_on.push(if is_done { done(&d) } else { dep(&d) });
                        }
                    }
                    procs.push(c);
                }
                let failing = failing.into_iter().map(|i| format!("p{i}")).collect();
                (procs, failing)
            })
    })
}

/// Whether `d` satisfies `cond` right now.
fn satisfied(p: &Process, cond: DependencyCondition) -> bool {
    match cond {
        DependencyCondition::Ready => p.state() == ProcessState::Running,
        // `done` is met by a run that ended as expected since the wait began (the core
        // counts them in `done_runs`), also when something else started the dependency
        // again afterwards (another process waiting for it as `ready`).
        DependencyCondition::Done => {
            (p.state() == ProcessState::Exited
                && p.exitstatus()
                    .is_some_and(|c| p.config().exitcodes.contains(&c)))
                || p.deps.done_runs > 0
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    /// No process is spawned before its dependencies are satisfied; no wait outlives the
    /// failure of its dependency; every wait ends eventually.
    #[test]
    fn spawns_only_after_dependencies_and_waits_end(
        (procs, failing) in arb_graph(),
        exits in proptest::collection::vec((0usize..8, 0u8..3, 1u32..30), 0..12),
    ) {
        let deps: Vec<(String, Vec<Dependency>)> =
            procs.iter().map(|p| (p.name.clone(), p.depends_on.clone())).collect();
        let mut w = world(procs);
        for f in failing {
            w.host.fail.insert(f);
        }
        let mut seen = 0;
        let check = |w: &World, seen: &mut usize| -> Result<(), TestCaseError> {
            // every spawn since the last check: its dependencies are satisfied (checked
            // right after the input that led to the spawn; nothing but another input can
            // change a dependency since)
            for (k, _) in &w.host.spawned[*seen..] {
                let p = w.sup.process(*k).unwrap();
                let (_, ds) = deps.iter().find(|(n, _)| n == p.name()).unwrap();
                for d in ds {
                    let dk = w.key(&d.name);
                    let dp = w.sup.process(dk).unwrap();
                    let ok = satisfied(dp, d.condition);
                    prop_assert!(ok, "{} spawned while {} is {:?}", p.name(), d.name, dp.state());
                }
            }
            *seen = w.host.spawned.len();
            // no waiting process has a failed dependency
            for (name, ds) in &deps {
                let p = w.sup.process(w.key(name)).unwrap();
                if p.is_waiting_dependencies() {
                    prop_assert_eq!(p.pid(), 0);
                    prop_assert_eq!(p.state(), ProcessState::Starting);
                    for d in ds {
                        let dp = w.sup.process(w.key(&d.name)).unwrap();
                        prop_assert!(dp.state() != ProcessState::Fatal,
                            "{} still waits for FATAL {}", name, d.name);
                        prop_assert!(dp.state() != ProcessState::Stopped || dp.start_wall() == 0.0,
                            "{} still waits for stopped {}", name, d.name);
                    }
                }
            }
            Ok(())
        };
        w.tick();
        check(&w, &mut seen)?;
        for (i, code, dt) in exits {
            w.advance(f64::from(dt) / 10.0);
            check(&w, &mut seen)?;
            let name = format!("p{}", i % deps.len());
            if w.pid(&name) != 0 {
                w.exit(&name, wait_status_exited(i32::from(code)));
                check(&w, &mut seen)?;
            }
        }
        // run everything out: every wait ends (satisfied or failed)
        for _ in 0..200 {
            match w.sup.next_deadline(w.now) {
                Some(_) => { w.run_to_deadline(); check(&w, &mut seen)?; }
                None => break,
            }
        }
        // what still waits, waits for something on its way (starting, running, waiting)
        for (name, ds) in &deps {
            let p = w.sup.process(w.key(name)).unwrap();
            if !p.is_waiting_dependencies() {
                continue;
            }
            for d in ds {
                let dp = w.sup.process(w.key(&d.name)).unwrap();
                prop_assert!(
                    satisfied(dp, d.condition) || dp.state().is_running()
                        || dp.state() == ProcessState::Stopping
                        || (dp.state() == ProcessState::Exited && d.condition == DependencyCondition::Done),
                    "{} waits for {} in {:?}", name, d.name, dp.state()
                );
            }
        }
    }

    /// A shutdown never signals a process while something that depends on it runs.
    #[test]
    fn shutdown_signals_dependencies_last((procs, _) in arb_graph()) {
        let deps: Vec<(String, Vec<Dependency>)> =
            procs.iter().map(|p| (p.name.clone(), p.depends_on.clone())).collect();
        let mut w = world(procs);
        w.tick();
        for _ in 0..10 {
            if w.sup.next_deadline(w.now).is_none() { break; }
            w.run_to_deadline();
        }
        w.sup.request_shutdown();
        let mut seen = 0;
        for _ in 0..50 {
            w.tick();
            // every process signalled by this tick: its dependents had stopped
            let new: Vec<i32> = w.host.kills[seen..].iter().map(|(p, _)| *p).collect();
            seen = w.host.kills.len();
            let mut names = Vec::new();
            for pid in new {
                let Some(k) = w.sup.key_for_pid(pid) else { continue };
                let name = w.sup.process(k).unwrap().name().to_string();
                for (other, ds) in &deps {
                    if ds.iter().any(|d| d.name == name) {
                        let o = w.sup.process(w.key(other)).unwrap();
                        prop_assert!(o.state().is_stopped(), "{} signalled while {} is {:?}", name, other, o.state());
                    }
                }
                names.push(name);
            }
            for name in names {
                if w.pid(&name) != 0 {
                    w.exit(&name, wait_status_signaled(15, false));
                }
            }
            if w.sup.is_finished() { break; }
        }
        prop_assert!(w.sup.is_finished());
    }
}
