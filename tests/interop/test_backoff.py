"""Restart backoff (issue 15 item 3) with real crashing children.

backoff = exponential doubles the BACKOFF waits up to backoff_max; retry_forever never
gives up to FATAL; restart_delay makes a process that exited after RUNNING wait in
BACKOFF (`restarting in 2s` in supervisorctl status) before its autorestart, doubling with
exponential and starting over after backoff_reset seconds of RUNNING; the keys are
checked by --check-config with file and line; the same config loads under the
reference, which ignores them.
"""

import subprocess
import time
from datetime import datetime

from conftest import IMPLS


def log_time(line):
    return datetime.strptime(line[:23], "%Y-%m-%d %H:%M:%S,%f").timestamp()


def times(log, needle):
    return [log_time(l) for l in log.splitlines() if needle in l]


def gaps(ts):
    return [round(b - a, 2) for a, b in zip(ts, ts[1:])]


def test_exponential_retries_are_capped_and_retry_forever_never_gives_up(make_daemon):
    d = make_daemon("rust", """
        [program:crash]
        command=/bin/sh -c 'exit 1'
        startsecs=1
        startretries=3
        backoff=exponential
        backoff_max=2.5

        [program:forever]
        command=/bin/sh -c 'exit 1'
        startsecs=1
        startretries=0
        backoff=exponential
        backoff_max=0.4
        retry_forever=true
        """)
    d.wait_state("crash", "FATAL", timeout=15)
    log = d.mainlog()
    spawned = times(log, "spawned: 'crash'")
    exited = times(log, "exited: crash ")
    assert len(spawned) == 4, log
    # the waits between an exit and the next spawn: 1, 2, then capped at 2.5
    waits = [round(s - e, 2) for e, s in zip(exited, spawned[1:])]
    for got, want in zip(waits, [1.0, 2.0, 2.5]):
        assert want - 0.05 <= got <= want + 0.5, (waits, log)
    assert "gave up: crash entered FATAL state, too many start retries too quickly" in log
    # meanwhile the retry_forever program kept going (startretries=0 would be FATAL at once)
    n = len(times(log, "spawned: 'forever'"))
    assert n >= 8, log
    assert "gave up: forever" not in log
    info = d.rpc().supervisor.getProcessInfo("forever")
    assert info["statename"] in ("BACKOFF", "STARTING"), info
    assert info["description"] == "Exited too quickly (process log may have details)" or \
        info["statename"] == "STARTING", info
    waits = gaps(times(log, "spawned: 'forever'"))
    assert all(0.35 <= w <= 0.9 for w in waits[1:]), waits


def test_restart_delay_after_running_doubles_and_resets(make_daemon):
    d = make_daemon("rust", """
        [program:slow]
        command=/bin/sh -c 'sleep 1.2; exit 3'
        startsecs=1
        autorestart=true
        startretries=0
        restart_delay=0.6
        backoff=exponential

        [program:steady]
        command=/bin/sh -c 'sleep 1.2; exit 3'
        startsecs=1
        autorestart=true
        restart_delay=0.6
        backoff=exponential
        backoff_reset=0.1
        """)
    rpc = d.rpc()
    # the third wait of slow is 2.4 s: catch it in BACKOFF with its countdown
    d.wait_for(lambda: len(times(d.mainlog(), "spawned: 'slow'")) >= 3, timeout=15,
               what="slow restarted twice")
    d.wait_for(lambda: rpc.supervisor.getProcessInfo("slow")["statename"] == "BACKOFF",
               timeout=5, what="slow in BACKOFF")
    info = rpc.supervisor.getProcessInfo("slow")
    assert info["description"] in ("restarting in 3s", "restarting in 2s"), info
    for impl in ("python", "rust"):
        out = d.ctl("status", "slow", impl=impl).stdout
        assert "BACKOFF" in out and "restarting in " in out, (impl, out)
    d.wait_for(lambda: len(times(d.mainlog(), "spawned: 'slow'")) >= 4, timeout=10,
               what="slow restarted three times")
    log = d.mainlog()
    waits = [round(s - e, 2) for e, s in zip(times(log, "exited: slow "),
                                             times(log, "spawned: 'slow'")[1:])]
    for got, want in zip(waits, [0.6, 1.2, 2.4]):
        assert want - 0.05 <= got <= want + 0.5, (waits, log)
    assert "delaying restart of slow by 1.2s (restart_delay)" in log, log
    # never FATAL although startretries=0: the wait is not a failed start
    assert "gave up: slow" not in log
    # steady stays RUNNING longer than backoff_reset each time: always 0.6 s
    waits = [round(s - e, 2) for e, s in zip(times(log, "exited: steady "),
                                             times(log, "spawned: 'steady'")[1:])]
    assert len(waits) >= 2 and all(0.55 <= w <= 1.1 for w in waits), (waits, log)
    # a stop during the wait ends it: STOPPED, no restart
    d.wait_for(lambda: rpc.supervisor.getProcessInfo("slow")["statename"] == "BACKOFF",
               timeout=10, what="slow in BACKOFF again")
    rpc.supervisor.stopProcess("slow")
    n = len(times(d.mainlog(), "spawned: 'slow'"))
    time.sleep(1.0)
    assert rpc.supervisor.getProcessInfo("slow")["statename"] == "STOPPED"
    assert len(times(d.mainlog(), "spawned: 'slow'")) == n


