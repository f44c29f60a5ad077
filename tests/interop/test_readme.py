"""The README's Quick start works as written, in a fresh clone.

`test_quickstart_in_a_fresh_clone` clones the repository this file lives in (a local
`git clone` of its HEAD: committed files only, no network), runs the Quick start's first
command there exactly as the README writes it (it builds every binary in release mode and
starts the daemon on the example config), waits for the web UI on 127.0.0.1:9001 and the
unix socket, runs the README's `supervisorctl ... status` and `tail -f` lines, then stops
the daemon by the pid in its pidfile. The second command (`scripts/test`) is the test suite
itself and is only checked to exist (running it here would recurse).

Build time: the clone's `target` is a symlink to this checkout's `target/` (override with
SUPERVISOR_RS_README_TARGET=/some/dir), so the release build reuses the compiled
dependencies and only rebuilds the workspace crates; from nothing it is a few minutes of CPU.
The whole run is bounded by SUPERVISOR_RS_README_TIMEOUT seconds (default 1500). Set
SUPERVISOR_RS_SKIP_README=1 to skip it. CARGO_TARGET_DIR is removed from the command's
environment, since the README's paths (`target/release/...`) assume the default.

`test_install_commands_work_as_written` runs the commands of ## Install (cargo install,
scripts/build-deb and apt's simulation of installing the package, scripts/build-static) in
this checkout, and checks the docker lines against the Dockerfile and the examples.

Port 9001 is the example's: if something else listens there the test is skipped with a
message saying so (no other test uses that port).
"""

import base64
import os
import re
import shutil
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

from conftest import ROOT, _die_with_test_process, rpc_proxy

README = ROOT / "README.md"
TIMEOUT = float(os.environ.get("SUPERVISOR_RS_README_TIMEOUT", "1500"))
COMMENT = re.compile(r"\s+#\s.*$")


def quickstart():
    """(the first code block's commands, the second block's commands) of ## Quick start."""
    text = README.read_text()
    m = re.search(r"^## Quick start\n(.*?)^## ", text, re.M | re.S)
    assert m, "README.md has no '## Quick start' section"
    blocks = re.findall(r"^```sh\n(.*?)^```", m.group(1), re.M | re.S)
    assert len(blocks) >= 2, blocks

    def commands(block):
        return [COMMENT.sub("", line).strip() for line in block.splitlines()
                if line.strip() and not line.lstrip().startswith("#")]

    return commands(blocks[0]), commands(blocks[1])


def test_quickstart_builds_every_binary_it_uses():
    """Exactly two commands; the first builds all binaries (not just one with --bin) and
    runs the example; every `target/release/X` the README uses next is a binary the
    workspace builds."""
    first, later = quickstart()
    assert len(first) == 2, first
    build_and_run, tests = first
    assert tests == "scripts/test" and os.access(ROOT / "scripts" / "test", os.X_OK)
    build, _, run = build_and_run.partition(" && ")
    assert build == "cargo build --release", build_and_run
    assert run.startswith("target/release/supervisord ") and \
        "-c examples/supervisord.conf" in run, run
    bins = set()
    for toml in ROOT.glob("crates/*/Cargo.toml"):
        bins.update(re.findall(r'^\[\[bin\]\]\nname = "([^"]+)"', toml.read_text(), re.M))
        if "[[bin]]" not in toml.read_text() and (toml.parent / "src" / "main.rs").exists():
            bins.add(re.search(r'^name = "([^"]+)"', toml.read_text(), re.M).group(1))
    for line in later:
        for used in re.findall(r"target/release/([\w-]+)", line):
            assert used in bins, (used, bins)
        assert "-c examples/supervisord.conf" in line, line


def port_in_use(port):
    s = socket.socket()
    try:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", port))
        return False
    except OSError:
        return True
    finally:
        s.close()


def web_ok():
    req = urllib.request.Request("http://127.0.0.1:9001/")
    req.add_header("Authorization", "Basic " + base64.b64encode(b"admin:admin").decode())
    try:
        with urllib.request.urlopen(req, timeout=2) as r:
            return r.status == 200 and b"supervisor" in r.read().lower()
    except OSError:
        return False


def rpc_running(sock, name=None):
    try:
        proxy = rpc_proxy(sock, timeout=2).supervisor
        if proxy.getState()["statename"] != "RUNNING":
            return False
        return name is None or proxy.getProcessInfo(name)["statename"] == "RUNNING"
    except Exception:
        return False


@pytest.mark.skipif(os.environ.get("SUPERVISOR_RS_SKIP_README") == "1",
                    reason="SUPERVISOR_RS_SKIP_README=1")
