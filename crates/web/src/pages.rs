//! The HTML documents: the status page, the tail page and the small error page.
//! Every dynamic string goes through [`escape::html`]; URLs through [`escape::url_quote`].

use crate::action::{is_error_message, Action};
use crate::clock::{self, LocalTime};
use crate::csrf;
use crate::escape::{self, html};
use crate::route::Channel;
use crate::snapshot::{ProcessRow, StatusSnapshot};
use std::fmt::Write as _;
use supervisor_protocol::{Fault, FaultCode, ProcessState};

const DOCTYPE: &str = "<!DOCTYPE html PUBLIC \"-//W3C//DTD XHTML 1.0 Transitional//EN\"\n   \"http://www.w3.org/TR/xhtml1/DTD/xhtml1-transitional.dtd\">\n";

fn head(out: &mut String, title: &str, csrf_token: &str) {
    out.push_str(DOCTYPE);
    out.push_str("<html xmlns=\"http://www.w3.org/1999/xhtml\" lang=\"en\">\n<head>\n");
    out.push_str("  <meta http-equiv=\"Content-Type\" content=\"text/html; charset=utf-8\" />\n");
    out.push_str("  <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\" />\n");
    out.push_str("  <meta name=\"color-scheme\" content=\"light dark\" />\n");
    let _ = writeln!(
        out,
        "  <meta name=\"csrf-token\" content=\"{}\" />",
        html(csrf_token)
    );
    let _ = writeln!(out, "  <title>{}</title>", html(title));
    out.push_str(
        "  <link href=\"stylesheets/supervisor.css\" rel=\"stylesheet\" type=\"text/css\" />\n",
    );
    out.push_str("  <link href=\"images/icon.svg\" rel=\"icon\" type=\"image/svg+xml\" />\n");
    out.push_str("  <script src=\"assets/app.js\" defer=\"defer\"></script>\n");
    out.push_str("</head>\n");
}

/// The CSS class the reference gives a state's label.
pub fn state_class(state: ProcessState) -> &'static str {
    match state {
        ProcessState::Running => "statusrunning",
        ProcessState::Fatal | ProcessState::Backoff => "statuserror",
        _ => "statusnominal",
    }
}

/// The five action slots of a row, as the reference lays them out: (label, action name)
/// for the three form actions; `None` is an empty slot. Unlike the reference, a STARTING or
/// BACKOFF process can be stopped from the page (as `supervisorctl stop` can).
fn row_actions(state: ProcessState) -> [Option<(&'static str, &'static str)>; 3] {
    let clear = Some(("Clear Log", "clearlog"));
    match state {
        ProcessState::Running => [Some(("Restart", "restart")), Some(("Stop", "stop")), clear],
        ProcessState::Stopped | ProcessState::Exited | ProcessState::Fatal => {
            [Some(("Start", "start")), None, clear]
        }
        ProcessState::Starting | ProcessState::Backoff => [None, Some(("Stop", "stop")), clear],
        _ => [None, None, clear],
    }
}

/// The second line of the description of an EXITED, FATAL or BACKOFF row that has run:
/// `exit status 3 · started Dec 04 18:14:02 · stopped Dec 04 18:14:05` (daemon local time).
/// A process that exited too quickly (BACKOFF, then FATAL) has no exit status recorded (the
/// reference reports 0): those rows show how the last run ended as the main log says
/// ([`ProcessRow::last_exit`]), or the times only.
pub fn row_detail(p: &ProcessRow, utc_offset: i32) -> Option<String> {
    let ended = matches!(
        p.state,
        ProcessState::Exited | ProcessState::Fatal | ProcessState::Backoff
    );
    if !ended || p.start <= 0 {
        return None;
    }
    let at = |unix: i64| clock::short_stamp(LocalTime { unix, utc_offset });
    let mut text = match (&p.last_exit, p.state) {
        (_, ProcessState::Exited) => format!(
            "exit status {} \u{b7} started {}",
            p.exitstatus,
            at(p.start)
        ),
        (Some(how), _) => format!("{how} \u{b7} started {}", at(p.start)),
        (None, _) => format!("started {}", at(p.start)),
    };
    if p.stop >= p.start {
        // "Nov 21 " is not repeated when the stop was on the day of the start.
        let (started, stopped) = (at(p.start), at(p.stop));
        let same_day = started.get(..7) == stopped.get(..7);
        let shown = if same_day {
            &stopped[7..]
        } else {
            &stopped[..]
        };
        let _ = write!(text, " \u{b7} stopped {shown}");
    }
    Some(text)
}

