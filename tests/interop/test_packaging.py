"""Packages and shipped files (issue 17 items 4-6): the Debian package, its maintainer
scripts and an install into a throwaway root, the systemd unit, the man pages, `cargo
install`, the static build, the Dockerfile and the container, Kubernetes and Nomad examples.

The .deb: `SUPERVISOR_RS_DEB=path` (scripts/test builds it once with scripts/build-deb and
exports it); without it the first test that needs it runs scripts/build-deb itself (a release
build of the three binaries; a lock file keeps the two xdist workers from doing it at once).
The static binaries likewise: `SUPERVISOR_RS_STATIC_DIR`, else scripts/build-static into
target/static. `cargo install` of each binary crate is run by test_readme.py (the README's
Install commands, as written).

Nothing here touches the real system: maintainer scripts run under `dpkg --root` with
DPKG_ROOT set and stub deb-systemd-helper/deb-systemd-invoke/systemctl first in PATH, which
only record their arguments.
"""

import configparser
import json
import fcntl
import gzip
import os
import re
import shutil
import signal
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from conftest import ROOT, RUST_BIN, VENV, _die_with_test_process, free_port, rpc_proxy

TARGET = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
BINS = ("supervisord", "supervisorctl", "echo_supervisord_conf")
MAN_PAGES = {
    "supervisord": ("8", "docs/man/supervisord.8.md"),
    "supervisorctl": ("1", "docs/man/supervisorctl.1.md"),
    "echo_supervisord_conf": ("1", "docs/man/echo_supervisord_conf.1.md"),
    "supervisord.conf": ("5", "docs/man/supervisord.conf.5.md"),
}
BUILD_TIMEOUT = 1800


def run(argv, **kw):
    kw.setdefault("capture_output", True)
    kw.setdefault("text", True)
    kw.setdefault("timeout", 120)
    return subprocess.run([str(a) for a in argv], **kw)


