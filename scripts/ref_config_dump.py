#!/usr/bin/env python3
"""Dump how the reference (Python Supervisor 4.3) reads a supervisord.conf, as JSON.

Usage: ref_config_dump.py CONFIG
       ref_config_dump.py --batch   (stdin: JSON lines {"path": ..., "env": {...}};
                                     each config is read with exactly that environment)

Prints one JSON object per config on stdout: {"ok": true, ...expanded options...} or
{"ok": false, "error": "<the message supervisord prints after 'Error: '>"}.
The Rust differential test (crates/config/tests/differential.rs) produces the same shape
from our model and compares the two.

Normalisations (documented differences of our model, not of behaviour):
* counts and sizes that the reference accepts negative and treats like 0 are clamped to 0;
* event names of a listener pool are sorted (the reference keeps them in a set);
* only the first [unix_http_server*] section is reported (our model keeps one);
* an empty child log file name (which logs nothing) is reported like NONE.
"""
import json
import os
import socket
import sys
import tempfile

from supervisor import datatypes
from supervisor.events import getEventNameByType
from supervisor.options import ServerOptions


class UsageError(Exception):
    pass


def clamp(v):
    return max(0, v) if isinstance(v, int) else v


def logfile(v):
    if v is datatypes.Automatic:
        return "AUTO"
    if v is None or v == "":
        return None  # an empty name logs nothing, like NONE
    if v is datatypes.Syslog:
        return "SYSLOG"
    return v


def autorestart(v):
    if v is datatypes.RestartUnconditionally:
        return "true"
    if v is datatypes.RestartWhenExitUnexpected:
        return "unexpected"
    return "false"


def process(p):
    d = {
        "name": p.name,
        "command": p.command,
        "directory": p.directory,
        "umask": p.umask,
        "priority": p.priority,
        "autostart": p.autostart,
        "autorestart": autorestart(p.autorestart),
        "startsecs": clamp(p.startsecs),
        "startretries": clamp(p.startretries),
        "uid": p.uid,
        "stopsignal": p.stopsignal,
        "stopwaitsecs": clamp(p.stopwaitsecs),
        "stopasgroup": p.stopasgroup,
        "killasgroup": p.killasgroup,
        "exitcodes": list(p.exitcodes),
        "redirect_stderr": p.redirect_stderr,
        "environment": [[k, v] for k, v in (p.environment or {}).items()],
        "serverurl": p.serverurl,
    }
    for ch in ("stdout", "stderr"):
        d[ch + "_logfile"] = logfile(getattr(p, ch + "_logfile"))
        d[ch + "_logfile_maxbytes"] = clamp(getattr(p, ch + "_logfile_maxbytes"))
        d[ch + "_logfile_backups"] = clamp(getattr(p, ch + "_logfile_backups"))
        d[ch + "_capture_maxbytes"] = clamp(getattr(p, ch + "_capture_maxbytes"))
        d[ch + "_events_enabled"] = getattr(p, ch + "_events_enabled")
        d[ch + "_syslog"] = getattr(p, ch + "_syslog")
    return d


def group(g):
    d = {"name": g.name, "priority": g.priority, "kind": "program", "processes": [process(p) for p in g.process_configs]}
    cls = type(g).__name__
    if cls == "EventListenerPoolConfig":
        d["kind"] = "eventlistener"
        d["events"] = sorted(getEventNameByType(e) for e in g.pool_events)
        d["buffer_size"] = g.buffer_size
        d["result_handler"] = "%s:%s" % (g.result_handler.__module__, g.result_handler.__name__)
    elif cls == "FastCGIGroupConfig":
        s = g.socket_config
        d["kind"] = "fcgi"
        d["socket"] = {
            "url": s.url,
            "backlog": s.backlog,
            "owner": list(s.owner) if getattr(s, "owner", None) else None,
            "mode": getattr(s, "mode", None),
        }
    return d


def dump(path):
    tempfile.tempdir = None  # gettempdir() caches; the environment may have changed
    opts = ServerOptions()

    def usage(msg):
        raise UsageError(str(msg))

    opts.usage = usage
    try:
        opts.realize(args=["-c", path])
    except UsageError as e:
        return {"ok": False, "error": str(e)}
    s = opts.configroot.supervisord
    servers = []
    unix_seen = False
    for c in opts.server_configs:
        if c["family"] == socket.AF_UNIX:
            if unix_seen:
                continue
            unix_seen = True
            servers.append({
                "section": c["section"], "family": "unix", "file": c["file"],
                "chmod": c["chmod"], "chown": [x & 0xFFFFFFFF for x in c["chown"]] if c["chown"] != (-1, -1) else None,
                "username": c["username"], "password": c["password"],
            })
        else:
            servers.append({
                "section": c["section"], "family": "inet", "host": c["host"], "port": c["port"],
                "username": c["username"], "password": c["password"],
            })
    out = {
        "ok": True,
        "supervisord": {
            "logfile": opts.logfile,
            "logfile_maxbytes": clamp(opts.logfile_maxbytes),
            "logfile_backups": clamp(opts.logfile_backups),
            "loglevel": opts.loglevel,
            "pidfile": opts.pidfile,
            "umask": opts.umask,
            "nodaemon": bool(opts.nodaemon),
            "silent": bool(opts.silent),
            "minfds": clamp(opts.minfds),
            "minprocs": clamp(opts.minprocs),
            "nocleanup": bool(opts.nocleanup),
            "childlogdir": opts.childlogdir,
            "user": opts.user,
            "directory": opts.directory,
            "strip_ansi": bool(opts.strip_ansi),
            "environment": [[k, v] for k, v in s.environment.items()],
            "identifier": opts.identifier,
        },
        "servers": servers,
        "rpcinterfaces": [
            {"name": name, "extra": [[k, v] for k, v in extras.items()]}
            for name, factory, extras in opts.rpcinterface_factories
        ],
        "groups": [group(g) for g in opts.process_group_configs],
        "warnings": list(opts.parse_warnings),
        "infos": list(opts.parse_infos),
    }
    return out


def main():
    if sys.argv[1:] == ["--batch"]:
        for line in sys.stdin:
            if not line.strip():
                continue
            req = json.loads(line)
            os.environ.clear()
            os.environ.update(req["env"])
            try:
                out = dump(req["path"])
            except Exception as e:  # a crash of the reference is reported, not hidden
                out = {"ok": False, "error": "REFERENCE CRASHED: %s: %s" % (type(e).__name__, e)}
            print(json.dumps(out, sort_keys=True), flush=True)
    else:
        print(json.dumps(dump(sys.argv[1]), sort_keys=True))


if __name__ == "__main__":
    main()
