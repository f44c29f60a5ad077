//! The sample configuration printed by `echo_supervisord_conf`.
//!
//! It has the reference sample's layout (the same sections, keys, order and example values,
//! so scripts that grep or `sed` it keep working), with comments written for supervisor-rs.
//! Both our parser and Python Supervisor accept it (tested).

/// The complete sample `supervisord.conf`.
pub const SAMPLE_CONF: &str = r#"; supervisor-rs sample configuration (supervisord.conf).
;
; Syntax reminders:
;  - There is no shell expansion: neither "~" nor "$HOME" work in values.
;    Use the "%(ENV_HOME)s" form to insert an environment variable.
;  - Values are taken literally; quotes only have a meaning inside
;    environment= settings (and, shell-style, inside command=).
;  - A comment after a value needs whitespace before it: "a=b ;note", never
;    "a=b;note" (that keeps ";note" as part of the value).
;  - A " ;" or " #" inside command= starts a comment even within quotes:
;    "command=bash -c 'foo ; bar'" becomes "command=bash -c 'foo".
;
; Paths below use /tmp so the file works anywhere as it is.  Pick durable
; locations for a real deployment: /tmp may be cleaned periodically, and a
; removed socket file leaves supervisorctl unable to reach supervisord.

[unix_http_server]
file=/tmp/supervisor.sock   ; where the control socket is created
;chmod=0700                 ; permission bits of the socket file (default 0700)
;chown=nobody:nogroup       ; owner user[:group] of the socket file
;username=user              ; require this user name (default: no auth)
;password=123               ; and this password, clear or {SHA}hex (default: none)

; The TCP server below is off until you uncomment it.  It speaks plain HTTP
; without encryption and, unless username/password are set, without any
; authentication: bind it to 127.0.0.1 or a private, trusted network only,
; and never make it reachable from the internet.

;[inet_http_server]         ; TCP server (off by default)
;port=127.0.0.1:9001        ; host:port to listen on; *:port = every interface
;username=user              ; require this user name (default: no auth)
;password=123               ; and this password (default: none)

[supervisord]
logfile=/tmp/supervisord.log ; main log (default: $CWD/supervisord.log)
logfile_maxbytes=50MB        ; rotate the main log at this size (default 50MB)
logfile_backups=10           ; rotated copies to keep, 0 = none (default 10)
loglevel=info                ; critical/error/warn/info/debug/trace/blather (default info)
pidfile=/tmp/supervisord.pid ; pid file (default: $CWD/supervisord.pid)
nodaemon=false               ; true = stay in the foreground (default false)
silent=false                 ; true = no log echo on stdout in foreground (default false)
minfds=1024                  ; file descriptors needed to start (default 1024)
minprocs=200                 ; processes needed to start (default 200)
;umask=022                   ; umask when daemonized (default 022)
;user=supervisord            ; account to switch to at start (when started as root)
;identifier=supervisor       ; name reported over RPC (default supervisor)
;directory=/tmp              ; chdir here when daemonized (default: no chdir)
;nocleanup=true              ; keep old AUTO child logs at start (default false)
;childlogdir=/tmp            ; directory of AUTO child logs (default: $TMPDIR or /tmp)
;environment=KEY="value"     ; variables added to every child's environment
;strip_ansi=false            ; remove ANSI escapes from child logs (default false)

; supervisorctl and the web UI talk to supervisord through the interface
; declared here; keep this section.  Other [rpcinterface:x] sections may be
; added next to it.

[rpcinterface:supervisor]
supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface

; How supervisorctl reaches supervisord: point serverurl at the socket of
; [unix_http_server] or at the address of [inet_http_server].

[supervisorctl]
serverurl=unix:///tmp/supervisor.sock ; unix:// URL of the control socket
;serverurl=http://127.0.0.1:9001 ; or the http:// URL of the TCP server
;username=chris              ; same as the server's username, if it has one
;password=123                ; same as the server's password, if it has one
;prompt=mysupervisor         ; interactive prompt (default "supervisor")
;history_file=~/.sc_history  ; keep command history in this file

; Every key a [program:x] section understands, with its default.  Add one
; section per program you want supervised.

;[program:theprogramname]
;command=/bin/cat              ; what to run (searched in PATH unless absolute; args allowed)
;process_name=%(program_name)s ; name of each process (default %(program_name)s)
;numprocs=1                    ; how many copies to run (default 1)
;numprocs_start=0              ; first %(process_num)s value (default 0)
;directory=/tmp                ; chdir here before exec (default: no chdir)
;umask=022                     ; umask of the process (default: inherited)
;priority=999                  ; start order, lower starts first (default 999)
;autostart=true                ; start when supervisord starts (default true)
;startsecs=1                   ; seconds up before it counts as started (default 1)
;startretries=3                ; failed starts before FATAL (default 3)
;autorestart=unexpected        ; restart after exit: true/false/unexpected (default unexpected)
;exitcodes=0                   ; exit codes that count as expected (default 0)
;stopsignal=QUIT               ; signal sent to stop it (default TERM)
;stopwaitsecs=10               ; seconds to wait before SIGKILL (default 10)
;stopasgroup=false             ; signal the whole process group on stop (default false)
;killasgroup=false             ; SIGKILL the whole process group (default false)
;user=chrism                   ; account to run the program as
;redirect_stderr=true          ; merge stderr into stdout (default false)
;stdout_logfile=/a/path        ; stdout log file, NONE = no log (default AUTO)
;stdout_logfile_maxbytes=1MB   ; rotate at this size, 0 = never (default 50MB)
;stdout_logfile_backups=10     ; rotated copies to keep, 0 = none (default 10)
;stdout_capture_maxbytes=1MB   ; capture-mode buffer size, 0 = off (default 0)
;stdout_events_enabled=false   ; emit PROCESS_LOG_STDOUT events (default false)
;stdout_syslog=false           ; copy stdout lines to syslog (default false)
;stderr_logfile=/a/path        ; stderr log file, NONE = no log (default AUTO)
;stderr_logfile_maxbytes=1MB   ; rotate at this size, 0 = never (default 50MB)
;stderr_logfile_backups=10     ; rotated copies to keep, 0 = none (default 10)
;stderr_capture_maxbytes=1MB   ; capture-mode buffer size, 0 = off (default 0)
;stderr_events_enabled=false   ; emit PROCESS_LOG_STDERR events (default false)
;stderr_syslog=false           ; copy stderr lines to syslog (default false)
;environment=A="1",B="2"       ; variables added to the environment (default: none)
;serverurl=AUTO                ; SUPERVISOR_SERVER_URL given to the child (default AUTO)

