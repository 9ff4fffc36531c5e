//! Checkpoints as bytes: the configuration, the data standardisation and the whole training
//! state (engine/state.rs), with a checksum, so a run saved in the page loads in the CLI and
//! vice versa, and continues exactly where it stopped.
//!
//! Format 2: b"ELBOLAB2", u32 header length, JSON header, the state's values as f32
//! little-endian in its one layout `[weights | adam_m | adam_v | ema]` (each the parameters in the
//! network's visiting order), and a u32 CRC-32 of everything before it. The CRC detects
//! accidents (a truncated download, a flipped bit), not tampering.
//!
//! Format 1 (b"ELBOLAB1") is still read: its payload was weights, EMA, then Adam's m and v
//! interleaved per parameter, and it did not record the noise stream's position (a run resumed
//! from it continues with the stream from its start, as that version did).

use serde::{Deserialize, Serialize};

use super::config::TrainConfig;
use super::data::{DataTransform, ImageSet};
use super::fused;
use super::objective::TrainSchedule;
use super::state::{parameter_count, TrainState, COPIES};
use super::train::Trainer;
use super::EngineError;
use crate::data::Standardizer;

const MAGIC_V1: &[u8; 8] = b"ELBOLAB1";
const MAGIC: &[u8; 8] = b"ELBOLAB2";
/// Checkpoints larger than this are refused before allocating (a 4096-wide, 16-deep net is ~1 GB).
const MAX_BYTES: usize = 1 << 30;

#[derive(Serialize, Deserialize)]
struct Header {
    config: TrainConfig,
    step: u64,
    adam_t: u64,
    /// The ChaCha stream's word position, as a decimal string (a u128 does not fit a JSON number
    /// that every reader parses exactly).
    rng_word_pos: String,
    /// The fitted standardisation of 2D data (images have none: their map is fixed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    standardizer: Option<Standardizer>,
    /// The adaptive schedule's per-bin EMAs (App. F), so a resumed run samples λ as it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    adaptive_ema: Option<Vec<f64>>,
    shapes: Vec<Vec<usize>>,
}

#[derive(Deserialize)]
struct HeaderV1 {
    config: TrainConfig,
    step: u64,
    adam_t: u64,
    standardizer_mean: [f64; 2],
    standardizer_std: [f64; 2],
    shapes: Vec<Vec<usize>>,
}

/// Serialises the trainer (reads its state back asynchronously, once, from whichever step
/// engine holds it).
pub async fn save(trainer: &mut Trainer) -> Result<Vec<u8>, EngineError> {
    let state = trainer.state().await?;
    let header = Header {
        config: trainer.config.clone(),
        step: state.step,
        adam_t: state.adam_t,
        rng_word_pos: state.rng_word_pos.to_string(),
        standardizer: trainer
            .transform
            .image_shape()
            .is_none()
            .then(|| trainer.standardizer()),
        adaptive_ema: match &trainer.objective.schedule {
            TrainSchedule::Adaptive(adaptive) => Some(adaptive.ema().to_vec()),
            TrainSchedule::Fixed(_) => None,
        },
        shapes: state.shapes,
    };
    let header = serde_json::to_vec(&header).map_err(|e| CheckpointError::Write(e.to_string()))?;
    let mut bytes = Vec::with_capacity(16 + header.len() + 4 * state.values.len());
    bytes.extend_from_slice(MAGIC);
    bytes.extend_from_slice(&(header.len() as u32).to_le_bytes());
    bytes.extend_from_slice(&header);
    for v in state.values {
        bytes.extend_from_slice(&v.to_le_bytes());
    }
    let crc = crc32fast::hash(&bytes);
    bytes.extend_from_slice(&crc.to_le_bytes());
    Ok(bytes)
}

