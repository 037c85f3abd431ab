//! `wscope check`: a WebSocket server conformance battery, the Autobahn
//! testsuite's cases written as our own code. `case` says what a case is,
//! `cases/` holds them all, `engine` runs one against a server, `judge`
//! gives its verdict.

pub mod case;
pub mod cases;
