"""environment_file= (issue 15 item 6) with real children.

The dotenv format (quotes, escapes, comments, `export`), optional `-` files, the order
(daemon environment < [supervisord] files < program files < environment= keys), read at
every spawn (a changed file applies on the next restart without `update`), a missing
required file or a bad line as a spawn error naming file and line, and the same config
under the reference.
"""

import textwrap

ENV = textwrap.dedent("""\
    # the app's settings
    export PLAIN=value
    SINGLE='literal $HOME \\n'
    DOUBLE="two\\nlines \\"q\\" \\$x"
    TRAIL=word   # a comment
    HASH=a#b
    SHARED=from-program-file
    OVERRIDDEN=from-file
    FROM_DAEMON=from-file
    """)


def read_env(path):
    data = path.read_bytes()
    return dict(item.split("=", 1) for item in data.decode().split("\0") if "=" in item)


def body(tmp_path, extra=""):
    out = tmp_path / "env.out"
    return out, f"""
        [program:app]
        command=/bin/sh -c 'env -0 > {out}.tmp && mv {out}.tmp {out}; exec sleep 1000'
        startsecs=0
        environment_file={tmp_path}/app.env, -{tmp_path}/missing.env
        environment=OVERRIDDEN=from-key
        {extra}
        """


def test_quotes_comments_order_and_reread_on_restart(make_daemon, tmp_path, monkeypatch):
    (tmp_path / "app.env").write_text(ENV)
    monkeypatch.setenv("FROM_DAEMON", "daemon")
    monkeypatch.setenv("DAEMON_ONLY", "daemon")
    out, prog = body(tmp_path)
    d = make_daemon("rust", prog)
    d.wait_for(out.exists, timeout=10, what="env written")
    env = read_env(out)
    assert env["PLAIN"] == "value"
    assert env["SINGLE"] == "literal $HOME \\n"
    assert env["DOUBLE"] == 'two\nlines "q" $x'
    assert env["TRAIL"] == "word"
    assert env["HASH"] == "a#b"
    assert env["OVERRIDDEN"] == "from-key"          # environment= wins over the file
    assert env["FROM_DAEMON"] == "from-file"        # the file wins over the daemon's env
    assert env["DAEMON_ONLY"] == "daemon"
    assert env["SUPERVISOR_PROCESS_NAME"] == "app"
    # the file is read at every spawn: a change applies on restart, without update
    (tmp_path / "app.env").write_text(ENV.replace("PLAIN=value", "PLAIN=changed"))
    out.unlink()
    r = d.ctl("restart", "app")
    assert r.returncode == 0, r
    d.wait_for(out.exists, timeout=10, what="env rewritten")
    assert read_env(out)["PLAIN"] == "changed"


def test_supervisord_environment_file_comes_first(make_daemon, tmp_path):
    (tmp_path / "app.env").write_text(ENV)
    (tmp_path / "global.env").write_text("SHARED=from-global\nGLOBAL_ONLY='g'\n")
    out, prog = body(tmp_path)
    d = make_daemon("rust", prog)
    d.stop()
    # add [supervisord] environment_file= to the generated config and start again
    text = d.conf.read_text().replace(
        "[supervisord]\n", f"[supervisord]\nenvironment_file={tmp_path}/global.env\n", 1)
    d.conf.write_text(text)
    out.unlink()
    d.start()
    d.wait_for(out.exists, timeout=10, what="env written")
    env = read_env(out)
    assert env["GLOBAL_ONLY"] == "g"
    assert env["SHARED"] == "from-program-file"     # the program's file comes later
    ext = d.rpc().supervisor_rs.getAllConfigExtensions()
    assert ext[0]["environment_file"] == [
        f"{tmp_path}/global.env", f"{tmp_path}/app.env", f"-{tmp_path}/missing.env"]


def test_missing_required_file_and_bad_line_are_spawn_errors(make_daemon, tmp_path):
    (tmp_path / "bad.env").write_text("GOOD=1\n# fine\nthis is not an assignment\n")
    d = make_daemon("rust", f"""
        [program:missing]
        command=/bin/sleep 1000
        startretries=0
        environment_file={tmp_path}/nope.env

        [program:bad]
        command=/bin/sleep 1000
        startretries=0
        environment_file={tmp_path}/bad.env
        """)
    d.wait_state("missing", "FATAL", timeout=10)
    d.wait_state("bad", "FATAL", timeout=10)
    rpc = d.rpc()
    want = f"couldn't read environment file {tmp_path}/nope.env: No such file or directory"
    assert rpc.supervisor.getProcessInfo("missing")["spawnerr"] == want
    err = rpc.supervisor.getProcessInfo("bad")["spawnerr"]
    assert err.startswith(f"{tmp_path}/bad.env, line 3: expected KEY=VALUE"), err
    log = d.mainlog()
    assert f"spawnerr: {want}" in log
    # supervisorctl start reports the spawn error
    (tmp_path / "bad.env").write_text("GOOD=1\n")
    r = d.ctl("start", "bad")
    assert "bad: started" in r.stdout, r


def test_the_same_config_loads_under_the_reference(make_daemon, tmp_path):
    (tmp_path / "app.env").write_text(ENV)
    out, prog = body(tmp_path)
    d = make_daemon("python", prog)
    d.wait_for(out.exists, timeout=10, what="env written by the reference's child")
    env = read_env(out)
    assert "PLAIN" not in env            # the reference ignores the key
    assert env["OVERRIDDEN"] == "from-key"


def test_check_config_reads_the_files(tmp_path):
    import subprocess
    from conftest import IMPLS
    (tmp_path / "bad.env").write_text("A=1\nnot an assignment\n")
    (tmp_path / "good.env").write_text("A=1\n")
    conf = tmp_path / "c.conf"
    conf.write_text(f"[supervisord]\nlogfile={tmp_path}/m.log\n"
                    f"environment_file={tmp_path}/good.env\n\n"
                    f"[program:a]\ncommand=/bin/true\n"
                    f"environment_file={tmp_path}/bad.env, -{tmp_path}/none.env\n\n"
                    f"[program:b]\ncommand=/bin/true\nenvironment_file={tmp_path}/none.env\n")
    r = subprocess.run([str(IMPLS["rust"] / "supervisord"), "--check-config", "-c", str(conf)],
                       capture_output=True, text=True, timeout=20)
    assert r.returncode == 2, r
    assert (f"{conf}:7: error: environment_file of section 'program:a': "
            f"{tmp_path}/bad.env, line 2: expected KEY=VALUE") in r.stdout, r.stdout
    assert (f"{conf}:11: error: environment_file of section 'program:b': couldn't read "
            f"environment file {tmp_path}/none.env: No such file or directory") in r.stdout, r.stdout
    assert "good.env" not in r.stdout
