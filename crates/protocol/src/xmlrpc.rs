//! The XML-RPC value codec: requests and responses as `xmlrpc.client` and Supervisor write them.
//!
//! Reading: [`parse_method_call`] (server side) and [`parse_method_response`] (client side).
//! Both accept every value type Supervisor's request parser accepts (`int`, `i4`, `boolean`,
//! `string`, untyped `<value>text</value>`, `double`, `dateTime.iso8601`, `base64`, `array`,
//! `struct`); responses additionally accept `nil` and `i8` so clients do not choke on other
//! servers. Documents must be UTF-8 and well-formed down to the character (NUL and the other
//! characters XML 1.0 forbids are refused wherever they are, as expat does); DTDs are refused
//! (no entity expansion). Reading is one pass over the document, linear in its size, and
//! requests are bounded: [`MAX_DEPTH`], [`MAX_ELEMENTS`], [`MAX_STRUCT_MEMBERS`],
//! [`MAX_ARRAY_ITEMS`] (a [`ParseError::is_limit`] error beyond them).
//!
//! Writing: [`write_method_call`], [`write_response`] and [`write_fault`] produce byte for byte
//! the layout of Python's `xmlrpc.client.dumps` (one element per line where Python breaks lines,
//! `&`, `<` and `>` escaped), which every XML-RPC client parses.

use crate::Fault;
use base64::Engine as _;
use std::borrow::Cow;
use std::collections::hash_map::RandomState;
use std::hash::BuildHasher as _;

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
///
/// The text says what is wrong; [`ParseError::is_limit`] tells a document over one of the
/// request limits (well-formed, but refused) from a malformed one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError(pub String, ErrorKind);

/// The three kinds of [`ParseError`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ErrorKind {
    Malformed,
    NoMethodName,
    Limit,
}

impl ParseError {
    fn new(msg: impl Into<String>) -> ParseError {
        ParseError(msg.into(), ErrorKind::Malformed)
    }

    fn limit(msg: impl Into<String>) -> ParseError {
        ParseError(msg.into(), ErrorKind::Limit)
    }

    /// True when the document parsed but carried no (or an empty) `methodName`.
    pub fn is_missing_method_name(&self) -> bool {
        self.1 == ErrorKind::NoMethodName
    }

    /// True when the document went over one of the limits ([`MAX_DEPTH`], [`MAX_ELEMENTS`],
    /// [`MAX_STRUCT_MEMBERS`], [`MAX_ARRAY_ITEMS`], [`MAX_ATTRIBUTES`]); the text names the
    /// limit.
    pub fn is_limit(&self) -> bool {
        self.1 == ErrorKind::Limit
    }
}

impl std::fmt::Display for ParseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ParseError {}

/// The deepest element nesting accepted (a `value` inside an `array` inside a `data` ... counts
/// one level per element), in requests and responses.
pub const MAX_DEPTH: usize = 128;

/// The most elements one request may hold: twice what a 16 MB `system.multicall` of
/// `getState` calls needs (about 11 elements in 190 bytes per call).
pub const MAX_ELEMENTS: usize = 2_000_000;

/// The most `<member>`s one `<struct>` of a request may hold (no method takes a struct; a
/// multicall's call structs have two members).
pub const MAX_STRUCT_MEMBERS: usize = 10_000;

/// The most `<value>`s one `<array>` of a request may hold (a 16 MB multicall holds under
/// 100,000 calls). `<param>`s are bounded by [`MAX_ELEMENTS`] (two elements each).
pub const MAX_ARRAY_ITEMS: usize = 1_000_000;

const NO_METHOD_NAME: &str = "no method name";

/// The most attributes one element may carry, in requests and responses (XML-RPC gives
/// attributes no meaning; no client sends any).
pub const MAX_ATTRIBUTES: usize = 16;

/// The bounds one document is read under.
#[derive(Debug, Clone, Copy)]
struct Limits {
    depth: usize,
    elements: usize,
    members: usize,
    items: usize,
}

/// Requests come from anyone who can reach the socket.
const REQUEST_LIMITS: Limits = Limits {
    depth: MAX_DEPTH,
    elements: MAX_ELEMENTS,
    members: MAX_STRUCT_MEMBERS,
    items: MAX_ARRAY_ITEMS,
};

/// Responses come from the server the client chose (a `getAllProcessInfo` of 100,000
/// processes is millions of elements): only the nesting is bounded.
const RESPONSE_LIMITS: Limits = Limits {
    depth: MAX_DEPTH,
    elements: usize::MAX,
    members: usize::MAX,
    items: usize::MAX,
};

// ---------------------------------------------------------------------------------------------
// Reading: one pass over quick-xml's events with a stack of partly built values, so the cost
// is linear in the document (no element tree, no quadratic member lookup).

/// Which document is expected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Call,
    Response,
}

/// A decoded document.
enum Doc {
    Call(MethodCall),
    Response(Result<Value, Fault>),
}

/// The scalar types (elements whose content is text only).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Leaf {
    Int,
    I8,
    Nil,
    Boolean,
    Str,
    Double,
    DateTime,
    Base64,
}

/// The text of an element: borrowed from the document while it is one plain piece (no
/// references, no CR), so scalars like `<int>1</int>` are read without an allocation.
type Text<'a> = Cow<'a, str>;

/// What a `<value>` holds so far.
#[derive(Debug)]
enum ValueState<'a> {
    /// Untyped content (no child element yet).
    Text(Text<'a>),
    /// Its child element is open.
    Child,
    /// Its child element is done.
    Typed(Value),
}

/// Struct members in wire order; a repeated name keeps its first position and takes the last
/// value. Small structs are searched in place; from [`Members::INDEXED`] members on, an
/// open-addressing table of positions (hashed with the standard library's randomly keyed
/// SipHash, so clients cannot aim collisions; no copies of the names) keeps each insertion O(1).
#[derive(Debug, Default)]
struct Members {
    list: Vec<(String, Value)>,
    /// Per slot: the position in `list` plus one in the low 32 bits (0: a free slot), the top
    /// 32 bits of the name's hash above (most probes then skip the name comparison). A power
    /// of two at least twice as long as `list`, or empty while the struct is small.
    table: Vec<u64>,
    /// The hash of each name in `list` (the table is rebuilt without hashing again).
    hashes: Vec<u64>,
    hasher: Option<RandomState>,
    /// `<member>` elements seen (repeats included), for the limit.
    seen: usize,
}

