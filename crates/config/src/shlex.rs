//! Python's `shlex`: POSIX `shlex.split` (how the daemon splits `command=` at spawn time)
//! and the non-POSIX lexer Supervisor 4.3 uses for `environment=` key/value pairs.

const WHITESPACE: &[char] = &[' ', '\t', '\r', '\n'];

fn is_ws(c: char) -> bool {
    WHITESPACE.contains(&c)
}

/// `shlex.split(cmd)` (POSIX mode, no comments). Errors carry Python's text:
/// `No closing quotation` or `No escaped character`.
pub fn split_command(cmd: &str) -> Result<Vec<String>, String> {
    #[derive(Clone, Copy, PartialEq)]
    enum St {
        Space,
        Word,
        Quote(char),
        Escape(char), // the state to return to: ' ' 'a' or a quote
    }
    let mut out = Vec::new();
    let mut token = String::new();
    let mut quoted = false;
    let mut st = St::Space;
    let mut chars = cmd.chars();
    loop {
        let next = chars.next();
        match st {
            St::Space => match next {
                None => break,
                Some(c) if is_ws(c) => {
                    if !token.is_empty() || quoted {
                        out.push(std::mem::take(&mut token));
                        quoted = false;
                    }
                }
                Some('\\') => st = St::Escape('a'),
                Some(c @ ('\'' | '"')) => st = St::Quote(c),
                Some(c) => {
                    token.push(c);
                    st = St::Word;
                }
            },
            St::Quote(q) => {
                quoted = true;
                match next {
                    None => return Err("No closing quotation".into()),
                    Some(c) if c == q => st = St::Word,
                    Some('\\') if q == '"' => st = St::Escape(q),
                    Some(c) => token.push(c),
                }
            }
            St::Escape(back) => match next {
                None => return Err("No escaped character".into()),
                Some(c) => {
                    if back == '"' && c != '\\' && c != back {
                        token.push('\\');
                    }
                    token.push(c);
                    st = match back {
                        'a' => St::Word,
                        q => St::Quote(q),
                    };
                }
            },
            St::Word => match next {
                None => break,
                Some(c) if is_ws(c) => {
                    st = St::Space;
                    if !token.is_empty() || quoted {
                        out.push(std::mem::take(&mut token));
                        quoted = false;
                    }
                }
                Some(c @ ('\'' | '"')) => st = St::Quote(c),
                Some('\\') => st = St::Escape('a'),
                Some(c) => token.push(c),
            },
        }
    }
    if !token.is_empty() || quoted {
        out.push(token);
    }
    Ok(out)
}

fn is_wordchar(c: char) -> bool {
    c.is_ascii_alphanumeric() || "_/.+-():".contains(c)
}

/// Tokens of `shlex.shlex(s)` in non-POSIX mode with `wordchars += '/.+-():'` and the
/// default `#` comment character (Supervisor 4.3's `environment=` lexer).
pub fn nonposix_tokens(s: &str) -> Result<Vec<String>, String> {
    #[derive(Clone, Copy, PartialEq)]
    enum St {
        Space,
        Word,
        Quote(char),
    }
    let cs: Vec<char> = s.chars().collect();
    let mut i = 0;
    let mut out = Vec::new();
    let mut token = String::new();
    let mut st = St::Space;
    let skip_line = |i: &mut usize| {
        while *i < cs.len() && cs[*i] != '\n' {
            *i += 1;
        }
        if *i < cs.len() {
            *i += 1;
        }
    };
    loop {
        let next = cs.get(i).copied();
        i += 1;
        match st {
            St::Space => match next {
                None => break,
                Some(c) if is_ws(c) => {}
                Some('#') => skip_line(&mut i),
                Some(c) if is_wordchar(c) => {
                    token.push(c);
                    st = St::Word;
                }
                Some(c @ ('\'' | '"')) => {
                    token.push(c);
                    st = St::Quote(c);
                }
                Some(c) => out.push(c.to_string()),
            },
            St::Quote(q) => match next {
                None => return Err("No closing quotation".into()),
                Some(c) => {
                    token.push(c);
                    if c == q {
                        out.push(std::mem::take(&mut token));
                        st = St::Space;
                    }
                }
            },
            St::Word => match next {
                None => break,
                Some(c) if is_ws(c) => {
                    st = St::Space;
                    out.push(std::mem::take(&mut token));
                }
                // non-POSIX: the comment is skipped but the word goes on
                Some('#') => skip_line(&mut i),
                Some(c) if is_wordchar(c) || c == '\'' || c == '"' => token.push(c),
                Some(c) => {
                    st = St::Space;
                    out.push(std::mem::take(&mut token));
                    out.push(c.to_string());
                }
            },
        }
    }
    if !token.is_empty() {
        out.push(token);
    }
    Ok(out)
}

