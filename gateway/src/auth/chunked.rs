//! aws-chunked decoding: the framing of streaming uploads, as a streaming state machine.
//!
//! Takes the raw request body in pieces of any size and hands on the decoded payload as it
//! arrives, without ever holding a whole chunk: data is passed through (zero-copy slices of the
//! input) while its SHA-256 runs, and a chunk's signature is checked when the chunk ends, chained
//! from the previous one (from the seed signature for the first). After the final chunk it reads
//! the trailer and checks its signature (signed-trailer mode); the trailing values go back to
//! [`super::verify`]. Memory is bounded by [`MAX_LINE`] and [`MAX_TRAILER`].

use std::collections::VecDeque;

use bytes::{Bytes, BytesMut};
use sha2::{Digest, Sha256};

use super::secret::signatures_match;
use super::{AuthError, SigningKey};

/// The longest chunk-header or trailer line accepted.
const MAX_LINE: usize = 4096;
/// The most trailer bytes accepted.
const MAX_TRAILER: usize = 16 * 1024;
/// SHA-256 of nothing, part of every chunk's string to sign.
const EMPTY_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

/// What chunk and trailer signatures chain from.
#[derive(Clone, Debug)]
pub(crate) struct ChainSeed {
    pub(crate) key: SigningKey,
    pub(crate) amz_date: String,
    pub(crate) scope: String,
    pub(crate) seed_signature: String,
}

/// The running signature chain of a signed aws-chunked body.
struct Chain {
    seed: ChainSeed,
    previous: String,
    data: Sha256,
}

impl Chain {
    fn new(seed: ChainSeed) -> Self {
        let previous = seed.seed_signature.clone();
        Self {
            seed,
            previous,
            data: Sha256::new(),
        }
    }

    /// Checks the signature of the chunk whose data was just hashed, and moves the chain on.
    fn check_chunk(&mut self, sent: &str, index: u64) -> Result<(), AuthError> {
        let hash = hex::encode(std::mem::take(&mut self.data).finalize());
        let computed = chunk_signature(&self.seed, &self.previous, &hash);
        self.advance(&computed, sent, || format!("chunk {index}"))
    }

    /// Checks the trailer signature over the canonical trailer lines.
    fn check_trailer(
        &mut self,
        trailers: &[(String, String)],
        sent: &str,
    ) -> Result<(), AuthError> {
        let computed = trailer_signature(&self.seed, &self.previous, trailers);
        self.advance(&computed, sent, || "trailer".to_owned())
    }

    fn advance(
        &mut self,
        computed: &str,
        sent: &str,
        what: impl Fn() -> String,
    ) -> Result<(), AuthError> {
        if !signatures_match(computed, sent) {
            return Err(AuthError::mismatch(what()));
        }
        self.previous = computed.to_owned();
        Ok(())
    }
}

/// The signature of one chunk whose data hashes to `data_hash` (hex).
pub(crate) fn chunk_signature(seed: &ChainSeed, previous: &str, data_hash: &str) -> String {
    let (date, scope) = (&seed.amz_date, &seed.scope);
    let to_sign = format!(
        "AWS4-HMAC-SHA256-PAYLOAD\n{date}\n{scope}\n{previous}\n{EMPTY_SHA256}\n{data_hash}"
    );
    seed.key.sign(&to_sign)
}

/// The signature of the trailer: `name:value\n` lines, sorted, hashed.
pub(crate) fn trailer_signature(
    seed: &ChainSeed,
    previous: &str,
    trailers: &[(String, String)],
) -> String {
    let mut lines: Vec<String> = trailers.iter().map(|(n, v)| format!("{n}:{v}\n")).collect();
    lines.sort();
    let hash = hex::encode(Sha256::digest(lines.concat().as_bytes()));
    let (date, scope) = (&seed.amz_date, &seed.scope);
    seed.key.sign(&format!(
        "AWS4-HMAC-SHA256-TRAILER\n{date}\n{scope}\n{previous}\n{hash}"
    ))
}

/// Where the decoder is in the framing.
#[derive(Debug)]
enum State {
    /// Reading `size[;chunk-signature=...]\r\n`.
    Header,
    /// Passing `remaining` bytes of chunk data through.
    Data {
        remaining: u64,
        signature: Option<String>,
    },
    /// Expecting the `\r\n` after chunk data; `seen` bytes of it so far.
    DataEnd {
        seen: usize,
        signature: Option<String>,
    },
    /// Reading trailer lines until an empty one.
    Trailer,
    /// Expecting the `\r\n` that ends a body without trailer; `seen` bytes of it so far.
    FinalEnd { seen: usize },
    /// The framing is complete; nothing may follow.
    Done,
}

