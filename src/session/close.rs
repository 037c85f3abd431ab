//! Ending a session: the close handshake (ours or the peer's), failing the
//! connection when a rule is broken, the deadlines that bound both, and
//! the exit code each ending gives.

use std::time::{Duration, Instant};

use tungstenite::protocol::frame::coding::CloseCode;
use tungstenite::protocol::CloseFrame;
use tungstenite::Error as WsError;

use super::Session;
use crate::error::{fail, Exit, Failure, Stage};
use crate::observe::{Event, Initiator};
use crate::wire::{close_code, violation};

#[derive(Default)]
pub struct Closing {
    /// When our Close went out.
    pub sent_at: Option<Instant>,
    /// The code the user chose with /close, if any.
    pub user_code: Option<u16>,
}

/// The exit code of a close handshake that finished with `code` from the
/// peer: a normal end, unless the peer chose another code itself. A peer
/// that echoes the code the user chose is a normal end too.
pub fn exit_for_close(code: Option<u16>, initiator: Initiator, user_code: Option<u16>) -> Exit {
    match code {
        None | Some(1000) | Some(1001) => Exit::Normal,
        Some(c) if initiator == Initiator::Local && user_code == Some(c) => Exit::Normal,
        Some(_) => Exit::PeerClosedAbnormally,
    }
}

impl Session {
    pub(super) fn start_close(&mut self, code: Option<u16>, reason: &str) {
        if self.closing.sent_at.is_some() || !self.ws.can_write() {
            return;
        }
        self.closing.sent_at = Some(Instant::now());
        let frame = code.map(|code| CloseFrame {
            code: CloseCode::from(code),
            reason: reason.into(),
        });
        match self.ws.close(frame) {
            Ok(()) => {}
            Err(WsError::Io(e)) if e.kind() == std::io::ErrorKind::WouldBlock => {
                self.outbox.blocked = true
            }
            Err(e) => self.fail_connection(e),
        }
        self.show_outgoing();
    }

    pub(super) fn on_close_received(&mut self) {
        let (code, reason) = self
            .view
            .last_close_in
            .take()
            .unwrap_or((None, String::new()));
        if let Some(why) = code.and_then(close_code::forbidden_on_wire) {
            // tungstenite has already queued Close 1002 in reply.
            self.outcome = Some(Err(fail(
                Stage::Protocol,
                format!(
                    "the {} sent close code {}, which may not be sent: {why}",
                    self.opts.role.peer(),
                    code.unwrap_or_default()
                ),
            )));
            return;
        }
        // Our reply (tungstenite queued it) goes out and shows before the
        // summary.
        let _ = self.ws.flush();
        self.show_outgoing();
        let initiator = if self.closing.sent_at.is_some() {
            Initiator::Local
        } else {
            Initiator::Remote
        };
        self.obs.event(&Event::Close {
            code,
            reason: &reason,
            initiator,
        });
        self.peer_close = Some((code, initiator));
        self.outcome = Some(Ok(exit_for_close(code, initiator, self.closing.user_code)));
    }

    /// Fails the connection: reports the broken rule and, where RFC 6455
    /// asks for it, sends a Close with the matching code.
    pub(super) fn fail_connection(&mut self, e: WsError) {
        let tap = self.ws.get_mut().tap_mut();
        let mid_frame = tap.incoming_mid_frame();
        tap.take_partial_incoming();
        self.show_all();
        let bad_utf8 = matches!(e, WsError::Utf8(_));
        let bad_close_reason = bad_utf8 && self.view.last_close_in.is_some();
        let mut v = violation::from_ws_error(e, mid_frame, self.opts.role.peer());
        if bad_close_reason {
            v.failure.message = format!(
                "the {}'s Close frame has a reason that is not valid UTF-8 (RFC 6455 §5.5.1)",
                self.opts.role.peer()
            );
        } else if bad_utf8 && self.view.text_in.seq > 0 {
            let text = &self.view.text_in;
            v.failure.message = format!(
                "incoming message {} is not valid UTF-8{} (RFC 6455 §8.1)",
                text.seq,
                text.where_invalid()
            );
        }
        if let Some(code) = v.close_code {
            if self.ws.can_write() {
                let frame = CloseFrame {
                    code: CloseCode::from(code),
                    reason: "".into(),
                };
                let _ = self.ws.close(Some(frame));
                let _ = self.ws.flush();
                self.show_outgoing();
            }
        }
        self.outcome = Some(Err(v.failure));
    }

