//! Canonicalisation (RFC 6376 §3.4): the exact bytes DKIM hashes, for headers and body.
//!
//! Header fields are canonicalised one at a time into a caller's buffer
//! ([`canonicalize_header`]); the body goes through [`BodyHasher`], which takes the body in
//! chunks of any size (so a milter can feed it as it arrives), canonicalises on the fly,
//! honours an `l=` limit and hashes without keeping the body.
//!
//! Both treat a bare LF as CRLF: the canonical form is defined on CRLF lines, and messages
//! read from files use LF (OpenDKIM and dkimpy do the same). A CR not followed by LF is an
//! ordinary byte.
//!
//! Implementation note: the body path is the hot one (every signature of every message). It
//! copies runs of ordinary bytes into one reusable buffer and hashes in blocks, so it does
//! not allocate per line and calls the hash once per [`FLUSH_AT`] bytes.

use aws_lc_rs::digest;

use super::HashAlgorithm;

/// A canonicalisation algorithm (RFC 6376 §3.4.1 to §3.4.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Canonicalization {
    /// No changes but trailing empty lines of the body (§3.4.1, §3.4.3).
    Simple,
    /// Whitespace- and case-tolerant (§3.4.2, §3.4.4).
    Relaxed,
}

impl Canonicalization {
    /// The name as `c=` writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            Canonicalization::Simple => "simple",
            Canonicalization::Relaxed => "relaxed",
        }
    }

    pub(crate) fn parse(name: &str) -> Option<Self> {
        match name {
            "simple" => Some(Canonicalization::Simple),
            "relaxed" => Some(Canonicalization::Relaxed),
            _ => None,
        }
    }
}

/// Appends the canonical form of one header field to `out`, with its final CRLF.
///
/// `name` is the field name as written and `raw` the whole field (name, colon, value,
/// folding) without its final line ending, as [`crate::message::HeaderField`] holds them.
pub(crate) fn canonicalize_header(
    out: &mut Vec<u8>,
    canon: Canonicalization,
    name: &[u8],
    raw: &[u8],
) {
    match canon {
        Canonicalization::Simple => {
            // §3.4.1: unchanged. Bare LFs inside folding become CRLF.
            let mut previous = 0u8;
            for &b in raw {
                if b == b'\n' && previous != b'\r' {
                    out.push(b'\r');
                }
                out.push(b);
                previous = b;
            }
        }
        Canonicalization::Relaxed => {
            // §3.4.2: lower-case name, no WSP around the colon, unfolded value with WSP runs
            // reduced to one SP and no WSP at either end.
            out.extend(name.iter().map(u8::to_ascii_lowercase));
            out.push(b':');
            let value = match raw.iter().position(|&b| b == b':') {
                Some(colon) => raw.get(colon + 1..).unwrap_or_default(),
                None => &[],
            };
            let mut pending_space = false;
            let mut started = false;
            let mut bytes = value.iter().peekable();
            while let Some(&b) = bytes.next() {
                match b {
                    b'\r' if bytes.peek() == Some(&&b'\n') => {}
                    b'\n' => {}
                    b' ' | b'\t' => pending_space = started,
                    _ => {
                        if pending_space {
                            out.push(b' ');
                            pending_space = false;
                        }
                        out.push(b);
                        started = true;
                    }
                }
            }
        }
    }
    out.extend_from_slice(b"\r\n");
}

/// Bytes collected before the hash is updated.
const FLUSH_AT: usize = 4096;

/// The result of hashing a body.
#[derive(Debug, Clone)]
pub struct BodyHash {
    /// The digest of the canonical body, cut at `l=` when a limit was given.
    pub digest: digest::Digest,
    /// The length of the whole canonical body, whether or not a limit cut the hash: a signer
    /// writes it as `l=`, a verifier compares it with `l=` to see what was left unsigned.
    pub canonical_len: u64,
}

