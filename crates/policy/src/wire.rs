//! Reading requests and writing replies on the wire (SMTPD_POLICY_README, "Protocol
//! description"): a request is `name=value` lines each ended by a newline, then an empty line;
//! the reply is `action=...`, a newline, then an empty line.

use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::action::Action;
use crate::request::{Limits, ProtocolError, Request};

/// Why reading a request failed.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// The peer broke the protocol or a limit.
    #[error("policy protocol error")]
    Protocol(#[from] ProtocolError),
    /// The socket failed.
    #[error("policy connection i/o failed")]
    Io(#[from] std::io::Error),
}

/// Reads one request. `Ok(None)` means the peer closed the connection between requests, which
/// is how Postfix ends a connection it no longer needs (`smtpd_policy_service_max_idle`,
/// `_max_ttl`). Never reads more than the limits allow into memory.
pub async fn read_request<R: AsyncBufRead + Unpin>(
    reader: &mut R,
    limits: &Limits,
) -> Result<Option<Request>, ReadError> {
    let mut lines: Vec<Vec<u8>> = Vec::new();
    let mut total = 0usize;
    loop {
        let mut line = Vec::new();
        // One byte more than a line may hold (plus its newline) tells "too long" from "fits".
        let cap = limits.max_line_len.saturating_add(2) as u64;
        let n = (&mut *reader)
            .take(cap)
            .read_until(b'\n', &mut line)
            .await?;
        if n == 0 {
            if lines.is_empty() {
                return Ok(None);
            }
            return Err(ProtocolError::Truncated.into());
        }
        if line.last() != Some(&b'\n') {
            if n as u64 == cap {
                return Err(ProtocolError::LineTooLong {
                    limit: limits.max_line_len,
                }
                .into());
            }
            return Err(ProtocolError::Truncated.into());
        }
        line.pop();
        if line.last() == Some(&b'\r') {
            line.pop();
        }
        if line.len() > limits.max_line_len {
            return Err(ProtocolError::LineTooLong {
                limit: limits.max_line_len,
            }
            .into());
        }
        total += n;
        if total > limits.max_request_len {
            return Err(ProtocolError::RequestTooLong {
                limit: limits.max_request_len,
            }
            .into());
        }
        if line.is_empty() {
            return Ok(Some(Request::from_lines(&lines, limits)?));
        }
        if lines.len() == limits.max_attributes {
            return Err(ProtocolError::TooManyAttributes {
                limit: limits.max_attributes,
            }
            .into());
        }
        lines.push(line);
    }
}

/// Writes `action=...` and the empty line, then flushes.
pub async fn write_action<W: AsyncWrite + Unpin>(
    writer: &mut W,
    action: &Action,
) -> std::io::Result<()> {
    let reply = format!("action={action}\n\n");
    writer.write_all(reply.as_bytes()).await?;
    writer.flush().await
}
