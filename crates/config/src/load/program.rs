//! The per-process keys shared by `[program:x]`, `[fcgi-program:x]` and
//! `[eventlistener:x]`, and the `numprocs` expansion into process configs.

use super::*;

pub(super) fn processes_from_section(
    ld: &mut Loader<'_>,
    section: &str,
    group_name: &str,
) -> Result<Vec<ProcessConfig>, ConfigError> {
    let file = ld.file_of(section);
    processes_inner(ld, section, group_name, &file).map_err(|f| {
        let mut e = f.into_error(Some(section), Some(&file));
        if e.file.is_none() {
            e.file = Some(PathBuf::from(&file));
        }
        e
    })
}

fn logname_to_logfile(n: LogName) -> LogFile {
    match n {
        LogName::None => LogFile::None,
        LogName::Auto => LogFile::Auto,
        LogName::Syslog => LogFile::Syslog,
        // an empty path logs nothing in the reference (it only logs to truthy names)
        LogName::Path(p) if p.is_empty() => LogFile::None,
        LogName::Path(p) => LogFile::Path(PathBuf::from(p)),
    }
}

fn processes_inner(
    ld: &mut Loader<'_>,
    section: &str,
    group_name: &str,
    file: &str,
) -> SectionResult<Vec<ProcessConfig>> {
    let program_name = dt::parse_name(section_suffix(section)).map_err(Fail::msg)?;
    let mut common = Expansions::new();
    common.set_str("here", ld.here.clone());
    common.set_str("program_name", program_name.clone());
    common.set_str("host_node_name", ld.ctx.hostname.clone());
    common.set_str("group_name", group_name.to_string());
    let s = section;

    let int_key =
        |ld: &Loader<'_>, key: &str, d: i64, c: &Expansions| ld.get_int_default(s, key, d, c);
    let bool_key = |ld: &Loader<'_>, key: &str, d: &str, c: &Expansions| -> SectionResult<bool> {
        let v = ld.get_d(s, key, d, c)?;
        conv(&v, dt::parse_bool)
    };
    let narrow = |v: i64, key: &str| -> SectionResult<i32> {
        dt::int_in(v, &v.to_string()).map_err(|m| Fail {
            message: m,
            key: Some(key.to_string()),
            at: None,
        })
    };

    let priority = narrow(int_key(ld, "priority", 999, &common)?, "priority")?;
    let autostart = bool_key(ld, "autostart", "true", &common)?;
    let v = ld.get_d(s, "autorestart", "unexpected", &common)?;
    let autorestart = conv(&v, |x| {
        let l = x.to_lowercase();
        match l.as_str() {
            "yes" | "true" | "on" | "1" => Ok(AutoRestart::Always),
            "no" | "false" | "off" | "0" => Ok(AutoRestart::Never),
            "unexpected" => Ok(AutoRestart::Unexpected),
            _ => Err(format!("invalid 'autorestart' value {}", py_repr(&l))),
        }
    })?;
    let startsecs = dt::clamp_u64(int_key(ld, "startsecs", 1, &common)?);
    let startretries = int_key(ld, "startretries", 3, &common)?.clamp(0, u32::MAX as i64) as u32;
    let v = ld.get_d(s, "stopsignal", "TERM", &common)?;
    let stopsignal = conv(&v, dt::parse_signal)?;
    let stopwaitsecs = dt::clamp_u64(int_key(ld, "stopwaitsecs", 10, &common)?);
    let stopasgroup = bool_key(ld, "stopasgroup", "false", &common)?;
    let killasgroup = bool_key(
        ld,
        "killasgroup",
        if stopasgroup { "true" } else { "false" },
        &common,
    )?;
    let v = ld.get_d(s, "exitcodes", "0", &common)?;
    let exitcodes = conv(&v, dt::parse_exitcodes)?;
    let redirect_stderr = bool_key(ld, "redirect_stderr", "false", &common)?;
    let numprocs = int_key(ld, "numprocs", 1, &common)?;
    let numprocs_start = int_key(ld, "numprocs_start", 0, &common)?;
    let env_raw = ld.raw(s, "environment", "");
    let v = ld.get_d(s, "stdout_capture_maxbytes", "0", &common)?;
    let stdout_cmax = conv(&v, dt::parse_byte_size)?;
    let stdout_events = bool_key(ld, "stdout_events_enabled", "false", &common)?;
    let v = ld.get_d(s, "stderr_capture_maxbytes", "0", &common)?;
    let stderr_cmax = conv(&v, dt::parse_byte_size)?;
    let stderr_events = bool_key(ld, "stderr_events_enabled", "false", &common)?;
    let serverurl = ld.get(s, "serverurl", None, &common)?.map(|v| v.value);
    let critical = bool_key(ld, "critical", "false", &common)?;
    let serverurl = match serverurl {
        Some(u) if py_strip(&u).to_uppercase() == "AUTO" => None,
        other => other,
    };
    let user = ld.get(s, "user", None, &common)?;
    let uid = match &user {
        Some(v) => Some(conv(v, dt::name_to_uid)?),
        None => None,
    };
    let user = user.map(|v| v.value);
    let umask = match ld.get(s, "umask", None, &common)? {
        Some(v) => Some(conv(&v, dt::parse_octal)?),
        None => None,
    };
    let pn_raw = ld.raw(s, "process_name", "%(program_name)s");
    let process_name_raw = conv(&pn_raw, dt::parse_name)?;
    if numprocs > 1 && !process_name_raw.contains("%(process_num)") {
        return Err(Fail::at(
            "%(process_num) must be present within process_name when numprocs > 1",
            &pn_raw,
        ));
    }
    if stopasgroup && !killasgroup {
        return Err(Fail::msg(
            "Cannot set stopasgroup=true and killasgroup=false",
        ));
    }
    if numprocs > MAX_NUMPROCS {
        return Err(Fail::msg(format!(
            "numprocs {numprocs} is too large (at most {MAX_NUMPROCS})"
        )));
    }

    let depends_on = match ld.get(s, super::deps::KEY, None, &common)? {
        // the message names the line too (the section and file come with the suffix)
        Some(v) => conv(&v, |x| {
            super::deps::parse_depends_on(x).map_err(|m| match &v.entry {
                Some((_, line)) => format!("{m} at line {line}"),
                None => m,
            })
        })?,
        None => Vec::new(),
    };

    let mut out = Vec::new();
    let start = numprocs_start;
    let end = numprocs_start.saturating_add(numprocs.max(0));
    let mut process_num = start;
    // Python keeps one dict for the whole loop: process_num/numprocs, then the global
    // ENV_* (re-applied each round), then this program's environment= as ENV_* (which
    // stays visible to later rounds). `prog_env` is that last layer; entries that shadow a
    // global are reset to the global value at the start of each round.
    let mut prog_env = Expansions::new();
    while process_num < end {
        common.set("process_num", PyVal::Int(process_num));
        common.set("numprocs", PyVal::Int(numprocs));
        let resets: Vec<(String, PyVal)> = prog_env
            .iter()
            .filter_map(|(k, _)| ld.environ.get(k).map(|g| (k.to_string(), g.clone())))
            .collect();
        for (k, g) in resets {
            prog_env.set(k, g);
        }
        let env_str = expand(
            &env_raw.value,
            &Scope::three(&common, &ld.environ, &prog_env),
            "environment",
        )
        .map_err(|m| Fail::at(m, &env_raw))?;
        let environment = dt_kv(&env_str).map_err(|m| Fail::at(m, &env_raw))?;
        for (k, v) in &environment {
            prog_env.set_str(format!("ENV_{k}"), v.clone());
        }
        let directory = ld
            .getp(s, "directory", &common, &prog_env)?
            .map(|v| v.value);

        let (stdout, _) = read_channel(
            ld,
            s,
            "stdout",
            (&common, &prog_env),
            stdout_cmax,
            stdout_events,
        )?;
        let (mut stderr, stderr_named) = read_channel(
            ld,
            s,
            "stderr",
            (&common, &prog_env),
            stderr_cmax,
            stderr_events,
        )?;
        if redirect_stderr {
            if stderr_named {
                ld.warnings.push(format!(
                    "For [{s}], redirect_stderr=true but stderr_logfile has also been set to a filename, the filename has been ignored"
                ));
            }
            stderr.logfile = LogFile::None;
        }
        let command = match ld.getp(s, "command", &common, &prog_env)? {
            Some(v) => v.value,
            None => {
                return Err(Fail::msg(format!(
                    "program section {s} does not specify a command"
                )))
            }
        };
        let name = expand(
            &pn_raw.value,
            &Scope::three(&common, &ld.environ, &prog_env),
            "process_name",
        )
        .map_err(|m| Fail::at(m, &pn_raw))?;
        let ready = read_ready(ld, s, (&common, &prog_env))?;
        let (restart, rlimits, environment_files) =
            super::restart::read_restart(ld, s, (&common, &prog_env))?;
        let resources = super::resources::read_resources(ld, s, (&common, &prog_env))?;
        let health = super::healthcheck::read_healthcheck(ld, s, (&common, &prog_env))?;
        out.push(ProcessConfig {
            name,
            group: group_name.to_string(),
            section: s.to_string(),
            file: PathBuf::from(file),
            command,
            priority,
            autostart,
            autorestart,
            startsecs,
            startretries,
            exitcodes: exitcodes.clone(),
            stopsignal,
            stopwaitsecs,
            stopasgroup,
            killasgroup,
            user: user.clone(),
            uid,
            redirect_stderr,
            stdout,
            stderr,
            environment,
            directory,
            umask,
            serverurl: serverurl.clone(),
            depends_on: depends_on.clone(),
            critical,
            ready,
            restart,
            rlimits,
            environment_files,
            resources,
            health,
        });
        process_num += 1;
    }
    out.sort_by(|a, b| (a.priority, &a.name).cmp(&(b.priority, &b.name)));
    Ok(out)
}

