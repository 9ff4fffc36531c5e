//! Decoding MNIST's IDX files (images, labels) from bytes, checking every size the header declares.
//!
//! IDX (LeCun et al.): a big-endian u32 magic `0x0000TTDD` (TT the element type, 0x08 for
//! unsigned bytes; DD the number of dimensions), one big-endian u32 per dimension, then the
//! elements in row-major order. No I/O happens here: the CLI reads the files, the page fetches
//! them, both hand the bytes over.

use super::error::DataError;

/// Magic number of an IDX file of unsigned bytes with 3 dimensions (images `[n, rows, cols]`).
pub const IMAGES_MAGIC: u32 = 0x0000_0803;
/// Magic number of an IDX file of unsigned bytes with 1 dimension (labels `[n]`).
pub const LABELS_MAGIC: u32 = 0x0000_0801;

/// File names of the four MNIST files as `scripts/fetch-data.sh` unpacks them into `data/mnist/`.
pub const TRAIN_IMAGES_FILE: &str = "train-images-idx3-ubyte";
pub const TRAIN_LABELS_FILE: &str = "train-labels-idx1-ubyte";
pub const TEST_IMAGES_FILE: &str = "t10k-images-idx3-ubyte";
pub const TEST_LABELS_FILE: &str = "t10k-labels-idx1-ubyte";

/// `n` greyscale images of `rows × cols` pixels, row-major, image after image (0 = background).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Images {
    pub n: usize,
    pub rows: usize,
    pub cols: usize,
    pub pixels: Vec<u8>,
}

impl Images {
    /// Pixels in one image.
    pub fn pixels_per_image(&self) -> usize {
        self.rows * self.cols
    }

    /// The first `n` images (all of them when there are fewer).
    pub fn first(&self, n: usize) -> Images {
        let n = n.min(self.n);
        Images {
            n,
            rows: self.rows,
            cols: self.cols,
            pixels: self.pixels[..n * self.pixels_per_image()].to_vec(),
        }
    }

    /// The pixels of image `i`, or `None` past the end.
    pub fn image(&self, i: usize) -> Option<&[u8]> {
        let size = self.pixels_per_image();
        let start = i.checked_mul(size)?;
        self.pixels.get(start..start.checked_add(size)?)
    }
}

/// Images with one label each.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabeledImages {
    pub images: Images,
    pub labels: Vec<u8>,
}

/// Decodes an IDX image file (magic [`IMAGES_MAGIC`]): the header's n, rows and cols, then exactly
/// n·rows·cols pixel bytes. Rows and cols must be positive; n may be 0.
pub fn decode_images(bytes: &[u8]) -> Result<Images, DataError> {
    const WHAT: &str = "image";
    let dims = read_header(bytes, WHAT, IMAGES_MAGIC, 3)?;
    let [n, rows, cols] = [dims[0], dims[1], dims[2]];
    if rows == 0 || cols == 0 {
        return Err(DataError::IdxSize {
            what: WHAT,
            reason: format!("images of {rows}×{cols} pixels; rows and columns must be at least 1"),
        });
    }
    let pixels = read_body(bytes, WHAT, 16, &[n, rows, cols])?;
    Ok(Images {
        n,
        rows,
        cols,
        pixels: pixels.to_vec(),
    })
}

/// Decodes an IDX label file (magic [`LABELS_MAGIC`]): the header's n, then exactly n label bytes.
/// Values are not checked (MNIST's are 0..=9; the format allows any byte).
pub fn decode_labels(bytes: &[u8]) -> Result<Vec<u8>, DataError> {
    const WHAT: &str = "label";
    let dims = read_header(bytes, WHAT, LABELS_MAGIC, 1)?;
    Ok(read_body(bytes, WHAT, 8, &dims)?.to_vec())
}

