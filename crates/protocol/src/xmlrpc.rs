//! The XML-RPC value codec: requests and responses as `xmlrpc.client` and Supervisor write them.
//!
//! Reading: [`parse_method_call`] (server side) and [`parse_method_response`] (client side).
//! Both accept every value type Supervisor's request parser accepts (`int`, `i4`, `boolean`,
//! `string`, untyped `<value>text</value>`, `double`, `dateTime.iso8601`, `base64`, `array`,
//! `struct`); responses additionally accept `nil` and `i8` so clients do not choke on other
//! servers. Documents must be UTF-8; DTDs are refused (no entity expansion), nesting is bounded
//! by [`MAX_DEPTH`].
//!
//! Writing: [`write_method_call`], [`write_response`] and [`write_fault`] produce byte for byte
//! the layout of Python's `xmlrpc.client.dumps` (one element per line where Python breaks lines,
//! `&`, `<` and `>` escaped), which every XML-RPC client parses.

use crate::Fault;
use base64::Engine as _;
use quick_xml::events::Event;
use quick_xml::Reader;

/// An XML-RPC value. Structs keep their member order (clients print them in wire order).
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// `<int>` / `<i4>`.
    Int(i32),
    /// `<boolean>`.
    Bool(bool),
    /// `<string>` or untyped value text.
    String(String),
    /// `<double>`.
    Double(f64),
    /// `dateTime.iso8601`, kept as its text (`20260101T00:00:00`).
    DateTime(String),
    /// `<base64>`, decoded.
    Base64(Vec<u8>),
    /// `<array><data>...</data></array>`.
    Array(Vec<Value>),
    /// `<struct>` members in wire order (a repeated name keeps its first position, last value).
    Struct(Vec<(String, Value)>),
}

impl Value {
    /// The string, if this is a `String`.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    /// The integer, if this is an `Int`.
    pub fn as_int(&self) -> Option<i32> {
        match self {
            Value::Int(i) => Some(*i),
            _ => None,
        }
    }

    /// The boolean, if this is a `Bool`.
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(b) => Some(*b),
            _ => None,
        }
    }

    /// The elements, if this is an `Array`.
    pub fn as_array(&self) -> Option<&[Value]> {
        match self {
            Value::Array(a) => Some(a),
            _ => None,
        }
    }

    /// The members, if this is a `Struct`.
    pub fn as_struct(&self) -> Option<&[(String, Value)]> {
        match self {
            Value::Struct(s) => Some(s),
            _ => None,
        }
    }

    /// The value of member `key`, if this is a `Struct` that has it.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.as_struct()?
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v)
    }

    /// Builds a `Struct` from `(&str, Value)` pairs.
    pub fn structure<'a>(members: impl IntoIterator<Item = (&'a str, Value)>) -> Value {
        Value::Struct(
            members
                .into_iter()
                .map(|(k, v)| (k.to_string(), v))
                .collect(),
        )
    }
}

impl From<i32> for Value {
    fn from(v: i32) -> Value {
        Value::Int(v)
    }
}

impl From<bool> for Value {
    fn from(v: bool) -> Value {
        Value::Bool(v)
    }
}

impl From<&str> for Value {
    fn from(v: &str) -> Value {
        Value::String(v.to_string())
    }
}

impl From<String> for Value {
    fn from(v: String) -> Value {
        Value::String(v)
    }
}

/// A decoded `methodCall`.
#[derive(Debug, Clone, PartialEq)]
pub struct MethodCall {
    /// The `methodName` text, verbatim.
    pub name: String,
    /// The params in order (empty when `<params>` is absent).
    pub params: Vec<Value>,
}

/// Why a document could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError(pub String);

impl ParseError {
    fn new(msg: impl Into<String>) -> ParseError {
        ParseError(msg.into())
    }

    /// True when the document parsed but carried no (or an empty) `methodName`.
    pub fn is_missing_method_name(&self) -> bool {
        self.0 == NO_METHOD_NAME
    }
}

impl std::fmt::Display for ParseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ParseError {}

/// The deepest element nesting accepted (a `value` inside an `array` inside a `data` ... counts
/// one level per element).
pub const MAX_DEPTH: usize = 128;

const NO_METHOD_NAME: &str = "no method name";

// ---------------------------------------------------------------------------------------------
// A minimal element tree, built with a bounded depth, then interpreted.

#[derive(Debug, Default)]
struct Elem {
    name: String,
    text: String,
    children: Vec<Elem>,
}

