//! Python's `%`-formatting with a mapping (`value % dict`) and Python's `repr()` of strings.
//!
//! Supervisor expands nearly every config value with `value % expansions`; scripts depend on
//! the exact results and error texts, so this module reproduces CPython 3.11's behaviour for
//! the subset that can occur with string and integer expansions: `%(name)s`, flags
//! `-+ #0`, widths, precisions, `*`, the length modifiers `hlL`, conversions
//! `s r a d i u x X o e E f F g G c` and `%%`.

use std::collections::HashMap;

/// A value that can be substituted: Supervisor only ever offers strings and integers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PyVal {
    /// A Python `str`.
    Str(String),
    /// A Python `int`.
    Int(i64),
}

impl PyVal {
    fn repr(&self) -> String {
        match self {
            PyVal::Str(s) => py_repr(s),
            PyVal::Int(i) => i.to_string(),
        }
    }
}

/// An insertion-ordered name → value table, like a Python dict of expansions.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Expansions {
    items: Vec<(String, PyVal)>,
    index: HashMap<String, usize>,
}

impl Expansions {
    /// An empty table.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets `name` (keeps its first position when it already exists, like a dict).
    pub fn set(&mut self, name: impl Into<String>, value: PyVal) {
        let name = name.into();
        if let Some(&i) = self.index.get(&name) {
            self.items[i].1 = value;
        } else {
            self.index.insert(name.clone(), self.items.len());
            self.items.push((name, value));
        }
    }

    /// Sets a string value.
    pub fn set_str(&mut self, name: impl Into<String>, value: impl Into<String>) {
        self.set(name, PyVal::Str(value.into()));
    }

    /// Looks a name up.
    pub fn get(&self, name: &str) -> Option<&PyVal> {
        self.index.get(name).map(|&i| &self.items[i].1)
    }

    /// The entries in insertion order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &PyVal)> {
        self.items.iter().map(|(k, v)| (k.as_str(), v))
    }

    /// Copies every entry of `other` into `self` (Python `dict.update`).
    pub fn update(&mut self, other: &Expansions) {
        for (k, v) in other.iter() {
            self.set(k, v.clone());
        }
    }
}

/// A stack of expansion tables; later layers override earlier ones (Python
/// `dict(list(a.items()) + list(b.items()))`).
#[derive(Debug, Clone, Copy)]
pub struct Scope<'a> {
    layers: [Option<&'a Expansions>; 3],
}

impl<'a> Scope<'a> {
    /// A scope of one table.
    pub fn one(a: &'a Expansions) -> Self {
        Scope {
            layers: [Some(a), None, None],
        }
    }
    /// A scope of two tables, `b` overriding `a`.
    pub fn two(a: &'a Expansions, b: &'a Expansions) -> Self {
        Scope {
            layers: [Some(a), Some(b), None],
        }
    }

    /// A scope of three tables, later ones overriding earlier ones.
    pub fn three(a: &'a Expansions, b: &'a Expansions, c: &'a Expansions) -> Self {
        Scope {
            layers: [Some(a), Some(b), Some(c)],
        }
    }

    fn get(&self, name: &str) -> Option<&'a PyVal> {
        self.layers.iter().rev().flatten().find_map(|l| l.get(name))
    }

    fn ordered(&self) -> Vec<(&'a str, &'a PyVal)> {
        let mut seen: HashMap<&str, usize> = HashMap::new();
        let mut out: Vec<(&'a str, &'a PyVal)> = Vec::new();
        for layer in self.layers.iter().flatten() {
            for (k, v) in layer.iter() {
                if let Some(&i) = seen.get(k) {
                    out[i].1 = v;
                } else {
                    seen.insert(k, out.len());
                    out.push((k, v));
                }
            }
        }
        out
    }

    /// Every name, sorted (for "Available names: ...").
    pub fn sorted_names(&self) -> Vec<&'a str> {
        let mut names: Vec<&str> = self.ordered().into_iter().map(|(k, _)| k).collect();
        names.sort_unstable();
        names
    }

    fn dict_repr(&self, ascii: bool) -> String {
        let mut s = String::from("{");
        for (i, (k, v)) in self.ordered().into_iter().enumerate() {
            if i > 0 {
                s.push_str(", ");
            }
            s.push_str(&py_repr(k));
            s.push_str(": ");
            s.push_str(&v.repr());
        }
        s.push('}');
        if ascii {
            to_ascii_repr(&s)
        } else {
            s
        }
    }
}

