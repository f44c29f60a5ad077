//! Property tests (bounded case counts so they run in `cargo test`): the INI reader, the
//! `%`-expander, the shlex splitters and the whole loader never panic or hang on arbitrary
//! input, and round-trip where a round trip is meaningful.

use proptest::prelude::*;
use std::path::PathBuf;
use supervisor_config::ini::Ini;
use supervisor_config::load::{load_with_context, LoadContext};
use supervisor_config::pyfmt::{format, Expansions, PyVal, Scope};
use supervisor_config::shlex::{parse_key_value_pairs, split_command};

/// Text biased towards the characters the grammars care about.
fn spicy() -> impl Strategy<Value = String> {
    proptest::collection::vec(
        prop_oneof![
            Just("[".to_string()),
            Just("]".to_string()),
            Just("=".to_string()),
            Just(":".to_string()),
            Just(";".to_string()),
            Just("#".to_string()),
            Just(" ".to_string()),
            Just("\t".to_string()),
            Just("\n".to_string()),
            Just("\r".to_string()),
            Just("%".to_string()),
            Just("%(".to_string()),
            Just(")s".to_string()),
            Just("'".to_string()),
            Just("\"".to_string()),
            Just("\\".to_string()),
            Just(",".to_string()),
            Just("program:".to_string()),
            Just("supervisord".to_string()),
            "[a-z0-9_]{1,6}",
            "\\PC{0,3}",
        ],
        0..60,
    )
    .prop_map(|v| v.concat())
}

fn exp() -> Expansions {
    let mut e = Expansions::new();
    e.set_str("here", "/h");
    e.set_str("program_name", "p");
    e.set("process_num", PyVal::Int(3));
    e
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 150, .. ProptestConfig::default() })]

    #[test]
    fn ini_never_panics(text in spicy()) {
        let mut ini = Ini::new();
        let _ = ini.read_str(&text, "f.conf");
    }

    #[test]
    fn ini_round_trips_simple_documents(
        sections in proptest::collection::btree_map("[a-z][a-z0-9_:-]{0,8}",
            proptest::collection::btree_map("[a-z][a-z0-9_.]{0,8}", "[a-zA-Z0-9/_.,=+-]{0,12}", 0..6), 1..5)
    ) {
        let mut text = String::new();
        for (s, kv) in &sections {
            text.push_str(&format!("[{s}]\n"));
            for (k, v) in kv {
                text.push_str(&format!("{k} = {v}\n"));
            }
        }
        let mut ini = Ini::new();
        ini.read_str(&text, "f.conf").unwrap();
        for (s, kv) in &sections {
            prop_assert!(ini.has_section(s));
            for (k, v) in kv {
                prop_assert_eq!(&ini.get(s, k).unwrap().value, v);
            }
        }
    }

    #[test]
    fn format_never_panics(s in spicy()) {
        let e = exp();
        let _ = format(&s, &Scope::one(&e));
    }

    #[test]
    fn escaped_percent_round_trips(s in "\\PC{0,40}") {
        let e = exp();
        let escaped = s.replace('%', "%%");
        prop_assert_eq!(format(&escaped, &Scope::one(&e)).unwrap(), s);
    }

    #[test]
    fn names_expand(prefix in "[a-z ]{0,5}", width in 0usize..6) {
        let e = exp();
        let f = format!("{prefix}%(program_name)s-%(process_num)0{width}d");
        let want = format!("{prefix}p-{:0width$}", 3, width = width);
        prop_assert_eq!(format(&f, &Scope::one(&e)).unwrap(), want);
    }

    #[test]
    fn shlex_never_panics(s in spicy()) {
        let _ = split_command(&s);
        let _ = parse_key_value_pairs(&s);
    }

    #[test]
    fn shlex_quoting_round_trips(words in proptest::collection::vec("[^\u{0}]{0,8}", 0..6)) {
        // quote each word the way Python's shlex.quote does and split it back
        let line: Vec<String> = words
            .iter()
            .map(|w| format!("'{}'", w.replace('\'', "'\"'\"'")))
            .collect();
        prop_assert_eq!(split_command(&line.join(" ")).unwrap(), words);
    }

    #[test]
    fn key_value_pairs_round_trip(pairs in proptest::collection::btree_map("[A-Z][A-Z0-9_]{0,6}", "[a-z0-9 ,=@$]{0,8}", 0..5)) {
        let text: Vec<String> = pairs.iter().map(|(k, v)| format!("{k}=\"{v}\"")).collect();
        let got = parse_key_value_pairs(&text.join(",")).unwrap();
        let want: Vec<(String, String)> = pairs.into_iter().collect();
        prop_assert_eq!(got, want);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 40, .. ProptestConfig::default() })]

    #[test]
    fn loader_never_panics(body in spicy()) {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("s.conf");
        std::fs::write(&p, format!("[supervisord]\nchildlogdir=%(here)s\n[program:x]\ncommand=c\n{body}")).unwrap();
        let ctx = LoadContext {
            environ: vec![("HOME".into(), "/nonexistent".into())],
            hostname: "h".into(),
            cwd: PathBuf::from(dir.path()),
            uid: 0,
        };
        let _ = load_with_context(&p, &ctx);
    }
}