/// The CPU, memory and restart cells of a row (the page has these columns when any
/// process has stats).
fn write_stats_cells(out: &mut String, p: &ProcessRow) {
    match &p.stats {
        Some(s) => {
            let _ = write!(
                out,
                "<td class=\"cpu\">{}</td><td class=\"mem\">{}</td><td class=\"restarts\">{}</td>",
                html(&s.cpu_text()),
                html(&s.memory_text()),
                s.restarts
            );
        }
        None => out.push_str(
            "<td class=\"cpu\">-</td><td class=\"mem\">-</td><td class=\"restarts\">-</td>",
        ),
    }
}

fn write_row(
    out: &mut String,
    p: &ProcessRow,
    shade: bool,
    utc_offset: i32,
    read_only: bool,
    stats_cols: bool,
) {
    let ns = p.namespec();
    let ns_html = html(&ns);
    let ns_q = escape::url_quote(&ns);
    let state_lower = p.state.name().to_ascii_lowercase();
    let _ = write!(
        out,
        "<tr{} data-ns=\"{}\" data-state=\"{}\">\
         <td class=\"name\"><a href=\"tail.html?processname={}\" target=\"_blank\">{}</a></td>\
         <td class=\"status\"><span class=\"{} st-{}\">{}</span></td>\
         <td class=\"desc\"><span>{}</span>",
        if shade { " class=\"shade\"" } else { "" },
        ns_html,
        p.state.code(),
        ns_q,
        ns_html,
        state_class(p.state),
        state_lower,
        state_lower,
        html(&p.description),
    );
    if let Some(detail) = row_detail(p, utc_offset) {
        let _ = write!(out, " <span class=\"detail\">{}</span>", html(&detail));
    }
    out.push_str("</td>");
    if stats_cols {
        write_stats_cells(out, p);
    }
    out.push_str("<td class=\"action\"><ul>");
    for slot in row_actions(p.state) {
        match slot {
            Some((label, action)) if !read_only => {
                let confirm = if action == "clearlog" {
                    format!(" data-confirm=\"Clear the log files of {ns_html}?\"")
                } else {
                    String::new()
                };
                let _ = write!(
                    out,
                    "<li><button type=\"submit\" class=\"act act-{action}\" formaction=\"index.html?processname={ns_q}&amp;action={action}\" data-action=\"{action}\" data-ns=\"{ns_html}\"{confirm} aria-label=\"{label} {ns_html}\">{label}</button></li>"
                );
            }
            _ => out.push_str("<li class=\"noaction\"><span class=\"hidden\"></span></li>"),
        }
    }
    let _ = writeln!(
        out,
        "<li><a href=\"tail.html?processname={ns_q}\" target=\"_blank\">Tail -f Stdout</a></li>\
         <li><a href=\"tail.html?processname={ns_q}&amp;channel=stderr\" target=\"_blank\">Tail -f Stderr</a></li>\
         </ul></td></tr>"
    );
}

