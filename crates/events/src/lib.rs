//! supervisor-events: the event system as pure code (events in, bytes and actions out).