/// Canonicalises and hashes a body given in chunks (RFC 6376 §3.4.3, §3.4.4, §3.7).
///
/// ```
/// # use kanmon_auth::dkim::{BodyHasher, Canonicalization, HashAlgorithm};
/// let mut hasher = BodyHasher::new(Canonicalization::Relaxed, HashAlgorithm::Sha256, None);
/// hasher.update(b"Hi.  \r\n");
/// hasher.update(b"\r\n \t\r\n");
/// let hash = hasher.finish();
/// assert_eq!(hash.canonical_len, 5); // "Hi.\r\n": trailing WSP and empty lines dropped
/// ```
#[derive(Clone)]
pub struct BodyHasher {
    relaxed: bool,
    context: digest::Context,
    limit: Option<u64>,
    /// Bytes passed to the hash so far (at most `limit`).
    hashed: u64,
    /// Canonical bytes produced so far, limit or not.
    produced: u64,
    buffer: Vec<u8>,
    /// Reused for relaxed lines that need compacting.
    scratch: Vec<u8>,
    /// Line breaks held back: they are emitted only if non-empty content follows, so that
    /// trailing empty lines disappear.
    pending_lines: u64,
    /// Relaxed: whitespace seen on this line that becomes one SP if content follows.
    pending_wsp: bool,
    /// A CR that may turn out to be the first half of CRLF.
    pending_cr: bool,
    /// Whether the current line has produced content.
    line_open: bool,
}

impl BodyHasher {
    /// A hasher for one canonicalisation and hash; `limit` is the signature's `l=`.
    pub fn new(canon: Canonicalization, hash: HashAlgorithm, limit: Option<u64>) -> Self {
        Self {
            relaxed: canon == Canonicalization::Relaxed,
            context: digest::Context::new(hash.digest_algorithm()),
            limit,
            hashed: 0,
            produced: 0,
            buffer: Vec::with_capacity(FLUSH_AT + 1024),
            scratch: Vec::new(),
            pending_lines: 0,
            pending_wsp: false,
            pending_cr: false,
            line_open: false,
        }
    }

    /// Feeds the next part of the body. Chunks may split lines, or CRLF, anywhere.
    pub fn update(&mut self, chunk: &[u8]) {
        let mut rest = chunk;
        while !rest.is_empty() {
            let Some(lf) = memchr::memchr(b'\n', rest) else {
                self.update_slow(rest);
                return;
            };
            let (line, after) = rest.split_at(lf);
            if !self.pending_cr && !self.pending_wsp && !self.line_open {
                self.fast_line(line);
            } else {
                self.update_slow(rest.get(..=lf).unwrap_or_default());
            }
            rest = after.get(1..).unwrap_or_default();
        }
    }

    /// Takes a whole line (without LF) that starts in a clean state. Lines that need no
    /// change but dropping the CR (and, relaxed, trailing whitespace) go through as one
    /// slice found with SIMD searches; relaxed lines with whitespace runs are compacted in
    /// one tight loop into a reused buffer. Either way there is no per-line allocation.
    fn fast_line(&mut self, line: &[u8]) {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if !self.relaxed {
            if !line.is_empty() {
                self.content(line);
            }
            self.end_line();
            return;
        }
        let trailing = line
            .iter()
            .rev()
            .take_while(|&&b| b == b' ' || b == b'\t')
            .count();
        let trimmed = line.get(..line.len() - trailing).unwrap_or_default();
        if trimmed.is_empty() {
            self.end_line();
            return;
        }
        match next_run(trimmed) {
            None => self.content(trimmed),
            Some(first) => {
                // Copy the text between runs as slices; each run becomes one SP. `trimmed`
                // ends in non-whitespace, so every run is followed by text.
                let mut compacted = std::mem::take(&mut self.scratch);
                compacted.clear();
                let mut rest = trimmed;
                let mut run = Some(first);
                while let Some(start) = run {
                    let (text, from_run) = rest.split_at(start);
                    compacted.extend_from_slice(text);
                    compacted.push(b' ');
                    let run_len = from_run
                        .iter()
                        .take_while(|&&b| b == b' ' || b == b'\t')
                        .count();
                    rest = from_run.get(run_len..).unwrap_or_default();
                    run = next_run(rest);
                }
                compacted.extend_from_slice(rest);
                self.content(&compacted);
                self.scratch = compacted;
            }
        }
        self.end_line();
    }

