//! Option negotiation (`SMFIC_OPTNEG`): version, actions (`SMFIF_*`), protocol flags (`SMFIP_*`)
//! and the macro lists (`SMFIM_*` stages) that ask the MTA to send only the macros we need.

use std::ops::BitOr;

use crate::MilterError;
use crate::wire::{C_OPTNEG, Fields, PROTOCOL_VERSION, Packet, put_str};

/// Modification actions the milter may perform (`SMFIF_*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Actions(pub u32);

impl Actions {
    /// Add headers (`SMFIF_ADDHDRS`); also needed to insert headers.
    pub const ADD_HEADERS: Actions = Actions(0x01);
    /// Replace the body (`SMFIF_CHGBODY`).
    pub const CHANGE_BODY: Actions = Actions(0x02);
    /// Add recipients (`SMFIF_ADDRCPT`).
    pub const ADD_RCPT: Actions = Actions(0x04);
    /// Delete recipients (`SMFIF_DELRCPT`).
    pub const DELETE_RCPT: Actions = Actions(0x08);
    /// Change or delete headers (`SMFIF_CHGHDRS`).
    pub const CHANGE_HEADERS: Actions = Actions(0x10);
    /// Quarantine the message (`SMFIF_QUARANTINE`; Postfix puts it on hold).
    pub const QUARANTINE: Actions = Actions(0x20);
    /// Change the envelope sender (`SMFIF_CHGFROM`).
    pub const CHANGE_FROM: Actions = Actions(0x40);
    /// Send macro lists in the negotiation reply (`SMFIF_SETSYMLIST`).
    pub const SET_SYMLIST: Actions = Actions(0x100);

    /// Whether all bits of `other` are set.
    pub fn contains(self, other: Actions) -> bool {
        self.0 & other.0 == other.0
    }
}

impl BitOr for Actions {
    type Output = Actions;
    fn bitor(self, rhs: Actions) -> Actions {
        Actions(self.0 | rhs.0)
    }
}

/// Protocol flags (`SMFIP_*`): steps the MTA should skip, steps it should not wait for a reply
/// to, and encoding options.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Protocol(pub u32);

impl Protocol {
    /// Do not send CONNECT.
    pub const NO_CONNECT: Protocol = Protocol(0x01);
    /// Do not send HELO.
    pub const NO_HELO: Protocol = Protocol(0x02);
    /// Do not send MAIL.
    pub const NO_MAIL: Protocol = Protocol(0x04);
    /// Do not send RCPT.
    pub const NO_RCPT: Protocol = Protocol(0x08);
    /// Do not send the body.
    pub const NO_BODY: Protocol = Protocol(0x10);
    /// Do not send headers.
    pub const NO_HEADERS: Protocol = Protocol(0x20);
    /// Do not send end of headers.
    pub const NO_EOH: Protocol = Protocol(0x40);
    /// No reply to each header (`SMFIP_NR_HDR`).
    pub const NR_HEADER: Protocol = Protocol(0x80);
    /// Do not send unknown SMTP commands.
    pub const NO_UNKNOWN: Protocol = Protocol(0x100);
    /// Do not send DATA.
    pub const NO_DATA: Protocol = Protocol(0x200);
    /// The MTA understands `SMFIR_SKIP` (stop sending body chunks).
    pub const SKIP: Protocol = Protocol(0x400);
    /// Also send rejected recipients.
    pub const RCPT_REJ: Protocol = Protocol(0x800);
    /// No reply to CONNECT.
    pub const NR_CONNECT: Protocol = Protocol(0x1000);
    /// No reply to HELO.
    pub const NR_HELO: Protocol = Protocol(0x2000);
    /// No reply to MAIL.
    pub const NR_MAIL: Protocol = Protocol(0x4000);
    /// No reply to RCPT.
    pub const NR_RCPT: Protocol = Protocol(0x8000);
    /// No reply to DATA.
    pub const NR_DATA: Protocol = Protocol(0x10000);
    /// No reply to unknown commands.
    pub const NR_UNKNOWN: Protocol = Protocol(0x20000);
    /// No reply to end of headers.
    pub const NR_EOH: Protocol = Protocol(0x40000);
    /// No reply to body chunks.
    pub const NR_BODY: Protocol = Protocol(0x80000);
    /// Header values keep their leading space (`SMFIP_HDR_LEADSPC`), so the exact header bytes
    /// can be rebuilt (DKIM `simple` canonicalization needs them).
    pub const HEADER_LEADING_SPACE: Protocol = Protocol(0x100000);

    /// Whether all bits of `other` are set.
    pub fn contains(self, other: Protocol) -> bool {
        self.0 & other.0 == other.0
    }
}

impl BitOr for Protocol {
    type Output = Protocol;
    fn bitor(self, rhs: Protocol) -> Protocol {
        Protocol(self.0 | rhs.0)
    }
}

/// A macro stage (`SMFIM_*`): which command a macro list belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Stage {
    /// CONNECT (`SMFIM_CONNECT` = 0).
    Connect,
    /// HELO (1).
    Helo,
    /// MAIL FROM (2).
    Mail,
    /// RCPT TO (3).
    Rcpt,
    /// DATA (4).
    Data,
    /// End of message (5).
    EndOfMessage,
    /// End of headers (6).
    EndOfHeaders,
}

impl Stage {
    pub(crate) const ALL: [Stage; 7] = [
        Stage::Connect,
        Stage::Helo,
        Stage::Mail,
        Stage::Rcpt,
        Stage::Data,
        Stage::EndOfMessage,
        Stage::EndOfHeaders,
    ];

