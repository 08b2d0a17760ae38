//! A small authoritative DNS server on loopback, answering from an in-memory zone that a test
//! can swap at any time. It speaks real DNS over UDP and TCP, so the code under test goes
//! through the production resolver (hickory) exactly as it would against a real server.
//!
//! Zone semantics follow the pyspf test driver that the SPF suites were written for:
//! entries of a name are read in order; `Timeout` answers SERVFAIL unless a record of the
//! asked type came before it; a CNAME is followed; unknown names answer NXDOMAIN, except
//! names under `error.`, which answer SERVFAIL. A `Silent` entry makes the server drop the
//! question, as a nameserver that never answers (the resolver times out).
//!
//! Two settings model real servers for benchmarks: [`DnsServer::set_delay`] answers every
//! question after a fixed time, each on its own (concurrent questions wait once, together),
//! and [`DnsServer::set_negative_ttl`] adds an SOA to NXDOMAIN and NODATA answers, so a
//! resolver may cache them (RFC 2308 §5) as it caches a real DNS list's "not listed".

use std::collections::HashMap;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hickory_proto::op::{Message, MessageType, ResponseCode};
use hickory_proto::rr::rdata::{A, AAAA, CNAME, MX, PTR, SOA, TXT};
use hickory_proto::rr::{Name, RData, Record, RecordType};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, UdpSocket};

/// The largest UDP answer for a client that did not announce a bigger one (RFC 1035 §4.2.1).
const PLAIN_UDP_LIMIT: usize = 512;
/// Cap on what we send over UDP even when EDNS allows more.
const EDNS_UDP_LIMIT: usize = 4096;
/// TTL of every answer. Tests that must not see cached answers use a fresh resolver.
const TTL: u32 = 300;
/// CNAME chains longer than this answer SERVFAIL, as a loop guard.
const MAX_CNAME_CHAIN: usize = 8;

/// One record of a test zone.
#[derive(Debug, Clone)]
pub enum Value {
    /// A TXT record of one or more character-strings (split at 255 bytes when sent).
    Txt(Vec<Vec<u8>>),
    A(Ipv4Addr),
    Aaaa(Ipv6Addr),
    Mx(u16, String),
    Ptr(String),
    Cname(String),
}

impl Value {
    fn record_type(&self) -> RecordType {
        match self {
            Value::Txt(_) => RecordType::TXT,
            Value::A(_) => RecordType::A,
            Value::Aaaa(_) => RecordType::AAAA,
            Value::Mx(..) => RecordType::MX,
            Value::Ptr(_) => RecordType::PTR,
            Value::Cname(_) => RecordType::CNAME,
        }
    }
}

/// One entry of a name: a record, or a simulated failure.
#[derive(Debug, Clone)]
pub enum Entry {
    Record(Value),
    /// SERVFAIL (the pyspf test driver's name for it), unless a record came before.
    Timeout,
    /// No answer at all: the question is dropped.
    Silent,
}

/// Names (lowercase, no trailing dot, raw bytes) and their entries.
pub type Zone = HashMap<Vec<u8>, Vec<Entry>>;

/// The key a name is stored under.
pub fn zone_key(name: &[u8]) -> Vec<u8> {
    let name = name.strip_suffix(b".").unwrap_or(name);
    name.to_ascii_lowercase()
}

/// A running server; dropped with the test's runtime.
pub struct DnsServer {
    pub addr: SocketAddr,
    shared: Arc<Shared>,
}

/// What the serving tasks read for every question.
#[derive(Default)]
struct Shared {
    zone: Mutex<Zone>,
    /// Milliseconds every answer waits.
    delay_ms: AtomicU64,
    /// TTL of the SOA added to negative answers; 0: none.
    negative_ttl: AtomicU32,
    /// Whether answers carry the AD bit.
    authentic_data: AtomicBool,
}

impl DnsServer {
    /// Binds UDP and TCP on the same loopback port and serves until the runtime ends.
    pub async fn start() -> DnsServer {
        let (udp, tcp) = bind_pair().await;
        let addr = udp.local_addr().expect("bound socket has an address");
        let shared = Arc::new(Shared::default());
        tokio::spawn(serve_udp(Arc::new(udp), shared.clone()));
        tokio::spawn(serve_tcp(tcp, shared.clone()));
        DnsServer { addr, shared }
    }

