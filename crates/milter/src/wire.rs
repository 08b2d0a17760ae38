//! Packet framing: a 4-byte big-endian length (counting the command byte), the command byte,
//! then the data. Command and reply letters are the ones in libmilter's `mfdef.h`.

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::MilterError;

/// The protocol version we speak (libmilter `SMFI_PROT_VERSION`, Postfix `milter_protocol = 6`).
pub const PROTOCOL_VERSION: u32 = 6;

/// The largest packet (command byte plus data) we read.
///
/// Body chunks are at most 65 535 bytes (libmilter `MILTER_CHUNK_SIZE`, Postfix's
/// `MILTER_CHUNK_SIZE` in `milter8.c`) unless the `SMFIP_MDS_*` flags are negotiated, which we
/// never ask for. A single header can be longer than a chunk: Postfix's `header_size_limit`
/// defaults to 102 400 bytes and `milter8.c` sends a header in one packet. 256 KiB covers that
/// with margin (it is also libmilter's `SMFIP_MDS_256K` size) while bounding memory per
/// connection.
pub const MAX_PACKET_LEN: usize = 256 * 1024;

/// Body chunk size used by the client (libmilter/Postfix `MILTER_CHUNK_SIZE`).
pub(crate) const CHUNK_SIZE: usize = 65_535;

// Commands, MTA to milter (`SMFIC_*`).
pub(crate) const C_ABORT: u8 = b'A';
pub(crate) const C_BODY: u8 = b'B';
pub(crate) const C_CONNECT: u8 = b'C';
pub(crate) const C_MACRO: u8 = b'D';
pub(crate) const C_BODYEOB: u8 = b'E';
pub(crate) const C_HELO: u8 = b'H';
pub(crate) const C_QUIT_NC: u8 = b'K';
pub(crate) const C_HEADER: u8 = b'L';
pub(crate) const C_MAIL: u8 = b'M';
pub(crate) const C_EOH: u8 = b'N';
pub(crate) const C_OPTNEG: u8 = b'O';
pub(crate) const C_QUIT: u8 = b'Q';
pub(crate) const C_RCPT: u8 = b'R';
pub(crate) const C_DATA: u8 = b'T';
pub(crate) const C_UNKNOWN: u8 = b'U';

// Replies, milter to MTA (`SMFIR_*`).
pub(crate) const R_ACCEPT: u8 = b'a';
pub(crate) const R_CONTINUE: u8 = b'c';
pub(crate) const R_DISCARD: u8 = b'd';
pub(crate) const R_ADDHEADER: u8 = b'h';
pub(crate) const R_INSHEADER: u8 = b'i';
pub(crate) const R_CHGHEADER: u8 = b'm';
pub(crate) const R_PROGRESS: u8 = b'p';
pub(crate) const R_QUARANTINE: u8 = b'q';
pub(crate) const R_REJECT: u8 = b'r';
pub(crate) const R_SKIP: u8 = b's';
pub(crate) const R_TEMPFAIL: u8 = b't';
pub(crate) const R_REPLYCODE: u8 = b'y';

/// One packet: the command (or reply) byte and its data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Packet {
    pub(crate) code: u8,
    pub(crate) data: Vec<u8>,
}

impl Packet {
    pub(crate) fn new(code: u8, data: Vec<u8>) -> Self {
        Packet { code, data }
    }

    /// Appends the packet in wire form (length, code, data), so a batch of replies can go
    /// out in one write.
    pub(crate) fn encode_into(&self, buf: &mut Vec<u8>) -> Result<(), MilterError> {
        let len = u32::try_from(self.data.len() + 1).map_err(|_| MilterError::PacketTooLong {
            len: self.data.len() + 1,
            max: MAX_PACKET_LEN,
        })?;
        buf.extend_from_slice(&len.to_be_bytes());
        buf.push(self.code);
        buf.extend_from_slice(&self.data);
        Ok(())
    }
}