/// The aws-chunked decoder of one body.
pub(crate) struct ChunkDecoder {
    state: State,
    chain: Option<Chain>,
    with_trailer: bool,
    line: BytesMut,
    trailers: Vec<(String, String)>,
    trailer_signature: Option<String>,
    trailer_bytes: usize,
    chunks: u64,
}

impl ChunkDecoder {
    /// A decoder; `seed` for signed chunks, `with_trailer` when a trailer follows the last chunk.
    pub(crate) fn new(seed: Option<ChainSeed>, with_trailer: bool) -> Self {
        Self {
            state: State::Header,
            chain: seed.map(Chain::new),
            with_trailer,
            line: BytesMut::new(),
            trailers: Vec::new(),
            trailer_signature: None,
            trailer_bytes: 0,
            chunks: 0,
        }
    }

    /// Decodes one piece of the raw body, pushing the payload bytes it carries onto `out`.
    pub(crate) fn feed(
        &mut self,
        mut input: Bytes,
        out: &mut VecDeque<Bytes>,
    ) -> Result<(), AuthError> {
        while !input.is_empty() {
            self.step(&mut input, out)?;
        }
        Ok(())
    }

    /// Checks that the framing ended where the input ended, and returns the trailer.
    pub(crate) fn finish(&mut self) -> Result<Vec<(String, String)>, AuthError> {
        // A trailer may end with the body instead of an empty line; its signature still counts.
        if matches!(self.state, State::Trailer) && self.line.is_empty() {
            self.end_trailer()?;
        }
        match self.state {
            State::Done => Ok(std::mem::take(&mut self.trailers)),
            _ => Err(AuthError::malformed_chunk(
                "body ended inside the aws-chunked framing",
            )),
        }
    }

    /// Consumes some of `input` according to the state.
    fn step(&mut self, input: &mut Bytes, out: &mut VecDeque<Bytes>) -> Result<(), AuthError> {
        match &mut self.state {
            State::Header => match self.take_line(input)? {
                Some(line) => self.on_header(&line),
                None => Ok(()),
            },
            State::Data { .. } => {
                self.read_data(input, out);
                Ok(())
            }
            State::DataEnd { .. } => self.read_data_end(input),
            State::Trailer => match self.take_line(input)? {
                Some(line) => self.on_trailer_line(&line),
                None => Ok(()),
            },
            State::FinalEnd { seen } => {
                if expect_crlf(seen, input)? {
                    self.state = State::Done;
                }
                Ok(())
            }
            State::Done => Err(AuthError::malformed_chunk("data after the final chunk")),
        }
    }

    /// Passes on as much of the current chunk's data as `input` holds.
    fn read_data(&mut self, input: &mut Bytes, out: &mut VecDeque<Bytes>) {
        let State::Data {
            remaining,
            signature,
        } = &mut self.state
        else {
            return;
        };
        let n = usize::try_from(*remaining)
            .unwrap_or(usize::MAX)
            .min(input.len());
        let piece = input.split_to(n);
        *remaining -= n as u64;
        if *remaining == 0 {
            self.state = State::DataEnd {
                seen: 0,
                signature: signature.take(),
            };
        }
        self.pass(piece, out);
    }

    /// Reads the `\r\n` after chunk data; once complete, the chunk's signature is checked.
    fn read_data_end(&mut self, input: &mut Bytes) -> Result<(), AuthError> {
        let State::DataEnd { seen, signature } = &mut self.state else {
            return Ok(());
        };
        if !expect_crlf(seen, input)? {
            return Ok(());
        }
        let signature = signature.take();
        self.on_chunk_end(signature.as_deref())
    }

    /// Hands chunk data on, hashing it for the chunk signature.
    fn pass(&mut self, piece: Bytes, out: &mut VecDeque<Bytes>) {
        if let Some(chain) = &mut self.chain {
            chain.data.update(&piece);
        }
        if !piece.is_empty() {
            out.push_back(piece);
        }
    }

    /// Collects bytes up to `\r\n`; returns the line without it once complete.
    fn take_line(&mut self, input: &mut Bytes) -> Result<Option<Bytes>, AuthError> {
        let end = input.iter().position(|b| *b == b'\n');
        let taken = input.split_to(end.map_or(input.len(), |at| at + 1));
        if self.line.len() + taken.len() > MAX_LINE {
            return Err(AuthError::malformed_chunk("line too long"));
        }
        self.line.extend_from_slice(&taken);
        if end.is_none() {
            return Ok(None);
        }
        let line = self.line.split().freeze();
        match line.strip_suffix(b"\r\n") {
            Some(text) => Ok(Some(line.slice_ref(text))),
            None => Err(AuthError::malformed_chunk("line not ended by CRLF")),
        }
    }

