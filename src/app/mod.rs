//! The program's modes, built from the command line: a validated plan,
//! then connecting (or serving), then the session.

pub mod accept;
pub mod check;
pub mod client;
pub mod clients;
pub mod dialer;
pub mod launch;
pub mod output;
pub mod plan;
pub mod proxy;
pub mod reconnect;
pub mod replay;
pub mod server;
