//! Integration tests: the crate's own [`Client`] plays the MTA against a real server on
//! loopback TCP or a unix socket, with a small recording [`Milter`].

mod batching;
mod caps;
mod load;
mod messages;
mod progress;
mod replies;
mod robustness;
mod round_trip;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use kanmon_milter::{
    Actions, Address, Client, Config, Connect, Context, Event, Limits, Milter, Modification,
    Negotiation, Protocol, Reply, ReplyCode, Response, Stage, Transaction, serve_tcp,
};
use tokio::net::{TcpListener, TcpStream};

/// Our authserv-id, as in the Authentication-Results the milter adds.
const AUTHSERV_ID: &str = "mx.example.net";

/// A transcript of what the handler saw, one line per event, shared with the test.
#[derive(Clone, Default)]
pub(crate) struct Log(Arc<Mutex<Vec<String>>>);

impl Log {
    fn push(&self, line: String) {
        self.0.lock().expect("log lock").push(line);
    }

    pub(crate) fn lines(&self) -> Vec<String> {
        self.0.lock().expect("log lock").clone()
    }
}

/// The test milter: records events and macros, refuses some recipients, and at end of
/// message puts an Authentication-Results on top and deletes the 2nd one (a forgery).
pub(crate) struct Recorder {
    log: Log,
    eom_sleep: Duration,
    headers: usize,
    body: usize,
}

impl Recorder {
    pub(crate) fn new(log: Log) -> Self {
        Recorder {
            log,
            eom_sleep: Duration::ZERO,
            headers: 0,
            body: 0,
        }
    }

    pub(crate) fn sleeping(log: Log, eom_sleep: Duration) -> Self {
        Recorder {
            eom_sleep,
            ..Recorder::new(log)
        }
    }
}

fn m(ctx: &Context, name: &str) -> String {
    ctx.macro_value(name).unwrap_or("-").to_owned()
}

fn code(code: u16, text: &str) -> Reply {
    Reply::Code(ReplyCode::new(code, text).expect("valid reply"))
}

impl Milter for Recorder {
    async fn handle(&mut self, ctx: &Context, event: Event) -> Response {
        let line = match &event {
            Event::Connect(c) => format!(
                "connect {} {:?} client_addr={} client_name={}",
                c.hostname,
                c.address,
                m(ctx, "{client_addr}"),
                m(ctx, "{client_name}")
            ),
            Event::Helo(h) => format!("helo {h}"),
            Event::Mail(args) => format!(
                "mail {} auth={} i={}",
                args.join(" "),
                m(ctx, "{auth_authen}"),
                m(ctx, "i")
            ),
            Event::Rcpt(args) => format!("rcpt {} rcpt_addr={}", args[0], m(ctx, "{rcpt_addr}")),
            Event::Data => format!("data i={}", m(ctx, "i")),
            Event::Header { name, value } => {
                self.headers += 1;
                format!("header {name}:{}", String::from_utf8_lossy(value))
            }
            Event::EndOfHeaders => format!(
                "eoh headers={} bytes={} truncated={}",
                self.headers,
                ctx.header_bytes(),
                ctx.headers_truncated()
            ),
            Event::Body(chunk) => {
                self.body += chunk.len();
                format!("body {}", chunk.len())
            }
            Event::EndOfMessage => format!(
                "eom i={} j={} client_addr={} auth={} headers={} body={} body_bytes={} \
                 headers_truncated={} body_truncated={}",
                m(ctx, "i"),
                m(ctx, "j"),
                m(ctx, "{client_addr}"),
                m(ctx, "{auth_authen}"),
                self.headers,
                self.body,
                ctx.body_bytes(),
                ctx.headers_truncated(),
                ctx.body_truncated()
            ),
            Event::Abort => "abort".to_owned(),
            Event::Unknown(s) => format!("unknown {s}"),
            Event::Quit => "quit".to_owned(),
        };
        self.log.push(line);
        match event {
            Event::Rcpt(args) => match args[0].as_str() {
                "<nobody@example.net>" => code(550, "5.7.1 no such user here").into(),
                "<busy@example.net>" => code(451, "4.7.1 100% busy, try later").into(),
                _ => Reply::Continue.into(),
            },
            Event::EndOfMessage => {
                tokio::time::sleep(self.eom_sleep).await;
                self.headers = 0;
                self.body = 0;
                Response {
                    reply: Reply::Accept,
                    modifications: vec![
                        Modification::InsertHeader {
                            index: 0,
                            name: "Authentication-Results".into(),
                            value: format!(" {AUTHSERV_ID}; spf=pass qid={}", m(ctx, "i")),
                        },
                        Modification::ChangeHeader {
                            index: 2,
                            name: "Authentication-Results".into(),
                            value: String::new(),
                        },
                    ],
                }
            }
            Event::Abort => {
                self.headers = 0;
                self.body = 0;
                Reply::Continue.into()
            }
            _ => Reply::Continue.into(),
        }
    }
}