    /// Parses a chunk header and moves to its data (or to the end of the body).
    fn on_header(&mut self, line: &[u8]) -> Result<(), AuthError> {
        let (size, signature) = parse_chunk_header(line, self.chain.is_some())?;
        if size > 0 {
            self.state = State::Data {
                remaining: size,
                signature,
            };
            return Ok(());
        }
        self.on_chunk_end(signature.as_deref())?;
        self.state = if self.with_trailer {
            State::Trailer
        } else {
            State::FinalEnd { seen: 0 }
        };
        Ok(())
    }

    /// Checks the signature of the chunk that just ended.
    fn on_chunk_end(&mut self, signature: Option<&str>) -> Result<(), AuthError> {
        let index = self.chunks;
        self.chunks += 1;
        self.state = State::Header;
        match (&mut self.chain, signature) {
            (Some(chain), Some(sent)) => chain.check_chunk(sent, index),
            _ => Ok(()),
        }
    }

    /// One `name:value` trailer line, or the empty line that ends the trailer.
    fn on_trailer_line(&mut self, line: &[u8]) -> Result<(), AuthError> {
        if line.is_empty() {
            return self.end_trailer();
        }
        self.trailer_bytes += line.len();
        if self.trailer_bytes > MAX_TRAILER {
            return Err(AuthError::malformed_chunk("trailer too long"));
        }
        let text = std::str::from_utf8(line)
            .map_err(|_| AuthError::malformed_chunk("trailer not text"))?;
        let (name, value) = text
            .split_once(':')
            .ok_or_else(|| AuthError::malformed_chunk("trailer without ':'"))?;
        let (name, value) = (
            trim_ows(name).to_ascii_lowercase(),
            trim_ows(value).to_owned(),
        );
        if name == "x-amz-trailer-signature" {
            self.trailer_signature = Some(value);
        } else {
            self.trailers.push((name, value));
        }
        Ok(())
    }

    /// Checks the trailer signature (signed mode) and ends the body.
    fn end_trailer(&mut self) -> Result<(), AuthError> {
        self.state = State::Done;
        let Some(chain) = &mut self.chain else {
            return Ok(());
        };
        let sent = self
            .trailer_signature
            .as_deref()
            .ok_or_else(|| AuthError::malformed_chunk("no x-amz-trailer-signature"))?;
        chain.check_trailer(&self.trailers, sent)
    }
}

/// Trims spaces and tabs (HTTP's optional whitespace), nothing else.
fn trim_ows(text: &str) -> &str {
    text.trim_matches([' ', '\t'])
}

/// Consumes the bytes of a `\r\n`; true once both were seen.
fn expect_crlf(seen: &mut usize, input: &mut Bytes) -> Result<bool, AuthError> {
    while *seen < 2 {
        let Some(byte) = input.first().copied() else {
            return Ok(false);
        };
        let wanted = if *seen == 0 { b'\r' } else { b'\n' };
        if byte != wanted {
            return Err(AuthError::malformed_chunk(
                "chunk data not followed by CRLF",
            ));
        }
        let _ = input.split_to(1);
        *seen += 1;
    }
    Ok(true)
}

/// Parses `hex-size` or `hex-size;chunk-signature=<64 hex>`.
fn parse_chunk_header(line: &[u8], signed: bool) -> Result<(u64, Option<String>), AuthError> {
    let text =
        std::str::from_utf8(line).map_err(|_| AuthError::malformed_chunk("header not text"))?;
    let (size, extension) = match text.split_once(';') {
        Some((size, extension)) => (size, Some(extension)),
        None => (text, None),
    };
    let hex_digits =
        !size.is_empty() && size.len() <= 16 && size.bytes().all(|b| b.is_ascii_hexdigit());
    let size = u64::from_str_radix(size, 16)
        .ok()
        .filter(|_| hex_digits)
        .ok_or_else(|| AuthError::malformed_chunk("bad chunk size"))?;
    if !signed {
        return Ok((size, None));
    }
    let signature = extension
        .and_then(|e| e.strip_prefix("chunk-signature="))
        .filter(|s| s.len() == 64 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')))
        .ok_or_else(|| AuthError::malformed_chunk("missing or bad chunk-signature"))?;
    Ok((size, Some(signature.to_owned())))
}
