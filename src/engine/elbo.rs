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

use super::sample::SampleError;
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
    /// Whether these are bits of the 8-bit data's probability mass (discrete decoder).
    pub discrete: bool,
}

/// The decoder p(x|z_0) of the reconstruction term.
#[derive(Debug, Clone, PartialEq)]
pub enum Decoder {
    /// Continuous data: Gaussian decoder; `log_std_sum` = Σ_j log std_j of the standardisation.
    Gaussian { log_std_sum: f64 },
    /// 8-bit data: the levels of each coordinate in standardised units.
    Discrete { levels: [Vec<f64>; 2] },
}

impl Decoder {
    /// VDM's decoder for `swirl`'s grid (256 levels in [-1, 1]) under `standardizer`.
    pub fn swirl(standardizer: &crate::data::Standardizer) -> Self {
        use crate::data::toy2d::swirl_value;
        let levels = [0, 1].map(|j| {
            (0..=255u8)
                .map(|k| (swirl_value(k) - standardizer.mean[j]) / standardizer.std[j])
                .collect()
        });
        Self::Discrete { levels }
    }
}

/// E_{z_0 ~ q(z_0|x)}[−log P(x | z_0)] for one point under the discrete decoder, estimated with
/// the given ε per coordinate: the level of x_j is the nearest in `levels[j]`.
fn discrete_reconstruction(
    x: &[f64; 2],
    eps: &[f64; 2],
    levels: &[Vec<f64>; 2],
    lambda_max: f64,
) -> f64 {
    let vp = Vp::new(lambda_max);
    let mut nats = 0.0;
    for j in 0..2 {
        let z = vp.z(x[j], eps[j]);
        let own = levels[j]
            .iter()
            .copied()
            .min_by(|a, b| (a - x[j]).abs().total_cmp(&(b - x[j]).abs()))
            .unwrap_or(x[j]);
        // log-softmax of −(z − α s_k)²/(2σ²) at the point's own level.
        let logit = |s: f64| -0.5 * ((z - vp.alpha * s) / vp.sigma).powi(2);
        let max = levels[j]
            .iter()
            .map(|s| logit(*s))
            .fold(f64::NEG_INFINITY, f64::max);
        let log_norm = max
            + levels[j]
                .iter()
                .map(|s| (logit(*s) - max).exp())
                .sum::<f64>()
                .ln();
        nats += log_norm - logit(own);
    }
    nats
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
    /// for the data as given, with the reconstruction term of `decoder`.
    pub fn finish(&self, eps_hat: &[f64], decoder: &Decoder) -> Result<BitsPerDim, EngineError> {
        if eps_hat.len() != self.eps.len() {
            return Err(SampleError::Denoiser(format!(
                "{} ε̂ values for {} rows",
                eps_hat.len(),
                self.eps.len()
            ))
            .into());
        }
        let (mut total, mut total_sq, mut prior_sum, mut diffusion_sum) = (0.0, 0.0, 0.0, 0.0);
        let mut recon_sum = 0.0;
        let log_std_sum = match decoder {
            Decoder::Gaussian { log_std_sum } => *log_std_sum,
            Decoder::Discrete { .. } => 0.0,
        };
        for (i, x) in self.points.iter().enumerate() {
            let recon = match decoder {
                Decoder::Gaussian { .. } => reconstruction(2, self.lambda_max),
                // z_0 reuses the point's first ε: each term keeps its expectation, so the sum
                // stays unbiased.
                Decoder::Discrete { levels } => {
                    let e = &self.eps[i * LAMBDA_SAMPLES * 2..i * LAMBDA_SAMPLES * 2 + 2];
                    discrete_reconstruction(x, &[e[0], e[1]], levels, self.lambda_max)
                }
            };
            recon_sum += recon;
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
            bpd_recon: recon_sum / n * to_bpd,
            bpd_diffusion: diffusion_sum / n * to_bpd,
            bpd_jacobian: log_std_sum * to_bpd,
            bpd_stderr: (variance / n).sqrt() * to_bpd,
            discrete: matches!(decoder, Decoder::Discrete { .. }),
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
        return Err(crate::data::DataError::TooFewPoints {
            what: "evaluation",
            min: 1,
            found: 0,
        }
        .into());
    }
    let config = &trainer.config;
    let standardised: Vec<[f64; 2]> = points
        .iter()
        .map(|p| trainer.standardizer.forward(*p))
        .collect();
    let rows = ElboRows::new(standardised, config.lambda_min, config.lambda_max, seed);
    let eps_hat = super::tensor_sampler::eps_hat_rows(trainer, &rows.z, &rows.lambda).await?;
    let decoder = if trainer.is_discrete_8bit() {
        Decoder::swirl(&trainer.standardizer)
    } else {
        Decoder::Gaussian {
            log_std_sum: -trainer.standardizer.log_abs_det_jacobian(),
        }
    };
    rows.finish(&eps_hat, &decoder)
}
