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

use super::data::Examples;
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
    /// 8-bit data: VDM's discrete decoder over the 256 levels of each coordinate.
    Discrete(ByteGrid),
}

impl Decoder {
    /// VDM's decoder for `swirl`'s grid (256 levels in [-1, 1]) under `standardizer`.
    pub fn swirl(standardizer: &crate::data::Standardizer) -> Self {
        Self::Discrete(ByteGrid::swirl(standardizer))
    }
}

/// 256 equally spaced levels per coordinate, in model space: level k of coordinate j is
/// offset_j + k·step_j. One (offset, step) serves every coordinate of an image; 2D data has one
/// per coordinate (each is standardised on its own).
#[derive(Debug, Clone, PartialEq)]
pub struct ByteGrid {
    offset: Vec<f64>,
    step: Vec<f64>,
}

/// A level's share of the softmax below which the levels further out are left out of its sum:
/// the logits are a concave quadratic in k, so every level beyond contributes less still.
const NEGLIGIBLE_LOGIT: f64 = -80.0;

impl ByteGrid {
    /// MNIST's pixels as VDM encodes them: k ↦ 2(k + ½)/256 − 1 (`data::pixel_value`).
    pub fn pixels() -> Self {
        Self {
            offset: vec![super::data::pixel_value(0)],
            step: vec![2.0 / 256.0],
        }
    }

    /// `swirl`'s levels 2k/255 − 1, standardised per coordinate.
    pub fn swirl(standardizer: &crate::data::Standardizer) -> Self {
        use crate::data::toy2d::swirl_value;
        let (offset, step) = (0..2)
            .map(|j| {
                let s = standardizer.std[j];
                let offset = (swirl_value(0) - standardizer.mean[j]) / s;
                (offset, (swirl_value(255) - swirl_value(0)) / 255.0 / s)
            })
            .unzip();
        Self { offset, step }
    }

    fn coordinate(&self, j: usize) -> (f64, f64) {
        let j = if self.offset.len() == 1 { 0 } else { j };
        (self.offset[j], self.step[j])
    }

    /// E_{z_0 ~ q(z_0|x)}[−log P(x | z_0)] (nats) for one example `x` (model space, on the grid),
    /// estimated with the given ε per coordinate. P is VDM's: per coordinate, the softmax over
    /// the levels s_k of −(z_0 − α s_k)²/(2σ²), at the level nearest x_j. Only the levels whose
    /// logit is within 80 nats of the largest are summed (the rest change the sum by < e⁻⁸⁰ of it),
    /// so 784 pixels cost a few levels each rather than 256.
    pub fn reconstruction(&self, x: &[f64], eps: &[f64], lambda_max: f64) -> f64 {
        let vp = Vp::new(lambda_max);
        let mut nats = 0.0;
        for (j, (&xj, &e)) in x.iter().zip(eps).enumerate() {
            let (offset, step) = self.coordinate(j);
            let z = vp.z(xj, e);
            let nearest = |v: f64| ((v - offset) / step).round().clamp(0.0, 255.0);
            let own = nearest(xj);
            let logit = |k: f64| -0.5 * ((z - vp.alpha * (offset + k * step)) / vp.sigma).powi(2);
            // The largest logit is at the level nearest z/α.
            let centre = nearest(z / vp.alpha);
            let max = logit(centre);
            let mut sum = 1.0;
            for direction in [1.0, -1.0] {
                let mut k = centre + direction;
                while (0.0..=255.0).contains(&k) {
                    let relative = logit(k) - max;
                    sum += relative.exp();
                    if relative < NEGLIGIBLE_LOGIT {
                        break;
                    }
                    k += direction;
                }
            }
            nats += max + sum.ln() - logit(own);
        }
        nats
    }
}

