//! Property tests: random read boundaries, random listener behaviour, random event streams.

use std::collections::BTreeSet;

use proptest::prelude::*;
use supervisor_events::{
    Event, EventBus, EventType, ListenerProtocol, ListenerState, PoolSpec, ProcessState,
    ProcessStateChange, ProtocolEffect, StreamItem,
};

/// Pieces a listener might write: protocol tokens and junk.
fn token() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        4 => Just(b"READY\n".to_vec()),
        4 => Just(b"RESULT 2\nOK".to_vec()),
        3 => Just(b"RESULT 4\nFAIL".to_vec()),
        1 => Just(b"RESULT 0\n".to_vec()),
        1 => Just(b"RESULT x\n".to_vec()),
        1 => (0usize..40).prop_map(|n| format!("RESULT {n}\n").into_bytes()),
        1 => proptest::collection::vec(any::<u8>(), 0..20),
        1 => Just(vec![b'9'; 1100]),
    ]
}

fn split(data: &[u8], cuts: &[usize]) -> Vec<Vec<u8>> {
    let mut points: Vec<usize> = cuts.iter().map(|c| c % (data.len() + 1)).collect();
    points.sort_unstable();
    let mut out = Vec::new();
    let mut last = 0;
    for p in points {
        out.push(data[last..p].to_vec());
        last = p;
    }
    out.push(data[last..].to_vec());
    out
}

fn run(start_busy: bool, chunks: &[Vec<u8>]) -> (Vec<ProtocolEffect>, ListenerState) {
    let mut p = ListenerProtocol::new();
    let mut effects = Vec::new();
    if start_busy {
        p.feed(b"READY\n", &mut effects);
        assert!(p.event_sent());
        effects.clear();
    }
    for c in chunks {
        p.feed(c, &mut effects);
    }
    (effects, p.state())
}

proptest! {
    /// However the reads split the listener's output, the protocol sees the same thing.
    #[test]
    fn protocol_ignores_read_boundaries(
        tokens in proptest::collection::vec(token(), 0..12),
        cuts in proptest::collection::vec(any::<usize>(), 0..30),
        start_busy in any::<bool>(),
    ) {
        let data: Vec<u8> = tokens.concat();
        let whole = run(start_busy, std::slice::from_ref(&data));
        let pieces = run(start_busy, &split(&data, &cuts));
        prop_assert_eq!(&whole, &pieces);
        let bytewise: Vec<Vec<u8>> = data.iter().map(|b| vec![*b]).collect();
        prop_assert_eq!(&whole, &run(start_busy, &bytewise));
        // Every event that comes back was rejected or hit a bad line, never both or neither.
        let returns = whole.0.iter().filter(|e| **e == ProtocolEffect::ReturnEvent).count();
        let causes = whole.0.iter().filter(|e| matches!(e,
            ProtocolEffect::Rejected | ProtocolEffect::BadResultLine(_))).count();
        prop_assert_eq!(returns, causes);
    }
}

#[derive(Debug, Clone)]
enum Op {
    Publish,
    Tick(u64),
    Dispatch,
    Write {
        listener: usize,
        bytes: Vec<u8>,
        cuts: Vec<usize>,
    },
    Die {
        listener: usize,
    },
    Respawn {
        listener: usize,
    },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => Just(Op::Publish),
        1 => (0u64..20).prop_map(Op::Tick),
        4 => Just(Op::Dispatch),
        5 => (0usize..3, token(), proptest::collection::vec(any::<usize>(), 0..4))
            .prop_map(|(listener, bytes, cuts)| Op::Write { listener, bytes, cuts }),
        1 => (0usize..3).prop_map(|listener| Op::Die { listener }),
        2 => (0usize..3).prop_map(|listener| Op::Respawn { listener }),
    ]
}

const POOL: &str = "pool";

fn names(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("pool_{i:02}")).collect()
}

fn state_event(name: &str, from: ProcessState, to: ProcessState) -> Event {
    Event::process_state(&ProcessStateChange {
        process: name,
        group: POOL,
        from,
        to,
        pid: 1,
        tries: 0,
        expected: false,
    })
}