fn build_tree(doc: &[u8]) -> Result<Elem, ParseError> {
    let text = std::str::from_utf8(doc).map_err(|e| ParseError::new(format!("not UTF-8: {e}")))?;
    let mut reader = Reader::from_str(text);
    reader.config_mut().trim_text(false);
    reader.config_mut().check_end_names = true;
    let mut stack: Vec<Elem> = Vec::new();
    let mut root: Option<Elem> = None;
    loop {
        let ev = reader
            .read_event()
            .map_err(|e| ParseError::new(format!("malformed XML: {e}")))?;
        match ev {
            Event::Start(s) => {
                if root.is_some() {
                    return Err(ParseError::new("content after the root element"));
                }
                if stack.len() >= MAX_DEPTH {
                    return Err(ParseError::new("nesting too deep"));
                }
                let name = std::str::from_utf8(s.name().as_ref())
                    .map_err(|_| ParseError::new("bad element name"))?
                    .to_string();
                stack.push(Elem {
                    name,
                    ..Elem::default()
                });
            }
            Event::Empty(s) => {
                if root.is_some() {
                    return Err(ParseError::new("content after the root element"));
                }
                if stack.len() >= MAX_DEPTH {
                    return Err(ParseError::new("nesting too deep"));
                }
                let name = std::str::from_utf8(s.name().as_ref())
                    .map_err(|_| ParseError::new("bad element name"))?
                    .to_string();
                let e = Elem {
                    name,
                    ..Elem::default()
                };
                match stack.last_mut() {
                    Some(parent) => parent.children.push(e),
                    None => root = Some(e),
                }
            }
            Event::End(_) => {
                let e = stack
                    .pop()
                    .ok_or_else(|| ParseError::new("unbalanced end tag"))?;
                match stack.last_mut() {
                    Some(parent) => parent.children.push(e),
                    None => root = Some(e),
                }
            }
            Event::Text(t) => {
                let s = t
                    .unescape()
                    .map_err(|e| ParseError::new(format!("bad text: {e}")))?;
                match stack.last_mut() {
                    // Text only counts before the first child (like ElementTree's `.text`).
                    Some(cur) if cur.children.is_empty() => cur.text.push_str(&s),
                    Some(_) => {}
                    None => {
                        if !s.trim().is_empty() {
                            return Err(ParseError::new("text outside the root element"));
                        }
                    }
                }
            }
            Event::CData(c) => {
                let raw = c.into_inner();
                let s = std::str::from_utf8(&raw).map_err(|_| ParseError::new("bad CDATA"))?;
                match stack.last_mut() {
                    Some(cur) if cur.children.is_empty() => cur.text.push_str(s),
                    Some(_) => {}
                    None => return Err(ParseError::new("CDATA outside the root element")),
                }
            }
            Event::DocType(_) => return Err(ParseError::new("DTDs are not accepted")),
            Event::Decl(_) | Event::PI(_) | Event::Comment(_) => {}
            Event::Eof => break,
        }
    }
    if !stack.is_empty() {
        return Err(ParseError::new("unexpected end of document"));
    }
    root.ok_or_else(|| ParseError::new("empty document"))
}

fn parse_value(e: &Elem, lenient: bool) -> Result<Value, ParseError> {
    if e.name != "value" {
        return Err(ParseError::new(format!(
            "expected <value>, got <{}>",
            e.name
        )));
    }
    let Some(inner) = e.children.first() else {
        return Ok(Value::String(e.text.clone()));
    };
    if e.children.len() > 1 {
        return Err(ParseError::new("<value> with more than one child"));
    }
    let leaf = |what: &str| -> Result<&str, ParseError> {
        if inner.children.is_empty() {
            Ok(&inner.text)
        } else {
            Err(ParseError::new(format!("<{what}> must not have children")))
        }
    };
    match inner.name.as_str() {
        "int" | "i4" => {
            let t = leaf(&inner.name)?;
            parse_int(t).map(Value::Int)
        }
        "i8" if lenient => {
            let t = leaf("i8")?.trim();
            let v: i64 = t
                .parse()
                .map_err(|_| ParseError::new(format!("bad i8: {t:?}")))?;
            Ok(match i32::try_from(v) {
                Ok(i) => Value::Int(i),
                Err(_) => Value::Double(v as f64),
            })
        }
        "nil" if lenient => Ok(Value::String(String::new())),
        "boolean" => Ok(Value::Bool(leaf("boolean")? == "1")),
        "string" => Ok(Value::String(leaf("string")?.to_string())),
        "double" => {
            let t = leaf("double")?.trim();
            t.parse::<f64>()
                .map(Value::Double)
                .map_err(|_| ParseError::new(format!("bad double: {t:?}")))
        }
        "dateTime.iso8601" => {
            let t = leaf("dateTime.iso8601")?.trim();
            if valid_datetime(t) {
                Ok(Value::DateTime(t.to_string()))
            } else {
                Err(ParseError::new(format!("bad dateTime.iso8601: {t:?}")))
            }
        }
        "base64" => {
            let t: Vec<u8> = leaf("base64")?
                .bytes()
                .filter(|b| !b.is_ascii_whitespace())
                .collect();
            base64::engine::general_purpose::STANDARD
                .decode(&t)
                .map(Value::Base64)
                .map_err(|e| ParseError::new(format!("bad base64: {e}")))
        }
        "array" => {
            let data = match inner.children.as_slice() {
                [d] if d.name == "data" => d,
                _ => return Err(ParseError::new("<array> must hold exactly one <data>")),
            };
            data.children
                .iter()
                .map(|v| parse_value(v, lenient))
                .collect::<Result<Vec<_>, _>>()
                .map(Value::Array)
        }
        "struct" => {
            let mut members: Vec<(String, Value)> = Vec::with_capacity(inner.children.len());
            for m in &inner.children {
                if m.name != "member" {
                    return Err(ParseError::new("<struct> may only hold <member>s"));
                }
                let (name, value) = match m.children.as_slice() {
                    [n, v] if n.name == "name" => (n, v),
                    _ => return Err(ParseError::new("<member> must be <name> then <value>")),
                };
                if !name.children.is_empty() {
                    return Err(ParseError::new("<name> must not have children"));
                }
                let v = parse_value(value, lenient)?;
                match members.iter_mut().find(|(k, _)| *k == name.text) {
                    Some(slot) => slot.1 = v,
                    None => members.push((name.text.clone(), v)),
                }
            }
            Ok(Value::Struct(members))
        }
        other => Err(ParseError::new(format!("unsupported type <{other}>"))),
    }
}

