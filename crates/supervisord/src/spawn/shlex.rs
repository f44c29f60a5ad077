//! A private fallback for `supervisor_config::split_command`: Python's
//! `shlex.split(s)` (POSIX mode, whitespace splitting, no comments), with its messages.
//! Removed once the config crate exports the shared implementation.

#[derive(Clone, Copy, PartialEq)]
enum State {
    Space,
    Word,
    Quote(char),
    Escape(EscapeFrom),
}

#[derive(Clone, Copy, PartialEq)]
enum EscapeFrom {
    Word,
    DoubleQuote,
}

/// Splits a command line like Python's `shlex.split` (POSIX mode).
/// Errors are `No closing quotation` and `No escaped character`.
pub fn split(s: &str) -> Result<Vec<String>, String> {
    let mut words = Vec::new();
    let mut token = String::new();
    let mut quoted = false;
    let mut state = State::Space;
    for c in s.chars() {
        match state {
            State::Space | State::Word => {
                if matches!(c, ' ' | '\t' | '\r' | '\n') {
                    if state == State::Word {
                        if !token.is_empty() || quoted {
                            words.push(std::mem::take(&mut token));
                        }
                        quoted = false;
                        state = State::Space;
                    }
                } else if c == '\'' || c == '"' {
                    quoted = true;
                    state = State::Quote(c);
                } else if c == '\\' {
                    state = State::Escape(EscapeFrom::Word);
                } else {
                    token.push(c);
                    state = State::Word;
                }
            }
            State::Quote(q) => {
                if c == q {
                    state = State::Word;
                } else if q == '"' && c == '\\' {
                    state = State::Escape(EscapeFrom::DoubleQuote);
                } else {
                    token.push(c);
                }
            }
            State::Escape(from) => {
                if from == EscapeFrom::DoubleQuote && c != '"' && c != '\\' {
                    token.push('\\');
                }
                token.push(c);
                state = match from {
                    EscapeFrom::Word => State::Word,
                    EscapeFrom::DoubleQuote => State::Quote('"'),
                };
            }
        }
    }
    match state {
        State::Quote(_) => Err("No closing quotation".into()),
        State::Escape(_) => Err("No escaped character".into()),
        State::Word => {
            if !token.is_empty() || quoted {
                words.push(token);
            }
            Ok(words)
        }
        State::Space => Ok(words),
    }
}

#[cfg(test)]
mod tests {
    use super::split;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn splits_like_python_shlex() {
        assert_eq!(split("a b  c").unwrap(), s(&["a", "b", "c"]));
        assert_eq!(
            split("sh -c 'echo hi'").unwrap(),
            s(&["sh", "-c", "echo hi"])
        );
        assert_eq!(split("a \"\" b").unwrap(), s(&["a", "", "b"]));
        assert_eq!(split("a\\ b").unwrap(), s(&["a b"]));
        assert_eq!(split("\"a\\\"b\\n\"").unwrap(), s(&["a\"b\\n"]));
        assert_eq!(split("'a\\b'").unwrap(), s(&["a\\b"]));
        assert_eq!(split("x'y'z").unwrap(), s(&["xyz"]));
        assert_eq!(split("a # b").unwrap(), s(&["a", "#", "b"]));
        assert_eq!(split("   ").unwrap(), Vec::<String>::new());
        assert_eq!(split("'abc").unwrap_err(), "No closing quotation");
        assert_eq!(split("abc\\").unwrap_err(), "No escaped character");
    }
}
