//! Decompressing a gzip file (RFC 1952) with a cap on its size, for MNIST's `.gz` IDX files:
//! one member, its header's optional fields skipped, the deflate stream inflated into a buffer
//! sized from the trailer (refused above the cap before anything is allocated), and the
//! trailer's CRC-32 and length checked.

use miniz_oxide::inflate::core::{decompress as inflate, inflate_flags, DecompressorOxide};
use miniz_oxide::inflate::TINFLStatus;

use super::error::DataError;

const MAGIC: [u8; 2] = [0x1f, 0x8b];
const DEFLATE: u8 = 8;
const FHCRC: u8 = 0x02;
const FEXTRA: u8 = 0x04;
const FNAME: u8 = 0x08;
const FCOMMENT: u8 = 0x10;

fn fail(message: impl Into<String>) -> DataError {
    DataError::Gzip(message.into())
}

/// Whether `bytes` start like a gzip file.
pub fn is_gzip(bytes: &[u8]) -> bool {
    bytes.starts_with(&MAGIC)
}

/// The position after the zero-terminated field starting at `at`.
fn skip_terminated(bytes: &[u8], at: usize) -> Result<usize, DataError> {
    let len = bytes
        .get(at..)
        .and_then(|rest| rest.iter().position(|b| *b == 0))
        .ok_or_else(|| fail("the header's name or comment never ends"))?;
    Ok(at + len + 1)
}

/// Where the deflate stream starts (after the header and its optional fields).
fn deflate_start(bytes: &[u8]) -> Result<usize, DataError> {
    if bytes.len() < 18 || !is_gzip(bytes) {
        return Err(fail("not a gzip file"));
    }
    if bytes[2] != DEFLATE {
        return Err(fail(format!(
            "compression method {} (only deflate, 8)",
            bytes[2]
        )));
    }
    let flags = bytes[3];
    let mut at = 10;
    if flags & FEXTRA != 0 {
        let len = bytes
            .get(at..at + 2)
            .map(|b| usize::from(u16::from_le_bytes([b[0], b[1]])))
            .ok_or_else(|| fail("truncated header"))?;
        at += 2 + len;
    }
    if flags & FNAME != 0 {
        at = skip_terminated(bytes, at)?;
    }
    if flags & FCOMMENT != 0 {
        at = skip_terminated(bytes, at)?;
    }
    if flags & FHCRC != 0 {
        at += 2;
    }
    if at + 8 > bytes.len() {
        return Err(fail("truncated header"));
    }
    Ok(at)
}

/// The decompressed bytes of a one-member gzip file of at most `max_output` bytes.
pub fn decompress(bytes: &[u8], max_output: usize) -> Result<Vec<u8>, DataError> {
    let start = deflate_start(bytes)?;
    let trailer = &bytes[bytes.len() - 8..];
    let crc = u32::from_le_bytes([trailer[0], trailer[1], trailer[2], trailer[3]]);
    // ISIZE is the length modulo 2³²: exact below the cap, which is far under 4 GiB.
    let size = u32::from_le_bytes([trailer[4], trailer[5], trailer[6], trailer[7]]) as usize;
    if size > max_output {
        return Err(fail(format!(
            "it decompresses to {size} bytes, more than the {max_output} accepted"
        )));
    }
    let mut out = vec![0u8; size];
    let mut state = Box::new(DecompressorOxide::new());
    let (status, _, written) = inflate(
        &mut state,
        &bytes[start..bytes.len() - 8],
        &mut out,
        0,
        inflate_flags::TINFL_FLAG_USING_NON_WRAPPING_OUTPUT_BUF,
    );
    match status {
        TINFLStatus::Done if written == size => {}
        TINFLStatus::Done => {
            return Err(fail(format!(
                "{written} bytes decompressed, the trailer says {size}"
            )))
        }
        TINFLStatus::HasMoreOutput => {
            return Err(fail(format!(
                "more data than the trailer's {size} bytes (several members, or corrupted)"
            )))
        }
        other => return Err(fail(format!("corrupted deflate stream ({other:?})"))),
    }
    if crc32fast::hash(&out) != crc {
        return Err(fail("the CRC-32 does not match: the file is corrupted"));
    }
    Ok(out)
}