    /// The byte-by-byte state machine: partial lines and lines needing changes.
    fn update_slow(&mut self, chunk: &[u8]) {
        let mut pos = 0;
        while let Some(&b) = chunk.get(pos) {
            if self.pending_cr {
                self.pending_cr = false;
                if b == b'\n' {
                    self.end_line();
                    pos += 1;
                    continue;
                }
                self.content(b"\r");
            }
            match b {
                b'\r' => {
                    self.pending_cr = true;
                    pos += 1;
                }
                b'\n' => {
                    self.end_line();
                    pos += 1;
                }
                b' ' | b'\t' if self.relaxed => {
                    self.pending_wsp = true;
                    pos += 1;
                }
                _ => {
                    // A run of ordinary bytes. In relaxed mode a single SP between two
                    // ordinary bytes is already canonical, so it stays in the run.
                    let start = pos;
                    pos += 1;
                    while let Some(&b) = chunk.get(pos) {
                        match b {
                            b'\r' | b'\n' => break,
                            b' ' | b'\t' if self.relaxed => {
                                let single_space = b == b' '
                                    && chunk.get(pos + 1).is_some_and(|n| {
                                        !matches!(n, b' ' | b'\t' | b'\r' | b'\n')
                                    });
                                if !single_space {
                                    break;
                                }
                                pos += 2;
                            }
                            _ => pos += 1,
                        }
                    }
                    self.content(chunk.get(start..pos).unwrap_or_default());
                }
            }
        }
    }

    /// Ends the body and returns its hash.
    pub fn finish(mut self) -> BodyHash {
        if self.pending_cr {
            self.pending_cr = false;
            self.content(b"\r");
        }
        if self.line_open {
            // §3.4.3, §3.4.4: a body not ending in CRLF gets one.
            self.emit(b"\r\n");
        }
        if !self.relaxed && self.produced == 0 {
            // §3.4.3: an empty simple body is a single CRLF. (Relaxed: empty stays empty.)
            self.emit(b"\r\n");
        }
        self.context.update(&self.buffer);
        BodyHash {
            digest: self.context.finish(),
            canonical_len: self.produced,
        }
    }

    fn end_line(&mut self) {
        self.pending_wsp = false;
        if self.line_open {
            self.line_open = false;
            self.emit(b"\r\n");
        } else {
            self.pending_lines += 1;
        }
    }

    fn content(&mut self, bytes: &[u8]) {
        while self.pending_lines > 0 {
            self.pending_lines -= 1;
            self.emit(b"\r\n");
        }
        if self.pending_wsp {
            self.pending_wsp = false;
            self.emit(b" ");
        }
        self.emit(bytes);
        self.line_open = true;
    }

    fn emit(&mut self, bytes: &[u8]) {
        self.produced += bytes.len() as u64;
        let take = match self.limit {
            Some(limit) => {
                let room = limit.saturating_sub(self.hashed);
                usize::try_from(room).map_or(bytes.len(), |room| room.min(bytes.len()))
            }
            None => bytes.len(),
        };
        let Some(bytes) = bytes.get(..take) else {
            return;
        };
        self.hashed += take as u64;
        if bytes.len() >= FLUSH_AT {
            self.context.update(&self.buffer);
            self.buffer.clear();
            self.context.update(bytes);
        } else {
            self.buffer.extend_from_slice(bytes);
            if self.buffer.len() >= FLUSH_AT {
                self.context.update(&self.buffer);
                self.buffer.clear();
            }
        }
    }
}