/// Why `value % dict` failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FormatError {
    /// `KeyError`: the name is not in the mapping.
    MissingKey(String),
    /// Any other exception, with Python's message.
    Bad(String),
}

/// Python `str.isspace()` for one character.
pub fn py_isspace(c: char) -> bool {
    c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c)
}

/// Python `str.strip()` (Unicode whitespace).
pub fn py_strip(s: &str) -> &str {
    s.trim_matches(py_isspace)
}

use supervisor_protocol::pyrepr::push_escape;
pub use supervisor_protocol::pyrepr::str_repr as py_repr;

fn to_ascii_repr(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if (c as u32) < 0x80 {
            out.push(c);
        } else {
            push_escape(&mut out, c);
        }
    }
    out
}

#[derive(Clone, Copy)]
enum Arg<'a> {
    Dict,
    Val(&'a PyVal),
}

impl Arg<'_> {
    fn type_name(&self) -> &'static str {
        match self {
            Arg::Dict => "dict",
            Arg::Val(PyVal::Str(_)) => "str",
            Arg::Val(PyVal::Int(_)) => "int",
        }
    }
}

/// Largest width/precision we render; Python would try to allocate it, we refuse.
const MAX_WIDTH: usize = 1 << 20;

/// `fmt % mapping` where the mapping is `scope`.
pub fn format(fmt: &str, scope: &Scope<'_>) -> Result<String, FormatError> {
    if !fmt.contains('%') {
        return Ok(fmt.to_string());
    }
    let cs: Vec<char> = fmt.chars().collect();
    let n = cs.len();
    let mut out = String::with_capacity(fmt.len());
    let mut pending: Option<Arg> = Some(Arg::Dict);
    let bad = |m: String| FormatError::Bad(m);
    let incomplete = || FormatError::Bad("incomplete format".into());
    let not_enough = || FormatError::Bad("not enough arguments for format string".into());
    let mut i = 0;
    while i < n {
        let c = cs[i];
        if c != '%' {
            out.push(c);
            i += 1;
            continue;
        }
        i += 1;
        if i >= n {
            return Err(incomplete());
        }
        if cs[i] == '%' {
            out.push('%');
            i += 1;
            continue;
        }
        if cs[i] == '(' {
            i += 1;
            let start = i;
            let mut depth = 1;
            while depth > 0 && i < n {
                if cs[i] == ')' {
                    depth -= 1;
                } else if cs[i] == '(' {
                    depth += 1;
                }
                i += 1;
            }
            if depth > 0 {
                return Err(bad("incomplete format key".into()));
            }
            let key: String = cs[start..i - 1].iter().collect();
            match scope.get(&key) {
                Some(v) => pending = Some(Arg::Val(v)),
                None => return Err(FormatError::MissingKey(key)),
            }
        }
        let (mut ljust, mut sign, mut blank, mut alt, mut zero) =
            (false, false, false, false, false);
        while i < n {
            match cs[i] {
                '-' => ljust = true,
                '+' => sign = true,
                ' ' => blank = true,
                '#' => alt = true,
                '0' => zero = true,
                _ => break,
            }
            i += 1;
        }
        let mut width: usize = 0;
        if i < n && cs[i] == '*' {
            let a = pending.take().ok_or_else(not_enough)?;
            match a {
                Arg::Val(PyVal::Int(w)) => {
                    if *w < 0 {
                        ljust = true;
                    }
                    width = w.unsigned_abs() as usize;
                }
                _ => return Err(bad("* wants int".into())),
            }
            i += 1;
        } else {
            while i < n {
                if let Some(d) = cs[i].to_digit(10).filter(|_| cs[i].is_ascii_digit()) {
                    width = width
                        .checked_mul(10)
                        .and_then(|w| w.checked_add(d as usize))
                        .filter(|w| *w <= i32::MAX as usize)
                        .ok_or_else(|| bad("width too big".into()))?;
                    i += 1;
                } else {
                    break;
                }
            }
        }
        let mut prec: Option<usize> = None;
        if i < n && cs[i] == '.' {
            i += 1;
            let mut p: usize = 0;
            if i < n && cs[i] == '*' {
                let a = pending.take().ok_or_else(not_enough)?;
                match a {
                    Arg::Val(PyVal::Int(w)) => p = (*w).max(0) as usize,
                    _ => return Err(bad("* wants int".into())),
                }
                i += 1;
            } else {
                while i < n && cs[i].is_ascii_digit() {
                    let d = cs[i].to_digit(10).unwrap_or(0) as usize;
                    p = p
                        .checked_mul(10)
                        .and_then(|w| w.checked_add(d))
                        .filter(|w| *w <= i32::MAX as usize)
                        .ok_or_else(|| bad("precision too big".into()))?;
                    i += 1;
                }
            }
            prec = Some(p);
        }
        if i < n && matches!(cs[i], 'h' | 'l' | 'L') {
            i += 1;
        }
        if i >= n {
            return Err(incomplete());
        }
        let conv = cs[i];
        let conv_index = i;
        i += 1;
        let arg = pending.take().ok_or_else(not_enough)?;
        if width > MAX_WIDTH || prec.unwrap_or(0) > MAX_WIDTH {
            return Err(bad("width too big".into()));
        }
        let body: String;
        let numeric: bool;
        match conv {
            's' | 'r' | 'a' => {
                numeric = false;
                let mut s = match (conv, arg) {
                    ('s', Arg::Val(PyVal::Str(s))) => s.clone(),
                    (_, Arg::Val(PyVal::Int(v))) => v.to_string(),
                    ('r', Arg::Val(PyVal::Str(s))) => py_repr(s),
                    ('a', Arg::Val(PyVal::Str(s))) => to_ascii_repr(&py_repr(s)),
                    (c, Arg::Dict) => scope.dict_repr(c == 'a'),
                    _ => String::new(),
                };
                if let Some(p) = prec {
                    if let Some((idx, _)) = s.char_indices().nth(p) {
                        s.truncate(idx);
                    }
                }
                body = s;
            }
            'd' | 'i' | 'u' | 'x' | 'X' | 'o' => {
                numeric = true;
                let v = match arg {
                    Arg::Val(PyVal::Int(v)) => *v,
                    other => {
                        let kind = if matches!(conv, 'd' | 'i' | 'u') {
                            "a real number"
                        } else {
                            "an integer"
                        };
                        return Err(bad(format!(
                            "%{conv} format: {kind} is required, not {}",
                            other.type_name()
                        )));
                    }
                };
                let mut digits = match conv {
                    'x' => format!("{:x}", v.unsigned_abs()),
                    'X' => format!("{:X}", v.unsigned_abs()),
                    'o' => format!("{:o}", v.unsigned_abs()),
                    _ => v.unsigned_abs().to_string(),
                };
                if let Some(p) = prec {
                    if digits.len() < p {
                        digits = "0".repeat(p - digits.len()) + &digits;
                    }
                }
                let prefix = match (alt, conv) {
                    (true, 'x') => "0x",
                    (true, 'X') => "0X",
                    (true, 'o') => "0o",
                    _ => "",
                };
                body = pad_number(v < 0, sign, blank, prefix, &digits, width, ljust, zero);
            }
            'e' | 'E' | 'f' | 'F' | 'g' | 'G' => {
                numeric = true;
                let v = match arg {
                    Arg::Val(PyVal::Int(v)) => *v as f64,
                    other => {
                        return Err(bad(format!(
                            "must be real number, not {}",
                            other.type_name()
                        )))
                    }
                };
                let digits = format_float(v.abs(), conv, prec.unwrap_or(6), alt);
                body = pad_number(v < 0.0, sign, blank, "", &digits, width, ljust, zero);
            }
            'c' => {
                numeric = false;
                body = match arg {
                    Arg::Val(PyVal::Int(v)) => {
                        match u32::try_from(*v).ok().and_then(char::from_u32) {
                            Some(ch) => ch.to_string(),
                            None => return Err(bad("%c arg not in range(0x110000)".into())),
                        }
                    }
                    Arg::Val(PyVal::Str(s)) if s.chars().count() == 1 => s.clone(),
                    _ => return Err(bad("%c requires int or char".into())),
                };
            }
            other => {
                let shown = if (' '..='\u{7f}').contains(&other) {
                    other
                } else {
                    '?'
                };
                return Err(bad(format!(
                    "unsupported format character '{}' (0x{:x}) at index {}",
                    shown, other as u32, conv_index
                )));
            }
        }
        if numeric {
            out.push_str(&body);
        } else {
            let len = body.chars().count();
            if len < width && !ljust {
                out.extend(std::iter::repeat_n(' ', width - len));
            }
            out.push_str(&body);
            if len < width && ljust {
                out.extend(std::iter::repeat_n(' ', width - len));
            }
        }
    }
    Ok(out)
}