/// Parses an integer the way Python's `int()` does for the texts clients send: optional
/// surrounding blanks, optional sign, decimal digits (underscores between digits allowed).
fn parse_int(text: &str) -> Result<i32, ParseError> {
    let t = text.trim();
    let bad = || ParseError::new(format!("bad int: {t:?}"));
    let (neg, digits) = match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    if digits.is_empty()
        || digits.starts_with('_')
        || digits.ends_with('_')
        || digits.contains("__")
        || !digits.bytes().all(|b| b.is_ascii_digit() || b == b'_')
    {
        return Err(bad());
    }
    let mut v: i64 = 0;
    for b in digits.bytes().filter(|b| *b != b'_') {
        v = v
            .checked_mul(10)
            .and_then(|v| v.checked_add(i64::from(b - b'0')))
            .filter(|v| *v <= i64::from(i32::MAX) + 1)
            .ok_or_else(|| ParseError::new(format!("int out of range: {t:?}")))?;
    }
    let v = if neg { -v } else { v };
    i32::try_from(v).map_err(|_| ParseError::new(format!("int out of range: {t:?}")))
}

/// `YYYYMMDDTHH:MM:SS`, the format Python's `xmlrpc.client.DateTime` writes.
fn valid_datetime(t: &str) -> bool {
    let b = t.as_bytes();
    b.len() == 17
        && b[..8].iter().all(u8::is_ascii_digit)
        && b[8] == b'T'
        && b[9..11].iter().all(u8::is_ascii_digit)
        && b[11] == b':'
        && b[12..14].iter().all(u8::is_ascii_digit)
        && b[14] == b':'
        && b[15..17].iter().all(u8::is_ascii_digit)
}

fn parse_params(params: &Elem, lenient: bool) -> Result<Vec<Value>, ParseError> {
    let mut out = Vec::with_capacity(params.children.len());
    for p in &params.children {
        if p.name != "param" {
            return Err(ParseError::new("<params> may only hold <param>s"));
        }
        match p.children.as_slice() {
            [v] => out.push(parse_value(v, lenient)?),
            _ => return Err(ParseError::new("<param> must hold exactly one <value>")),
        }
    }
    Ok(out)
}

/// Decodes a `methodCall` document (a request body).
///
/// A missing or empty `methodName` is an error for which
/// [`ParseError::is_missing_method_name`] is true; a missing `<params>` means no params.
pub fn parse_method_call(doc: &[u8]) -> Result<MethodCall, ParseError> {
    let root = build_tree(doc)?;
    if root.name != "methodCall" {
        return Err(ParseError::new(format!(
            "expected <methodCall>, got <{}>",
            root.name
        )));
    }
    let mut name: Option<String> = None;
    let mut params = Vec::new();
    for child in &root.children {
        match child.name.as_str() {
            "methodName" => {
                if !child.children.is_empty() {
                    return Err(ParseError::new("<methodName> must not have children"));
                }
                name = Some(child.text.clone());
            }
            "params" => params = parse_params(child, false)?,
            other => return Err(ParseError::new(format!("unexpected <{other}>"))),
        }
    }
    match name {
        Some(n) if !n.is_empty() => Ok(MethodCall { name: n, params }),
        _ => Err(ParseError::new(NO_METHOD_NAME)),
    }
}

/// Decodes a `methodResponse` document: `Ok(Ok(value))` for a result, `Ok(Err(fault))` for a
/// fault. Also accepts `nil` (decoded as an empty string) and `i8` (an `Int` when it fits,
/// otherwise a `Double`).
pub fn parse_method_response(doc: &[u8]) -> Result<Result<Value, Fault>, ParseError> {
    let root = build_tree(doc)?;
    if root.name != "methodResponse" {
        return Err(ParseError::new(format!(
            "expected <methodResponse>, got <{}>",
            root.name
        )));
    }
    let [body] = root.children.as_slice() else {
        return Err(ParseError::new(
            "<methodResponse> must hold one <params> or <fault>",
        ));
    };
    match body.name.as_str() {
        "params" => {
            let mut values = parse_params(body, true)?;
            if values.len() != 1 {
                return Err(ParseError::new("a response must carry exactly one param"));
            }
            Ok(Ok(values.remove(0)))
        }
        "fault" => {
            let [v] = body.children.as_slice() else {
                return Err(ParseError::new("<fault> must hold one <value>"));
            };
            let v = parse_value(v, true)?;
            let code = v.get("faultCode").and_then(Value::as_int);
            let string = v.get("faultString").and_then(Value::as_str);
            match (code, string) {
                (Some(code), Some(string)) => Ok(Err(Fault {
                    code,
                    string: string.to_string(),
                })),
                _ => Err(ParseError::new(
                    "a fault must be a struct with faultCode and faultString",
                )),
            }
        }
        other => Err(ParseError::new(format!("unexpected <{other}>"))),
    }
}

// ---------------------------------------------------------------------------------------------
// Writing, in the exact layout of Python's xmlrpc.client.dumps.

