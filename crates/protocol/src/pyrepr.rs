//! Python's `repr()` of `str` and `bytes` values.
//!
//! The reference embeds these in user-visible text: log lines (`'<name>' stdout output`,
//! `Undecodable: b'...'` in event payloads), error messages of the config engine and of
//! `supervisorctl`. Every crate renders them through this one module.

/// Python `repr()` of a `str`: single quotes unless the text has `'` and no `"`; backslash
/// escapes for `\\`, the quote, `\t \n \r` and non-printable characters (`\xNN`, `\uNNNN`,
/// `\UNNNNNNNN`).
pub fn str_repr(s: &str) -> String {
    let quote = if s.contains('\'') && !s.contains('"') {
        '"'
    } else {
        '\''
    };
    let mut out = String::with_capacity(s.len() + 2);
    out.push(quote);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c if !is_printable(c) => push_escape(&mut out, c),
            c => out.push(c),
        }
    }
    out.push(quote);
    out
}

/// Python `repr()` of a `bytes` value: `b'...'` (or `b"..."` when the bytes contain `'` and
/// no `"`), printable ASCII as is, `\\ \t \n \r` and the quote escaped, other bytes `\xNN`.
pub fn bytes_repr(data: &[u8]) -> String {
    let quote = if data.contains(&b'\'') && !data.contains(&b'"') {
        b'"'
    } else {
        b'\''
    };
    let mut out = String::with_capacity(data.len() + 3);
    out.push('b');
    out.push(quote as char);
    for &byte in data {
        match byte {
            b'\\' => out.push_str("\\\\"),
            b'\t' => out.push_str("\\t"),
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            b if b == quote => {
                out.push('\\');
                out.push(b as char);
            }
            0x20..=0x7e => out.push(byte as char),
            _ => out.push_str(&format!("\\x{byte:02x}")),
        }
    }
    out.push(quote as char);
    out
}

/// Python's `str.isprintable()` for one character, for the characters that matter in
/// practice: C0/C1 controls, odd spaces, format characters, separators, surrogates, private
/// use and noncharacters are not printable.
pub fn is_printable(c: char) -> bool {
    let u = c as u32;
    if u < 0x20 || u == 0x7f {
        return false;
    }
    if u < 0x7f {
        return true;
    }
    !matches!(u,
        0x80..=0xa0 | 0xad | 0x1680 | 0x180e | 0x2000..=0x200f | 0x2028..=0x202f
        | 0x205f..=0x206f | 0x3000 | 0xd800..=0xf8ff | 0xfeff | 0xfff0..=0xfffb
        | 0xfffe | 0xffff | 0xe0000..=0xe0fff | 0xf0000..=0x10ffff)
}

/// Appends the escape Python's `repr()` uses for `c`: `\xNN`, `\uNNNN` or `\UNNNNNNNN`.
pub fn push_escape(out: &mut String, c: char) {
    let u = c as u32;
    if u < 0x100 {
        out.push_str(&format!("\\x{u:02x}"));
    } else if u < 0x10000 {
        out.push_str(&format!("\\u{u:04x}"));
    } else {
        out.push_str(&format!("\\U{u:08x}"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn str_repr_like_python() {
        assert_eq!(str_repr("abc"), "'abc'");
        assert_eq!(str_repr("it's"), "\"it's\"");
        assert_eq!(str_repr("it's \"x\""), "'it\\'s \"x\"'");
        assert_eq!(str_repr("a\tb\nc\\"), "'a\\tb\\nc\\\\'");
        assert_eq!(str_repr("\x01\x7f"), "'\\x01\\x7f'");
        assert_eq!(str_repr("\u{85}é\u{2028}"), "'\\x85é\\u2028'");
    }

    #[test]
    fn bytes_repr_like_python() {
        assert_eq!(bytes_repr(b"READY\n"), "b'READY\\n'");
        assert_eq!(bytes_repr(b"\xff\x00'"), "b\"\\xff\\x00'\"");
        assert_eq!(bytes_repr(b"'\""), "b'\\'\"'");
    }
}
