//! Adam with global-norm gradient clipping (App. H: Adam defaults, clip at 1) and an EMA of the
//! weights. Written here rather than taken from burn so that its state is plain tensors the page
//! can read back asynchronously into a checkpoint (burn's optimizer export reads synchronously,
//! which the browser forbids).

use std::collections::HashMap;

use burn::module::{ModuleMapper, ModuleVisitor, Param, ParamId};
use burn::optim::GradientsParams;
use burn::prelude::*;

use crate::gpu::mlp_train::layout::Step;

/// Adam's first and second moments of one parameter, flattened.
#[derive(Debug, Clone)]
pub struct Moments {
    pub m: Tensor<1>,
    pub v: Tensor<1>,
}

/// Adam's constants (App. H: Kingma & Ba's defaults). The fused WGSL step receives them through
/// [`StepScalars::fused`], so burn and the kernel cannot drift apart.
pub const BETA1: f64 = 0.9;
pub const BETA2: f64 = 0.999;
pub const EPSILON: f64 = 1e-8;

/// The EMA's decay after `steps_before` steps: min(decay, (1 + n)/(10 + n)). Early on the average
/// follows the model instead of its (zero-output) initialisation, which would otherwise linger
/// for ~1/(1 − decay) steps.
pub fn ema_decay_at(decay: f64, steps_before: u64) -> f64 {
    let n = steps_before as f64;
    decay.min((1.0 + n) / (10.0 + n))
}

/// Everything one optimisation step needs besides the gradients, computed once per step on the
/// host for whichever step engine runs it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StepScalars {
    /// Adam's step count after this step's increment.
    pub t: u64,
    /// lr·√(1 − β₂ᵗ)/(1 − β₁ᵗ): the bias-corrected step folded into one size (Kingma & Ba, Alg. 1).
    pub step_size: f64,
    /// ε·√(1 − β₂ᵗ), the ε that goes with `step_size`.
    pub eps_hat: f64,
    /// This step's EMA decay (with the warm-up).
    pub ema_decay: f64,
    /// Global gradient-norm clip.
    pub clip: f64,
}

impl StepScalars {
    /// `t` is Adam's step count after this step's increment, `steps_before` the trainer's step
    /// count before it (the EMA warm-up's clock).
    pub fn new(t: u64, steps_before: u64, lr: f64, ema_decay: f64, clip: f64) -> Self {
        let ti = t.min(i32::MAX as u64) as i32;
        let correction = (1.0 - BETA2.powi(ti)).sqrt();
        Self {
            t,
            step_size: lr * correction / (1.0 - BETA1.powi(ti)),
            eps_hat: EPSILON * correction,
            ema_decay: ema_decay_at(ema_decay, steps_before),
            clip,
        }
    }

    /// The same scalars as the fused WGSL step's per-step uniform.
    pub fn fused(&self) -> Step {
        Step {
            slot: 0,
            step_size: self.step_size as f32,
            eps_hat: self.eps_hat as f32,
            ema_decay: self.ema_decay as f32,
            beta1: BETA1 as f32,
            beta2: BETA2 as f32,
            clip: self.clip as f32,
            _pad: 0,
        }
    }
}

/// Adam's moments per parameter; its step count and constants live in [`StepScalars`].
#[derive(Debug, Clone, Default)]
pub struct Adam {
    pub moments: HashMap<ParamId, Moments>,
}

/// Σ‖g‖² over all parameters, as a device scalar (no readback).
struct SquaredNorm<'a> {
    grads: &'a GradientsParams,
    total: Option<Tensor<1>>,
}

impl ModuleVisitor for SquaredNorm<'_> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        if let Some(g) = self.grads.get::<D>(param.id) {
            let s = g.square().sum();
            self.total = Some(match self.total.take() {
                Some(total) => total + s,
                None => s,
            });
        }
    }
}

struct AdamStep<'a> {
    adam: &'a mut Adam,
    grads: &'a mut GradientsParams,
    /// min(1, clip / ‖g‖): applied to every gradient (global-norm clipping).
    scale: Tensor<1>,
    scalars: &'a StepScalars,
}

impl ModuleMapper for AdamStep<'_> {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        let Some(grad) = self.grads.remove::<D>(param.id) else {
            return param;
        };
        let id = param.id;
        let (b1, b2) = (BETA1, BETA2);
        let shape = grad.dims();
        let n: usize = shape.iter().product();
        let g = grad.reshape([n]) * self.scale.clone();
        let (m, v) = match self.adam.moments.remove(&id) {
            Some(Moments { m, v }) => (m, v),
            None => (g.zeros_like(), g.zeros_like()),
        };
        let m = m.mul_scalar(b1) + g.clone().mul_scalar(1.0 - b1);
        let v = v.mul_scalar(b2) + g.square().mul_scalar(1.0 - b2);
        let update = (m.clone() / (v.clone().sqrt().add_scalar(self.scalars.eps_hat)))
            .mul_scalar(self.scalars.step_size);
        self.adam.moments.insert(id, Moments { m, v });
        param.map(|value| {
            let inner = value.inner();
            let updated = inner - update.reshape(shape);
            Tensor::from_inner(updated).require_grad()
        })
    }
}

impl Adam {
    /// One Adam step on `model` with its gradients, after clipping their global norm.
    pub fn step<M: Module>(
        &mut self,
        model: M,
        mut grads: GradientsParams,
        scalars: &StepScalars,
    ) -> M {
        let mut norm = SquaredNorm {
            grads: &grads,
            total: None,
        };
        model.visit(&mut norm);
        let Some(squared) = norm.total else {
            return model;
        };
        // min(1, clip/‖g‖) on the device; the tiny floor keeps a zero gradient finite.
        let scale = squared
            .sqrt()
            .add_scalar(1e-12)
            .recip()
            .mul_scalar(scalars.clip)
            .clamp_max(1.0);
        let mut mapper = AdamStep {
            adam: self,
            grads: &mut grads,
            scale,
            scalars,
        };
        model.map(&mut mapper)
    }
}

/// Parameter values by id, detached from autodiff.
pub struct ParamValues(pub HashMap<ParamId, Tensor<1>>);

impl ModuleVisitor for ParamValues {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        let value = param.val().inner();
        let n: usize = value.dims().iter().product();
        self.0.insert(param.id, value.reshape([n]));
    }
}

/// ema ← decay·ema + (1 − decay)·live, matched by parameter id.
struct EmaUpdate {
    live: HashMap<ParamId, Tensor<1>>,
    decay: f64,
}

impl ModuleMapper for EmaUpdate {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        let Some(live) = self.live.remove(&param.id) else {
            return param;
        };
        let decay = self.decay;
        param.map(|ema| {
            let shape = ema.dims();
            ema.mul_scalar(decay) + live.reshape(shape).mul_scalar(1.0 - decay)
        })
    }
}

/// Moves the (non-autodiff) EMA model towards the live model's current weights.
pub fn ema_update<M: Module>(ema: M, live: &impl Module, decay: f64) -> M {
    let mut values = ParamValues(HashMap::new());
    live.visit(&mut values);
    ema.map(&mut EmaUpdate {
        live: values.0,
        decay,
    })
}