#[cfg(test)]
thread_local! {
    /// Member-name comparisons made on this thread (the linearity test counts them).
    static NAME_COMPARISONS: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// Counts one member-name comparison (tests only).
#[inline]
fn count_comparison() {
    #[cfg(test)]
    NAME_COMPARISONS.with(|c| c.set(c.get() + 1));
}

impl Members {
    const INDEXED: usize = 16;

    fn insert(&mut self, name: String, value: Value) {
        if self.table.is_empty() {
            if let Some(slot) = self.list.iter_mut().find(|(k, _)| {
                count_comparison();
                *k == name
            }) {
                slot.1 = value;
                return;
            }
            self.list.push((name, value));
            if self.list.len() >= Self::INDEXED {
                self.rebuild(Self::INDEXED * 4);
            }
            return;
        }
        let hasher = self.hasher.get_or_insert_with(RandomState::new);
        let hash = hasher.hash_one(name.as_str());
        let tag = hash & !0xFFFF_FFFF;
        let mask = self.table.len() - 1;
        let mut i = hash as usize & mask;
        // The table is at most half full, so a free slot comes.
        loop {
            let entry = self.table[i];
            let Some(pos) = (entry as u32).checked_sub(1) else {
                break;
            };
            if entry & !0xFFFF_FFFF == tag {
                let slot = &mut self.list[pos as usize];
                count_comparison();
                if slot.0 == name {
                    slot.1 = value;
                    return;
                }
            }
            i = (i + 1) & mask;
        }
        self.table[i] = tag | (self.list.len() as u64 + 1);
        self.list.push((name, value));
        self.hashes.push(hash);
        if self.list.len() * 2 > self.table.len() {
            self.rebuild(self.table.len() * 2);
        }
    }

    /// Rebuilds the table with `size` slots (a power of two above twice the member count).
    fn rebuild(&mut self, size: usize) {
        let hasher = self.hasher.get_or_insert_with(RandomState::new);
        if self.hashes.len() < self.list.len() {
            // First build: hash the members collected so far.
            self.hashes = self
                .list
                .iter()
                .map(|(k, _)| hasher.hash_one(k.as_str()))
                .collect();
        }
        let mut table = vec![0u64; size];
        let mask = size - 1;
        for (pos, &hash) in self.hashes.iter().enumerate() {
            let mut i = hash as usize & mask;
            while table[i] != 0 {
                i = (i + 1) & mask;
            }
            table[i] = (hash & !0xFFFF_FFFF) | (pos as u64 + 1);
        }
        self.table = table;
    }
}

/// One open element and what has been built inside it so far.
#[derive(Debug)]
enum Frame<'a> {
    Call {
        name: Option<String>,
        params: Option<Vec<Value>>,
    },
    Response {
        body: Option<Result<Value, Fault>>,
        started: bool,
    },
    MethodName(Text<'a>),
    Params(Vec<Value>),
    Param {
        value: Option<Value>,
        started: bool,
    },
    Fault {
        value: Option<Value>,
        started: bool,
    },
    Value(ValueState<'a>),
    Leaf {
        kind: Leaf,
        tag: &'static str,
        text: Text<'a>,
    },
    Array {
        items: Option<Vec<Value>>,
        started: bool,
    },
    Data(Vec<Value>),
    Struct(Members),
    Member {
        name: Option<String>,
        value: Option<Value>,
        children: u8,
    },
    Name(Text<'a>),
}

impl Frame<'_> {
    /// The name of the element this frame is for.
    fn tag(&self) -> &'static str {
        match self {
            Frame::Call { .. } => "methodCall",
            Frame::Response { .. } => "methodResponse",
            Frame::MethodName(_) => "methodName",
            Frame::Params(_) => "params",
            Frame::Param { .. } => "param",
            Frame::Fault { .. } => "fault",
            Frame::Value(_) => "value",
            Frame::Leaf { tag, .. } => tag,
            Frame::Array { .. } => "array",
            Frame::Data(_) => "data",
            Frame::Struct(_) => "struct",
            Frame::Member { .. } => "member",
            Frame::Name(_) => "name",
        }
    }
}

/// What a closed element hands to its parent.
enum Item {
    MethodName(String),
    Params(Vec<Value>),
    Param(Value),
    Fault(Fault),
    Value(Value),
    Typed(Value),
    Data(Vec<Value>),
    Member(String, Value),
    Name(String),
}

/// At most 40 characters of `s`, for error texts (a 16 MB bad value is not copied whole).
fn clip(s: &str) -> String {
    match s.char_indices().nth(40) {
        Some((i, _)) => format!("{:?}...", &s[..i]),
        None => format!("{s:?}"),
    }
}

/// An element name for an error text (clipped, lossy).
fn shown(name: &[u8]) -> String {
    let s = String::from_utf8_lossy(&name[..name.len().min(60)]);
    s.into_owned()
}

fn expected_value(name: &[u8]) -> ParseError {
    ParseError::new(format!("expected <value>, got <{}>", shown(name)))
}

/// The frame for the element inside a `<value>`.
fn type_frame<'a>(name: &[u8], lenient: bool) -> Result<Frame<'a>, ParseError> {
    let leaf = |kind, tag| Frame::Leaf {
        kind,
        tag,
        text: Cow::Borrowed(""),
    };
    Ok(match name {
        b"int" => leaf(Leaf::Int, "int"),
        b"i4" => leaf(Leaf::Int, "i4"),
        b"i8" if lenient => leaf(Leaf::I8, "i8"),
        b"nil" if lenient => leaf(Leaf::Nil, "nil"),
        b"boolean" => leaf(Leaf::Boolean, "boolean"),
        b"string" => leaf(Leaf::Str, "string"),
        b"double" => leaf(Leaf::Double, "double"),
        b"dateTime.iso8601" => leaf(Leaf::DateTime, "dateTime.iso8601"),
        b"base64" => leaf(Leaf::Base64, "base64"),
        b"array" => Frame::Array {
            items: None,
            started: false,
        },
        b"struct" => Frame::Struct(Members::default()),
        other => {
            return Err(ParseError::new(format!(
                "unsupported type <{}>",
                shown(other)
            )))
        }
    })
}

fn new_value_frame<'a>() -> Frame<'a> {
    Frame::Value(ValueState::Text(Cow::Borrowed("")))
}

/// The value of a scalar element from its text.
fn leaf_value(kind: Leaf, text: Text<'_>) -> Result<Value, ParseError> {
    match kind {
        Leaf::Int => parse_int(&text).map(Value::Int),
        Leaf::I8 => {
            let t = text.trim();
            let v: i64 = t
                .parse()
                .map_err(|_| ParseError::new(format!("bad i8: {}", clip(t))))?;
            Ok(match i32::try_from(v) {
                Ok(i) => Value::Int(i),
                Err(_) => Value::Double(v as f64),
            })
        }
        Leaf::Nil => Ok(Value::String(String::new())),
        Leaf::Boolean => Ok(Value::Bool(text == "1")),
        Leaf::Str => Ok(Value::String(text.into_owned())),
        Leaf::Double => {
            let t = text.trim();
            t.parse::<f64>()
                .map(Value::Double)
                .map_err(|_| ParseError::new(format!("bad double: {}", clip(t))))
        }
        Leaf::DateTime => {
            let t = text.trim();
            if valid_datetime(t) {
                Ok(Value::DateTime(t.to_string()))
            } else {
                Err(ParseError::new(format!(
                    "bad dateTime.iso8601: {}",
                    clip(t)
                )))
            }
        }
        Leaf::Base64 => {
            let mut t = text.into_owned().into_bytes();
            t.retain(|b| !b.is_ascii_whitespace());
            base64::engine::general_purpose::STANDARD
                .decode(&t)
                .map(Value::Base64)
                .map_err(|e| ParseError::new(format!("bad base64: {e}")))
        }
    }
}

/// The state of one document being read.
struct Parser<'a> {
    mode: Mode,
    lenient: bool,
    limits: Limits,
    elements: usize,
    stack: Vec<Frame<'a>>,
    done: Option<Doc>,
}

impl<'a> Parser<'a> {
    fn open(&mut self, name: &[u8]) -> Result<(), ParseError> {
        self.elements += 1;
        if self.elements > self.limits.elements {
            return Err(ParseError::limit(format!(
                "more than {} elements in one document",
                self.limits.elements
            )));
        }
        if self.stack.len() >= self.limits.depth {
            return Err(ParseError::limit(format!(
                "elements nested too deep (more than {} levels)",
                self.limits.depth
            )));
        }
        let limits = self.limits;
        let frame = match self.stack.last_mut() {
            None => {
                if self.done.is_some() {
                    return Err(ParseError::new("content after the root element"));
                }
                match (self.mode, name) {
                    (Mode::Call, b"methodCall") => Frame::Call {
                        name: None,
                        params: None,
                    },
                    (Mode::Response, b"methodResponse") => Frame::Response {
                        body: None,
                        started: false,
                    },
                    (Mode::Call, _) => {
                        return Err(ParseError::new(format!(
                            "expected <methodCall>, got <{}>",
                            shown(name)
                        )))
                    }
                    (Mode::Response, _) => {
                        return Err(ParseError::new(format!(
                            "expected <methodResponse>, got <{}>",
                            shown(name)
                        )))
                    }
                }
            }
            Some(top) => child_frame(top, name, self.lenient, &limits)?,
        };
        self.stack.push(frame);
        Ok(())
    }

    fn close(&mut self) -> Result<(), ParseError> {
        let frame = self
            .stack
            .pop()
            .ok_or_else(|| ParseError::new("unbalanced end tag"))?;
        let item = match frame {
            Frame::Call { name, params } => {
                let name = name
                    .filter(|n| !n.is_empty())
                    .ok_or_else(|| ParseError(NO_METHOD_NAME.into(), ErrorKind::NoMethodName))?;
                self.done = Some(Doc::Call(MethodCall {
                    name,
                    params: params.unwrap_or_default(),
                }));
                return Ok(());
            }
            Frame::Response { body, .. } => {
                let body = body.ok_or_else(|| {
                    ParseError::new("<methodResponse> must hold one <params> or <fault>")
                })?;
                self.done = Some(Doc::Response(body));
                return Ok(());
            }
            Frame::MethodName(text) => Item::MethodName(text.into_owned()),
            Frame::Params(values) => Item::Params(values),
            Frame::Param { value, .. } => Item::Param(
                value.ok_or_else(|| ParseError::new("<param> must hold exactly one <value>"))?,
            ),
            Frame::Fault { value, .. } => {
                let v = value.ok_or_else(|| ParseError::new("<fault> must hold one <value>"))?;
                let code = v.get("faultCode").and_then(Value::as_int);
                let string = v.get("faultString").and_then(Value::as_str);
                match (code, string) {
                    (Some(code), Some(string)) => Item::Fault(Fault {
                        code,
                        string: string.to_string(),
                    }),
                    _ => {
                        return Err(ParseError::new(
                            "a fault must be a struct with faultCode and faultString",
                        ))
                    }
                }
            }
            Frame::Value(ValueState::Text(text)) => Item::Value(Value::String(text.into_owned())),
            Frame::Value(ValueState::Typed(v)) => Item::Value(v),
            // The child's end comes first and makes the value typed.
            Frame::Value(ValueState::Child) => return Err(ParseError::new("unbalanced <value>")),
            Frame::Leaf { kind, text, .. } => Item::Typed(leaf_value(kind, text)?),
            Frame::Array { items, .. } => {
                Item::Typed(Value::Array(items.ok_or_else(|| {
                    ParseError::new("<array> must hold exactly one <data>")
                })?))
            }
            Frame::Data(items) => Item::Data(items),
            Frame::Struct(members) => Item::Typed(Value::Struct(members.list)),
            Frame::Member { name, value, .. } => match (name, value) {
                (Some(n), Some(v)) => Item::Member(n, v),
                _ => return Err(ParseError::new("<member> must be <name> then <value>")),
            },
            Frame::Name(text) => Item::Name(text.into_owned()),
        };
        let parent = self.stack.last_mut();
        match (parent, item) {
            (Some(Frame::Call { name, .. }), Item::MethodName(n)) => *name = Some(n),
            (Some(Frame::Call { params, .. }), Item::Params(v)) => *params = Some(v),
            (Some(Frame::Response { body, .. }), Item::Params(mut v)) => {
                let one = v.pop().filter(|_| v.is_empty());
                let value =
                    one.ok_or_else(|| ParseError::new("a response must carry exactly one param"))?;
                *body = Some(Ok(value));
            }
            (Some(Frame::Response { body, .. }), Item::Fault(f)) => *body = Some(Err(f)),
            (Some(Frame::Params(values)), Item::Param(v)) => values.push(v),
            (Some(Frame::Param { value, .. } | Frame::Fault { value, .. }), Item::Value(v)) => {
                *value = Some(v)
            }
            (Some(Frame::Data(items)), Item::Value(v)) => items.push(v),
            (Some(Frame::Member { value, .. }), Item::Value(v)) => *value = Some(v),
            (Some(Frame::Value(state)), Item::Typed(v)) => *state = ValueState::Typed(v),
            (Some(Frame::Array { items, .. }), Item::Data(v)) => *items = Some(v),
            (Some(Frame::Struct(members)), Item::Member(n, v)) => members.insert(n, v),
            (Some(Frame::Member { name, .. }), Item::Name(n)) => *name = Some(n),
            // `open` only lets each element in under the parent that takes its item.
            _ => return Err(ParseError::new("element in the wrong place")),
        }
        Ok(())
    }

