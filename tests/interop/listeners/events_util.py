"""Helpers shared by the event tests: the recording listener and reading what it recorded."""

import json
import os
import re
import sys
import time
from pathlib import Path

import pytest

LISTENERS = Path(__file__).resolve().parent
RECORDER = LISTENERS / "recorder.py"
PY = sys.executable
ROOT = Path(__file__).resolve().parents[3]
VENV_BIN = Path(os.environ.get("SUPERVISOR_RS_VENV", ROOT / ".venv")) / "bin"

IMPLS = ["python", "rust"]


def read_records(path):
    try:
        text = Path(path).read_text()
    except FileNotFoundError:
        return []
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def wait_records(daemon, path, predicate, timeout=15, what="records"):
    """Waits until predicate(records) is true; returns the records."""
    deadline = time.time() + timeout
    records = []
    while time.time() < deadline:
        records = read_records(path)
        if predicate(records):
            return records
        time.sleep(0.05)
    names = [r["headers"]["eventname"] for r in records]
    raise AssertionError(
        f"timed out waiting for {what}; recorded {names}\nlog:\n{daemon.mainlog()[-3000:]}"
    )


def normalize(payload):
    """Replaces the values that differ between runs (pids, times)."""
    payload = re.sub(r"pid:\d+", "pid:N", payload)
    return re.sub(r"when:\d+", "when:N", payload)


def listener_section(name, out, events, extra=""):
    return f"""
[eventlistener:{name}]
command={PY} {RECORDER} {out}
events={events}
stderr_logfile={Path(out).parent / (name + '.err')}
{extra}
"""
