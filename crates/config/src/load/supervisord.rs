//! The daemon-wide sections: `[supervisord]`, `[rpcinterface:x]`, `[unix_http_server]`,
//! `[inet_http_server]`, and supervisorctl's `[supervisorctl]`.

use super::*;

pub(super) fn read_supervisord(
    ld: &mut Loader<'_>,
    inc_exp: &Expansions,
) -> SectionResult<SupervisordConfig> {
    let s = "supervisord";
    let mut here = Expansions::new();
    here.set_str("here", ld.here.clone());
    let cwd = ld.ctx.cwd.clone();
    let home = ld.home().map(String::from);
    let home = home.as_deref();

    let minfds = dt::clamp_u64(ld.get_int_default(s, "minfds", 1024, &here)?);
    let minprocs = dt::clamp_u64(ld.get_int_default(s, "minprocs", 200, &here)?);
    let directory = match ld.get(s, "directory", None, &here)? {
        Some(v) => Some(PathBuf::from(conv(&v, |x| {
            dt::existing_directory(x, &cwd, home)
        })?)),
        None => None,
    };
    let user = ld.get(s, "user", None, &here)?.map(|v| v.value);
    let v = ld.get_d(s, "umask", "022", &here)?;
    let umask = conv(&v, dt::parse_octal)?;
    let v = ld.get_d(s, "logfile", "supervisord.log", &here)?;
    let logfile = conv(&v, |x| dt::existing_dirpath(x, &cwd, home))?;
    let v = ld.get_d(s, "logfile_maxbytes", "50MB", &here)?;
    let logfile_maxbytes = conv(&v, dt::parse_byte_size)?;
    let v = ld.get_int_default(s, "logfile_backups", 10, &here)?;
    let logfile_backups = v.clamp(0, u32::MAX as i64) as u32;
    let logfile_rotation = super::logopts::read_main_rotation(ld, s, &here)?;
    let v = ld.get_d(s, "loglevel", "info", &here)?;
    let loglevel = conv(&v, dt::parse_log_level)?;
    let v = ld.get_d(s, "pidfile", "supervisord.pid", &here)?;
    let pidfile = conv(&v, |x| dt::existing_dirpath(x, &cwd, home))?;
    let identifier = ld.get_d(s, "identifier", "supervisor", &here)?.value;
    // supervisor-rs access control (docs/security.md): optional paths, directory must exist.
    let optional_path = |key: &str| -> SectionResult<Option<PathBuf>> {
        match ld.get(s, key, None, &here)? {
            Some(v) if !v.value.trim().is_empty() => {
                let p = conv(&v, |x| dt::existing_dirpath(py_strip(x), &cwd, home))?;
                Ok(Some(PathBuf::from(dt::normalize_path(&p, &cwd, home))))
            }
            _ => Ok(None),
        }
    };
    let tokens_file = optional_path("tokens_file")?;
    let audit_logfile = optional_path("audit_logfile")?;
    let v = ld.get_d(s, "nodaemon", "false", &here)?;
    let nodaemon = conv(&v, dt::parse_bool)?;
    let v = ld.get_d(s, "silent", "false", &here)?;
    let silent = conv(&v, dt::parse_bool)?;
    let tempdir = dt::gettempdir(&ld.ctx.environ, &cwd);
    let v = ld.get_d(s, "childlogdir", &tempdir, &here)?;
    let childlogdir = conv(&v, |x| dt::existing_directory(x, &cwd, home))?;
    let v = ld.get_d(s, "nocleanup", "false", &here)?;
    let nocleanup = conv(&v, dt::parse_bool)?;
    let v = ld.get_d(s, "subreaper", "false", &here)?;
    let subreaper = conv(&v, dt::parse_bool)?;
    let v = ld.get_d(s, "exit_when_done", "false", &here)?;
    let exit_when_done = conv(&v, dt::parse_bool)?;
    let v = ld.get_d(s, "strip_ansi", "false", &here)?;
    let strip_ansi = conv(&v, dt::parse_bool)?;
    let environment_files = super::restart::read_supervisord_env_files(ld)?;
    let v = ld.get_d(s, "environment", "", &here)?;
    let env_str =
        expand(&v.value, &Scope::one(inc_exp), "environment").map_err(|m| Fail::at(m, &v))?;
    let environment = dt_kv(&env_str).map_err(|m| Fail::at(m, &v))?;
    for (k, val) in &environment {
        ld.environ.set_str(format!("ENV_{k}"), val.clone());
    }

    // realize(): the main log and pid file become absolute (the log unless it is syslog)
    let logfile = if logfile == "syslog" {
        LogFile::Syslog
    } else {
        LogFile::Path(PathBuf::from(dt::normalize_path(&logfile, &cwd, home)))
    };
    let pidfile = PathBuf::from(dt::normalize_path(&pidfile, &cwd, home));

    Ok(SupervisordConfig {
        logfile,
        logfile_maxbytes,
        logfile_backups,
        logfile_rotation,
        loglevel,
        pidfile,
        umask,
        nodaemon,
        silent,
        minfds,
        minprocs,
        nocleanup,
        childlogdir: PathBuf::from(childlogdir),
        user,
        directory,
        strip_ansi,
        environment,
        identifier,
        subreaper,
        exit_when_done,
        environment_files,
        tokens_file,
        audit_logfile,
    })
}

