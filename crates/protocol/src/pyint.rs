//! Python's `int()` of text: the one reader of integers written by users (config values,
//! command arguments), so that every place accepts and refuses the same spellings.
//!
//! The grammar is `int(text, base)`'s: blanks around, an optional
//! sign, digits of the base with single underscores between them, and for base 2, 8 and 16
//! an optional `0b`/`0o`/`0x` prefix (which may be followed by one underscore). Only ASCII
//! digits are read (Python also reads other Unicode decimal digits; nobody writes those).
//! Values are held in an `i64`; a valid literal beyond it is [`IntError::OutOfRange`].
//!
//! The blanks `int()` skips are Unicode `White_Space`, which is `str.isspace()` without
//! the four separators U+001C..U+001F (`int('\x1c7')` is an error) and exactly what
//! [`str::trim`] removes.

/// Why a text is not an integer we can hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IntError {
    /// Python's `int()` refuses it (`invalid literal for int() ...`).
    Invalid,
    /// Python accepts it, but its magnitude does not fit an `i64`.
    OutOfRange {
        /// The literal had a `-` sign.
        negative: bool,
    },
}

/// `int(text)`: base 10.
pub fn parse(text: &str) -> Result<i64, IntError> {
    parse_radix(text, 10)
}

/// `int(text, radix)` for a radix from 2 to 36.
pub fn parse_radix(text: &str, radix: u32) -> Result<i64, IntError> {
    let t = text.trim();
    let (negative, body) = match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    let prefix = match radix {
        2 => Some(["0b", "0B"]),
        8 => Some(["0o", "0O"]),
        16 => Some(["0x", "0X"]),
        _ => None,
    };
    let body = prefix
        .and_then(|[lower, upper]| {
            body.strip_prefix(lower)
                .or_else(|| body.strip_prefix(upper))
        })
        .map(|b| b.strip_prefix('_').unwrap_or(b))
        .unwrap_or(body);
    if !(2..=36).contains(&radix)
        || body.is_empty()
        || body.starts_with('_')
        || body.ends_with('_')
        || body.contains("__")
        || !body.chars().all(|c| c == '_' || c.is_digit(radix))
    {
        return Err(IntError::Invalid);
    }
    let mut v: i64 = 0;
    for d in body.chars().filter_map(|c| c.to_digit(radix)) {
        v = v
            .checked_mul(i64::from(radix))
            .and_then(|v| v.checked_add(i64::from(d)))
            .ok_or(IntError::OutOfRange { negative })?;
    }
    Ok(if negative { -v } else { v })
}

/// `int(raw)` of bytes: base 10, blanks are the six ASCII ones `bytes.isspace()` knows
/// (space, `\t`, `\n`, `\v`, `\f`, `\r`) and any other non-ASCII byte is refused.
pub fn parse_bytes(raw: &[u8]) -> Result<i64, IntError> {
    let is_space = |b: &u8| matches!(b, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c);
    let start = raw.iter().position(|b| !is_space(b)).unwrap_or(raw.len());
    let end = raw
        .iter()
        .rposition(|b| !is_space(b))
        .map_or(start, |e| e + 1);
    let body = &raw[start..end];
    if !body.is_ascii() {
        return Err(IntError::Invalid);
    }
    // ASCII, and the only ASCII White_Space characters are the six trimmed above, so
    // `parse` sees the same text Python's bytes reader would.
    std::str::from_utf8(body)
        .map_err(|_| IntError::Invalid)
        .and_then(parse)
}

/// [`parse`], with a valid literal beyond `i64` clamped to `i64::MAX` or `-i64::MAX` by its
/// sign (for callers that only need to know it is too big); `None` when it is not an int.
pub fn parse_saturating(text: &str) -> Option<i64> {
    match parse(text) {
        Ok(v) => Some(v),
        Err(IntError::OutOfRange { negative: false }) => Some(i64::MAX),
        Err(IntError::OutOfRange { negative: true }) => Some(-i64::MAX),
        Err(IntError::Invalid) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_spellings() {
        assert_eq!(parse(" 7 "), Ok(7));
        assert_eq!(parse("+5"), Ok(5));
        assert_eq!(parse("-1"), Ok(-1));
        assert_eq!(parse("1_000"), Ok(1000));
        assert_eq!(parse("007"), Ok(7));
        assert_eq!(parse("\u{85}\u{a0}\t42\u{3000}\n"), Ok(42));
        for bad in [
            "", " ", "+", "-", "_1", "1_", "1__0", "1.5", "0x10", "--1", "+-1", "1 2", "٣", "e",
            "\u{1c}7", "7\u{1f}", "- 1",
        ] {
            assert_eq!(parse(bad), Err(IntError::Invalid), "{bad:?}");
        }
    }

    #[test]
    fn bytes_spellings() {
        assert_eq!(parse_bytes(b" 5\x0b"), Ok(5));
        assert_eq!(parse_bytes(b"\t\n\r\x0c+1_0 "), Ok(10));
        assert_eq!(parse_bytes(b"-0"), Ok(0));
        assert_eq!(parse_bytes(b"-7"), Ok(-7));
        assert_eq!(
            parse_bytes(b"99999999999999999999"),
            Err(IntError::OutOfRange { negative: false })
        );
        for bad in [
            &b""[..],
            b" ",
            b"\x1c5",
            b"5\x1f",
            b"\xc2\x855",
            b"\xa05",
            b"\xff",
            b"_1",
            b"1__0",
            b"0x10",
            b"+",
            b"1 2",
        ] {
            assert_eq!(parse_bytes(bad), Err(IntError::Invalid), "{bad:?}");
        }
    }

    #[test]
    fn bases_and_prefixes() {
        assert_eq!(parse_radix("022", 8), Ok(0o22));
        assert_eq!(parse_radix("0o22", 8), Ok(0o22));
        assert_eq!(parse_radix("0O_7", 8), Ok(7));
        assert_eq!(parse_radix("-0o1_0", 8), Ok(-8));
        assert_eq!(parse_radix("ff", 16), Ok(255));
        assert_eq!(parse_radix("0b101", 2), Ok(5));
        for bad in ["8", "0o", "0o_", "0o__7", "0x7", "_7"] {
            assert_eq!(parse_radix(bad, 8), Err(IntError::Invalid), "{bad:?}");
        }
        assert_eq!(parse_radix("1", 1), Err(IntError::Invalid));
        assert_eq!(parse_radix("1", 37), Err(IntError::Invalid));
    }

    #[test]
    fn range() {
        assert_eq!(parse("9223372036854775807"), Ok(i64::MAX));
        assert_eq!(parse("-9223372036854775807"), Ok(-i64::MAX));
        assert_eq!(
            parse("9223372036854775808"),
            Err(IntError::OutOfRange { negative: false })
        );
        assert_eq!(
            parse("-99_999_999_999_999_999_999"),
            Err(IntError::OutOfRange { negative: true })
        );
        // a bad character anywhere wins over the size
        assert_eq!(parse("99999999999999999999x"), Err(IntError::Invalid));
        assert_eq!(parse_saturating("99999999999999999999"), Some(i64::MAX));
        assert_eq!(parse_saturating("-99999999999999999999"), Some(-i64::MAX));
        assert_eq!(parse_saturating(" 12 "), Some(12));
        assert_eq!(parse_saturating("1e3"), None);
    }
}
