//! Images out as bytes: MNIST's IDX format and a greyscale PNG contact sheet; no I/O.
//!
//! The PNG is written by hand with *stored* (uncompressed) deflate blocks: a grid of a few
//! hundred digits is a few hundred kilobytes either way, and the format stays small enough to
//! check byte by byte without a compression library (the crate has none).

use super::error::DataError;
use super::mnist::{Images, IMAGES_MAGIC};

/// Background pixels between the images of a grid and around it.
pub const GRID_GAP: usize = 2;
/// The largest grid side, in pixels, that [`encode_png_grid`] writes (viewers and browsers
/// handle it; a larger sheet is almost certainly a mistaken argument).
pub const MAX_GRID_SIDE: usize = 16_384;
/// The most cells one side of a grid can have: single-pixel images with their gaps.
pub const MAX_GRID_CELLS: usize = (MAX_GRID_SIDE - GRID_GAP) / (1 + GRID_GAP);

/// The PNG file signature (PNG spec §5.2).
pub const PNG_SIGNATURE: [u8; 8] = [0x89, b'P', b'N', b'G', b'\r', b'\n', 0x1a, b'\n'];
/// The most bytes one stored deflate block holds (RFC 1951 §3.2.4: LEN is 16 bits).
const MAX_STORED_BLOCK: usize = 65_535;

/// The images as an IDX file of unsigned bytes, `[n, rows, cols]`, exactly as MNIST's image
/// files are laid out, so [`crate::data::decode_images`] reads it back unchanged.
///
/// Sizes beyond `u32::MAX` cannot be stated in IDX; they are written as `u32::MAX`, which the
/// decoder then refuses as a truncated file rather than misreading it.
pub fn encode_idx_images(images: &Images) -> Vec<u8> {
    let dim = |d: usize| u32::try_from(d).unwrap_or(u32::MAX).to_be_bytes();
    let mut out = Vec::with_capacity(16 + images.pixels.len());
    out.extend_from_slice(&IMAGES_MAGIC.to_be_bytes());
    out.extend_from_slice(&dim(images.n));
    out.extend_from_slice(&dim(images.rows));
    out.extend_from_slice(&dim(images.cols));
    out.extend_from_slice(&images.pixels);
    out
}

/// The layout of a grid: `columns × rows` cells of `cell_w × cell_h` pixels, [`GRID_GAP`]
/// pixels of background between and around them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GridLayout {
    pub columns: usize,
    pub rows: usize,
    pub width: usize,
    pub height: usize,
}

/// Where the images of a grid go; refuses zero columns, empty or inconsistent images and a
/// sheet larger than [`MAX_GRID_SIDE`] on either side.
pub fn grid_layout(images: &Images, columns: usize) -> Result<GridLayout, DataError> {
    let count = |what: &'static str, found: usize, min: usize, max: usize| {
        if (min..=max).contains(&found) {
            Ok(())
        } else {
            Err(DataError::InvalidCount {
                what,
                found,
                min,
                max,
            })
        }
    };
    count("the number of grid columns", columns, 1, MAX_GRID_CELLS)?;
    let most_images = MAX_GRID_CELLS * MAX_GRID_CELLS;
    count("the number of images in the grid", images.n, 1, most_images)?;
    count("the image height", images.rows, 1, MAX_GRID_SIDE)?;
    count("the image width", images.cols, 1, MAX_GRID_SIDE)?;
    let expected = images
        .n
        .checked_mul(images.rows * images.cols)
        .filter(|&e| e == images.pixels.len());
    if expected.is_none() {
        return Err(DataError::IdxSize {
            what: "image",
            reason: format!(
                "{} images of {}×{} pixels, but {} pixel bytes",
                images.n,
                images.rows,
                images.cols,
                images.pixels.len()
            ),
        });
    }
    let grid_columns = columns.min(images.n);
    let grid_rows = images.n.div_ceil(grid_columns);
    // cells · (side + gap) + gap, saturating: anything that overflows is far over the limit.
    let side = |cells: usize, cell: usize| {
        cells
            .saturating_mul(cell + GRID_GAP)
            .saturating_add(GRID_GAP)
    };
    let width = side(grid_columns, images.cols);
    let height = side(grid_rows, images.rows);
    count("the grid width in pixels", width, 1, MAX_GRID_SIDE)?;
    count("the grid height in pixels", height, 1, MAX_GRID_SIDE)?;
    Ok(GridLayout {
        columns: grid_columns,
        rows: grid_rows,
        width,
        height,
    })
}