#[allow(clippy::too_many_arguments)]
fn pad_number(
    neg: bool,
    sign: bool,
    blank: bool,
    prefix: &str,
    digits: &str,
    width: usize,
    ljust: bool,
    zero: bool,
) -> String {
    let sign_s = if neg {
        "-"
    } else if sign {
        "+"
    } else if blank {
        " "
    } else {
        ""
    };
    let len = sign_s.len() + prefix.len() + digits.len();
    let fill = width.saturating_sub(len);
    if ljust {
        format!("{sign_s}{prefix}{digits}{}", " ".repeat(fill))
    } else if zero {
        format!("{sign_s}{prefix}{}{digits}", "0".repeat(fill))
    } else {
        format!("{}{sign_s}{prefix}{digits}", " ".repeat(fill))
    }
}

fn exp_form(v: f64, prec: usize, upper: bool) -> String {
    let s = format!("{:.*e}", prec, v);
    let (mant, exp) = s.split_once('e').unwrap_or((&s, "0"));
    let e: i32 = exp.parse().unwrap_or(0);
    let r = format!("{}e{}{:02}", mant, if e < 0 { '-' } else { '+' }, e.abs());
    if upper {
        r.to_uppercase()
    } else {
        r
    }
}

fn format_float(v: f64, conv: char, prec: usize, alt: bool) -> String {
    let upper = conv.is_ascii_uppercase();
    match conv {
        'f' | 'F' => {
            let mut s = format!("{:.*}", prec, v);
            if alt && prec == 0 {
                s.push('.');
            }
            s
        }
        'e' | 'E' => {
            let mut s = exp_form(v, prec, upper);
            if alt && prec == 0 {
                if let Some(pos) = s.find(['e', 'E']) {
                    s.insert(pos, '.');
                }
            }
            s
        }
        _ => {
            let p = if prec == 0 { 1 } else { prec };
            let exp = if v == 0.0 {
                0
            } else {
                // the exponent after rounding to p significant digits
                let s = format!("{:.*e}", p - 1, v);
                s.split_once('e')
                    .and_then(|(_, e)| e.parse::<i32>().ok())
                    .unwrap_or(0)
            };
            let mut s = if exp >= -4 && (exp as i64) < p as i64 {
                format!("{:.*}", (p as i64 - 1 - exp as i64).max(0) as usize, v)
            } else {
                exp_form(v, p - 1, upper)
            };
            if !alt {
                let (num, tail) = match s.find(['e', 'E']) {
                    Some(pos) => (s[..pos].to_string(), s[pos..].to_string()),
                    None => (s.clone(), String::new()),
                };
                let num = if num.contains('.') {
                    num.trim_end_matches('0').trim_end_matches('.').to_string()
                } else {
                    num
                };
                s = num + &tail;
            } else if !s.contains('.') {
                match s.find(['e', 'E']) {
                    Some(pos) => s.insert(pos, '.'),
                    None => s.push('.'),
                }
            }
            s
        }
    }
}

