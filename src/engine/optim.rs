//! Adam with global-norm gradient clipping (App. H: Adam defaults, clip at 1) and an EMA of the
//! weights. Written here rather than taken from burn so that its state is plain tensors the page
//! can read back asynchronously into a checkpoint (burn's optimizer export reads synchronously,
//! which the browser forbids).

use std::collections::HashMap;

use burn::module::{ModuleMapper, ModuleVisitor, Param, ParamId};
use burn::optim::GradientsParams;
use burn::prelude::*;

/// Adam's first and second moments of one parameter, flattened.
#[derive(Debug, Clone)]
pub struct Moments {
    pub m: Tensor<1>,
    pub v: Tensor<1>,
}

#[derive(Debug, Clone)]
pub struct Adam {
    pub beta1: f64,
    pub beta2: f64,
    pub epsilon: f64,
    /// Steps taken (for the bias correction).
    pub t: u64,
    pub moments: HashMap<ParamId, Moments>,
}

impl Default for Adam {
    fn default() -> Self {
        Self {
            beta1: 0.9,
            beta2: 0.999,
            epsilon: 1e-8,
            t: 0,
            moments: HashMap::new(),
        }
    }
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
    lr: f64,
}

impl ModuleMapper for AdamStep<'_> {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        let Some(grad) = self.grads.remove::<D>(param.id) else {
            return param;
        };
        let id = param.id;
        let (b1, b2) = (self.adam.beta1, self.adam.beta2);
        let t = self.adam.t as i32;
        let shape = grad.dims();
        let n: usize = shape.iter().product();
        let g = grad.reshape([n]) * self.scale.clone();
        let (m, v) = match self.adam.moments.remove(&id) {
            Some(Moments { m, v }) => (m, v),
            None => (g.zeros_like(), g.zeros_like()),
        };
        let m = m.mul_scalar(b1) + g.clone().mul_scalar(1.0 - b1);
        let v = v.mul_scalar(b2) + g.square().mul_scalar(1.0 - b2);
        // Bias-corrected step, folded into one step size (Kingma & Ba, Alg. 1).
        let step = self.lr * (1.0 - b2.powi(t)).sqrt() / (1.0 - b1.powi(t));
        let eps_hat = self.adam.epsilon * (1.0 - b2.powi(t)).sqrt();
        let update = (m.clone() / (v.clone().sqrt().add_scalar(eps_hat))).mul_scalar(step);
        self.adam.moments.insert(id, Moments { m, v });
        param.map(|value| {
            let inner = value.inner();
            let updated = inner - update.reshape(shape);
            Tensor::from_inner(updated).require_grad()
        })
    }
}

impl Adam {
    /// One Adam step on `model` with its gradients, after clipping their global norm to `clip`.
    pub fn step<M: Module>(
        &mut self,
        model: M,
        mut grads: GradientsParams,
        lr: f64,
        clip: f64,
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
            .mul_scalar(clip)
            .clamp_max(1.0);
        self.t += 1;
        let mut mapper = AdamStep {
            adam: self,
            grads: &mut grads,
            scale,
            lr,
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