    /// Replaces the zone served from now on.
    pub fn set_zone(&self, zone: Zone) {
        *self.shared.zone.lock().expect("zone lock") = zone;
    }

    /// Answers every question `delay` after it arrived (zero: at once), each question on its
    /// own, as a distant server does.
    pub fn set_delay(&self, delay: Duration) {
        let ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX);
        self.shared.delay_ms.store(ms, Ordering::Relaxed);
    }

    /// Adds an SOA with this TTL to NXDOMAIN and NODATA answers, so resolvers cache them;
    /// `None` (the default) sends none, and nothing negative is cached.
    pub fn set_negative_ttl(&self, ttl: Option<u32>) {
        let ttl = ttl.unwrap_or(0);
        self.shared.negative_ttl.store(ttl, Ordering::Relaxed);
    }

    /// Sets the AD bit on every answer from now on, as a validating resolver does on data
    /// it checked with DNSSEC (RFC 4035 §3.2.3); off by default.
    pub fn set_authentic_data(&self, on: bool) {
        self.shared.authentic_data.store(on, Ordering::Relaxed);
    }
}

async fn bind_pair() -> (UdpSocket, TcpListener) {
    for _ in 0..50 {
        let tcp = TcpListener::bind("127.0.0.1:0").await.expect("bind tcp");
        let port = tcp.local_addr().expect("tcp address").port();
        if let Ok(udp) = UdpSocket::bind(("127.0.0.1", port)).await {
            return (udp, tcp);
        }
    }
    panic!("no loopback port free for both UDP and TCP");
}

async fn serve_udp(socket: Arc<UdpSocket>, shared: Arc<Shared>) {
    let mut buf = vec![0u8; 4096];
    loop {
        let Ok((len, peer)) = socket.recv_from(&mut buf).await else {
            continue;
        };
        let Some((reply, limit)) = respond(&buf[..len], &shared) else {
            continue;
        };
        let bytes = encode_for_udp(reply, limit);
        let delay = shared.delay_ms.load(Ordering::Relaxed);
        if delay == 0 {
            let _ = socket.send_to(&bytes, peer).await;
            continue;
        }
        let socket = socket.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(delay)).await;
            let _ = socket.send_to(&bytes, peer).await;
        });
    }
}

async fn serve_tcp(listener: TcpListener, shared: Arc<Shared>) {
    loop {
        let Ok((mut stream, _)) = listener.accept().await else {
            continue;
        };
        let shared = shared.clone();
        tokio::spawn(async move {
            loop {
                let Ok(len) = stream.read_u16().await else {
                    return;
                };
                let mut query = vec![0u8; usize::from(len)];
                if stream.read_exact(&mut query).await.is_err() {
                    return;
                }
                let Some((reply, _)) = respond(&query, &shared) else {
                    return;
                };
                let delay = shared.delay_ms.load(Ordering::Relaxed);
                if delay > 0 {
                    tokio::time::sleep(Duration::from_millis(delay)).await;
                }
                let Ok(bytes) = reply.to_vec() else { return };
                let Ok(len) = u16::try_from(bytes.len()) else {
                    return;
                };
                if stream.write_u16(len).await.is_err() || stream.write_all(&bytes).await.is_err() {
                    return;
                }
            }
        });
    }
}

/// Sends the whole answer if it fits, else an empty one with TC set so the client retries
/// over TCP (RFC 7766).
fn encode_for_udp(reply: Message, limit: usize) -> Vec<u8> {
    let bytes = reply.to_vec().unwrap_or_default();
    if bytes.len() <= limit {
        return bytes;
    }
    let mut truncated = reply.truncate();
    truncated.metadata.truncation = true;
    truncated.to_vec().unwrap_or_default()
}