/// Supervisor's `expand(s, expansions, name)`: formats and words the errors exactly like
/// the reference (`Format string '...' for '...' contains names (...)` / `is badly formatted`).
pub fn expand(s: &str, scope: &Scope<'_>, name: &str) -> Result<String, String> {
    match format(s, scope) {
        Ok(v) => Ok(v),
        Err(FormatError::MissingKey(k)) => Err(format!(
            "Format string {} for {} contains names ({}) which cannot be expanded. Available names: {}",
            py_repr(s),
            py_repr(name),
            py_repr(&k),
            scope.sorted_names().join(", ")
        )),
        Err(FormatError::Bad(m)) => Err(format!(
            "Format string {} for {} is badly formatted: {}",
            py_repr(s),
            py_repr(name),
            m
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ex() -> Expansions {
        let mut e = Expansions::new();
        e.set_str("a", "hi");
        e.set("n", PyVal::Int(7));
        e.set("neg", PyVal::Int(-7));
        e.set_str("a(b)c", "nest");
        e
    }

    fn f(s: &str) -> String {
        let e = ex();
        match format(s, &Scope::one(&e)) {
            Ok(v) => v,
            Err(FormatError::MissingKey(k)) => format!("KeyError {k}"),
            Err(FormatError::Bad(m)) => format!("ERR {m}"),
        }
    }

    #[test]
    fn matches_python_results() {
        // Expected values observed from CPython 3.11.
        let cases = [
            ("%(a)5s|", "   hi|"),
            ("%(a)-5s|", "hi   |"),
            ("%(n)03d", "007"),
            ("%(n)+d", "+7"),
            ("%(n)#x", "0x7"),
            ("%(n)e", "7.000000e+00"),
            ("%(n)f", "7.000000"),
            ("%(n)g", "7"),
            ("%(n).2f", "7.00"),
            ("%(a)d", "ERR %d format: a real number is required, not str"),
            ("%(a)x", "ERR %x format: an integer is required, not str"),
            ("%(a)f", "ERR must be real number, not str"),
            ("%(a)c", "ERR %c requires int or char"),
            ("%(n)c", "\u{7}"),
            ("%(a)r", "'hi'"),
            ("%(a).1s", "h"),
            ("%(a)*d", "ERR * wants int"),
            (
                "%(a)b",
                "ERR unsupported format character 'b' (0x62) at index 4",
            ),
            (
                "%(a)%",
                "ERR unsupported format character '%' (0x25) at index 4",
            ),
            ("%%", "%"),
            ("%(n)ld", "7"),
            (
                "%5%",
                "ERR unsupported format character '%' (0x25) at index 2",
            ),
            ("%(a(b)c)s", "nest"),
            ("%(n) d", " 7"),
            ("%(n)10.5d", "     00007"),
            ("%(n)#o", "0o7"),
            ("%d", "ERR %d format: a real number is required, not dict"),
            ("%(x)", "KeyError x"),
            ("%(a)", "ERR incomplete format"),
            ("%(a", "ERR incomplete format key"),
            ("ab%", "ERR incomplete format"),
            ("%s%s", "ERR not enough arguments for format string"),
            ("%(a)s %s", "ERR not enough arguments for format string"),
            ("%(neg)05d", "-0007"),
            ("%(n)-#5x|", "0x7  |"),
            ("%(n)0#5x", "0x007"),
            ("%(n)#.3g", "7.00"),
            ("%(n).0e", "7e+00"),
            ("%(n)#.0f", "7."),
            ("%(a)05s|", "   hi|"),
            (
                "%(n)lld",
                "ERR unsupported format character 'l' (0x6c) at index 5",
            ),
            (
                "%(a)\n",
                "ERR unsupported format character '?' (0xa) at index 4",
            ),
            ("%(n)h", "ERR incomplete format"),
            ("%(n)99999999999999999999d", "ERR width too big"),
        ];
        for (fmt, want) in cases {
            assert_eq!(f(fmt), want, "format {fmt:?}");
        }
    }

    #[test]
    fn bare_s_renders_the_mapping() {
        let mut e = Expansions::new();
        e.set_str("a", "it's");
        e.set("n", PyVal::Int(1));
        assert_eq!(
            format("%s", &Scope::one(&e)).unwrap(),
            "{'a': \"it's\", 'n': 1}"
        );
    }

    #[test]
    fn repr_like_python() {
        assert_eq!(py_repr("abc"), "'abc'");
        assert_eq!(py_repr("it's"), "\"it's\"");
        assert_eq!(py_repr("a'b\"c"), "'a\\'b\"c'");
        assert_eq!(py_repr("x\n\t\\"), "'x\\n\\t\\\\'");
        assert_eq!(py_repr("\u{1}é\u{2028}"), "'\\x01é\\u2028'");
    }

    #[test]
    fn expand_messages() {
        let mut e = Expansions::new();
        e.set_str("here", "/x");
        e.set_str("ENV_A", "1");
        let err = expand("%(nope)s", &Scope::one(&e), "program:a.command").unwrap_err();
        assert_eq!(err, "Format string '%(nope)s' for 'program:a.command' contains names ('nope') which cannot be expanded. Available names: ENV_A, here");
        let err = expand("a%", &Scope::one(&e), "stdout_logfile").unwrap_err();
        assert_eq!(
            err,
            "Format string 'a%' for 'stdout_logfile' is badly formatted: incomplete format"
        );
    }
}
