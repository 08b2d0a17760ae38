//! The per-connection protocol state machine and the context a handler can read.

use crate::command::Command;
use crate::negotiate::{Actions, Protocol, Stage};

/// Where a milter session is. Steps the MTA was asked to skip may be missing, so a command
/// may jump forward, never back (except end of message and abort, which return to `Helo`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum State {
    Negotiate,
    Ready,
    Connected,
    Helo,
    Mail,
    Rcpt,
    Data,
    Header,
    Eoh,
    Body,
    Closed,
}

impl State {
    pub(crate) fn name(self) -> &'static str {
        match self {
            State::Negotiate => "negotiate",
            State::Ready => "ready",
            State::Connected => "connected",
            State::Helo => "helo",
            State::Mail => "mail",
            State::Rcpt => "rcpt",
            State::Data => "data",
            State::Header => "header",
            State::Eoh => "end-of-headers",
            State::Body => "body",
            State::Closed => "closed",
        }
    }

    /// The state after `cmd`, or `None` if `cmd` is not valid now.
    pub(crate) fn transition(self, cmd: &Command) -> Option<State> {
        use State::*;
        let s = self;
        let next = match cmd {
            Command::OptNeg(_) => (s == Negotiate).then_some(Ready)?,
            _ if s == Negotiate || s == Closed => return None,
            Command::Macro(..) | Command::Unknown(_) => s,
            Command::Abort => s.min(Helo),
            Command::Quit => Closed,
            Command::QuitNc => Ready,
            Command::Connect(_) => (s == Ready).then_some(Connected)?,
            Command::Helo(_) => (s <= Helo).then_some(Helo)?,
            Command::Mail(_) => (s <= Helo).then_some(Mail)?,
            Command::Rcpt(_) => (s <= Rcpt).then_some(Rcpt)?,
            Command::Data => (s <= Rcpt).then_some(Data)?,
            Command::Header(..) => (s <= Header).then_some(Header)?,
            Command::Eoh => (s <= Header).then_some(Eoh)?,
            Command::Body(_) => (s <= Body).then_some(Body)?,
            Command::Eom(_) => Helo,
        };
        Some(next)
    }
}

/// What a handler can see besides the event: negotiated options, macros and size counters.
#[derive(Debug, Clone, Default)]
pub struct Context {
    pub(crate) actions: Actions,
    pub(crate) protocol: Protocol,
    /// Macros per `SMFIM_*` stage, plus one slot for commands without a stage.
    pub(crate) macros: [Vec<(String, String)>; 8],
    pub(crate) header_bytes: usize,
    pub(crate) body_bytes: usize,
    pub(crate) headers_truncated: bool,
    pub(crate) body_truncated: bool,
}

impl Context {
    /// A macro's value, searching the most recent stage first (as libmilter's
    /// `smfi_getsymval` does). Names are as sent: `i`, `j`, `{client_addr}`.
    pub fn macro_value(&self, name: &str) -> Option<&str> {
        let order = [7usize, 5, 6, 4, 3, 2, 1, 0];
        order.iter().find_map(|&i| {
            self.macros[i]
                .iter()
                .rev()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.as_str())
        })
    }

    /// The queue id (macro `i`), when the MTA has sent it.
    pub fn queue_id(&self) -> Option<&str> {
        self.macro_value("i")
    }

    /// The negotiated actions.
    pub fn actions(&self) -> Actions {
        self.actions
    }

    /// The negotiated protocol flags.
    pub fn protocol(&self) -> Protocol {
        self.protocol
    }

    /// Header bytes of this message seen so far (name + value + 4 per field).
    pub fn header_bytes(&self) -> usize {
        self.header_bytes
    }

    /// Body bytes of this message seen so far.
    pub fn body_bytes(&self) -> usize {
        self.body_bytes
    }

    /// Whether headers past [`crate::Limits::max_header_bytes`] were not delivered.
    pub fn headers_truncated(&self) -> bool {
        self.headers_truncated
    }

    /// Whether body past [`crate::Limits::max_body_bytes`] was not delivered.
    pub fn body_truncated(&self) -> bool {
        self.body_truncated
    }

    pub(crate) fn set_macros(&mut self, stage: Option<Stage>, pairs: Vec<(String, String)>) {
        let slot = stage.map_or(7, |s| s as usize);
        self.macros[slot] = pairs;
    }

    /// Starts a message at MAIL: forgets the previous one but keeps the MAIL macros, which the
    /// MTA sends just before this command.
    pub(crate) fn begin_message(&mut self) {
        let mail = std::mem::take(&mut self.macros[Stage::Mail as usize]);
        self.reset_message();
        self.macros[Stage::Mail as usize] = mail;
    }

    /// Forgets the message: counters and the macros of MAIL and later stages.
    pub(crate) fn reset_message(&mut self) {
        for s in [
            Stage::Mail,
            Stage::Rcpt,
            Stage::Data,
            Stage::EndOfMessage,
            Stage::EndOfHeaders,
        ] {
            self.macros[s as usize].clear();
        }
        self.header_bytes = 0;
        self.body_bytes = 0;
        self.headers_truncated = false;
        self.body_truncated = false;
    }

    /// Forgets the connection (after `SMFIC_QUIT_NC`), keeping the negotiation.
    pub(crate) fn reset_connection(&mut self) {
        self.reset_message();
        for m in &mut self.macros {
            m.clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transitions() {
        let s = State::Negotiate;
        assert_eq!(s.transition(&Command::Helo("x".into())), None);
        let s = s
            .transition(&Command::OptNeg(crate::Negotiation::mta_default()))
            .expect("optneg");
        let s = s
            .transition(&Command::Mail(vec![]))
            .expect("connect/helo may be skipped");
        let s = s.transition(&Command::Rcpt(vec![])).expect("rcpt");
        assert_eq!(s.transition(&Command::Mail(vec![])), None);
        let s = s
            .transition(&Command::Header("a".into(), vec![]))
            .expect("header");
        assert_eq!(s.transition(&Command::Rcpt(vec![])), None);
        assert_eq!(s.transition(&Command::Abort), Some(State::Helo));
        assert_eq!(
            State::Body.transition(&Command::Eom(vec![])),
            Some(State::Helo)
        );
        assert_eq!(State::Closed.transition(&Command::Abort), None);
    }
}
