"""Hardening of the XML-RPC answers (issue 10, items 5 and 10), against our daemon.

* Binary child output: a log holding control bytes, DEL, invalid UTF-8 and U+FFFE/U+FFFF must
  still be read back as well-formed XML that `xmlrpc.client` decodes, with byte-exact offsets.
  C0 controls other than tab/LF/CR are shown as the Unicode Control Pictures (U+2400 + byte),
  invalid UTF-8 and U+FFFE/U+FFFF as U+FFFD. The reference answers such reads with HTTP 500
  (its XML writer emits the raw bytes, or it fails decoding them), so `supervisorctl tail` of
  the reference fails on it too: our bar is higher.
* Response amplification: a ~300 KB `system.multicall` asking for 1,000 x 1 MB of log must not
  make the daemon allocate ~2 GB (the reference has no bound either: it builds the whole
  answer; measured, it passed 2 GB of RSS and had not answered after 15 minutes). The answer
  of one request is capped; calls past the cap get a FAILED fault entry.
"""

import os
import subprocess
import sys
import threading
import time
import xmlrpc.client

from conftest import IMPLS

Fault = xmlrpc.client.Fault

# Every byte XML 1.0 cannot carry, DEL, invalid UTF-8 (a lone 0xFF, a truncated sequence, an
# encoded surrogate), the noncharacters U+FFFE/U+FFFF, then ordinary text with markup.
CHUNK1 = (
    bytes(range(0x20))
    + b"\x7f bad:\xff\xc3(\xed\xa0\x80\xef\xbf\xbe\xef\xbf\xbf end\n"
    + "caf\u00e9 ok <&>\n".encode()
)
CHUNK2 = b"second \x00\x1b[31mred\x1b[0m \xfe\n"

WRITER = """\
import os, sys
os.write(1, {c1!r})
sys.stdin.readline()
os.write(1, {c2!r})
sys.stdin.readline()
"""

BIG_WRITER = """\
import os, sys, time
line = b"x" * 99 + b"\\n"
os.write(1, line * 11000)
os.write(1, b"done\\n")
time.sleep(1000)
"""


def shown(data: bytes) -> str:
    """What a client must decode for these log bytes: invalid UTF-8 as U+FFFD, each C0
    control but tab/LF/CR as U+2400+byte, U+FFFE/U+FFFF as U+FFFD; a lone CR arrives as LF
    (XML end-of-line handling, as with the reference)."""
    out = []
    for c in data.decode("utf-8", "replace"):
        o = ord(c)
        if o < 0x20 and c not in "\t\n\r":
            c = chr(0x2400 + o)
        elif c in "\ufffe\uffff":
            c = "\ufffd"
        out.append(c)
    return "".join(out).replace("\r", "\n")


def _binary_daemon(make_daemon, tmp_path):
    script = tmp_path / "writer.py"
    script.write_text(WRITER.format(c1=CHUNK1, c2=CHUNK2))
    d = make_daemon(
        "rust",
        f"""
        [program:bin]
        command={sys.executable} {script}
        startsecs=0
        """,
    )
    d.wait_state("bin", "RUNNING")
    logfile = d.rpc().supervisor.getProcessInfo("bin")["stdout_logfile"]
    d.wait_for(lambda: os.path.getsize(logfile) == len(CHUNK1), what="first chunk logged")
    return d, logfile