/// Why a checkpoint is refused; each says what is wrong with the file.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CheckpointError {
    #[error("the file ({0} bytes) is larger than any ELBO Lab checkpoint")]
    TooLarge(usize),
    #[error("not an ELBO Lab checkpoint ({0})")]
    NotACheckpoint(&'static str),
    #[error(
        "checkpoint format `{0}` is newer than this version of ELBO Lab reads (formats 1 and 2)"
    )]
    NewerFormat(String),
    #[error("the checksum does not match: the file is corrupted or truncated")]
    Checksum,
    #[error("the header's length is out of range")]
    HeaderLength,
    #[error("unreadable header: {0}")]
    Header(String),
    #[error("the network shapes differ from the configuration's ({stored} tensors stored, {expected} expected)")]
    Shapes { stored: usize, expected: usize },
    #[error("{stored} values stored, {expected} expected")]
    Length { stored: usize, expected: usize },
    #[error("the checkpoint holds non-finite weights")]
    NonFinite,
    #[error("the header could not be written: {0}")]
    Write(String),
}

/// A checkpoint taken apart and checked, before anything is built from it.
struct Parsed {
    config: TrainConfig,
    standardizer: Option<Standardizer>,
    adaptive_ema: Option<Vec<f64>>,
    state: TrainState,
}

/// The configuration stored in a checkpoint (checks magic, size and checksum first).
pub fn read_config(bytes: &[u8]) -> Result<TrainConfig, EngineError> {
    Ok(parse(bytes)?.config)
}

/// Magic, checksum and the header's bytes; the payload after them.
fn frame(bytes: &[u8]) -> Result<(u8, &[u8], &[u8]), CheckpointError> {
    if bytes.len() > MAX_BYTES {
        return Err(CheckpointError::TooLarge(bytes.len()));
    }
    if bytes.len() < MAGIC.len() + 8 {
        return Err(CheckpointError::NotACheckpoint("too short"));
    }
    let version = match &bytes[..8] {
        m if m == MAGIC => 2,
        m if m == MAGIC_V1 => 1,
        m if m.starts_with(b"ELBOLAB") => {
            return Err(CheckpointError::NewerFormat(
                String::from_utf8_lossy(m).into_owned(),
            ))
        }
        _ => return Err(CheckpointError::NotACheckpoint("wrong magic bytes")),
    };
    let (body, crc) = bytes.split_at(bytes.len() - 4);
    let word = |b: &[u8]| u32::from_le_bytes([b[0], b[1], b[2], b[3]]);
    if crc32fast::hash(body) != word(crc) {
        return Err(CheckpointError::Checksum);
    }
    let header_end = 12usize
        .checked_add(word(&body[8..12]) as usize)
        .filter(|end| *end <= body.len())
        .ok_or(CheckpointError::HeaderLength)?;
    Ok((version, &body[12..header_end], &body[header_end..]))
}

fn floats(payload: &[u8]) -> Result<Vec<f32>, CheckpointError> {
    let values: Vec<f32> = payload
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect();
    if values.iter().any(|v| !v.is_finite()) {
        return Err(CheckpointError::NonFinite);
    }
    Ok(values)
}

/// The parameter shapes the configuration's MLP has, from the configuration alone (nothing is
/// allocated), so a header that disagrees with its own configuration is caught first. A U-Net's
/// size is bounded by its validated configuration; its shapes are checked once it is built.
fn expected_shapes(config: &TrainConfig) -> Option<Vec<Vec<usize>>> {
    let mlp = config.model.as_mlp()?;
    Some(fused::shape(mlp, 2, config.batch).parameter_shapes())
}