/// Appends `s` with `&`, `<` and `>` escaped (what Python's `escape` does; nothing else).
#[inline]
pub fn escape_into(out: &mut Vec<u8>, s: &str) {
    let bytes = s.as_bytes();
    let mut start = 0;
    if bytes.len() <= 64 {
        // Short strings (names, member names, paths): a branch-free look for any of the
        // three bytes (the compiler vectorizes it), then one copy; only strings that do
        // need escaping take the byte loop.
        if !has_markup_byte(bytes) {
            out.extend_from_slice(bytes);
            return;
        }
        for (i, &b) in bytes.iter().enumerate() {
            let rep: &[u8] = match b {
                b'&' => b"&amp;",
                b'<' => b"&lt;",
                b'>' => b"&gt;",
                _ => continue,
            };
            out.extend_from_slice(&bytes[start..i]);
            out.extend_from_slice(rep);
            start = i + 1;
        }
        out.extend_from_slice(&bytes[start..]);
        return;
    }
    for i in memchr::memchr3_iter(b'&', b'<', b'>', bytes) {
        let rep: &[u8] = match bytes[i] {
            b'&' => b"&amp;",
            b'<' => b"&lt;",
            _ => b"&gt;",
        };
        out.extend_from_slice(&bytes[start..i]);
        out.extend_from_slice(rep);
        start = i + 1;
    }
    out.extend_from_slice(&bytes[start..]);
}

/// True when `bytes` contains `&`, `<` or `>`, looking at eight bytes at a time.
#[inline]
fn has_markup_byte(bytes: &[u8]) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    // Nonzero exactly when some byte of `v` is zero.
    let zero_byte = |v: u64| v.wrapping_sub(ONES) & !v & HIGH;
    let mut chunks = bytes.chunks_exact(8);
    for c in &mut chunks {
        let mut w = [0u8; 8];
        w.copy_from_slice(c);
        let x = u64::from_le_bytes(w);
        // `<` (0x3C) and `>` (0x3E) differ only in bit 1.
        let angle = (x & (ONES * 0xFD)) ^ (ONES * b'<' as u64);
        let amp = x ^ (ONES * b'&' as u64);
        if zero_byte(angle) | zero_byte(amp) != 0 {
            return true;
        }
    }
    chunks
        .remainder()
        .iter()
        .any(|&b| b == b'&' || b == b'<' || b == b'>')
}

/// Appends the decimal form of `i` without allocating.
fn push_int(out: &mut Vec<u8>, i: i32) {
    out.extend_from_slice(itoa::Buffer::new().format(i).as_bytes());
}

/// A close upper estimate of the encoded size of `v`, to allocate the output once.
fn size_hint(v: &Value) -> usize {
    match v {
        Value::Int(_) | Value::Bool(_) | Value::Double(_) | Value::DateTime(_) => 64,
        Value::String(s) => 34 + s.len() + s.len() / 8,
        Value::Base64(d) => 40 + d.len() * 4 / 3 + d.len() / 57,
        Value::Array(a) => 40 + a.iter().map(size_hint).sum::<usize>(),
        Value::Struct(m) => {
            36 + m
                .iter()
                .map(|(k, v)| 40 + k.len() + size_hint(v))
                .sum::<usize>()
        }
    }
}

