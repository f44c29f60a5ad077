//! The size cap on the answer to one request.
//!
//! A small request can ask for a lot: a 300 KB `system.multicall` can name 1,000 log reads
//! of 1 MB each. Without a cap the daemon would build a gigabyte-sized answer (the reference
//! does exactly that). So every answer is capped at [`MAX_ANSWER`] bytes of encoded XML:
//!
//! * a log read (`readLog`, `readProcess*Log`, `tailProcess*Log`) is told how much room the
//!   answer has left and is refused *before* reading when the bytes it would return cannot
//!   fit (the file's size tells how many there are);
//! * a multicall adds up the encoded size of its results as they come; a result that does
//!   not fit is replaced by a [`too_large`] fault entry, and from then on the remaining
//!   calls are not run, each gets that fault entry (so a client sees which calls did run);
//! * a single log read whose encoded answer would not fit is answered with that fault.
//!
//! Other single calls are bounded by the process table, not by this cap.

use supervisor_protocol::{xmlrpc, Fault, FaultCode, Value};

/// The most bytes the encoded answer to one request may take: 96 MiB, one and a half times
/// the most one log read returns ([`MAX_READ`](super::logread::MAX_READ), 64 MiB), so a
/// maximal read of ordinary text still fits with room for its escapes, while the daemon's
/// peak memory per request stays around a hundred megabytes.
pub const MAX_ANSWER: usize = 96 * 1024 * 1024;

/// Room kept for the document around the values (`<?xml ...?><methodResponse>...`, the
/// multicall array): more than their few hundred bytes.
pub const ENVELOPE: usize = 1024;

/// The room a single call's value has.
pub const SINGLE_ROOM: usize = MAX_ANSWER - ENVELOPE;

const TOO_LARGE: &str = "answer too large";

/// The fault for an answer (or a multicall entry) that would pass [`MAX_ANSWER`]:
/// `FAILED: answer too large (...)`.
pub fn too_large() -> Fault {
    Fault::new(
        FaultCode::Failed,
        format!(
            "{TOO_LARGE} (the answer to one request is limited to {MAX_ANSWER} bytes; \
             read logs in smaller pieces)"
        ),
    )
}

/// True for the fault made by [`too_large`].
pub fn is_too_large(f: &Fault) -> bool {
    f.code == FaultCode::Failed.code()
        && f.string
            .strip_prefix("FAILED: ")
            .is_some_and(|s| s.starts_with(TOO_LARGE))
}

/// The number of bytes [`xmlrpc::write_value`] writes for `v`, computed without writing.
pub fn encoded_len(v: &Value) -> usize {
    match v {
        Value::Int(i) => {
            b"<value><int></int></value>\n".len() + itoa::Buffer::new().format(*i).len()
        }
        Value::Bool(_) => b"<value><boolean>0</boolean></value>\n".len(),
        Value::String(s) => b"<value><string></string></value>\n".len() + xmlrpc::escaped_len(s),
        Value::Double(f) => {
            b"<value><double></double></value>\n".len() + xmlrpc::python_float_repr(*f).len()
        }
        Value::DateTime(t) => {
            b"<value><dateTime.iso8601></dateTime.iso8601></value>\n".len() + xmlrpc::escaped_len(t)
        }
        Value::Base64(d) => {
            // Lines of 76 characters, each ending in a newline.
            let enc = d.len().div_ceil(3) * 4;
            b"<value><base64>\n</base64></value>\n".len() + enc + enc.div_ceil(76)
        }
        Value::Array(items) => {
            b"<value><array><data>\n</data></array></value>\n".len()
                + items.iter().map(encoded_len).sum::<usize>()
        }
        Value::Struct(members) => {
            b"<value><struct>\n</struct></value>\n".len()
                + members
                    .iter()
                    .map(|(k, v)| {
                        b"<member>\n<name></name>\n</member>\n".len()
                            + xmlrpc::escaped_len(k)
                            + encoded_len(v)
                    })
                    .sum::<usize>()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoded_len_is_what_write_value_writes() {
        let values = vec![
            Value::Int(0),
            Value::Int(-2_147_483_648),
            Value::Int(123),
            Value::Bool(true),
            Value::Bool(false),
            Value::from(""),
            Value::from("a<b>&c \u{0}\u{1b}\t\n\r \u{fffe}\u{e9}"),
            Value::Double(0.1),
            Value::Double(-1e300),
            Value::Double(f64::NAN),
            Value::DateTime("20260101T01:02:03".into()),
            Value::Array(vec![]),
            Value::Struct(vec![]),
            Value::Struct(vec![
                ("faultCode".into(), Value::Int(30)),
                ("k&<\u{1}".into(), Value::Array(vec![Value::from("x")])),
            ]),
        ];
        let mut all = values.clone();
        for n in [0usize, 1, 2, 3, 56, 57, 58, 100, 1000] {
            all.push(Value::Base64((0..n).map(|i| i as u8).collect()));
        }
        all.push(Value::Array(values));
        for v in &all {
            let mut out = Vec::new();
            xmlrpc::write_value(&mut out, v);
            assert_eq!(encoded_len(v), out.len(), "{v:?}");
        }
    }

    #[test]
    fn too_large_fault() {
        let f = too_large();
        assert_eq!(f.code, 30);
        assert!(f
            .string
            .starts_with("FAILED: answer too large (the answer to one request"));
        assert!(f.string.contains("100663296 bytes"));
        assert!(is_too_large(&f));
        assert!(!is_too_large(&Fault::bare(FaultCode::Failed)));
        assert!(!is_too_large(&Fault::new(FaultCode::NoFile, TOO_LARGE)));
    }
}
