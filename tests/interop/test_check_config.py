"""`supervisord --check-config` findings against the reference.

The reference has no `--check-config`. Everything our check reports as a warning (unknown keys
and sections, a section defined twice in one file and across an include, an include pattern
without a match) and the header missing its `]` (an error in our check) are accepted silently
by Python supervisord: these tests start the reference on such configs and show that it loads
them, and that we load them into the same programs (the same merge of repeated sections, the
same "header without `]` is a key" reading). Our normal start only adds lines to the main log:
the reference's start-up lines are all there, in the same order.
"""

import json
import re
import subprocess

from conftest import IMPLS

FINDINGS_BODY = """
[program:web]
command=sleep 101
autorestrat=true
stdout_logfle=/tmp/never-used.log
autostart=false

[program:web]
command=sleep 102

[prgram:ghost]
command=sleep 103

[program:inc]
command=sleep 104
autostart=false

[include]
files=inc.d/*.ini nothing-here/*.conf
"""

INCLUDED = """[program:inc]
command=sleep 105
"""

BRACKET_BODY = """
[program:web]
command=sleep 201
autostart=false
[program:worker
command=sleep 202
"""


def config_info(daemon):
    """What the daemon made of the config: name -> (group, command, autostart)."""
    return {
        c["name"]: (c["group"], c["command"], c["autostart"])
        for c in daemon.rpc().supervisor.getAllConfigInfo()
    }


def start_both(make_daemon, body, prepare=None):
    daemons = []
    for impl in ("python", "rust"):
        d = make_daemon(impl, body, start=False)
        if prepare:
            prepare(d)
        d.start()
        daemons.append(d)
    return daemons


def check(conf, *extra):
    return subprocess.run(
        [str(IMPLS["rust"] / "supervisord"), "-c", str(conf), "--check-config", *extra],
        capture_output=True, text=True, timeout=60, cwd=str(conf.parent))


def with_include(d):
    (d.dir / "inc.d").mkdir()
    (d.dir / "inc.d" / "inc.ini").write_text(INCLUDED)


def test_reference_loads_a_config_with_warnings_the_same_way(make_daemon):
    py, rs = start_both(make_daemon, FINDINGS_BODY, with_include)
    ours, theirs = config_info(rs), config_info(py)
    assert ours == theirs
    # repeated sections merge, the later value wins (in one file and across the include)
    assert theirs["web"] == ("web", "sleep 102", False)
    assert theirs["inc"] == ("inc", "sleep 105", False)
    assert "ghost" not in theirs

    out = check(rs.conf)
    assert out.returncode == 1, out.stdout + out.stderr
    conf = str(rs.conf)
    lines = out.stdout.splitlines()
    for want in [
        f"{conf}:22: warning: unknown key 'autorestrat' in section 'program:web'; "
        "did you mean 'autorestart'?",
        f"{conf}:23: warning: unknown key 'stdout_logfle' in section 'program:web'; "
        "did you mean 'stdout_logfile'?",
        f"{conf}:26: warning: section 'program:web' is defined twice (first in '{conf}', "
        "line 20); the two are merged and a key set in both keeps the later value",
        f"{conf}:29: warning: unknown section 'prgram:ghost': supervisord ignores it; "
        "did you mean '[program:ghost]'?",
        f"{conf}:37: warning: [include] files pattern '{rs.dir}/nothing-here/*.conf' "
        "matches no file",
        f"{rs.dir}/inc.d/inc.ini:1: warning: section 'program:inc' is defined twice "
        f"(first in '{conf}', line 32); the two are merged and a key set in both keeps "
        "the later value",
    ]:
        assert want in lines, f"{want}\n---\n{out.stdout}"
    assert lines[0].startswith("supervisor-rs ") and lines[0].endswith(
        " (compatible with Supervisor 4.3.0)")
    assert lines[-1] == "check: config is valid, with 8 warnings", out.stdout

    # the JSON report, read by a tool
    out = check(rs.conf, "--json")
    assert out.returncode == 1 and out.stderr == ""
    doc = json.loads(out.stdout)
    assert doc["status"] == "valid-with-warnings" and doc["exit_code"] == 1
    assert doc["config"] == conf and doc["errors"] == 0 and doc["warnings"] == 8
    first = doc["findings"][0]
    assert first == {
        "severity": "warning", "code": "unknown-key",
        "message": "unknown key 'autorestrat' in section 'program:web'",
        "file": conf, "line": 22, "section": "program:web", "key": "autorestrat",
        "suggestion": "autorestart",
    }
    assert sorted(g["name"] for g in doc["groups"]) == ["inc", "web"]


def test_header_missing_bracket_loads_like_the_reference_but_fails_the_check(make_daemon):
    py, rs = start_both(make_daemon, BRACKET_BODY)
    # the reference reads '[program:worker' as a key of [program:web]; the command that
    # follows replaces web's, and there is no program 'worker'
    assert config_info(py) == config_info(rs) == {"web": ("web", "sleep 202", False)}
    out = check(rs.conf)
    assert out.returncode == 2, out.stdout
    conf = str(rs.conf)
    assert (f"{conf}:23: error: '[program:worker' looks like a section header without its "
            "closing ']'; it is read as key '[program' of section 'program:web'"
            ) in out.stdout.splitlines(), out.stdout
    # at a normal start it is a WARN line (we never refuse to start where the reference runs)
    assert ("WARN '[program:worker' looks like a section header without its closing ']'; "
            f"it is read as key '[program' of section 'program:web' (file: '{conf}', "
            "line 23)") in rs.mainlog()


STAMP = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} ")


def startup_lines(daemon):
    """Main-log messages up to `supervisord started`, without time stamps and pids."""
    out = []
    for line in daemon.mainlog().splitlines():
        line = STAMP.sub("", line).replace(str(daemon.dir), "<dir>")
        line = re.sub(r"\d+", "N", line)
        out.append(line)
        if "supervisord started with pid" in line:
            break
    return out


def is_subsequence(small, big):
    it = iter(big)
    return all(any(x == y for y in it) for x in small)


def test_normal_start_keeps_the_reference_lines_and_adds_ours(make_daemon):
    py, rs = start_both(make_daemon, FINDINGS_BODY, with_include)
    theirs, ours = startup_lines(py), startup_lines(rs)
    assert is_subsequence(theirs, ours), f"reference:\n{theirs}\nours:\n{ours}"
    added = [line for line in ours if line not in theirs]
    assert added[0].startswith("INFO supervisor-rs N.N.N (compatible with Supervisor N.N.N)")
    assert added[1] == "INFO loaded config file <dir>/supervisord.conf"
    assert "INFO unix_http_server listening on <dir>/supervisor.sock" in added
    warns = [line for line in added if line.startswith("WARN ")]
    # one WARN per finding the reference does not log (its own include warning stays once)
    assert len(warns) == 7, added
    assert sum("No file matches via include" in line for line in ours) == 1
    assert not any(line.startswith("WARN ") for line in theirs if "include" not in line)
