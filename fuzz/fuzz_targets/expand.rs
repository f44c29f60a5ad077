//! Arbitrary text through the Python %-formatter and the shlex splitters.
#![no_main]
use libfuzzer_sys::fuzz_target;
use supervisor_config::pyfmt::{expand, Expansions, PyVal, Scope};

fuzz_target!(|data: &[u8]| {
    let s = String::from_utf8_lossy(data);
    let mut e = Expansions::new();
    e.set_str("here", "/h");
    e.set("process_num", PyVal::Int(1));
    let _ = expand(&s, &Scope::one(&e), "k");
    let _ = supervisor_config::split_command(&s);
    let _ = supervisor_config::shlex::parse_key_value_pairs(&s);
});
