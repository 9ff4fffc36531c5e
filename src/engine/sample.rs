//! Ancestral, DDIM, EDM-Heun and probability-flow RK4 samplers, written once for any denoiser.
//!
//! The sampler code only asks a [`SamplerBackend`] for ε̂(z; λ), linear combinations and Gaussian
//! noise, so the same loops drive a neural denoiser on burn tensors (GPU or NdArray) and the exact
//! f64 Gaussian-mixture denoiser of [`ExactGmmBackend`] (tests and theory widgets).
//!
//! All processes are the VP process of the paper: z_λ = α_λ x + σ_λ ε with α² = sigmoid(λ),
//! σ² = sigmoid(−λ) (Eq. 100–101). Every coefficient is formed in f64 from log-SNR differences
//! (expm1, log α² = −softplus(−λ)), never as `1 − sigmoid`, so λ ∈ [−20, 20] and beyond stay exact
//! and the backend only sees moderate numbers (it may work in f32).
//!
//! # The grid and the last step
//! `steps` uniform t-steps of the sampling schedule give N + 1 levels
//! λ_0 = λ(t = 1) = λ_min < λ_1 < … < λ_N = λ(t = 0) = λ_max; every sampler moves the state z
//! through all of them (N transitions). It then returns the denoised data estimate
//! x̂ = (z_N − σ_N ε̂(z_N; λ_N))/α_N rather than z_N/α_N. That final denoising is EDM's last Euler
//! step to σ̃ = 0 (Karras et al. 2022, Alg. 1 line 8 with t_N = 0) and DDPM's noiseless last step:
//! it removes the residual noise σ_N/α_N = e^{−λ_max/2}, which is not negligible when λ_max is
//! EDM's 12.4 (σ̃_min = 0.002) and costs one more evaluation. Heun applies its second-order
//! correction on the N transitions between positive noise levels and not on this final step, exactly
//! as Alg. 1 and 2 skip it on the step to σ̃ = 0.
//!
//! # Evaluations
//! ancestral and ddim: N + 1; heun: 2N + 1; ode (RK4): 4N + 1 (see [`SamplerConfig::evaluations`]).

use std::collections::BTreeMap;
use std::f64::consts::LN_2;

use rand::distr::weighted::WeightedIndex;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rand_distr::StandardNormal;
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::api::ScheduleSpec;
use crate::theory::numeric::{log_alpha2, sigmoid, softplus};
use crate::theory::{Gmm, Schedule, TheoryError};

/// Most steps a sampler accepts (each costs at least one network evaluation per point).
pub const MAX_STEPS: usize = 10_000;
/// Largest |λ| accepted for the sampling range. Beyond it σ² = sigmoid(−λ) ≈ e^{−λ} (or α² at the
/// other end) falls under f32's smallest normal number 1.2e-38 ≈ e^{−87}, so a GPU backend could no
/// longer represent the noise level it is asked about.
pub const MAX_ABS_LAMBDA: f64 = 80.0;
/// Most points [`ExactGmmBackend`] draws at once (a guard against a typo allocating gigabytes).
pub const MAX_POINTS: usize = 1_000_000;
/// EDM's sampling noise range σ̃ ∈ [0.002, 80] (Karras et al. 2022, Table 5; used unchanged in the
/// paper's App. H), as log-SNR: λ = −2 log σ̃.
pub const EDM_LAMBDA_MIN: f64 = -8.764_053_269_347_762;
/// λ_max = −2 log 0.002 (see [`EDM_LAMBDA_MIN`]).
pub const EDM_LAMBDA_MAX: f64 = 12.429_216_196_844_383;
/// The paper's λ range for training and DDPM sampling (App. H).
pub const DDPM_LAMBDA_MIN: f64 = -20.0;
/// See [`DDPM_LAMBDA_MIN`].
pub const DDPM_LAMBDA_MAX: f64 = 20.0;

