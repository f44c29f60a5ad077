"""Hardening, issue 10 item 11: a child log on a full disk is not lost silently.

The child log lives on a small tmpfs mounted by the test (root only; skipped with the
reason otherwise), the main log on the ordinary disk. The test fills the tmpfs, makes the
child write, and expects one WARN line when writing starts failing (process, channel,
file, OS error), silence for further failures, and one WARN line when writing works
again, with the exact number of bytes that did not reach the file.

The reference also fails this: its log handler prints a Python traceback to the daemon's
stderr for every failed write (nothing in the main log, no count of what was lost).
"""

import os
import re
import subprocess
import sys
import textwrap
import time
import uuid

import pytest

WRITER = textwrap.dedent(
    """\
    import sys
    # Each stdin line "<tag> <n>" makes one stdout write of exactly n bytes starting with
    # the tag (so the test can see in the main log's debug copy that it was read), then
    # appends the tag to the acks file named on the command line (on the ordinary disk).
    acks = sys.argv[1]
    for line in sys.stdin:
        tag, n = line.split()
        n = int(n)
        body = (tag + "-").encode()
        data = (body + b"x" * n)[: n - 1] + b"\\n"
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
        with open(acks, "a") as f:
            f.write(tag + "\\n")
    """
)


def mount_tmpfs(tmp_path, options):
    """Mounts a tmpfs with `options` on a fresh directory; yields it, unmounts after."""
    mnt = tmp_path / f"tmpfs-{uuid.uuid4().hex[:8]}"
    mnt.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root (the full-disk test runs as root in CI)")
    r = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(mnt)],
        capture_output=True, text=True, timeout=30,
    )
    if r.returncode != 0:
        pytest.skip(f"mounting a tmpfs is not permitted here: {r.stderr.strip()}")
    try:
        yield mnt
    finally:
        r = subprocess.run(["umount", str(mnt)], capture_output=True, timeout=30)
        if r.returncode != 0:
            subprocess.run(["umount", "-l", str(mnt)], capture_output=True, timeout=30)


@pytest.fixture
def small_tmpfs(tmp_path):
    """A 256 KiB tmpfs, unmounted at teardown."""
    yield from mount_tmpfs(tmp_path, "size=256k")


@pytest.fixture
def few_inodes_tmpfs(tmp_path):
    """A tmpfs with room for data but only 4 inodes (creating a file fails first)."""
    yield from mount_tmpfs(tmp_path, "size=1m,nr_inodes=4")


def fill(path):
    """Writes `path` until the filesystem refuses (ENOSPC). Returns its size."""
    chunk = b"f" * 4096
    written = 0
    with open(path, "wb", buffering=0) as f:
        while True:
            try:
                n = f.write(chunk)
            except OSError as e:
                assert e.errno == 28, e
                break
            written += n
            if n < len(chunk):
                # A short write: the next one gets ENOSPC.
                continue
    return written


def warn_lines(text):
    """The main log without its DEBG copies of child output (for assertion messages)."""
    return "\n".join(l for l in text.splitlines() if " WARN " in l or " INFO " in l)


def send(d, tag, n):
    assert d.rpc().supervisor.sendProcessStdin("writer", f"{tag} {n}\n") is True
    return n