    /// Text (`cdata` false: with references to resolve) inside the current element.
    fn text(&mut self, raw: &'a str, cdata: bool) -> Result<(), ParseError> {
        let sink = match self.stack.last_mut() {
            Some(
                Frame::MethodName(t)
                | Frame::Name(t)
                | Frame::Leaf { text: t, .. }
                | Frame::Value(ValueState::Text(t)),
            ) => Some(t),
            // Text between child elements is ignored (it is usually whitespace), but must
            // still be well-formed.
            Some(_) => None,
            None => {
                if cdata
                    || !raw
                        .bytes()
                        .all(|b| matches!(b, b' ' | b'\t' | b'\r' | b'\n'))
                {
                    return Err(ParseError::new("text outside the root element"));
                }
                return Ok(());
            }
        };
        if let Some(t) = sink {
            // The common case: one plain piece of text, kept as a slice of the document.
            if t.is_empty() && memchr::memchr3(b'&', b'\r', b']', raw.as_bytes()).is_none() {
                *t = Cow::Borrowed(raw);
                return Ok(());
            }
            if cdata {
                normalize_newlines(raw, Some(t.to_mut()));
                return Ok(());
            }
            return decode_text(raw, Some(t.to_mut()));
        }
        if cdata {
            Ok(())
        } else {
            decode_text(raw, None)
        }
    }
}

/// The frame for element `name` opening inside `top`, or why it may not.
fn child_frame<'a>(
    top: &mut Frame<'a>,
    name: &[u8],
    lenient: bool,
    limits: &Limits,
) -> Result<Frame<'a>, ParseError> {
    Ok(match top {
        Frame::Call { .. } => match name {
            b"methodName" => Frame::MethodName(Cow::Borrowed("")),
            b"params" => Frame::Params(Vec::new()),
            other => return Err(ParseError::new(format!("unexpected <{}>", shown(other)))),
        },
        Frame::Response { started, .. } => {
            if std::mem::replace(started, true) {
                return Err(ParseError::new(
                    "<methodResponse> must hold one <params> or <fault>",
                ));
            }
            match name {
                b"params" => Frame::Params(Vec::new()),
                b"fault" => Frame::Fault {
                    value: None,
                    started: false,
                },
                other => return Err(ParseError::new(format!("unexpected <{}>", shown(other)))),
            }
        }
        Frame::MethodName(_) => return Err(ParseError::new("<methodName> must not have children")),
        Frame::Params(_) => {
            if name != b"param" {
                return Err(ParseError::new("<params> may only hold <param>s"));
            }
            Frame::Param {
                value: None,
                started: false,
            }
        }
        Frame::Param { started, .. } => {
            if std::mem::replace(started, true) {
                return Err(ParseError::new("<param> must hold exactly one <value>"));
            }
            if name != b"value" {
                return Err(expected_value(name));
            }
            new_value_frame()
        }
        Frame::Fault { started, .. } => {
            if std::mem::replace(started, true) {
                return Err(ParseError::new("<fault> must hold one <value>"));
            }
            if name != b"value" {
                return Err(expected_value(name));
            }
            new_value_frame()
        }
        Frame::Value(state) => {
            if !matches!(state, ValueState::Text(_)) {
                return Err(ParseError::new("<value> with more than one child"));
            }
            // Typed: the text around the child does not count.
            *state = ValueState::Child;
            type_frame(name, lenient)?
        }
        Frame::Leaf { tag, .. } => {
            return Err(ParseError::new(format!("<{tag}> must not have children")))
        }
        Frame::Array { started, .. } => {
            if std::mem::replace(started, true) || name != b"data" {
                return Err(ParseError::new("<array> must hold exactly one <data>"));
            }
            Frame::Data(Vec::new())
        }
        Frame::Data(items) => {
            if name != b"value" {
                return Err(expected_value(name));
            }
            if items.len() >= limits.items {
                return Err(ParseError::limit(format!(
                    "more than {} values in one <array>",
                    limits.items
                )));
            }
            new_value_frame()
        }
        Frame::Struct(members) => {
            if name != b"member" {
                return Err(ParseError::new("<struct> may only hold <member>s"));
            }
            if members.seen >= limits.members {
                return Err(ParseError::limit(format!(
                    "more than {} members in one <struct>",
                    limits.members
                )));
            }
            members.seen += 1;
            Frame::Member {
                name: None,
                value: None,
                children: 0,
            }
        }
        Frame::Member { children, .. } => {
            *children = children.saturating_add(1);
            match (*children, name) {
                (1, b"name") => Frame::Name(Cow::Borrowed("")),
                (2, b"value") => new_value_frame(),
                _ => return Err(ParseError::new("<member> must be <name> then <value>")),
            }
        }
        Frame::Name(_) => return Err(ParseError::new("<name> must not have children")),
    })
}

/// True for the characters XML 1.0 allows nowhere: C0 controls other than tab, LF and CR.
#[inline]
fn is_bad_control(b: u8) -> bool {
    (b < 0x20) & (b != b'\t') & (b != b'\n') & (b != b'\r')
}

/// Refuses a document holding a character XML 1.0 does not allow (a C0 control other than
/// tab, LF and CR, or U+FFFE/U+FFFF; UTF-8 validity already excludes surrogates), wherever it
/// is: between elements, in text, names, attributes, comments or CDATA. `b` starts at byte
/// `base` of the document. Linear, and cheap: the control scan works 64 bytes at a time.
fn check_chars(b: &[u8], base: usize) -> Result<(), ParseError> {
    let bad = |i: usize, c: u32| {
        Err(ParseError::new(format!(
            "invalid XML character U+{c:04X} at byte {i}"
        )))
    };
    let mut at = base;
    for chunk in b.chunks(64) {
        // No early exit inside the chunk, so the compiler vectorizes the test.
        if chunk.iter().fold(false, |acc, &c| acc | is_bad_control(c)) {
            if let Some(i) = chunk.iter().position(|&c| is_bad_control(c)) {
                return bad(at + i, u32::from(chunk[i]));
            }
        }
        at += chunk.len();
    }
    // U+FFFE and U+FFFF are EF BF BE / EF BF BF (the input is valid UTF-8, so a lead byte
    // EF always has two continuation bytes after it).
    for i in memchr::memchr_iter(0xEF, b) {
        if b.get(i + 1) == Some(&0xBF) && matches!(b.get(i + 2), Some(0xBE | 0xBF)) {
            return bad(base + i, 0xFFFE + u32::from(b[i + 2] - 0xBE));
        }
    }
    Ok(())
}

/// Appends CDATA content with line ends normalized (`\r\n` and a lone `\r` become `\n`).
fn normalize_newlines(raw: &str, sink: Option<&mut String>) {
    let Some(out) = sink else { return };
    let mut rest = raw;
    while let Some(i) = rest.find('\r') {
        out.push_str(&rest[..i]);
        out.push('\n');
        rest = &rest[i + 1..];
        if let Some(r) = rest.strip_prefix('\n') {
            rest = r;
        }
    }
    out.push_str(rest);
}

/// True for the characters XML 1.0 allows (after the raw-byte scan, only character
/// references can name others).
fn is_xml_char(c: u32) -> bool {
    matches!(c, 0x9 | 0xA | 0xD | 0x20..=0xD7FF | 0xE000..=0xFFFD | 0x10000..=0x10FFFF)
}

/// Decodes element text: the five predefined entities and character references resolved
/// (only to characters XML allows), line ends normalized, `]]>` refused. Appends to `sink`,
/// or only checks when it is `None`. Every byte is looked at a bounded number of times.
fn decode_text(raw: &str, sink: Option<&mut String>) -> Result<(), ParseError> {
    decode(raw, sink, true)
}

