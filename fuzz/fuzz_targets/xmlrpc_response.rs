//! Arbitrary bytes as an XML-RPC response (`parse_method_response`, what our clients do
//! with every answer). A parsed value or fault must survive our writer unchanged.
#![no_main]
use libfuzzer_sys::fuzz_target;
use supervisor_protocol::xmlrpc::{parse_method_response, write_fault, write_response, Value};

/// Line ends as an XML reader sees them: a raw CR (or CR LF) in text becomes LF. Our
/// writer, like `xmlrpc.client`, writes a CR that came from `&#13;` as a raw CR, so a
/// round trip turns it into LF under the reference too.
fn eol(s: &str) -> String {
    s.replace("\r\n", "\n").replace('\r', "\n")
}

/// Equality after a round trip: NaN equals itself (a parsed `nan` is written and read
/// back as NaN) and text is compared with [`eol`] applied to the original.
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Double(x), Value::Double(y)) => x == y || (x.is_nan() && y.is_nan()),
        (Value::String(x), Value::String(y)) => eol(x) == *y,
        (Value::DateTime(x), Value::DateTime(y)) => eol(x) == *y,
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| same(a, b))
        }
        (Value::Struct(x), Value::Struct(y)) => {
            x.len() == y.len()
                && x.iter()
                    .zip(y)
                    .all(|((ka, a), (kb, b))| eol(ka) == *kb && same(a, b))
        }
        _ => a == b,
    }
}

fuzz_target!(|data: &[u8]| {
    match parse_method_response(data) {
        Err(_) => {}
        Ok(Ok(value)) => {
            let wire = write_response(&value);
            match parse_method_response(&wire) {
                Ok(Ok(again)) => assert!(same(&value, &again), "{value:?} became {again:?}"),
                other => panic!(
                    "our encoding of {value:?} reads back as {other:?}\n{}",
                    String::from_utf8_lossy(&wire)
                ),
            }
        }
        Ok(Err(fault)) => {
            let wire = write_fault(&fault);
            match parse_method_response(&wire) {
                Ok(Err(again)) => {
                    assert_eq!(again.code, fault.code);
                    assert_eq!(again.string, eol(&fault.string));
                }
                other => panic!("our encoding of {fault:?} reads back as {other:?}"),
            }
        }
    }
});