/// Everything that can stop sampling; each message says what is wrong and what is accepted.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum SampleError {
    #[error("unknown sampler `{name}`; accepted: {accepted}")]
    UnknownSampler { name: String, accepted: String },
    #[error("invalid sampler setting `{field}`: {message}")]
    InvalidConfig {
        field: &'static str,
        message: String,
    },
    /// The sampling schedule could not be built (unknown name, bad parameter, empty range).
    #[error(transparent)]
    Theory(#[from] TheoryError),
    /// The denoiser refused its input (wrong dimension, non-finite values) or failed on its device.
    #[error("denoiser: {0}")]
    Denoiser(String),
}

fn invalid(field: &'static str, message: impl Into<String>) -> SampleError {
    SampleError::InvalidConfig {
        field,
        message: message.into(),
    }
}

/// A batch of n points in d dimensions, held wherever the denoiser runs, plus the arithmetic the
/// samplers need. The samplers never look inside a batch.
pub trait SamplerBackend {
    type Batch: Clone;
    /// ε̂(z; λ): the model's noise prediction at log-SNR λ for every point of the batch.
    fn eps_hat(&mut self, z: &Self::Batch, lambda: f64) -> Result<Self::Batch, SampleError>;
    /// Σ_i c_i · b_i (all batches the same shape; the samplers always pass at least one term).
    fn lincomb(&self, terms: &[(f64, &Self::Batch)]) -> Self::Batch;
    /// A batch of independent N(0, 1) values shaped like `like` (seeded by the backend).
    fn noise(&mut self, like: &Self::Batch) -> Self::Batch;
}

/// The sampling algorithm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SamplerKind {
    /// DDPM/VDM ancestral sampling: z_s ~ q(z_s | z_t, x = x̂).
    Ancestral,
    /// DDIM with η = 0 (deterministic): z_s = α_s x̂ + σ_s ε̂.
    Ddim,
    /// EDM's Heun sampler (Karras et al. 2022, Alg. 2; Alg. 1 when `s_churn` = 0).
    Heun,
    /// Probability-flow ODE (Eq. 134) integrated with classical fourth-order Runge–Kutta.
    Ode,
}

/// Names accepted by [`SamplerKind::from_name`].
pub const SAMPLER_NAMES: [&str; 4] = ["ancestral", "ddim", "heun", "ode"];

impl SamplerKind {
    pub fn from_name(name: &str) -> Result<Self, SampleError> {
        match name {
            "ancestral" => Ok(Self::Ancestral),
            "ddim" => Ok(Self::Ddim),
            "heun" => Ok(Self::Heun),
            "ode" => Ok(Self::Ode),
            _ => Err(SampleError::UnknownSampler {
                name: name.to_string(),
                accepted: SAMPLER_NAMES.join(", "),
            }),
        }
    }

    pub fn name(&self) -> &'static str {
        match self {
            Self::Ancestral => "ancestral",
            Self::Ddim => "ddim",
            Self::Heun => "heun",
            Self::Ode => "ode",
        }
    }

    /// ε̂ evaluations per transition (the final denoising adds one).
    pub fn evaluations_per_step(&self) -> usize {
        match self {
            Self::Ancestral | Self::Ddim => 1,
            Self::Heun => 2,
            Self::Ode => 4,
        }
    }
}

/// EDM's stochasticity settings (Karras et al. 2022, Alg. 2; σ̃ = e^{−λ/2} is their σ). The
/// defaults (`s_churn` = 0) make Heun deterministic (Alg. 1); EDM's ImageNet values are
/// `s_churn` = 40, `s_tmin` = 0.05, `s_tmax` = 50, `s_noise` = 1.003 (their Table 5).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Churn {
    /// Total churn; each step uses γ = min(s_churn/steps, √2 − 1).
    pub s_churn: f64,
    /// Churn only where σ̃_i ≥ s_tmin.
    pub s_tmin: f64,
    /// Churn only where σ̃_i ≤ s_tmax; `None` means no upper limit.
    pub s_tmax: Option<f64>,
    /// Scale of the added noise (slightly above 1 offsets a denoiser that removes too much).
    pub s_noise: f64,
}