/// [`decode_text`]; `content` false for an attribute value (where `]]>` is allowed).
fn decode(raw: &str, mut sink: Option<&mut String>, content: bool) -> Result<(), ParseError> {
    let b = raw.as_bytes();
    let mut start = 0;
    let mut pos = 0;
    while let Some(off) = memchr::memchr3(b'&', b'\r', b']', &b[pos..]) {
        let i = pos + off;
        let mut push = |s: &str| {
            if let Some(out) = sink.as_deref_mut() {
                out.push_str(s);
            }
        };
        match b[i] {
            b'\r' => {
                push(&raw[start..i]);
                push("\n");
                pos = if b.get(i + 1) == Some(&b'\n') {
                    i + 2
                } else {
                    i + 1
                };
                start = pos;
            }
            b']' => {
                if content && b[i..].starts_with(b"]]>") {
                    return Err(ParseError::new("']]>' in text"));
                }
                pos = i + 1;
            }
            _ => {
                push(&raw[start..i]);
                // The reference runs to the first byte that cannot belong to one.
                let end = b[i + 1..]
                    .iter()
                    .position(|c| !(c.is_ascii_alphanumeric() || *c == b'#'))
                    .map(|p| i + 1 + p);
                let Some(end) = end.filter(|e| b[*e] == b';') else {
                    return Err(ParseError::new("'&' not starting a reference"));
                };
                let body = &raw[i + 1..end];
                let c = match body {
                    "lt" => '<',
                    "gt" => '>',
                    "amp" => '&',
                    "apos" => '\'',
                    "quot" => '"',
                    _ => char_ref(body)?,
                };
                let mut buf = [0u8; 4];
                push(c.encode_utf8(&mut buf));
                pos = end + 1;
                start = pos;
            }
        }
    }
    if let Some(out) = sink {
        out.push_str(&raw[start..]);
    }
    Ok(())
}

/// The character of a reference body `#123` or `#x7B` (any number of leading zeros).
fn char_ref(body: &str) -> Result<char, ParseError> {
    let bad = || ParseError::new(format!("bad reference &{};", clip(body)));
    let (digits, radix) = if let Some(h) = body.strip_prefix("#x") {
        (h, 16)
    } else if let Some(d) = body.strip_prefix('#') {
        (d, 10)
    } else {
        return Err(ParseError::new(format!(
            "undefined entity &{};",
            clip(body)
        )));
    };
    if digits.is_empty() {
        return Err(bad());
    }
    let mut v: u32 = 0;
    for d in digits.chars() {
        let d = d.to_digit(radix).ok_or_else(bad)?;
        // Saturates well above U+10FFFF, so a long run of digits cannot overflow.
        v = v.saturating_mul(radix).saturating_add(d).min(0x0100_0000);
    }
    if !is_xml_char(v) {
        return Err(ParseError::new(format!(
            "reference to invalid character &{};",
            clip(body)
        )));
    }
    char::from_u32(v).ok_or_else(bad)
}

/// One piece of the document, as [`Scanner::next`] finds them.
enum Tok<'a> {
    /// A start tag (`empty`: `<x/>`).
    Start {
        name: &'a [u8],
        empty: bool,
    },
    /// An end tag.
    End {
        name: &'a [u8],
    },
    /// Character data between markup, references not yet resolved.
    Text(&'a str),
    /// The content of a CDATA section.
    CData(&'a str),
    Eof,
}

/// A tokenizer for the XML that XML-RPC uses: elements, attributes (checked, then
/// dropped), text, CDATA, comments and processing instructions (checked, skipped), the XML
/// declaration (only at the very start); DTDs are refused. Every byte is looked at a bounded
/// number of times, most of them by `memchr`.
struct Scanner<'a> {
    s: &'a str,
    pos: usize,
    /// The bytes before this have been checked by [`check_chars`].
    checked: usize,
}

/// XML's white space.
#[inline]
fn is_xml_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n')
}

/// A byte that may start an XML name (non-ASCII bytes are letters of some script).
#[inline]
fn is_name_start(b: u8) -> bool {
    b.is_ascii_alphabetic() || b == b'_' || b == b':' || b >= 0x80
}

/// A byte that may continue an XML name.
#[inline]
fn is_name_byte(b: u8) -> bool {
    is_name_start(b) || b.is_ascii_digit() || b == b'.' || b == b'-'
}

impl<'a> Scanner<'a> {
    const CHECK_BATCH: usize = 64 * 1024;

    fn bytes(&self) -> &'a [u8] {
        self.s.as_bytes()
    }

    fn err(&self, what: &str) -> ParseError {
        ParseError::new(format!("malformed XML: {what} at byte {}", self.pos))
    }

    /// The name starting at `self.pos` (empty when none starts there).
    fn name(&mut self) -> &'a [u8] {
        let b = self.bytes();
        let start = self.pos;
        if start < b.len() && is_name_start(b[start]) {
            self.pos += 1;
            while self.pos < b.len() && is_name_byte(b[self.pos]) {
                self.pos += 1;
            }
        }
        &b[start..self.pos]
    }

    /// Skips white space; true when there was some.
    fn space(&mut self) -> bool {
        let b = self.bytes();
        let start = self.pos;
        while self.pos < b.len() && is_xml_space(b[self.pos]) {
            self.pos += 1;
        }
        self.pos > start
    }

    /// The text up to `end` (searched from `self.pos`), moving past `end`.
    fn until(&mut self, end: &[u8], what: &str) -> Result<&'a str, ParseError> {
        let b = self.bytes();
        let Some(i) = memchr::memmem::find(&b[self.pos..], end) else {
            return Err(self.err(&format!("unterminated {what}")));
        };
        let start = self.pos;
        self.pos += i + end.len();
        Ok(&self.s[start..start + i])
    }

    /// The next token. The bytes passed are checked to be XML characters in batches of
    /// [`Scanner::CHECK_BATCH`] (so a document refused at a limit is not read much past it)
    /// and all of them before the end of the document is reported: nothing is accepted
    /// unchecked.
    fn next(&mut self) -> Result<Tok<'a>, ParseError> {
        let tok = self.next_unchecked();
        let b = self.bytes();
        let end = self.pos.min(b.len());
        if end - self.checked >= Self::CHECK_BATCH
            || !matches!(
                tok,
                Ok(Tok::Start { .. } | Tok::End { .. } | Tok::Text(_) | Tok::CData(_))
            )
        {
            check_chars(&b[self.checked..end], self.checked)?;
            self.checked = end;
        }
        tok
    }

    fn next_unchecked(&mut self) -> Result<Tok<'a>, ParseError> {
        loop {
            let b = self.bytes();
            if self.pos >= b.len() {
                return Ok(Tok::Eof);
            }
            if b[self.pos] != b'<' {
                let start = self.pos;
                let end = memchr::memchr(b'<', &b[start..]).map_or(b.len(), |i| start + i);
                self.pos = end;
                return Ok(Tok::Text(&self.s[start..end]));
            }
            let at = self.pos;
            match b.get(at + 1) {
                Some(b'/') => {
                    self.pos = at + 2;
                    let name = self.name();
                    self.space();
                    if name.is_empty() || b.get(self.pos) != Some(&b'>') {
                        return Err(self.err("bad end tag"));
                    }
                    self.pos += 1;
                    return Ok(Tok::End { name });
                }
                Some(b'!') => {
                    let rest = &b[at..];
                    if rest.starts_with(b"<!--") {
                        self.pos = at + 4;
                        let c = self.until(b"-->", "comment")?;
                        if c.contains("--") || c.ends_with('-') {
                            return Err(self.err("'--' in a comment"));
                        }
                    } else if rest.starts_with(b"<![CDATA[") {
                        self.pos = at + 9;
                        return Ok(Tok::CData(self.until(b"]]>", "CDATA section")?));
                    } else if rest.starts_with(b"<!DOCTYPE") {
                        return Err(ParseError::new("DTDs are not accepted"));
                    } else {
                        return Err(self.err("bad markup"));
                    }
                }
                Some(b'?') => {
                    self.pos = at + 2;
                    let target = self.name();
                    if target.is_empty() {
                        return Err(self.err("bad processing instruction"));
                    }
                    if target.eq_ignore_ascii_case(b"xml") && (at != 0 || target != b"xml") {
                        return Err(self.err("XML declaration not at the start"));
                    }
                    let is_decl = target == b"xml";
                    if !self.space() && !b[self.pos..].starts_with(b"?>") {
                        return Err(self.err("bad processing instruction"));
                    }
                    let body = self.until(b"?>", "processing instruction")?;
                    if is_decl && !xml_decl_is_well_formed(body.as_bytes()) {
                        return Err(self.err("XML declaration not well-formed"));
                    }
                }
                _ => {
                    self.pos = at + 1;
                    let name = self.name();
                    if name.is_empty() {
                        return Err(self.err("bad start tag"));
                    }
                    let empty = self.attributes()?;
                    return Ok(Tok::Start { name, empty });
                }
            }
        }
    }

    /// Reads (and checks, then forgets) the attributes of a start tag and its end; true for
    /// `/>`. A name given twice is refused, values must not hold `<` and their references
    /// must be valid; past [`MAX_ATTRIBUTES`] the document is refused (so the repeat check
    /// stays cheap).
    fn attributes(&mut self) -> Result<bool, ParseError> {
        let mut names: Vec<&'a [u8]> = Vec::new();
        loop {
            let spaced = self.space();
            let b = self.bytes();
            match b.get(self.pos) {
                Some(b'>') => {
                    self.pos += 1;
                    return Ok(false);
                }
                Some(b'/') if b.get(self.pos + 1) == Some(&b'>') => {
                    self.pos += 2;
                    return Ok(true);
                }
                Some(_) if spaced => {}
                _ => return Err(self.err("bad start tag")),
            }
            if names.len() >= MAX_ATTRIBUTES {
                return Err(ParseError::limit(format!(
                    "more than {MAX_ATTRIBUTES} attributes on one element"
                )));
            }
            let name = self.name();
            if name.is_empty() {
                return Err(self.err("bad attribute"));
            }
            self.space();
            if b.get(self.pos) != Some(&b'=') {
                return Err(self.err("attribute without a value"));
            }
            self.pos += 1;
            self.space();
            let quote = match b.get(self.pos) {
                Some(&q @ (b'"' | b'\'')) => q,
                _ => return Err(self.err("unquoted attribute value")),
            };
            self.pos += 1;
            let Some(len) = memchr::memchr(quote, &b[self.pos..]) else {
                return Err(self.err("unterminated attribute value"));
            };
            let value = &self.s[self.pos..self.pos + len];
            if value.contains('<') {
                return Err(self.err("'<' in an attribute value"));
            }
            decode(value, None, false)?;
            self.pos += len + 1;
            let repeated = names.contains(&name);
            names.push(name);
            if repeated {
                return Err(ParseError::new(format!(
                    "duplicate attribute {}",
                    shown(name)
                )));
            }
        }
    }
}

