//! Refuses a client frame larger than the limit as soon as its header has arrived.
//!
//! actix-http's WebSocket codec compares a frame's length with its limit only once the whole
//! frame is in its buffer, so a header claiming 2^62 bytes makes it buffer whatever follows.
//! This guard reads the length fields (RFC 6455, 5.2) of the bytes on their way to the codec,
//! skipping payloads, and ends the stream with `PayloadError::Overflow` at the first frame over
//! the limit: at most one network chunk of it is ever held.

use std::pin::Pin;
use std::task::{Context, Poll};

use actix_web::error::PayloadError;
use actix_web::web::Bytes;
use futures_util::Stream;

/// Where the scanner is in the byte stream.
#[derive(Debug, Clone, Copy)]
enum Position {
    /// Inside a header: the bytes of it seen so far.
    Header { seen: [u8; 14], len: usize },
    /// Inside a payload: bytes of it still to come.
    Payload { remaining: u64 },
}

#[derive(Debug, Clone, Copy)]
pub struct FrameScanner {
    max_payload: u64,
    at: Position,
}

/// A frame whose header claims more than the limit.
#[derive(Debug, PartialEq, Eq)]
pub struct TooLarge {
    pub claimed: u64,
}

const HEADER_START: Position = Position::Header {
    seen: [0; 14],
    len: 0,
};

impl FrameScanner {
    pub fn new(max_payload: usize) -> FrameScanner {
        FrameScanner {
            max_payload: max_payload as u64,
            at: HEADER_START,
        }
    }

    /// Follows `bytes`, the next part of the stream.
    pub fn scan(&mut self, mut bytes: &[u8]) -> Result<(), TooLarge> {
        while !bytes.is_empty() {
            match &mut self.at {
                Position::Payload { remaining } => {
                    let skip = (*remaining).min(bytes.len() as u64);
                    *remaining -= skip;
                    bytes = &bytes[skip as usize..];
                    if *remaining == 0 {
                        self.at = HEADER_START;
                    }
                }
                Position::Header { seen, len } => {
                    seen[*len] = bytes[0];
                    *len += 1;
                    bytes = &bytes[1..];
                    if let Some(payload) = payload_length(&seen[..*len]) {
                        if payload > self.max_payload {
                            return Err(TooLarge { claimed: payload });
                        }
                        self.at = if payload == 0 {
                            HEADER_START
                        } else {
                            Position::Payload { remaining: payload }
                        };
                    }
                }
            }
        }
        Ok(())
    }
}

/// The payload length once `header` holds a whole frame header, `None` while it is incomplete.
fn payload_length(header: &[u8]) -> Option<u64> {
    let second = *header.get(1)?;
    let (extended, masked) = (second & 0x7F, second & 0x80 != 0);
    let length_bytes = match extended {
        126 => 2,
        127 => 8,
        _ => 0,
    };
    let total = 2 + length_bytes + if masked { 4 } else { 0 };
    if header.len() < total {
        return None;
    }
    Some(match length_bytes {
        0 => u64::from(extended),
        2 => u64::from(u16::from_be_bytes([header[2], header[3]])),
        _ => u64::from_be_bytes(header[2..10].try_into().expect("eight bytes")),
    })
}

/// The request payload of a WebSocket, ended at the first frame over the limit.
pub struct GuardedPayload<S> {
    inner: S,
    scanner: FrameScanner,
    refused: bool,
}

impl<S> GuardedPayload<S> {
    pub fn new(inner: S, max_payload: usize) -> Self {
        GuardedPayload {
            inner,
            scanner: FrameScanner::new(max_payload),
            refused: false,
        }
    }
}

impl<S> Stream for GuardedPayload<S>
where
    S: Stream<Item = Result<Bytes, PayloadError>> + Unpin,
{
    type Item = Result<Bytes, PayloadError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.refused {
            return Poll::Ready(None);
        }
        let next = Pin::new(&mut self.inner).poll_next(cx);
        if let Poll::Ready(Some(Ok(bytes))) = &next
            && self.scanner.scan(bytes).is_err()
        {
            self.refused = true;
            return Poll::Ready(Some(Err(PayloadError::Overflow)));
        }
        next
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(len: usize, masked: bool) -> Vec<u8> {
        let mut out = vec![0x82];
        let mask_bit = if masked { 0x80 } else { 0 };
        match len {
            0..=125 => out.push(mask_bit | len as u8),
            126..=65535 => {
                out.push(mask_bit | 126);
                out.extend_from_slice(&(len as u16).to_be_bytes());
            }
            _ => {
                out.push(mask_bit | 127);
                out.extend_from_slice(&(len as u64).to_be_bytes());
            }
        }
        if masked {
            out.extend_from_slice(&[9, 9, 9, 9]);
        }
        out.extend(std::iter::repeat_n(7u8, len));
        out
    }

    #[test]
    fn frames_within_the_limit_pass_in_any_chunking() {
        let mut stream = Vec::new();
        for (len, masked) in [
            (0, true),
            (5, true),
            (125, false),
            (126, true),
            (70_000, true),
        ] {
            stream.extend(frame(len, masked));
        }
        for chunk in [1, 2, 3, 7, 13, 4096, stream.len()] {
            let mut scanner = FrameScanner::new(70_000);
            for part in stream.chunks(chunk) {
                assert_eq!(scanner.scan(part), Ok(()), "chunks of {chunk}");
            }
            assert!(matches!(scanner.at, Position::Header { len: 0, .. }));
        }
    }

    #[test]
    fn an_oversized_frame_is_refused_on_its_header_alone() {
        let mut header = vec![0x82, 0xFF];
        header.extend_from_slice(&(1u64 << 62).to_be_bytes());
        header.extend_from_slice(&[1, 2, 3, 4]);
        let mut scanner = FrameScanner::new(64 * 1024);
        assert_eq!(scanner.scan(&header), Err(TooLarge { claimed: 1 << 62 }));
        // The first frame over the limit after a good one, split inside its length field.
        let mut stream = frame(10, true);
        stream.extend(frame(64 * 1024 + 1, true));
        let mut scanner = FrameScanner::new(64 * 1024);
        assert_eq!(scanner.scan(&stream[..19]), Ok(()));
        assert_eq!(
            scanner.scan(&stream[19..30]),
            Err(TooLarge {
                claimed: 64 * 1024 + 1
            })
        );
    }
}
