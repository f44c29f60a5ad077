"""AUTO child logs of a large config, under the reference daemon and ours.

Our daemon names every AUTO log of the start-up config at once and creates the files on a
second thread while it spawns the programs. Whatever the timing, a client must see what
the reference shows: every AUTO file exists (mode 0600, named
`<name>-<channel>---<identifier>-<random>.log`) as soon as the daemon answers, the paths
reported by getProcessInfo are those files, output written right at start is in them, and
a silent program's log reads as empty."""

import os
import re
import stat

import pytest

N = 150
IMPLS = ["python", "rust"]
AUTO_NAME = re.compile(r"^(?P<name>.+)-(?P<chan>stdout|stderr)---supervisor-[a-z0-9_]{8}\.log$")


def body(n):
    sections = []
    for i in range(n):
        if i % 3 == 0:
            # Writes to both channels at once, then stays up.
            cmd = f"sh -c 'echo out{i}; echo err{i} >&2; exec sleep 600'"
        else:
            cmd = "sleep 600"
        sections.append(f"[program:p{i:03d}]\ncommand={cmd}\nstartsecs=0\n")
    sections.append("[program:idle]\ncommand=sleep 600\nautostart=false\n")
    return "\n".join(sections)


@pytest.mark.parametrize("impl", IMPLS)
def test_every_auto_log_exists_and_matches_reported_paths(make_daemon, impl):
    d = make_daemon(impl, body(N), name=impl, ready_timeout=60)
    rpc = d.rpc(60).supervisor
    infos = rpc.getAllProcessInfo()
    assert len(infos) == N + 1
    on_disk = {f for f in os.listdir(d.dir) if AUTO_NAME.match(f)}
    # Every program, started or not, has two AUTO files, created before the daemon answered.
    assert len(on_disk) == 2 * (N + 1), sorted(on_disk)[:5]
    reported = set()
    for info in infos:
        for key, chan in (("stdout_logfile", "stdout"), ("stderr_logfile", "stderr")):
            path = info[key]
            m = AUTO_NAME.match(os.path.basename(path))
            assert m and m["name"] == info["name"] and m["chan"] == chan, path
            assert os.path.dirname(path) == str(d.dir)
            st = os.stat(path)
            assert stat.S_IMODE(st.st_mode) == 0o600, path
            reported.add(os.path.basename(path))
        assert info["logfile"] == info["stdout_logfile"]
    assert reported == on_disk

    # Output written at start lands in the reported files; a silent program reads empty.
    d.wait_for(lambda: all(i["statename"] == "RUNNING" for i in rpc.getAllProcessInfo()
                           if i["name"] != "idle"), timeout=60, what="all RUNNING")
    for i in range(0, N, 3):
        name = f"p{i:03d}"
        d.wait_for(lambda: rpc.readProcessStdoutLog(name, 0, 0) == f"out{i}\n", timeout=15,
                   what=f"{name} stdout")
        assert rpc.readProcessStderrLog(name, 0, 0) == f"err{i}\n"
        info = rpc.getProcessInfo(name)
        with open(info["stdout_logfile"]) as f:
            assert f.read() == f"out{i}\n"
    assert rpc.readProcessStdoutLog("p001", 0, 0) == ""
    assert rpc.readProcessStdoutLog("idle", 0, 0) == ""
    assert rpc.tailProcessStdoutLog("idle", 0, 100) == ["", 0, False]
