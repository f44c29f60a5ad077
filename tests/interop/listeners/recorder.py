#!/usr/bin/env python3
"""A recording event listener for the interop tests.

Usage: recorder.py OUTFILE

Speaks the listener protocol on stdin/stdout and appends one JSON line per event received
to OUTFILE: {"headers": {...}, "payload": "...", "reply": "..."}. `len:` is counted in
characters, as the reference writes it and as text-mode listeners (superlance) read it.

Behaviour can be steered with REMOTE_COMMUNICATION events (supervisor.sendRemoteCommEvent).
Each applies only the first time a serial is seen (OUTFILE is the memory, so this holds
across restarts of the listener); a redelivered event is answered OK:
  type "fail-once": answer FAIL
  type "die":       exit(1) without answering (the listener dies while BUSY)
  type "garbage":   answer with "garbage\n" instead of a RESULT line
  type "slow":      sleep float(data) seconds before answering OK

On SIGTERM it finishes what is already in its stdin pipe, then exits 0.
"""

import codecs
import json
import os
import select
import signal
import sys
import time

STOP = False


def on_term(signum, frame):
    global STOP
    STOP = True


def main():
    out_path = sys.argv[1]
    signal.signal(signal.SIGTERM, on_term)
    fd_in = sys.stdin.fileno()
    out = sys.stdout.buffer
    raw = b""
    seen = set()
    try:
        with open(out_path) as f:
            for line in f:
                if line.strip():
                    seen.add(json.loads(line)["headers"]["serial"])
    except FileNotFoundError:
        pass
    decoder = codecs.getincrementaldecoder("utf-8")()

    def read_some(timeout):
        nonlocal raw
        ready, _, _ = select.select([fd_in], [], [], timeout)
        if not ready:
            return False
        chunk = os.read(fd_in, 65536)
        if not chunk:
            sys.exit(0)  # stdin closed
        raw += chunk
        return True

    def write(data):
        out.write(data)
        out.flush()

    write(b"READY\n")
    while True:
        # header line
        while b"\n" not in raw:
            if not read_some(0.3) and STOP:
                sys.exit(0)
        line, raw = raw.split(b"\n", 1)
        headers = dict(token.split(":", 1) for token in line.decode().split())
        want = int(headers["len"])
        # payload: `want` characters
        payload = ""
        decoder.reset()
        while len(payload) < want:
            if not raw:
                read_some(1.0)
                continue
            # feed byte by byte so we stop exactly after `want` characters
            payload += decoder.decode(raw[:1])
            raw = raw[1:]
        record = {"headers": headers, "payload": payload, "time": time.time()}
        kind = headers["eventname"]
        reply = b"RESULT 2\nOK"
        rtype = data = None
        if kind == "REMOTE_COMMUNICATION" and headers["serial"] not in seen:
            rtype = payload.split("\n", 1)[0][len("type:"):]
            data = payload.split("\n", 1)[1] if "\n" in payload else ""
            if rtype == "fail-once":
                reply = b"RESULT 4\nFAIL"
            elif rtype == "die":
                reply = None
            elif rtype == "garbage":
                reply = b"garbage\n"
        seen.add(headers["serial"])
        record["reply"] = reply.decode() if reply is not None else None
        with open(out_path, "a") as f:
            f.write(json.dumps(record) + "\n")
        if kind == "REMOTE_COMMUNICATION" and rtype == "slow" and reply is not None:
            time.sleep(float(data))
        if reply is None:
            os._exit(1)
        write(reply)
        if reply.startswith(b"RESULT"):
            write(b"READY\n")


if __name__ == "__main__":
    main()