fn respond(query: &[u8], shared: &Shared) -> Option<(Message, usize)> {
    let request = Message::from_vec(query).ok()?;
    let question = request.queries.first()?.clone();
    let limit = match &request.edns {
        Some(edns) => usize::from(edns.max_payload()).clamp(PLAIN_UDP_LIMIT, EDNS_UDP_LIMIT),
        None => PLAIN_UDP_LIMIT,
    };
    let mut reply = Message::new(
        request.metadata.id,
        MessageType::Response,
        request.metadata.op_code,
    );
    reply.metadata.recursion_desired = request.metadata.recursion_desired;
    reply.metadata.recursion_available = true;
    reply.metadata.authoritative = true;
    reply.metadata.authentic_data = shared.authentic_data.load(Ordering::Relaxed);
    reply.add_query(question.clone());
    if let Some(edns) = &request.edns {
        let mut ours = edns.clone();
        ours.set_max_payload(EDNS_UDP_LIMIT as u16);
        reply.set_edns(ours);
    }
    let zone = shared.zone.lock().expect("zone lock");
    let mut answers = Vec::new();
    let code = lookup(
        &zone,
        question.name(),
        question.query_type(),
        &mut answers,
        0,
    )?;
    let negative_ttl = shared.negative_ttl.load(Ordering::Relaxed);
    let negative =
        code == ResponseCode::NXDomain || code == ResponseCode::NoError && answers.is_empty();
    if negative && negative_ttl > 0 {
        reply.add_authority(negative_soa(negative_ttl));
    }
    reply.metadata.response_code = code;
    reply.add_answers(answers);
    Some((reply, limit))
}

fn lookup(
    zone: &Zone,
    name: &Name,
    kind: RecordType,
    answers: &mut Vec<Record>,
    depth: usize,
) -> Option<ResponseCode> {
    let key = zone_key(&name.iter().collect::<Vec<_>>().join(&b'.'));
    let Some(entries) = zone.get(&key) else {
        if key.starts_with(b"error.") {
            return Some(ResponseCode::ServFail);
        }
        return Some(ResponseCode::NXDomain);
    };
    let mut answered = false;
    for entry in entries {
        let value = match entry {
            Entry::Silent => return None,
            Entry::Timeout if answered => break,
            Entry::Timeout => return Some(ResponseCode::ServFail),
            Entry::Record(value) => value,
        };
        if let Value::Cname(target) = value
            && kind != RecordType::CNAME
        {
            if depth >= MAX_CNAME_CHAIN {
                return Some(ResponseCode::ServFail);
            }
            let Ok(target) = raw_name(target.as_bytes()) else {
                return Some(ResponseCode::ServFail);
            };
            answers.push(Record::from_rdata(
                name.clone(),
                TTL,
                RData::CNAME(CNAME(target.clone())),
            ));
            return lookup(zone, &target, kind, answers, depth + 1);
        }
        if value.record_type() == kind {
            answered = true;
            if let Some(data) = rdata(value) {
                answers.push(Record::from_rdata(name.clone(), TTL, data));
            }
        }
    }
    Some(ResponseCode::NoError)
}

/// The SOA of a negative answer: its TTL and MINIMUM both `ttl`, the smaller of which is how
/// long the answer may be cached (RFC 2308 §5). The owner is the root: the test zone has no
/// apex of its own.
fn negative_soa(ttl: u32) -> Record {
    let soa = SOA::new(
        Name::from_labels([b"ns".as_slice(), b"test"]).expect("valid name"),
        Name::from_labels([b"hostmaster".as_slice(), b"test"]).expect("valid name"),
        1,
        3600,
        600,
        86_400,
        ttl,
    );
    Record::from_rdata(Name::root(), ttl, RData::SOA(soa))
}

fn rdata(value: &Value) -> Option<RData> {
    Some(match value {
        Value::Txt(strings) => {
            let mut pieces: Vec<&[u8]> = Vec::new();
            for string in strings {
                if string.is_empty() {
                    pieces.push(b"");
                }
                pieces.extend(string.chunks(255));
            }
            if pieces.is_empty() {
                pieces.push(b"");
            }
            RData::TXT(TXT::from_bytes(pieces))
        }
        Value::A(ip) => RData::A(A(*ip)),
        Value::Aaaa(ip) => RData::AAAA(AAAA(*ip)),
        Value::Mx(preference, exchange) => {
            RData::MX(MX::new(*preference, raw_name(exchange.as_bytes()).ok()?))
        }
        Value::Ptr(target) => RData::PTR(PTR(raw_name(target.as_bytes()).ok()?)),
        Value::Cname(target) => RData::CNAME(CNAME(raw_name(target.as_bytes()).ok()?)),
    })
}

/// A name from raw labels; "" and "." are the root.
pub fn raw_name(name: &[u8]) -> Result<Name, String> {
    let name = name.strip_suffix(b".").unwrap_or(name);
    let mut built = if name.is_empty() {
        Name::root()
    } else {
        Name::from_labels(name.split(|&b| b == b'.')).map_err(|e| e.to_string())?
    };
    built.set_fqdn(true);
    Ok(built)
}
