//! `[fcgi-program:x]`: the daemon's shared socket is every child's fd 0, created before the
//! first spawn and closed with the last child; a socket that cannot be bound stops start-up.

mod util;

use std::time::Duration;
use util::{wait_file, Sd};

fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

#[test]
fn children_share_the_socket_as_stdin() {
    let port = free_port();
    let mut sd = Sd::start(&format!(
        "[fcgi-program:web]\nsocket=tcp://127.0.0.1:{port}\nnumprocs=2\nprocess_name=%(program_name)s_%(process_num)s\n\
command=/bin/sh -c 'readlink /proc/self/fd/0 > {{dir}}/fd0-%(process_num)s.txt; exec sleep 30'\nstartsecs=0\n"
    ));
    let a = wait_file(&sd.path().join("fd0-0.txt"), util::WAIT);
    let b = wait_file(&sd.path().join("fd0-1.txt"), util::WAIT);
    assert!(a.starts_with("socket:["), "{a}");
    assert_eq!(a, b, "both children hold the same socket");
    // the daemon accepts nothing itself, but the socket listens
    assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_ok());
    assert!(sd.stop().success());
    let msgs = sd.messages();
    let url = format!("tcp://127.0.0.1:{port}");
    let socket_lines: Vec<&String> = msgs.iter().filter(|m| m.contains(&url)).collect();
    assert_eq!(
        socket_lines,
        [
            &format!("INFO Creating socket {url}"),
            &format!("INFO Closing socket {url}"),
            &format!("INFO Creating socket {url}"),
            &format!("INFO Closing socket {url}"),
        ],
        "{msgs:#?}"
    );
    let closing = msgs
        .iter()
        .rposition(|m| m.contains("Closing socket"))
        .unwrap();
    let last_stop = msgs
        .iter()
        .rposition(|m| m.contains("stopped: web_"))
        .unwrap();
    assert!(closing > last_stop, "closed only after the last child");
    assert!(std::net::TcpStream::connect_timeout(
        &format!("127.0.0.1:{port}").parse().unwrap(),
        Duration::from_secs(2)
    )
    .is_err());
}

#[test]
fn unbindable_socket_stops_startup() {
    let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = busy.local_addr().unwrap().port();
    let mut sd = Sd::start(&format!(
        "[fcgi-program:web]\nsocket=tcp://127.0.0.1:{port}\ncommand=sleep 30\n"
    ));
    let st = sd.wait_exit(util::WAIT);
    assert_eq!(st.code(), Some(1));
    let mut err = String::new();
    use std::io::Read;
    sd.child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    assert_eq!(
        err,
        format!("Error: Could not create FastCGI socket tcp://127.0.0.1:{port}: [Errno 98] Address already in use\n")
    );
    assert_eq!(sd.count("spawned:"), 0);
    drop(busy);
}