/// The status page (`/` and `/index.html`): the process table, the global buttons and the
/// message area, all usable without scripts; `assets/app.js` then makes it live.
///
/// `message` is the `?message=` text; `confirm` an action requested by GET (shown as a
/// confirmation form, nothing done); `csrf_token` a fresh [`csrf::CsrfKey::token`].
pub fn render_status_page(
    snapshot: &StatusSnapshot,
    message: Option<&str>,
    confirm: Option<&Action>,
    csrf_token: &str,
) -> String {
    let rows = snapshot.sorted_rows();
    let mut out = String::with_capacity(4096 + rows.len() * 900);
    head(&mut out, "Supervisor Status", csrf_token);
    let _ = writeln!(
        out,
        "<body class=\"page-status\" data-now=\"{}\"{}>",
        snapshot.now,
        if snapshot.read_only {
            " data-read-only=\"1\""
        } else {
            ""
        }
    );
    out.push_str("<a class=\"skip\" href=\"#statustable\">Skip to the process list</a>\n");
    out.push_str("<div id=\"wrapper\">\n");
    let _ = writeln!(
        out,
        "<div id=\"header\"><img src=\"images/icon.svg\" alt=\"\" width=\"32\" height=\"32\" /> \
         <h1>Supervisor <span class=\"ident\">{}</span></h1>\
         <span id=\"live\" class=\"live\" role=\"status\" aria-live=\"polite\"></span></div>",
        html(&snapshot.identification)
    );
    out.push_str("<div id=\"content\">\n");
    match message {
        Some(m) => {
            let _ = writeln!(
                out,
                "<div id=\"statusmessage\" class=\"status_msg{}\" role=\"status\" aria-live=\"polite\">{}</div>",
                if is_error_message(m) { " error" } else { "" },
                html(m)
            );
        }
        None => out.push_str(
            "<div id=\"statusmessage\" class=\"hidden\" role=\"status\" aria-live=\"polite\"></div>\n",
        ),
    }
    let token_field = format!(
        "<input type=\"hidden\" name=\"{}\" value=\"{}\" />",
        csrf::FORM_FIELD,
        html(csrf_token)
    );
    if let Some(action) = confirm {
        let _ = writeln!(
            out,
            "<form id=\"confirm\" class=\"confirm\" action=\"index.html?{}\" method=\"post\">{}\
             <p>Nothing was changed: actions are carried out only from the page's buttons. \
             Do you want to {}?</p>\
             <button type=\"submit\" class=\"danger\">Yes, {}</button> <a href=\"index.html\">Cancel</a></form>",
            html(&action.query()),
            token_field,
            html(&action.describe()),
            html(&action.describe()),
        );
    }
    out.push_str("<form id=\"form\" action=\"index.html\" method=\"post\">\n");
    out.push_str(&token_field);
    if snapshot.read_only {
        out.push_str(
            "\n<ul id=\"buttons\" class=\"clr\">\
             <li class=\"action-button\"><button type=\"submit\" name=\"action\" value=\"refresh\">Refresh</button></li>\
             <li class=\"readonly-note\">read-only access</li></ul>\n",
        );
    } else {
        out.push_str(
        "\n<ul id=\"buttons\" class=\"clr\">\
         <li class=\"action-button\"><button type=\"submit\" name=\"action\" value=\"refresh\">Refresh</button></li>\
         <li class=\"action-button\"><button type=\"submit\" name=\"action\" value=\"startall\">Start All</button></li>\
         <li class=\"action-button\"><button type=\"submit\" name=\"action\" value=\"restartall\" data-confirm=\"Restart all processes?\">Restart All</button></li>\
         <li class=\"action-button\"><button type=\"submit\" name=\"action\" value=\"stopall\" data-confirm=\"Stop all processes?\" class=\"danger\">Stop All</button></li>\
         </ul>\n",
    );
    }
    out.push_str("<div id=\"toolbar\" class=\"toolbar\" hidden=\"hidden\"></div>\n");
    if rows.is_empty() {
        out.push_str("<p id=\"statustable\" class=\"empty\">No programs to manage</p>\n");
    } else {
        // CPU, memory and restart columns when the daemon reports stats (supervisor-rs).
        let stats_cols = rows.iter().any(|p| p.stats.is_some());
        let (stat_cols, stat_heads) = if stats_cols {
            (
                "<col class=\"c-cpu\" /><col class=\"c-mem\" /><col class=\"c-restarts\" />",
                "<th class=\"cpu\" scope=\"col\">CPU</th><th class=\"mem\" scope=\"col\">Memory</th>\
                 <th class=\"restarts\" scope=\"col\">Restarts</th>",
            )
        } else {
            ("", "")
        };
        let _ = write!(
            out,
            "<table cellspacing=\"0\" id=\"statustable\">\n<colgroup><col class=\"c-name\" />\
             <col class=\"c-state\" /><col class=\"c-desc\" />{stat_cols}<col class=\"c-action\" /></colgroup>\n<thead><tr>\
             <th class=\"name\" scope=\"col\">Name</th><th class=\"state\" scope=\"col\">State</th>\
             <th class=\"desc\" scope=\"col\">Description</th>{stat_heads}<th class=\"action\" scope=\"col\">Action</th>\
             </tr></thead>\n<tbody id=\"tbody\">\n",
        );
        for (i, p) in rows.iter().enumerate() {
            write_row(
                &mut out,
                p,
                i % 2 == 1,
                snapshot.utc_offset,
                snapshot.read_only,
                stats_cols,
            );
        }
        out.push_str("</tbody>\n</table>\n");
    }
    out.push_str(
        "<div id=\"pager\" class=\"pager\" hidden=\"hidden\"></div>\n</form>\n</div>\n</div>\n",
    );
    let _ = writeln!(
        out,
        "<div id=\"footer\" class=\"clr\"><div class=\"left\"><strong>supervisor-rs</strong> \
         <span class=\"version\">{}</span> (compatible with <a href=\"http://supervisord.org\">Supervisor</a> \
         <span>{}</span>)</div><div class=\"right\">&copy; 2006-<span>{}</span> \
         <strong><a href=\"http://agendaless.com/\">Agendaless Consulting and Contributors</a></strong></div></div>",
        crate::PRODUCT_VERSION,
        html(&snapshot.version),
        snapshot.year
    );
    out.push_str("</body>\n</html>\n");
    out
}