impl Default for Churn {
    fn default() -> Self {
        Self {
            s_churn: 0.0,
            s_tmin: 0.0,
            s_tmax: None,
            s_noise: 1.0,
        }
    }
}

/// How to sample: algorithm, number of steps and the sampling noise schedule, which is chosen
/// independently of the training schedule (§2.1: "Sometimes it is best to use a different noise
/// schedule for sampling from the model than for training"; App. E.4).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SamplerConfig {
    pub kind: SamplerKind,
    /// Uniform t-steps of the sampling schedule from t = 1 (λ_min) to t = 0 (λ_max).
    pub steps: usize,
    /// The sampling schedule, truncated to [λ_min, λ_max] (Eq. 127–132).
    pub schedule: ScheduleSpec,
    /// Log-SNR where sampling starts from z ~ N(0, I).
    pub lambda_min: f64,
    /// Log-SNR of the last state before the final denoising.
    pub lambda_max: f64,
    /// Used by `heun` only.
    #[serde(default)]
    pub churn: Churn,
}

impl SamplerConfig {
    /// The paper's settings for each sampler (App. H): ancestral and DDIM on the cosine schedule
    /// over λ ∈ [−20, 20]; Heun and the ODE on EDM's sampling schedule (ρ = 7) over EDM's
    /// σ̃ ∈ [0.002, 80]. Steps: 256 for ancestral and DDIM (the paper's count), 40 for Heun and the
    /// ODE (enough for the exact denoiser of a 2D mixture; see `tests/samplers.rs`).
    pub fn new(kind: SamplerKind) -> Self {
        let (name, steps, lambda_min, lambda_max) = match kind {
            SamplerKind::Ancestral | SamplerKind::Ddim => {
                ("cosine", 256, DDPM_LAMBDA_MIN, DDPM_LAMBDA_MAX)
            }
            SamplerKind::Heun | SamplerKind::Ode => {
                ("edm-sample", 40, EDM_LAMBDA_MIN, EDM_LAMBDA_MAX)
            }
        };
        Self {
            kind,
            steps,
            schedule: ScheduleSpec {
                name: name.to_string(),
                params: BTreeMap::new(),
            },
            lambda_min,
            lambda_max,
            churn: Churn::default(),
        }
    }

    /// The defaults of [`SamplerConfig::new`] with another number of steps.
    pub fn with_steps(kind: SamplerKind, steps: usize) -> Self {
        Self {
            steps,
            ..Self::new(kind)
        }
    }

    /// Checks every setting and builds the truncated sampling schedule.
    pub fn validate(&self) -> Result<Schedule, SampleError> {
        if self.steps == 0 || self.steps > MAX_STEPS {
            return Err(invalid(
                "steps",
                format!(
                    "{} steps; between 1 and {MAX_STEPS} are accepted",
                    self.steps
                ),
            ));
        }
        for (field, value) in [
            ("lambda_min", self.lambda_min),
            ("lambda_max", self.lambda_max),
        ] {
            if !value.is_finite() || value.abs() > MAX_ABS_LAMBDA {
                return Err(invalid(
                    field,
                    format!("{value}; a finite log-SNR in [−{MAX_ABS_LAMBDA}, {MAX_ABS_LAMBDA}] is accepted"),
                ));
            }
        }
        if self.lambda_min >= self.lambda_max {
            return Err(invalid(
                "lambda_max",
                format!(
                    "λ_max = {} is not above λ_min = {}; sampling runs from low to high log-SNR",
                    self.lambda_max, self.lambda_min
                ),
            ));
        }
        let c = &self.churn;
        if !c.s_churn.is_finite() || c.s_churn < 0.0 {
            return Err(invalid(
                "churn.s_churn",
                format!("{}; a finite number ≥ 0 is accepted", c.s_churn),
            ));
        }
        if !c.s_noise.is_finite() || c.s_noise < 0.0 {
            return Err(invalid(
                "churn.s_noise",
                format!("{}; a finite number ≥ 0 is accepted", c.s_noise),
            ));
        }
        if !c.s_tmin.is_finite() || c.s_tmin < 0.0 {
            return Err(invalid(
                "churn.s_tmin",
                format!("{}; a finite noise level σ̃ ≥ 0 is accepted", c.s_tmin),
            ));
        }
        if let Some(tmax) = c.s_tmax {
            if tmax.is_nan() || tmax < c.s_tmin {
                return Err(invalid(
                    "churn.s_tmax",
                    format!(
                        "{tmax}; a noise level σ̃ ≥ s_tmin = {} (or none for no limit) is accepted",
                        c.s_tmin
                    ),
                ));
            }
        }
        Ok(self.schedule.build(self.lambda_min, self.lambda_max)?)
    }