def test_without_restart_delay_the_restart_is_immediate(make_daemon):
    d = make_daemon("rust", """
        [program:plain]
        command=/bin/sh -c 'sleep 1.2; exit 3'
        startsecs=1
        autorestart=true
        """)
    d.wait_for(lambda: len(times(d.mainlog(), "spawned: 'plain'")) >= 2, timeout=10,
               what="plain restarted")
    log = d.mainlog()
    gap = times(log, "spawned: 'plain'")[1] - times(log, "exited: plain ")[0]
    assert gap < 0.3, log
    assert "delaying restart" not in log


ALL_KEYS = """
[program:all]
command=/bin/sleep 1000
backoff=exponential
backoff_max=30
backoff_jitter=0.25
retry_forever=true
restart_delay=2
backoff_reset=120
rlimits=NOFILE=1024:2048, CORE=0
environment_file=-{dir}/none.env
"""


def test_the_keys_load_under_the_reference_and_in_extensions(make_daemon, tmp_path):
    body = ALL_KEYS.format(dir=tmp_path)
    ref = make_daemon("python", body)
    ref.wait_state("all", "RUNNING", timeout=10)
    ours = make_daemon("rust", body)
    ours.wait_state("all", "RUNNING", timeout=10)
    ext = ours.rpc().supervisor_rs.getAllConfigExtensions()
    row = [r for r in ext if r["name"] == "all"][0]
    assert row["backoff"] == "exponential"
    assert row["backoff_max"] == 30.0
    assert row["backoff_jitter"] == 0.25
    assert row["retry_forever"] is True
    assert row["restart_delay"] == 2.0
    assert row["backoff_reset"] == 120.0
    assert row["rlimits"] == ["RLIMIT_NOFILE=1024:2048", "RLIMIT_CORE=0:0"]
    assert row["environment_file"] == [f"-{tmp_path}/none.env"]


def _check(tmp_path, body):
    conf = tmp_path / "c.conf"
    conf.write_text(f"[supervisord]\nlogfile={tmp_path}/m.log\n\n" + body)
    r = subprocess.run([str(IMPLS["rust"] / "supervisord"), "--check-config", "-c", str(conf)],
                       capture_output=True, text=True, timeout=20)
    return conf, r


def test_check_config_names_file_line_and_key(tmp_path):
    conf, r = _check(tmp_path, ALL_KEYS.format(dir=tmp_path))
    assert r.returncode in (0, 1), r
    assert "unknown key" not in r.stdout, r.stdout
    for key, value, needle in [
        ("backoff", "fibonacci", "invalid backoff value \"fibonacci\""),
        ("backoff_max", "0", "invalid backoff_max value \"0\""),
        ("backoff_jitter", "2", "invalid backoff_jitter value \"2\""),
        ("restart_delay", "-1", "invalid restart_delay value \"-1\""),
        ("backoff_reset", "soon", "invalid backoff_reset value \"soon\""),
        ("retry_forever", "perhaps", "perhaps"),
    ]:
        conf, r = _check(tmp_path, f"[program:x]\ncommand=/bin/true\n{key}={value}\n")
        assert r.returncode == 2, (key, r)
        assert f"{conf}:6: error: " in r.stdout and needle in r.stdout, (key, r.stdout)
        assert "program:x" in r.stdout, r.stdout


def test_jitter_spreads_workers_that_crash_together(make_daemon):
    d = make_daemon("rust", """
        [program:w]
        command=/bin/sh -c 'exit 1'
        process_name=%(program_name)s-%(process_num)d
        numprocs=6
        startsecs=1
        startretries=1
        backoff=exponential
        backoff_jitter=1
        """)
    for n in range(6):
        d.wait_state(f"w:w-{n}", "FATAL", timeout=10)
    log = d.mainlog()
    waits = []
    for n in range(6):
        exited = times(log, f"exited: w-{n} ")[0]
        respawned = times(log, f"spawned: 'w-{n}'")[1]
        waits.append(respawned - exited)
    # each wait is in [1*(1-1), 1]; six draws are not all alike
    assert all(-0.01 <= w <= 1.3 for w in waits), waits
    assert max(waits) - min(waits) > 0.1, waits