/// What reading the log for the tail page gave: the text (`readProcessStdoutLog(ns,
/// -limit, 0)` or its stderr twin) or the fault.
pub type TailLog<'a> = Result<&'a str, &'a Fault>;

/// The tail page (`/tail.html`): the last bytes of a log in a `<pre>`, a Refresh link, and
/// (with scripts) a live view following `/logtail/<ns>` with follow/pause controls.
/// `processname` `None` or empty shows `No process name found` (`log` is then ignored).
pub fn render_tail_page(
    processname: Option<&str>,
    limit: u64,
    channel: Channel,
    log: TailLog<'_>,
    csrf_token: &str,
) -> String {
    let name = processname.filter(|n| !n.is_empty());
    let text: String = match (name, log) {
        (None, _) => "No process name found".to_string(),
        (Some(_), Ok(t)) => t.to_string(),
        (Some(ns), Err(f)) if f.fault_code() == Some(FaultCode::NoFile) => {
            format!("No file for {ns}")
        }
        (Some(_), Err(f)) => format!("ERROR: unexpected rpc fault [{}] {}", f.code, f.string),
    };
    let title = format!(
        "Supervisor tail of process {}",
        processname.unwrap_or("None")
    );
    let mut out = String::with_capacity(text.len() + 4096);
    head(&mut out, &title, csrf_token);
    let chan = match channel {
        Channel::Stdout => "stdout",
        Channel::Stderr => "stderr",
    };
    let _ = writeln!(
        out,
        "<body class=\"page-tail\" data-ns=\"{}\" data-channel=\"{chan}\" data-live=\"{}\">",
        html(name.unwrap_or("")),
        u8::from(name.is_some() && log.is_ok())
    );
    out.push_str("<div id=\"wrapper\" class=\"tail\">\n");
    let _ = writeln!(
        out,
        "<div id=\"header\"><a href=\"index.html\" class=\"back\">&#8592; Status</a> \
         <h1>{}</h1> <span class=\"chan\">{chan}</span>\
         <span id=\"live\" class=\"live\" role=\"status\" aria-live=\"polite\"></span></div>",
        html(name.unwrap_or("(no process)"))
    );
    if let Some(ns) = name {
        let q = escape::url_quote(ns);
        let _ = writeln!(
            out,
            "<div id=\"tailcontrols\" class=\"toolbar\">\
             <a class=\"button\" id=\"refresh\" href=\"tail.html?processname={q}&amp;limit={limit}{}\">Refresh</a> \
             <a class=\"button{}\" href=\"tail.html?processname={q}&amp;limit={limit}\">stdout</a> \
             <a class=\"button{}\" href=\"tail.html?processname={q}&amp;limit={limit}&amp;channel=stderr\">stderr</a> \
             <a class=\"button\" id=\"raw\" href=\"logtail/{q}{}\" target=\"_blank\" title=\"The plain log stream\">raw</a> \
             <span class=\"js-only\"><button type=\"button\" id=\"pause\" aria-pressed=\"false\">Pause</button> \
             <label><input type=\"checkbox\" id=\"follow\" checked=\"checked\" /> Follow</label> \
             <button type=\"button\" id=\"wrap\" aria-pressed=\"true\">Wrap</button></span>\
             <span class=\"js-only logsearch\" role=\"search\"><input type=\"search\" id=\"logsearch\" \
             placeholder=\"Search the log  ( / )\" aria-label=\"Search the log\" autocomplete=\"off\" /> \
             <span id=\"searchcount\" class=\"searchcount\" aria-live=\"polite\"></span>\
             <button type=\"button\" id=\"searchprev\" aria-label=\"Previous match\" title=\"Previous match (Shift+Enter)\">&#8593;</button>\
             <button type=\"button\" id=\"searchnext\" aria-label=\"Next match\" title=\"Next match (Enter)\">&#8595;</button></span></div>\
             <div id=\"tailstatus\" class=\"tailstatus js-only\"><button type=\"button\" id=\"older\" hidden=\"hidden\">Load older lines</button> \
             <span id=\"tailinfo\"></span></div>",
            if channel == Channel::Stderr { "&amp;channel=stderr" } else { "" },
            if channel == Channel::Stdout { " current" } else { "" },
            if channel == Channel::Stderr { " current" } else { "" },
            if channel == Channel::Stderr { "/stderr" } else { "" },
        );
    }
    let _ = writeln!(
        out,
        "<pre id=\"tailbody\" class=\"wrap\" tabindex=\"0\" aria-label=\"log output\">{}</pre>",
        html(&text)
    );
    out.push_str("</div>\n</body>\n</html>\n");
    out
}

