//! supervisor-events: Supervisor's event system as pure code: events in, bytes and log
//! lines out. No I/O, no clock of its own, no threads.
//!
//! What is here:
//! * [`Event`]: every event type of the reference with its exact payload text
//!   (`PROCESS_STATE_*`, `PROCESS_LOG_*`, `PROCESS_COMMUNICATION_*`, `REMOTE_COMMUNICATION`,
//!   `SUPERVISOR_STATE_CHANGE_*`, `TICK_*`, `PROCESS_GROUP_*`).
//! * [`EventBus`]: listener pools (`[eventlistener:x]`) with their bounded buffers, the
//!   global and per-pool serials, the envelope, dispatch to RUNNING+READY listeners, the
//!   READY/RESULT protocol of each listener ([`ListenerProtocol`]), TICK generation from a
//!   wall-clock time passed in, and streaming subscribers for the `/events` endpoint.
//! * [`validate`]: the `/events?events=` filter (`[eventlistener:x] events=` itself is
//!   validated by the config loader and arrives typed).
//!
//! What is not here: reading or writing pipes, timers, spawning listeners, the capture-mode
//! scanner (the daemon's log code finds the XSUPERVISOR tokens and builds the
//! `PROCESS_COMMUNICATION` event), HTTP. `docs/events.md` tells the daemon how to wire it:
//!
//! 1. [`EventBus::new`] once; [`EventBus::add_pool`] when an `[eventlistener:x]` group
//!    becomes active, before its `PROCESS_GROUP_ADDED` is published; [`EventBus::remove_pool`]
//!    when it goes away.
//! 2. [`EventBus::publish`] every event, listener processes included (the core's typed
//!    events rendered once through the [`Event`] constructors).
//! 3. [`EventBus::listener_output`] with each read from a listener's stdout;
//!    [`EventBus::delivery_failed`] when a write to its stdin fails.
//! 4. Each loop turn: [`EventBus::dispatch`] (write each [`Delivery`]), then
//!    [`EventBus::take_log`] into the main log. TICK events: either the core's (enabled
//!    while [`EventBus::wants_ticks`]) or [`EventBus::tick`] with
//!    [`EventBus::next_tick_deadline`], never both.

#![forbid(unsafe_code)]

pub mod bus;
pub mod event;
pub mod listener;
pub mod stream;
pub mod validate;

pub use bus::{
    envelope, Delivery, DuplicatePool, EventBus, LenUnit, Level, LogLine, PoolSpec, PoolStats,
    StreamId, StreamStats,
};
pub use event::{Channel, Event, FieldValue, ProcessStateChange, StateSubject};
pub use listener::{ListenerProtocol, ProtocolEffect};
pub use stream::{StreamEvent, StreamItem, SSE_KEEPALIVE};
pub use supervisor_protocol::events::EventType;
pub use supervisor_protocol::{ListenerState, ProcessState};
