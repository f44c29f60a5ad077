"""The listener protocol's failure paths, under the reference daemon and ours: FAIL leads to
redelivery with the same serials, a full buffer drops the oldest event with the reference's
log line, a listener dying while BUSY loses nothing, garbage puts a listener in UNKNOWN."""

import os
import signal

import pytest

from listeners.events_util import IMPLS, listener_section, read_records, wait_records


def start(make_daemon, tmp_path, impl, extra="", events="REMOTE_COMMUNICATION"):
    d = tmp_path / impl
    d.mkdir()
    out = d / "events.jsonl"
    daemon = make_daemon(impl, listener_section("rec", out, events, extra), name=impl)
    return daemon, out


def log_has(daemon, text):
    return text in daemon.mainlog()


def summary(records):
    return [(r["headers"]["serial"], r["headers"]["poolserial"], r["payload"], r["reply"])
            for r in records]


@pytest.mark.parametrize("impl", IMPLS)
def test_fail_is_redelivered_with_the_same_serials(make_daemon, tmp_path, impl):
    daemon, out = start(make_daemon, tmp_path, impl)
    daemon.wait_state("rec:rec", "RUNNING")
    daemon.rpc().supervisor.sendRemoteCommEvent("fail-once", "x")
    records = wait_records(daemon, out, lambda r: len(r) >= 2, what="redelivery")
    assert summary(records) == [
        ("0", "0", "type:fail-once\nx", "RESULT 4\nFAIL"),
        ("0", "0", "type:fail-once\nx", "RESULT 2\nOK"),
    ]
    daemon.wait_for(lambda: log_has(daemon, "DEBG rec: event was processed"),
                    what="processed line")
    log = daemon.mainlog()
    assert "WARN rec: event was rejected" in log
    assert "DEBG rec: BUSY -> ACKNOWLEDGED" in log
    assert "DEBG rebuffering event 0 for pool rec (buf size=0, max=10)" in log
    assert "DEBG event 0 sent to listener rec" in log


@pytest.mark.parametrize("impl", IMPLS)
def test_full_buffer_drops_the_oldest(make_daemon, tmp_path, impl):
    # The listener stays STARTING for 3 s, so the events pile up in a 2-slot buffer.
    daemon, out = start(make_daemon, tmp_path, impl, "buffer_size=2\nstartsecs=3")
    rpc = daemon.rpc().supervisor
    assert rpc.getProcessInfo("rec:rec")["statename"] == "STARTING"
    for data in "abcde":
        rpc.sendRemoteCommEvent("t", data)
    log = daemon.mainlog()
    for serial in (0, 1, 2):
        assert f"ERRO pool rec event buffer overflowed, discarding event {serial}" in log
    assert "discarding event 3" not in log
    records = wait_records(daemon, out, lambda r: len(r) >= 2, what="the last two events")
    # Both replies were handled and the listener is ready again: any further delivery would
    # have been sent (and logged) by the time a later RPC call is answered.
    daemon.wait_for(lambda: daemon.mainlog().count("DEBG rec: ACKNOWLEDGED -> READY") >= 3,
                    what="the listener ready after the second event")
    rpc.getState()
    assert daemon.mainlog().count("sent to listener rec") == 2, daemon.mainlog()
    assert summary(read_records(out)) == [
        ("3", "3", "type:t\nd", "RESULT 2\nOK"),
        ("4", "4", "type:t\ne", "RESULT 2\nOK"),
    ]
    assert len(records) == 2


@pytest.mark.parametrize("impl", IMPLS)
def test_listener_dying_while_busy_loses_no_event(make_daemon, tmp_path, impl):
    daemon, out = start(make_daemon, tmp_path, impl, "autorestart=true\nstartsecs=1")
    rpc = daemon.rpc().supervisor
    daemon.wait_state("rec:rec", "RUNNING")
    pid1 = rpc.getProcessInfo("rec:rec")["pid"]
    rpc.sendRemoteCommEvent("die", "1")
    rpc.sendRemoteCommEvent("t", "2")
    records = wait_records(daemon, out, lambda r: len(r) >= 3, timeout=20,
                           what="redelivery after restart")
    assert summary(records) == [
        ("0", "0", "type:die\n1", None),
        ("0", "0", "type:die\n1", "RESULT 2\nOK"),
        ("1", "1", "type:t\n2", "RESULT 2\nOK"),
    ]
    assert rpc.getProcessInfo("rec:rec")["pid"] != pid1
    assert "DEBG rebuffering event 0 for pool rec" in daemon.mainlog()


@pytest.mark.parametrize("impl", IMPLS)
def test_listener_killed_while_busy_loses_no_event(make_daemon, tmp_path, impl):
    daemon, out = start(make_daemon, tmp_path, impl, "autorestart=true\nstartsecs=1")
    rpc = daemon.rpc().supervisor
    daemon.wait_state("rec:rec", "RUNNING")
    pid1 = rpc.getProcessInfo("rec:rec")["pid"]
    rpc.sendRemoteCommEvent("slow", "30")
    wait_records(daemon, out, lambda r: len(r) >= 1, what="the slow event")
    os.kill(pid1, signal.SIGKILL)
    records = wait_records(daemon, out, lambda r: len(r) >= 2, timeout=20,
                           what="redelivery after the kill")
    assert summary(records)[1] == ("0", "0", "type:slow\n30", "RESULT 2\nOK")
    assert rpc.getProcessInfo("rec:rec")["pid"] != pid1


