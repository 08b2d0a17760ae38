//! A small policy client for tests and benchmarks: what Postfix's smtpd does, one request at a
//! time on one reused connection.

use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};

/// Longest reply line the client accepts; a reply is `action=` plus at most a header field
/// ([`crate::action::MAX_HEADER_LEN`]).
pub const MAX_REPLY_LINE_LEN: usize = 2048;

/// Why a request got no action.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("policy connection i/o failed")]
    Io(#[from] std::io::Error),
    /// The server closed the connection instead of replying (its way to report trouble).
    #[error("policy server closed the connection without a reply")]
    Closed,
    #[error("malformed policy reply: {0:?}")]
    BadReply(String),
}

/// A client on one connection.
#[derive(Debug)]
pub struct Client<S> {
    stream: BufReader<S>,
}

impl<S: AsyncRead + AsyncWrite + Unpin> Client<S> {
    /// A client on a connected stream.
    pub fn new(stream: S) -> Client<S> {
        Client {
            stream: BufReader::new(stream),
        }
    }

    /// Sends one request built from `name=value` pairs and returns the text after `action=`.
    pub async fn send(&mut self, attributes: &[(&str, &str)]) -> Result<String, ClientError> {
        let mut request = String::new();
        for (name, value) in attributes {
            request.push_str(name);
            request.push('=');
            request.push_str(value);
            request.push('\n');
        }
        request.push('\n');
        self.send_raw(request.as_bytes()).await
    }

    /// Sends raw bytes (for malformed requests in tests) and reads one reply.
    pub async fn send_raw(&mut self, bytes: &[u8]) -> Result<String, ClientError> {
        self.stream.get_mut().write_all(bytes).await?;
        self.stream.get_mut().flush().await?;
        self.read_reply().await
    }

    /// Reads one reply: `action=...` then an empty line.
    pub async fn read_reply(&mut self) -> Result<String, ClientError> {
        let first = self.read_line().await?.ok_or(ClientError::Closed)?;
        let Some(action) = first.strip_prefix("action=") else {
            return Err(ClientError::BadReply(first));
        };
        match self.read_line().await? {
            Some(empty) if empty.is_empty() => Ok(action.to_owned()),
            Some(other) => Err(ClientError::BadReply(other)),
            None => Err(ClientError::BadReply(first)),
        }
    }

    async fn read_line(&mut self) -> Result<Option<String>, ClientError> {
        let mut line = Vec::new();
        let n = (&mut self.stream)
            .take(MAX_REPLY_LINE_LEN as u64 + 1)
            .read_until(b'\n', &mut line)
            .await?;
        if n == 0 {
            return Ok(None);
        }
        if line.pop() != Some(b'\n') {
            return Err(ClientError::BadReply(
                String::from_utf8_lossy(&line).into_owned(),
            ));
        }
        String::from_utf8(line)
            .map(Some)
            .map_err(|e| ClientError::BadReply(String::from_utf8_lossy(e.as_bytes()).into_owned()))
    }

    /// The stream, to close it or to write to it directly.
    pub fn get_mut(&mut self) -> &mut S {
        self.stream.get_mut()
    }
}
