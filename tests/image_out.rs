//! Images out: IDX round trips through the decoder; the hand-written PNG is checked chunk by
//! chunk (signature, IHDR, CRCs) and its pixels are recovered with a small stored-block inflater.

use elbo_lab::data::image_out::{
    encode_idx_images, encode_png_grid, grid_layout, GRID_GAP, MAX_GRID_SIDE, PNG_SIGNATURE,
};
use elbo_lab::data::{decode_images, DataError, Images};

/// `n` images of `rows × cols` with distinct, position-dependent pixel values.
fn images(n: usize, rows: usize, cols: usize) -> Images {
    let pixels = (0..n * rows * cols)
        .map(|k| (k * 7 % 251 + 1) as u8)
        .collect();
    Images {
        n,
        rows,
        cols,
        pixels,
    }
}

#[test]
fn idx_round_trips_through_the_decoder() {
    for (n, rows, cols) in [(3, 28, 28), (1, 1, 1), (0, 28, 28), (5, 2, 7)] {
        let original = images(n, rows, cols);
        let bytes = encode_idx_images(&original);
        assert_eq!(bytes.len(), 16 + n * rows * cols);
        assert_eq!(&bytes[..4], &[0, 0, 8, 3]);
        assert_eq!(decode_images(&bytes).unwrap(), original);
    }
}

/// One PNG chunk: its type and data, after checking its CRC.
struct Chunk {
    kind: [u8; 4],
    data: Vec<u8>,
}

fn chunks(png: &[u8]) -> Vec<Chunk> {
    assert_eq!(&png[..8], &PNG_SIGNATURE);
    let mut at = 8;
    let mut out = Vec::new();
    while at < png.len() {
        let len = u32::from_be_bytes(png[at..at + 4].try_into().unwrap()) as usize;
        let kind: [u8; 4] = png[at + 4..at + 8].try_into().unwrap();
        let data = png[at + 8..at + 8 + len].to_vec();
        let crc = u32::from_be_bytes(png[at + 8 + len..at + 12 + len].try_into().unwrap());
        let mut hasher = crc32fast::Hasher::new();
        hasher.update(&kind);
        hasher.update(&data);
        assert_eq!(hasher.finalize(), crc, "CRC of {:?}", kind);
        out.push(Chunk { kind, data });
        at += 12 + len;
    }
    assert_eq!(at, png.len(), "bytes after the last chunk");
    out
}

/// Inflates a zlib stream made only of stored blocks, checking the header, each block's
/// LEN/NLEN, BFINAL on the last block only, and the Adler-32 trailer.
fn inflate_stored(stream: &[u8]) -> Vec<u8> {
    let (cmf, flg) = (stream[0], stream[1]);
    assert_eq!(cmf & 0x0f, 8, "deflate");
    assert_eq!(
        (u16::from(cmf) * 256 + u16::from(flg)) % 31,
        0,
        "header check"
    );
    assert_eq!(flg & 0x20, 0, "no preset dictionary");
    let mut at = 2;
    let mut out = Vec::new();
    loop {
        let header = stream[at];
        assert_eq!(header & 0b110, 0, "stored block (BTYPE 00)");
        let len = u16::from_le_bytes([stream[at + 1], stream[at + 2]]);
        let nlen = u16::from_le_bytes([stream[at + 3], stream[at + 4]]);
        assert_eq!(len, !nlen);
        out.extend_from_slice(&stream[at + 5..at + 5 + len as usize]);
        at += 5 + len as usize;
        if header & 1 == 1 {
            break;
        }
        assert!(len > 0, "empty non-final block");
    }
    let adler = u32::from_be_bytes(stream[at..at + 4].try_into().unwrap());
    assert_eq!(at + 4, stream.len(), "bytes after the Adler-32");
    let (mut a, mut b) = (1u64, 0u64);
    for &x in &out {
        a = (a + u64::from(x)) % 65_521;
        b = (b + a) % 65_521;
    }
    assert_eq!(adler, ((b << 16) | a) as u32, "Adler-32");
    out
}

