//! The XML-RPC value codec: requests and responses as `xmlrpc.client` and Supervisor write them.
//!
//! OWNER: being implemented (see ARCHITECTURE.md). The signatures below are the contract the
//! daemon and `supervisorctl` code against.

use crate::Fault;

/// An XML-RPC value. Structs keep their member order (clients print them in wire order).
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Int(i32),
    Bool(bool),
    String(String),
    Double(f64),
    /// `dateTime.iso8601`, kept as its text (`20260101T00:00:00`).
    DateTime(String),
    Base64(Vec<u8>),
    Array(Vec<Value>),
    Struct(Vec<(String, Value)>),
}

/// A decoded `methodCall`.
#[derive(Debug, Clone, PartialEq)]
pub struct MethodCall {
    pub name: String,
    pub params: Vec<Value>,
}

/// Why a document could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError(pub String);

impl std::fmt::Display for ParseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ParseError {}
