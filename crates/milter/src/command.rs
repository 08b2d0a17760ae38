//! Parsing MTA packets into commands (server side) and encoding them (client side).

use std::net::IpAddr;

use crate::MilterError;
use crate::event::{Address, Connect};
use crate::negotiate::{Negotiation, Stage};
use crate::wire::*;

/// A parsed MTA-to-milter packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Command {
    OptNeg(Negotiation),
    /// Macros for a stage; `None` when the command letter has no `SMFIM_*` stage.
    Macro(Option<Stage>, Vec<(String, String)>),
    Connect(Connect),
    Helo(String),
    Mail(Vec<String>),
    Rcpt(Vec<String>),
    Data,
    Header(String, Vec<u8>),
    Eoh,
    Body(Vec<u8>),
    /// End of message; libmilter allows a last body chunk in it.
    Eom(Vec<u8>),
    Abort,
    Quit,
    QuitNc,
    Unknown(String),
}

impl Command {
    pub(crate) fn parse(p: Packet) -> Result<Command, MilterError> {
        let mut f = Fields::new(p.code, &p.data);
        Ok(match p.code {
            C_OPTNEG => Command::OptNeg(Negotiation::decode(&p.data)?),
            C_MACRO => {
                let stage = Stage::for_command(f.byte()?);
                let mut pairs = Vec::new();
                while !f.is_empty() {
                    let name = f.string()?;
                    let value = f.string()?;
                    pairs.push((name, value));
                }
                Command::Macro(stage, pairs)
            }
            C_CONNECT => {
                let hostname = f.string()?;
                let family = f.byte()?;
                let address = match family {
                    b'U' => Address::Unknown,
                    b'L' => {
                        f.u16()?;
                        Address::Unix(f.string()?)
                    }
                    b'4' | b'6' => {
                        let port = f.u16()?;
                        let text = f.string()?;
                        let text = text.strip_prefix("IPv6:").unwrap_or(&text);
                        let ip: IpAddr = text.parse().map_err(|_| f.malformed("bad address"))?;
                        Address::Inet { ip, port }
                    }
                    _ => return Err(f.malformed("unknown address family")),
                };
                Command::Connect(Connect { hostname, address })
            }
            C_HELO => Command::Helo(f.string()?),
            C_MAIL => Command::Mail(f.strings()?),
            C_RCPT => Command::Rcpt(f.strings()?),
            C_DATA => Command::Data,
            C_HEADER => {
                let name = f.string()?;
                let value = f.bytes()?.to_vec();
                Command::Header(name, value)
            }
            C_EOH => Command::Eoh,
            C_BODY => Command::Body(p.data),
            C_BODYEOB => Command::Eom(p.data),
            C_ABORT => Command::Abort,
            C_QUIT => Command::Quit,
            C_QUIT_NC => Command::QuitNc,
            C_UNKNOWN => Command::Unknown(f.string()?),
            other => return Err(MilterError::UnknownCommand(other)),
        })
    }

    pub(crate) fn encode(&self) -> Packet {
        let mut d = Vec::new();
        let code = match self {
            Command::OptNeg(n) => return n.encode(),
            Command::Macro(stage, pairs) => {
                d.push(stage.map_or(C_UNKNOWN, Stage::command));
                for (k, v) in pairs {
                    put_str(&mut d, k.as_bytes());
                    put_str(&mut d, v.as_bytes());
                }
                C_MACRO
            }
            Command::Connect(c) => {
                put_str(&mut d, c.hostname.as_bytes());
                match &c.address {
                    Address::Unknown => d.push(b'U'),
                    Address::Unix(path) => {
                        d.push(b'L');
                        d.extend_from_slice(&0u16.to_be_bytes());
                        put_str(&mut d, path.as_bytes());
                    }
                    Address::Inet { ip, port } => {
                        d.push(if ip.is_ipv4() { b'4' } else { b'6' });
                        d.extend_from_slice(&port.to_be_bytes());
                        put_str(&mut d, ip.to_string().as_bytes());
                    }
                }
                C_CONNECT
            }
            Command::Helo(h) => {
                put_str(&mut d, h.as_bytes());
                C_HELO
            }
            Command::Mail(args) | Command::Rcpt(args) => {
                for a in args {
                    put_str(&mut d, a.as_bytes());
                }
                if matches!(self, Command::Mail(_)) {
                    C_MAIL
                } else {
                    C_RCPT
                }
            }
            Command::Data => C_DATA,
            Command::Header(name, value) => {
                put_str(&mut d, name.as_bytes());
                put_str(&mut d, value);
                C_HEADER
            }
            Command::Eoh => C_EOH,
            Command::Body(b) => {
                d.extend_from_slice(b);
                C_BODY
            }
            Command::Eom(b) => {
                d.extend_from_slice(b);
                C_BODYEOB
            }
            Command::Abort => C_ABORT,
            Command::Quit => C_QUIT,
            Command::QuitNc => C_QUIT_NC,
            Command::Unknown(s) => {
                put_str(&mut d, s.as_bytes());
                C_UNKNOWN
            }
        };
        Packet::new(code, d)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_round_trip() {
        let cmds = [
            Command::Macro(
                Some(Stage::Connect),
                vec![("j".into(), "mx.example".into())],
            ),
            Command::Connect(Connect {
                hostname: "mail.example.org".into(),
                address: Address::Inet {
                    ip: "2001:db8::1".parse().expect("ip"),
                    port: 2525,
                },
            }),
            Command::Connect(Connect {
                hostname: "localhost".into(),
                address: Address::Unknown,
            }),
            Command::Mail(vec!["<a@example.org>".into(), "SIZE=10".into()]),
            Command::Header("Subject".into(), b" hi \xe9".to_vec()),
            Command::Eom(Vec::new()),
        ];
        for c in cmds {
            assert_eq!(Command::parse(c.encode()).expect("parses"), c);
        }
    }

    #[test]
    fn garbage_is_an_error() {
        for (code, data) in [
            (b'C', &b"host\0X"[..]),
            (b'C', b"host\x004\x00"),
            (b'H', b"no nul"),
            (b'O', b"\0\0\0\x06"),
            (b'Z', b""),
        ] {
            assert!(
                Command::parse(Packet::new(code, data.to_vec())).is_err(),
                "{code}"
            );
        }
    }
}
