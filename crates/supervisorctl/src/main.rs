fn main() {
    eprintln!("supervisorctl: not built yet");
    std::process::exit(2);
}
