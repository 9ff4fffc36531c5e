//! −ELBO in bits per dimension for a trained model on held-out data, with its three terms
//! (VDM's prior, reconstruction and diffusion losses), reported for the data as given.
//!
//! −ELBO(x) = KL(q(z_1|x) ‖ N(0, I)) + E[−log p(x|z_0)] + ½ ∫ E_ε‖ε − ε̂(z_λ; λ)‖² dλ
//! (see `theory::identity`; with the exact denoiser it equals −log q(x)). The diffusion integral
//! is estimated with stratified λ ~ U[λ_min, λ_max] per point. The model works on standardised
//! data, so the log-Jacobian Σ_j log std_j of the standardisation is added: that makes the bits/dim
//! comparable with the true density of the data as given.

use rand::{rngs::StdRng, Rng, SeedableRng};
use rand_distr::StandardNormal;
use serde::Serialize;

use super::train::Trainer;
use super::EngineError;
use crate::theory::identity::{prior_kl, reconstruction};
use crate::theory::param::Vp;

/// Stratified λ samples per held-out point for the diffusion term.
const LAMBDA_SAMPLES: usize = 16;

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct BitsPerDim {
    pub bpd: f64,
    pub bpd_prior: f64,
    pub bpd_recon: f64,
    pub bpd_diffusion: f64,
    /// Σ_j log std_j / (d ln 2): from standardised space back to the data as given.
    pub bpd_jacobian: f64,
    /// Monte Carlo standard error of `bpd` (from the spread over points).
    pub bpd_stderr: f64,
}

/// The Monte Carlo design of the estimate: for each (standardised) point, LAMBDA_SAMPLES
/// stratified λ's, and for each an ε; the denoiser is then asked for ε̂ at every row.
pub struct ElboRows {
    pub points: Vec<[f64; 2]>,
    pub lambda_min: f64,
    pub lambda_max: f64,
    /// z_λ per row, row-major [rows, 2] (f32: what the network sees).
    pub z: Vec<f32>,
    pub lambda: Vec<f64>,
    eps: Vec<f64>,
}

impl ElboRows {
    pub fn new(points: Vec<[f64; 2]>, lambda_min: f64, lambda_max: f64, seed: u64) -> Self {
        let mut rng = StdRng::seed_from_u64(seed);
        let rows = points.len() * LAMBDA_SAMPLES;
        let (mut z, mut lambda, mut eps) = (
            Vec::with_capacity(2 * rows),
            Vec::with_capacity(rows),
            Vec::with_capacity(2 * rows),
        );
        for x in &points {
            let u0: f64 = rng.random();
            for k in 0..LAMBDA_SAMPLES {
                let u = (u0 + k as f64 / LAMBDA_SAMPLES as f64).fract();
                let l = lambda_min + u * (lambda_max - lambda_min);
                let vp = Vp::new(l);
                for &xj in x {
                    let e: f64 = rng.sample(StandardNormal);
                    z.push(vp.z(xj, e) as f32);
                    eps.push(e);
                }
                lambda.push(l);
            }
        }
        Self {
            points,
            lambda_min,
            lambda_max,
            z,
            lambda,
            eps,
        }
    }

    /// −ELBO terms (nats, standardised space) from the denoiser's ε̂ at every row, then bits/dim
    /// for the data as given (`log_std_sum` = Σ_j log std_j of the standardisation).
    pub fn finish(&self, eps_hat: &[f64], log_std_sum: f64) -> Result<BitsPerDim, EngineError> {
        if eps_hat.len() != self.eps.len() {
            return Err(EngineError::Sample(format!(
                "{} ε̂ values for {} rows",
                eps_hat.len(),
                self.eps.len()
            )));
        }
        let (mut total, mut total_sq, mut prior_sum, mut diffusion_sum) = (0.0, 0.0, 0.0, 0.0);
        let recon = reconstruction(2, self.lambda_max);
        for (i, x) in self.points.iter().enumerate() {
            let rows = i * LAMBDA_SAMPLES * 2..(i + 1) * LAMBDA_SAMPLES * 2;
            let sq: f64 = self.eps[rows.clone()]
                .iter()
                .zip(&eps_hat[rows])
                .map(|(e, h)| (e - h).powi(2))
                .sum();
            // ½ ∫ f dλ ≈ ½ (λ_max − λ_min) · the mean over the λ samples.
            let diffusion = 0.5 * (self.lambda_max - self.lambda_min) * sq / LAMBDA_SAMPLES as f64;
            let prior = prior_kl(x, self.lambda_min);
            let nats = prior + recon + diffusion;
            prior_sum += prior;
            diffusion_sum += diffusion;
            total += nats;
            total_sq += nats * nats;
        }
        let n = self.points.len() as f64;
        let to_bpd = 1.0 / (2.0 * std::f64::consts::LN_2);
        let mean = total / n;
        let variance = (total_sq / n - mean * mean).max(0.0);
        Ok(BitsPerDim {
            bpd: (mean + log_std_sum) * to_bpd,
            bpd_prior: prior_sum / n * to_bpd,
            bpd_recon: recon * to_bpd,
            bpd_diffusion: diffusion_sum / n * to_bpd,
            bpd_jacobian: log_std_sum * to_bpd,
            bpd_stderr: (variance / n).sqrt() * to_bpd,
        })
    }
}

/// −ELBO in bits/dim averaged over `points` (data space), with the EMA model.
pub async fn bits_per_dim(
    trainer: &Trainer,
    points: &[[f64; 2]],
    seed: u64,
) -> Result<BitsPerDim, EngineError> {
    if points.is_empty() {
        return Err(EngineError::Data("no held-out points to evaluate".into()));
    }
    let config = &trainer.config;
    let standardised: Vec<[f64; 2]> = points
        .iter()
        .map(|p| trainer.standardizer.forward(*p))
        .collect();
    let rows = ElboRows::new(standardised, config.lambda_min, config.lambda_max, seed);
    let eps_hat = super::tensor_sampler::eps_hat_rows(trainer, &rows.z, &rows.lambda).await?;
    rows.finish(&eps_hat, -trainer.standardizer.log_abs_det_jacobian())
}