def test_full_disk_child_log_failure_and_recovery_are_logged_with_exact_loss(
        small_tmpfs, make_daemon):
    # small_tmpfs is requested first, so it is unmounted after the daemon is stopped.
    log = small_tmpfs / "writer.log"
    d = make_daemon("rust", start=False)
    script = d.dir / "writer.py"
    script.write_text(WRITER)
    d.conf.write_text(d.conf.read_text() + textwrap.dedent(f"""
        [program:writer]
        command={sys.executable} -u {script} {d.dir / 'acks'}
        stdout_logfile={log}
        stdout_logfile_maxbytes=0
        redirect_stderr=true
        startsecs=0
        autorestart=false
        """))
    d.start()
    d.wait_state("writer", "RUNNING")
    assert log.parent == small_tmpfs

    sent = send(d, "hello", 100)
    d.wait_for(lambda: log.stat().st_size == 100, what="first write in the child log")

    filled = fill(small_tmpfs / "filler")
    assert filled > 0

    # While the disk is full: a write bigger than what is left in the file's last page
    # (a short write, then ENOSPC), then writes that get nothing at all.
    for i, n in enumerate([9000, 5000, 7000, 3000]):
        sent += send(d, f"lost{i}", n)
        d.wait_for(lambda: f"'writer' stdout output:\nlost{i}-" in d.mainlog(),
                   what=f"chunk lost{i} read by the daemon")
    text = d.mainlog()
    failing = re.findall(r"^.* WARN stdout log of 'writer' \((.*)\): write failed: (.*)$",
                         text, re.M)
    assert len(failing) == 1, warn_lines(text)
    path, why = failing[0]
    assert path == str(log)
    assert why.startswith("No space left on device"), why
    assert "writing works again" not in text

    os.unlink(small_tmpfs / "filler")
    sent += send(d, "back", 50)
    pattern = (r"^.* WARN stdout log of 'writer' \(" + re.escape(str(log))
               + r"\): writing works again; (\d+) bytes of output were lost$")
    d.wait_for(lambda: re.search(pattern, d.mainlog(), re.M), what="the recovery line")
    text = d.mainlog()
    recovered = re.findall(pattern, text, re.M)
    assert len(recovered) == 1, warn_lines(text)
    in_file = log.read_bytes()
    assert in_file.endswith(b"back-" + b"x" * 44 + b"\n")
    lost = sent - len(in_file)
    assert lost > 0
    assert int(recovered[0]) == lost, (recovered, sent, len(in_file))

    # Working from then on: no further notices.
    send(d, "more", 10)
    d.wait_for(lambda: log.read_bytes().endswith(b"more-xxxx\n"), what="a later write")
    text = d.mainlog()
    assert len(re.findall(r"write failed", text)) == 1
    assert len(re.findall(r"writing works again", text)) == 1
    d.stop()


def pipe_unread(pid, fd):
    """Bytes written by process `pid` into the pipe on its `fd` and not read yet."""
    import array
    import fcntl
    import termios
    with open(f"/proc/{pid}/fd/{fd}", "rb", buffering=0) as p:
        n = array.array("i", [0])
        fcntl.ioctl(p.fileno(), termios.FIONREAD, n)
        return n[0]


def cpu_seconds(pid):
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def test_main_log_on_the_same_full_disk_neither_spins_nor_stops_the_daemon(
        small_tmpfs, make_daemon):
    """Both the main log and the child log on the full tmpfs: the failure lines cannot be
    written either. The daemon must keep answering without spinning, and once space is
    back the main log says how much of it was lost and the child log's recovery line has
    the exact count. (The reference prints tracebacks to its stderr instead.)"""
    log = small_tmpfs / "writer.log"
    d = make_daemon("rust", start=False)
    script = d.dir / "writer.py"
    script.write_text(WRITER)
    acks = d.dir / "acks"
    main = small_tmpfs / "supervisord.log"
    conf = d.conf.read_text().replace(f"logfile={d.logfile}\n", f"logfile={main}\n")
    assert f"logfile={main}" in conf
    d.conf.write_text(conf + textwrap.dedent(f"""
        [program:writer]
        command={sys.executable} -u {script} {acks}
        stdout_logfile={log}
        stdout_logfile_maxbytes=0
        redirect_stderr=true
        startsecs=0
        autorestart=false
        """))
    d.logfile = main
    d.start()
    d.wait_state("writer", "RUNNING")
    child = d.rpc().supervisor.getProcessInfo("writer")["pid"]

    sent = send(d, "hello", 100)
    d.wait_for(lambda: log.stat().st_size == 100, what="first write in the child log")
    fill(small_tmpfs / "filler")
    main_size = main.stat().st_size

    before = cpu_seconds(d.proc.pid)
    for i, n in enumerate([9000, 5000, 7000]):
        sent += send(d, f"lost{i}", n)
        d.wait_for(lambda: acks.read_text().split().count(f"lost{i}") == 1,
                   what=f"the child wrote lost{i}")
        d.wait_for(lambda: pipe_unread(child, 1) == 0, what=f"the daemon read lost{i}")
    # Still in control: answers, and idle rather than retrying in a loop.
    assert d.rpc().supervisor.getState()["statename"] == "RUNNING"
    time.sleep(1.0)
    assert d.rpc().supervisor.getProcessInfo("writer")["statename"] == "RUNNING"
    used = cpu_seconds(d.proc.pid) - before
    assert used < 1.0, f"daemon used {used:.2f} s of CPU while its logs were failing"
    # Nothing more fitted in the main log's last page than what was there.
    assert main.stat().st_size <= main_size + 4096

    os.unlink(small_tmpfs / "filler")
    sent += send(d, "back", 50)
    pattern = (r"^.* WARN stdout log of 'writer' \(" + re.escape(str(log))
               + r"\): writing works again; (\d+) bytes of output were lost$")
    d.wait_for(lambda: re.search(pattern, d.mainlog(), re.M), what="the recovery line")
    text = d.mainlog()
    lost = sent - log.stat().st_size
    assert [int(n) for n in re.findall(pattern, text, re.M)] == [lost]
    own = re.findall(r"^.* WARN (\d+) bytes of this log were lost while it could not be "
                     r"written \(write: No space left on device \(os error 28\)\)$",
                     text, re.M)
    assert len(own) == 1 and int(own[0]) > 0, warn_lines(text)
    d.stop()