def test_binary_log_reads_decode_with_byte_exact_offsets(make_daemon, tmp_path):
    """readProcessStdoutLog / tailProcessStdoutLog / readLog of a log with control bytes and
    invalid UTF-8 are well-formed XML for xmlrpc.client; the tail offset is the file's byte
    size and paging from it returns exactly the next bytes. (The reference: HTTP 500.)"""
    d, logfile = _binary_daemon(make_daemon, tmp_path)
    s = d.rpc().supervisor
    assert s.readProcessStdoutLog("bin", 0, 0) == shown(CHUNK1)
    # Byte offsets and lengths address the file, whatever the representation.
    assert s.readProcessStdoutLog("bin", 32, 6) == shown(CHUNK1[32:38])
    text, offset, overflow = s.tailProcessStdoutLog("bin", 0, 10000)
    assert (text, offset, overflow) == (shown(CHUNK1), len(CHUNK1), False)
    assert offset == os.path.getsize(logfile)
    assert s.tailProcessStdoutLog("bin", offset, 10000) == ["", offset, False]

    assert s.sendProcessStdin("bin", "go\n") is True
    total = len(CHUNK1) + len(CHUNK2)
    d.wait_for(lambda: os.path.getsize(logfile) == total, what="second chunk logged")
    # Paging on from the returned offset gives exactly the new bytes. (Like the reference,
    # a window reaching past the end is slid back, so ask for at most what is new.)
    text, offset2, overflow = s.tailProcessStdoutLog("bin", offset, len(CHUNK2))
    assert (text, offset2, overflow) == (shown(CHUNK2), total, False)
    assert s.readProcessStdoutLog("bin", offset, 0) == shown(CHUNK2)
    # An overflowing tail: the last `length` bytes, offset still the size.
    text, offset3, overflow = s.tailProcessStdoutLog("bin", 0, 8)
    assert (text, offset3, overflow) == (shown((CHUNK1 + CHUNK2)[-8:]), total, True)

    # The main log (loglevel=debug) carries the child's output too (as a bytes repr).
    assert "'bin' stdout output:" in s.readLog(0, 0)
    # getAllProcessInfo and friends still parse.
    assert s.getProcessInfo("bin")["statename"] == "RUNNING"


def test_binary_log_tail_with_both_supervisorctls(make_daemon, tmp_path):
    """`supervisorctl tail bin` (the reference client and ours) prints the binary log with
    the chosen representation and exits 0 (against the reference daemon both fail: its
    answer is an HTTP 500); `tail -f` (not XML: /logtail) shows it and follows on."""
    d, _ = _binary_daemon(make_daemon, tmp_path)
    want = shown(CHUNK1)
    for impl in ("python", "rust"):
        r = d.ctl("tail", "bin", impl=impl)
        assert r.returncode == 0, (impl, r.stdout, r.stderr)
        assert want.rstrip("\n") in r.stdout, (impl, r.stdout)
        assert "\u2400\u2401\u2402" in r.stdout and "\u241b" in r.stdout
    # `tail -f` streams /logtail (raw bytes, not XML) and goes on with the next chunk.
    for impl in ("python", "rust"):
        _follow(d, impl)
        # The writer waits for one line per chunk: start it afresh for the next client.
        s = d.rpc().supervisor
        s.stopProcess("bin")
        s.clearProcessLogs("bin")
        s.startProcess("bin")
        r = d.ctl("maintail", impl=impl)
        assert r.returncode == 0, (impl, r.stdout, r.stderr)
        assert "'bin' stdout output:" in r.stdout, (impl, r.stdout)


def test_control_characters_in_config_values_keep_answers_well_formed(make_daemon):
    """A command holding a control character: getAllConfigInfo (which returns the command
    verbatim) must still be well-formed XML. (The reference writes the raw byte, which
    xmlrpc.client rejects as not well-formed.)"""
    d = make_daemon(
        "rust",
        """
        [program:odd]
        command=/nonexistent/odd\x01name --flag
        autostart=false
        """,
    )
    s = d.rpc().supervisor
    rows = s.getAllConfigInfo()
    assert rows[0]["command"] == "/nonexistent/odd\u2401name --flag", rows
    try:
        s.startProcess("odd")
        raise AssertionError("started")
    except Fault as f:
        # The fault text shows the name as Python's repr, as the reference does.
        assert f.faultString == "NO_FILE: can't find command '/nonexistent/odd\\x01name'"
    assert d.rpc().system.multicall(
        [{"methodName": "supervisor.getAllConfigInfo", "params": []}]
    )[0][0]["command"].startswith("/nonexistent/odd\u2401")


