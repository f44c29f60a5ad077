//! The group-making sections: `[group:x]` (heterogeneous), `[program:x]` (homogeneous),
//! `[eventlistener:x]` (listener pools) and `[fcgi-program:x]` (with its socket), in the
//! reference's order, then sorted by priority.

use super::program::processes_from_section;
use super::*;
use supervisor_protocol::events::{EventListError, EventType};

/// Every group: `[group:x]` first (their members are then skipped as programs), then
/// `[program:x]`, `[eventlistener:x]`, `[fcgi-program:x]`; sorted by (priority, name).
pub(super) fn read_groups(ld: &mut Loader<'_>) -> Result<Vec<GroupConfig>, ConfigError> {
    let mut groups: Vec<GroupConfig> = Vec::new();
    let mut exclude: std::collections::HashSet<String> = Default::default();
    let mut here = Expansions::new();
    here.set_str("here", ld.here.clone());
    let all: std::collections::HashSet<String> = ld.ini.section_names().map(String::from).collect();

    for gsection in sections_with(ld, "group:") {
        let e = |f: Fail| f.into_error(Some(&gsection), None);
        let gname = dt::parse_name(section_suffix(&gsection)).map_err(|m| e(Fail::msg(m)))?;
        let programs = match ld.get(&gsection, "programs", None, &here).map_err(e)? {
            Some(v) => dt::parse_list_of_strings(&v.value),
            None => Vec::new(),
        };
        let priority = ld.group_priority(&gsection, 999, &here)?;
        let mut processes = Vec::new();
        // Python reuses its loop variable: after the first member, messages name the
        // member's section instead of the group's.
        let mut shown = gsection.clone();
        for program in programs {
            let ps = format!("program:{program}");
            let fs = format!("fcgi-program:{program}");
            let (hp, hf) = (all.contains(&ps), all.contains(&fs));
            if !hp && !hf {
                return Err(e(Fail::msg(format!(
                    "[{shown}] names unknown program or fcgi-program {program}"
                ))));
            }
            if hp && hf {
                return Err(e(Fail::msg(format!(
                    "[{shown}] name {program} is ambiguous (exists as program and fcgi-program)"
                ))));
            }
            let member = if hp { ps } else { fs };
            exclude.insert(member.clone());
            processes.extend(processes_from_section(ld, &member, &gname)?);
            shown = member;
        }
        groups.push(GroupConfig {
            name: gname,
            priority,
            kind: GroupKind::Heterogeneous,
            processes,
        });
    }

    for section in sections_with(ld, "program:") {
        if exclude.contains(&section) {
            continue;
        }
        let e = |f: Fail| f.into_error(Some(&section), None);
        let name = dt::parse_name(section_suffix(&section)).map_err(|m| e(Fail::msg(m)))?;
        let priority = ld.group_priority(&section, 999, &here)?;
        let processes = processes_from_section(ld, &section, &name)?;
        groups.push(GroupConfig {
            name,
            priority,
            kind: GroupKind::Program,
            processes,
        });
    }

    for section in sections_with(ld, "eventlistener:") {
        groups.push(listener_pool(ld, &section, &here)?);
    }

    for section in sections_with(ld, "fcgi-program:") {
        if exclude.contains(&section) {
            continue;
        }
        groups.push(fcgi_group(ld, &section, &here)?);
    }

    groups.sort_by(|a, b| (a.priority, &a.name).cmp(&(b.priority, &b.name)));
    Ok(groups)
}

/// One `[eventlistener:x]`: a listener pool with its pool-level keys checked in the
/// reference's order (buffer_size, result_handler, events, redirect_stderr).
fn listener_pool(
    ld: &mut Loader<'_>,
    section: &str,
    here: &Expansions,
) -> Result<GroupConfig, ConfigError> {
    let e = |f: Fail| f.into_error(Some(section), None);
    let pool = section_suffix(section).to_string();
    let priority = ld.group_priority(section, -1, here)?;
    let buffer_size = ld
        .get_int_default(section, "buffer_size", 10, here)
        .map_err(e)?;
    if buffer_size < 1 {
        return Err(e(Fail::msg(format!(
            "[{section}] section sets invalid buffer_size ({buffer_size})"
        ))));
    }
    let buffer_size: usize =
        dt::int_in(buffer_size, &buffer_size.to_string()).map_err(|m| e(Fail::msg(m)))?;
    let rh = ld
        .get_d(section, "result_handler", DEFAULT_RESULT_HANDLER, here)
        .map_err(e)?
        .value;
    if rh != DEFAULT_RESULT_HANDLER {
        return Err(e(Fail::msg(format!(
            "{rh} cannot be resolved within [{section}]"
        ))));
    }
    let ev = ld.get_d(section, "events", "", here).map_err(e)?;
    let names = dt::parse_list_of_strings(&ev.value);
    let events = EventType::parse_list(names.iter().map(String::as_str)).map_err(|err| {
        let message = err.message(section);
        match err {
            EventListError::Missing => e(Fail::msg(message)),
            EventListError::Unknown(_) => e(Fail::at(message, &ev)),
        }
    })?;
    let v = ld
        .get_d(section, "redirect_stderr", "false", here)
        .map_err(e)?;
    if conv(&v, dt::parse_bool).map_err(e)? {
        return Err(e(Fail::at(format!("[{section}] section sets redirect_stderr=true but this is not allowed because it will interfere with the eventlistener protocol"), &v)));
    }
    let processes = processes_from_section(ld, section, &pool)?;
    Ok(GroupConfig {
        name: pool,
        priority,
        kind: GroupKind::EventListenerPool(EventListenerPoolConfig {
            events,
            buffer_size,
            result_handler: rh,
        }),
        processes,
    })
}

