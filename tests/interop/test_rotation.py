"""Log rotation beyond size (issue 17 item 7), end to end with real files: `supervisorctl
rotate` (supervisor_rs.rotateLogs) while a child writes continuously, gzip of the rotated
files on the compression thread (`*_logfile_compress`), deletion by age (`*_logfile_maxage`),
the main log's `logfile_compress`, and size rotation with compression. The daily/hourly
boundaries are unit tests on a fake clock (crates/supervisord/src/logs/{schedule,rotating}.rs).
"""

import gzip
import os
import subprocess
import time

import pytest

from conftest import PY_BIN

WRITER = (
    "import os, sys, time\n"
    "stop = sys.argv[1]\n"
    "i = 0\n"
    "while not os.path.exists(stop):\n"
    "    for _ in range(50):\n"
    "        sys.stdout.write('line %07d\\n' % i)\n"
    "        i += 1\n"
    "    sys.stdout.flush()\n"
    "    time.sleep(0.002)\n"
    "sys.stdout.write('END %d\\n' % i)\n"
)


def body(tmp_path, extra=""):
    (tmp_path / "writer.py").write_text(WRITER)
    return f"""
[program:w]
command={PY_BIN / 'python3'} {tmp_path / 'writer.py'} {tmp_path / 'stop'}
autorestart=false
startsecs=0
redirect_stderr=true
stdout_logfile={tmp_path / 'w.log'}
stdout_logfile_maxbytes=0
stdout_logfile_backups=50
stdout_logfile_compress=true
{extra}
"""


def daemon(make_daemon, tmp_path, extra="", main_keys=""):
    d = make_daemon("rust", body(tmp_path, extra), start=False)
    d.conf.write_text(d.conf.read_text().replace("[supervisord]\n", "[supervisord]\n" + main_keys, 1))
    d.start()
    return d


def gz_chain(base):
    """The decompressed backups, oldest first (.N.gz ... .1.gz)."""
    n = 0
    while os.path.exists(f"{base}.{n + 1}.gz"):
        n += 1
    return n, b"".join(gzip.open(f"{base}.{i}.gz").read() for i in range(n, 0, -1))


def wait_compressed(base, count, timeout=30):
    deadline = time.time() + timeout
    while time.time() < deadline:
        d = os.path.dirname(base)
        pending = [f for f in os.listdir(d) if ".rotating-" in f or f.endswith(".part")]
        if not pending and all(os.path.exists(f"{base}.{i}.gz") for i in range(1, count + 1)):
            return
        time.sleep(0.05)
    raise AssertionError(f"not compressed: {sorted(os.listdir(os.path.dirname(base)))}")


def test_rotate_while_writing_keeps_every_line_once(make_daemon, tmp_path):
    d = daemon(make_daemon, tmp_path)
    log = str(tmp_path / "w.log")
    d.wait_state("w", "RUNNING")
    d.wait_for(lambda: os.path.getsize(log) > 0, what="first output")
    rotations = 6
    for _ in range(rotations):
        time.sleep(0.15)
        r = d.ctl("rotate", "w", impl="rust")
        assert r.returncode == 0, r.stdout + r.stderr
        assert r.stdout == "w: stdout rotated\n", r.stdout
    (tmp_path / "stop").write_text("")
    d.wait_state("w", "EXITED")
    wait_compressed(log, rotations)
    n, older = gz_chain(log)
    assert n == rotations
    with open(log, "rb") as f:
        live = f.read()
    lines = (older + live).decode().splitlines()
    assert lines[-1].startswith("END "), lines[-3:]
    total = int(lines[-1].split()[1])
    assert total > 1000, total
    assert lines[:-1] == ["line %07d" % i for i in range(total)], "lost or duplicated lines"
    # every rotation moved a non-empty part
    for i in range(1, n + 1):
        assert gzip.open(f"{log}.{i}.gz").read()
    # tail/readLog keep working on the live file after the rotations
    r = d.ctl("tail", "w")
    assert r.stdout.rstrip("\n").endswith(live.decode().rstrip("\n")[-1000:]), r.stdout[-200:]
    info = d.rpc().supervisor.readProcessStdoutLog("w", 0, 0)
    assert info == live.decode()


