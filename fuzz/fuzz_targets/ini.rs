//! Arbitrary bytes as a config file through the INI reader alone (the whole loader is
//! the `config_load` target, from memory).
#![no_main]
use libfuzzer_sys::fuzz_target;
use supervisor_config::ini::Ini;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let mut ini = Ini::new();
    let _ = ini.read_str(&text, "fuzz.conf");
});