/// The reference's small HTML error body (used for 301, 403, 404, 405, 413, 500):
/// `Error code <code>.` and `Message: <reason>.`
pub fn error_page(code: u16, reason: &str) -> String {
    format!(
        "<head>\n<title>Error response</title>\n</head>\n<body>\n<h1>Error response</h1>\n<p>Error code {code}.\n<p>Message: {}.\n</body>",
        html(reason)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::snapshot::ProcessRow;

    fn row(group: &str, name: &str, state: ProcessState, desc: &str) -> ProcessRow {
        ProcessRow {
            group: group.into(),
            name: name.into(),
            state,
            description: desc.into(),
            pid: 0,
            start: 0,
            stop: 0,
            exitstatus: 0,
            last_exit: None,
            stats: None,
        }
    }

    fn snap(processes: Vec<ProcessRow>) -> StatusSnapshot {
        StatusSnapshot {
            version: "4.3.0".into(),
            identification: "supervisor".into(),
            now: 1000,
            utc_offset: 0,
            year: 2026,
            processes,
            read_only: false,
        }
    }

    #[test]
    fn status_page_has_the_reference_structure() {
        let s = snap(vec![
            row(
                "web",
                "web",
                ProcessState::Running,
                "pid 42, uptime 0:01:02",
            ),
            row(
                "grp",
                "b",
                ProcessState::Fatal,
                "Exited too quickly (process log may have details)",
            ),
            row("grp", "a", ProcessState::Stopped, "Not started"),
            row("z", "z", ProcessState::Starting, ""),
        ]);
        let page = render_status_page(&s, None, None, "tok");
        assert!(page.contains("<title>Supervisor Status</title>"));
        assert!(page.contains("XHTML 1.0 Transitional"));
        // Sorted by (group, name): grp:a, grp:b, web, z.
        let pos = |needle: &str| {
            page.find(needle)
                .unwrap_or_else(|| panic!("{needle} missing"))
        };
        assert!(pos("data-ns=\"grp:a\"") < pos("data-ns=\"grp:b\""));
        assert!(pos("data-ns=\"grp:b\"") < pos("data-ns=\"web\""));
        assert!(pos("data-ns=\"web\"") < pos("data-ns=\"z\""));
        assert!(page.contains("<span class=\"statusrunning st-running\">running</span>"));
        assert!(page.contains("<span class=\"statuserror st-fatal\">fatal</span>"));
        assert!(page.contains("<span class=\"statusnominal st-stopped\">stopped</span>"));
        assert!(page.contains("href=\"tail.html?processname=grp%3Aa\" target=\"_blank\">grp:a</a>"));
        // The name column comes first.
        assert!(page.contains("<tr data-ns=\"grp:a\" data-state=\"0\"><td class=\"name\">"));
        assert!(pos("<th class=\"name\"") < pos("<th class=\"state\""));
        assert!(page.contains("formaction=\"index.html?processname=web&amp;action=stop\""));
        assert!(page.contains("formaction=\"index.html?processname=web&amp;action=restart\""));
        assert!(page.contains("formaction=\"index.html?processname=grp%3Aa&amp;action=start\""));
        assert!(page.contains(
            "<a href=\"tail.html?processname=web&amp;channel=stderr\" target=\"_blank\">Tail -f Stderr</a>"
        ));
        assert!(!page.contains("logtail/"));
        assert!(page.contains("data-confirm=\"Clear the log files of web?\""));
        assert!(page.contains("value=\"startall\">Start All<"));
        assert!(page.contains("name=\"csrf_token\" value=\"tok\""));
        assert!(
            page.contains(">Refresh<")
                && page.contains(">Restart All<")
                && page.contains(">Stop All<")
        );
        assert!(page.contains(&format!(
            "<strong>supervisor-rs</strong> <span class=\"version\">{}</span> (compatible with \
             <a href=\"http://supervisord.org\">Supervisor</a> <span>4.3.0</span>)",
            crate::PRODUCT_VERSION
        )));
        assert!(page.contains("&copy; 2006-<span>2026</span>"));
        assert_eq!(page.matches("<tr class=\"shade\"").count(), 2);
        assert!(page.contains("id=\"statusmessage\" class=\"hidden\""));
        // A STARTING row can be stopped (not started or restarted), and its log cleared.
        let z = &page[pos("data-ns=\"z\"")..];
        let z = &z[..z.find("</tr>").unwrap()];
        assert!(!z.contains("action=start") && !z.contains("action=restart"));
        assert!(z.contains("action=stop") && z.contains("action=clearlog"));
        assert_eq!(z.matches("class=\"hidden\"").count(), 1);
    }

    #[test]
    fn ended_rows_show_exit_status_and_times() {
        let mut exited = row("r", "r", ProcessState::Exited, "Nov 21 06:14 PM");
        exited.exitstatus = 3;
        exited.start = 1_795_284_920;
        exited.stop = 1_795_284_925;
        assert_eq!(
            row_detail(&exited, 3600).as_deref(),
            Some("exit status 3 \u{b7} started Nov 21 19:15:20 \u{b7} stopped 19:15:25")
        );
        // A BACKOFF row still stopped at an earlier run: no stop time after the start.
        let mut backoff = exited.clone();
        backoff.state = ProcessState::Backoff;
        backoff.stop = backoff.start - 10;
        assert_eq!(
            row_detail(&backoff, 0).as_deref(),
            Some("started Nov 21 18:15:20")
        );
        let mut later = exited.clone();
        later.stop += 86_400;
        assert!(row_detail(&later, 0)
            .unwrap()
            .ends_with("stopped Nov 22 18:15:25"));
        let mut fatal = backoff.clone();
        fatal.state = ProcessState::Fatal;
        fatal.last_exit = Some("exit status 1".into());
        assert_eq!(
            row_detail(&fatal, 0).as_deref(),
            Some("exit status 1 \u{b7} started Nov 21 18:15:20")
        );
        let never = row("f", "f", ProcessState::Fatal, "can't find command 'x'");
        assert_eq!(row_detail(&never, 0), None);
        let running = row("a", "a", ProcessState::Running, "");
        assert_eq!(row_detail(&running, 0), None);
        let page = render_status_page(&snap(vec![exited]), None, None, "t");
        assert!(page.contains(
            "<span>Nov 21 06:14 PM</span> <span class=\"detail\">exit status 3 \u{b7} started Nov 21 18:15:20"
        ));
        // A BACKOFF row gets a Stop button.
        let page = render_status_page(&snap(vec![backoff]), None, None, "t");
        assert!(page.contains("processname=r&amp;action=stop"));
    }

    #[test]
    fn empty_status_page_says_so() {
        let page = render_status_page(&snap(vec![]), Some("All stopped at x"), None, "t");
        assert!(page.contains("No programs to manage"));
        assert!(!page.contains("<table"));
        assert!(page.contains(
            "class=\"status_msg\" role=\"status\" aria-live=\"polite\">All stopped at x</div>"
        ));
    }

    #[test]
    fn hostile_names_descriptions_and_messages_are_escaped() {
        let evil = "<script>alert(1)</script>";
        let s = snap(vec![row("g\"'&", evil, ProcessState::Backoff, evil)]);
        let page = render_status_page(&s, Some(evil), Some(&Action::Stop(evil.into())), "\"><x");
        assert!(!page.contains("<script>alert"), "unescaped script in page");
        assert!(!page.contains("\"><x"));
        assert!(page.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
        assert!(page.contains("g&quot;&#39;&amp;:&lt;script&gt;"));
        assert!(page.contains("processname=g%22%27%26%3A%3Cscript%3Ealert%281%29%3C/script%3E"));
        let tail = render_tail_page(Some(evil), 1024, Channel::Stdout, Ok(evil), evil);
        assert!(!tail.contains("<script>alert"));
        assert!(tail.contains("<title>Supervisor tail of process &lt;script&gt;"));
        assert!(!error_page(404, evil).contains("<script>"));
    }

    #[test]
    fn get_confirmation_is_a_post_form() {
        let s = snap(vec![row("web", "web", ProcessState::Running, "")]);
        let page = render_status_page(&s, None, Some(&Action::Stop("web".into())), "tok");
        assert!(page.contains(
            "<form id=\"confirm\" class=\"confirm\" action=\"index.html?processname=web&amp;action=stop\" method=\"post\">"
        ));
        assert!(page.contains("Yes, stop process web"));
    }

    #[test]
    fn tail_page_texts_match_the_reference() {
        let t = render_tail_page(
            Some("grp:a"),
            2048,
            Channel::Stdout,
            Ok("line 1\nline 2\n"),
            "t",
        );
        assert!(t.contains("<title>Supervisor tail of process grp:a</title>"));
        assert!(t.contains(">line 1\nline 2\n</pre>"));
        assert!(t.contains("href=\"tail.html?processname=grp%3Aa&amp;limit=2048\">Refresh</a>"));
        let none = render_tail_page(None, 1024, Channel::Stdout, Ok(""), "t");
        assert!(none.contains(">No process name found</pre>"));
        assert!(none.contains("<title>Supervisor tail of process None</title>"));
        let nofile = Fault::new(FaultCode::NoFile, "/tmp/x");
        let t = render_tail_page(Some("a"), 1024, Channel::Stdout, Err(&nofile), "t");
        assert!(t.contains(">No file for a</pre>"));
        let bad = Fault::new(FaultCode::BadName, "a");
        let t = render_tail_page(Some("a"), 1024, Channel::Stdout, Err(&bad), "t");
        assert!(t.contains(">ERROR: unexpected rpc fault [10] BAD_NAME: a</pre>"));
        let t = render_tail_page(Some("a"), 1024, Channel::Stderr, Ok(""), "t");
        assert!(t.contains("data-channel=\"stderr\""));
        assert!(t.contains("id=\"raw\" href=\"logtail/a/stderr\""));
        assert!(t.contains("id=\"logsearch\""));
    }

    #[test]
    fn error_page_matches_the_reference() {
        assert_eq!(
            error_page(400, "Bad Request"),
            "<head>\n<title>Error response</title>\n</head>\n<body>\n<h1>Error response</h1>\n<p>Error code 400.\n<p>Message: Bad Request.\n</body>"
        );
    }
}
