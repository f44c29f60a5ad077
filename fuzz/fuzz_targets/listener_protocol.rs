//! Arbitrary listener stdout through the event-listener protocol parser. A 0x00 byte in
//! the input stands for "the daemon sent an event now" (`event_sent`), everything else
//! is output. The same session is fed once in whole segments and once byte by byte: a
//! streaming parser must give the same effects and end in the same state either way,
//! and its buffers stay bounded.
#![no_main]
use libfuzzer_sys::fuzz_target;
use supervisor_events::{ListenerProtocol, ProtocolEffect};

fuzz_target!(|data: &[u8]| {
    let mut whole = ListenerProtocol::new();
    let mut bytes = ListenerProtocol::new();
    let mut out_whole: Vec<ProtocolEffect> = Vec::new();
    let mut out_bytes: Vec<ProtocolEffect> = Vec::new();
    for (i, segment) in data.split(|&b| b == 0).enumerate() {
        if i > 0 {
            assert_eq!(whole.event_sent(), bytes.event_sent());
        }
        whole.feed(segment, &mut out_whole);
        for b in segment {
            bytes.feed(std::slice::from_ref(b), &mut out_bytes);
        }
        assert_eq!(whole.state(), bytes.state(), "after segment {i}");
        assert_eq!(out_whole, out_bytes, "after segment {i}");
    }
    if data.len() % 7 == 0 {
        whole.event_undelivered();
        whole.reset();
        whole.feed(b"READY\n", &mut out_whole);
    }
});