/// Decodes an image file and its label file and checks that they hold the same number of items.
pub fn decode_labeled(images: &[u8], labels: &[u8]) -> Result<LabeledImages, DataError> {
    let images = decode_images(images)?;
    let labels = decode_labels(labels)?;
    if images.n != labels.len() {
        return Err(DataError::IdxCountMismatch {
            images: images.n,
            labels: labels.len(),
        });
    }
    Ok(LabeledImages { images, labels })
}

/// Checks the magic and returns the `dims` sizes that follow it.
fn read_header(
    bytes: &[u8],
    what: &'static str,
    magic: u32,
    dims: usize,
) -> Result<Vec<usize>, DataError> {
    // The distributed files are `.gz`; a gzip stream starts with 1f 8b, never a valid IDX magic.
    if bytes.starts_with(&[0x1f, 0x8b]) {
        return Err(DataError::IdxGzipped { what });
    }
    let header_len = 4 * (1 + dims);
    if bytes.len() < header_len {
        return Err(DataError::IdxTruncated {
            what,
            expected: header_len,
            found: bytes.len(),
        });
    }
    let word = |i: usize| {
        u32::from_be_bytes([
            bytes[4 * i],
            bytes[4 * i + 1],
            bytes[4 * i + 2],
            bytes[4 * i + 3],
        ])
    };
    let found = word(0);
    if found != magic {
        return Err(DataError::IdxMagic {
            what,
            found,
            expected: magic,
            dims: (magic & 0xff) as u8,
        });
    }
    (1..=dims)
        .map(|i| {
            usize::try_from(word(i)).map_err(|_| DataError::IdxSize {
                what,
                reason: format!("dimension {i} is {}, too large for this machine", word(i)),
            })
        })
        .collect()
}

/// The body after a `header_len`-byte header, which must hold exactly the product of `dims` bytes.
fn read_body<'a>(
    bytes: &'a [u8],
    what: &'static str,
    header_len: usize,
    dims: &[usize],
) -> Result<&'a [u8], DataError> {
    let body_len = dims
        .iter()
        .try_fold(1usize, |acc, &d| acc.checked_mul(d))
        .and_then(|len| len.checked_add(header_len).map(|_| len))
        .ok_or_else(|| DataError::IdxSize {
            what,
            reason: format!("sizes {dims:?} multiply to more bytes than this machine can address"),
        })?;
    let expected = header_len + body_len;
    match bytes.len() {
        len if len < expected => Err(DataError::IdxTruncated {
            what,
            expected,
            found: len,
        }),
        len if len > expected => Err(DataError::IdxTrailing {
            what,
            expected,
            extra: len - expected,
        }),
        _ => Ok(&bytes[header_len..]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn idx(magic: u32, dims: &[u32], body: &[u8]) -> Vec<u8> {
        let mut out = magic.to_be_bytes().to_vec();
        for d in dims {
            out.extend_from_slice(&d.to_be_bytes());
        }
        out.extend_from_slice(body);
        out
    }

    #[test]
    fn decodes_a_tiny_image_file() {
        let body: Vec<u8> = (0..12).collect();
        let images = decode_images(&idx(IMAGES_MAGIC, &[2, 2, 3], &body)).unwrap();
        assert_eq!((images.n, images.rows, images.cols), (2, 2, 3));
        assert_eq!(images.image(1), Some(&body[6..12]));
        assert_eq!(images.image(2), None);
        assert_eq!(images.image(usize::MAX), None);
    }

    #[test]
    fn zero_images_is_a_valid_file() {
        let images = decode_images(&idx(IMAGES_MAGIC, &[0, 28, 28], &[])).unwrap();
        assert_eq!(images.n, 0);
        assert!(images.pixels.is_empty());
    }

    #[test]
    fn huge_declared_sizes_are_refused_without_allocating() {
        let err =
            decode_images(&idx(IMAGES_MAGIC, &[u32::MAX, u32::MAX, u32::MAX], &[])).unwrap_err();
        assert!(matches!(
            err,
            DataError::IdxSize { .. } | DataError::IdxTruncated { .. }
        ));
    }
}
