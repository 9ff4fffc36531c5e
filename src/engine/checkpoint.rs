//! Checkpoints as bytes: configuration, step, standardisation, weights, EMA weights and Adam's
//! moments, with a checksum, so a run saved in the page loads in the CLI and vice versa.
//!
//! Layout: b"ELBOLAB1", u32 header length, JSON header, f32 little-endian payload, u32 CRC-32 of
//! everything before it. The payload lists, in the network's parameter order: weights, EMA
//! weights, Adam m, Adam v. Reading is asynchronous (one transfer), as the browser requires.

use std::collections::HashMap;

use burn::module::{ModuleMapper, ModuleVisitor, Param, ParamId};
use burn::prelude::*;
use serde::{Deserialize, Serialize};

use super::config::TrainConfig;
use super::optim::Moments;
use super::train::Trainer;
use super::EngineError;
use crate::data::Standardizer;

const MAGIC: &[u8; 8] = b"ELBOLAB1";
/// Checkpoints larger than this are refused before allocating (a 4096-wide, 16-deep net is ~1 GB).
const MAX_BYTES: usize = 1 << 30;

#[derive(Serialize, Deserialize)]
struct Header {
    config: TrainConfig,
    step: u64,
    adam_t: u64,
    standardizer_mean: [f64; 2],
    standardizer_std: [f64; 2],
    shapes: Vec<Vec<usize>>,
}

/// Parameters in visiting order (stable for a given network shape), flattened.
pub(crate) struct Ordered(Vec<(ParamId, Vec<usize>, Tensor<1>)>);

impl ModuleVisitor for Ordered {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        let value = param.val().without_autodiff();
        let shape = value.dims().to_vec();
        let n: usize = shape.iter().product();
        self.0.push((param.id, shape, value.reshape([n])));
    }
}

pub(crate) fn ordered(module: &impl Module) -> Vec<(ParamId, Vec<usize>, Tensor<1>)> {
    let mut visitor = Ordered(Vec::new());
    module.visit(&mut visitor);
    visitor.0
}

/// Serialises the trainer (reads its tensors back asynchronously, once; first from the fused
/// step, when training runs there).
pub async fn save(trainer: &mut Trainer) -> Result<Vec<u8>, EngineError> {
    trainer.sync_host().await?;
    let live = ordered(&trainer.model);
    let ema = ordered(&trainer.ema);
    let mut tensors: Vec<Tensor<1>> = Vec::new();
    tensors.extend(live.iter().map(|(_, _, t)| t.clone()));
    tensors.extend(ema.iter().map(|(_, _, t)| t.clone()));
    for (id, _, t) in &live {
        match trainer.adam.moments.get(id) {
            Some(Moments { m, v }) => {
                tensors.push(m.clone());
                tensors.push(v.clone());
            }
            None => {
                tensors.push(t.zeros_like());
                tensors.push(t.zeros_like());
            }
        }
    }
    let values = super::read_f32(Tensor::cat(tensors, 0)).await?;
    let header = Header {
        config: trainer.config.clone(),
        step: trainer.step,
        adam_t: trainer.adam.t,
        standardizer_mean: trainer.standardizer.mean,
        standardizer_std: trainer.standardizer.std,
        shapes: live.iter().map(|(_, s, _)| s.clone()).collect(),
    };
    let header = serde_json::to_vec(&header).map_err(|e| EngineError::Checkpoint(e.to_string()))?;
    let mut bytes = Vec::with_capacity(16 + header.len() + 4 * values.len());
    bytes.extend_from_slice(MAGIC);
    bytes.extend_from_slice(&(header.len() as u32).to_le_bytes());
    bytes.extend_from_slice(&header);
    for v in values {
        bytes.extend_from_slice(&v.to_le_bytes());
    }
    let crc = crc32fast::hash(&bytes);
    bytes.extend_from_slice(&crc.to_le_bytes());
    Ok(bytes)
}

/// Replaces parameter values in visiting order.
pub(crate) struct Load {
    pub values: std::vec::IntoIter<Vec<f32>>,
    pub device: Device,
    pub autodiff: bool,
}

impl ModuleMapper for Load {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        let Some(values) = self.values.next() else {
            return param;
        };
        let (device, autodiff) = (self.device.clone(), self.autodiff);
        param.map(|old| {
            let loaded = Tensor::<D>::from_data(TensorData::new(values, old.dims()), &device);
            if autodiff {
                Tensor::from_inner(loaded).require_grad()
            } else {
                loaded
            }
        })
    }
}