/// One `[fcgi-program:x]` that no `[group:x]` took: its socket keys, then its processes.
fn fcgi_group(
    ld: &mut Loader<'_>,
    section: &str,
    here: &Expansions,
) -> Result<GroupConfig, ConfigError> {
    let e = |f: Fail| f.into_error(Some(section), None);
    let name = dt::parse_name(section_suffix(section)).map_err(|m| e(Fail::msg(m)))?;
    let priority = ld.group_priority(section, 999, here)?;
    let mut fcgi_exp = Expansions::new();
    fcgi_exp.set_str("program_name", name.clone());
    fcgi_exp.set_str("here", ld.here.clone());
    let proc_uid = match ld.get(section, "user", None, here).map_err(e)? {
        Some(v) => Some(conv(&v, dt::name_to_uid).map_err(e)?),
        None => None,
    };
    let backlog = match ld.get(section, "socket_backlog", None, here).map_err(e)? {
        Some(v) => {
            let n = conv(&v, dt::parse_int).map_err(e)?;
            if !(1..=65535).contains(&n) {
                return Err(e(Fail::at(format!("Invalid socket_backlog value {n}"), &v)));
            }
            Some(n as u32)
        }
        None => None,
    };
    let owner = match ld.get(section, "socket_owner", None, here).map_err(e)? {
        Some(v) => Some(dt::parse_user_group(&v.value).map_err(|_| {
            e(Fail::at(
                format!("Invalid socket_owner value {}", v.value),
                &v,
            ))
        })?),
        None => None,
    };
    let mode = match ld.get(section, "socket_mode", None, here).map_err(e)? {
        Some(v) => Some(dt::parse_octal(&v.value).map_err(|_| {
            e(Fail::at(
                format!("Invalid socket_mode value {}", v.value),
                &v,
            ))
        })?),
        None => None,
    };
    let sock = ld.get(section, "socket", None, &fcgi_exp).map_err(e)?;
    let sock = match sock {
        Some(v) if !v.value.is_empty() => v,
        _ => {
            return Err(e(Fail::msg(format!(
                "[{section}] section requires a \"socket\" line"
            ))))
        }
    };
    let socket = parse_fcgi_socket(ld, &sock.value, proc_uid, owner, mode, backlog)
        .map_err(|m| e(Fail::at(format!("{m} in [{section}] socket"), &sock)))?;
    let processes = processes_from_section(ld, section, &name)?;
    Ok(GroupConfig {
        name,
        priority,
        kind: GroupKind::FcgiProgram(socket),
        processes,
    })
}

fn parse_fcgi_socket(
    ld: &Loader<'_>,
    sock: &str,
    proc_uid: Option<u32>,
    owner: Option<(u32, u32)>,
    mode: Option<u32>,
    backlog: Option<u32>,
) -> Result<FcgiSocketConfig, String> {
    if let Some(path) = sock.strip_prefix("unix://") {
        if !path.starts_with('/') {
            return Err(format!(
                "('Unix socket path %s is not an absolute path', {})",
                py_repr(path)
            ));
        }
        let path = dt::normalize_path(path, &ld.ctx.cwd, ld.home());
        let owner = owner.or(match proc_uid {
            Some(u) if u != ld.ctx.uid => Some((u, dt::gid_for_uid(u))),
            _ => None,
        });
        return Ok(FcgiSocketConfig {
            url: format!("unix://{path}"),
            address: SocketAddress::Unix(PathBuf::from(path)),
            backlog,
            owner,
            mode: mode.unwrap_or(0o700),
        });
    }
    if owner.is_some() || mode.is_some() {
        return Err(
            "socket_owner and socket_mode params should only be used with a Unix domain socket"
                .into(),
        );
    }
    if let Some(rest) = sock.strip_prefix("tcp://") {
        if let Some((host, port)) = rest.rsplit_once(':') {
            let host_ok =
                !host.is_empty() && !host.contains(':') && !host.chars().any(dt::is_py_space);
            let port_ok = !port.is_empty() && port.chars().all(|c| c.is_ascii_digit());
            if host_ok && port_ok {
                let n: i64 = port.parse().unwrap_or(i64::MAX);
                if n < 1 {
                    return Err(format!("{n} is below lower bound (1)"));
                }
                if n > 65535 {
                    return Err(format!("{n} is above upper bound (65535)"));
                }
                let host = host.to_lowercase();
                return Ok(FcgiSocketConfig {
                    url: format!("tcp://{host}:{n}"),
                    address: SocketAddress::Tcp {
                        host,
                        port: n as u16,
                    },
                    backlog,
                    owner: None,
                    mode: 0o700,
                });
            }
        }
    }
    Err(format!("('Bad socket format %s', {})", py_repr(sock)))
}
