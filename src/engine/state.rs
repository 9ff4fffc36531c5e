//! The training state in one memory layout: weights, Adam's moments and the EMA weights as one
//! flat f32 slab, with the step counters and the position of the noise stream. Checkpoints write
//! it, the fused WGSL step holds it in its arena in the same order, and every step engine reads
//! and loads it, so there is one flattening and one unflattening of a network.

use std::collections::HashMap;

use burn::module::{ModuleMapper, ModuleVisitor, Param, ParamId};
use burn::prelude::*;
use rand::SeedableRng;
use rand_chacha::ChaCha12Rng;

use super::model::Denoiser;
use super::optim::{Adam, Moments};
use super::EngineError;

/// The copies of the parameter vector in the slab, in this order (the fused step's arena keeps
/// them contiguous in the same order, see `gpu::mlp_train::layout`).
pub const COPIES: [&str; 4] = ["weights", "adam_m", "adam_v", "ema"];

/// The trainer's noise and batch stream: ChaCha12, the generator behind `rand`'s `StdRng`, used
/// directly because it can say where it is in its stream (so a resumed run continues it).
pub type TrainRng = ChaCha12Rng;

/// The trainer's stream for `seed`: separate from the data split's, so changing the number of
/// training points does not change the noise.
pub fn train_rng(seed: u64) -> TrainRng {
    TrainRng::seed_from_u64(seed ^ 0x5eed_5eed_5eed_5eed)
}

/// Everything needed to continue a run exactly where it stopped.
#[derive(Debug, Clone, PartialEq)]
pub struct TrainState {
    /// Parameter shapes in the network's visiting order (burn's, and the fused arena's).
    pub shapes: Vec<Vec<usize>>,
    /// `[weights | adam_m | adam_v | ema]`, each the parameters flattened in `shapes` order.
    pub values: Vec<f32>,
    /// Optimisation steps taken (the EMA warm-up's clock).
    pub step: u64,
    /// Adam's step count (its bias correction).
    pub adam_t: u64,
    /// Words of the trainer's ChaCha stream consumed so far.
    pub rng_word_pos: u128,
}

impl TrainState {
    /// Parameters per copy.
    pub fn n_params(&self) -> usize {
        self.values.len() / COPIES.len()
    }

    fn copy(&self, index: usize) -> &[f32] {
        let n = self.n_params();
        &self.values[index * n..(index + 1) * n]
    }

    pub fn weights(&self) -> &[f32] {
        self.copy(0)
    }

    pub fn adam_m(&self) -> &[f32] {
        self.copy(1)
    }

    pub fn adam_v(&self) -> &[f32] {
        self.copy(2)
    }

    pub fn ema(&self) -> &[f32] {
        self.copy(3)
    }

    /// Checks that the slab holds four copies of a network with these parameter shapes.
    pub fn check(&self, shapes: &[Vec<usize>]) -> Result<(), StateMismatch> {
        if self.shapes != shapes {
            return Err(StateMismatch::Shapes {
                stored: self.shapes.len(),
                expected: shapes.len(),
            });
        }
        let per_copy = parameter_count(shapes);
        if self.values.len() != COPIES.len() * per_copy {
            return Err(StateMismatch::Length {
                stored: self.values.len(),
                expected: COPIES.len() * per_copy,
            });
        }
        Ok(())
    }
}

/// Why a state does not fit a network.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum StateMismatch {
    #[error("the network shapes differ ({stored} tensors stored, {expected} expected)")]
    Shapes { stored: usize, expected: usize },
    #[error("{stored} values stored, {expected} expected")]
    Length { stored: usize, expected: usize },
}

/// Parameters of a network with these parameter shapes: the length of one copy in the slab.
pub fn parameter_count(shapes: &[Vec<usize>]) -> usize {
    shapes.iter().map(|s| s.iter().product::<usize>()).sum()
}