/// The Monte Carlo design of the estimate: for each example (model space), LAMBDA_SAMPLES
/// stratified λ's, and for each an ε; the denoiser is then asked for ε̂ at every row.
pub struct ElboRows {
    /// The examples, row-major [n, dim].
    pub x: Vec<f64>,
    pub dim: usize,
    pub lambda_min: f64,
    pub lambda_max: f64,
    /// z_λ per row, row-major [rows, dim] (f32: what the network sees).
    pub z: Vec<f32>,
    pub lambda: Vec<f64>,
    eps: Vec<f64>,
}

impl ElboRows {
    /// Draws the rows of examples `x` ([n, dim] row-major) from a generator seeded with `seed`.
    pub fn new(x: Vec<f64>, dim: usize, lambda_min: f64, lambda_max: f64, seed: u64) -> Self {
        Self::draw(
            x,
            dim,
            lambda_min,
            lambda_max,
            &mut StdRng::seed_from_u64(seed),
        )
    }

    /// Draws the rows with `rng`: one generator over several chunks gives the chunks' rows
    /// exactly as one call for all the examples would.
    pub fn draw(
        x: Vec<f64>,
        dim: usize,
        lambda_min: f64,
        lambda_max: f64,
        rng: &mut StdRng,
    ) -> Self {
        let rows = x.len() / dim.max(1) * LAMBDA_SAMPLES;
        let (mut z, mut lambda, mut eps) = (
            Vec::with_capacity(dim * rows),
            Vec::with_capacity(rows),
            Vec::with_capacity(dim * rows),
        );
        for example in x.chunks_exact(dim.max(1)) {
            let u0: f64 = rng.random();
            for k in 0..LAMBDA_SAMPLES {
                let u = (u0 + k as f64 / LAMBDA_SAMPLES as f64).fract();
                let l = lambda_min + u * (lambda_max - lambda_min);
                let vp = Vp::new(l);
                for &xj in example {
                    let e: f64 = rng.sample(StandardNormal);
                    z.push(vp.z(xj, e) as f32);
                    eps.push(e);
                }
                lambda.push(l);
            }
        }
        Self {
            x,
            dim,
            lambda_min,
            lambda_max,
            z,
            lambda,
            eps,
        }
    }

    /// −ELBO terms (nats, model space) of every example from the denoiser's ε̂ at every row.
    pub fn sums(&self, eps_hat: &[f64], decoder: &Decoder) -> Result<ElboSums, EngineError> {
        if eps_hat.len() != self.eps.len() {
            return Err(SampleError::Denoiser(format!(
                "{} ε̂ values for {} rows",
                eps_hat.len(),
                self.eps.len()
            ))
            .into());
        }
        let mut sums = ElboSums::default();
        let per_example = LAMBDA_SAMPLES * self.dim;
        for (i, x) in self.x.chunks_exact(self.dim.max(1)).enumerate() {
            let rows = i * per_example..(i + 1) * per_example;
            let recon = match decoder {
                Decoder::Gaussian { .. } => reconstruction(self.dim, self.lambda_max),
                // z_0 reuses the example's first ε: each term keeps its expectation, so the sum
                // stays unbiased.
                Decoder::Discrete(grid) => {
                    let eps = &self.eps[rows.start..rows.start + self.dim];
                    grid.reconstruction(x, eps, self.lambda_max)
                }
            };
            let sq: f64 = self.eps[rows.clone()]
                .iter()
                .zip(&eps_hat[rows])
                .map(|(e, h)| (e - h).powi(2))
                .sum();
            // ½ ∫ f dλ ≈ ½ (λ_max − λ_min) · the mean over the λ samples.
            let diffusion = 0.5 * (self.lambda_max - self.lambda_min) * sq / LAMBDA_SAMPLES as f64;
            sums.add(prior_kl(x, self.lambda_min), recon, diffusion);
        }
        Ok(sums)
    }

    /// −ELBO in bits/dim of the data as given, with the reconstruction term of `decoder`.
    pub fn finish(&self, eps_hat: &[f64], decoder: &Decoder) -> Result<BitsPerDim, EngineError> {
        Ok(self.sums(eps_hat, decoder)?.bits_per_dim(self.dim, decoder))
    }
}