    /// The N + 1 log-SNR levels λ_i = λ(t = 1 − i/N), increasing from λ_min to λ_max.
    pub fn lambda_grid(&self) -> Result<Vec<f64>, SampleError> {
        let schedule = self.validate()?;
        Ok(lambda_grid(&schedule, self.steps))
    }

    /// ε̂ evaluations per point for one run (including the final denoising).
    pub fn evaluations(&self) -> usize {
        self.kind.evaluations_per_step() * self.steps + 1
    }
}

fn lambda_grid(schedule: &Schedule, steps: usize) -> Vec<f64> {
    (0..=steps)
        .map(|i| schedule.lambda(1.0 - i as f64 / steps as f64))
        .collect()
}

/// Samples from the model: starts from `z_start` ~ N(0, I) at λ_min (draw it with
/// [`SamplerBackend::noise`]) and returns the data estimate x̂ after λ_max (module doc).
pub fn sample<B: SamplerBackend>(
    backend: &mut B,
    z_start: B::Batch,
    config: &SamplerConfig,
) -> Result<B::Batch, SampleError> {
    sample_observed(backend, z_start, config, |_, _, _| {})
}

/// [`sample`], also returning the trajectory: the state z at every level λ_0, …, λ_N (N + 1
/// batches, the first being `z_start`) for the page's "sampling trajectories" view.
pub fn sample_with_trajectory<B: SamplerBackend>(
    backend: &mut B,
    z_start: B::Batch,
    config: &SamplerConfig,
) -> Result<(B::Batch, Vec<B::Batch>), SampleError> {
    let mut trajectory = Vec::with_capacity(config.steps.min(MAX_STEPS) + 1);
    let x = sample_observed(backend, z_start, config, |_, _, z| {
        trajectory.push(z.clone())
    })?;
    Ok((x, trajectory))
}

/// [`sample`], calling `observe(i, λ_i, z_i)` at every level i = 0..=N (before the final
/// denoising). A caller that wants only some frames (or a progress bar) keeps what it needs, so
/// long runs need not hold every state.
pub fn sample_observed<B, F>(
    backend: &mut B,
    z_start: B::Batch,
    config: &SamplerConfig,
    mut observe: F,
) -> Result<B::Batch, SampleError>
where
    B: SamplerBackend,
    F: FnMut(usize, f64, &B::Batch),
{
    let schedule = config.validate()?;
    let lambdas = lambda_grid(&schedule, config.steps);
    let mut z = z_start;
    observe(0, lambdas[0], &z);
    for (i, pair) in lambdas.windows(2).enumerate() {
        let (from, to) = (pair[0], pair[1]);
        z = match config.kind {
            SamplerKind::Ancestral => ancestral_step(backend, &z, from, to)?,
            SamplerKind::Ddim => ddim_step(backend, &z, from, to)?,
            SamplerKind::Heun => heun_step(backend, &z, from, to, &config.churn, config.steps)?,
            SamplerKind::Ode => rk4_step(backend, &z, from, to)?,
        };
        observe(i + 1, to, &z);
    }
    denoise(backend, &z, lambdas[config.steps])
}

/// x̂ = (z − σ ε̂(z; λ))/α, the data estimate implied by ε̂ (inverting Eq. 1: z = αx + σε), written
/// as z/α − σ̃ ε̂ with σ̃ = σ/α = e^{−λ/2}.
pub fn denoise<B: SamplerBackend>(
    backend: &mut B,
    z: &B::Batch,
    lambda: f64,
) -> Result<B::Batch, SampleError> {
    let eps = backend.eps_hat(z, lambda)?;
    let inv_alpha = (-0.5 * log_alpha2(lambda)).exp();
    let sigma_tilde = (-0.5 * lambda).exp();
    Ok(backend.lincomb(&[(inv_alpha, z), (-sigma_tilde, &eps)]))
}

