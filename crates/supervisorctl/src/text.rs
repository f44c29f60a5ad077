//! Output formatting: the `status` table, `help` columns, JSON documents.

use supervisor_protocol::Value;

use crate::error::CtlError;
use crate::namespec::make_namespec;
use crate::rpc::{member, member_int, member_str, member_truthy};

/// Python `cmd.Cmd.columnize`: the words in as few rows as fit `width`, column-major,
/// each cell left-justified to its column width, columns joined by two spaces.
pub fn columnize(words: &[&str], width: usize) -> String {
    if words.is_empty() {
        return "<empty>\n".into();
    }
    if words.len() == 1 {
        return format!("{}\n", words[0]);
    }
    let size = words.len();
    let mut chosen: Option<(usize, usize, Vec<usize>)> = None;
    for nrows in 1..size {
        let ncols = size.div_ceil(nrows);
        let mut colwidths = Vec::new();
        let mut total: isize = -2;
        for col in 0..ncols {
            let mut w = 0;
            for row in 0..nrows {
                let i = row + nrows * col;
                if i >= size {
                    break;
                }
                w = w.max(words[i].chars().count());
            }
            colwidths.push(w);
            total += w as isize + 2;
            if total > width as isize {
                break;
            }
        }
        if total <= width as isize {
            chosen = Some((nrows, ncols, colwidths));
            break;
        }
    }
    let (nrows, ncols, colwidths) = chosen.unwrap_or((size, 1, vec![0]));
    let mut out = String::new();
    for row in 0..nrows {
        let mut texts: Vec<&str> = (0..ncols)
            .map(|col| words.get(row + nrows * col).copied().unwrap_or(""))
            .collect();
        while texts.last() == Some(&"") {
            texts.pop();
        }
        let cells: Vec<String> = texts
            .iter()
            .enumerate()
            .map(|(c, t)| format!("{t:<w$}", w = colwidths[c]))
            .collect();
        out.push_str(&cells.join("  "));
        out.push('\n');
    }
    out
}

/// ANSI colour for a state name (used only when stdout is a terminal).
fn state_color(statename: &str) -> &'static str {
    match statename {
        "RUNNING" => "\x1b[32m",
        "STARTING" | "BACKOFF" | "STOPPING" => "\x1b[33m",
        "EXITED" | "FATAL" | "UNKNOWN" => "\x1b[31m",
        _ => "\x1b[2m",
    }
}

/// The `status` lines: namespec padded to max(30, longest)+3, state padded to 10, then
/// the description.
pub fn status_lines(infos: &[&Value], color: bool) -> Result<Vec<String>, CtlError> {
    let mut rows = Vec::new();
    let mut maxlen = 30;
    for info in infos {
        let ns = make_namespec(&member_str(info, "group")?, &member_str(info, "name")?);
        maxlen = maxlen.max(ns.chars().count());
        rows.push((
            ns,
            member_str(info, "statename")?,
            member_str(info, "description")?,
        ));
    }
    Ok(rows
        .into_iter()
        .map(|(ns, state, desc)| {
            let w = maxlen + 3;
            if color {
                let pad = " ".repeat(10usize.saturating_sub(state.chars().count()));
                format!("{ns:<w$}{}{state}\x1b[0m{pad}{desc}", state_color(&state))
            } else {
                format!("{ns:<w$}{state:<10}{desc}")
            }
        })
        .collect())
}

fn json_of(v: &Value) -> serde_json::Value {
    match v {
        Value::Int(i) => (*i).into(),
        Value::Bool(b) => (*b).into(),
        Value::String(s) | Value::DateTime(s) => s.clone().into(),
        Value::Double(d) => serde_json::Number::from_f64(*d)
            .map(serde_json::Value::Number)
            .unwrap_or(serde_json::Value::Null),
        Value::Base64(b) => String::from_utf8_lossy(b).into_owned().into(),
        Value::Array(a) => serde_json::Value::Array(a.iter().map(json_of).collect()),
        Value::Struct(m) => {
            serde_json::Value::Object(m.iter().map(|(k, v)| (k.clone(), json_of(v))).collect())
        }
    }
}

/// `status --json`: one object per process, every ProcessInfo field plus `namespec`.
pub fn process_json(info: &Value) -> Result<serde_json::Value, CtlError> {
    let ns = make_namespec(&member_str(info, "group")?, &member_str(info, "name")?);
    let mut obj = serde_json::Map::new();
    obj.insert("namespec".into(), ns.into());
    if let serde_json::Value::Object(m) = json_of(info) {
        obj.extend(m);
    }
    member_int(info, "state")?;
    Ok(serde_json::Value::Object(obj))
}

/// `avail --json`: one object per configured process.
pub fn config_json(info: &Value) -> Result<serde_json::Value, CtlError> {
    let ns = make_namespec(&member_str(info, "group")?, &member_str(info, "name")?);
    Ok(serde_json::json!({
        "namespec": ns,
        "group": member_str(info, "group")?,
        "name": member_str(info, "name")?,
        "inuse": member_truthy(info, "inuse")?,
        "autostart": member_truthy(info, "autostart")?,
        "group_prio": json_of(member(info, "group_prio")?),
        "process_prio": json_of(member(info, "process_prio")?),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rpc::{i, s};

    #[test]
    fn help_columns_match_reference() {
        let expected = "add    exit      open  reload  restart   start   tail   \n\
avail  fg        pid   remove  shutdown  status  update \n\
clear  maintail  quit  reread  signal    stop    version\n";
        let reference = [
            "add", "avail", "clear", "exit", "fg", "maintail", "open", "pid", "quit", "reload",
            "remove", "reread", "restart", "shutdown", "signal", "start", "status", "stop", "tail",
            "update", "version",
        ];
        assert_eq!(columnize(&reference, 79), expected);
        assert_eq!(columnize(&["a"], 79), "a\n");
        assert_eq!(columnize(&[], 79), "<empty>\n");
    }

    fn info(group: &str, name: &str, state: &str, desc: &str) -> Value {
        Value::Struct(vec![
            ("name".into(), s(name)),
            ("group".into(), s(group)),
            ("state".into(), i(20)),
            ("statename".into(), s(state)),
            ("description".into(), s(desc)),
        ])
    }

    #[test]
    fn status_format() {
        let a = info("exiter", "exiter", "EXITED", "Nov 21 06:14 PM");
        let b = info("keep", "keep", "STARTING", "");
        let lines = status_lines(&[&a, &b], false).unwrap();
        assert_eq!(
            lines[0],
            "exiter                           EXITED    Nov 21 06:14 PM"
        );
        assert_eq!(lines[1], "keep                             STARTING  ");
        let long = "g".repeat(40);
        let c = info(&long, "p", "RUNNING", "x");
        let lines = status_lines(&[&c], false).unwrap();
        assert_eq!(lines[0], format!("{long}:p   RUNNING   x"));
        let lines = status_lines(&[&a], true).unwrap();
        assert_eq!(
            lines[0],
            "exiter                           \x1b[31mEXITED\x1b[0m    Nov 21 06:14 PM"
        );
    }

    #[test]
    fn json_docs() {
        let a = info("g", "p", "RUNNING", "pid 1");
        let j = process_json(&a).unwrap();
        assert_eq!(j["namespec"], "g:p");
        assert_eq!(j["state"], 20);
    }
}
