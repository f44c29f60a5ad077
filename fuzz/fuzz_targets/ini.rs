//! Arbitrary bytes as a config file: the INI reader and the whole loader must not panic.
#![no_main]
use libfuzzer_sys::fuzz_target;
use supervisor_config::ini::Ini;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let mut ini = Ini::new();
    let _ = ini.read_str(&text, "fuzz.conf");
    let dir = std::env::temp_dir().join(format!("sv-fuzz-{}", std::process::id()));
    let _ = std::fs::create_dir_all(&dir);
    let path = dir.join("fuzz.conf");
    if std::fs::write(&path, data).is_ok() {
        let _ = supervisor_config::load_with_env(&path, &[], "fuzzhost");
    }
});
