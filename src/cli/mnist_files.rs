//! MNIST's four IDX files from a folder: the original names, plain or gzip-compressed (as
//! MNIST is distributed), read with a size cap before anything is decoded.

use std::io::Read;
use std::path::{Path, PathBuf};

use super::CliError;
use crate::data::mnist::{
    TEST_IMAGES_FILE, TEST_LABELS_FILE, TRAIN_IMAGES_FILE, TRAIN_LABELS_FILE,
};
use crate::data::{decode_images, decode_labeled, gzip, Images, LabeledImages};

/// Where `make data` (scripts/fetch-data.sh) unpacks MNIST, relative to the project.
const DEFAULT_DIR: &str = "data/mnist";
/// No MNIST file is larger (the training images are 47 MB); a bigger one is not MNIST.
const MAX_FILE_BYTES: u64 = 64 << 20;

/// The folder to read: the one given, else `data/mnist` under the current directory, else the
/// one in the source tree this binary was built from.
fn folder(dir: Option<&Path>) -> PathBuf {
    if let Some(dir) = dir {
        return dir.to_path_buf();
    }
    let here = PathBuf::from(DEFAULT_DIR);
    if here.is_dir() {
        return here;
    }
    let built = Path::new(env!("CARGO_MANIFEST_DIR")).join(DEFAULT_DIR);
    if built.is_dir() {
        built
    } else {
        here
    }
}

/// At most `MAX_FILE_BYTES` of `path`; a larger file is refused before it is read whole.
fn read_capped(path: &Path) -> Result<Vec<u8>, CliError> {
    let file = std::fs::File::open(path)
        .map_err(|e| CliError::input(format!("cannot read `{}`: {e}", path.display())))?;
    let mut bytes = Vec::new();
    file.take(MAX_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| CliError::input(format!("cannot read `{}`: {e}", path.display())))?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(CliError::input(format!(
            "`{}` is larger than any MNIST file ({} MB at most)",
            path.display(),
            MAX_FILE_BYTES >> 20
        )));
    }
    Ok(bytes)
}

/// The bytes of MNIST file `name` in `dir`: `name` itself, or `name.gz` decompressed.
fn read_file(dir: &Path, name: &str) -> Result<Vec<u8>, CliError> {
    let plain = dir.join(name);
    if plain.is_file() {
        return read_capped(&plain);
    }
    let compressed = dir.join(format!("{name}.gz"));
    if compressed.is_file() {
        let bytes = read_capped(&compressed)?;
        return gzip::decompress(&bytes, MAX_FILE_BYTES as usize)
            .map_err(|e| CliError::input(format!("`{}`: {e}", compressed.display())));
    }
    Err(CliError::input(format!(
        "MNIST's `{name}` (or `{name}.gz`) is not in `{}`: run `make data` (or `bash scripts/fetch-data.sh`), or pass --data-dir with MNIST's four IDX files",
        dir.display()
    )))
}

fn decode(dir: &Path, name: &str) -> Result<Images, CliError> {
    decode_images(&read_file(dir, name)?)
        .map_err(|e| CliError::input(format!("`{}`: {e}", dir.join(name).display())))
}

/// The training and test images (labels are not needed to train or judge the likelihood).
pub fn read_images(dir: Option<&Path>) -> Result<(Images, Images), CliError> {
    let dir = folder(dir);
    Ok((
        decode(&dir, TRAIN_IMAGES_FILE)?,
        decode(&dir, TEST_IMAGES_FILE)?,
    ))
}

/// The training and test digits with their labels (the quality classifier's data).
pub fn read_labeled(dir: Option<&Path>) -> Result<(LabeledImages, LabeledImages), CliError> {
    let dir = folder(dir);
    let pair = |images: &str, labels: &str| {
        decode_labeled(&read_file(&dir, images)?, &read_file(&dir, labels)?)
            .map_err(|e| CliError::input(format!("MNIST in `{}`: {e}", dir.display())))
    };
    Ok((
        pair(TRAIN_IMAGES_FILE, TRAIN_LABELS_FILE)?,
        pair(TEST_IMAGES_FILE, TEST_LABELS_FILE)?,
    ))
}