def test_rotate_all_rotates_the_main_log_and_unknown_names_fail(make_daemon, tmp_path):
    # daily/hourly schedules on top (their boundaries are unit-tested on a fake clock)
    d = daemon(make_daemon, tmp_path, extra="stdout_logfile_rotate=hourly\n",
               main_keys="logfile_compress=true\nlogfile_backups=3\nlogfile_rotate=daily\n")
    d.wait_state("w", "RUNNING")
    d.wait_for(lambda: os.path.getsize(tmp_path / "w.log") > 0, what="first output")
    r = d.ctl("rotate", "all", impl="rust")
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout == "w: stdout rotated\nsupervisord: main log rotated\n", r.stdout
    wait_compressed(str(d.logfile), 1)
    main = gzip.open(f"{d.logfile}.1.gz").read().decode()
    assert "spawned: 'w' with pid" in main
    assert "spawned: 'w'" not in d.mainlog()
    # a process that does not exist
    r = d.ctl("rotate", "nosuch", impl="rust")
    assert r.stdout == "nosuch: ERROR (no such process)\n", r.stdout
    assert r.returncode != 0
    # nothing to rotate: the file is empty right after a rotation, once the child stopped
    (tmp_path / "stop").write_text("")
    d.wait_state("w", "EXITED")
    assert d.ctl("rotate", "w", impl="rust").stdout == "w: stdout rotated\n"
    assert d.ctl("rotate", "w", impl="rust").stdout == "w: stdout empty, not rotated\n"
    # the XML-RPC method, listed and documented
    proxy = d.rpc()
    assert "supervisor_rs.rotateLogs" in proxy.system.listMethods()
    assert proxy.system.methodSignature("supervisor_rs.rotateLogs") == ["array", "string"]
    res = proxy.supervisor_rs.rotateLogs("w:*")
    assert res == [{"name": "w", "group": "w", "status": 80,
                    "description": "stdout empty, not rotated"}]
    # help and the help listing name the command
    h = d.ctl("help", "rotate", impl="rust")
    assert "rotate all" in h.stdout, h.stdout
    assert "rotate" in d.ctl("help", impl="rust").stdout


def test_size_rotation_with_compression_and_maxage(make_daemon, tmp_path):
    log = tmp_path / "w.log"
    # Backups of an earlier run: one recent, two older than the 14 days kept.
    now = time.time()
    for name, age_days in [("w.log.1.gz", 1), ("w.log.2.gz", 30), ("w.log.3", 20)]:
        p = tmp_path / name
        p.write_bytes(gzip.compress(b"old\n") if name.endswith(".gz") else b"old\n")
        os.utime(p, (now - age_days * 86400, now - age_days * 86400))
    d = daemon(make_daemon, tmp_path,
               extra="stdout_logfile_maxage=14d\n")
    d.wait_state("w", "RUNNING")
    d.wait_for(lambda: os.path.getsize(log) > 0, what="first output")
    assert d.ctl("rotate", "w", impl="rust").returncode == 0
    wait_compressed(str(log), 2)
    # shifted: new .1.gz, the 1-day one is .2.gz; the 30-day (.3.gz) and 20-day (.4) are gone
    names = sorted(f for f in os.listdir(tmp_path) if f.startswith("w.log"))
    assert names == ["w.log", "w.log.1.gz", "w.log.2.gz"], names
    assert gzip.open(log.with_name("w.log.2.gz")).read() == b"old\n"
    (tmp_path / "stop").write_text("")
    d.wait_state("w", "EXITED")


def test_size_rotation_compressed_decompresses_to_the_stream(make_daemon, tmp_path):
    dm = make_daemon("rust", body(tmp_path).replace(
        "stdout_logfile_maxbytes=0", "stdout_logfile_maxbytes=8KB"))
    log = str(tmp_path / "w.log")
    dm.wait_state("w", "RUNNING")
    dm.wait_for(lambda: os.path.exists(f"{log}.5.gz"), timeout=30, what="5 size rotations")
    (tmp_path / "stop").write_text("")
    dm.wait_state("w", "EXITED")
    n, _ = gz_chain(log)
    wait_compressed(log, n)
    n, older = gz_chain(log)
    assert 5 <= n <= 50
    with open(log, "rb") as f:
        live = f.read()
    lines = (older + live).decode().splitlines()
    total = int(lines[-1].split()[1])
    if n < 50:  # nothing fell off the end
        assert lines[:-1] == ["line %07d" % i for i in range(total)]
    for i in range(1, n + 1):
        size = len(gzip.open(f"{log}.{i}.gz").read())
        assert size >= 8192, (i, size)