/// Reads one document in `mode` under `limits`.
fn parse_document(doc: &[u8], mode: Mode, limits: Limits) -> Result<Doc, ParseError> {
    let text = std::str::from_utf8(doc).map_err(|e| ParseError::new(format!("not UTF-8: {e}")))?;
    // A byte order mark is allowed before everything, the XML declaration included.
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut scanner = Scanner {
        s: text,
        pos: 0,
        checked: 0,
    };
    let mut p = Parser {
        mode,
        lenient: mode == Mode::Response,
        limits,
        elements: 0,
        stack: Vec::new(),
        done: None,
    };
    loop {
        match scanner.next()? {
            Tok::Start { name, empty } => {
                p.open(name)?;
                if empty {
                    p.close()?;
                }
            }
            Tok::End { name } => {
                match p.stack.last() {
                    Some(top) if top.tag().as_bytes() == name => {}
                    Some(top) => {
                        return Err(ParseError::new(format!(
                            "malformed XML: </{}> closes <{}>",
                            shown(name),
                            top.tag()
                        )))
                    }
                    None => return Err(ParseError::new("unbalanced end tag")),
                }
                p.close()?;
            }
            Tok::Text(t) => p.text(t, false)?,
            Tok::CData(t) => p.text(t, true)?,
            Tok::Eof => break,
        }
    }
    if !p.stack.is_empty() {
        return Err(ParseError::new("unexpected end of document"));
    }
    p.done.ok_or_else(|| ParseError::new("empty document"))
}