def built_once(env_name, script, marker):
    """The path in $env_name, else what `script` prints on its last line, built under a lock
    shared by the xdist workers (the second one finds the build fresh and it is quick).
    scripts/build-static exits 3 when the musl target cannot be installed: then skip."""
    given = os.environ.get(env_name)
    if given:
        return Path(given)
    lock_path = TARGET / f".{script}.lock"
    TARGET.mkdir(parents=True, exist_ok=True)
    with open(lock_path, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        r = run([ROOT / "scripts" / script], cwd=ROOT, timeout=BUILD_TIMEOUT)
        if script == "build-static" and r.returncode == 3:
            pytest.skip(r.stderr.strip().splitlines()[-1])
        assert r.returncode == 0, f"scripts/{script} failed:\n{r.stderr[-4000:]}"
        return marker(r.stdout)


@pytest.fixture(scope="module")
def deb():
    path = built_once("SUPERVISOR_RS_DEB", "build-deb",
                      lambda out: Path(out.strip().splitlines()[-1]))
    assert path.is_file(), path
    return path


@pytest.fixture(scope="module")
def deb_root(deb, tmp_path_factory):
    """The package's files unpacked with dpkg -x into a throwaway root."""
    root = tmp_path_factory.mktemp("debroot")
    r = run(["dpkg-deb", "-x", deb, root])
    assert r.returncode == 0, r.stderr
    return root


def deb_listing(deb):
    """{path: (mode string, owner)} of the package's data, paths without the leading '.'."""
    r = run(["dpkg-deb", "-c", deb])
    assert r.returncode == 0, r.stderr
    out = {}
    for line in r.stdout.splitlines():
        parts = line.split(None, 5)
        path = parts[5].split(" -> ")[0]
        out[path[1:].rstrip("/") or "/"] = (parts[0], parts[1])
    return out


# ---- the .deb: control fields, files, maintainer scripts ------------------------------

def test_deb_control_fields(deb):
    r = run(["dpkg-deb", "-f", deb])
    assert r.returncode == 0, r.stderr
    fields = dict(re.findall(r"^([A-Za-z-]+): (.*)$", r.stdout, re.M))
    assert fields["Package"] == "supervisor-rs"
    assert re.fullmatch(r"\d+\.\d+\.\d+-1", fields["Version"]), fields["Version"]
    assert fields["Architecture"] == "amd64"
    # takes the place of Debian's supervisor package
    for field in ("Conflicts", "Replaces", "Provides"):
        assert fields[field] == "supervisor", (field, fields)
    assert "libc6" in fields["Depends"], fields["Depends"]
    assert fields["Section"] == "admin" and fields["Priority"] == "optional"
    assert re.fullmatch(r".+ <[^@\s]+@[^@\s]+>", fields["Maintainer"]), fields["Maintainer"]
    desc = run(["dpkg-deb", "-f", deb, "Description"]).stdout
    assert desc.startswith("The supervisor-rs daemon"), desc
    assert "replacement of Python Supervisor 4.3" in " ".join(desc.split()), desc
    assert deb.name == f"supervisor-rs_{fields['Version']}_amd64.deb"


def test_deb_files(deb):
    files = deb_listing(deb)
    expected = {
        "/usr/bin/supervisord": "-rwxr-xr-x",
        "/usr/bin/supervisorctl": "-rwxr-xr-x",
        "/usr/bin/echo_supervisord_conf": "-rwxr-xr-x",
        "/usr/lib/systemd/system/supervisord.service": "-rw-r--r--",
        "/etc/supervisor/supervisord.conf": "-rw-r--r--",
        "/etc/supervisor/conf.d": "drwxr-xr-x",
        "/var/log/supervisor": "drwxr-xr-x",
        "/usr/share/man/man8/supervisord.8.gz": "-rw-r--r--",
        "/usr/share/man/man1/supervisorctl.1.gz": "-rw-r--r--",
        "/usr/share/man/man1/echo_supervisord_conf.1.gz": "-rw-r--r--",
        "/usr/share/man/man5/supervisord.conf.5.gz": "-rw-r--r--",
        "/usr/share/doc/supervisor-rs/copyright": "-rw-r--r--",
        "/usr/share/doc/supervisor-rs/README.md": "-rw-r--r--",
        "/usr/share/doc/supervisor-rs/configuration.md": "-rw-r--r--",
        "/usr/share/bash-completion/completions/supervisorctl": "-rw-r--r--",
        "/usr/share/zsh/vendor-completions/_supervisorctl": "-rw-r--r--",
        "/usr/share/fish/vendor_completions.d/supervisorctl.fish": "-rw-r--r--",
    }
    for path, mode in expected.items():
        assert path in files, f"{path} is not in the package:\n" + "\n".join(sorted(files))
        assert files[path] == (mode, "root/root"), (path, files[path])
    # conf.d/ ships empty, like Debian's: the administrator's files are not the package's
    assert not [p for p in files if p.startswith("/etc/supervisor/conf.d/")]
    assert not [p for p in files if p.startswith("/var/log/supervisor/")]


def test_deb_conffiles_and_scripts(deb, tmp_path):
    ctl = tmp_path / "control"
    r = run(["dpkg-deb", "-e", deb, ctl])
    assert r.returncode == 0, r.stderr
    assert (ctl / "conffiles").read_text().split() == ["/etc/supervisor/supervisord.conf"]
    for name in ("postinst", "prerm", "postrm"):
        script = ctl / name
        assert script.stat().st_mode & 0o777 == 0o755, name
        assert run(["sh", "-n", script]).returncode == 0, name
        assert "#DEBHELPER#" not in script.read_text(), f"{name}: token not replaced"
    postinst = (ctl / "postinst").read_text()
    assert "deb-systemd-helper enable supervisord.service" in postinst
    assert re.search(r"if \[ -d /run/systemd/system \].*?deb-systemd-invoke \S+ "
                     r"supervisord.service", postinst, re.S), postinst
    assert "/var/log/supervisor" in postinst
    assert re.search(r"if \[ -d /run/systemd/system \].*?deb-systemd-invoke stop "
                     r"supervisord.service", (ctl / "prerm").read_text(), re.S)
    postrm = (ctl / "postrm").read_text()
    assert re.search(r'"\$1" = "purge".*?rm -rf "\$\{DPKG_ROOT:-\}/var/log/supervisor"',
                     postrm, re.S), postrm
    assert "deb-systemd-helper purge supervisord.service" in postrm


def stub_bin(tmp_path):
    """A directory of stubs that record their argv in calls.log and do nothing else."""
    stubs = tmp_path / "stubs"
    stubs.mkdir()
    log = tmp_path / "calls.log"
    for name in ("deb-systemd-helper", "deb-systemd-invoke", "systemctl"):
        p = stubs / name
        p.write_text(f'#!/bin/sh\necho "{name} $*" >> "{log}"\nexit 0\n')
        p.chmod(0o755)
    return stubs, log


@pytest.mark.skipif(os.geteuid() != 0, reason="dpkg --root installs need root")
def test_deb_install_and_purge_in_a_throwaway_root(deb, tmp_path):
    """dpkg itself installs the package into an empty root (maintainer scripts run
    chrootless with DPKG_ROOT, against stubs), then removes and purges it."""
    root = tmp_path / "root"
    admin = root / "var" / "lib" / "dpkg"
    for d in ("info", "updates", "triggers"):
        (admin / d).mkdir(parents=True)
    (admin / "status").write_text("")
    (admin / "available").write_text("")
    stubs, calls = stub_bin(tmp_path)
    env = dict(os.environ, PATH=f"{stubs}:/usr/sbin:/usr/bin:/sbin:/bin")

    def dpkg(*args):
        r = run(["dpkg", f"--root={root}", "--force-script-chrootless", "--force-depends",
                 "--force-not-root", "--log=/dev/null", *args], env=env)
        assert r.returncode == 0, (args, r.stdout, r.stderr)
        return r

    dpkg("--install", deb)
    for b in BINS:
        assert os.access(root / "usr" / "bin" / b, os.X_OK), b
    assert (root / "var" / "log" / "supervisor").is_dir()
    assert (root / "etc" / "supervisor" / "conf.d").is_dir()
    log = calls.read_text()
    assert "deb-systemd-helper enable supervisord.service" in log, log
    if Path("/run/systemd/system").is_dir():
        assert "deb-systemd-invoke start supervisord.service" in log, log
    else:
        assert "deb-systemd-invoke" not in log, log
    r = run(["dpkg-query", f"--root={root}", "-W", "-f=${Status}", "supervisor-rs"])
    assert r.stdout == "install ok installed", r

    # an administrator's program file and a log survive `remove`, the log goes on `purge`
    (root / "etc" / "supervisor" / "conf.d" / "web.conf").write_text("[program:web]\n")
    (root / "var" / "log" / "supervisor" / "supervisord.log").write_text("x\n")
    dpkg("--remove", "supervisor-rs")
    assert not (root / "usr" / "bin" / "supervisord").exists()
    assert (root / "etc" / "supervisor" / "supervisord.conf").exists()  # a conffile
    assert (root / "var" / "log" / "supervisor" / "supervisord.log").exists()
    dpkg("--purge", "supervisor-rs")
    assert not (root / "etc" / "supervisor" / "supervisord.conf").exists()
    assert (root / "etc" / "supervisor" / "conf.d" / "web.conf").exists()
    assert not (root / "var" / "log" / "supervisor").exists()
    log = calls.read_text()
    assert "deb-systemd-helper purge supervisord.service" in log, log


def packaged_config(deb_root, tmp_path):
    """The package's /etc/supervisor/supervisord.conf with its absolute paths moved under
    the unpacked root (and the socket and pid file under tmp_path/run)."""
    run_dir = tmp_path / "run"
    run_dir.mkdir(exist_ok=True)
    text = (deb_root / "etc/supervisor/supervisord.conf").read_text()
    text = re.sub(r"(?<![\w/])/(etc|var/log)/supervisor\b", lambda m: f"{deb_root}{m[0]}",
                  text)
    text = text.replace("/var/run/", f"{run_dir}/")
    conf = tmp_path / "supervisord.conf"
    conf.write_text(text)
    return conf, run_dir


def test_packaged_config_checks_and_runs(deb_root, tmp_path):
    """The unpacked supervisord checks the unpacked default config, runs a program dropped
    into conf.d/, and the unpacked supervisorctl talks to it."""
    conf, run_dir = packaged_config(deb_root, tmp_path)
    (deb_root / "var" / "log" / "supervisor").mkdir(parents=True, exist_ok=True)
    daemon = deb_root / "usr/bin/supervisord"
    ctl = deb_root / "usr/bin/supervisorctl"
    # empty conf.d: valid, with the include's "no file matches" warning (exit 1)
    r = run([daemon, "-c", conf, "--check-config"])
    assert r.returncode == 1, (r.stdout, r.stderr)
    assert "conf.d/*.conf" in r.stdout + r.stderr, r
    conf_d = deb_root / "etc/supervisor/conf.d"
    (conf_d / "sleeper.conf").write_text(
        "[program:sleeper]\ncommand=/bin/sleep 1000\nstartsecs=0\n")
    try:
        r = run([daemon, "-c", conf, "--check-config"])
        assert r.returncode == 0, (r.stdout, r.stderr)
        assert "sleeper" in r.stdout
        # the reference reads the same file (its rpcinterface factory, the include)
        py = f"""
from supervisor.options import ServerOptions
o = ServerOptions(); o.realize(['-c', {str(conf)!r}])
print(sorted(g.name for g in o.process_group_configs))
"""
        r = run([VENV / "bin" / "python", "-c", py])
        assert r.returncode == 0 and "['sleeper']" in r.stdout, r
        p = subprocess.Popen([str(daemon), "-n", "-c", str(conf)], stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL, preexec_fn=_die_with_test_process)
        try:
            deadline = time.time() + 20
            while True:
                r = run([ctl, "-c", conf, "status"], timeout=10)
                if r.returncode == 0 and re.search(r"^sleeper\s+RUNNING", r.stdout, re.M):
                    break
                assert p.poll() is None, p.returncode
                assert time.time() < deadline, (r.stdout, r.stderr)
                time.sleep(0.2)
            log = deb_root / "var/log/supervisor/supervisord.log"
            assert "spawned: 'sleeper'" in log.read_text()
            assert list((deb_root / "var/log/supervisor").glob("sleeper-stdout---*.log"))
            r = run([ctl, "-c", conf, "shutdown"], timeout=30)
            assert r.returncode == 0, r
            assert p.wait(timeout=30) == 0
            assert not (run_dir / "supervisor.sock").exists()
        finally:
            if p.poll() is None:
                p.kill()
                p.wait(timeout=10)
    finally:
        (conf_d / "sleeper.conf").unlink()
        for f in (deb_root / "var/log/supervisor").glob("*"):
            f.unlink()


# ---- the systemd unit -----------------------------------------------------------------

def unit_sections(text):
    parser = configparser.ConfigParser(strict=False, interpolation=None,
                                       delimiters=("=",), comment_prefixes=("#", ";"))
    parser.optionxform = str
    parser.read_string(text)
    return parser


def test_unit_file_parses(deb_root):
    text = (ROOT / "contrib/systemd/supervisord.service").read_text()
    assert (deb_root / "usr/lib/systemd/system/supervisord.service").read_text() == text
    unit = unit_sections(text)
    assert unit.sections() == ["Unit", "Service", "Install"]
    svc = unit["Service"]
    assert svc["Type"] == "notify" and svc["NotifyAccess"] == "main"
    assert svc["ExecStart"] == "/usr/bin/supervisord -n -c /etc/supervisor/supervisord.conf"
    assert svc["ExecReload"] == \
        "/usr/bin/supervisorctl -c /etc/supervisor/supervisord.conf reload"
    assert svc["KillMode"] == "mixed"
    for key in ("ProtectKernelModules", "ProtectControlGroups", "RestrictSUIDSGID",
                "LockPersonality"):
        assert svc[key] == "yes", key
    # supervisord must stay able to run programs as other users
    assert "User" not in svc and "NoNewPrivileges" not in svc
    assert unit["Install"]["WantedBy"] == "multi-user.target"
    assert unit["Install"]["Alias"] == "supervisor.service"
    # the command paths are those of the package
    for key in ("ExecStart", "ExecReload"):
        assert (deb_root / svc[key].split()[0].lstrip("/")).is_file(), key


@pytest.mark.skipif(shutil.which("systemd-analyze") is None,
                    reason="systemd-analyze is not installed (the parse check still runs)")
def test_unit_file_verifies(deb_root, tmp_path):
    """systemd-analyze verify: no unknown key or bad value, the commands exist, the man pages
    of Documentation= exist (MANPATH points into the unpacked package)."""
    text = (deb_root / "usr/lib/systemd/system/supervisord.service").read_text()
    unit = tmp_path / "supervisord.service"
    unit.write_text(text.replace("/usr/bin/", f"{deb_root}/usr/bin/"))
    env = dict(os.environ, MANPATH=str(deb_root / "usr/share/man"), SYSTEMD_LOG_LEVEL="notice")
    r = run(["systemd-analyze", "verify", unit], env=env, cwd=tmp_path)
    assert r.returncode == 0 and r.stderr.strip() == "", r.stderr
    # and the check bites: an unknown key is reported
    unit.write_text(text.replace("Type=notify", "Typo=notify"))
    r = run(["systemd-analyze", "verify", "--man=no", unit], env=env, cwd=tmp_path)
    assert "Unknown key" in r.stderr, r.stderr


# ---- man pages --------------------------------------------------------------------------

def render(page_gz, tmp_path):
    """`man -l` of a packaged page as plain text (no hyphenation, wide lines), and what groff
    warned about."""
    page = tmp_path / page_gz.name[:-3]
    page.write_bytes(gzip.decompress(page_gz.read_bytes()))
    env = dict(os.environ, MANWIDTH="200", MAN_KEEP_FORMATTING="", LC_ALL="C.UTF-8",
               MANROFFSEQ="")
    r = run(["man", "--warnings", "--nh", "--nj", "-l", page], env=env)
    assert r.returncode == 0, r.stderr
    text = r.stdout.replace("\u2010", "-").replace("\u2212", "-").replace("\u2019", "'")
    return text, r.stderr


@pytest.mark.skipif(shutil.which("man") is None, reason="man (man-db) is not installed")
@pytest.mark.parametrize("name", sorted(MAN_PAGES))
def test_man_page_renders(deb_root, tmp_path, name):
    section, _ = MAN_PAGES[name]
    gz = deb_root / f"usr/share/man/man{section}/{name}.{section}.gz"
    text, warnings = render(gz, tmp_path)
    assert warnings.strip() == "", warnings
    first = text.splitlines()[0]
    assert first.split()[0] == f"{name.upper()}({section})", first
    for heading in ("NAME", "SYNOPSIS", "DESCRIPTION", "SEE ALSO"):
        assert re.search(rf"^{heading}$", text, re.M), heading
    assert re.search(rf"^\s+{re.escape(name)} - ", text, re.M), text[:400]
    version = re.search(r'^version = "([^"]+)"', (ROOT / "Cargo.toml").read_text(), re.M)[1]
    assert f"supervisor-rs {version}" in text.splitlines()[-1]


def help_options(binary):
    """Every option the binary's --help lists: '-c', '--configuration', ..."""
    r = run([binary, "--help"])
    assert r.returncode == 0, r
    opts = set()
    for line in r.stdout.splitlines():
        m = re.match(r"^((?:-[-\w?]+/?)+)", line)
        if m:
            opts.update(o for o in m.group(1).split("/") if o)
    assert len(opts) > 5, r.stdout
    return opts


@pytest.mark.skipif(shutil.which("man") is None, reason="man (man-db) is not installed")
@pytest.mark.parametrize("name", ["supervisord", "supervisorctl"])
def test_man_page_lists_every_option(deb_root, tmp_path, name):
    section, _ = MAN_PAGES[name]
    text, _ = render(deb_root / f"usr/share/man/man{section}/{name}.{section}.gz", tmp_path)
    options = text.split("\nOPTIONS\n", 1)[1].split("\n\n\n")[0]
    opts = help_options(deb_root / "usr/bin" / name)
    if name == "supervisorctl":
        # ours, not in the reference's usage text: the EXT_LONG table of options.rs
        src = (ROOT / "crates/supervisorctl/src/options.rs").read_text()
        ext = re.search(r"const EXT_LONG: &\[&str\] = &\[(.*?)\];", src, re.S)[1]
        opts.update("--" + o for o in re.findall(r'"([^"]+)"', ext))
        assert "--version" in opts
    missing = sorted(o for o in opts
                     if not re.search(rf"(?<![\w-]){re.escape(o)}(?![\w-])", options))
    assert not missing, f"{name}.{section} OPTIONS lacks {missing}"


def test_supervisorctl_man_page_lists_every_command(deb_root, tmp_path):
    conf = tmp_path / "ctl.conf"
    conf.write_text("[supervisorctl]\nserverurl=unix:///nonexistent/supervisor.sock\n")
    r = run([deb_root / "usr/bin/supervisorctl", "-c", conf, "help"])
    assert r.returncode == 0, r
    commands = set()
    for line in r.stdout.splitlines():
        if line and not line.startswith("=") and "commands" not in line:
            commands.update(line.split())
    assert {"start", "stop", "status", "reload", "completions"} <= commands, commands
    src = (ROOT / MAN_PAGES["supervisorctl"][1]).read_text()
    listed = src.split("\n# COMMANDS\n", 1)[1].split("\n# ", 1)[0]
    missing = sorted(c for c in commands if not re.search(rf"^\*\*{c}\*\*", listed, re.M)
                     and not re.search(rf"^\*\*\w+\*\*, \*\*{c}\*\*", listed, re.M))
    assert not missing, f"supervisorctl.1.md COMMANDS lacks {missing}"


def keys_table():
    """{table constant: [keys]} and {section kind: [table constants]} of keys.rs."""
    src = (ROOT / "crates/config/src/keys.rs").read_text()
    tables = {}
    for name, body in re.findall(r"const ([A-Z_]+): &\[&str\] = &\[(.*?)\];", src, re.S):
        body = re.sub(r"//[^\n]*", "", body)
        tables[name] = re.findall(r'"([^"]+)"', body)
    kinds = {}
    fn = src.split("fn tables(self)", 1)[1].split("\n    }\n", 1)[0]
    for kind, names in re.findall(r"SectionKind::(\w+) => \{?\s*&\[([A-Z_,\s]*)\]", fn):
        kinds[kind] = [n.strip() for n in names.split(",") if n.strip()]
    return tables, kinds


# the heading of supervisord.conf.5.md that documents each section kind of keys.rs
KIND_HEADING = {
    "Program": "[program:x]",
    "EventListener": "[eventlistener:x]",
    "FcgiProgram": "[fcgi-program:x]",
    "Group": "[group:g]",
    "Supervisord": "[supervisord]",
    "Supervisorctl": "[supervisorctl]",
    "Include": "[include]",
    "UnixHttpServer": "[unix_http_server]",
    "InetHttpServer": "[inet_http_server]",
}


def test_config_man_page_lists_every_key():
    """Every key of crates/config/src/keys.rs is described (as **key**) in the section of
    supervisord.conf.5.md that documents its kind (a table shared by several kinds: in one
    of them, e.g. the program keys that event listeners also take)."""
    tables, kinds = keys_table()
    assert set(kinds) == set(KIND_HEADING), f"new section kind in keys.rs: {set(kinds)}"
    assert len(tables) >= 10 and sum(map(len, tables.values())) > 60, tables
    src = (ROOT / MAN_PAGES["supervisord.conf"][1]).read_text()
    sections = {}
    for heading, body in re.findall(r"^# SECTION (\[[^\]]+\])\n(.*?)(?=^# )", src, re.M | re.S):
        sections[heading] = body
    assert set(KIND_HEADING.values()) <= set(sections), sorted(sections)
    missing = []
    for table, keys in tables.items():
        where = [KIND_HEADING[k] for k, ts in kinds.items() if table in ts]
        assert where, f"{table} is used by no section kind"
        for key in keys:
            if not any(re.search(rf"\*\*{re.escape(key)}\*\*", sections[h]) for h in where):
                missing.append(f"{key} ({' or '.join(where)})")
    assert not missing, "supervisord.conf.5.md does not describe: " + ", ".join(missing)


# ---- crates (`cargo install --path crates/X` itself runs in test_readme.py, as the
# README's Install section writes it) --------------------------------------------------

def test_crate_metadata():
    """Every crate says what it is: description, license, keywords, categories, readme and
    the MSRV from the workspace; none is published by accident."""
    import tomllib

    ws = tomllib.loads((ROOT / "Cargo.toml").read_text())
    wsp = ws["workspace"]["package"]
    assert wsp["license"] == "MIT" and (ROOT / "LICENSE").is_file()
    for member in ws["workspace"]["members"]:
        pkg = tomllib.loads((ROOT / member / "Cargo.toml").read_text())["package"]
        for key in ("description", "keywords", "categories"):
            assert pkg.get(key), (member, key)
        assert len(pkg["keywords"]) <= 5 and all(len(k) <= 20 for k in pkg["keywords"])
        for key in ("version", "edition", "license", "rust-version", "readme", "publish"):
            assert pkg.get(key) == {"workspace": True}, (member, key)
    assert wsp["publish"] is False


# ---- static build -----------------------------------------------------------------------

@pytest.fixture(scope="module")
def static_dir():
    def marker(out):
        # the last lines are "<name> <size> bytes (<flavour>, static)"
        return ROOT / "target" / "static"
    path = built_once("SUPERVISOR_RS_STATIC_DIR", "build-static", marker)
    for b in BINS:
        assert (path / b).is_file(), b
    return path


def test_static_binaries_have_no_dynamic_dependencies(static_dir):
    for b in BINS:
        data = (static_dir / b).read_bytes()
        assert data[:4] == b"\x7fELF"
        r = run(["readelf", "-d", "-l", static_dir / b])
        assert r.returncode == 0, r
        assert "(NEEDED)" not in r.stdout, (b, r.stdout)
        assert "INTERP" not in r.stdout, (b, "has a program interpreter")


@pytest.mark.skipif(os.geteuid() != 0, reason="user= needs a root daemon")
def test_static_daemon_looks_users_up(static_dir, tmp_path):
    """user= works in the static daemon: the lookup of 'nobody' (getpwnam) finds the
    account and the program runs as it."""
    out = tmp_path / "id.out"
    conf = tmp_path / "s.conf"
    conf.write_text(f"""[supervisord]
logfile={tmp_path}/s.log
pidfile={tmp_path}/s.pid
user=root
[unix_http_server]
file={tmp_path}/s.sock
[rpcinterface:supervisor]
supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface
[program:who]
command=/bin/sh -c "id -un; id -u"
user=nobody
startsecs=0
autorestart=false
stdout_logfile={out}
""")
    os.chmod(tmp_path, 0o755)
    r = run([static_dir / "supervisord", "-c", conf, "--check-config"])
    assert r.returncode == 0, (r.stdout, r.stderr)
    p = subprocess.Popen([str(static_dir / "supervisord"), "-n", "-c", str(conf)],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                         preexec_fn=_die_with_test_process)
    try:
        deadline = time.time() + 20
        while not (out.exists() and len(out.read_text().split()) >= 2):
            assert p.poll() is None and time.time() < deadline
            time.sleep(0.1)
        import pwd
        assert out.read_text().split() == ["nobody", str(pwd.getpwnam("nobody").pw_uid)]
        # and an unknown user is refused with the reference's message
        bad = conf.read_text().replace("user=nobody", "user=no_such_user_h4")
        conf.write_text(bad)
        r = run([static_dir / "supervisord", "-c", conf, "--check-config"])
        assert r.returncode == 2 and "no_such_user_h4" in r.stdout + r.stderr, r
    finally:
        p.send_signal(signal.SIGTERM)
        try:
            p.wait(timeout=30)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait(timeout=10)


# ---- Dockerfile and examples ------------------------------------------------------------

def dockerfile_instructions():
    text = (ROOT / "Dockerfile").read_text()
    text = re.sub(r"\\\n", " ", text)
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            out.append((word.upper(), rest.strip()))
    return out


def dockerignored():
    return [p.strip() for p in (ROOT / ".dockerignore").read_text().splitlines()
            if p.strip() and not p.startswith("#")]


def test_dockerfile_lint():
    """What can be checked without a Docker engine (none runs here): two stages, the build
    stage builds the three binary crates, every file COPY'd from the context exists and is
    not .dockerignore'd, the final stage takes only the three binaries and the config, and
    its ENTRYPOINT runs supervisord in the foreground on that config."""
    ins = dockerfile_instructions()
    froms = [rest for w, rest in ins if w == "FROM"]
    assert len(froms) == 2 and froms[0].endswith(" AS build"), froms
    assert froms[1].split()[0] == "debian:bookworm-slim"
    ignored = dockerignored()
    stage = -1
    final_copies = []
    built = set()
    for word, rest in ins:
        if word == "FROM":
            stage += 1
            continue
        if word == "RUN" and "cargo build" in rest:
            assert "--release" in rest and "--locked" in rest, rest
            built.update(re.findall(r"-p (\S+)", rest))
        if word == "COPY":
            args = rest.split()
            from_stage = [a for a in args if a.startswith("--from=")]
            paths = [a for a in args if not a.startswith("--")]
            *srcs, dest = paths
            if stage == 1:
                final_copies.append((from_stage, srcs, dest))
            if from_stage:
                continue
            for src in srcs:
                assert (ROOT / src).exists(), f"COPY {src}: no such file in the repository"
                top = src.split("/")[0]
                assert top not in ignored and src not in ignored, f"{src} is .dockerignore'd"
    assert built == set(BINS), built
    binaries = [s for f, srcs, _ in final_copies if f == ["--from=build"] for s in srcs]
    assert sorted(Path(s).name for s in binaries) == sorted(BINS), final_copies
    assert all(s.startswith("/src/target/release/") for s in binaries), binaries
    context = [(srcs, dest) for f, srcs, dest in final_copies if not f]
    assert context == [(["examples/container/supervisord.conf"],
                        "/etc/supervisor/supervisord.conf")], context
    entry = [rest for w, rest in ins if w == "ENTRYPOINT"]
    assert entry == ['["supervisord", "-n", "-c", "/etc/supervisor/supervisord.conf"]'], entry
    env = [rest for w, rest in ins if w == "ENV"]
    assert any(e.startswith("SUPERVISOR_PASSWORD=") for e in env), env
    assert ("STOPSIGNAL", "SIGTERM") in ins
    # the build context keeps out the build output
    assert "target" in ignored


def test_dockerfile_build_stage_resolves(tmp_path):
    """The build stage sees only what it COPYs (Cargo.toml, Cargo.lock, crates/): that
    workspace must resolve with the lock file as it is (`cargo metadata --locked`, offline),
    so no crate needs a path outside what the image gets."""
    ctx = tmp_path / "src"
    ctx.mkdir()
    stage = 0
    for word, rest in dockerfile_instructions():
        if word == "FROM":
            stage += 1
        elif word == "COPY" and stage == 1:
            *srcs, dest = rest.split()
            for src in srcs:
                target = ctx / (src if dest in ("./", ".") else dest.lstrip("./"))
                if (ROOT / src).is_dir():
                    shutil.copytree(ROOT / src, target,
                                    ignore=shutil.ignore_patterns("target", "*.rs.bk"))
                else:
                    shutil.copy(ROOT / src, target)
    env = dict(os.environ, CARGO_TARGET_DIR=str(tmp_path / "target"))
    r = run(["cargo", "metadata", "--locked", "--offline", "--format-version", "1"],
            cwd=ctx, env=env)
    assert r.returncode == 0, r.stderr[-3000:]
    meta = json.loads(r.stdout)
    names = {p["name"] for p in meta["packages"] if p["id"] in meta["workspace_members"]}
    assert set(BINS) <= names, names


def container_config(tmp_path, port):
    """examples/container/supervisord.conf with its port and /tmp paths moved to this test."""
    text = (ROOT / "examples/container/supervisord.conf").read_text()
    text = text.replace("port=*:9001", f"port=127.0.0.1:{port}")
    text = text.replace("/tmp/", f"{tmp_path}/")
    if os.geteuid() != 0:
        text = text.replace("user=root", ";user=root")
    conf = tmp_path / "container.conf"
    conf.write_text(text)
    return conf


def test_container_example_checks_clean(tmp_path):
    """Our --check-config finds nothing to say about the container example (every key it
    uses is known), and the reference loads the same file."""
    env = dict(os.environ, SUPERVISOR_PASSWORD="secret")
    conf = ROOT / "examples/container/supervisord.conf"
    r = run([RUST_BIN / "supervisord", "-c", conf, "--check-config"], env=env)
    assert r.returncode == 0, (r.stdout, r.stderr)
    text = conf.read_text()
    assert re.search(r"^critical\s*=\s*true", text, re.M)
    assert re.search(r"^stdout_log_prefix\s*=\s*%\(program_name\)s", text, re.M)
    assert re.search(r"^stdout_logfile\s*=\s*/dev/stdout", text, re.M)
    assert re.search(r"^logfile\s*=\s*/dev/stdout", text, re.M)
    py = f"""
from supervisor.options import ServerOptions
o = ServerOptions(); o.realize(['-c', {str(container_config(tmp_path, 9001))!r}])
print(sorted(g.name for g in o.process_group_configs))
"""
    r = run([VENV / "bin" / "python", "-c", py], env=env)
    assert r.returncode == 0, r.stderr
    assert "['web', 'worker']" in r.stdout, r.stdout


def http_get(port, path, auth=None):
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}")
    if auth:
        import base64
        req.add_header("Authorization", "Basic " + base64.b64encode(auth.encode()).decode())
    try:
        with urllib.request.urlopen(req, timeout=5) as r:
            return r.status, r.read().decode(errors="replace")
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode(errors="replace")


