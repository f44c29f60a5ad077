"""Our `echo_supervisord_conf` prints a sample that the Python reference accepts, with the
same keys and example values as the reference's own sample (the comments are ours)."""

import re
import subprocess
import sys

from conftest import PY_BIN, RUST_BIN, ROOT


def run(cmd, **kw):
    return subprocess.run(cmd, capture_output=True, text=True, timeout=60, **kw)


def key_lines(text):
    """`key=value` of every (commented or not) setting line, comments stripped."""
    out = []
    for line in text.splitlines():
        m = re.match(r"^;?([a-z_.]+)\s*=\s*(\S+)", line)
        if m:
            out.append((m.group(1), m.group(2)))
    return out


def test_echo_supervisord_conf_exits_zero_and_prints_sample():
    ours = run([str(RUST_BIN / "echo_supervisord_conf")])
    assert ours.returncode == 0
    assert ours.stderr == ""
    assert ours.stdout.startswith(";")
    assert "[supervisord]" in ours.stdout


def test_reference_accepts_our_sample(tmp_path):
    ours = run([str(RUST_BIN / "echo_supervisord_conf")]).stdout
    conf = tmp_path / "supervisord.conf"
    conf.write_text(ours)
    dump = run([str(PY_BIN / "python"), str(ROOT / "scripts" / "ref_config_dump.py"), str(conf)])
    assert dump.returncode == 0, dump.stderr
    assert '"ok": true' in dump.stdout, dump.stdout


def test_same_settings_as_reference_sample_in_order():
    ours = key_lines(run([str(RUST_BIN / "echo_supervisord_conf")]).stdout)
    ref = key_lines(run([str(PY_BIN / "echo_supervisord_conf")]).stdout)
    # every reference setting appears in ours, same value, same relative order
    pos = 0
    for item in ref:
        assert item in ours[pos:], "missing or out of order: %r" % (item,)
        pos = ours.index(item, pos) + 1


def test_comments_are_our_own():
    ours = run([str(RUST_BIN / "echo_supervisord_conf")]).stdout
    ref = run([str(PY_BIN / "echo_supervisord_conf")]).stdout
    ref_comments = {c.strip() for c in re.findall(r";([^=\n]{25,})$", ref, re.M)}
    our_comments = {c.strip() for c in re.findall(r";([^=\n]{25,})$", ours, re.M)}
    shared = {c for c in ref_comments & our_comments if not c.startswith("[")}
    assert not shared