; Every key an [eventlistener:x] section understands.  A listener reads
; event notifications on stdin and answers on stdout.

;[eventlistener:theeventlistenername]
;command=/bin/eventlistener    ; what to run (searched in PATH unless absolute; args allowed)
;process_name=%(program_name)s ; name of each process (default %(program_name)s)
;numprocs=1                    ; how many copies to run (default 1)
;numprocs_start=0              ; first %(process_num)s value (default 0)
;events=EVENT                  ; event types to subscribe to (required)
;buffer_size=10                ; events queued per pool (default 10)
;directory=/tmp                ; chdir here before exec (default: no chdir)
;umask=022                     ; umask of the process (default: inherited)
;priority=-1                   ; start order, lower starts first (default -1)
;autostart=true                ; start when supervisord starts (default true)
;startsecs=1                   ; seconds up before it counts as started (default 1)
;startretries=3                ; failed starts before FATAL (default 3)
;autorestart=unexpected        ; restart after exit: true/false/unexpected (default unexpected)
;exitcodes=0                   ; exit codes that count as expected (default 0)
;stopsignal=QUIT               ; signal sent to stop it (default TERM)
;stopwaitsecs=10               ; seconds to wait before SIGKILL (default 10)
;stopasgroup=false             ; signal the whole process group on stop (default false)
;killasgroup=false             ; SIGKILL the whole process group (default false)
;user=chrism                   ; account to run the listener as
;redirect_stderr=false         ; must stay false: stdout carries the protocol
;stdout_logfile=/a/path        ; stdout log file, NONE = no log (default AUTO)
;stdout_logfile_maxbytes=1MB   ; rotate at this size, 0 = never (default 50MB)
;stdout_logfile_backups=10     ; rotated copies to keep, 0 = none (default 10)
;stdout_events_enabled=false   ; emit PROCESS_LOG_STDOUT events (default false)
;stdout_syslog=false           ; copy stdout lines to syslog (default false)
;stderr_logfile=/a/path        ; stderr log file, NONE = no log (default AUTO)
;stderr_logfile_maxbytes=1MB   ; rotate at this size, 0 = never (default 50MB)
;stderr_logfile_backups=10     ; rotated copies to keep, 0 = none (default 10)
;stderr_events_enabled=false   ; emit PROCESS_LOG_STDERR events (default false)
;stderr_syslog=false           ; copy stderr lines to syslog (default false)
;environment=A="1",B="2"       ; variables added to the environment (default: none)
;serverurl=AUTO                ; SUPERVISOR_SERVER_URL given to the child (default AUTO)

; A [group:x] section gathers programs into one "heterogeneous" group that
; is started, stopped and updated together.

;[group:thegroupname]
;programs=progname1,progname2  ; names x of [program:x] sections
;priority=999                  ; start order of the group (default 999)

; An [fcgi-program:x] section takes every [program:x] key plus these: the
; socket is opened by supervisord and handed to each process as its stdin.

;[fcgi-program:thefcgiprogramname]
;command=/usr/bin/php-cgi      ; what to run
;socket=unix:///tmp/%(program_name)s.sock ; tcp://host:port or unix:///absolute/path (required)
;socket_backlog=1024           ; listen() backlog (default: the system's SOMAXCONN)
;socket_owner=chrism           ; owner user[:group] of a unix socket
;socket_mode=0700              ; permission bits of a unix socket (default 0700)
;process_name=%(program_name)s_%(process_num)02d ; needs %(process_num) when numprocs > 1
;numprocs=1                    ; how many copies share the socket (default 1)

; [include] has one key, files: whitespace- or newline-separated glob
; patterns, relative to the directory of this file.  Files read this way
; cannot include further files.

;[include]
;files = relative/directory/*.ini
"#;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sample_has_every_section_and_ends_with_newline() {
        for s in [
            "[unix_http_server]",
            ";[inet_http_server]",
            "[supervisord]",
            "[rpcinterface:supervisor]",
            "[supervisorctl]",
            ";[program:theprogramname]",
            ";[eventlistener:theeventlistenername]",
            ";[group:thegroupname]",
            ";[include]",
        ] {
            assert!(SAMPLE_CONF.contains(s), "{s}");
        }
        assert!(SAMPLE_CONF.ends_with("*.ini\n"));
    }
}