/// Reads one packet. `Ok(None)` is a clean end of stream before the first length byte.
pub(crate) async fn read_packet<R: AsyncRead + Unpin>(
    r: &mut R,
    max: usize,
) -> Result<Option<Packet>, MilterError> {
    let mut len = [0u8; 4];
    let mut got = 0;
    while got < len.len() {
        let n = r.read(&mut len[got..]).await?;
        if n == 0 {
            return if got == 0 {
                Ok(None)
            } else {
                Err(MilterError::Truncated)
            };
        }
        got += n;
    }
    let len = u32::from_be_bytes(len) as usize;
    if len == 0 {
        return Err(MilterError::EmptyPacket);
    }
    if len > max {
        return Err(MilterError::PacketTooLong { len, max });
    }
    let truncated = |e: std::io::Error| match e.kind() {
        std::io::ErrorKind::UnexpectedEof => MilterError::Truncated,
        _ => MilterError::Io(e),
    };
    let code = r.read_u8().await.map_err(truncated)?;
    let mut data = vec![0u8; len - 1];
    r.read_exact(&mut data).await.map_err(truncated)?;
    Ok(Some(Packet::new(code, data)))
}

/// Writes one packet (not flushed).
pub(crate) async fn write_packet<W: AsyncWrite + Unpin>(
    w: &mut W,
    p: &Packet,
) -> Result<(), MilterError> {
    let mut buf = Vec::with_capacity(p.data.len() + 5);
    p.encode_into(&mut buf)?;
    w.write_all(&buf).await?;
    Ok(())
}

/// A cursor over packet data for the NUL-terminated strings and big-endian integers the
/// protocol uses.
pub(crate) struct Fields<'a> {
    data: &'a [u8],
    command: u8,
}

impl<'a> Fields<'a> {
    pub(crate) fn new(command: u8, data: &'a [u8]) -> Self {
        Fields { data, command }
    }

    pub(crate) fn malformed(&self, reason: &'static str) -> MilterError {
        MilterError::Malformed {
            command: char::from(self.command),
            reason,
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    pub(crate) fn u32(&mut self) -> Result<u32, MilterError> {
        let (head, tail) = self
            .data
            .split_first_chunk::<4>()
            .ok_or(self.malformed("short integer"))?;
        self.data = tail;
        Ok(u32::from_be_bytes(*head))
    }

    pub(crate) fn u16(&mut self) -> Result<u16, MilterError> {
        let (head, tail) = self
            .data
            .split_first_chunk::<2>()
            .ok_or(self.malformed("short port"))?;
        self.data = tail;
        Ok(u16::from_be_bytes(*head))
    }

    pub(crate) fn byte(&mut self) -> Result<u8, MilterError> {
        let (&b, tail) = self
            .data
            .split_first()
            .ok_or(self.malformed("missing byte"))?;
        self.data = tail;
        Ok(b)
    }

    /// A NUL-terminated byte string.
    pub(crate) fn bytes(&mut self) -> Result<&'a [u8], MilterError> {
        let end = self
            .data
            .iter()
            .position(|&b| b == 0)
            .ok_or(self.malformed("missing NUL"))?;
        let (s, tail) = self.data.split_at(end);
        self.data = &tail[1..];
        Ok(s)
    }

    /// A NUL-terminated string; invalid UTF-8 is replaced (envelope data is ASCII in practice).
    pub(crate) fn string(&mut self) -> Result<String, MilterError> {
        self.bytes()
            .map(|b| String::from_utf8_lossy(b).into_owned())
    }

    /// NUL-terminated strings up to the end of the data.
    pub(crate) fn strings(&mut self) -> Result<Vec<String>, MilterError> {
        let mut out = Vec::new();
        while !self.is_empty() {
            out.push(self.string()?);
        }
        Ok(out)
    }
}

/// Appends `s` and a NUL.
pub(crate) fn put_str(buf: &mut Vec<u8>, s: &[u8]) {
    buf.extend_from_slice(s);
    buf.push(0);
}