@pytest.mark.parametrize("impl", IMPLS)
def test_garbage_makes_the_listener_unknown_until_restarted(make_daemon, tmp_path, impl):
    daemon, out = start(make_daemon, tmp_path, impl)
    rpc = daemon.rpc().supervisor
    daemon.wait_state("rec:rec", "RUNNING")
    rpc.sendRemoteCommEvent("garbage", "1")
    wait_records(daemon, out, lambda r: len(r) >= 1, what="the garbage event")
    daemon.wait_for(lambda: log_has(daemon, "WARN rec: bad result line: 'garbage'"),
                    what="bad result line")
    log = daemon.mainlog()
    assert "DEBG rec: BUSY -> UNKNOWN" in log
    assert ("WARN rec: has entered the UNKNOWN state and will no longer receive events, this "
            "usually indicates the process violated the eventlistener protocol") in log
    rpc.sendRemoteCommEvent("t", "2")
    # The daemon tries to dispatch on the loop turn after the event is queued; a later RPC
    # call answered proves that turn came. A delivery would have been logged by then.
    rpc.getState()
    rpc.getState()
    assert "event 1 sent to listener rec" not in daemon.mainlog(), daemon.mainlog()
    assert len(read_records(out)) == 1, "an UNKNOWN listener gets no events"
    # A restart brings it back: the rejected event and the waiting one are delivered.
    assert rpc.stopProcess("rec:rec")
    assert rpc.startProcess("rec:rec")
    records = wait_records(daemon, out, lambda r: len(r) >= 3, what="events after restart")
    assert summary(records) == [
        ("0", "0", "type:garbage\n1", "garbage\n"),
        ("0", "0", "type:garbage\n1", "RESULT 2\nOK"),
        ("1", "1", "type:t\n2", "RESULT 2\nOK"),
    ]


@pytest.mark.parametrize("impl", IMPLS)
def test_len_counts_characters(make_daemon, tmp_path, impl):
    daemon, out = start(make_daemon, tmp_path, impl)
    daemon.wait_state("rec:rec", "RUNNING")
    daemon.rpc().supervisor.sendRemoteCommEvent("utf", "h\u00e9llo \u2603")
    records = wait_records(daemon, out, lambda r: len(r) >= 1, what="the event")
    payload = "type:utf\nh\u00e9llo \u2603"
    assert records[0]["payload"] == payload
    assert records[0]["headers"]["len"] == str(len(payload))  # characters, not bytes


@pytest.mark.parametrize("impl", IMPLS)
def test_pools_share_the_global_serial_and_count_their_own(make_daemon, tmp_path, impl):
    d = tmp_path / impl
    d.mkdir()
    out_a, out_b = d / "a.jsonl", d / "b.jsonl"
    body = (listener_section("a", out_a, "REMOTE_COMMUNICATION")
            + listener_section("b", out_b, "PROCESS_GROUP,REMOTE_COMMUNICATION"))
    daemon = make_daemon(impl, body, name=impl)
    daemon.wait_state("a:a", "RUNNING")
    daemon.wait_state("b:b", "RUNNING")
    daemon.rpc().supervisor.sendRemoteCommEvent("t", "x")
    a = wait_records(daemon, out_a, lambda r: len(r) >= 1, what="pool a's event")
    b = wait_records(daemon, out_b, lambda r: len(r) >= 2, what="pool b's events")
    # Pools only see events published after they were created: a's group was added before
    # pool b existed, so b sees only its own GROUP_ADDED.
    assert [(r["headers"]["eventname"], r["payload"]) for r in b] == [
        ("PROCESS_GROUP_ADDED", "groupname:b\n"),
        ("REMOTE_COMMUNICATION", "type:t\nx"),
    ]
    remote_b = b[-1]["headers"]
    remote_a = a[0]["headers"]
    assert remote_a["serial"] == remote_b["serial"], "one global serial per event"
    assert remote_a["poolserial"] == "0"
    assert remote_b["poolserial"] == "1"
    assert b[0]["headers"]["serial"] == "0" and remote_a["serial"] == "1"
    assert remote_a["pool"] == "a" and remote_b["pool"] == "b"


@pytest.mark.parametrize("impl", IMPLS)
def test_dispatch_goes_to_the_first_free_listener_of_the_pool(make_daemon, tmp_path, impl):
    from listeners.events_util import PY, RECORDER
    d = tmp_path / impl
    d.mkdir()
    body = f"""
[eventlistener:rec]
command={PY} {RECORDER} {d}/events_%(process_num)02d.jsonl
process_name=%(program_name)s_%(process_num)02d
numprocs=2
events=REMOTE_COMMUNICATION
"""
    daemon = make_daemon(impl, body, name=impl)
    daemon.wait_state("rec:rec_00", "RUNNING")
    daemon.wait_state("rec:rec_01", "RUNNING")
    rpc = daemon.rpc().supervisor
    rpc.sendRemoteCommEvent("slow", "2")  # keeps rec_00 busy for 2 s
    wait_records(daemon, d / "events_00.jsonl", lambda r: len(r) >= 1, what="rec_00's event")
    rpc.sendRemoteCommEvent("t", "second")
    r1 = wait_records(daemon, d / "events_01.jsonl", lambda r: len(r) >= 1,
                      what="rec_01's event")
    assert summary(r1) == [("1", "1", "type:t\nsecond", "RESULT 2\nOK")]
    # once rec_00 is free again it is preferred (it is free once it says READY again)
    daemon.wait_for(lambda: daemon.mainlog().count("DEBG rec_00: ACKNOWLEDGED -> READY") >= 2,
                    what="rec_00 ready after the slow event")
    rpc.sendRemoteCommEvent("t", "third")
    r0 = wait_records(daemon, d / "events_00.jsonl", lambda r: len(r) >= 2,
                      what="rec_00's second event")
    assert summary(r0) == [("0", "0", "type:slow\n2", "RESULT 2\nOK"),
                           ("2", "2", "type:t\nthird", "RESULT 2\nOK")]
    assert len(read_records(d / "events_01.jsonl")) == 1
