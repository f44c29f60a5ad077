//! `help`, dispatch and tab completion, read from the command table.

use super::*;

#[test]
fn help_and_syntax() {
    let mut h = harness(false, &[]);
    // the reference's block as it is, then ours
    assert_eq!(h.run("help"), ("\ndefault commands (type help <topic>):\n=====================================\nadd    exit      open  reload  restart   start   tail   \navail  fg        pid   remove  shutdown  status  update \nclear  maintail  quit  reread  signal    stop    version\n\nsupervisor-rs commands (type help <topic>):\n===========================================\ncompletions  rotate  token  top\n\n".into(), 0));
    assert!(h.run("help status").0.contains("\nstatus --json [...]\t"));
    assert!(h.run("help avail").0.contains("\navail --json\t"));
    assert!(h
        .run("help completions")
        .0
        .starts_with("completions bash|zsh|fish\t"));
    assert_eq!(h.run("help foo").0, "*** No help on foo\n");
    assert_eq!(
        h.run("? help").0,
        "help\t\tPrint a list of available actions\nhelp <action>\tPrint help for <action>\n"
    );
    assert_eq!(
        h.run("bogus x"),
        ("*** Unknown syntax: bogus x\n".into(), 1)
    );
    assert_eq!(h.run("-x"), ("*** Unknown syntax: -x\n".into(), 1));
    assert_eq!(h.run("help maintail").0, "maintail -f \tContinuous tail of supervisor main log file (Ctrl-C to exit)\nmaintail -100\tlast 100 *bytes* of supervisord main log file\nmaintail\tlast 1600 *bytes* of supervisor main log file\n\n");
    assert!(h.ctl.onecmd("quit"));
}

#[test]
fn completion() {
    let mut h = harness(true, &[]);
    assert_eq!(h.ctl.complete("sta", "sta"), vec!["start ", "status "]);
    h.answer(
        "getAllProcessInfo",
        Ok(Value::Array(vec![
            proc_info("web", "web", 20, "RUNNING", ""),
            proc_info("grp", "a", 20, "RUNNING", ""),
        ])),
    );
    assert_eq!(
        h.ctl.complete("start ", ""),
        vec!["web ", "grp:a ", "grp:* "]
    );
    // cached until the next command
    assert_eq!(h.ctl.complete("add g", "g"), vec!["grp "]);
}

/// The table, dispatch, `help` and completion agree: every row runs (no "Unknown
/// syntax"), has its help, is listed where its row says, and completes as its row says.
#[test]
fn table_help_dispatch_and_completion_agree() {
    let mut h = harness(false, &[]);
    let listing = h.run("help").0;
    // the two blocks' names: the lines between an `===` underline and a blank line
    let mut blocks: Vec<Vec<&str>> = Vec::new();
    let mut inside = false;
    for line in listing.lines() {
        if line.starts_with("===") {
            blocks.push(Vec::new());
            inside = true;
        } else if line.is_empty() {
            inside = false;
        } else if inside {
            blocks.last_mut().unwrap().extend(line.split_whitespace());
        }
    }
    let [reference, extra] = &blocks[..] else {
        panic!("two blocks: {listing}")
    };
    let listed = |block: &[&str], name: &str| block.contains(&name);
    for c in table::TABLE {
        // help <name>: the row's text and a newline
        assert_eq!(
            h.run(&format!("help {}", c.name)).0,
            format!("{}\n", c.help)
        );
        assert_eq!(
            listed(reference, c.name),
            c.listing == table::Listing::Reference
        );
        assert_eq!(listed(extra, c.name), c.listing == table::Listing::Extra);
        // offered as a command name exactly when the row says so
        let offered = h.ctl.complete(c.name, c.name);
        assert_eq!(
            offered.contains(&format!("{} ", c.name)),
            c.completed(),
            "{}",
            c.name
        );
        for a in c.aliases {
            assert!(is_command(a));
            assert_eq!(
                h.run(&format!("help {a}")).0,
                format!("*** No help on {a}\n")
            );
        }
        assert!(is_command(c.name));
    }
    // dispatch: every row runs its handler; a client whose server refuses connections
    // makes the server commands fail quickly, which is not "Unknown syntax"
    let out = Buf::default();
    let mut ctl = Controller::new(
        settings(false),
        Box::new(out.clone()),
        Box::new(NoInput(VecDeque::new())),
        Box::new(|_| {
            Err(CtlError::Io(std::io::Error::from_raw_os_error(
                libc::ECONNREFUSED,
            )))
        }),
        Box::new(|_, _, _| Ok(true)),
    );
    ctl.set_err(Box::new(Buf::default()));
    for c in table::TABLE {
        for word in std::iter::once(&c.name).chain(c.aliases) {
            out.0.borrow_mut().clear();
            let stop = ctl.onecmd(word);
            let text = String::from_utf8(out.0.borrow().clone()).unwrap();
            assert!(!text.contains("Unknown syntax"), "{word}: {text}");
            assert!(!text.is_empty(), "{word} ran and said something");
            assert_eq!(stop, c.ends_shell, "{word}");
        }
    }
    out.0.borrow_mut().clear();
    assert!(!ctl.onecmd("bogus"));
    assert_eq!(
        String::from_utf8(out.0.borrow().clone()).unwrap(),
        "*** Unknown syntax: bogus\n"
    );
    // completion after a command: names of the row's kind (and nothing for the others)
    h.answer(
        "getAllProcessInfo",
        Ok(Value::Array(vec![
            proc_info("web", "web", 20, "RUNNING", ""),
            proc_info("grp", "a", 20, "RUNNING", ""),
        ])),
    );
    for c in table::TABLE {
        let got = h.ctl.complete(&format!("{} ", c.name), "");
        let want: Vec<String> = match c.args {
            table::Args::Nothing => vec![],
            table::Args::Groups => vec!["web ".into(), "grp ".into()],
            table::Args::Processes => vec!["web ".into(), "grp:a ".into(), "grp:* ".into()],
            table::Args::Commands => h.ctl.complete("", ""),
        };
        assert_eq!(got, want, "{}", c.name);
    }
    // a blank line completes to the reference's vocabulary: `help`, then its commands
    let vocab = h.ctl.complete("", "");
    assert_eq!(vocab[0], "help ");
    assert_eq!(vocab.len(), table::completed_names().len());
}