/// What the milter asks for: the steps and actions it uses, and the macros of crates.md §4.
pub(crate) fn config() -> Config {
    Config {
        negotiation: Negotiation {
            version: 6,
            actions: Actions::ADD_HEADERS | Actions::CHANGE_HEADERS | Actions::QUARANTINE,
            protocol: Protocol::NO_UNKNOWN | Protocol::SKIP | Protocol::HEADER_LEADING_SPACE,
            macros: vec![
                (
                    Stage::Connect,
                    vec!["j".into(), "{client_addr}".into(), "{client_name}".into()],
                ),
                (Stage::Mail, vec!["{auth_authen}".into()]),
                (
                    Stage::EndOfMessage,
                    vec!["i".into(), "{client_addr}".into(), "{auth_authen}".into()],
                ),
            ],
        },
        limits: Limits::default(),
        progress_interval: None,
        read_timeout: None,
    }
}

/// Starts `serve_tcp` on 127.0.0.1:0 with a [`Recorder`] per connection, all logging to `log`.
pub(crate) async fn tcp_server(config: Config, log: Log, eom_sleep: Duration) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("local addr");
    tokio::spawn(serve_tcp(listener, Arc::new(config), move || {
        Recorder::sleeping(log.clone(), eom_sleep)
    }));
    addr
}

/// A client that negotiated with Postfix's offer.
pub(crate) async fn tcp_client(addr: SocketAddr) -> Client<TcpStream> {
    let stream = TcpStream::connect(addr).await.expect("connect");
    stream.set_nodelay(true).expect("nodelay");
    Client::connect(stream, Negotiation::mta_default())
        .await
        .expect("negotiation")
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

/// The message-stage macros Postfix sends (queue id from DATA on), for queue id `qid`.
pub(crate) fn message_macros(qid: &str, auth: Option<&str>) -> Vec<(Stage, Vec<(String, String)>)> {
    let mut mail = vec![("{mail_addr}", "alice@example.org")];
    let mut eom = vec![("i", qid), ("{client_addr}", "192.0.2.7")];
    if let Some(a) = auth {
        mail.push(("{auth_authen}", a));
        eom.push(("{auth_authen}", a));
    }
    vec![
        (Stage::Mail, pairs(&mail)),
        (Stage::Rcpt, pairs(&[("{rcpt_addr}", "bob@example.net")])),
        (Stage::Data, pairs(&[("i", qid)])),
        (Stage::EndOfHeaders, pairs(&[("i", qid)])),
        (Stage::EndOfMessage, pairs(&eom)),
    ]
}

/// The connection-stage macros Postfix sends.
pub(crate) fn connect_macros() -> Vec<(Stage, Vec<(String, String)>)> {
    vec![(
        Stage::Connect,
        pairs(&[
            ("j", AUTHSERV_ID),
            ("{daemon_name}", "smtpd"),
            ("{client_addr}", "192.0.2.7"),
            ("{client_name}", "mail.example.org"),
        ]),
    )]
}

/// A message with two Authentication-Results, the 2nd forged with our authserv-id.
pub(crate) fn message(qid: &str) -> Transaction {
    Transaction {
        macros: message_macros(qid, Some("alice")),
        connect: None,
        helo: None,
        mail: vec!["<alice@example.org>".into(), "SIZE=120".into()],
        rcpts: vec![vec!["<bob@example.net>".into()]],
        headers: vec![
            (
                "Authentication-Results".into(),
                " relay.example.org; spf=none".into(),
            ),
            (
                "Authentication-Results".into(),
                format!(" {AUTHSERV_ID}; dkim=pass (forged)"),
            ),
            ("From".into(), " Alice <alice@example.org>".into()),
            ("Subject".into(), " hello".into()),
        ],
        body: b"Hi Bob,\r\n\r\nsee you.\r\n".to_vec(),
    }
}

/// [`message`] as the first of a connection: with CONNECT and HELO.
pub(crate) fn first_message(qid: &str) -> Transaction {
    let mut tx = message(qid);
    let mut macros = connect_macros();
    macros.append(&mut tx.macros);
    tx.macros = macros;
    tx.connect = Some(Connect {
        hostname: "mail.example.org".into(),
        address: Address::Inet {
            ip: "192.0.2.7".parse().expect("ip"),
            port: 40_000,
        },
    });
    tx.helo = Some("mail.example.org".into());
    tx
}

/// The modifications the milter makes for queue id `qid`.
pub(crate) fn expected_modifications(qid: &str) -> Vec<Modification> {
    vec![
        Modification::InsertHeader {
            index: 0,
            name: "Authentication-Results".into(),
            value: format!(" {AUTHSERV_ID}; spf=pass qid={qid}"),
        },
        Modification::ChangeHeader {
            index: 2,
            name: "Authentication-Results".into(),
            value: String::new(),
        },
    ]
}