def test_quickstart_in_a_fresh_clone(tmp_path):
    if port_in_use(9001):
        pytest.skip("127.0.0.1:9001 is in use by another program; the README's example "
                    "listens there, so its Quick start cannot be run now")
    first, later = quickstart()
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "--quiet", str(ROOT), str(clone)], check=True,
                   timeout=300, capture_output=True)
    target = Path(os.environ.get("SUPERVISOR_RS_README_TARGET", ROOT / "target"))
    target.mkdir(parents=True, exist_ok=True)
    (clone / "target").symlink_to(target, target_is_directory=True)
    env = {k: v for k, v in os.environ.items() if k != "CARGO_TARGET_DIR"}
    log = open(tmp_path / "quickstart.log", "wb")
    started = time.time()
    deadline = started + TIMEOUT
    proc = subprocess.Popen(["bash", "-c", first[0]], cwd=str(clone), env=env, stdout=log,
                            stderr=subprocess.STDOUT, start_new_session=True,
                            preexec_fn=_die_with_test_process)
    sock = clone / "examples" / "var" / "supervisor.sock"
    pidfile = clone / "examples" / "var" / "supervisord.pid"

    def output():
        return (tmp_path / "quickstart.log").read_text(errors="replace")[-4000:]

    try:
        # built and started: the web UI and the unix socket answer
        while not (web_ok() and rpc_running(sock)):
            assert proc.poll() is None, f"the command exited {proc.returncode}:\n{output()}"
            assert time.time() < deadline, f"not up after {TIMEOUT:.0f} s:\n{output()}"
            time.sleep(0.5)
        for name in ("clock", "worker:worker_00", "worker:worker_01", "worker:worker_02"):
            while not rpc_running(sock, name):
                assert time.time() < deadline, f"{name} not RUNNING:\n{output()}"
                time.sleep(0.2)
        # every binary the next lines use was built by the first command (the clone's path
        # is new, so cargo builds its crates afresh even in a shared target dir)
        for used in sorted({b for line in later for b in re.findall(r"target/release/([\w-]+)",
                                                                     line)}):
            built = clone / "target" / "release" / used
            assert built.exists(), f"the first command did not build {used}:\n{output()}"
            assert built.stat().st_mtime >= started - 1, f"{used} was not built by it"
        for line in later:
            argv = line.split()
            if "-f" in argv:
                # follows until Ctrl-C: wait for the clock's first tick line, then SIGINT
                p = subprocess.Popen(argv, cwd=str(clone), stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, env=env)
                try:
                    buf = b""
                    os.set_blocking(p.stdout.fileno(), False)
                    until = min(deadline, time.time() + 30)
                    while b" tick\n" not in buf and time.time() < until:
                        chunk = p.stdout.read()
                        if chunk:
                            buf += chunk
                        time.sleep(0.1)
                    assert buf.startswith(b"==> Press Ctrl-C to exit <==\n"), buf
                    assert b" tick\n" in buf, buf
                    p.send_signal(signal.SIGINT)
                    p.communicate(timeout=15)
                    assert p.returncode == 0, p.returncode
                finally:
                    if p.poll() is None:
                        p.kill()
                        p.wait(timeout=10)
                continue
            r = subprocess.run(argv, cwd=str(clone), capture_output=True, text=True,
                               timeout=60, env=env)
            if argv[-1] == "status":
                # exit 3, as Python Supervisor's: `manual` is not started
                assert r.returncode == 3, r
                for name in ("clock", "worker:worker_00", "worker:worker_01",
                             "worker:worker_02"):
                    assert re.search(rf"^{re.escape(name)}\s+RUNNING\s+pid \d+", r.stdout,
                                     re.M), r.stdout
                assert re.search(r"^manual\s+STOPPED\s+Not started$", r.stdout, re.M), r.stdout
                assert re.search(r"^flaky\s+[A-Z]+", r.stdout, re.M), r.stdout
            else:
                assert r.returncode == 0, r
    finally:
        pid = None
        try:
            pid = int(pidfile.read_text().strip())
        except (OSError, ValueError):
            pass
        if pid is not None:
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        try:
            proc.wait(timeout=60 if pid is not None else 1)
        except subprocess.TimeoutExpired:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.wait(timeout=10)
        log.close()
    # stopped cleanly by its pid: the daemon's own exit, with its socket and pidfile gone
    assert proc.returncode == 0, (proc.returncode, output())
    assert not pidfile.exists() and not sock.exists()


# ---- ## Install (issue 17: packages) ---------------------------------------------------

def install_commands():
    """The command lines of the ```sh blocks of ## Install, in order."""
    text = README.read_text()
    m = re.search(r"^## Install\n(.*?)^## ", text, re.M | re.S)
    assert m, "README.md has no '## Install' section"
    lines = []
    for block in re.findall(r"^```sh\n(.*?)^```", m.group(1), re.M | re.S):
        lines += [COMMENT.sub("", line).strip() for line in block.splitlines()
                  if line.strip() and not line.lstrip().startswith("#")]
    return lines