def test_container_example_runs(tmp_path):
    """The container example for real (on a loopback port): prefixed program lines on the
    daemon's stdout, /livez and /readyz answer the probes without the password, the rest of
    the server still asks for it, and SIGTERM ends everything with status 0."""
    port = free_port()
    conf = container_config(tmp_path, port)
    env = dict(os.environ, SUPERVISOR_PASSWORD="secret")
    out = open(tmp_path / "stdout", "wb")
    p = subprocess.Popen([str(RUST_BIN / "supervisord"), "-c", str(conf)], env=env,
                         stdout=out, stderr=subprocess.STDOUT, preexec_fn=_die_with_test_process)
    try:
        deadline = time.time() + 30
        while True:
            try:
                status, body = http_get(port, "/readyz")
            except OSError:
                status, body = None, ""
            if status == 200:
                break
            assert p.poll() is None, (tmp_path / "stdout").read_text()
            assert time.time() < deadline, (status, body)
            time.sleep(0.2)
        assert http_get(port, "/livez")[0] == 200
        assert http_get(port, "/RPC2")[0] == 401
        assert http_get(port, "/", auth="admin:secret")[0] == 200
        info = rpc_proxy(tmp_path / "supervisor.sock").supervisor.getAllProcessInfo()
        states = {f"{i['group']}:{i['name']}": i["statename"] for i in info}
        assert states["web:web"] == "RUNNING" and states["worker:worker_1"] == "RUNNING"
        while "worker_1 | working" not in (tmp_path / "stdout").read_text():
            assert time.time() < deadline
            time.sleep(0.2)
        text = (tmp_path / "stdout").read_text()
        assert re.search(r"^web \| serving$", text, re.M), text
        assert re.search(r"^worker_0 \| working$", text, re.M), text
        assert re.search(r"^worker_1 \| working$", text, re.M), text
        p.send_signal(signal.SIGTERM)
        assert p.wait(timeout=30) == 0
    finally:
        if p.poll() is None:
            p.kill()
            p.wait(timeout=10)
        out.close()