/// A module's parameters in visiting order (stable for a given network shape), flattened and
/// detached from autodiff.
pub(crate) fn ordered(module: &impl Module) -> Vec<(ParamId, Vec<usize>, Tensor<1>)> {
    struct Ordered(Vec<(ParamId, Vec<usize>, Tensor<1>)>);
    impl ModuleVisitor for Ordered {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            let value = param.val().without_autodiff();
            let shape = value.dims().to_vec();
            let n: usize = shape.iter().product();
            self.0.push((param.id, shape, value.reshape([n])));
        }
    }
    let mut visitor = Ordered(Vec::new());
    module.visit(&mut visitor);
    visitor.0
}

/// The parameter shapes of a module, in visiting order.
pub fn shapes_of(module: &impl Module) -> Vec<Vec<usize>> {
    ordered(module).into_iter().map(|(_, s, _)| s).collect()
}

/// The burn side of a state: the live model, its EMA and Adam's moments, flattened into one
/// tensor in the slab's order, ready for one asynchronous readback.
pub(crate) fn burn_slab(model: &Denoiser, ema: &Denoiser, adam: &Adam) -> Tensor<1> {
    let live = ordered(model);
    let mut m = Vec::with_capacity(live.len());
    let mut v = Vec::with_capacity(live.len());
    for (id, _, t) in &live {
        match adam.moments.get(id) {
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
    all.extend(ordered(ema).into_iter().map(|(_, _, t)| t));
    Tensor::cat(all, 0)
}

/// Replaces a module's parameter values, in visiting order, from flat pieces.
struct Load {
    values: std::vec::IntoIter<Vec<f32>>,
    device: Device,
    autodiff: bool,
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

/// Splits one flat copy into per-tensor pieces.
fn pieces(values: &[f32], shapes: &[Vec<usize>]) -> Vec<Vec<f32>> {
    let mut at = 0;
    shapes
        .iter()
        .map(|shape| {
            let n: usize = shape.iter().product();
            let piece = values[at..at + n].to_vec();
            at += n;
            piece
        })
        .collect()
}

/// A module with its parameters set, on `device`, from one flat copy in visiting order; on an
/// autodiff device they require gradients (ready to train).
pub fn load_module<M: Module>(module: M, values: &[f32], device: &Device) -> M {
    let shapes = shapes_of(&module);
    module.map(&mut Load {
        values: pieces(values, &shapes).into_iter(),
        device: device.clone().without_autodiff(),
        autodiff: device.is_autodiff(),
    })
}

/// Every parameter of a module flattened into one tensor, in visiting order (one readback).
pub(crate) fn flat_parameters(module: &impl Module) -> Tensor<1> {
    Tensor::cat(ordered(module).into_iter().map(|(_, _, t)| t).collect(), 0)
}

/// Writes a state into burn's live model (requiring gradients), its EMA and Adam's moments.
pub(crate) fn load_burn(
    state: &TrainState,
    model: &mut Denoiser,
    ema: &mut Denoiser,
    adam: &mut Adam,
    plain: &Device,
) -> Result<(), EngineError> {
    let shapes = shapes_of(model);
    state.check(&shapes)?;
    *model = model.clone().map(&mut Load {
        values: pieces(state.weights(), &shapes).into_iter(),
        device: plain.clone(),
        autodiff: true,
    });
    *ema = load_module(ema.clone(), state.ema(), plain);
    let m = pieces(state.adam_m(), &shapes);
    let v = pieces(state.adam_v(), &shapes);
    let mut moments = HashMap::new();
    for (((id, _, _), m), v) in ordered(model).into_iter().zip(m).zip(v) {
        let n = m.len();
        let tensor = |values: Vec<f32>| Tensor::<1>::from_data(TensorData::new(values, [n]), plain);
        moments.insert(
            id,
            Moments {
                m: tensor(m),
                v: tensor(v),
            },
        );
    }
    adam.moments = moments;
    Ok(())
}