pub(super) fn read_rpcinterfaces(ld: &Loader<'_>) -> Result<Vec<RpcInterfaceConfig>, ConfigError> {
    let key = "supervisor.rpcinterface_factory";
    let empty = Expansions::new();
    let mut out = Vec::new();
    let sections: Vec<String> = ld
        .ini
        .section_names()
        .filter(|s| s.starts_with("rpcinterface:"))
        .map(String::from)
        .collect();
    for section in sections {
        let err = |f: Fail| ld.section_error(f, &section);
        let name = section_suffix(&section).to_string();
        let factory = match ld.get(&section, key, None, &empty).map_err(err)? {
            Some(v) => v.value,
            None => {
                return Err(err(Fail::msg(format!(
                    "section [{section}] does not specify a {key}"
                ))))
            }
        };
        if factory != MAIN_RPCINTERFACE_FACTORY {
            return Err(err(Fail::msg(format!(
                "{factory} cannot be resolved within [{section}]"
            ))));
        }
        let mut extra = Vec::new();
        for k in ld.ini.options(&section) {
            if k != key {
                let v = ld.get(&section, &k, None, &empty).map_err(err)?;
                extra.push((k, v.map(|v| v.value).unwrap_or_default()));
            }
        }
        out.push(RpcInterfaceConfig {
            name,
            factory,
            extra,
        });
    }
    Ok(out)
}