fn header_value(bytes: &[u8], key: &str) -> u64 {
    let text = String::from_utf8_lossy(bytes);
    let header = text.lines().next().unwrap();
    let token = header
        .split(' ')
        .find_map(|t| t.strip_prefix(&format!("{key}:")))
        .unwrap();
    token.parse().unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    /// Under any mix of events and listener behaviour: serials go 0, 1, 2, ... in publish
    /// order, a listener never has two events in flight, and every accepted event is exactly
    /// one of: done, buffered, in flight, or reported dropped by an overflow line.
    #[test]
    fn bus_loses_nothing_silently(
        listeners in 1usize..4,
        buffer_size in 1usize..6,
        ops in proptest::collection::vec(op(), 1..150),
    ) {
        let names = names(listeners);
        let mut bus = EventBus::new("supervisor");
        bus.add_pool(PoolSpec {
            name: POOL.into(),
            events: vec![EventType::Event],
            buffer_size,
            listeners: names.clone(),
        }).unwrap();
        // A stream that sees everything tells us which serials were handed out.
        let (_id, mut observer) = bus.subscribe_stream(&[EventType::Event], 100_000);
        let mut running = vec![false; listeners];
        let mut accepted: BTreeSet<u64> = BTreeSet::new();
        let mut done: BTreeSet<u64> = BTreeSet::new();
        let mut dropped: BTreeSet<u64> = BTreeSet::new();
        let mut now = 1_000_000u64;
        bus.tick(std::time::UNIX_EPOCH + std::time::Duration::from_secs(now));

        for op in ops {
            let mut in_flight_before = Vec::new();
            for n in &names {
                in_flight_before.push(bus.in_flight(POOL, n));
            }
            match op {
                Op::Publish => bus.publish(Event::remote_communication("t", "d")),
                Op::Tick(secs) => {
                    now += secs;
                    bus.tick(std::time::UNIX_EPOCH + std::time::Duration::from_secs(now));
                }
                Op::Dispatch => {
                    for d in bus.dispatch() {
                        let i = names.iter().position(|n| *n == d.listener).unwrap();
                        prop_assert!(in_flight_before[i].is_none(), "two events in flight");
                        prop_assert!(running[i]);
                        let serial = header_value(&d.bytes, "serial");
                        prop_assert_eq!(serial, d.serial);
                        prop_assert_eq!(header_value(&d.bytes, "poolserial"), serial);
                        prop_assert!(accepted.contains(&serial));
                        prop_assert!(!done.contains(&serial) && !dropped.contains(&serial));
                        in_flight_before[i] = Some(serial);
                    }
                }
                Op::Write { listener, bytes, cuts } => {
                    let i = listener % listeners;
                    if running[i] {
                        for chunk in split(&bytes, &cuts) {
                            bus.listener_output(POOL, &names[i], &chunk);
                        }
                    }
                }
                Op::Die { listener } => {
                    let i = listener % listeners;
                    if running[i] {
                        running[i] = false;
                        bus.publish(state_event(&names[i], ProcessState::Running, ProcessState::Exited));
                    }
                }
                Op::Respawn { listener } => {
                    let i = listener % listeners;
                    if !running[i] {
                        bus.publish(state_event(&names[i], ProcessState::Exited, ProcessState::Starting));
                        bus.publish(state_event(&names[i], ProcessState::Starting, ProcessState::Running));
                        running[i] = true;
                    }
                }
            }
            while let Ok(item) = observer.try_recv() {
                let StreamItem::Event(e) = item else {
                    return Err(TestCaseError::fail("observer dropped events"));
                };
                prop_assert_eq!(e.serial, accepted.len() as u64, "serials are consecutive");
                accepted.insert(e.serial);
            }
            for line in bus.take_log() {
                let overflow = format!("pool {POOL} event buffer overflowed, discarding event ");
                if let Some(rest) = line.text.strip_prefix(&overflow) {
                    prop_assert!(dropped.insert(rest.parse().unwrap()));
                }
                if let Some(name) = line.text.strip_suffix(": event was processed") {
                    let i = names.iter().position(|n| n == name).unwrap();
                    let serial = in_flight_before[i].expect("processed without an event");
                    prop_assert!(done.insert(serial));
                }
            }
            let buffered = bus.buffered_serials(POOL).unwrap();
            prop_assert!(buffered.len() <= buffer_size);
            let flying: Vec<u64> = names.iter().filter_map(|n| bus.in_flight(POOL, n)).collect();
            let live: Vec<u64> = buffered.iter().chain(flying.iter()).copied().collect();
            let unique: BTreeSet<u64> = live.iter().copied().collect();
            prop_assert_eq!(unique.len(), live.len(), "an event is in two places");
            let expected: BTreeSet<u64> = accepted
                .iter()
                .filter(|s| !done.contains(s) && !dropped.contains(s))
                .copied()
                .collect();
            prop_assert_eq!(unique, expected, "an event was lost or duplicated");
            prop_assert!(done.is_disjoint(&dropped));
            for (i, n) in names.iter().enumerate() {
                if bus.in_flight(POOL, n).is_some() {
                    prop_assert_eq!(bus.listener_state(POOL, n), Some(ListenerState::Busy));
                    prop_assert!(running[i]);
                }
            }
        }
    }
}

proptest! {
    /// A slow stream subscriber never blocks the bus and never loses count: what it
    /// receives plus what it was told was dropped plus what is still pending equals what
    /// was published, and the serials it sees increase.
    #[test]
    fn streams_account_for_every_event(
        capacity in 1usize..5,
        steps in proptest::collection::vec(any::<bool>(), 1..200),
    ) {
        let mut bus = EventBus::new("s");
        let (id, mut rx) = bus.subscribe_stream(&[EventType::Event], capacity);
        let mut published = 0u64;
        let mut received = 0u64;
        let mut told_dropped = 0u64;
        let mut last_serial = None;
        for publish in steps {
            if publish {
                bus.publish(Event::remote_communication("t", "x"));
                published += 1;
            } else if let Ok(item) = rx.try_recv() {
                match item {
                    StreamItem::Event(e) => {
                        if let Some(l) = last_serial {
                            prop_assert!(e.serial > l);
                        }
                        last_serial = Some(e.serial);
                        received += 1;
                    }
                    StreamItem::Dropped(n) => told_dropped += n,
                }
            }
        }
        while let Ok(item) = rx.try_recv() {
            match item {
                StreamItem::Event(_) => received += 1,
                StreamItem::Dropped(n) => told_dropped += n,
            }
        }
        let stats = bus.stream_stats(id).unwrap();
        prop_assert_eq!(received + told_dropped + stats.pending_dropped, published);
        prop_assert_eq!(told_dropped + stats.pending_dropped, stats.total_dropped);
    }
}