    pub(crate) fn wire(self) -> u32 {
        self as u32
    }

    /// The stage whose macros a `SMFIC_MACRO` packet for `command` defines.
    pub(crate) fn for_command(command: u8) -> Option<Stage> {
        use crate::wire::*;
        Some(match command {
            C_CONNECT => Stage::Connect,
            C_HELO => Stage::Helo,
            C_MAIL => Stage::Mail,
            C_RCPT => Stage::Rcpt,
            C_DATA => Stage::Data,
            C_BODYEOB => Stage::EndOfMessage,
            C_EOH => Stage::EndOfHeaders,
            _ => return None,
        })
    }

    /// The command letter whose macros belong to this stage.
    pub(crate) fn command(self) -> u8 {
        use crate::wire::*;
        match self {
            Stage::Connect => C_CONNECT,
            Stage::Helo => C_HELO,
            Stage::Mail => C_MAIL,
            Stage::Rcpt => C_RCPT,
            Stage::Data => C_DATA,
            Stage::EndOfMessage => C_BODYEOB,
            Stage::EndOfHeaders => C_EOH,
        }
    }
}

/// One side's negotiation packet: what the MTA offers, or what the milter asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Negotiation {
    /// Protocol version (6).
    pub version: u32,
    /// Actions.
    pub actions: Actions,
    /// Protocol flags.
    pub protocol: Protocol,
    /// Macro names to request per stage (milter side only; needs [`Actions::SET_SYMLIST`]).
    pub macros: Vec<(Stage, Vec<String>)>,
}

impl Negotiation {
    /// What an MTA like Postfix 3.x offers: version 6, every action and protocol flag it knows.
    pub fn mta_default() -> Self {
        Negotiation {
            version: PROTOCOL_VERSION,
            actions: Actions(0x1ff),
            protocol: Protocol(0x1f_ffff),
            macros: Vec::new(),
        }
    }

    pub(crate) fn encode(&self) -> Packet {
        let mut d = Vec::with_capacity(12);
        d.extend_from_slice(&self.version.to_be_bytes());
        d.extend_from_slice(&self.actions.0.to_be_bytes());
        d.extend_from_slice(&self.protocol.0.to_be_bytes());
        for (stage, names) in &self.macros {
            d.extend_from_slice(&stage.wire().to_be_bytes());
            put_str(&mut d, names.join(" ").as_bytes());
        }
        Packet::new(C_OPTNEG, d)
    }

    pub(crate) fn decode(data: &[u8]) -> Result<Self, MilterError> {
        let mut f = Fields::new(C_OPTNEG, data);
        let version = f.u32()?;
        let actions = Actions(f.u32()?);
        let protocol = Protocol(f.u32()?);
        let mut macros = Vec::new();
        while !f.is_empty() {
            let n = f.u32()?;
            let stage = *Stage::ALL
                .get(n as usize)
                .ok_or(f.malformed("unknown macro stage"))?;
            let names = f.string()?;
            macros.push((stage, names.split_whitespace().map(str::to_owned).collect()));
        }
        Ok(Negotiation {
            version,
            actions,
            protocol,
            macros,
        })
    }

    /// The milter's answer to the MTA's `offer`: our wishes narrowed to what the MTA supports.
    ///
    /// Postfix refuses a reply that asks for actions or flags it did not offer (`milter8.c`
    /// checks the reply against its own masks), so everything is masked. Macro lists are sent
    /// only when the MTA offered `SMFIF_SETSYMLIST`.
    pub(crate) fn answer(&self, offer: &Negotiation) -> Result<Negotiation, MilterError> {
        if offer.version < PROTOCOL_VERSION {
            return Err(MilterError::Version(offer.version));
        }
        let mut actions = Actions(self.actions.0 & offer.actions.0 & !Actions::SET_SYMLIST.0);
        let macros = if !self.macros.is_empty() && offer.actions.contains(Actions::SET_SYMLIST) {
            actions = actions | Actions::SET_SYMLIST;
            self.macros.clone()
        } else {
            Vec::new()
        };
        Ok(Negotiation {
            version: PROTOCOL_VERSION,
            actions,
            protocol: Protocol(self.protocol.0 & offer.protocol.0),
            macros,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answer_masks_to_offer_and_drops_macros_without_symlist() {
        let want = Negotiation {
            version: 6,
            actions: Actions::ADD_HEADERS | Actions::CHANGE_HEADERS | Actions::QUARANTINE,
            protocol: Protocol::NO_UNKNOWN | Protocol::HEADER_LEADING_SPACE,
            macros: vec![(Stage::Connect, vec!["{client_addr}".into()])],
        };
        let offer = Negotiation {
            version: 6,
            actions: Actions::ADD_HEADERS,
            protocol: Protocol::NO_UNKNOWN,
            macros: Vec::new(),
        };
        let got = want.answer(&offer).expect("v6");
        assert_eq!(got.actions, Actions::ADD_HEADERS);
        assert_eq!(got.protocol, Protocol::NO_UNKNOWN);
        assert!(got.macros.is_empty());
        let round = Negotiation::decode(&want.encode().data).expect("decodes");
        assert_eq!(round, want);
        assert!(matches!(
            want.answer(&Negotiation {
                version: 2,
                ..offer
            }),
            Err(MilterError::Version(2))
        ));
    }
}