def _follow(d, impl):
    """`supervisorctl tail -f bin` with client `impl`: the first chunk arrives, then the
    second one once the writer is told to go on."""
    p = subprocess.Popen(
        [str(IMPLS[impl] / "supervisorctl"), "-c", str(d.conf), "tail", "-f", "bin"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        cwd=str(d.dir),
    )
    got = bytearray()

    def pump():
        while True:
            b = os.read(p.stdout.fileno(), 65536)
            if not b:
                return
            got.extend(b)

    reader = threading.Thread(target=pump, daemon=True)
    reader.start()
    try:
        # (The reference client prints a chunk that is not UTF-8 as `Undecodable: b'...'`,
        # its repr; this marker reads the same both ways.)
        deadline = time.time() + 15
        while b" ok <&>" not in got and time.time() < deadline:
            time.sleep(0.05)
        assert b" ok <&>" in got, (impl, bytes(got))
        assert d.rpc().supervisor.sendProcessStdin("bin", "go\n") is True
        deadline = time.time() + 15
        while b"second" not in got and time.time() < deadline:
            time.sleep(0.05)
        assert b"second" in got, (impl, bytes(got))
        if impl == "rust":
            # Ours writes the bytes as received.
            assert CHUNK1 in got and CHUNK2 in got, bytes(got)
    finally:
        p.terminate()
        try:
            p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait(timeout=10)
        reader.join(timeout=10)


def _vm_hwm_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    raise AssertionError("no VmHWM")


LIMIT = 96 * 1024 * 1024  # the documented answer limit of one request
MB = 1024 * 1024


def _amplification(make_daemon, tmp_path, method, params):
    script = tmp_path / "big.py"
    script.write_text(BIG_WRITER)
    d = make_daemon(
        "rust",
        f"""
        [program:big]
        command={sys.executable} {script}
        startsecs=0
        stdout_logfile_maxbytes=0
        """,
    )
    d.wait_state("big", "RUNNING")
    logfile = d.rpc().supervisor.getProcessInfo("big")["stdout_logfile"]
    d.wait_for(lambda: os.path.getsize(logfile) == 1_100_005, what="1.1 MB logged")
    pid = d.rpc().supervisor.getPID()
    before = _vm_hwm_kib(pid)
    calls = [{"methodName": method, "params": params}] * 1000
    request = xmlrpc.client.dumps((calls,), "system.multicall")
    assert 200_000 < len(request) < 400_000
    t0 = time.monotonic()
    results = d.rpc(timeout=300).system.multicall(calls)
    elapsed = time.monotonic() - t0
    after = _vm_hwm_kib(pid)
    assert d.proc.poll() is None, "daemon died"
    assert d.rpc().supervisor.getState()["statename"] == "RUNNING"
    return results, before, after, elapsed


def _check_capped(results, size_of):
    assert len(results) == 1000
    ok = [r for r in results if not isinstance(r, dict)]
    faults = [r for r in results if isinstance(r, dict)]
    # Earlier calls succeed, every call past the cap gets the fault entry.
    assert results[: len(ok)] == ok
    assert 10 <= len(ok) < 100, len(ok)
    assert sum(size_of(r) for r in ok) <= LIMIT
    assert faults, "no call was refused"
    for f in faults:
        assert f["faultCode"] == 30, f
        assert f["faultString"].startswith("FAILED: answer too large"), f


def test_multicall_of_log_reads_is_capped(make_daemon, tmp_path):
    """1,000 x readProcessStdoutLog(big, 0, 1 MB) in one multicall: the daemon stays alive
    and small (VmHWM under 200 MB; the old code peaked at ~2 GB, the reference builds a ~1 GB
    answer),
    answers the calls that fit and a FAILED fault entry for each call past the cap."""
    results, before, after, elapsed = _amplification(
        make_daemon, tmp_path, "supervisor.readProcessStdoutLog", ["big", 0, MB]
    )
    print(f"VmHWM before {before} KiB, after {after} KiB, answered in {elapsed:.1f} s")
    assert after < 200 * 1024, f"VmHWM {after} KiB"
    _check_capped(results, len)
    assert all(r[:100] == "x" * 99 + "\n" and len(r) == MB for r in results[:3])


def test_multicall_of_log_tails_is_capped(make_daemon, tmp_path):
    """The same with tailProcessStdoutLog(big, 0, 1 MB): [text, offset, overflow] entries
    while the answer fits (offset = the file size), then FAILED fault entries."""
    results, before, after, elapsed = _amplification(
        make_daemon, tmp_path, "supervisor.tailProcessStdoutLog", ["big", 0, MB]
    )
    print(f"VmHWM before {before} KiB, after {after} KiB, answered in {elapsed:.1f} s")
    assert after < 200 * 1024, f"VmHWM {after} KiB"
    _check_capped(results, lambda r: len(r[0]))
    for text, offset, overflow in [r for r in results if not isinstance(r, dict)]:
        assert (len(text), offset, overflow) == (MB, 1_100_005, True)