/// Formats a double as Python's `repr(float)` does (`1.0`, `1e+16`, `1.5e-07`, `inf`, `nan`).
pub fn python_float_repr(f: f64) -> String {
    if f.is_nan() {
        return "nan".into();
    }
    if f.is_infinite() {
        return if f > 0.0 { "inf".into() } else { "-inf".into() };
    }
    if f == 0.0 {
        return if f.is_sign_negative() {
            "-0.0".into()
        } else {
            "0.0".into()
        };
    }
    // Shortest round-trip digits and exponent, from Rust's `{:e}` (e.g. "1.5e-7").
    let sci = format!("{:e}", f.abs());
    let (mant, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let digits: String = mant.chars().filter(|c| *c != '.').collect();
    let sign = if f < 0.0 { "-" } else { "" };
    if (-4..16).contains(&exp) {
        let n = digits.len() as i32;
        let s = if exp >= 0 {
            let int_len = exp + 1;
            if n <= int_len {
                format!("{}{}.0", digits, "0".repeat((int_len - n) as usize))
            } else {
                format!(
                    "{}.{}",
                    &digits[..int_len as usize],
                    &digits[int_len as usize..]
                )
            }
        } else {
            format!("0.{}{}", "0".repeat((-exp - 1) as usize), digits)
        };
        format!("{sign}{s}")
    } else {
        let m = if digits.len() > 1 {
            format!("{}.{}", &digits[..1], &digits[1..])
        } else {
            digits
        };
        let esign = if exp < 0 { '-' } else { '+' };
        format!("{sign}{m}e{esign}{:02}", exp.abs())
    }
}

/// Appends one `<value>...</value>\n` in Python's layout.
pub fn write_value(out: &mut Vec<u8>, v: &Value) {
    match v {
        Value::Int(i) => write_int(out, *i),
        Value::Bool(b) => {
            out.extend_from_slice(if *b {
                b"<value><boolean>1</boolean></value>\n"
            } else {
                b"<value><boolean>0</boolean></value>\n"
            });
        }
        Value::String(s) => write_str(out, s),
        Value::Double(f) => {
            out.extend_from_slice(b"<value><double>");
            out.extend_from_slice(python_float_repr(*f).as_bytes());
            out.extend_from_slice(b"</double></value>\n");
        }
        Value::DateTime(t) => {
            out.extend_from_slice(b"<value><dateTime.iso8601>");
            escape_into(out, t);
            out.extend_from_slice(b"</dateTime.iso8601></value>\n");
        }
        Value::Base64(data) => {
            out.extend_from_slice(b"<value><base64>\n");
            // Python's base64.encodebytes: lines of 76 characters, each ending in "\n".
            let enc = base64::engine::general_purpose::STANDARD.encode(data);
            for chunk in enc.as_bytes().chunks(76) {
                out.extend_from_slice(chunk);
                out.push(b'\n');
            }
            out.extend_from_slice(b"</base64></value>\n");
        }
        Value::Array(items) => {
            begin_array(out);
            for item in items {
                write_value(out, item);
            }
            end_array(out);
        }
        Value::Struct(members) => {
            begin_struct(out);
            for (k, v) in members {
                begin_member(out, k);
                write_value(out, v);
                end_member(out);
            }
            end_struct(out);
        }
    }
}

const XML_DECL: &[u8] = b"<?xml version='1.0'?>\n";

// Incremental writing: the pieces of [`write_value`]'s layout, for callers that encode a
// large answer straight from their own data instead of building a [`Value`] tree first.
// Used in the documented order they produce exactly what `write_value` produces.

/// Opens a `<struct>` value; add members with [`write_int_member`] /
/// [`write_str_member`] (or [`begin_member`] + [`write_value`] + [`end_member`]) and
/// close it with [`end_struct`].
pub fn begin_struct(out: &mut Vec<u8>) {
    out.extend_from_slice(b"<value><struct>\n");
}

/// Closes a value opened with [`begin_struct`].
pub fn end_struct(out: &mut Vec<u8>) {
    out.extend_from_slice(b"</struct></value>\n");
}

/// Opens the struct member `name`; its value follows, then [`end_member`].
pub fn begin_member(out: &mut Vec<u8>, name: &str) {
    out.extend_from_slice(b"<member>\n<name>");
    escape_into(out, name);
    out.extend_from_slice(b"</name>\n");
}

/// Closes a member opened with [`begin_member`].
pub fn end_member(out: &mut Vec<u8>) {
    out.extend_from_slice(b"</member>\n");
}

/// Appends the member `name` with an `<int>` value.
pub fn write_int_member(out: &mut Vec<u8>, name: &str, i: i32) {
    // The same bytes as begin_member + write_int + end_member, in fewer pieces.
    out.reserve(64 + name.len());
    out.extend_from_slice(b"<member>\n<name>");
    escape_into(out, name);
    out.extend_from_slice(b"</name>\n<value><int>");
    push_int(out, i);
    out.extend_from_slice(b"</int></value>\n</member>\n");
}

/// Appends the member `name` with a `<string>` value.
pub fn write_str_member(out: &mut Vec<u8>, name: &str, s: &str) {
    // The same bytes as begin_member + write_str + end_member, in fewer pieces.
    out.reserve(72 + name.len() + s.len());
    out.extend_from_slice(b"<member>\n<name>");
    escape_into(out, name);
    out.extend_from_slice(b"</name>\n<value><string>");
    escape_into(out, s);
    out.extend_from_slice(b"</string></value>\n</member>\n");
}

/// Appends an `<int>` value (what `write_value(&Value::Int(i))` writes).
pub fn write_int(out: &mut Vec<u8>, i: i32) {
    out.extend_from_slice(b"<value><int>");
    push_int(out, i);
    out.extend_from_slice(b"</int></value>\n");
}

/// Appends a `<string>` value (what `write_value(&Value::String(..))` writes).
pub fn write_str(out: &mut Vec<u8>, s: &str) {
    out.extend_from_slice(b"<value><string>");
    escape_into(out, s);
    out.extend_from_slice(b"</string></value>\n");
}

/// Opens an `<array>` value; append its elements, then [`end_array`].
pub fn begin_array(out: &mut Vec<u8>) {
    out.extend_from_slice(b"<value><array><data>\n");
}

/// Closes a value opened with [`begin_array`].
pub fn end_array(out: &mut Vec<u8>) {
    out.extend_from_slice(b"</data></array></value>\n");
}

/// Opens a successful response document; append its one value, then [`end_response`].
/// Together they produce what [`write_response`] produces.
pub fn begin_response(out: &mut Vec<u8>) {
    out.extend_from_slice(XML_DECL);
    out.extend_from_slice(b"<methodResponse>\n<params>\n<param>\n");
}

/// Closes a document opened with [`begin_response`].
pub fn end_response(out: &mut Vec<u8>) {
    out.extend_from_slice(b"</param>\n</params>\n</methodResponse>\n");
}

/// Encodes a request, as `xmlrpc.client.dumps(params, name)` does (except that the method name
/// is escaped too, so that any name yields well-formed XML).
pub fn write_method_call(name: &str, params: &[Value]) -> Vec<u8> {
    let mut out = Vec::with_capacity(128);
    out.extend_from_slice(XML_DECL);
    out.extend_from_slice(b"<methodCall>\n<methodName>");
    escape_into(&mut out, name);
    out.extend_from_slice(b"</methodName>\n<params>\n");
    for p in params {
        out.extend_from_slice(b"<param>\n");
        write_value(&mut out, p);
        out.extend_from_slice(b"</param>\n");
    }
    out.extend_from_slice(b"</params>\n</methodCall>\n");
    out
}

/// Encodes a successful response, as `xmlrpc.client.dumps((value,), methodresponse=True)`.
pub fn write_response(value: &Value) -> Vec<u8> {
    let mut out = Vec::with_capacity(128 + size_hint(value));
    begin_response(&mut out);
    write_value(&mut out, value);
    end_response(&mut out);
    out
}

/// Encodes a fault response, as `xmlrpc.client.dumps(Fault(code, string))`.
pub fn write_fault(fault: &Fault) -> Vec<u8> {
    let mut out = Vec::with_capacity(256);
    out.extend_from_slice(XML_DECL);
    out.extend_from_slice(b"<methodResponse>\n<fault>\n");
    write_value(
        &mut out,
        &Value::Struct(vec![
            ("faultCode".into(), Value::Int(fault.code)),
            ("faultString".into(), Value::String(fault.string.clone())),
        ]),
    );
    out.extend_from_slice(b"</fault>\n</methodResponse>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn call(doc: &str) -> Result<MethodCall, ParseError> {
        parse_method_call(doc.as_bytes())
    }

    #[test]
    fn response_layout_matches_python() {
        let v = Value::Struct(vec![
            ("a".into(), Value::Int(1)),
            (
                "b".into(),
                Value::Array(vec![Value::Bool(true), "x<&>".into()]),
            ),
        ]);
        let got = String::from_utf8(write_response(&v)).unwrap();
        let want = "<?xml version='1.0'?>\n<methodResponse>\n<params>\n<param>\n\
<value><struct>\n<member>\n<name>a</name>\n<value><int>1</int></value>\n</member>\n\
<member>\n<name>b</name>\n<value><array><data>\n<value><boolean>1</boolean></value>\n\
<value><string>x&lt;&amp;&gt;</string></value>\n</data></array></value>\n</member>\n\
</struct></value>\n</param>\n</params>\n</methodResponse>\n";
        assert_eq!(got, want);
    }

    #[test]
    fn fault_and_call_layout() {
        let f = Fault {
            code: 10,
            string: "BAD_NAME: x".into(),
        };
        let got = String::from_utf8(write_fault(&f)).unwrap();
        assert_eq!(
            got,
            "<?xml version='1.0'?>\n<methodResponse>\n<fault>\n<value><struct>\n<member>\n\
<name>faultCode</name>\n<value><int>10</int></value>\n</member>\n<member>\n<name>faultString</name>\n\
<value><string>BAD_NAME: x</string></value>\n</member>\n</struct></value>\n</fault>\n</methodResponse>\n"
        );
        let got = String::from_utf8(write_method_call("a.b", &[])).unwrap();
        assert_eq!(
            got,
            "<?xml version='1.0'?>\n<methodCall>\n<methodName>a.b</methodName>\n<params>\n</params>\n</methodCall>\n"
        );
        assert_eq!(parse_method_response(&write_fault(&f)).unwrap(), Err(f));
    }

    #[test]
    fn parses_every_request_type() {
        let c = call(
            "<?xml version='1.0'?><methodCall><methodName>x.y</methodName><params>\
<param><value><int> 5 </int></value></param>\
<param><value><i4>-7</i4></value></param>\
<param><value><boolean>1</boolean></value></param>\
<param><value><boolean>true</boolean></value></param>\
<param><value>untyped &amp; text</value></param>\
<param><value></value></param>\
<param><value><string/></value></param>\
<param><value><double>1.5</double></value></param>\
<param><value><dateTime.iso8601>20260101T01:02:03</dateTime.iso8601></value></param>\
<param><value><base64>aGVs\nbG8=</base64></value></param>\
<param><value><array><data><value><int>1</int></value></data></array></value></param>\
<param><value><struct><member><name>k</name><value><string>v</string></value></member></struct></value></param>\
</params></methodCall>",
        )
        .unwrap();
        assert_eq!(c.name, "x.y");
        assert_eq!(
            c.params,
            vec![
                Value::Int(5),
                Value::Int(-7),
                Value::Bool(true),
                Value::Bool(false),
                Value::String("untyped & text".into()),
                Value::String("".into()),
                Value::String("".into()),
                Value::Double(1.5),
                Value::DateTime("20260101T01:02:03".into()),
                Value::Base64(b"hello".to_vec()),
                Value::Array(vec![Value::Int(1)]),
                Value::Struct(vec![("k".into(), "v".into())]),
            ]
        );
    }

    #[test]
    fn params_optional_and_method_name_required() {
        let c = call("<methodCall><methodName>a.b</methodName></methodCall>").unwrap();
        assert!(c.params.is_empty());
        let e = call("<methodCall><params/></methodCall>").unwrap_err();
        assert!(e.is_missing_method_name());
        let e = call("<methodCall><methodName/></methodCall>").unwrap_err();
        assert!(e.is_missing_method_name());
    }

    #[test]
    fn rejects_bad_documents() {
        for doc in [
            "",
            "garbage",
            "<methodCall><methodName>a</methodName>",
            "<methodCall><methodName>a</methodName><params><param><value><nil/></value></param></params></methodCall>",
            "<methodCall><methodName>a</methodName><params><param><value><i8>1</i8></value></param></params></methodCall>",
            "<methodCall><methodName>a</methodName><params><param><value><int>x</int></value></param></params></methodCall>",
            "<methodCall><methodName>a</methodName><params><param><value><int>99999999999</int></value></param></params></methodCall>",
            "<methodCall><methodName>a</methodName><params><param/></params></methodCall>",
            "<methodCall><methodName>a</methodName><params><param><value><array/></value></param></params></methodCall>",
            "<!DOCTYPE x [<!ENTITY a 'b'>]><methodCall><methodName>&a;</methodName></methodCall>",
            "<methodCall><methodName>&unknown;</methodName></methodCall>",
            "<methodCall><methodName>a</methodName></methodCall><x/>",
            "<methodResponse/>",
        ] {
            assert!(call(doc).is_err(), "accepted {doc:?}");
        }
        assert!(
            parse_method_call(b"<methodCall><methodName>\xff</methodName></methodCall>").is_err()
        );
    }

    #[test]
    fn depth_is_bounded() {
        let mut doc = String::from("<methodCall><methodName>a</methodName><params><param>");
        for _ in 0..200 {
            doc.push_str("<value><array><data>");
        }
        for _ in 0..200 {
            doc.push_str("</data></array></value>");
        }
        doc.push_str("</param></params></methodCall>");
        assert!(call(&doc).unwrap_err().0.contains("deep"));
    }

    #[test]
    fn lenient_response_types() {
        let r = parse_method_response(
            b"<methodResponse><params><param><value><array><data>\
<value><nil/></value><value><i8>5</i8></value><value><i8>9999999999</i8></value>\
</data></array></value></param></params></methodResponse>",
        )
        .unwrap()
        .unwrap();
        assert_eq!(
            r,
            Value::Array(vec![
                Value::String(String::new()),
                Value::Int(5),
                Value::Double(9999999999.0)
            ])
        );
        assert!(
            parse_method_response(b"<methodResponse><params></params></methodResponse>").is_err()
        );
    }

    #[test]
    fn ints_and_hint() {
        for i in [0, 7, -7, 10, 123456, i32::MAX, i32::MIN] {
            let mut out = Vec::new();
            push_int(&mut out, i);
            assert_eq!(String::from_utf8(out).unwrap(), i.to_string());
        }
        // For text without escapes the estimate is an upper bound (one allocation).
        let v = Value::Array(vec![
            Value::structure([
                ("name", Value::from("abc")),
                ("pid", Value::Int(5))
            ]);
            100
        ]);
        assert!(write_response(&v).len() <= 128 + size_hint(&v));
    }

    #[test]
    fn markup_bytes_are_found_anywhere() {
        for len in 0..40 {
            for pos in 0..len {
                for c in [b'&', b'<', b'>'] {
                    let mut v = vec![b'a'; len];
                    v[pos] = c;
                    assert!(has_markup_byte(&v), "{len} {pos} {c}");
                }
            }
            // Neighbours of the three bytes, high bytes and zero bytes are not markup.
            let v: Vec<u8> = (0..len)
                .map(|i| [b'%', b'\'', b'=', b'?', b';', b'=', 0, 0xBC, 0xBE, 0xA6][i % 10])
                .collect();
            assert!(!has_markup_byte(&v), "{v:?}");
        }
    }

    #[test]
    fn escape_short_and_long_strings() {
        for s in [
            "",
            "plain",
            "a&b<c>d",
            "&&",
            "<",
            "x".repeat(32).as_str(),
            &"<&>".repeat(11),
        ] {
            for n in [0, 1, 20, 40] {
                let t = format!("{}{s}", "y".repeat(n));
                let mut out = Vec::new();
                escape_into(&mut out, &t);
                let want = t
                    .replace('&', "&amp;")
                    .replace('<', "&lt;")
                    .replace('>', "&gt;");
                assert_eq!(String::from_utf8(out).unwrap(), want);
            }
        }
    }

    #[test]
    fn incremental_writers_match_write_value() {
        let v = Value::Array(vec![Value::Struct(vec![
            ("name".into(), Value::from("a<b>&c")),
            ("pid".into(), Value::Int(-7)),
            ("k&".into(), Value::Struct(vec![])),
        ])]);
        let mut want = Vec::new();
        write_value(&mut want, &v);
        let mut out = Vec::new();
        begin_array(&mut out);
        begin_struct(&mut out);
        write_str_member(&mut out, "name", "a<b>&c");
        write_int_member(&mut out, "pid", -7);
        begin_member(&mut out, "k&");
        begin_struct(&mut out);
        end_struct(&mut out);
        end_member(&mut out);
        end_struct(&mut out);
        end_array(&mut out);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            String::from_utf8(want).unwrap()
        );
        let mut doc = Vec::new();
        begin_response(&mut doc);
        write_int(&mut doc, 3);
        end_response(&mut doc);
        assert_eq!(doc, write_response(&Value::Int(3)));
    }

    #[test]
    fn float_repr() {
        for (f, s) in [
            (1.0, "1.0"),
            (1.5, "1.5"),
            (-2.25, "-2.25"),
            (1e16, "1e+16"),
            (1.5e-7, "1.5e-07"),
            (0.0001, "0.0001"),
            (123456789012345.6, "123456789012345.6"),
            (0.1, "0.1"),
            (1e300, "1e+300"),
        ] {
            assert_eq!(python_float_repr(f), s);
        }
    }

    #[test]
    fn base64_lines() {
        let data = vec![7u8; 100];
        let out = String::from_utf8(write_response(&Value::Base64(data.clone()))).unwrap();
        assert!(out.contains("<value><base64>\n"));
        let r = parse_method_response(out.as_bytes()).unwrap().unwrap();
        assert_eq!(r, Value::Base64(data));
    }

    fn value_strategy() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            any::<i32>().prop_map(Value::Int),
            any::<bool>().prop_map(Value::Bool),
            "[^\u{0}-\u{8}\u{b}\u{c}\u{e}-\u{1f}\r\u{fffe}\u{ffff}]*".prop_map(Value::String),
            any::<f64>()
                .prop_filter("finite", |f| f.is_finite())
                .prop_map(Value::Double),
            proptest::collection::vec(any::<u8>(), 0..200).prop_map(Value::Base64),
            "[0-9]{8}T[0-9]{2}:[0-9]{2}:[0-9]{2}".prop_map(Value::DateTime),
        ];
        leaf.prop_recursive(4, 64, 8, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..8).prop_map(Value::Array),
                proptest::collection::btree_map("[a-zA-Z0-9_&<> ]{0,10}", inner, 0..8)
                    .prop_map(|m| Value::Struct(m.into_iter().collect())),
            ]
        })
    }

    proptest! {
        #[test]
        fn round_trip(v in value_strategy(), name in "[a-zA-Z._&<>]{1,20}") {
            let resp = parse_method_response(&write_response(&v)).unwrap().unwrap();
            prop_assert_eq!(&resp, &v);
            let c = parse_method_call(&write_method_call(&name, std::slice::from_ref(&v))).unwrap();
            prop_assert_eq!(c.name, name);
            prop_assert_eq!(c.params, vec![v]);
        }

        #[test]
        fn never_panics(doc in proptest::collection::vec(any::<u8>(), 0..400)) {
            let _ = parse_method_call(&doc);
            let _ = parse_method_response(&doc);
        }
    }
}