/// The images tiled row after row, `columns` per row (fewer when there are fewer images), as
/// an 8-bit greyscale PNG: white strokes on black, as MNIST stores them (0 = background).
pub fn encode_png_grid(images: &Images, columns: usize) -> Result<Vec<u8>, DataError> {
    let layout = grid_layout(images, columns)?;
    // Each scanline starts with its filter type: 0, "None" (PNG spec §9.2).
    let stride = layout.width + 1;
    let mut raw = vec![0u8; stride * layout.height];
    for i in 0..images.n {
        let Some(image) = images.image(i) else { break };
        let x0 = GRID_GAP + (i % layout.columns) * (images.cols + GRID_GAP);
        let y0 = GRID_GAP + (i / layout.columns) * (images.rows + GRID_GAP);
        for (r, row) in image.chunks_exact(images.cols).enumerate() {
            let start = (y0 + r) * stride + 1 + x0;
            raw[start..start + images.cols].copy_from_slice(row);
        }
    }

    let mut ihdr = Vec::with_capacity(13);
    ihdr.extend_from_slice(&(layout.width as u32).to_be_bytes());
    ihdr.extend_from_slice(&(layout.height as u32).to_be_bytes());
    // Bit depth 8, colour type 0 (greyscale), deflate, adaptive filtering, no interlace.
    ihdr.extend_from_slice(&[8, 0, 0, 0, 0]);

    let idat = zlib_stored(&raw);
    let mut png = Vec::with_capacity(PNG_SIGNATURE.len() + idat.len() + 64);
    png.extend_from_slice(&PNG_SIGNATURE);
    write_chunk(&mut png, b"IHDR", &ihdr);
    write_chunk(&mut png, b"IDAT", &idat);
    write_chunk(&mut png, b"IEND", &[]);
    Ok(png)
}

/// length (big-endian), type, data, CRC-32 of type and data (PNG spec §5.3).
fn write_chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
    out.extend_from_slice(&(data.len() as u32).to_be_bytes());
    out.extend_from_slice(kind);
    out.extend_from_slice(data);
    let mut crc = crc32fast::Hasher::new();
    crc.update(kind);
    crc.update(data);
    out.extend_from_slice(&crc.finalize().to_be_bytes());
}

/// A zlib stream (RFC 1950) of stored deflate blocks (RFC 1951 §3.2.4) holding `data`.
fn zlib_stored(data: &[u8]) -> Vec<u8> {
    let blocks = data.len().div_ceil(MAX_STORED_BLOCK).max(1);
    let mut out = Vec::with_capacity(2 + data.len() + 5 * blocks + 4);
    // CMF 0x78: deflate with a 32 KiB window; FLG 0x01: no dictionary, "fastest" level, and
    // 0x7801 is a multiple of 31 as the header check requires.
    out.extend_from_slice(&[0x78, 0x01]);
    let mut chunks = data.chunks(MAX_STORED_BLOCK).peekable();
    if chunks.peek().is_none() {
        // An empty stream still needs its one final block.
        out.extend_from_slice(&[1, 0, 0, 0xff, 0xff]);
    }
    while let Some(chunk) = chunks.next() {
        let last = chunks.peek().is_none();
        let len = chunk.len() as u16;
        // BFINAL in bit 0, BTYPE 00 (stored); the rest of the byte pads to the boundary.
        out.push(u8::from(last));
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(&(!len).to_le_bytes());
        out.extend_from_slice(chunk);
    }
    out.extend_from_slice(&adler32(data).to_be_bytes());
    out
}

/// Adler-32 (RFC 1950 §8), reducing modulo 65521 every 5552 bytes, the most that cannot
/// overflow a u32.
fn adler32(data: &[u8]) -> u32 {
    const MOD: u32 = 65_521;
    let (mut a, mut b) = (1u32, 0u32);
    for chunk in data.chunks(5552) {
        for &byte in chunk {
            a += u32::from(byte);
            b += a;
        }
        a %= MOD;
        b %= MOD;
    }
    (b << 16) | a
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adler32_matches_the_rfc_example() {
        // The classic test vector: Adler-32 of "Wikipedia".
        assert_eq!(adler32(b"Wikipedia"), 0x11e6_0398);
        assert_eq!(adler32(&[]), 1);
    }

    #[test]
    fn adler32_reduces_long_runs_without_overflow() {
        // 0xff bytes maximise the sums; compare with the naive modulo-every-byte form.
        let data = vec![0xffu8; 100_000];
        let (mut a, mut b) = (1u64, 0u64);
        for &x in &data {
            a = (a + u64::from(x)) % 65_521;
            b = (b + a) % 65_521;
        }
        assert_eq!(adler32(&data), ((b << 16) | a) as u32);
    }

    #[test]
    fn empty_data_is_one_final_empty_block() {
        assert_eq!(
            zlib_stored(&[]),
            vec![0x78, 0x01, 1, 0, 0, 0xff, 0xff, 0, 0, 0, 1]
        );
    }
}
