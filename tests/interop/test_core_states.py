"""Differential tests of the process state machine: the same config under our daemon and
the reference gives the same main-log state messages, per process and in shutdown order.

Timings are chosen so the reference's 1 s loop granularity cannot change the outcome
(exits well after or well before startsecs)."""

import re
import signal

STATE_MSG = re.compile(
    r"^\S+ \S+ (?P<level>[A-Z]{4}) "
    r"(?P<msg>(spawned|spawnerr|success|exited|gave up|stopped|killing|waiting for)\b.*)$")


def normalize(msg):
    msg = re.sub(r"with pid \d+", "with pid N", msg)
    msg = re.sub(r"\(pid \d+\)", "(pid N)", msg)
    msg = re.sub(r"' \(\d+\) with SIGKILL", "' (N) with SIGKILL", msg)
    return msg


def name_of(msg):
    for pattern in (r"spawned: '([^']+)'", r"(?:success|exited|gave up|stopped): (\S+)",
                    r"killing '([^']+)'", r"killing (\S+) \(pid"):
        m = re.match(pattern, msg)
        if m:
            return m.group(1)
    return None


def state_lines(daemon):
    out = []
    for line in daemon.mainlog().splitlines():
        m = STATE_MSG.match(line)
        if m and not m.group("msg").startswith("waiting for"):
            out.append(f"{m.group('level')} {normalize(m.group('msg'))}")
    return out


def per_process(lines):
    """Groups lines by the process they name (spawnerr lines name none: left out)."""
    procs = {}
    for line in lines:
        name = name_of(line.split(" ", 1)[1])
        if name is not None:
            procs.setdefault(name, []).append(line)
    return procs


BODY = """
[program:ok]
command=sleep 100
startsecs=1
priority=10

[program:nocmd]
command=/no/such/cmd
startretries=1
priority=20

[program:quick]
command=/bin/sh -c 'exit 1'
startsecs=10
startretries=1
priority=30

[program:done]
command=/bin/sh -c 'sleep 2.5; exit 0'
startsecs=1
autorestart=unexpected
priority=40

[program:bad]
command=/bin/sh -c 'sleep 2.5; exit 4'
startsecs=1
autorestart=false
priority=50

[program:manual]
command=sleep 100
autostart=false
priority=60
"""

SETTLED = {
    "ok": "RUNNING",
    "nocmd": "FATAL",
    "quick": "FATAL",
    "done": "EXITED",
    "bad": "EXITED",
    "manual": "STOPPED",
}


def run_scenario(make_daemon, impl):
    d = make_daemon(impl, BODY)
    for name, state in SETTLED.items():
        d.wait_state(name, state, timeout=30)
    rpc = d.rpc()
    infos = {i["name"]: i for i in rpc.supervisor.getAllProcessInfo()}
    assert rpc.supervisor.stopProcess("ok") is True
    d.stop()
    return d, infos


def test_state_messages_match_reference(make_daemon):
    ours, our_infos = run_scenario(make_daemon, "rust")
    ref, ref_infos = run_scenario(make_daemon, "python")

    ours_lines = state_lines(ours)
    ref_lines = state_lines(ref)
    ours_p = per_process(ours_lines)
    ref_p = per_process(ref_lines)
    assert ours_p == ref_p, f"ours:\n{chr(10).join(ours_lines)}\n\nreference:\n{chr(10).join(ref_lines)}"
    # spawn errors: same text, same count
    assert [l for l in ours_lines if "spawnerr" in l] == [l for l in ref_lines if "spawnerr" in l]

    # the RPC view agrees on state, spawnerr, exit status and description shape
    for name in SETTLED:
        o, r = our_infos[name], ref_infos[name]
        for key in ("statename", "state", "spawnerr", "exitstatus", "group", "name"):
            assert o[key] == r[key], (name, key, o[key], r[key])
        if o["statename"] in ("FATAL", "BACKOFF"):
            assert o["description"] == r["description"]
        elif o["statename"] == "RUNNING":
            assert re.fullmatch(r"pid \d+, uptime \d+:\d\d:\d\d", o["description"])
        elif o["statename"] == "STOPPED" and not o["start"]:
            assert o["description"] == r["description"] == "Not started"


SHUTDOWN_BODY = """
[program:first]
command=sleep 100
startsecs=0
priority=1

[program:second]
command=sleep 100
startsecs=0
priority=2

[program:third]
command=sleep 100
startsecs=0
priority=3

[program:stubborn]
command=/bin/sh -c 'trap "" TERM; while :; do sleep 0.2; done'
startsecs=0
stopwaitsecs=1
priority=0
"""


def shutdown_order(make_daemon, impl):
    d = make_daemon(impl, SHUTDOWN_BODY)
    for name in ("first", "second", "third", "stubborn"):
        d.wait_state(name, "RUNNING", timeout=30)
    d.proc.send_signal(signal.SIGTERM)
    d.proc.wait(timeout=30)
    return [l for l in state_lines(d) if l.split(" ", 1)[1].startswith(("stopped", "killing"))]


def test_shutdown_order_matches_reference(make_daemon):
    ours = shutdown_order(make_daemon, "rust")
    ref = shutdown_order(make_daemon, "python")
    assert ours == ref
    assert ours[-1] == "WARN stopped: stubborn (terminated by SIGKILL)"
