//! `wscope check`: a WebSocket server conformance battery, the Autobahn
//! testsuite's cases written as our own code. `case` says what a case is,
//! `cases/` holds them all, `engine` runs one against a server, `judge`
//! gives its verdict.

pub mod case;
pub mod cases;
pub mod deflate;
pub mod engine;
pub mod judge;
pub mod listen;
mod page;
pub mod report;
pub mod run;
pub mod select;
pub mod view;
pub mod wirelog;
