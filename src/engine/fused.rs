//! The bridge between the burn trainer and the fused WGSL step (gpu/mlp_train): the network's
//! shape, and its weights, EMA and Adam moments copied between burn modules and the GPU arena.

use std::collections::HashMap;

use burn::prelude::*;

use super::checkpoint::{ordered, Load};
use super::config::TrainConfig;
use super::optim::Moments;
use super::train::Trainer;
use super::EngineError;
use crate::gpu::mlp_train::layout::MlpShape;
use crate::gpu::mlp_train::MlpState;
use crate::gpu::GpuError;

/// The fused step's view of the network `config` describes (model.rs, 2D data).
pub fn shape(config: &TrainConfig) -> MlpShape {
    MlpShape {
        dim: 2,
        width: config.model.width,
        depth: config.model.depth,
        fourier_octaves: config.model.fourier_octaves,
        lambda_frequencies: config.model.lambda_frequencies,
        batch: config.batch,
    }
}

pub fn device_error(e: GpuError) -> EngineError {
    EngineError::Device(e.to_string())
}

/// Checks that burn's parameters come in the order and shapes the arena assumes.
fn check_shapes(trainer: &Trainer) -> Result<Vec<usize>, EngineError> {
    let burn_shapes: Vec<Vec<usize>> = ordered(&trainer.model)
        .into_iter()
        .map(|(_, s, _)| s)
        .collect();
    let expected = shape(&trainer.config).parameter_shapes();
    if burn_shapes != expected {
        return Err(EngineError::Device(format!(
            "the fused step expects parameters {expected:?}, the model has {burn_shapes:?}"
        )));
    }
    Ok(expected.iter().map(|s| s.iter().product()).collect())
}

/// The trainer's burn weights, EMA and Adam moments, flattened in parameter order (one
/// asynchronous readback).
pub async fn host_state(trainer: &Trainer) -> Result<MlpState, EngineError> {
    check_shapes(trainer)?;
    let live = ordered(&trainer.model);
    let ema = ordered(&trainer.ema);
    let mut m = Vec::new();
    let mut v = Vec::new();
    for (id, _, t) in &live {
        match trainer.adam.moments.get(id) {
            Some(moments) => {
                m.push(moments.m.clone());
                v.push(moments.v.clone());
            }
            None => {
                m.push(t.zeros_like());
                v.push(t.zeros_like());
            }
        }
    }
    let mut all: Vec<Tensor<1>> = live.into_iter().map(|(_, _, t)| t).collect();
    all.extend(m);
    all.extend(v);
    all.extend(ema.into_iter().map(|(_, _, t)| t));
    let values = super::read_f32(Tensor::cat(all, 0)).await?;
    let p = values.len() / 4;
    Ok(MlpState {
        params: values[..p].to_vec(),
        adam_m: values[p..2 * p].to_vec(),
        adam_v: values[2 * p..3 * p].to_vec(),
        ema: values[3 * p..].to_vec(),
    })
}

/// Splits a flat parameter vector into per-tensor pieces.
fn pieces(values: &[f32], sizes: &[usize]) -> Vec<Vec<f32>> {
    let mut at = 0;
    sizes
        .iter()
        .map(|n| {
            let piece = values[at..at + n].to_vec();
            at += n;
            piece
        })
        .collect()
}

/// Writes the fused step's state into the trainer's burn modules and Adam moments.
pub fn load_host_state(trainer: &mut Trainer, state: MlpState) -> Result<(), EngineError> {
    let sizes = check_shapes(trainer)?;
    let total: usize = sizes.iter().sum();
    if [&state.params, &state.adam_m, &state.adam_v, &state.ema]
        .iter()
        .any(|v| v.len() != total)
    {
        return Err(EngineError::Device(
            "the fused step returned a state of the wrong size".into(),
        ));
    }
    let plain = trainer.device().clone().without_autodiff();
    trainer.model = trainer.model.clone().map(&mut Load {
        values: pieces(&state.params, &sizes).into_iter(),
        device: plain.clone(),
        autodiff: true,
    });
    trainer.ema = trainer.ema.clone().map(&mut Load {
        values: pieces(&state.ema, &sizes).into_iter(),
        device: plain.clone(),
        autodiff: false,
    });
    let m = pieces(&state.adam_m, &sizes);
    let v = pieces(&state.adam_v, &sizes);
    let mut moments = HashMap::new();
    for (((id, _, _), m), v) in ordered(&trainer.model).into_iter().zip(m).zip(v) {
        let n = m.len();
        let tensor =
            |values: Vec<f32>| Tensor::<1>::from_data(TensorData::new(values, [n]), &plain);
        moments.insert(
            id,
            Moments {
                m: tensor(m),
                v: tensor(v),
            },
        );
    }
    trainer.adam.moments = moments;
    Ok(())
}
