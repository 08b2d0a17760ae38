//! The sending side: test messages, DKIM-signed by dkimpy when asked, sent with swaks from
//! 127.0.0.11; and reading what came out (the SMTP transcript, the delivered header).

use std::io::Write;
use std::process::{Command, Stdio};

use super::{Postfix, testdata};

/// Where test mail comes from: a loopback address outside `mynetworks` and `internal_hosts`
/// (all of 127/8 is local on Linux, so swaks can bind it).
pub(crate) const CLIENT_IP: &str = "127.0.0.11";
/// The client's HELO name (forward-confirmed in the zone, with an SPF record).
pub(crate) const CLIENT_HELO: &str = "mail1.client.test";

/// One SMTP transaction to send.
pub(crate) struct Mail {
    mail_from: String,
    rcpt_to: String,
    data: Vec<u8>,
}

impl Mail {
    /// `MAIL FROM:<mail_from>`, `RCPT TO:<rcpt_to>`, and a short message whose header has
    /// `From: header_from`, with `extra` header fields (CRLF-terminated lines) on top.
    pub(crate) fn new(mail_from: &str, rcpt_to: &str, header_from: &str, extra: &str) -> Mail {
        let data = format!(
            "{extra}From: {header_from}\r\n\
             To: {rcpt_to}\r\n\
             Subject: kanmon end-to-end test\r\n\
             Date: Mon, 23 Nov 2026 10:00:00 +0000\r\n\
             Message-ID: <e2e.{}@client.test>\r\n\
             MIME-Version: 1.0\r\n\
             Content-Type: text/plain; charset=us-ascii\r\n\
             \r\n\
             Hello from the end-to-end tests.\r\n",
            rcpt_to.replace('@', ".")
        );
        Mail {
            mail_from: mail_from.to_owned(),
            rcpt_to: rcpt_to.to_owned(),
            data: data.into_bytes(),
        }
    }

    /// Appends `lines` (CRLF-terminated) to the body.
    pub(crate) fn append_body(&mut self, lines: &[u8]) {
        self.data.extend_from_slice(lines);
    }

    /// The message signed by `domain` with the TEST-ONLY key (selector rsa2048), by dkimpy
    /// (`testdata/postfix/dkim-sign`).
    pub(crate) fn signed(mut self, domain: &str) -> Mail {
        let mut child = Command::new("/usr/bin/python3")
            .arg(testdata("dkim-sign"))
            .arg(domain)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run /usr/bin/python3 (python3-dkim)");
        child
            .stdin
            .take()
            .expect("piped")
            .write_all(&self.data)
            .expect("write message");
        let out = child.wait_with_output().expect("wait for dkim-sign");
        assert!(
            out.status.success(),
            "dkim-sign failed (is python3-dkim installed?): {}",
            String::from_utf8_lossy(&out.stderr)
        );
        self.data = out.stdout;
        self
    }

    /// Sends it with swaks to the instance's smtpd.
    pub(crate) fn send(&self, postfix: &Postfix) -> Transcript {
        self.send_as(postfix, CLIENT_IP, None)
    }

    /// Sends it from the loopback address `client_ip`, after `AUTH PLAIN` as `login` (user,
    /// password) when given.
    pub(crate) fn send_as(
        &self,
        postfix: &Postfix,
        client_ip: &str,
        login: Option<(&str, &str)>,
    ) -> Transcript {
        let dir = tempfile::tempdir().expect("temp dir");
        let file = dir.path().join("message.eml");
        std::fs::write(&file, &self.data).expect("write message");
        let out = Command::new("/usr/bin/swaks")
            .args(["--server", &format!("127.0.0.1:{}", postfix.port)])
            .args(["--local-interface", client_ip])
            .args(["--helo", CLIENT_HELO])
            .args(["--from", &self.mail_from])
            .args(["--to", &self.rcpt_to])
            .args(["--timeout", "30"])
            .args(login.map_or(Vec::new(), |(user, password)| {
                vec![
                    "--auth",
                    "PLAIN",
                    "--auth-user",
                    user,
                    "--auth-password",
                    password,
                ]
            }))
            .arg("--data")
            .arg(format!("@{}", file.display()))
            .output()
            .expect("run swaks");
        Transcript {
            code: out.status.code(),
            text: format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ),
        }
    }
}

/// What swaks printed, and its exit status (0 only if every reply was positive).
#[derive(Debug)]
pub(crate) struct Transcript {
    pub(crate) code: Option<i32>,
    pub(crate) text: String,
}

impl Transcript {
    /// The server's reply lines to the client command starting with `command` (e.g. `RCPT`,
    /// or `.` for the end of DATA), without swaks' `<-  ` / `<** ` prefixes.
    pub(crate) fn reply_to(&self, command: &str) -> Vec<String> {
        let mut current = String::new();
        let mut replies = Vec::new();
        for line in self.text.lines() {
            if let Some(sent) = line.strip_prefix(" -> ") {
                current = sent.to_owned();
            } else if let Some(reply) = line
                .strip_prefix("<-  ")
                .or_else(|| line.strip_prefix("<** "))
                && current.starts_with(command)
            {
                replies.push(reply.to_owned());
            }
        }
        replies
    }

    /// Asserts the whole transaction succeeded (the message was queued).
    pub(crate) fn assert_queued(&self) {
        assert!(
            self.code == Some(0) && self.text.contains("queued as"),
            "message not accepted:\n{}",
            self.text
        );
    }
}

/// The header fields of a delivered (LF) or wire (CRLF) message, unfolded, as
/// `(name, value)` with the value as written after the colon, leading space removed.
pub(crate) fn header_fields(message: &[u8]) -> Vec<(String, String)> {
    let text = String::from_utf8_lossy(message).replace("\r\n", "\n");
    let header = text.split("\n\n").next().unwrap_or_default();
    let mut fields: Vec<(String, String)> = Vec::new();
    for line in header.lines() {
        if line.starts_with([' ', '\t']) {
            let last = fields.last_mut().expect("continuation line after a field");
            last.1.push('\n');
            last.1.push_str(line);
        } else {
            let (name, value) = line.split_once(':').expect("header field has a colon");
            fields.push((name.to_owned(), value.trim_start().to_owned()));
        }
    }
    fields
}

/// The values of every field called `name` (case-insensitive), folding removed.
pub(crate) fn values(message: &[u8], name: &str) -> Vec<String> {
    header_fields(message)
        .into_iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect()
}