def test_config_loads_under_the_reference(tmp_path):
    conf = tmp_path / "s.conf"
    conf.write_text(
        "[supervisord]\nlogfile=%s\nlogfile_rotate=daily\nlogfile_compress=true\n"
        "logfile_maxage=14d\n" % (tmp_path / "sd.log") + body(tmp_path, (
            "stdout_logfile_rotate=hourly\nstdout_logfile_maxage=36h\n"
            "stderr_logfile_rotate=size\nstderr_logfile_compress=false\n")))
    r = subprocess.run(
        [str(PY_BIN / "python"), "-c",
         "import sys; from supervisor.options import ServerOptions\n"
         "o = ServerOptions(); o.realize(['-c', sys.argv[1]])\n"
         "print([p.name for g in o.process_group_configs for p in g.process_configs])",
         str(conf)],
        capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "['w']"


def test_rotate_usage_and_against_the_reference(make_daemon, tmp_path):
    ref = make_daemon("python", body(tmp_path))
    r = ref.ctl("rotate", "w", impl="rust")
    assert r.stdout == "Error: the daemon has no log rotation (supervisor_rs.rotateLogs)\n", r.stdout
    assert r.returncode == 1
    r = ref.ctl("rotate", impl="rust")
    assert r.stdout.startswith("Error: rotate requires a process name\nrotate <name>"), r.stdout
    assert r.returncode == 1
    (tmp_path / "stop").write_text("")


TICKER = (
    "import sys, time\n"
    "i = 0\n"
    "while True:\n"
    "    print('tick %d %.3f' % (i, time.time()), flush=True)\n"
    "    i += 1\n"
    "    time.sleep(0.05)\n"
)


@pytest.mark.parametrize("when,period", [("hourly", 3600), ("daily", 86400)])
def test_rotation_at_a_real_local_boundary(make_daemon, tmp_path, when, period):
    """The daemon's local time zone is the clock we move: TZ gets an offset (with seconds)
    that puts the next local hour (midnight) a few seconds ahead. A writing program's lines before
    the boundary end up in .1.gz, the later ones in the live file; a quiet program's file
    is rotated by the timer at the boundary."""
    (tmp_path / "ticker.py").write_text(TICKER)
    now = time.time()
    # local = utc + off (whole seconds): the next local hour (day) starts ~8 s from now
    off = int(-(now + 8)) % period
    boundary = now + (-(now + off)) % period
    assert 7 <= boundary - now <= 9
    # POSIX TZ: '-' is east of UTC
    tz = "XYZ-%02d:%02d:%02d" % (off // 3600, off % 3600 // 60, off % 60)
    body = f"""
[program:ticker]
command={PY_BIN / 'python3'} {tmp_path / 'ticker.py'}
startsecs=0
stdout_logfile={tmp_path / 'ticker.log'}
stdout_logfile_maxbytes=0
stdout_logfile_rotate={when}
stdout_logfile_compress=true
[program:quiet]
command=/bin/sh -c 'echo hello; exec sleep 60'
startsecs=0
stdout_logfile={tmp_path / 'quiet.log'}
stdout_logfile_maxbytes=0
stdout_logfile_rotate={when}
"""
    old_tz = os.environ.get("TZ")
    os.environ["TZ"] = tz
    try:
        d = make_daemon("rust", body)
    finally:
        if old_tz is None:
            del os.environ["TZ"]
        else:
            os.environ["TZ"] = old_tz
    d.wait_state("ticker", "RUNNING")
    assert time.time() < boundary - 1, "the daemon took too long to start"
    d.wait_for(lambda: os.path.exists(tmp_path / "ticker.log.1.gz"), timeout=boundary - time.time() + 10,
               what=f"the {when} rotation")
    d.wait_for(lambda: os.path.exists(tmp_path / "quiet.log.1"), timeout=10,
               what="the quiet log's rotation")
    time.sleep(0.5)
    before = gzip.open(tmp_path / "ticker.log.1.gz").read().decode().splitlines()
    after = (tmp_path / "ticker.log").read_text().splitlines()
    stamps_before = [float(l.split()[2]) for l in before]
    stamps_after = [float(l.split()[2]) for l in after]
    assert before and after
    assert max(stamps_before) < boundary + 0.05, (max(stamps_before), boundary)
    assert min(stamps_after) > boundary - 0.5, (min(stamps_after), boundary)
    numbers = [int(l.split()[1]) for l in before + after]
    assert numbers == list(range(len(numbers))), "lost or duplicated lines"
    assert (tmp_path / "quiet.log.1").read_text() == "hello\n"
    assert (tmp_path / "quiet.log").read_text() == ""
    assert not os.path.exists(tmp_path / "quiet.log.2"), "an empty file is never rotated"
