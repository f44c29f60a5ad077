//! supervisor-rs's own log keys: `*_log_prefix=` of a child channel and the rotation
//! extras `*logfile_rotate=`, `*logfile_compress=`, `*logfile_maxage=` of child channels
//! and the main log. The reference ignores all of them (unknown keys), so a config that
//! uses them still loads there.

use super::*;

/// `size`, `daily` or `hourly` (case-insensitive, surrounding blanks ignored).
pub fn parse_rotate_when(v: &str) -> Result<RotateWhen, String> {
    match v.trim().to_ascii_lowercase().as_str() {
        "size" => Ok(RotateWhen::Size),
        "daily" => Ok(RotateWhen::Daily),
        "hourly" => Ok(RotateWhen::Hourly),
        _ => Err(format!(
            "value {} is not a rotation schedule (use size, daily or hourly)",
            py_repr(v)
        )),
    }
}

/// A duration `<n>[s|m|h|d]` (no unit: seconds) in seconds; `0` means "no limit"
/// (`None`).
pub fn parse_maxage(v: &str) -> Result<Option<u64>, String> {
    let t = v.trim().to_ascii_lowercase();
    let bad = || {
        format!(
            "value {} is not an age (a whole number with an optional unit s, m, h or d, \
             e.g. 14d)",
            py_repr(v)
        )
    };
    let (digits, mult) = match t.char_indices().last() {
        Some((i, 's')) => (&t[..i], 1u64),
        Some((i, 'm')) => (&t[..i], 60),
        Some((i, 'h')) => (&t[..i], 3600),
        Some((i, 'd')) => (&t[..i], 86_400),
        Some(_) => (t.as_str(), 1),
        None => return Err(bad()),
    };
    let digits = digits.trim_end();
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let n: u64 = digits.parse().map_err(|_| bad())?;
    let secs = n.checked_mul(mult).ok_or_else(bad)?;
    Ok((secs > 0).then_some(secs))
}

/// The prefix as configured: quoted (`"..."` or `'...'`) keeps exactly what is between
/// the quotes; unquoted, one space is added unless the value already ends in blank space
/// (INI values lose their trailing blanks, so `%(program_name)s | ` arrives as
/// `web |` and is meant as `web | `).
pub fn prefix_text(v: &str) -> String {
    let b = v.as_bytes();
    if b.len() >= 2 && (b[0] == b'"' || b[0] == b'\'') && b[b.len() - 1] == b[0] {
        return v[1..v.len() - 1].to_string();
    }
    if v.is_empty() || v.ends_with(char::is_whitespace) {
        v.to_string()
    } else {
        format!("{v} ")
    }
}

/// Reads `{ch}_log_prefix`, `{ch}_logfile_rotate`, `{ch}_logfile_compress` and
/// `{ch}_logfile_maxage` of one process (`ch` is `stdout` or `stderr`), expanded with
/// this round's names like the other channel keys.
pub(super) fn read_channel_extras(
    ld: &Loader<'_>,
    s: &str,
    ch: &str,
    common: &Expansions,
    prog_env: &Expansions,
) -> SectionResult<(String, LogRotation)> {
    let prefix = match ld.getp(s, &format!("{ch}_log_prefix"), common, prog_env)? {
        Some(v) => prefix_text(&v.value),
        None => String::new(),
    };
    let rotation = LogRotation {
        when: match ld.getp(s, &format!("{ch}_logfile_rotate"), common, prog_env)? {
            Some(v) => conv(&v, parse_rotate_when)?,
            None => RotateWhen::Size,
        },
        compress: match ld.getp(s, &format!("{ch}_logfile_compress"), common, prog_env)? {
            Some(v) => conv(&v, dt::parse_bool)?,
            None => false,
        },
        maxage_secs: match ld.getp(s, &format!("{ch}_logfile_maxage"), common, prog_env)? {
            Some(v) => conv(&v, parse_maxage)?,
            None => None,
        },
    };
    Ok((prefix, rotation))
}

