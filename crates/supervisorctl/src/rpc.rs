//! XML-RPC calls over the HTTP transport, behind a small trait so that command logic can
//! be tested with a fake server.

use supervisor_protocol::xmlrpc;
use supervisor_protocol::Value;

use crate::error::CtlError;
use crate::transport::{basic_auth, Endpoint, HttpClient};

/// Something that answers XML-RPC calls.
pub trait Rpc {
    /// Calls `method` with `params`; a fault comes back as [`CtlError::Fault`].
    fn call(&mut self, method: &str, params: &[Value]) -> Result<Value, CtlError>;
}

/// The real client: `POST /RPC2` over [`HttpClient`].
pub struct XmlRpcClient {
    http: HttpClient,
}

impl XmlRpcClient {
    /// A client for `serverurl`. Credentials are sent only when both are known, as the
    /// reference does. An unsupported URL scheme is the reference's `ValueError`.
    pub fn new(
        serverurl: &str,
        username: Option<&str>,
        password: Option<&str>,
    ) -> Result<XmlRpcClient, CtlError> {
        let endpoint = Endpoint::from_serverurl(serverurl)?;
        let auth = match (username, password) {
            (Some(u), Some(p)) => Some(basic_auth(u, p)),
            _ => None,
        };
        Ok(XmlRpcClient {
            http: HttpClient::new(endpoint, auth),
        })
    }
}

impl Rpc for XmlRpcClient {
    fn call(&mut self, method: &str, params: &[Value]) -> Result<Value, CtlError> {
        let body = xmlrpc::write_method_call(method, params);
        let resp = self.http.post("/RPC2", &body)?;
        // http:// to a port that speaks only HTTPS: a connection problem, in plain words.
        if let Some(e) = crate::tls::wants_tls(resp.status, &resp.body) {
            return Err(CtlError::Io(e));
        }
        if resp.status != 200 {
            return Err(CtlError::Http {
                status: resp.status,
                reason: resp.reason,
            });
        }
        match xmlrpc::parse_method_response(&resp.body) {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(fault)) => Err(CtlError::Fault(fault)),
            Err(e) => Err(CtlError::Other {
                class: "xml.parsers.expat.ExpatError".into(),
                message: e.to_string(),
            }),
        }
    }
}

/// A struct member, or the reference's `KeyError` when it is missing.
pub fn member<'a>(v: &'a Value, key: &str) -> Result<&'a Value, CtlError> {
    if let Value::Struct(members) = v {
        if let Some((_, val)) = members.iter().find(|(k, _)| k == key) {
            return Ok(val);
        }
    }
    Err(CtlError::key_error(key))
}

/// A string member (any scalar is rendered as Python's `str()` would).
pub fn member_str(v: &Value, key: &str) -> Result<String, CtlError> {
    Ok(value_to_string(member(v, key)?))
}

/// An integer member (booleans count as 0/1).
pub fn member_int(v: &Value, key: &str) -> Result<i64, CtlError> {
    Ok(value_to_int(member(v, key)?))
}

/// A truthiness test of a member, like Python's `if x:`.
pub fn member_truthy(v: &Value, key: &str) -> Result<bool, CtlError> {
    Ok(truthy(member(v, key)?))
}

/// Python's `str()` of a decoded value, for the scalars supervisord sends.
pub fn value_to_string(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Int(i) => i.to_string(),
        Value::Bool(b) => if *b { "True" } else { "False" }.into(),
        Value::Double(d) => format!("{d:?}"),
        Value::DateTime(s) => s.clone(),
        Value::Base64(b) => String::from_utf8_lossy(b).into_owned(),
        Value::Array(a) => format!(
            "[{}]",
            a.iter().map(value_to_string).collect::<Vec<_>>().join(", ")
        ),
        Value::Struct(_) => "{...}".into(),
    }
}

/// An integer view of a value (0 when it is not a number).
pub fn value_to_int(v: &Value) -> i64 {
    match v {
        Value::Int(i) => *i as i64,
        Value::Bool(b) => *b as i64,
        Value::Double(d) => *d as i64,
        Value::String(s) => s.trim().parse().unwrap_or(0),
        _ => 0,
    }
}

/// Python truthiness.
pub fn truthy(v: &Value) -> bool {
    match v {
        Value::Int(i) => *i != 0,
        Value::Bool(b) => *b,
        Value::Double(d) => *d != 0.0,
        Value::String(s) | Value::DateTime(s) => !s.is_empty(),
        Value::Base64(b) => !b.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Struct(s) => !s.is_empty(),
    }
}

/// The elements of an array result (anything else is an empty list).
pub fn array(v: Value) -> Vec<Value> {
    match v {
        Value::Array(a) => a,
        _ => Vec::new(),
    }
}

/// Shorthand for a string parameter.
pub fn s(text: &str) -> Value {
    Value::String(text.to_string())
}

/// Shorthand for an integer parameter.
pub fn i(n: i32) -> Value {
    Value::Int(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn members() {
        let v = Value::Struct(vec![
            ("name".into(), s("x")),
            ("pid".into(), i(5)),
            ("ok".into(), Value::Bool(true)),
        ]);
        assert_eq!(member_str(&v, "name").unwrap(), "x");
        assert_eq!(member_int(&v, "pid").unwrap(), 5);
        assert!(member_truthy(&v, "ok").unwrap());
        let e = member(&v, "nope").unwrap_err();
        assert_eq!(e.py_class(), "KeyError");
        assert_eq!(e.py_str(), "'nope'");
    }
}