/// α_to/α_from = exp(½(log α²_to − log α²_from)), log α² = −softplus(−λ) (Eq. 100).
pub(crate) fn alpha_ratio(from: f64, to: f64) -> f64 {
    (0.5 * (log_alpha2(to) - log_alpha2(from))).exp()
}

/// α_at · σ̃_of with σ̃_of = e^{−λ_of/2}: finite even when α_at is tiny and σ̃_of huge.
fn alpha_times_sigma_tilde(at: f64, of: f64) -> f64 {
    (0.5 * log_alpha2(at) - 0.5 * of).exp()
}

/// σ_λ = √sigmoid(−λ) (Eq. 101).
fn sigma(lambda: f64) -> f64 {
    sigmoid(-lambda).sqrt()
}

/// α_to (σ̃_to − σ̃_from) = −σ_to·expm1((λ_to − λ_from)/2): the coefficient that carries a
/// σ̃-increment of the VE latent x̃ = z/α back to z at λ_to (uses α_to σ̃_to = σ_to).
pub(crate) fn euler_coef(from: f64, to: f64) -> f64 {
    -sigma(to) * (0.5 * (to - from)).exp_m1()
}

/// Ancestral step λ_t → λ_s (λ_s > λ_t): z_s ~ q(z_s | z_t, x = x̂) with x̂ = (z_t − σ_t ε̂)/α_t.
///
/// The Gaussian posterior of the forward process (VDM, Kingma et al. 2021, §3): mean (α_{t|s} σ_s²/σ_t²) z_t +
/// (α_s σ²_{t|s}/σ_t²) x and variance σ²_{t|s} σ_s²/σ_t², with σ²_{t|s}/σ_t² = −expm1(λ_t − λ_s)
/// and α_{t|s} σ_s²/σ_t² = (α_s/α_t) e^{λ_t − λ_s}. Substituting x̂ the z_t terms sum to
/// α_s/α_t and the ε̂ term is α_s σ̃_t expm1(λ_t − λ_s), so
/// z_s = (α_s/α_t) z_t + α_s σ̃_t expm1(λ_t − λ_s) ε̂ + σ_s √(−expm1(λ_t − λ_s)) ξ.
fn ancestral_step<B: SamplerBackend>(
    backend: &mut B,
    z: &B::Batch,
    from: f64,
    to: f64,
) -> Result<B::Batch, SampleError> {
    let eps = backend.eps_hat(z, from)?;
    let xi = backend.noise(z);
    let decay = (from - to).exp_m1();
    Ok(backend.lincomb(&[
        (alpha_ratio(from, to), z),
        (alpha_times_sigma_tilde(to, from) * decay, &eps),
        // max(0): a grid that rounding made non-increasing must not give √(negative).
        (sigma(to) * (-decay).max(0.0).sqrt(), &xi),
    ]))
}

/// DDIM step with η = 0 (Song et al. 2021a, Eq. 12): z_s = α_s x̂ + σ_s ε̂ =
/// (α_s/α_t) z_t + α_s(σ̃_s − σ̃_t) ε̂, i.e. one Euler step of the ODE dx̃/dσ̃ = ε̂ in x̃ = z/α.
fn ddim_step<B: SamplerBackend>(
    backend: &mut B,
    z: &B::Batch,
    from: f64,
    to: f64,
) -> Result<B::Batch, SampleError> {
    let eps = backend.eps_hat(z, from)?;
    Ok(backend.lincomb(&[(alpha_ratio(from, to), z), (euler_coef(from, to), &eps)]))
}