/// Cross-checks with the reference client library: Python's `xmlrpc.client` must parse what we
/// write, and we must parse what it writes. Needs the project's `.venv` (made by `scripts/test`).
#[cfg(test)]
mod python_interop {
    use super::*;
    use std::io::Write;
    use std::process::{Command, Stdio};

    fn python() -> std::path::PathBuf {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let p = std::env::var_os("SUPERVISOR_RS_VENV")
            .map(std::path::PathBuf::from)
            .unwrap_or_else(|| root.join(".venv"))
            .join("bin/python");
        assert!(
            p.exists(),
            "{} missing: run scripts/setup-venv",
            p.display()
        );
        p
    }

    fn run_python(script: &str, stdin: &[u8]) -> String {
        let mut child = Command::new(python())
            .arg("-c")
            .arg(script)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("python runs");
        child.stdin.take().unwrap().write_all(stdin).unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "python failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).expect("python writes UTF-8")
    }

    fn sample() -> Value {
        Value::Array(vec![
            Value::Int(-5),
            Value::Bool(false),
            Value::String("a & b < c > d \u{e9}\u{1f600} \"q\" 'q'\n".into()),
            Value::Double(2.5e-9),
            Value::DateTime("20260101T01:02:03".into()),
            Value::Base64((0u8..=255).collect()),
            Value::Struct(vec![
                ("z<&".into(), Value::Array(vec![])),
                ("a".into(), Value::Struct(vec![])),
            ]),
        ])
    }

