//! Gzip member 0 of a snapshot, the header, parsed by hand: seed always writes it as
//! deflate *stored* blocks (see `format`), so its size in the file is its size in
//! memory and nothing is inflated to read it. A member in any other shape (compressed
//! blocks, gzip option flags) is refused without being inflated, except for a
//! bounded peek that makes the message precise (not a snapshot, a newer format...).

use std::io::{self, BufReader, Read};

use flate2::bufread::GzDecoder;

use crate::error::Error;
use crate::snapshot::format::MAX_HEADER_LEN;
use crate::snapshot::source::Source;

const READ_BUF: usize = 64 * 1024;
/// How much of a compressed header is inflated, at most, to explain the refusal.
const PEEK: u64 = 64 * 1024;

/// What member 0 holds.
pub struct Member {
    /// Its decompressed bytes (the header line, newline included, and anything after).
    pub data: Vec<u8>,
    /// Where it ends in the source: where the first table starts.
    pub end: u64,
}

pub fn corrupt(src: &dyn Source, reason: impl Into<String>) -> Error {
    Error::SnapshotCorrupt { path: src.location().to_path_buf(), reason: reason.into() }
}

/// Reads member 0. `Ok(None)` when it is not in stored form (then see [`peek_compressed`]).
pub fn read_stored(src: &dyn Source) -> Result<Option<Member>, Error> {
    let mut r = Counting { inner: BufReader::with_capacity(READ_BUF, src.read_range(0, src.size())?), pos: 0 };
    let mut head = [0u8; 10];
    r.fill(src, &mut head[..2])?;
    if head[..2] != [0x1f, 0x8b] {
        return Err(corrupt(src, "not gzip data (bad magic)"));
    }
    r.fill(src, &mut head[2..])?;
    if head[2] != 8 {
        return Err(corrupt(src, "not gzip data (invalid gzip header)"));
    }
    if head[3] != 0 {
        return Ok(None); // optional fields: not the shape seed writes
    }
    let mut data = Vec::new();
    let mut first = true;
    loop {
        let mut block = [0u8; 5];
        r.fill(src, &mut block[..1])?;
        if block[0] & 0b110 != 0 {
            if first {
                return Ok(None); // a compressed block
            }
            return Err(corrupt(src, "the header member mixes stored and compressed blocks"));
        }
        if block[0] >> 3 != 0 {
            return Err(corrupt(src, "the header member's block header has stray bits set"));
        }
        r.fill(src, &mut block[1..])?;
        let len = u16::from_le_bytes([block[1], block[2]]);
        if u16::from_le_bytes([block[3], block[4]]) != !len {
            return Err(corrupt(src, "the header member is damaged (a stored block's length check fails)"));
        }
        let len = usize::from(len);
        if data.len() + len > MAX_HEADER_LEN {
            return Err(corrupt(src, format!("the header is longer than {} MiB", MAX_HEADER_LEN >> 20)));
        }
        r.append(src, &mut data, len)?;
        first = false;
        if block[0] & 1 == 1 {
            break;
        }
    }
    let mut trailer = [0u8; 8];
    r.fill(src, &mut trailer)?;
    let mut crc = flate2::Crc::new();
    crc.update(&data);
    if u32::from_le_bytes([trailer[0], trailer[1], trailer[2], trailer[3]]) != crc.sum() {
        return Err(corrupt(src, "the header fails its gzip CRC check"));
    }
    // ISIZE is the length modulo 2^32 by definition.
    #[allow(clippy::cast_possible_truncation)]
    if u32::from_le_bytes([trailer[4], trailer[5], trailer[6], trailer[7]]) != data.len() as u32 {
        return Err(corrupt(src, "the header member's recorded length is wrong"));
    }
    Ok(Some(Member { data, end: r.pos }))
}

/// Inflates at most 64 KiB of a member 0 that is not in stored form: the start of its
/// first line, if it is complete by then. The caller refuses the file either way; the
/// peek only picks the message (not gzip, not a snapshot, a newer format...).
pub fn peek_compressed(src: &dyn Source) -> Result<Peek, Error> {
    let gz_err = |e: io::Error| -> Error {
        if e.raw_os_error().is_some() {
            return Error::io("reading snapshot", src.location(), e);
        }
        corrupt(
            src,
            match e.kind() {
                io::ErrorKind::UnexpectedEof => "truncated inside the header".to_owned(),
                _ if e.to_string().contains("invalid gzip header") => "not gzip data (invalid gzip header)".to_owned(),
                _ if e.to_string().contains("checksum") => "the header fails its gzip CRC check".to_owned(),
                _ => format!("the header is not valid gzip data: {e}"),
            },
        )
    };
    let dec = GzDecoder::new(BufReader::with_capacity(READ_BUF, src.read_range(0, src.size())?));
    let mut out = Vec::new();
    let mut limited = dec.take(PEEK);
    let mut buf = [0u8; 8192];
    loop {
        let n = match limited.read(&mut buf) {
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(gz_err(e)),
        };
        if n == 0 {
            return Ok(Peek { line: out, complete: false, ended: limited.limit() > 0 });
        }
        out.extend_from_slice(&buf[..n]);
        if let Some(i) = out.iter().position(|&b| b == b'\n') {
            out.truncate(i);
            return Ok(Peek { line: out, complete: true, ended: false });
        }
    }
}

/// The start of a compressed header.
pub struct Peek {
    /// Up to the first newline (excluded), or all that was inflated.
    pub line: Vec<u8>,
    /// A newline was found.
    pub complete: bool,
    /// The member ended before the peek's limit (so `line` is all there is).
    pub ended: bool,
}

/// A reader that counts what it consumed and reports a short read as truncation.
struct Counting<R> {
    inner: R,
    pos: u64,
}

impl<R: Read> Counting<R> {
    /// Appends exactly `len` bytes to `out` (no zero-filling first: it is megabytes).
    fn append(&mut self, src: &dyn Source, out: &mut Vec<u8>, len: usize) -> Result<(), Error> {
        let want = len as u64;
        let got = (&mut self.inner)
            .take(want)
            .read_to_end(out)
            .map_err(|e| Error::io("reading snapshot", src.location(), e))?;
        self.pos += got as u64;
        if got as u64 != want {
            return Err(corrupt(src, "truncated inside the header"));
        }
        Ok(())
    }

    fn fill(&mut self, src: &dyn Source, buf: &mut [u8]) -> Result<(), Error> {
        match self.inner.read_exact(buf) {
            Ok(()) => {
                self.pos += buf.len() as u64;
                Ok(())
            }
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => Err(corrupt(
                src,
                if self.pos < 2 { "not gzip data (bad magic)" } else { "truncated inside the header" },
            )),
            Err(e) => Err(Error::io("reading snapshot", src.location(), e)),
        }
    }
}