    /// The close handshake's limit, or the end of the silence after the
    /// input: -w's, or, without -w, a few round trips (`linger`). -n and
    /// --until wait for what they wait for, unless -w bounds it.
    pub(super) fn close_deadline(&self) -> Option<Instant> {
        if let Some(sent) = self.closing.sent_at {
            return Some(sent + self.opts.close_timeout);
        }
        let ended = self.input_ended_at?;
        let wait = match self.opts.wait {
            Some(wait) => wait,
            None if self.stop.waits() => return None,
            // A greeting that came before our first message answers
            // nothing.
            None => super::linger::silence(
                self.opts.rtt,
                self.stats.messages_out(),
                self.stats.answers(),
            ),
        };
        Some(ended.max(self.last_received).max(self.last_written) + wait)
    }

    pub(super) fn on_close_deadline(&mut self, now: Instant) {
        if self.close_deadline().is_none_or(|d| now < d) {
            return;
        }
        if self.closing.sent_at.is_some() {
            self.outcome = Some(Err(fail(
                Stage::Io,
                format!(
                    "the {} did not answer our Close within {:.1}s (--close-timeout)",
                    self.opts.role.peer(),
                    self.opts.close_timeout.as_secs_f64()
                ),
            )));
        } else {
            self.start_close(Some(1000), "");
        }
    }

    /// A session that ended well still fails a script whose input was
    /// partly refused, so that `&&` notices.
    pub(super) fn count_refused(
        &mut self,
        outcome: Result<Exit, Failure>,
    ) -> Result<Exit, Failure> {
        match outcome {
            Ok(Exit::Normal | Exit::PeerClosedAbnormally) if self.input.refused > 0 => {
                let n = self.input.refused;
                let lines = if n == 1 { "line was" } else { "lines were" };
                self.notice(&format!("{n} input {lines} refused (exit code 2)"));
                self.obs.flush();
                Ok(Exit::Usage)
            }
            other => other,
        }
    }

    /// Sends what is still queued (a Close reply, say) before the socket is
    /// dropped, waiting at most the close timeout for it.
    pub(super) fn finish(&mut self, outcome: &Result<Exit, Failure>, alone: bool) {
        let we_closed = self.closing.sent_at.is_some();
        if !(self.opts.reconnects && super::is_lost(outcome, self.peer_close, we_closed)) {
            self.report_unsent();
        }
        if let Some(summary) = self.stats.round_trips.summary() {
            self.notice(&summary);
        }
        if let Some(unmet) = self.stop.unmet(self.opts.role.peer()) {
            self.notice(&unmet);
        }
        // What is still queued (our Close, its answer) goes out within one
        // budget: --close-timeout after a good end, a moment after a
        // failed one (--max-time, a peer that stopped reading), so that
        // exiting never waits on a peer that will not read.
        // Beside other connections, a peer that reads nothing costs them
        // a moment at most.
        let budget = match outcome {
            Ok(_) if alone => self.opts.close_timeout.max(Duration::from_millis(100)),
            Ok(_) => Duration::from_millis(50),
            Err(_) => Duration::from_millis(100),
        };
        let deadline = Instant::now() + budget;
        let tcp = self.ws.get_ref().tap().get_ref().socket();
        let _ = tcp.set_nonblocking(false);
        let left = || {
            deadline
                .saturating_duration_since(Instant::now())
                .max(Duration::from_millis(1))
        };
        let _ = tcp.set_write_timeout(Some(left()));
        let _ = self.ws.flush();
        self.write_pending_raw();
        let tcp = self.ws.get_ref().tap().get_ref().socket();
        let _ = tcp.set_write_timeout(Some(left()));
        let _ = self.ws.flush();
        self.show_all();
        self.pass_chunks();
        self.obs.flush();
    }

    /// Nothing is lost silently: input that never went out is counted.
    fn report_unsent(&mut self) {
        let (queued, stdin_unread) = self.input.discard();
        let unread = stdin_unread && self.input_ended_at.is_none();
        if let Some(notice) = crate::input::not_sent(self.unsent + queued, unread, "") {
            self.notice(&notice);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_normal_code_or_none_is_a_normal_end() {
        for code in [None, Some(1000), Some(1001)] {
            assert_eq!(exit_for_close(code, Initiator::Remote, None), Exit::Normal);
        }
    }

    #[test]
    fn a_code_the_peer_chose_is_exit_4_but_an_echo_of_ours_is_not() {
        assert_eq!(
            exit_for_close(Some(4000), Initiator::Remote, None),
            Exit::PeerClosedAbnormally
        );
        assert_eq!(
            exit_for_close(Some(4000), Initiator::Local, Some(4000)),
            Exit::Normal
        );
        assert_eq!(
            exit_for_close(Some(1011), Initiator::Local, Some(4000)),
            Exit::PeerClosedAbnormally
        );
    }
}