    #[test]
    fn python_parses_our_output_and_writes_the_same_bytes() {
        // Python re-dumps what it loaded from us: the bytes must be identical to ours.
        let script = "import sys, xmlrpc.client as x\n\
data = sys.stdin.buffer.read().decode()\n\
params, name = x.loads(data)\n\
if name is None:\n    out = x.dumps(params, methodresponse=True)\n\
else:\n    out = x.dumps(params, name)\n\
sys.stdout.write(out)\n";
        let ours = write_response(&sample());
        assert_eq!(run_python(script, &ours).as_bytes(), ours);
        // (Python leaves the method name unescaped; we escape it, so use a plain name here.)
        let ours = write_method_call("supervisor.getState", &[sample(), Value::Int(1)]);
        assert_eq!(run_python(script, &ours).as_bytes(), ours);
        let fault_script = "import sys, xmlrpc.client as x\n\
try:\n    x.loads(sys.stdin.buffer.read().decode())\n\
except x.Fault as f:\n    sys.stdout.write(x.dumps(f))\n";
        let ours = write_fault(&Fault {
            code: 2,
            string: "INCORRECT_PARAMETERS: <x>".into(),
        });
        assert_eq!(run_python(fault_script, &ours).as_bytes(), ours);
    }

    #[test]
    fn we_parse_python_output() {
        let script = "import sys, xmlrpc.client as x, datetime\n\
v = [1, True, 'h\\u00e9 & <>', 0.5, x.DateTime('20260101T01:02:03'), x.Binary(b'\\x00\\xff'),\n\
     {'k': [], 'j': {'n': -1}}]\n\
sys.stdout.write(x.dumps((v,), 'supervisor.getState'))\n\
sys.stdout.write('\\0')\n\
sys.stdout.write(x.dumps((v,), methodresponse=True))\n\
sys.stdout.write('\\0')\n\
sys.stdout.write(x.dumps(x.Fault(10, 'BAD_NAME: foo')))\n";
        let out = run_python(script, b"");
        let parts: Vec<&[u8]> = out.as_bytes().split(|b| *b == 0).collect();
        let want = Value::Array(vec![
            Value::Int(1),
            Value::Bool(true),
            Value::String("h\u{e9} & <>".into()),
            Value::Double(0.5),
            Value::DateTime("20260101T01:02:03".into()),
            Value::Base64(vec![0, 255]),
            Value::Struct(vec![
                ("k".into(), Value::Array(vec![])),
                (
                    "j".into(),
                    Value::Struct(vec![("n".into(), Value::Int(-1))]),
                ),
            ]),
        ]);
        let c = parse_method_call(parts[0]).unwrap();
        assert_eq!(c.name, "supervisor.getState");
        assert_eq!(c.params, vec![want.clone()]);
        assert_eq!(parse_method_response(parts[1]).unwrap(), Ok(want));
        assert_eq!(
            parse_method_response(parts[2]).unwrap(),
            Err(Fault {
                code: 10,
                string: "BAD_NAME: foo".into()
            })
        );
    }
}
