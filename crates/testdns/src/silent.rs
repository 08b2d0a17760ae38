//! A server that receives queries and never answers: what a resolver sees when the network to
//! its nameserver is down. Tests use it to prove that a scan ends within its time budget.

use std::net::SocketAddr;

use tokio::net::{TcpListener, UdpSocket};

/// Holds a UDP socket and a TCP listener on one loopback port; queries sit unanswered.
pub struct SilentServer {
    pub addr: SocketAddr,
    _udp: UdpSocket,
    _tcp: TcpListener,
}

impl SilentServer {
    /// Binds the port; nothing is ever read from it, so every lookup times out.
    pub async fn start() -> SilentServer {
        for _ in 0..50 {
            let tcp = TcpListener::bind("127.0.0.1:0").await.expect("bind tcp");
            let port = tcp.local_addr().expect("tcp address").port();
            if let Ok(udp) = UdpSocket::bind(("127.0.0.1", port)).await {
                let addr = udp.local_addr().expect("bound socket has an address");
                return SilentServer {
                    addr,
                    _udp: udp,
                    _tcp: tcp,
                };
            }
        }
        panic!("no loopback port free for both UDP and TCP");
    }
}
