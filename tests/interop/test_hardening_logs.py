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
import uuid

import pytest

WRITER = textwrap.dedent(
    """\
    import sys
    # Each stdin line "<tag> <n>" makes one stdout write of exactly n bytes starting with
    # the tag (so the test can see in the main log's debug copy that it was read).
    for line in sys.stdin:
        tag, n = line.split()
        n = int(n)
        body = (tag + "-").encode()
        data = (body + b"x" * n)[: n - 1] + b"\\n"
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
    """
)


@pytest.fixture
def small_tmpfs(tmp_path):
    """A 256 KiB tmpfs mounted on a fresh directory, unmounted at teardown."""
    mnt = tmp_path / f"tmpfs-{uuid.uuid4().hex[:8]}"
    mnt.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root (the full-disk test runs as root in CI)")
    r = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(mnt)],
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
        command={sys.executable} -u {script}
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
