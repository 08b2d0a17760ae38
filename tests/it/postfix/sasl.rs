//! A Dovecot authentication server for Postfix's SASL (`smtpd_sasl_type = dovecot`), enough
//! for one mechanism: PLAIN, any password accepted for the users it was given. Postfix speaks
//! the Dovecot auth protocol 1.x (doc.dovecot.org "Authentication protocol") to it over TCP
//! on loopback (`smtpd_sasl_path = inet:127.0.0.1:PORT`), so the end-to-end tests can make
//! authenticated submissions without Dovecot or Cyrus installed.
//!
//! The exchange: the server announces `VERSION 1 2`, `MECH PLAIN plaintext`, `SPID`, `CUID`,
//! `COOKIE`, `DONE`; the client sends `VERSION` and `CPID`, then per login `AUTH <id> PLAIN
//! service=smtp … resp=<base64>` (or no `resp=`: the server answers `CONT <id> ` and the
//! response comes as `CONT <id> <base64>`); the server answers `OK <id> user=<name>` or
//! `FAIL <id> reason=…`.

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

/// The server: its port, and a thread per connection, until the test ends.
pub(crate) struct DovecotAuth {
    pub(crate) port: u16,
}

impl DovecotAuth {
    /// Accepts PLAIN logins of `users` with any password.
    pub(crate) fn start(users: &'static [&'static str]) -> DovecotAuth {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind dovecot auth");
        let port = listener.local_addr().expect("address").port();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                std::thread::spawn(move || {
                    let _ = serve(stream, users);
                });
            }
        });
        DovecotAuth { port }
    }

    /// The main.cf lines that make Postfix's smtpd use this server.
    pub(crate) fn main_cf(&self) -> String {
        format!(
            "smtpd_sasl_auth_enable = yes\n\
             smtpd_sasl_type = dovecot\n\
             smtpd_sasl_path = inet:127.0.0.1:{}\n",
            self.port
        )
    }
}

fn serve(stream: TcpStream, users: &[&str]) -> std::io::Result<()> {
    let mut writer = stream.try_clone()?;
    writer.write_all(
        b"VERSION\t1\t2\nMECH\tPLAIN\tplaintext\nSPID\t1\nCUID\t1\n\
          COOKIE\t00112233445566778899aabbccddeeff\nDONE\n",
    )?;
    let reader = BufReader::new(stream);
    for line in reader.lines() {
        let line = line?;
        let fields: Vec<&str> = line.split('\t').collect();
        let reply = match fields.as_slice() {
            ["AUTH", id, "PLAIN", params @ ..] => {
                match params.iter().find_map(|p| p.strip_prefix("resp=")) {
                    Some(response) => verdict(id, response, users),
                    None => format!("CONT\t{id}\t\n"),
                }
            }
            ["AUTH", id, ..] => format!("FAIL\t{id}\treason=unsupported mechanism\n"),
            ["CONT", id, response] => verdict(id, response, users),
            _ => continue,
        };
        writer.write_all(reply.as_bytes())?;
    }
    Ok(())
}

/// `OK` with the user for a PLAIN response (authzid NUL authcid NUL password) naming one of
/// `users`, else `FAIL`.
fn verdict(id: &str, response: &str, users: &[&str]) -> String {
    let decoded = STANDARD.decode(response).unwrap_or_default();
    let parts: Vec<&[u8]> = decoded.split(|&b| b == 0).collect();
    match parts.as_slice() {
        [_, user, _password] if users.iter().any(|u| u.as_bytes() == *user) => {
            format!("OK\t{id}\tuser={}\n", String::from_utf8_lossy(user))
        }
        _ => format!("FAIL\t{id}\treason=unknown user\n"),
    }
}
