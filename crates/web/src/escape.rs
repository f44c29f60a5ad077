//! Escaping for the three contexts the pages write dynamic text into: HTML text and
//! attribute values, URL query components, and JSON embedded in responses.

use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use std::borrow::Cow;

/// Escapes `&`, `<`, `>`, `"` and `'` so the text is inert both as element content and inside
/// a quoted attribute value. Control characters other than tab, newline and carriage return
/// are replaced by U+FFFD (XHTML forbids them; browsers would otherwise show garbage).
pub fn html(text: &str) -> Cow<'_, str> {
    let needs = text
        .bytes()
        .any(|b| matches!(b, b'&' | b'<' | b'>' | b'"' | b'\'') || is_bad_control(b));
    if !needs {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c if c.is_ascii() && is_bad_control(c as u8) => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

fn is_bad_control(b: u8) -> bool {
    (b < 0x20 && !matches!(b, b'\t' | b'\n' | b'\r')) || b == 0x7f
}

/// The characters Python's `urllib.parse.quote` leaves alone by default: letters, digits,
/// `_.-~` and `/`. Everything else is percent-encoded as UTF-8.
const QUOTE_SET: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'_')
    .remove(b'.')
    .remove(b'-')
    .remove(b'~')
    .remove(b'/');

/// Like [`QUOTE_SET`] but `/` is encoded too (one path segment or a query value).
const COMPONENT_SET: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'_')
    .remove(b'.')
    .remove(b'-')
    .remove(b'~');

/// Percent-encodes as the reference's `urllib.quote(s)` does (`/` kept), used for the
/// `processname=` links and the `?message=` redirect so URLs match the reference's.
pub fn url_quote(text: &str) -> String {
    utf8_percent_encode(text, QUOTE_SET).to_string()
}

/// Percent-encodes everything but unreserved characters (also `/`): one URL path segment.
pub fn url_component(text: &str) -> String {
    utf8_percent_encode(text, COMPONENT_SET).to_string()
}

/// Serializes a value as JSON safe to place inside an HTML document: `<`, `>` and `&` are
/// written as `\u003c`, `\u003e`, `\u0026` (they can only occur inside JSON strings).
pub fn json_for_html<T: serde::Serialize>(value: &T) -> String {
    let raw = serde_json::to_string(value).unwrap_or_else(|_| "null".to_string());
    let mut out = String::with_capacity(raw.len());
    for c in raw.chars() {
        match c {
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_escapes_markup_and_quotes() {
        assert_eq!(
            html(r#"<script>alert("x")</script> & 'y'"#),
            "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;y&#39;"
        );
        assert!(matches!(html("plain text"), Cow::Borrowed(_)));
        assert_eq!(
            html("a\u{0}b\u{1b}[31m\tc\n"),
            "a\u{FFFD}b\u{FFFD}[31m\tc\n"
        );
        assert_eq!(html("héllo ✓"), "héllo ✓");
    }

    #[test]
    fn url_quote_matches_python_quote() {
        // urllib.parse.quote('grp:a b/c~d_e.f-g&h') == 'grp%3Aa%20b/c~d_e.f-g%26h'
        assert_eq!(
            url_quote("grp:a b/c~d_e.f-g&h"),
            "grp%3Aa%20b/c~d_e.f-g%26h"
        );
        assert_eq!(
            url_quote("Process sleeper stopped"),
            "Process%20sleeper%20stopped"
        );
        assert_eq!(url_quote("é"), "%C3%A9");
        assert_eq!(url_component("a/b:c"), "a%2Fb%3Ac");
    }

    #[test]
    fn json_for_html_cannot_close_a_script_element() {
        let s = json_for_html(&vec!["</script><b>&"]);
        assert!(!s.contains('<') && !s.contains('>') && !s.contains('&'));
        let back: Vec<String> = serde_json::from_str(&s).unwrap();
        assert_eq!(back, vec!["</script><b>&".to_string()]);
    }
}