/// One step of EDM's sampler (Karras et al. 2022, Alg. 2) in the VE latent x̃ = z/α with noise
/// level σ̃ = e^{−λ/2}, where the probability-flow ODE (Eq. 134) reads dx̃/dσ̃ = ε̂(α x̃; λ(σ̃))
/// (EDM's (x̃ − D(x̃))/σ̃ with D = x̂). The state is kept as z; x̃-updates are carried over with
/// [`alpha_ratio`] and [`euler_coef`].
fn heun_step<B: SamplerBackend>(
    backend: &mut B,
    z: &B::Batch,
    from: f64,
    to: f64,
    churn: &Churn,
    steps: usize,
) -> Result<B::Batch, SampleError> {
    let sigma_tilde = (-0.5 * from).exp();
    let in_window =
        sigma_tilde >= churn.s_tmin && churn.s_tmax.is_none_or(|tmax| sigma_tilde <= tmax);
    // Alg. 2 line 4: γ = min(S_churn/N, √2 − 1) inside [S_tmin, S_tmax].
    let gamma = if in_window {
        (churn.s_churn / steps as f64).min(std::f64::consts::SQRT_2 - 1.0)
    } else {
        0.0
    };
    let (hat, z_hat) = if gamma > 0.0 {
        // Alg. 2 lines 5–6: σ̂ = (1 + γ)σ̃, x̂̃ = x̃ + √(σ̂² − σ̃²) S_noise ξ, with
        // √(σ̂² − σ̃²) = σ̃ √(γ(2 + γ)) (no cancellation) and λ̂ = λ − 2 log(1 + γ).
        let hat = from - 2.0 * gamma.ln_1p();
        let xi = backend.noise(z);
        let scale = alpha_times_sigma_tilde(hat, from) * (gamma * (2.0 + gamma)).sqrt();
        let z_hat = backend.lincomb(&[(alpha_ratio(from, hat), z), (scale * churn.s_noise, &xi)]);
        (hat, z_hat)
    } else {
        (from, z.clone())
    };
    // Alg. 2 lines 7–8: Euler predictor.
    let d = backend.eps_hat(&z_hat, hat)?;
    let ratio = alpha_ratio(hat, to);
    let coef = euler_coef(hat, to);
    let z_pred = backend.lincomb(&[(ratio, &z_hat), (coef, &d)]);
    // Alg. 2 lines 9–11: trapezoidal corrector (σ̃_to > 0 on every transition of the grid).
    let d_pred = backend.eps_hat(&z_pred, to)?;
    Ok(backend.lincomb(&[(ratio, &z_hat), (0.5 * coef, &d), (0.5 * coef, &d_pred)]))
}

/// One classical RK4 step of the probability-flow ODE (Eq. 134) in the VE form dx̃/dσ̃ = ε̂, with σ̃
/// as the integration variable: EDM's choice, in which the solution for data far below the noise
/// level is nearly linear (x̃ − μ ∝ √(s² + σ̃²) for a Gaussian of std s), so the step error is small.
/// The midpoint σ̃_m = (σ̃_t + σ̃_s)/2 has λ_m = λ_s − 2 softplus((λ_s − λ_t)/2) + 2 log 2.
fn rk4_step<B: SamplerBackend>(
    backend: &mut B,
    z: &B::Batch,
    from: f64,
    to: f64,
) -> Result<B::Batch, SampleError> {
    let mid = to - 2.0 * softplus(0.5 * (to - from)) + 2.0 * LN_2;
    let (ratio_mid, coef_mid) = (alpha_ratio(from, mid), euler_coef(from, mid));
    let (ratio_to, coef_to) = (alpha_ratio(from, to), euler_coef(from, to));
    let k1 = backend.eps_hat(z, from)?;
    let z2 = backend.lincomb(&[(ratio_mid, z), (coef_mid, &k1)]);
    let k2 = backend.eps_hat(&z2, mid)?;
    let z3 = backend.lincomb(&[(ratio_mid, z), (coef_mid, &k2)]);
    let k3 = backend.eps_hat(&z3, mid)?;
    let z4 = backend.lincomb(&[(ratio_to, z), (coef_to, &k3)]);
    let k4 = backend.eps_hat(&z4, to)?;
    let c = coef_to / 6.0;
    Ok(backend.lincomb(&[
        (ratio_to, z),
        (c, &k1),
        (2.0 * c, &k2),
        (2.0 * c, &k3),
        (c, &k4),
    ]))
}