def test_failed_rotation_is_logged_and_does_not_grow_the_backup(few_inodes_tmpfs, make_daemon):
    """A rotation renames the log to `.1` but cannot create the new file (no inode left):
    one `rotation failed` line; output meanwhile is dropped and counted instead of being
    appended to the renamed backup; once a file can be created again the log is reopened
    and the recovery line has the exact count. (The reference writes on into the old,
    renamed file and retries the rotation on every write, printing tracebacks.)"""
    mnt = few_inodes_tmpfs
    log = mnt / "writer.log"
    d = make_daemon("rust", start=False)
    script = d.dir / "writer.py"
    script.write_text(WRITER)
    acks = d.dir / "acks"
    d.conf.write_text(d.conf.read_text() + textwrap.dedent(f"""
        [program:writer]
        command={sys.executable} -u {script} {acks}
        stdout_logfile={log}
        stdout_logfile_maxbytes=1000
        stdout_logfile_backups=1
        redirect_stderr=true
        startsecs=0
        autorestart=false
        """))
    d.start()
    d.wait_state("writer", "RUNNING")
    child = d.rpc().supervisor.getProcessInfo("writer")["pid"]
    fillers = []
    while True:
        f = mnt / f"inode{len(fillers)}"
        try:
            f.touch()
        except OSError as e:
            assert e.errno == 28, e
            break
        fillers.append(f)
    assert fillers, "no inode was free for a filler"

    def write(tag, n):
        send(d, tag, n)
        d.wait_for(lambda: tag in acks.read_text().split(), what=f"the child wrote {tag}")
        d.wait_for(lambda: pipe_unread(child, 1) == 0, what=f"the daemon read {tag}")
        return n

    write("first", 1500)  # reaches maxbytes: renamed to .1, the new file cannot be made
    d.wait_for(lambda: "rotation failed" in d.mainlog(), what="the rotation failure line")
    text = d.mainlog()
    failing = re.findall(r"^.* WARN stdout log of 'writer' \((.*)\): rotation failed: (.*)$",
                         text, re.M)
    assert len(failing) == 1, warn_lines(text)
    assert failing[0][0] == str(log)
    assert failing[0][1].startswith("No space left on device"), failing
    lost = write("second", 300) + write("third", 400)
    backup = mnt / "writer.log.1"
    assert backup.read_bytes() == b"first-" + b"x" * 1493 + b"\n", "the backup grew"
    assert not log.exists()

    fillers.pop().unlink()
    write("back", 50)
    pattern = (r"^.* WARN stdout log of 'writer' \(" + re.escape(str(log))
               + r"\): writing works again; (\d+) bytes of output were lost$")
    d.wait_for(lambda: re.search(pattern, d.mainlog(), re.M), what="the recovery line")
    assert [int(n) for n in re.findall(pattern, d.mainlog(), re.M)] == [lost]
    assert log.read_bytes() == b"back-" + b"x" * 44 + b"\n"
    assert len(backup.read_bytes()) == 1500
    d.stop()