def test_install_commands_work_as_written(tmp_path):
    """Every command of ## Install, run as written in this checkout (committed files only
    matter to them: build scripts and crates), with only the environment redirected:
    CARGO_INSTALL_ROOT for `cargo install` (so nothing lands in ~/.cargo/bin) and this
    checkout's target dir, so the release builds of scripts/test's package step are reused.
    `apt install ./x.deb` is run with -s (apt's simulation: it reads the package and resolves
    its dependencies and conflicts, and changes nothing). No Docker engine runs here: the
    docker lines are checked against the Dockerfile and the examples instead (the Dockerfile
    itself is linted in test_packaging.py). A line of another kind fails the test, so a new
    README command needs a check here."""
    lines = install_commands()
    assert lines, "no commands in ## Install"
    target = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
    env = dict(os.environ, CARGO_TARGET_DIR=str(target),
               CARGO_INSTALL_ROOT=str(tmp_path / "cargo-root"))
    bins = {"supervisord", "supervisorctl", "echo_supervisord_conf"}
    installed, seen = set(), set()
    deb = None
    for line in lines:
        argv = line.split()
        if argv[:4] == ["cargo", "install", "--locked", "--path"] and len(argv) == 5:
            crate = argv[4]
            assert crate.startswith("crates/") and crate[7:] in bins, line
            r = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True,
                               timeout=1800)
            assert r.returncode == 0, (line, r.stderr[-3000:])
            installed.add(crate[7:])
            seen.add("cargo")
        elif argv == ["scripts/build-deb"]:
            r = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True,
                               timeout=1800)
            assert r.returncode == 0, r.stderr[-3000:]
            deb = Path(r.stdout.strip().splitlines()[-1])
            seen.add("deb")
        elif argv[:2] == ["apt", "install"] and len(argv) == 3:
            assert deb is not None, "apt install before scripts/build-deb"
            assert (ROOT / argv[2]).resolve() == deb.resolve(), \
                f"the README installs {argv[2]}, scripts/build-deb made {deb}"
            if os.geteuid() == 0 and shutil.which("apt"):
                r = subprocess.run(["apt", "install", "-s", argv[2]], cwd=ROOT,
                                   capture_output=True, text=True, timeout=300)
                assert r.returncode == 0, (r.stdout[-2000:], r.stderr[-2000:])
                assert re.search(r"^Inst supervisor-rs ", r.stdout, re.M), r.stdout[-2000:]
            seen.add("apt")
        elif argv == ["scripts/build-static"]:
            r = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True,
                               timeout=1800)
            if r.returncode == 3:
                # the README says it needs the musl target; this machine cannot install it
                assert "target cannot be installed here" in r.stderr, r.stderr[-3000:]
                seen.add("static")
                continue
            assert r.returncode == 0, r.stderr[-3000:]
            for b in bins:
                assert os.access(ROOT / "target" / "static" / b, os.X_OK), b
                assert re.search(rf"^{b} +\d+ bytes \(\w+, static\)$", r.stdout, re.M), r.stdout
            seen.add("static")
        elif argv[:3] == ["docker", "build", "-t"]:
            assert argv[4:] == ["."] and (ROOT / "Dockerfile").is_file(), line
            tag = argv[3]
            for example in ("examples/kubernetes/pod.yaml",
                            "examples/nomad/supervisor-rs.nomad.hcl"):
                assert f"{tag}:latest" in (ROOT / example).read_text(), (example, tag)
            seen.add("docker build")
        elif argv[:2] == ["docker", "run"]:
            assert argv[-1] == tag, line
            conf = (ROOT / "examples/container/supervisord.conf").read_text()
            port = re.search(r"-p (\d+):(\d+)", line)
            assert port and re.search(rf"^port=\*:{port[2]}\b", conf, re.M), line
            for var in re.findall(r"-e (\w+)=", line):
                assert f"%(ENV_{var})s" in conf, var
            seen.add("docker run")
        else:
            pytest.fail(f"README ## Install shows a command no test checks: {line}")
    assert installed == bins, installed
    for b in bins:
        built = tmp_path / "cargo-root" / "bin" / b
        assert os.access(built, os.X_OK), b
    r = subprocess.run([tmp_path / "cargo-root" / "bin" / "supervisorctl", "--version"],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0 and r.stdout.startswith("supervisor-rs "), r
    r = subprocess.run([tmp_path / "cargo-root" / "bin" / "echo_supervisord_conf"],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0 and "[supervisord]" in r.stdout, r
    assert seen == {"cargo", "deb", "apt", "static", "docker build", "docker run"}, seen
