//! The denoiser network: an MLP on z, Fourier features of z and an embedding of λ (the shape of
//! the VDM 2D colab network: swish units, Fourier features of the input).

use burn::nn::{Initializer, Linear, LinearConfig};
use burn::prelude::*;
use burn::tensor::activation::{sigmoid, silu};

use super::MlpConfig;
// The input embedding is defined once, beside the fused kernel that must compute it identically.
use crate::gpu::mlp_train::layout::{lambda_frequencies, LAMBDA_SCALE};

#[derive(Module, Debug)]
pub struct Mlp {
    input: Linear,
    hidden: Vec<Linear>,
    output: Linear,
    dim: usize,
    fourier_octaves: usize,
    lambda_frequencies: usize,
}

impl Mlp {
    pub fn new(config: &MlpConfig, dim: usize, device: &Device) -> Self {
        let features = dim + 2 * dim * config.fourier_octaves + 2 * config.lambda_frequencies + 1;
        Self {
            input: LinearConfig::new(features, config.width).init(device),
            hidden: (1..config.depth)
                .map(|_| LinearConfig::new(config.width, config.width).init(device))
                .collect(),
            // Zero output: the untrained model predicts 0, a calm start for every target.
            output: LinearConfig::new(config.width, dim)
                .with_initializer(Initializer::Zeros)
                .init(device),
            dim,
            fourier_octaves: config.fourier_octaves,
            lambda_frequencies: config.lambda_frequencies,
        }
    }

    pub fn dim(&self) -> usize {
        self.dim
    }

    /// z: [B, d] (standardised space), lambda: [B, 1] → the prediction of the chosen target, [B, d].
    pub fn forward(&self, z: Tensor<2>, lambda: Tensor<2>) -> Tensor<2> {
        let mut h = silu(self.input.forward(self.features(z, lambda)));
        for layer in &self.hidden {
            h = silu(layer.forward(h));
        }
        self.output.forward(h)
    }

    /// The prediction and its directional derivative along `dz` (forward-mode differentiation:
    /// the tangent is carried through every layer next to the value). Exact up to rounding, and
    /// needs no autodiff graph, so it runs on the inference device in the page as natively;
    /// `d` calls with the unit directions give the full Jacobian of a d-dimensional model.
    pub fn forward_with_tangent(
        &self,
        z: Tensor<2>,
        lambda: Tensor<2>,
        dz: Tensor<2>,
    ) -> (Tensor<2>, Tensor<2>) {
        let tangent = self.feature_tangent(&z, dz, lambda.dims()[1]);
        let features = self.features(z, lambda);
        let (mut h, mut dh) = silu_with_tangent(
            self.input.forward(features),
            tangent.matmul(self.input.weight.val()),
        );
        for layer in &self.hidden {
            (h, dh) = silu_with_tangent(layer.forward(h), dh.matmul(layer.weight.val()));
        }
        let dy = dh.matmul(self.output.weight.val());
        (self.output.forward(h), dy)
    }

    /// The network's input: z, sin/cos of z at octave frequencies 1, 2, 4, …, sin/cos of λ at
    /// geometric frequencies, and λ itself (scaled).
    fn features(&self, z: Tensor<2>, lambda: Tensor<2>) -> Tensor<2> {
        let mut parts = vec![z.clone()];
        if self.fourier_octaves > 0 {
            let phase = self.fourier_phase(&z);
            parts.push(phase.clone().sin());
            parts.push(phase.cos());
        }
        if self.lambda_frequencies > 0 {
            let n = self.lambda_frequencies;
            let freqs = lambda_frequencies(n);
            let freqs =
                Tensor::<1>::from_floats(freqs.as_slice(), &lambda.device()).reshape([1, n]);
            let phase = lambda.clone() * freqs;
            parts.push(phase.clone().sin());
            parts.push(phase.cos());
        }
        parts.push(lambda.div_scalar(LAMBDA_SCALE));
        Tensor::cat(parts, 1)
    }

    /// z·2^k for every coordinate and octave, [B, d·octaves] (coordinate-major).
    fn fourier_phase(&self, z: &Tensor<2>) -> Tensor<2> {
        let [batch, dim] = z.dims();
        let freqs: Vec<f32> = (0..self.fourier_octaves)
            .map(|k| (1u32 << k) as f32)
            .collect();
        let freqs = Tensor::<1>::from_floats(freqs.as_slice(), &z.device()).reshape([
            1,
            1,
            self.fourier_octaves,
        ]);
        (z.clone().unsqueeze_dim::<3>(2) * freqs).reshape([batch, dim * self.fourier_octaves])
    }

    /// d(features) along dz: the λ inputs do not depend on z, so their tangent is zero.
    fn feature_tangent(&self, z: &Tensor<2>, dz: Tensor<2>, lambda_columns: usize) -> Tensor<2> {
        let [batch, _] = z.dims();
        let device = z.device();
        let mut parts = vec![dz.clone()];
        if self.fourier_octaves > 0 {
            let phase = self.fourier_phase(z);
            let dphase = self.fourier_phase(&dz);
            parts.push(phase.clone().cos() * dphase.clone());
            parts.push(-(phase.sin() * dphase));
        }
        let constant = 2 * self.lambda_frequencies * lambda_columns + lambda_columns;
        parts.push(Tensor::zeros([batch, constant], &device));
        Tensor::cat(parts, 1)
    }
}

/// silu(a) = a·s(a) with s = sigmoid, and its tangent silu'(a)·da = s(a)(1 + a(1 − s(a)))·da.
fn silu_with_tangent(a: Tensor<2>, da: Tensor<2>) -> (Tensor<2>, Tensor<2>) {
    let s = sigmoid(a.clone());
    let slope = s.clone() * (a.clone() * (s.clone().neg() + 1.0) + 1.0);
    (a * s, slope * da)
}