/// Reads `logfile_rotate`, `logfile_compress` and `logfile_maxage` of `[supervisord]`.
pub(super) fn read_main_rotation(
    ld: &Loader<'_>,
    s: &str,
    here: &Expansions,
) -> SectionResult<LogRotation> {
    Ok(LogRotation {
        when: match ld.get(s, "logfile_rotate", None, here)? {
            Some(v) => conv(&v, parse_rotate_when)?,
            None => RotateWhen::Size,
        },
        compress: match ld.get(s, "logfile_compress", None, here)? {
            Some(v) => conv(&v, dt::parse_bool)?,
            None => false,
        },
        maxage_secs: match ld.get(s, "logfile_maxage", None, here)? {
            Some(v) => conv(&v, parse_maxage)?,
            None => None,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rotate_values() {
        assert_eq!(parse_rotate_when("size"), Ok(RotateWhen::Size));
        assert_eq!(parse_rotate_when(" Daily "), Ok(RotateWhen::Daily));
        assert_eq!(parse_rotate_when("HOURLY"), Ok(RotateWhen::Hourly));
        assert_eq!(
            parse_rotate_when("weekly").unwrap_err(),
            "value 'weekly' is not a rotation schedule (use size, daily or hourly)"
        );
    }

    #[test]
    fn maxage_values() {
        assert_eq!(parse_maxage("14d"), Ok(Some(14 * 86_400)));
        assert_eq!(parse_maxage("12h"), Ok(Some(12 * 3600)));
        assert_eq!(parse_maxage("30m"), Ok(Some(1800)));
        assert_eq!(parse_maxage("90s"), Ok(Some(90)));
        assert_eq!(parse_maxage("90"), Ok(Some(90)));
        assert_eq!(parse_maxage(" 2 D "), Ok(Some(2 * 86_400)));
        assert_eq!(parse_maxage("0"), Ok(None));
        assert_eq!(parse_maxage("0d"), Ok(None));
        for bad in ["", "d", "-1d", "1w", "1.5d", "1dd", "99999999999999999999d"] {
            let e = parse_maxage(bad).unwrap_err();
            assert!(e.contains("is not an age"), "{bad}: {e}");
        }
    }

    fn load(text: &str) -> Result<Config, ConfigError> {
        let dir = tempfile::tempdir().unwrap();
        let ctx = LoadContext {
            environ: vec![("TMPDIR".into(), dir.path().to_string_lossy().into_owned())],
            hostname: "box".into(),
            cwd: dir.path().to_path_buf(),
            uid: 0,
        };
        load_from_str(&dir.path().join("s.conf"), text, &ctx)
    }

    #[test]
    fn keys_load_with_expansions_and_defaults_change_nothing() {
        let c = load(
            "[supervisord]\nlogfile_rotate=daily\nlogfile_compress=true\nlogfile_maxage=14d\n\
             [program:web]\ncommand=/bin/cat\nnumprocs=2\nprocess_name=%(program_name)s_%(process_num)d\n\
             stdout_log_prefix=%(process_num)d %(program_name)s@%(host_node_name)s |\n\
             stdout_logfile_rotate=hourly\nstdout_logfile_compress=yes\nstdout_logfile_maxage=12h\n\
             stderr_log_prefix=\"[%(group_name)s] \"\n\
             [program:plain]\ncommand=/bin/cat\n",
        )
        .unwrap();
        let sd = &c.supervisord;
        assert_eq!(
            sd.logfile_rotation,
            LogRotation {
                when: RotateWhen::Daily,
                compress: true,
                maxage_secs: Some(14 * 86_400)
            }
        );
        let procs: Vec<&ProcessConfig> = c.groups.iter().flat_map(|g| &g.processes).collect();
        let web1 = procs.iter().find(|p| p.name == "web_1").unwrap();
        assert_eq!(web1.stdout.prefix, "1 web@box | ");
        assert_eq!(web1.stderr.prefix, "[web] ");
        assert_eq!(
            web1.stdout.rotation,
            LogRotation {
                when: RotateWhen::Hourly,
                compress: true,
                maxage_secs: Some(12 * 3600)
            }
        );
        assert_eq!(web1.stderr.rotation, LogRotation::default());
        let plain = procs.iter().find(|p| p.name == "plain").unwrap();
        assert_eq!(plain.stdout.prefix, "");
        assert_eq!(plain.stdout.rotation, LogRotation::default());
        let bare = load("[supervisord]\n").unwrap();
        assert_eq!(bare.supervisord.logfile_rotation, LogRotation::default());
    }

    #[test]
    fn bad_values_name_file_line_section_and_key() {
        let e = load("[supervisord]\n[program:web]\ncommand=c\nstdout_logfile_rotate=weekly\n")
            .unwrap_err();
        assert_eq!(e.line, Some(4));
        assert_eq!(e.key.as_deref(), Some("stdout_logfile_rotate"));
        assert!(
            e.message.contains("not a rotation schedule"),
            "{}",
            e.message
        );
        assert!(e.message.contains("section 'program:web'"), "{}", e.message);
        let e = load("[supervisord]\nlogfile_maxage=soon\n").unwrap_err();
        assert_eq!(e.line, Some(2));
        assert_eq!(e.key.as_deref(), Some("logfile_maxage"));
        let e = load("[supervisord]\n[program:w]\ncommand=c\nstderr_logfile_compress=maybe\n")
            .unwrap_err();
        assert_eq!(e.key.as_deref(), Some("stderr_logfile_compress"));
        assert!(
            e.message.contains("not a valid boolean value"),
            "{}",
            e.message
        );
    }

    #[test]
    fn prefix_spacing_and_quotes() {
        assert_eq!(prefix_text("web |"), "web | ");
        assert_eq!(prefix_text("\"[web] \""), "[web] ");
        assert_eq!(prefix_text("'[web]'"), "[web]");
        assert_eq!(prefix_text(""), "");
        assert_eq!(prefix_text("\""), "\" ");
    }
}