pub(super) fn read_servers(
    ld: &Loader<'_>,
) -> Result<(Option<UnixHttpServerConfig>, Vec<InetHttpServerConfig>), ConfigError> {
    let empty = Expansions::new();
    let mut inet = Vec::new();
    let creds = |section: &str| -> Result<Option<Credentials>, ConfigError> {
        let e = |f: Fail| f.into_error(Some(section), None);
        let u = ld.get(section, "username", None, &empty).map_err(e)?;
        let p = ld.get(section, "password", None, &empty).map_err(e)?;
        match (u, p) {
            (None, None) => Ok(None),
            (Some(u), Some(p)) => Ok(Some(Credentials {
                username: u.value,
                password: p.value,
            })),
            _ => Err(e(Fail::msg(format!("Section [{section}] contains incomplete authentication: If a username or a password is specified, both the username and password must be specified")))),
        }
    };
    for section in sections_with(ld, "inet_http_server") {
        let e = |f: Fail| f.into_error(Some(&section), None);
        let credentials = creds(&section)?;
        let port = match ld.get(&section, "port", None, &empty).map_err(e)? {
            Some(v) => v,
            None => {
                return Err(e(Fail::msg(format!(
                    "section [{section}] has no port value"
                ))))
            }
        };
        let (host, port) = conv(&port, dt::parse_inet_address).map_err(e)?;
        let tls = super::tls::read_inet_tls(ld, &section).map_err(e)?;
        inet.push(InetHttpServerConfig {
            section: section.clone(),
            host,
            port,
            credentials,
            tls,
        });
    }
    let mut unix = Vec::new();
    let mut here = Expansions::new();
    here.set_str("here", ld.here.clone());
    for section in sections_with(ld, "unix_http_server") {
        let e = |f: Fail| f.into_error(Some(&section), None);
        let file = match ld.get(&section, "file", None, &here).map_err(e)? {
            Some(v) => v,
            None => {
                return Err(e(Fail::msg(format!(
                    "section [{section}] has no file value"
                ))))
            }
        };
        let file = dt::normalize_path(py_strip(&file.value), &ld.ctx.cwd, ld.home());
        let credentials = creds(&section)?;
        let chown = match ld.get(&section, "chown", None, &empty).map_err(e)? {
            Some(v) => Some(
                dt::parse_user_group(&v.value)
                    .map_err(|_| e(Fail::at(format!("Invalid sockchown value {}", v.value), &v)))?,
            ),
            None => None,
        };
        let chmod = match ld.get(&section, "chmod", None, &empty).map_err(e)? {
            Some(v) => dt::parse_octal(&v.value)
                .map_err(|_| e(Fail::at(format!("Invalid chmod value {}", v.value), &v)))?,
            None => 0o700,
        };
        unix.push(UnixHttpServerConfig {
            section: section.clone(),
            file: PathBuf::from(file),
            chmod,
            chown,
            credentials,
        });
    }
    Ok((unix.into_iter().next(), inet))
}

/// Reads the `[supervisorctl]` section (ctl ignores `[include]`).
pub fn load_ctl_with_context(path: &Path, ctx: &LoadContext) -> Result<CtlConfig, ConfigError> {
    let configfile = path.to_string_lossy().into_owned();
    let home = ctx.home();
    let here = dt::dirname(&dt::normalize_path(&configfile, &ctx.cwd, home)).to_string();
    let text = read_text(&configfile, &ctx.cwd)?;
    let mut ini = Ini::new();
    parse_into(&mut ini, &text, &configfile)?;
    if !ini.has_section("supervisorctl") {
        return Err(ConfigError::msg(
            ".ini file does not include supervisorctl section",
        ));
    }
    let ld = Loader::new(ctx, ini, here.clone(), configfile);
    let s = "supervisorctl";
    let e = |f: Fail| f.into_error(Some(s), None);
    let mut hx = Expansions::new();
    hx.set_str("here", here);
    let empty = Expansions::new();
    let mut serverurl = ld
        .get_d(s, "serverurl", "http://localhost:9001", &hx)
        .map_err(e)?
        .value;
    if let Some(p) = serverurl.strip_prefix("unix://") {
        serverurl = format!("unix://{}", dt::normalize_path(p, &ctx.cwd, home));
    }
    let prompt = ld
        .get_d(s, "prompt", "supervisor", &empty)
        .map_err(e)?
        .value;
    let username = ld
        .get(s, "username", None, &empty)
        .map_err(e)?
        .map(|v| v.value);
    let password = ld
        .get(s, "password", None, &empty)
        .map_err(e)?
        .map(|v| v.value);
    let history_file = ld
        .get(s, "history_file", None, &hx)
        .map_err(e)?
        .map(|v| v.value)
        .filter(|v| !v.is_empty())
        .map(|v| PathBuf::from(dt::normalize_path(&v, &ctx.cwd, home)));
    let (tls_ca, tls_cert, tls_key) = super::tls::read_ctl_tls(&ld, s).map_err(e)?;
    Ok(CtlConfig {
        serverurl,
        username,
        password,
        prompt,
        history_file,
        tls_ca,
        tls_cert,
        tls_key,
    })
}