/// `ready=`, `ready_timeout=` and `ready_interval=` of one process (expanded like
/// `command=`, so `%(process_num)d` can pick a port per process). The timing keys are
/// checked even without `ready=`, so a typo never waits for the day a check is added.
fn read_ready(
    ld: &Loader<'_>,
    s: &str,
    (common, prog_env): (&Expansions, &Expansions),
) -> SectionResult<Option<crate::checks::ReadyConfig>> {
    use crate::checks::{parse_positive_seconds, Check, ReadyConfig};
    let seconds = |key: &str, default: f64| -> SectionResult<f64> {
        match ld.getp(s, key, common, prog_env)? {
            Some(v) => conv(&v, |x| parse_positive_seconds(x, key)),
            None => Ok(default),
        }
    };
    let timeout = seconds("ready_timeout", crate::checks::DEFAULT_READY_TIMEOUT)?;
    let interval = seconds("ready_interval", crate::checks::DEFAULT_READY_INTERVAL)?;
    let Some(v) = ld.getp(s, "ready", common, prog_env)? else {
        return Ok(None);
    };
    let check = conv(&v, |x| Check::parse_key(x, "ready"))?;
    Ok(Some(ReadyConfig {
        check,
        timeout,
        interval,
    }))
}

/// One log channel (`ch` is `stdout` or `stderr`) of one process of section `s`: its
/// `{ch}_logfile*` and `{ch}_syslog` keys expanded with this round's names
/// (`common`, `prog_env`), with the reference's warnings. Also says whether the logfile
/// names a file (for the `redirect_stderr` warning).
fn read_channel(
    ld: &mut Loader<'_>,
    s: &str,
    ch: &str,
    (common, prog_env): (&Expansions, &Expansions),
    capture_maxbytes: u64,
    events_enabled: bool,
) -> SectionResult<(LogChannelConfig, bool)> {
    let ctx = ld.ctx;
    let (cwd, home) = (&ctx.cwd, ctx.home());
    let lf_key = format!("{ch}_logfile");
    let logfile = match ld.getp(s, &lf_key, common, prog_env)? {
        Some(v) => {
            let twice = expand(
                &v.value,
                &Scope::three(common, &ld.environ, prog_env),
                &lf_key,
            )
            .map_err(|m| Fail::at(m, &v))?;
            conv(&Val { value: twice, ..v }, |x| {
                dt::logfile_name(x, cwd, home)
            })?
        }
        None => LogName::Auto,
    };
    let backups = match ld.getp(s, &format!("{ch}_logfile_backups"), common, prog_env)? {
        Some(v) => conv(&v, dt::parse_int)?,
        None => 10,
    };
    let mb_key = format!("{ch}_logfile_maxbytes");
    let v = match ld.getp(s, &mb_key, common, prog_env)? {
        Some(v) => v,
        None => Val {
            value: "50MB".into(),
            key: mb_key.clone(),
            entry: None,
        },
    };
    let maxbytes_signed = conv(&v, dt::parse_byte_size_signed)?;
    let maxbytes = dt::clamp_u64(maxbytes_signed);
    let sy_key = format!("{ch}_syslog");
    let mut syslog = match ld.getp(s, &sy_key, common, prog_env)? {
        Some(v) => conv(&v, dt::parse_bool)?,
        None => false,
    };
    let names_file = matches!(logfile, LogName::Path(_));
    let mut logfile = logname_to_logfile(logfile);
    if logfile == LogFile::Syslog {
        ld.warnings.push(format!(
            "For [{s}], {lf_key}=syslog but this is deprecated and will be removed.  Use {sy_key}=true to enable syslog instead."
        ));
        logfile = LogFile::None;
        syslog = true;
    }
    if logfile == LogFile::Auto && maxbytes_signed == 0 {
        ld.warnings.push(format!(
            "For [{s}], AUTO logging used for {lf_key} without rollover, set maxbytes > 0 to avoid filling up filesystem unintentionally"
        ));
    }
    let (prefix, rotation) = super::logopts::read_channel_extras(ld, s, ch, common, prog_env)?;
    let channel = LogChannelConfig {
        logfile,
        logfile_maxbytes: maxbytes,
        logfile_backups: backups.clamp(0, u32::MAX as i64) as u32,
        capture_maxbytes,
        events_enabled,
        syslog,
        prefix,
        rotation,
    };
    Ok((channel, names_file))
}