/// Running sums of the −ELBO's terms over examples (nats, model space).
#[derive(Debug, Clone, Copy, Default)]
pub struct ElboSums {
    n: usize,
    total: f64,
    total_sq: f64,
    prior: f64,
    recon: f64,
    diffusion: f64,
}

impl ElboSums {
    fn add(&mut self, prior: f64, recon: f64, diffusion: f64) {
        let nats = prior + recon + diffusion;
        self.n += 1;
        self.total += nats;
        self.total_sq += nats * nats;
        self.prior += prior;
        self.recon += recon;
        self.diffusion += diffusion;
    }

    pub fn merge(&mut self, other: &Self) {
        self.n += other.n;
        self.total += other.total;
        self.total_sq += other.total_sq;
        self.prior += other.prior;
        self.recon += other.recon;
        self.diffusion += other.diffusion;
    }

    /// Means in bits per dimension of `dim`-dimensional data as given (the Gaussian decoder's
    /// standardisation Jacobian added).
    pub fn bits_per_dim(&self, dim: usize, decoder: &Decoder) -> BitsPerDim {
        let log_std_sum = match decoder {
            Decoder::Gaussian { log_std_sum } => *log_std_sum,
            Decoder::Discrete(_) => 0.0,
        };
        let n = self.n as f64;
        let to_bpd = 1.0 / (dim as f64 * std::f64::consts::LN_2);
        let mean = self.total / n;
        let variance = (self.total_sq / n - mean * mean).max(0.0);
        BitsPerDim {
            bpd: (mean + log_std_sum) * to_bpd,
            bpd_prior: self.prior / n * to_bpd,
            bpd_recon: self.recon / n * to_bpd,
            bpd_diffusion: self.diffusion / n * to_bpd,
            bpd_jacobian: log_std_sum * to_bpd,
            bpd_stderr: (variance / n).sqrt() * to_bpd,
            discrete: matches!(decoder, Decoder::Discrete(_)),
        }
    }
}

/// Values per batch of ELBO rows (z's): 16 384 rows of 2D points, 334 of MNIST's 784 pixels.
const ROW_VALUES: usize = 1 << 18;

/// −ELBO in bits/dim of `examples` (model space) with the EMA model, in chunks of examples so
/// that memory stays bounded for images; the rows are those of one draw for all examples.
pub async fn bits_per_dim_of(
    trainer: &Trainer,
    examples: &Examples,
    seed: u64,
) -> Result<BitsPerDim, EngineError> {
    if examples.is_empty() {
        return Err(crate::data::DataError::TooFewPoints {
            what: "evaluation",
            min: 1,
            found: 0,
        }
        .into());
    }
    let config = &trainer.config;
    let dim = examples.dim();
    let decoder = trainer.transform.decoder();
    let mut rng = StdRng::seed_from_u64(seed);
    let per_chunk = (ROW_VALUES / (LAMBDA_SAMPLES * dim)).max(1);
    let mut sums = ElboSums::default();
    for start in (0..examples.len()).step_by(per_chunk) {
        let end = (start + per_chunk).min(examples.len());
        let rows = ElboRows::draw(
            examples.rows(start..end),
            dim,
            config.lambda_min,
            config.lambda_max,
            &mut rng,
        );
        let eps_hat = super::tensor_sampler::eps_hat_rows(trainer, &rows.z, &rows.lambda).await?;
        sums.merge(&rows.sums(&eps_hat, &decoder)?);
        super::yield_to_host().await;
    }
    Ok(sums.bits_per_dim(dim, &decoder))
}

/// −ELBO in bits/dim averaged over 2D `points` (data space), with the EMA model.
pub async fn bits_per_dim(
    trainer: &Trainer,
    points: &[[f64; 2]],
    seed: u64,
) -> Result<BitsPerDim, EngineError> {
    let standardised = trainer.transform.standardizer().forward_all(points);
    bits_per_dim_of(trainer, &Examples::from_points(&standardised), seed).await
}