fn parse(bytes: &[u8]) -> Result<Parsed, EngineError> {
    let (version, header, payload) = frame(bytes)?;
    let unreadable = |e: serde_json::Error| CheckpointError::Header(e.to_string());
    let (config, standardizer, adaptive_ema, mut state) = if version == 1 {
        let h: HeaderV1 = serde_json::from_slice(header).map_err(unreadable)?;
        let standardizer = Standardizer {
            mean: h.standardizer_mean,
            std: h.standardizer_std,
        };
        let standardizer = Some(standardizer);
        let state = TrainState {
            shapes: h.shapes,
            values: Vec::new(),
            step: h.step,
            adam_t: h.adam_t,
            rng_word_pos: 0,
        };
        (h.config, standardizer, None, state)
    } else {
        let h: Header = serde_json::from_slice(header).map_err(unreadable)?;
        let rng_word_pos = h.rng_word_pos.parse().map_err(|_| {
            CheckpointError::Header("the noise-stream position is not a number".into())
        })?;
        let state = TrainState {
            shapes: h.shapes,
            values: Vec::new(),
            step: h.step,
            adam_t: h.adam_t,
            rng_word_pos,
        };
        (h.config, h.standardizer, h.adaptive_ema, state)
    };
    config.validate()?;
    let expected = expected_shapes(&config).unwrap_or_else(|| state.shapes.clone());
    if state.shapes != expected {
        return Err(CheckpointError::Shapes {
            stored: state.shapes.len(),
            expected: expected.len(),
        }
        .into());
    }
    let per_copy = parameter_count(&expected);
    if payload.len() != 4 * COPIES.len() * per_copy {
        return Err(CheckpointError::Length {
            stored: payload.len() / 4,
            expected: COPIES.len() * per_copy,
        }
        .into());
    }
    let values = floats(payload)?;
    state.values = if version == 1 {
        v1_to_state_layout(&values, &expected)
    } else {
        values
    };
    Ok(Parsed {
        config,
        standardizer,
        adaptive_ema,
        state,
    })
}

/// Format 1's payload (weights, EMA, then m and v interleaved per parameter) in the state's layout.
fn v1_to_state_layout(values: &[f32], shapes: &[Vec<usize>]) -> Vec<f32> {
    let n = parameter_count(shapes);
    let (weights, rest) = values.split_at(n);
    let (ema, moments) = rest.split_at(n);
    let (mut m, mut v) = (Vec::with_capacity(n), Vec::with_capacity(n));
    let mut at = 0;
    for shape in shapes {
        let size: usize = shape.iter().product();
        m.extend_from_slice(&moments[at..at + size]);
        v.extend_from_slice(&moments[at + size..at + 2 * size]);
        at += 2 * size;
    }
    [weights, &m, &v, ema].concat()
}

/// Rebuilds a trainer from checkpoint bytes on `device`: same data, weights, EMA, optimizer
/// state, step and noise stream. A mismatched or corrupted file is refused with a message, and
/// its sizes are checked before any network is built. An image run (MNIST) restored this way
/// has no data: it samples, and trains or evaluates once loaded with `load_with_images`.
pub fn load(bytes: &[u8], device: &burn::prelude::Device) -> Result<Trainer, EngineError> {
    restore(bytes, None, device)
}

/// As `load`, with the images of an image run.
pub fn load_with_images(
    bytes: &[u8],
    images: &ImageSet,
    device: &burn::prelude::Device,
) -> Result<Trainer, EngineError> {
    restore(bytes, Some(images), device)
}

fn restore(
    bytes: &[u8],
    images: Option<&ImageSet>,
    device: &burn::prelude::Device,
) -> Result<Trainer, EngineError> {
    let parsed = parse(bytes)?;
    let mut trainer = match images {
        Some(images) => Trainer::with_images(parsed.config, images, device)?,
        None => Trainer::new(parsed.config, device)?,
    };
    trainer.load_state(&parsed.state)?;
    if let (Some(ema), TrainSchedule::Adaptive(adaptive)) =
        (&parsed.adaptive_ema, &mut trainer.objective.schedule)
    {
        adaptive
            .set_ema(ema)
            .map_err(|e| CheckpointError::Header(format!("the adaptive schedule: {e}")))?;
    }
    if let (Some(stored), DataTransform::Points { standardizer, .. }) =
        (parsed.standardizer, &mut trainer.transform)
    {
        *standardizer = stored;
    }
    Ok(trainer)
}
