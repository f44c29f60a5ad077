//! `supervisorctl`: see the library crate for the behaviour.

#![forbid(unsafe_code)]

fn main() {
    let argv: Vec<String> = std::env::args_os()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    std::process::exit(supervisorctl::run(argv));
}
