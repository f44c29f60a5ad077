"""The `/events` Server-Sent Events stream (beyond the reference, so ours only): the same
events listeners get, as one JSON object per event (see docs/events.md)."""

import json

import pytest

from conftest import UnixStreamHTTPConnection

def read_sse_item(resp):
    """Reads one SSE item (up to its blank line) as a dict of field -> value."""
    item = {}
    while True:
        line = resp.fp.readline()
        assert line, "stream closed"
        line = line.decode().rstrip("\n")
        if line == "":
            if item:
                return item
            continue
        if line.startswith(":"):
            continue  # keep-alive comment
        key, _, value = line.partition(":")
        item[key] = value[1:] if value.startswith(" ") else value


def test_events_stream_carries_remote_events(make_daemon):
    daemon = make_daemon("rust", "")
    conn = UnixStreamHTTPConnection(str(daemon.sock), timeout=10)
    try:
        conn.request("GET", "/events?events=REMOTE_COMMUNICATION")
        resp = conn.getresponse()
        assert resp.status == 200
        assert resp.getheader("Content-Type", "").startswith("text/event-stream")
        daemon.rpc().supervisor.sendRemoteCommEvent("mytype", "line 1\nline 2")
        item = read_sse_item(resp)
        assert item["event"] == "REMOTE_COMMUNICATION"
        assert int(item["id"]) >= 1
        data = json.loads(item["data"])
        assert data["eventname"] == "REMOTE_COMMUNICATION"
        assert isinstance(data["serial"], int)
        assert data["payload"] == {"type": "mytype", "data": "line 1\nline 2"}
    finally:
        conn.close()