def test_kubernetes_example():
    import yaml

    docs = list(yaml.safe_load_all((ROOT / "examples/kubernetes/pod.yaml").read_text()))
    by_kind = {d["kind"]: d for d in docs}
    assert set(by_kind) == {"Secret", "Pod"}
    pod = by_kind["Pod"]
    assert pod["apiVersion"] == "v1"
    spec = pod["spec"]
    assert spec["restartPolicy"] == "Always"
    (c,) = spec["containers"]
    assert c["image"] == "supervisor-rs:latest"
    ports = {p["name"]: p["containerPort"] for p in c["ports"]}
    conf = (ROOT / "examples/container/supervisord.conf").read_text()
    assert re.search(rf"^port=\*:{ports['supervisor']}\b", conf, re.M), ports
    assert c["livenessProbe"]["httpGet"] == {"path": "/livez", "port": "supervisor"}
    assert c["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "supervisor"}
    assert re.search(r"^health_auth\s*=\s*false", conf, re.M), "the probes carry no password"
    env = {e["name"]: e for e in c["env"]}
    ref = env["SUPERVISOR_PASSWORD"]["valueFrom"]["secretKeyRef"]
    assert ref["name"] == by_kind["Secret"]["metadata"]["name"]
    assert ref["key"] in by_kind["Secret"]["stringData"]
    # enough time for the ordered stop: every stopwaitsecs of the config, with room
    waits = sum(int(w) for w in re.findall(r"^stopwaitsecs=(\d+)", conf, re.M))
    assert spec["terminationGracePeriodSeconds"] > max(waits, 10) * 2


def test_nomad_example():
    import hcl2

    def unq(v):
        return v.strip('"') if isinstance(v, str) else v

    job = hcl2.loads((ROOT / "examples/nomad/supervisor-rs.nomad.hcl").read_text())
    ((name, body),) = job["job"][0].items()
    assert unq(name) == "supervisor-rs" and unq(body["type"]) == "service"
    ((_, group),) = body["group"][0].items()
    ((port_name, port),) = group["network"][0]["port"][0].items()
    conf = (ROOT / "examples/container/supervisord.conf").read_text()
    assert re.search(rf"^port=\*:{port['to']}\b", conf, re.M)
    svc = group["service"][0]
    assert unq(svc["port"]) == unq(port_name)
    checks = {unq(c["name"]): c for c in svc["check"]}
    assert unq(checks["alive"]["path"]) == "/livez" and unq(checks["alive"]["type"]) == "http"
    assert unq(checks["ready"]["path"]) == "/readyz" and unq(checks["ready"]["type"]) == "http"
    assert checks["alive"]["check_restart"][0]["limit"] >= 1
    ((_, task),) = group["task"][0].items()
    assert unq(task["driver"]) == "docker"
    cfg = task["config"][0]
    assert unq(cfg["image"]) == "supervisor-rs:latest"
    assert [unq(p) for p in cfg["ports"]] == [unq(port_name)]
    assert "SUPERVISOR_PASSWORD" in task["env"][0]
    assert unq(task["kill_signal"]) == "SIGTERM"
    assert int(unq(task["kill_timeout"]).rstrip("s")) >= 30
