//! supervisor-web: the web UI as pure code (snapshots in, HTML/asset bytes out).