/// Where the first whitespace run that relaxed canonicalisation changes starts: an HT, or
/// an SP followed by more whitespace. `None` means the text is already canonical, as most
/// lines of real mail are.
///
/// Implementation note: blocks of [`SCAN_BLOCK`] byte pairs are tested with a fold that has
/// no early exit, which the compiler vectorises; only a block with a hit is searched byte by
/// byte. This keeps relaxed canonicalisation near the cost of hashing.
fn next_run(text: &[u8]) -> Option<usize> {
    let is_run = |a: u8, b: u8| (a == b'\t') | ((a == b' ') & ((b == b' ') | (b == b'\t')));
    let mut offset = 0;
    // Whole blocks, each with the byte after it available as the pair partner.
    while offset + SCAN_BLOCK < text.len() {
        let (Some(block), Some(next)) = (
            text.get(offset..offset + SCAN_BLOCK),
            text.get(offset + 1..offset + SCAN_BLOCK + 1),
        ) else {
            break;
        };
        let hit = block
            .iter()
            .zip(next)
            .fold(false, |hit, (&a, &b)| hit | is_run(a, b));
        if hit {
            break;
        }
        offset += SCAN_BLOCK;
    }
    let mut index = offset;
    while let Some(&b) = text.get(index) {
        if is_run(b, text.get(index + 1).copied().unwrap_or(0)) {
            return Some(index);
        }
        index += 1;
    }
    None
}