/// `dict_of_key_value_pairs`: `KEY=val,KEY2="v,2"` → ordered pairs (later duplicates
/// replace the value in place, like a dict).
pub fn parse_key_value_pairs(arg: &str) -> Result<Vec<(String, String)>, String> {
    let tokens = nonposix_tokens(arg)?;
    let mut out: Vec<(String, String)> = Vec::new();
    let mut index: std::collections::HashMap<String, usize> = Default::default();
    let mut i = 0;
    while i < tokens.len() {
        if tokens.len() < i + 3 || tokens[i + 1] != "=" {
            return Err(format!(
                "Unexpected end of key/value pairs in value '{arg}'"
            ));
        }
        let k = tokens[i].clone();
        let v = tokens[i + 2].trim_matches(['\'', '"']).to_string();
        match index.get(&k) {
            Some(&at) => out[at].1 = v,
            None => {
                index.insert(k.clone(), out.len());
                out.push((k, v));
            }
        }
        i += 4;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn posix_split() {
        assert_eq!(split_command("a b  c").unwrap(), s(&["a", "b", "c"]));
        assert_eq!(
            split_command("bash -c 'x ; y' \"a\\\"b\" c\\ d").unwrap(),
            s(&["bash", "-c", "x ; y", "a\"b", "c d"])
        );
        assert_eq!(split_command("''").unwrap(), s(&[""]));
        assert_eq!(split_command("a\"b\"c").unwrap(), s(&["abc"]));
        assert_eq!(split_command("\"a\\b\"").unwrap(), s(&["a\\b"]));
        assert_eq!(split_command("'a\\b'").unwrap(), s(&["a\\b"]));
        assert_eq!(split_command("a\nb").unwrap(), s(&["a", "b"]));
        assert_eq!(split_command("").unwrap(), Vec::<String>::new());
        assert_eq!(split_command("'x").unwrap_err(), "No closing quotation");
        assert_eq!(split_command("x\\").unwrap_err(), "No escaped character");
    }

    #[test]
    fn key_value_pairs_like_python() {
        let kv = |x: &str| parse_key_value_pairs(x);
        assert_eq!(
            kv("A=1,B=\"x y\"").unwrap(),
            vec![("A".into(), "1".into()), ("B".into(), "x y".into())]
        );
        assert_eq!(
            kv("A = 1 , B = 2").unwrap(),
            vec![("A".into(), "1".into()), ("B".into(), "2".into())]
        );
        assert_eq!(
            kv("A=ab\"c d\"").unwrap(),
            vec![("A".into(), "ab\"c".into())]
        );
        assert_eq!(kv("A=é").unwrap(), vec![("A".into(), "é".into())]);
        assert_eq!(kv("").unwrap(), vec![]);
        assert_eq!(kv("A=\"x").unwrap_err(), "No closing quotation");
        for bad in ["A=1,B", "A=1,,B=2", "A=b#c\nD=e", "A=1;B=2 C=3"] {
            assert_eq!(
                kv(bad).unwrap_err(),
                format!("Unexpected end of key/value pairs in value '{bad}'")
            );
        }
        assert_eq!(
            kv("A=1,A=2,B=3").unwrap(),
            vec![("A".into(), "2".into()), ("B".into(), "3".into())]
        );
    }
}
