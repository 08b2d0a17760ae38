//! A token's two counters as stored: each an unsigned LEB128 varint, spam then ham.
//!
//! Most tokens have been seen in a handful of messages, so the pair takes 2–3 bytes instead
//! of 16, which takes a million-token file from 71 MB to 35 MB (benches/embedded.rs), and
//! the full `u64` range stays exact.

use crate::{Result, StoreError};

/// Longest encoding of one `u64`: 64 bits in 7-bit groups.
const MAX_VARINT: usize = 10;

/// An encoded pair, without allocation.
pub(super) struct Packed {
    bytes: [u8; 2 * MAX_VARINT],
    len: usize,
}

impl Packed {
    pub(super) fn as_slice(&self) -> &[u8] {
        &self.bytes[..self.len]
    }

    fn push(&mut self, mut n: u64) {
        loop {
            let low = (n & 0x7f) as u8;
            n >>= 7;
            if n == 0 {
                self.bytes[self.len] = low;
                self.len += 1;
                return;
            }
            self.bytes[self.len] = low | 0x80;
            self.len += 1;
        }
    }
}

pub(super) fn encode(spam: u64, ham: u64) -> Packed {
    let mut packed = Packed {
        bytes: [0; 2 * MAX_VARINT],
        len: 0,
    };
    packed.push(spam);
    packed.push(ham);
    packed
}

pub(super) fn decode(bytes: &[u8]) -> Result<(u64, u64)> {
    let (spam, rest) = varint(bytes)?;
    let (ham, rest) = varint(rest)?;
    if !rest.is_empty() {
        return Err(bad());
    }
    Ok((spam, ham))
}

fn varint(bytes: &[u8]) -> Result<(u64, &[u8])> {
    let mut n = 0u64;
    for (i, byte) in bytes.iter().enumerate().take(MAX_VARINT) {
        let group = u64::from(byte & 0x7f);
        let shift = 7 * i as u32;
        if shift == 63 && group > 1 {
            return Err(bad());
        }
        n |= group << shift;
        if byte & 0x80 == 0 {
            return Ok((n, &bytes[i + 1..]));
        }
    }
    Err(bad())
}

fn bad() -> StoreError {
    StoreError::Corrupt("a token's counters are not two varints".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairs_round_trip_and_small_ones_are_small() {
        for (spam, ham) in [
            (0, 0),
            (1, 0),
            (127, 128),
            (300, 16_384),
            (u64::MAX, 0),
            (u64::MAX, u64::MAX),
        ] {
            let packed = encode(spam, ham);
            assert_eq!(decode(packed.as_slice()).unwrap(), (spam, ham));
        }
        assert_eq!(encode(3, 1).as_slice(), [3, 1]);
        assert_eq!(encode(u64::MAX, u64::MAX).as_slice().len(), 20);
    }

    #[test]
    fn damaged_encodings_are_refused() {
        for bytes in [
            &[][..],
            &[1],
            &[0x80, 1],
            &[1, 2, 3],
            &[
                0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02, 0,
            ],
        ] {
            assert!(decode(bytes).is_err(), "{bytes:?}");
        }
    }
}