fn reject(message: impl Into<String>) -> EngineError {
    EngineError::Checkpoint(message.into())
}

/// The configuration stored in a checkpoint (checks magic, size and checksum first).
pub fn read_config(bytes: &[u8]) -> Result<TrainConfig, EngineError> {
    Ok(parse(bytes)?.0.config)
}

fn parse(bytes: &[u8]) -> Result<(Header, &[u8]), EngineError> {
    if bytes.len() > MAX_BYTES {
        return Err(reject("the file is larger than any ELBO Lab checkpoint"));
    }
    if bytes.len() < MAGIC.len() + 8 || &bytes[..8] != MAGIC {
        return Err(reject("not an ELBO Lab checkpoint (wrong magic bytes)"));
    }
    let (body, crc) = bytes.split_at(bytes.len() - 4);
    let stored = u32::from_le_bytes(crc.try_into().map_err(|_| reject("truncated"))?);
    if crc32fast::hash(body) != stored {
        return Err(reject(
            "the checksum does not match: the file is corrupted or truncated",
        ));
    }
    let header_len =
        u32::from_le_bytes(body[8..12].try_into().map_err(|_| reject("truncated"))?) as usize;
    let header_end = 12usize
        .checked_add(header_len)
        .filter(|end| *end <= body.len())
        .ok_or_else(|| reject("header length out of range"))?;
    let header: Header = serde_json::from_slice(&body[12..header_end])
        .map_err(|e| reject(format!("unreadable header: {e}")))?;
    Ok((header, &body[header_end..]))
}

/// Rebuilds a trainer from checkpoint bytes on `device`: same data, weights, EMA, optimizer
/// state and step. A mismatched or corrupted file is refused with a message.
pub fn load(bytes: &[u8], device: &Device) -> Result<Trainer, EngineError> {
    let (header, payload) = parse(bytes)?;
    if payload.len() % 4 != 0 {
        return Err(reject("payload is not a whole number of f32 values"));
    }
    let floats: Vec<f32> = payload
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect();
    if floats.iter().any(|v| !v.is_finite()) {
        return Err(reject("the checkpoint holds non-finite weights"));
    }
    let mut trainer = Trainer::new(header.config.clone(), device)?;
    let live = ordered(&trainer.model);
    let shapes: Vec<Vec<usize>> = live.iter().map(|(_, s, _)| s.clone()).collect();
    if shapes != header.shapes {
        return Err(reject(format!(
            "the network shapes differ from the configuration's ({} tensors stored, {} expected)",
            header.shapes.len(),
            shapes.len()
        )));
    }
    let sizes: Vec<usize> = shapes.iter().map(|s| s.iter().product()).collect();
    let per_copy: usize = sizes.iter().sum();
    if floats.len() != 4 * per_copy {
        return Err(reject(format!(
            "{} values stored, {} expected",
            floats.len(),
            4 * per_copy
        )));
    }
    let mut chunks = Vec::new();
    let mut offset = 0;
    for _copy in 0..2 {
        for size in &sizes {
            chunks.push(floats[offset..offset + size].to_vec());
            offset += size;
        }
    }
    let ema_values = chunks.split_off(sizes.len());
    let live_values = chunks;
    let plain = trainer.device().clone().without_autodiff();
    trainer.model = trainer.model.clone().map(&mut Load {
        values: live_values.into_iter(),
        device: plain.clone(),
        autodiff: true,
    });
    trainer.ema = trainer.ema.clone().map(&mut Load {
        values: ema_values.into_iter(),
        device: plain.clone(),
        autodiff: false,
    });
    let mut moments = HashMap::new();
    for ((id, _, _), size) in ordered(&trainer.model).iter().zip(&sizes) {
        let take = |offset: usize| {
            Tensor::<1>::from_data(
                TensorData::new(floats[offset..offset + size].to_vec(), [*size]),
                &plain,
            )
        };
        let m = take(offset);
        let v = take(offset + size);
        offset += 2 * size;
        moments.insert(*id, Moments { m, v });
    }
    trainer.adam.moments = moments;
    trainer.adam.t = header.adam_t;
    trainer.step = header.step;
    trainer.standardizer = Standardizer {
        mean: header.standardizer_mean,
        std: header.standardizer_std,
    };
    Ok(trainer)
}