/// Parses an `<int>`/`<i4>` text with Python's `int()` ([`crate::pyint`]): blanks around,
/// an optional sign, decimal digits with single underscores between them; an `i32`.
fn parse_int(text: &str) -> Result<i32, ParseError> {
    let t = text.trim();
    let out_of_range = || ParseError::new(format!("int out of range: {}", clip(t)));
    match crate::pyint::parse(t) {
        Ok(v) => i32::try_from(v).map_err(|_| out_of_range()),
        Err(crate::pyint::IntError::OutOfRange { .. }) => Err(out_of_range()),
        Err(crate::pyint::IntError::Invalid) => {
            Err(ParseError::new(format!("bad int: {}", clip(t))))
        }
    }
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

/// Decodes a `methodCall` document (a request body), in time linear in its size.
///
/// A missing or empty `methodName` is an error for which
/// [`ParseError::is_missing_method_name`] is true; a missing `<params>` means no params.
/// Documents over [`MAX_ELEMENTS`], [`MAX_DEPTH`], [`MAX_STRUCT_MEMBERS`] or
/// [`MAX_ARRAY_ITEMS`] are refused with an error for which [`ParseError::is_limit`] is true.
/// Characters XML does not allow (NUL, other C0 controls, U+FFFE, U+FFFF), raw or as
/// references, make the document malformed wherever they are.
pub fn parse_method_call(doc: &[u8]) -> Result<MethodCall, ParseError> {
    match parse_document(doc, Mode::Call, REQUEST_LIMITS)? {
        Doc::Call(c) => Ok(c),
        Doc::Response(_) => Err(ParseError::new("expected <methodCall>")),
    }
}

/// Decodes a `methodResponse` document: `Ok(Ok(value))` for a result, `Ok(Err(fault))` for a
/// fault. Also accepts `nil` (decoded as an empty string) and `i8` (an `Int` when it fits,
/// otherwise a `Double`). Only the nesting is bounded ([`MAX_DEPTH`]).
pub fn parse_method_response(doc: &[u8]) -> Result<Result<Value, Fault>, ParseError> {
    match parse_document(doc, Mode::Response, RESPONSE_LIMITS)? {
        Doc::Response(r) => Ok(r),
        Doc::Call(_) => Err(ParseError::new("expected <methodResponse>")),
    }
}

// ---------------------------------------------------------------------------------------------
// Writing, in the exact layout of Python's xmlrpc.client.dumps.

/// Appends `s` as XML character data. `&`, `<` and `>` are escaped as Python's `escape`
/// does; the characters XML 1.0 cannot carry at all (not even as `&#N;`, which expat
/// rejects) are replaced: a C0 control other than tab, line feed and carriage return by
/// its Unicode Control Pictures character (U+2400 + its code: NUL is `␀` U+2400, ESC is
/// `␛` U+241B), and the noncharacters U+FFFE and U+FFFF by U+FFFD. So whatever a string
/// holds (child output, config values), the document written is well-formed; a string
/// without such characters is written exactly as `xmlrpc.client` writes it.
#[inline]
pub fn escape_into(out: &mut Vec<u8>, s: &str) {
    let bytes = s.as_bytes();
    let mut start = 0;
    let mut base = 0;
    let mut words = bytes.chunks_exact(8);
    for w in &mut words {
        let mut lanes = special_lanes(word(w));
        while lanes != 0 {
            let i = base + (lanes.trailing_zeros() / 8) as usize;
            lanes &= lanes - 1;
            start = escape_byte(out, bytes, start, i);
        }
        base += 8;
    }
    let rest = words.remainder();
    let mut lanes = special_lanes(word(rest));
    while lanes != 0 {
        let i = base + (lanes.trailing_zeros() / 8) as usize;
        lanes &= lanes - 1;
        start = escape_byte(out, bytes, start, i);
    }
    out.extend_from_slice(&bytes[start..]);
}

/// The number of bytes [`escape_into`] appends for `s` (to size an answer before writing it).
pub fn escaped_len(s: &str) -> usize {
    let bytes = s.as_bytes();
    let mut len = bytes.len();
    let mut base = 0;
    let mut words = bytes.chunks_exact(8);
    let count = |lanes: u64, base: usize, len: &mut usize| {
        let mut lanes = lanes;
        while lanes != 0 {
            let i = base + (lanes.trailing_zeros() / 8) as usize;
            lanes &= lanes - 1;
            *len += match bytes[i] {
                b'&' => 4,
                b'<' | b'>' => 3,
                b'\t' | b'\n' | b'\r' => 0,
                // One byte becomes the three of U+24xx.
                0..=0x1F => 2,
                // U+FFFE/U+FFFF and U+FFFD have the same length.
                _ => 0,
            };
        }
    };
    for w in &mut words {
        count(special_lanes(word(w)), base, &mut len);
        base += 8;
    }
    count(special_lanes(word(words.remainder())), base, &mut len);
    len
}

/// Up to eight bytes as one little-endian word; missing bytes are `a` (never special).
#[inline(always)]
fn word(b: &[u8]) -> u64 {
    let mut w = [b'a'; 8];
    w[..b.len()].copy_from_slice(b);
    u64::from_le_bytes(w)
}

const LANE_ONES: u64 = 0x0101_0101_0101_0101;
const LANE_HIGH: u64 = 0x8080_8080_8080_8080;
const LANE_LOW7: u64 = 0x7F7F_7F7F_7F7F_7F7F;

/// The high bit of each byte of `v` that is zero, exactly (no borrow between bytes).
#[inline(always)]
fn zero_lanes(v: u64) -> u64 {
    !(((v & LANE_LOW7).wrapping_add(LANE_LOW7)) | v) & LANE_HIGH
}

/// The high bit of each byte of `x` that [`escape_byte`] must look at: `&`, `<`, `>`, every
/// byte below 0x20 (tab, LF and CR included; they are let through there) and 0xEF (the
/// lead byte of U+FFFE and U+FFFF).
#[inline(always)]
fn special_lanes(x: u64) -> u64 {
    let amp = zero_lanes(x ^ (LANE_ONES * u64::from(b'&')));
    // `<` (0x3C) and `>` (0x3E) differ only in bit 1.
    let angle = zero_lanes((x & (LANE_ONES * 0xFD)) ^ (LANE_ONES * u64::from(b'<')));
    let control = zero_lanes(x & (LANE_ONES * 0xE0));
    let ef = zero_lanes(x ^ (LANE_ONES * 0xEF));
    amp | angle | control | ef
}

/// Writes the replacement for the byte at `i`, if it needs one, after the pending bytes
/// `bytes[start..i]`; returns where the pending bytes now start.
#[inline]
fn escape_byte(out: &mut Vec<u8>, bytes: &[u8], start: usize, i: usize) -> usize {
    let b = bytes[i];
    let picture;
    let (rep, len): (&[u8], usize) = match b {
        b'&' => (b"&amp;", 1),
        b'<' => (b"&lt;", 1),
        b'>' => (b"&gt;", 1),
        b'\t' | b'\n' | b'\r' => return start,
        0..=0x1F => {
            // U+2400 + b in UTF-8.
            picture = [0xE2, 0x90, 0x80 + b];
            (&picture, 1)
        }
        // EF BF BE / EF BF BF are U+FFFE / U+FFFF; EF BF BD is U+FFFD.
        0xEF if bytes.get(i + 1) == Some(&0xBF)
            && matches!(bytes.get(i + 2), Some(0xBE | 0xBF)) =>
        {
            (b"\xEF\xBF\xBD", 3)
        }
        _ => return start,
    };
    out.extend_from_slice(&bytes[start..i]);
    out.extend_from_slice(rep);
    i + len
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

/// Whether `body` (what follows `<?xml` and its white space, up to `?>`) is a well-formed
/// XML declaration as expat reads it: `version` first, then optionally `encoding` (an
/// EncName), then optionally `standalone` (`yes`/`no`), white space between them, each
/// `name = 'value'` with matching quotes, and nothing else.
fn xml_decl_is_well_formed(body: &[u8]) -> bool {
    fn is_space(c: u8) -> bool {
        matches!(c, b' ' | b'\t' | b'\r' | b'\n')
    }
    let mut rest = body;
    let mut seen = 0usize; // 0 = nothing yet, 1 = version, 2 = encoding, 3 = standalone
    loop {
        let trimmed = rest
            .iter()
            .position(|&c| !is_space(c))
            .unwrap_or(rest.len());
        // The caller consumed the white space after `<?xml`.
        let spaced = trimmed > 0 || seen == 0;
        rest = &rest[trimmed..];
        if rest.is_empty() {
            return seen >= 1;
        }
        if !spaced {
            return false;
        }
        let name_len = rest
            .iter()
            .position(|&c| !c.is_ascii_alphabetic())
            .unwrap_or(rest.len());
        let (name, after) = rest.split_at(name_len);
        let order = match name {
            b"version" => 1,
            b"encoding" => 2,
            b"standalone" => 3,
            _ => return false,
        };
        if order <= seen || (seen == 0 && order != 1) {
            return false;
        }
        seen = order;
        let after = &after[after
            .iter()
            .position(|&c| !is_space(c))
            .unwrap_or(after.len())..];
        let Some(after) = after.strip_prefix(b"=") else {
            return false;
        };
        let after = &after[after
            .iter()
            .position(|&c| !is_space(c))
            .unwrap_or(after.len())..];
        let Some((&quote, after)) = after.split_first() else {
            return false;
        };
        if quote != b'"' && quote != b'\'' {
            return false;
        }
        let Some(end) = after.iter().position(|&c| c == quote) else {
            return false;
        };
        let value = &after[..end];
        let ok = match order {
            1 => value
                .iter()
                .all(|&c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b':' | b'-')),
            2 => {
                value.first().is_some_and(u8::is_ascii_alphabetic)
                    && value
                        .iter()
                        .all(|&c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b'-'))
            }
            _ => value == b"yes" || value == b"no",
        };
        if !ok {
            return false;
        }
        rest = &after[end + 1..];
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

    #[test]
    fn int_texts_are_python_ints_in_i32() {
        assert_eq!(parse_int(" 5 ").unwrap(), 5);
        assert_eq!(parse_int("+1_0").unwrap(), 10);
        assert_eq!(parse_int("-2147483648").unwrap(), i32::MIN);
        assert_eq!(parse_int("2147483647").unwrap(), i32::MAX);
        for big in ["2147483648", "-2147483649", "99999999999999999999"] {
            assert!(parse_int(big)
                .unwrap_err()
                .to_string()
                .contains("int out of range"));
        }
        for bad in [
            "",
            "_1",
            "1_",
            "1__0",
            "0x10",
            "1.0",
            "99999999999999999999x",
            "- 1",
        ] {
            assert!(
                parse_int(bad).unwrap_err().to_string().contains("bad int"),
                "{bad:?}"
            );
        }
    }
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
        let e = call(&doc).unwrap_err();
        assert!(e.0.contains("deep") && e.0.contains("128"), "{e}");
        assert!(e.is_limit());
    }

    fn with_params(params: &str) -> String {
        format!("<?xml version='1.0'?>\n<methodCall><methodName>a.b</methodName><params>{params}</params></methodCall>")
    }

    fn one_param(value: &str) -> String {
        with_params(&format!("<param>{value}</param>"))
    }

    fn struct_of(names: impl Iterator<Item = String>) -> String {
        let mut s = String::from("<value><struct>");
        for (i, n) in names.enumerate() {
            s.push_str(&format!(
                "<member><name>{n}</name><value><int>{i}</int></value></member>"
            ));
        }
        s.push_str("</struct></value>");
        s
    }

    #[test]
    fn forbidden_characters_are_refused_anywhere() {
        let ok = "<methodCall><methodName>a.b</methodName><params><param><value>x</value></param></params></methodCall>";
        assert!(call(ok).is_ok());
        // Every position between or inside the markup, for every forbidden character, raw.
        let bad_chars = [
            "\u{0}", "\u{1}", "\u{8}", "\u{b}", "\u{c}", "\u{1f}", "\u{fffe}", "\u{ffff}",
        ];
        for c in bad_chars {
            for (i, _) in ok.char_indices() {
                let doc = format!("{}{c}{}", &ok[..i], &ok[i..]);
                let e = call(&doc).expect_err(&doc);
                assert!(!e.is_limit(), "{doc:?}");
            }
            for wrap in [
                format!("{c}{ok}"),
                format!("{ok}{c}"),
                format!("<?xml version='1.0'{c}?>{ok}"),
                format!("<!-- {c} -->{ok}"),
                format!("<methodCall a='{c}'><methodName>a</methodName></methodCall>"),
                format!("<methodCall><methodName><![CDATA[a{c}]]></methodName></methodCall>"),
            ] {
                assert!(call(&wrap).is_err(), "{wrap:?}");
            }
        }
        // As references.
        for r in [
            "&#0;",
            "&#1;",
            "&#x1F;",
            "&#xFFFE;",
            "&#xffff;",
            "&#xD800;",
            "&#x110000;",
            "&#99999999999999999999;",
        ] {
            let doc = one_param(&format!("<value>a{r}b</value>"));
            assert!(call(&doc).is_err(), "{r}");
        }
        // Tab, LF and CR are characters; references to them too.
        let c = call(&one_param("<value>\t\n&#9;&#xA;&#13;&#0000065;</value>")).unwrap();
        assert_eq!(c.params, vec![Value::String("\t\n\t\n\rA".into())]);
        // Line ends are normalized as XML says (but not a CR given as a reference).
        let c = call(&one_param("<value>a\r\nb\rc<![CDATA[\r\n]]>&#13;</value>")).unwrap();
        assert_eq!(c.params, vec![Value::String("a\nb\nc\n\r".into())]);
    }

    #[test]
    fn xml_declarations_like_expat() {
        // (declaration body, expat accepts it) as Python's pyexpat answers.
        let cases: &[(&str, bool)] = &[
            ("version=\"1.0\"", true),
            ("version='1.0'", true),
            ("version=\"2.0\"", true),
            ("version=\"\"", true),
            ("version = \"1.0\"  ", true),
            ("version=\"1.0\" encoding=\"utf-8\"", true),
            ("version=\"1.0\" standalone=\"yes\"", true),
            (
                "version=\"1.0\" encoding=\"UTF-8\" standalone=\"no\" ",
                true,
            ),
            ("", false),
            ("encoding=\"utf-8\"", false),
            ("version=\"1.0\" foo=\"x\"", false),
            ("version=\"1.0\" standalone=\"maybe\"", false),
            (
                "version=\"1.0\" standalone=\"yes\" encoding=\"utf-8\"",
                false,
            ),
            ("version=\"1.0\"encoding=\"utf-8\"", false),
            ("version=\"1.0\" encoding=\"9x\"", false),
            ("version=\"1.0\" encoding=\"\"", false),
            ("version='1.0\"", false),
            ("VERSION=\"1.0\"", false),
            ("version=\"1 0\"", false),
            ("version=\"2.0<?xml version=\"2.0\"", false),
        ];
        for &(body, ok) in cases {
            let doc = format!("<?xml {body}?><methodCall><methodName>a</methodName></methodCall>");
            let got = parse_method_call(doc.as_bytes());
            assert_eq!(got.is_ok(), ok, "{body:?}: {got:?}");
            if !ok {
                assert!(
                    got.unwrap_err().to_string().contains("XML declaration"),
                    "{body:?}"
                );
            }
        }
        assert!(
            parse_method_call(b"<?xml?><methodCall><methodName>a</methodName></methodCall>")
                .is_err()
        );
    }

    #[test]
    fn well_formed_like_expat() {
        for doc in [
            "<methodCall><methodName>&#X41;</methodName></methodCall>",
            "<methodCall><methodName>a&b</methodName></methodCall>",
            "<methodCall><methodName>a&lt</methodName></methodCall>",
            "<methodCall><methodName>a]]>b</methodName></methodCall>",
            "<methodCall><!-- a -- b --><methodName>a</methodName></methodCall>",
            "<methodCall><!-- a ---><methodName>a</methodName></methodCall>",
            "<methodCall><!-- a <methodName>a</methodName></methodCall>",
            "<methodCall a='1' a='2'><methodName>a</methodName></methodCall>",
            "<methodCall a><methodName>a</methodName></methodCall>",
            "<methodCall a=1><methodName>a</methodName></methodCall>",
            "<methodCall a='<'><methodName>a</methodName></methodCall>",
            "<methodCall a='&#1;'><methodName>a</methodName></methodCall>",
            "<methodCall a='1'b='2'><methodName>a</methodName></methodCall>",
            " <?xml version='1.0'?><methodCall><methodName>a</methodName></methodCall>",
            "<?xml version='1.0'?><?xml version='1.0'?><methodCall><methodName>a</methodName></methodCall>",
            "<methodCall><?xml version='1.0'?><methodName>a</methodName></methodCall>",
            "<methodCall><methodName>a</methodName></methodCall><?xml ?>",
            "<methodCall><methodName><![CDATA[a</methodName></methodCall>",
            "<methodCall><methodName>a</methodName><? unterminated",
            "<methodCall><methodName>a</methodName></methodcall>",
            "<methodCall><methodName>a</methodName></ methodCall>",
            "< methodCall><methodName>a</methodName></methodCall>",
            "<methodCall><methodName>a</methodName></methodCall>text",
            "<methodCall><methodName>a</methodName></methodCall><![CDATA[x]]>",
            "<methodCall><methodName>a</methodName></methodCall></methodCall>",
            "<methodCall><methodName>a</methodName></methodCall><methodCall/>",
            "<!DOCTYPE methodCall><methodCall><methodName>a</methodName></methodCall>",
            "<!ELEMENT x><methodCall><methodName>a</methodName></methodCall>",
        ] {
            assert!(call(doc).is_err(), "accepted {doc:?}");
        }
        for doc in [
            "\u{feff}<?xml version='1.0' encoding='UTF-8'?>\n<!-- c --><?pi x?><methodCall  a = 'x&amp;y' b=\"]]>\" ><methodName>a.b</methodName ><!----></methodCall >\n<!-- after --><?pi?>\n",
            "<methodCall><methodName><![CDATA[a.b]]></methodName><params/></methodCall>",
            "<methodCall><methodName>a.<!-- split -->b</methodName></methodCall>",
        ] {
            let c = call(doc).unwrap_or_else(|e| panic!("{doc:?}: {e}"));
            assert_eq!(c.name, "a.b");
        }
    }

    #[test]
    fn limits_are_refusals_that_name_the_limit() {
        let members = |n: usize| one_param(&struct_of((0..n).map(|i| format!("k{i}"))));
        assert!(call(&members(MAX_STRUCT_MEMBERS)).is_ok());
        let e = call(&members(MAX_STRUCT_MEMBERS + 1)).unwrap_err();
        assert!(e.is_limit() && e.0.contains("10000 members"), "{e}");
        // Repeated names count too (each <member> is work).
        let same = one_param(&struct_of(
            (0..=MAX_STRUCT_MEMBERS).map(|_| "k".to_string()),
        ));
        assert!(call(&same).unwrap_err().is_limit());

        let items = |n: usize| {
            one_param(&format!(
                "<value><array><data>{}</data></array></value>",
                "<value/>".repeat(n)
            ))
        };
        let c = call(&items(MAX_ARRAY_ITEMS)).unwrap();
        assert_eq!(
            c.params[0].as_array().map(<[Value]>::len),
            Some(MAX_ARRAY_ITEMS)
        );
        let e = call(&items(MAX_ARRAY_ITEMS + 1)).unwrap_err();
        assert!(e.is_limit() && e.0.contains("1000000 values"), "{e}");

        // 2,000,000 elements: the root, methodName, params, two params of two values each
        // holding an array and a data, then the rest as items.
        let half = (MAX_ELEMENTS - 3 - 2 * 4) / 2;
        let arr = |n: usize| {
            format!(
                "<param><value><array><data>{}</data></array></value></param>",
                "<value/>".repeat(n)
            )
        };
        let doc = |extra: usize| with_params(&format!("{}{}", arr(half), arr(half + 1 + extra)));
        assert!(call(&doc(0)).is_ok());
        let e = call(&doc(1)).unwrap_err();
        assert!(e.is_limit() && e.0.contains("2000000 elements"), "{e}");

        let attrs = |n: usize| {
            format!(
                "<methodCall{}><methodName>a</methodName></methodCall>",
                (0..n).map(|i| format!(" a{i}='1'")).collect::<String>()
            )
        };
        assert!(call(&attrs(MAX_ATTRIBUTES)).is_ok());
        let e = call(&attrs(MAX_ATTRIBUTES + 1)).unwrap_err();
        assert!(e.is_limit() && e.0.contains("16 attributes"), "{e}");

        // Malformed documents are not limit errors.
        assert!(!call("<methodCall>").unwrap_err().is_limit());
        // Responses (what our client reads from its server) only bound the nesting.
        let resp = format!(
            "<methodResponse><params>{}</params></methodResponse>",
            "<param>".to_string()
                + &struct_of((0..MAX_STRUCT_MEMBERS + 5).map(|i| format!("k{i}")))
                + "</param>"
        );
        let v = parse_method_response(resp.as_bytes()).unwrap().unwrap();
        assert_eq!(
            v.as_struct().map(<[(String, Value)]>::len),
            Some(MAX_STRUCT_MEMBERS + 5)
        );
    }

    #[test]
    fn repeated_member_names_keep_first_position_and_last_value() {
        for (n, distinct) in [(5, 3), (16, 16), (17, 5), (40, 17), (3000, 700)] {
            let names: Vec<String> = (0..n).map(|i| format!("m{}", (i * 7) % distinct)).collect();
            let c = call(&one_param(&struct_of(names.iter().cloned()))).unwrap();
            let mut want: Vec<(String, Value)> = Vec::new();
            for (i, k) in names.iter().enumerate() {
                match want.iter_mut().find(|(w, _)| w == k) {
                    Some(slot) => slot.1 = Value::Int(i as i32),
                    None => want.push((k.clone(), Value::Int(i as i32))),
                }
            }
            assert_eq!(c.params, vec![Value::Struct(want)], "{n} {distinct}");
        }
    }

    /// The member lookup was linear per member (quadratic per struct: 100,000 members froze
    /// the daemon for 10-15 s). Count the name comparisons instead of timing them.
    #[test]
    fn member_lookup_is_linear() {
        let comparisons = |doc: &str| {
            NAME_COMPARISONS.with(|c| c.set(0));
            call(doc).unwrap();
            NAME_COMPARISONS.with(|c| c.get())
        };
        let n = MAX_STRUCT_MEMBERS;
        let unique = comparisons(&one_param(&struct_of((0..n).map(|i| format!("k{i}")))));
        let repeated = comparisons(&one_param(&struct_of(
            (0..n).map(|i| format!("k{}", i % 97)),
        )));
        let many = comparisons(&with_params(
            &(0..20)
                .map(|j| {
                    format!(
                        "<param>{}</param>",
                        struct_of((0..n / 20).map(|i| format!("k{j}_{i}")))
                    )
                })
                .collect::<String>(),
        ));
        // Quadratic would be n * n / 2 = 50,000,000.
        for (what, c) in [("unique", unique), ("repeated", repeated), ("many", many)] {
            assert!(c < 4 * n, "{what}: {c} comparisons for {n} members");
        }
    }

    /// Loosely checks that time grows linearly with the document for the shapes that used to
    /// be (or could be) worse: eight times the input must cost well under the 64 times a
    /// quadratic parser would take (best of five runs each; a 3x margin over linear so a
    /// busy machine does not fail it; the counting test above is the exact one).
    #[test]
    fn parse_time_is_linear() {
        fn best(doc: &str) -> std::time::Duration {
            (0..5)
                .map(|_| {
                    let t = std::time::Instant::now();
                    let r = parse_method_call(doc.as_bytes());
                    let d = t.elapsed();
                    assert!(r.is_ok(), "{:?}", r.err());
                    d
                })
                .min()
                .unwrap()
        }
        type Shape = fn(usize) -> String;
        let shapes: [(&str, Shape); 4] = [
            ("structs", |n| {
                with_params(
                    &(0..n / 1000)
                        .map(|j| {
                            format!(
                                "<param>{}</param>",
                                struct_of((0..1000).map(|i| format!("k{j}_{i}")))
                            )
                        })
                        .collect::<String>(),
                )
            }),
            ("params", |n| {
                with_params(&"<param><value><int>1</int></value></param>".repeat(n))
            }),
            ("entities", |n| {
                one_param(&format!("<value>{}</value>", "&amp;&#x41;\r\n".repeat(n)))
            }),
            ("nesting", |n| {
                with_params(
                    &format!(
                        "<param>{}{}</param>",
                        "<value><array><data>".repeat(40),
                        "</data></array></value>".repeat(40)
                    )
                    .repeat(n / 100),
                )
            }),
        ];
        for (what, make) in shapes {
            let small = best(&make(10_000));
            let large = best(&make(80_000));
            assert!(
                large < small * 24,
                "{what}: 8x the input took {large:?} against {small:?}"
            );
        }
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
    fn special_bytes_are_found_in_every_lane() {
        let specials: Vec<u8> = (0u8..0x20).chain([b'&', b'<', b'>', 0xEF]).collect();
        for pos in 0..8 {
            for &c in &specials {
                let mut w = [b'a'; 8];
                w[pos] = c;
                assert_eq!(
                    special_lanes(u64::from_le_bytes(w)),
                    0x80 << (8 * pos),
                    "{pos} {c:#x}"
                );
            }
            // All specials at once: each lane flagged, no borrow into a neighbour.
            let mut w = [0u8; 8];
            w[pos] = b'&';
            assert_eq!(special_lanes(u64::from_le_bytes(w)), 0x8080_8080_8080_8080);
        }
        // Neighbours of the special bytes are not special.
        for c in (0x20u8..=0xFF).filter(|c| !specials.contains(c)) {
            assert_eq!(special_lanes(u64::from_le_bytes([c; 8])), 0, "{c:#x}");
        }
    }

    /// The reference escaping: what `escape_into` must write, char by char.
    fn model_escape(s: &str) -> String {
        let mut out = String::new();
        for c in s.chars() {
            match c {
                '&' => out.push_str("&amp;"),
                '<' => out.push_str("&lt;"),
                '>' => out.push_str("&gt;"),
                '\t' | '\n' | '\r' => out.push(c),
                '\u{0}'..='\u{1f}' => out.push(char::from_u32(0x2400 + c as u32).unwrap()),
                '\u{fffe}' | '\u{ffff}' => out.push('\u{fffd}'),
                _ => out.push(c),
            }
        }
        out
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
            "\u{0}\u{1}\u{8}\t\n\u{b}\u{c}\r\u{e}\u{1b}[0m\u{1f} \u{7f}\u{80}\u{9f}",
            "a\u{fffe}b\u{ffff}c\u{fffd}\u{fffc}\u{efbf}\u{ef}\u{10ffff}\u{2400}",
            "caf\u{e9} \u{1f600} \u{feff}",
        ] {
            for n in [0, 1, 7, 20, 40] {
                for m in [0, 3] {
                    let t = format!("{}{s}{}", "y".repeat(n), "z".repeat(m));
                    let mut out = vec![b'#'];
                    escape_into(&mut out, &t);
                    let want = model_escape(&t);
                    assert_eq!(String::from_utf8(out[1..].to_vec()).unwrap(), want, "{t:?}");
                    assert_eq!(escaped_len(&t), want.len(), "{t:?}");
                }
            }
        }
        // Strings without such characters are copied as they are.
        let plain = "name: web-1, /var/log/x.log \u{e9}\u{1f600} \"'".repeat(5);
        let mut out = Vec::new();
        escape_into(&mut out, &plain);
        assert_eq!(out, plain.as_bytes());
    }

    proptest! {
        #[test]
        fn escaping_matches_the_model(t in "(\\PC|[\u{0}-\u{1f}&<>\u{fffe}\u{ffff}]){0,80}") {
            let mut out = Vec::new();
            escape_into(&mut out, &t);
            let want = model_escape(&t);
            prop_assert_eq!(String::from_utf8(out).unwrap(), want.clone());
            prop_assert_eq!(escaped_len(&t), want.len());
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

        /// Structured documents (a real prolog, then valid calls, element soup from the
        /// XML-RPC vocabulary, or either one mutated) reach every part of the parser; whatever
        /// it accepts, the writer writes and the parser reads back.
        #[test]
        fn structured_documents_never_panic(doc in document_strategy()) {
            check_document(&doc);
        }
    }

    /// The names XML-RPC uses, plus one it does not.
    const VOCABULARY: [&str; 22] = [
        "methodCall",
        "methodResponse",
        "methodName",
        "params",
        "param",
        "value",
        "int",
        "i4",
        "i8",
        "boolean",
        "string",
        "double",
        "dateTime.iso8601",
        "base64",
        "array",
        "data",
        "struct",
        "member",
        "name",
        "nil",
        "fault",
        "x",
    ];

    /// Text pieces: plain, scalar-looking, references (good and bad), line ends, markup
    /// that is not an element.
    const PIECES: [&str; 22] = [
        "",
        "a.b",
        " ",
        "\n",
        "1",
        "-7",
        "1.5",
        "aGVsbG8=",
        "20260101T01:02:03",
        "&amp;",
        "&#65;",
        "&#x10FFFF;",
        "&bogus;",
        "&#0;",
        "&",
        "\r\n",
        "]]>",
        "<![CDATA[c]]>",
        "<!-- c -->",
        "<?pi x?>",
        "\u{e9}",
        "<x a='1' a='2'/>",
    ];

    fn soup_strategy() -> impl Strategy<Value = String> {
        let name = proptest::sample::select(&VOCABULARY[..]);
        let piece = proptest::sample::select(&PIECES[..]);
        let leaf = prop_oneof![
            (name.clone(), piece.clone()).prop_map(|(n, t)| format!("<{n}>{t}</{n}>")),
            name.clone().prop_map(|n| format!("<{n}/>")),
            piece.clone().prop_map(str::to_string),
        ];
        leaf.prop_recursive(8, 200, 6, move |inner| {
            (
                name.clone(),
                proptest::collection::vec(inner, 0..6),
                piece.clone(),
            )
                .prop_map(|(n, kids, t)| format!("<{n}>{t}{}</{n}>", kids.concat()))
        })
    }

    /// A byte-level change: delete a span, repeat one, or insert a piece.
    fn mutate(doc: &mut Vec<u8>, kind: u8, a: usize, b: usize, piece: &str) {
        if doc.is_empty() {
            return;
        }
        let (a, b) = (a % doc.len(), b % doc.len());
        let (lo, hi) = (a.min(b), a.max(b));
        match kind % 3 {
            0 => {
                doc.drain(lo..hi);
            }
            1 => {
                let span = doc[lo..hi.min(lo + 64)].to_vec();
                doc.splice(lo..lo, span);
            }
            _ => {
                doc.splice(lo..lo, piece.bytes());
            }
        }
    }

    fn document_strategy() -> impl Strategy<Value = Vec<u8>> {
        let prolog = proptest::sample::select(
            &[
                "",
                "<?xml version='1.0'?>\n",
                "\u{feff}<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<!-- c -->\n",
            ][..],
        );
        let valid = || {
            (
                value_strategy(),
                proptest::collection::vec(value_strategy(), 0..3),
            )
                .prop_map(|(v, more)| {
                    let mut params = vec![v];
                    params.extend(more);
                    String::from_utf8(write_method_call("supervisor.x", &params)).unwrap()
                })
        };
        let soup_call = soup_strategy()
            .prop_map(|s| format!("<methodCall><methodName>m</methodName>{s}</methodCall>"));
        let body = prop_oneof![
            valid(),
            soup_call,
            soup_strategy(),
            value_strategy().prop_map(|v| String::from_utf8(write_response(&v)).unwrap()),
        ];
        let mutation = (
            any::<u8>(),
            any::<usize>(),
            any::<usize>(),
            prop_oneof![
                3 => proptest::sample::select(&PIECES[..]),
                1 => proptest::sample::select(&["\u{0}", "\u{1}", "\u{fffe}", "\u{ffff}"][..]),
            ],
        );
        (prolog, body, proptest::collection::vec(mutation, 0..3)).prop_map(|(p, body, muts)| {
            // Strip the writer's own declaration so the chosen prolog is the only one.
            let body = body
                .strip_prefix("<?xml version='1.0'?>\n")
                .unwrap_or(&body)
                .to_string();
            let mut doc = format!("{p}{body}").into_bytes();
            for (kind, a, b, piece) in muts {
                mutate(&mut doc, kind, a, b, piece);
            }
            doc
        })
    }

    /// Outcome of one document: accepted as a call, as a response, or refused.
    fn check_document(doc: &[u8]) -> (bool, bool) {
        let call = parse_method_call(doc);
        if let Ok(c) = &call {
            let again = parse_method_call(&write_method_call(&c.name, &c.params));
            assert!(again.is_ok(), "{:?} written back: {:?}", c, again.err());
        }
        let resp = parse_method_response(doc);
        if let Ok(Ok(v)) = &resp {
            let again = parse_method_response(&write_response(v));
            assert!(again.is_ok(), "{v:?} written back: {:?}", again.err());
        }
        (call.is_ok(), resp.is_ok())
    }

    /// The structured generator does get documents through: a fair share of calls and
    /// responses parse, the rest fail at every depth of the parser.
    #[test]
    fn structured_documents_get_past_the_prolog() {
        use proptest::strategy::ValueTree;
        let mut runner = proptest::test_runner::TestRunner::deterministic();
        let strategy = document_strategy();
        let (mut calls, mut responses, mut refused) = (0, 0, std::collections::HashSet::new());
        for _ in 0..600 {
            let doc = strategy.new_tree(&mut runner).unwrap().current();
            let (c, r) = check_document(&doc);
            calls += usize::from(c);
            responses += usize::from(r);
            if let Err(e) = parse_method_call(&doc) {
                // The kind of refusal, without the details (byte offsets, names).
                let kind = e.0.split([':', '<', '&', '"']).next().unwrap_or("");
                refused.insert(kind.split(" at byte").next().unwrap_or("").to_string());
            }
        }
        eprintln!("{calls} calls, {responses} responses parsed; refusals: {refused:?}");
        assert!(
            calls >= 30 && responses >= 25,
            "{calls} calls, {responses} responses parsed"
        );
        assert!(
            refused.len() >= 12,
            "only {} kinds of refusal: {refused:?}",
            refused.len()
        );
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