/// Byte pairs tested at once by [`next_run`]: two AVX2 registers' worth.
const SCAN_BLOCK: usize = 32;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dkim::HashAlgorithm;

    /// The canonical body, recovered by hashing it whole and in every two-way split, and
    /// comparing with the hash of the expected bytes.
    fn check_body(canon: Canonicalization, input: &[u8], expected: &[u8]) {
        let reference = digest::digest(&digest::SHA256, expected);
        for split in 0..=input.len() {
            let mut hasher = BodyHasher::new(canon, HashAlgorithm::Sha256, None);
            hasher.update(&input[..split]);
            hasher.update(&input[split..]);
            let hash = hasher.finish();
            assert_eq!(
                hash.digest.as_ref(),
                reference.as_ref(),
                "{canon:?} {:?} split at {split}",
                String::from_utf8_lossy(input)
            );
            assert_eq!(hash.canonical_len, expected.len() as u64);
        }
    }

    fn header(canon: Canonicalization, raw: &[u8]) -> String {
        let colon = raw.iter().position(|&b| b == b':').unwrap();
        let name = raw[..colon].trim_ascii_end();
        let mut out = Vec::new();
        canonicalize_header(&mut out, canon, name, raw);
        String::from_utf8(out).unwrap()
    }

    /// RFC 6376 §3.4.5, the example for both algorithms.
    #[test]
    fn rfc6376_section_3_4_5_examples() {
        use Canonicalization::*;
        let fields: [&[u8]; 2] = [b"A: X", b"B : Y\t\r\n\tZ  "];
        let relaxed: String = fields.iter().map(|f| header(Relaxed, f)).collect();
        assert_eq!(relaxed, "a:X\r\nb:Y Z\r\n");
        let simple: String = fields.iter().map(|f| header(Simple, f)).collect();
        assert_eq!(simple, "A: X\r\nB : Y\t\r\n\tZ  \r\n");

        let body = b" C \r\nD \t E\r\n\r\n\r\n";
        check_body(Relaxed, body, b" C\r\nD E\r\n");
        check_body(Simple, body, b" C \r\nD \t E\r\n");
    }

    #[test]
    fn relaxed_body_ignores_whitespace_only_trailing_lines() {
        // mail-auth 0.13.3 kept the CRLF of a trailing whitespace-only line.
        check_body(Canonicalization::Relaxed, b"Hi.\r\n \t \r\n", b"Hi.\r\n");
        check_body(
            Canonicalization::Relaxed,
            b"Hi.\r\n\r\n  \r\n\t\r\n",
            b"Hi.\r\n",
        );
        check_body(Canonicalization::Relaxed, b"Hi.\r\n  ", b"Hi.\r\n");
        // ...but keeps it when content follows
        check_body(
            Canonicalization::Relaxed,
            b"a\r\n  \r\nb\r\n",
            b"a\r\n\r\nb\r\n",
        );
        // simple keeps a whitespace-only line: it is not empty
        check_body(
            Canonicalization::Simple,
            b"Hi.\r\n \r\n\r\n",
            b"Hi.\r\n \r\n",
        );
    }

    #[test]
    fn empty_bodies() {
        check_body(Canonicalization::Simple, b"", b"\r\n");
        check_body(Canonicalization::Simple, b"\r\n\r\n", b"\r\n");
        check_body(Canonicalization::Relaxed, b"", b"");
        check_body(Canonicalization::Relaxed, b"\r\n \r\n", b"");
    }

    #[test]
    fn missing_final_line_break_is_added() {
        check_body(Canonicalization::Simple, b"a\r\nb", b"a\r\nb\r\n");
        check_body(Canonicalization::Relaxed, b"a\r\nb  c ", b"a\r\nb c\r\n");
    }

    #[test]
    fn bare_lf_is_crlf_and_bare_cr_is_data() {
        check_body(Canonicalization::Simple, b"a\nb \n\n", b"a\r\nb \r\n");
        check_body(Canonicalization::Relaxed, b"a \n\tb\n\n", b"a\r\n b\r\n");
        check_body(Canonicalization::Simple, b"a\rb\r\n\r", b"a\rb\r\n\r\r\n");
        check_body(Canonicalization::Relaxed, b"a \r b\r\r\n", b"a \r b\r\r\n");
        assert_eq!(
            header(Canonicalization::Simple, b"S: a\n b"),
            "S: a\r\n b\r\n"
        );
        assert_eq!(header(Canonicalization::Relaxed, b"S: a\n b"), "s:a b\r\n");
    }

    #[test]
    fn relaxed_whitespace_runs() {
        check_body(
            Canonicalization::Relaxed,
            b"  lead\t\ttab  two x y\r\n",
            b" lead tab two x y\r\n",
        );
        assert_eq!(
            header(Canonicalization::Relaxed, b"Subject:  \t "),
            "subject:\r\n"
        );
        assert_eq!(header(Canonicalization::Relaxed, b"X:a  b"), "x:a b\r\n");
    }

    #[test]
    fn length_limit_cuts_the_hash_but_counts_everything() {
        let mut hasher = BodyHasher::new(Canonicalization::Simple, HashAlgorithm::Sha256, Some(3));
        hasher.update(b"abcdef\r\n");
        let hash = hasher.finish();
        assert_eq!(
            hash.digest.as_ref(),
            digest::digest(&digest::SHA256, b"abc").as_ref()
        );
        assert_eq!(hash.canonical_len, 8);
    }

    /// The line-at-a-time fast path must agree with the byte-by-byte state machine on any
    /// input and any chunking; random bodies over the bytes that matter.
    #[test]
    fn fast_path_agrees_with_the_state_machine() {
        const ALPHABET: &[u8] = b"ab  \t\r\n\n\x0c";
        let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for _ in 0..5_000 {
            let len = (next() % 40) as usize;
            let body: Vec<u8> = (0..len)
                .map(|_| ALPHABET[(next() % ALPHABET.len() as u64) as usize])
                .collect();
            let split = (next() as usize) % (len + 1);
            for canon in [Canonicalization::Simple, Canonicalization::Relaxed] {
                let mut slow = BodyHasher::new(canon, HashAlgorithm::Sha256, None);
                slow.update_slow(&body);
                let slow = slow.finish();
                let mut fast = BodyHasher::new(canon, HashAlgorithm::Sha256, None);
                fast.update(&body[..split]);
                fast.update(&body[split..]);
                let fast = fast.finish();
                assert_eq!(
                    (fast.digest.as_ref(), fast.canonical_len),
                    (slow.digest.as_ref(), slow.canonical_len),
                    "{canon:?} {body:?} split at {split}"
                );
            }
        }
    }

    #[test]
    fn large_bodies_hash_the_same_in_any_chunking() {
        let line = b"The quick  brown fox\t jumps over the lazy dog. \r\n";
        let body: Vec<u8> = line
            .iter()
            .copied()
            .cycle()
            .take(line.len() * 500)
            .collect();
        let mut whole = BodyHasher::new(Canonicalization::Relaxed, HashAlgorithm::Sha256, None);
        whole.update(&body);
        let whole = whole.finish();
        let mut chunked = BodyHasher::new(Canonicalization::Relaxed, HashAlgorithm::Sha256, None);
        for chunk in body.chunks(7) {
            chunked.update(chunk);
        }
        assert_eq!(whole.digest.as_ref(), chunked.finish().digest.as_ref());
        assert_eq!(whole.canonical_len, 500 * 46);
    }
}