/// The exact denoiser of a Gaussian mixture, ε*(z; λ) = −σ ∇ log q(z_λ) (Eq. 109), on f64 points
/// held as `Vec<Vec<f64>>` (one inner vector per point), with a seeded generator for the noise.
#[derive(Debug, Clone)]
pub struct ExactGmmBackend {
    gmm: Gmm,
    rng: StdRng,
}

impl ExactGmmBackend {
    /// The backend for `gmm`; `seed` fixes every draw it makes (noise, prior and data samples).
    pub fn new(gmm: Gmm, seed: u64) -> Self {
        Self {
            gmm,
            rng: StdRng::seed_from_u64(seed),
        }
    }

    pub fn gmm(&self) -> &Gmm {
        &self.gmm
    }

    fn check_count(n: usize) -> Result<(), SampleError> {
        if n == 0 || n > MAX_POINTS {
            return Err(invalid(
                "points",
                format!("{n} points; between 1 and {MAX_POINTS} are accepted"),
            ));
        }
        Ok(())
    }

    fn normal_point(&mut self) -> Vec<f64> {
        (0..self.gmm.dim())
            .map(|_| self.rng.sample(StandardNormal))
            .collect()
    }

    /// n draws of z ~ N(0, I) in the mixture's dimension: the sampler's starting point.
    pub fn prior(&mut self, n: usize) -> Result<Vec<Vec<f64>>, SampleError> {
        Self::check_count(n)?;
        Ok((0..n).map(|_| self.normal_point()).collect())
    }

    /// n exact draws from q(x): a component k with probability π_k, then μ_k + s_k ξ.
    pub fn data_sample(&mut self, n: usize) -> Result<Vec<Vec<f64>>, SampleError> {
        Self::check_count(n)?;
        let pick = WeightedIndex::new(&self.gmm.weights).map_err(|e| {
            SampleError::Denoiser(format!("the mixture weights cannot be sampled: {e}"))
        })?;
        Ok((0..n)
            .map(|_| {
                let k = self.rng.sample(&pick);
                let xi = self.normal_point();
                let (mean, std) = (&self.gmm.means[k], self.gmm.stds[k]);
                mean.iter().zip(xi).map(|(m, e)| m + std * e).collect()
            })
            .collect())
    }
}

impl SamplerBackend for ExactGmmBackend {
    type Batch = Vec<Vec<f64>>;

    fn eps_hat(&mut self, z: &Self::Batch, lambda: f64) -> Result<Self::Batch, SampleError> {
        if !lambda.is_finite() {
            return Err(SampleError::Denoiser(format!(
                "λ = {lambda}; a finite log-SNR is needed"
            )));
        }
        let noisy = self.gmm.noisy(lambda);
        z.iter()
            .enumerate()
            .map(|(i, point)| {
                self.gmm.check_point(point).map_err(|e| {
                    SampleError::Denoiser(format!("point {i} at λ = {lambda}: {e}"))
                })?;
                Ok(noisy.eps_star(point))
            })
            .collect()
    }

    fn lincomb(&self, terms: &[(f64, &Self::Batch)]) -> Self::Batch {
        let Some(&(c0, first)) = terms.first() else {
            return Vec::new();
        };
        let mut out: Self::Batch = first
            .iter()
            .map(|p| p.iter().map(|v| c0 * v).collect())
            .collect();
        for &(c, batch) in &terms[1..] {
            for (o, p) in out.iter_mut().zip(batch) {
                for (ov, v) in o.iter_mut().zip(p) {
                    *ov += c * v;
                }
            }
        }
        out
    }

    fn noise(&mut self, like: &Self::Batch) -> Self::Batch {
        like.iter()
            .map(|p| {
                (0..p.len())
                    .map(|_| self.rng.sample(StandardNormal))
                    .collect()
            })
            .collect()
    }
}
