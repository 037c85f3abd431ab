//! Connect mode: a connection opened by the dialer becomes a session
//! (or, with --reconnect, one session after another).

use super::dialer::{open, Opened};
use crate::error::Failure;
use crate::handshake::client::Shaping;
use crate::handshake::Negotiated;
use crate::net::connect::ConnectFacts;
use crate::net::target::Target;
use crate::observe::{Observers, Role};

/// One line about the connection for /status.
pub fn summary(target: &Target, facts: &ConnectFacts, negotiated: &Negotiated) -> String {
    let tls = facts.tls.as_ref().map_or_else(
        || "no TLS".to_string(),
        |t| format!("{} {}", t.version, t.cipher),
    );
    let at = facts.unix.as_ref().map_or_else(
        || facts.addr.to_string(),
        |path| format!("unix:{}", path.display()),
    );
    format!(
        "{} at {at}; {tls}; subprotocol: {}",
        target.shown(),
        crate::escape::escape(negotiated.subprotocol.as_deref().unwrap_or("none"))
    )
}

/// Connect mode: open the connection, then run the session.
pub fn run(
    plan: &super::plan::Plan,
    obs: &mut Observers,
    target: Target,
    shaping: &Shaping,
) -> Result<crate::error::Exit, Failure> {
    if let Some(reconnect) = plan.cli.reconnect {
        return super::reconnect::run(plan, obs, target, shaping, reconnect);
    }
    let keep = super::launch::keep(plan, obs);
    let mut conn = obs.for_conn(1);
    let opened = open(
        &plan.dialer,
        &mut conn,
        target,
        shaping,
        keep,
        plan.deadline,
    )?;
    super::launch::run(plan, &mut conn, opened.ready())
}

impl Opened {
    /// Ready for frames, with what /status says about it.
    pub fn ready(self) -> super::launch::Ready {
        let summary = summary(&self.target, &self.facts, &self.negotiated);
        super::launch::Ready {
            tap: self.tap,
            leftover: self.response.leftover,
            deflate: self.negotiated.deflate,
            rtt: Some(self.upgrade),
            role: Role::Client,
            summary,
        }
    }
}