/// Decodes the PNG (8-bit greyscale, filter 0 only) into (width, height, pixels).
fn decode_png(png: &[u8]) -> (usize, usize, Vec<u8>) {
    let chunks = chunks(png);
    let kinds: Vec<&[u8; 4]> = chunks.iter().map(|c| &c.kind).collect();
    assert_eq!(kinds, [b"IHDR", b"IDAT", b"IEND"]);
    let ihdr = &chunks[0].data;
    assert_eq!(ihdr.len(), 13);
    let width = u32::from_be_bytes(ihdr[0..4].try_into().unwrap()) as usize;
    let height = u32::from_be_bytes(ihdr[4..8].try_into().unwrap()) as usize;
    assert_eq!(
        &ihdr[8..],
        &[8, 0, 0, 0, 0],
        "8-bit greyscale, no interlace"
    );
    assert!(chunks[2].data.is_empty());
    let raw = inflate_stored(&chunks[1].data);
    assert_eq!(raw.len(), (width + 1) * height);
    let mut pixels = Vec::with_capacity(width * height);
    for line in raw.chunks_exact(width + 1) {
        assert_eq!(line[0], 0, "filter type None");
        pixels.extend_from_slice(&line[1..]);
    }
    (width, height, pixels)
}

/// The grid built the plain way: background 0, image i at cell (i / columns, i % columns).
fn expected_grid(images: &Images, columns: usize) -> (usize, usize, Vec<u8>) {
    let columns = columns.min(images.n);
    let grid_rows = images.n.div_ceil(columns);
    let width = columns * (images.cols + GRID_GAP) + GRID_GAP;
    let height = grid_rows * (images.rows + GRID_GAP) + GRID_GAP;
    let mut grid = vec![0u8; width * height];
    for i in 0..images.n {
        let image = images.image(i).unwrap();
        for r in 0..images.rows {
            for c in 0..images.cols {
                let y = GRID_GAP + (i / columns) * (images.rows + GRID_GAP) + r;
                let x = GRID_GAP + (i % columns) * (images.cols + GRID_GAP) + c;
                grid[y * width + x] = image[r * images.cols + c];
            }
        }
    }
    (width, height, grid)
}

#[test]
fn png_grid_holds_every_image_at_its_place() {
    for (n, columns) in [(7, 3), (1, 1), (10, 10), (4, 100), (12, 4)] {
        let set = images(n, 28, 28);
        let png = encode_png_grid(&set, columns).unwrap();
        let decoded = decode_png(&png);
        assert_eq!(
            decoded,
            expected_grid(&set, columns),
            "{n} images, {columns} columns"
        );
    }
}

#[test]
fn png_grid_larger_than_one_stored_block_splits_into_several() {
    // 400 digits in 20 columns: 602 × 602 pixels, about 5.5 stored blocks of 65 535 bytes.
    let set = images(400, 28, 28);
    let png = encode_png_grid(&set, 20).unwrap();
    let (width, height, pixels) = decode_png(&png);
    assert_eq!((width, height), (602, 602));
    assert_eq!((width, height, pixels), expected_grid(&set, 20));
}

#[test]
fn png_grid_of_non_square_images() {
    let set = images(5, 3, 9);
    let png = encode_png_grid(&set, 2).unwrap();
    assert_eq!(decode_png(&png), expected_grid(&set, 2));
}

#[test]
fn bad_grid_arguments_are_refused_with_a_message() {
    let set = images(4, 28, 28);
    let message = |e: DataError| e.to_string();
    let zero_columns = encode_png_grid(&set, 0).unwrap_err();
    assert!(matches!(
        zero_columns,
        DataError::InvalidCount { found: 0, .. }
    ));
    assert!(message(zero_columns).contains("columns"));

    let none = images(0, 28, 28);
    assert!(message(encode_png_grid(&none, 4).unwrap_err()).contains("images"));

    // 600 images in one row: 600 · 30 + 2 = 18 002 pixels wide.
    let wide = images(600, 28, 28);
    let err = encode_png_grid(&wide, 600).unwrap_err();
    assert!(message(err).contains("width"), "too wide");
    // The same images in 25 columns fit.
    assert!(encode_png_grid(&wide, 25).is_ok());
    // One column of them is too tall.
    assert!(message(encode_png_grid(&wide, 1).unwrap_err()).contains("height"));

    let huge_image = Images {
        n: 1,
        rows: MAX_GRID_SIDE + 1,
        cols: 1,
        pixels: vec![0; MAX_GRID_SIDE + 1],
    };
    assert!(encode_png_grid(&huge_image, 1).is_err());

    let mut inconsistent = images(2, 28, 28);
    inconsistent.pixels.pop();
    assert!(matches!(
        encode_png_grid(&inconsistent, 2).unwrap_err(),
        DataError::IdxSize { .. }
    ));
    assert!(grid_layout(&set, usize::MAX).is_err());
}
