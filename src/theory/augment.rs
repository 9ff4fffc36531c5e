//! Theorem 1 read as data augmentation (Sec. 4, Eq. 10–12, 28–31): for a monotone weighting
//! normalised to w(λ_min) = 1, the weighted loss of x equals the expected negative log-likelihood
//! of noise-augmented data z_λ' = α_λ' x + σ_λ' ε with λ' ~ p_w (density -w'(λ) plus the mass
//! w(λ_max) at λ_max), up to terms that do not depend on the denoiser.
//!
//! For the exact reverse process of a mixture the ELBO of z_λ' is tight, so with Eq. 14
//! L(λ;x) = E_ε[-log p(z_λ)] - d/2·log(2πe σ_λ²) + L(λ_min;x) - KL(q(z_λ_min|x)||p(z_λ_min)), and
//! Eq. 31 becomes
//!   L_w(x) = E_{λ'~p_w, ε}[-log p(z_λ')] - E_{λ'~p_w}[d/2·log(2πe σ_λ'²)] - KL_min,
//! an identity between a denoising loss (left) and a likelihood of augmented data (right).

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rand_distr::StandardNormal;
use serde::{Deserialize, Serialize};

use super::error::TheoryError;
use super::gmm::Gmm;
use super::identity::{self, expected_log_marginal, kl_to_marginal, EpsExpectation};
use super::numeric::{alpha2, sigma2, softplus, LN_2PI};
use super::weighting::Weighting;

/// Most augmented samples per request.
pub const MAX_SAMPLES: usize = 20_000;
/// Bins of the λ' histogram.
pub const HISTOGRAM_BINS: usize = 50;
/// Points of the display grid of p_w(λ).
pub const DISPLAY_POINTS: usize = 201;

/// Both sides of the augmentation identity for one data point, and samples to draw.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AugmentationReport {
    /// Left: the weighted loss ½∫ w f dλ (Eq. 6) with w(λ_min) = 1.
    pub weighted_loss: f64,
    /// E_{λ'~p_w} E_ε[-log p(z_λ')] by quadrature: the expected negative log-likelihood
    /// (the tight ELBO) of the augmented data.
    pub expected_nll: f64,
    /// The same expectation from the samples below, with its standard error.
    pub expected_nll_mc: f64,
    pub expected_nll_se: f64,
    /// -E_{λ'~p_w}[d/2·log(2πe σ_λ'²)]: minus the entropy of the augmentation noise.
    pub noise_entropy_term: f64,
    /// -KL(q(z_λ_min|x)||p(z_λ_min)): the prior mismatch, tiny for small λ_min.
    pub prior_mismatch_term: f64,
    /// Right: expected_nll + noise_entropy_term + prior_mismatch_term.
    pub right_side: f64,
    /// The Monte Carlo right side (expected_nll_mc in place of expected_nll).
    pub right_side_mc: f64,
    /// p_w's point mass at λ_max, w(λ_max)/w(λ_min).
    pub dirac_mass: f64,
    /// Display grid and p_w(λ) = -w'(λ)/w(λ_min).
    pub lambda: Vec<f64>,
    pub p_w: Vec<f64>,
    /// Histogram of the λ' samples below λ_max as a density: `HISTOGRAM_BINS` bins over the range
    /// (bin centres and heights), to set beside p_w.
    pub histogram_lambda: Vec<f64>,
    pub histogram_density: Vec<f64>,
    /// Samples: λ' ~ p_w, and z_λ' = α x + σ ε for the chosen x (flattened, d per sample).
    pub lambda_samples: Vec<f64>,
    pub augmented: Vec<f64>,
    /// Data x_i ~ q(x) (flattened) and one augmented copy of each with its own λ' ~ p_w.
    pub data: Vec<f64>,
    pub augmented_data: Vec<f64>,
    pub dim: usize,
}

/// Inverse CDF of p_w (with w normalised to w(λ_min) = 1): P(λ' ≤ λ) = 1 - w(λ) below λ_max,
/// and the rest of the mass at λ_max.
fn sample_lambda(weighting: &Weighting, lambda_min: f64, lambda_max: f64, u: f64) -> f64 {
    let w0 = weighting.w(lambda_min);
    let level = 1.0 - u; // find λ with w(λ)/w0 = 1 - u
    if weighting.w(lambda_max) / w0 >= level {
        return lambda_max;
    }
    let (mut lo, mut hi) = (lambda_min, lambda_max);
    for _ in 0..80 {
        let mid = 0.5 * (lo + hi);
        if weighting.w(mid) / w0 > level {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    0.5 * (lo + hi)
}

/// The augmentation identity for data point `x` of `model` under a monotone `weighting` on
/// [λ_min, λ_max], with `samples` augmented samples from `seed`.
pub fn augmentation_report(
    model: &Gmm,
    x: &[f64],
    weighting: &Weighting,
    lambda_min: f64,
    lambda_max: f64,
    samples: usize,
    seed: u64,
) -> Result<AugmentationReport, TheoryError> {
    if !(2..=MAX_SAMPLES).contains(&samples) {
        return Err(TheoryError::InvalidInput(format!(
            "the number of samples must be between 2 and {MAX_SAMPLES}, got {samples}"
        )));
    }
    weighting.validate_on(lambda_min, lambda_max, DISPLAY_POINTS)?;
    if !weighting.is_monotonic(lambda_min, lambda_max) {
        return Err(TheoryError::InvalidInput(format!(
            "weighting `{}` is not monotone on [{lambda_min}, {lambda_max}]: it rises with λ somewhere, so p_w would have negative mass and the loss is no ELBO of augmented data (Theorem 1); pick a monotone weighting",
            weighting.name()
        )));
    }
    let w0 = weighting.w(lambda_min);
    if w0.is_nan() || w0 <= 0.0 {
        return Err(TheoryError::Numerical(format!(
            "weighting `{}` is zero at λ_min = {lambda_min}",
            weighting.name()
        )));
    }
    let profile =
        identity::elbo_profile(model, x, lambda_min, lambda_max, &weighting.breakpoints())?;
    let terms = identity::identity_terms(&profile, weighting)?;
    let weighted_loss = terms.weighted_loss / w0;

    // Quadrature of E_{p_w}[g(λ)] = Σ -w'/w0·g at the profile's nodes + dirac·g(λ_max).
    let expectation = EpsExpectation::new(model);
    let d = x.len() as f64;
    let dirac_mass = weighting.w(lambda_max) / w0;
    let nll = |l: f64| -expected_log_marginal(model, x, l, &expectation);
    // log σ² = -softplus(λ).
    let entropy = |l: f64| 0.5 * d * (LN_2PI + 1.0 - softplus(l));
    let nodes = &profile.rule.nodes;
    let mut expected_nll = dirac_mass * nll(lambda_max);
    let mut noise_entropy = dirac_mass * entropy(lambda_max);
    for (&l, q) in nodes.iter().zip(&profile.rule.weights) {
        let density = -weighting.dw(l) / w0;
        if density != 0.0 {
            expected_nll += q * density * nll(l);
            noise_entropy += q * density * entropy(l);
        }
    }
    let prior_mismatch_term = -kl_to_marginal(model, x, lambda_min, &expectation);
    let noise_entropy_term = -noise_entropy;
    let right_side = expected_nll + noise_entropy_term + prior_mismatch_term;

    // Samples: λ' ~ p_w, ε ~ N(0, I), z = αx + σε, and -log p(z_λ') for the MC estimate.
    let mut rng = StdRng::seed_from_u64(seed);
    let dim = x.len();
    let mut lambda_samples = Vec::with_capacity(samples);
    let mut augmented = Vec::with_capacity(samples * dim);
    let (mut sum, mut sum_sq) = (0.0, 0.0);
    let mut z = vec![0.0; dim];
    for _ in 0..samples {
        let l = sample_lambda(weighting, lambda_min, lambda_max, rng.random::<f64>());
        let (a, s) = (alpha2(l).sqrt(), sigma2(l).sqrt());
        for (zi, xi) in z.iter_mut().zip(x) {
            let e: f64 = rng.sample(StandardNormal);
            *zi = a * xi + s * e;
        }
        let v = -model.noisy(l).log_density(&z);
        sum += v;
        sum_sq += v * v;
        lambda_samples.push(l);
        augmented.extend_from_slice(&z);
    }
    let n = samples as f64;
    let expected_nll_mc = sum / n;
    let expected_nll_se =
        (((sum_sq - n * expected_nll_mc * expected_nll_mc) / (n - 1.0)).max(0.0) / n).sqrt();

    // The data set and its augmented copy, for the scatter plot.
    let mut data = Vec::with_capacity(samples * dim);
    let mut augmented_data = Vec::with_capacity(samples * dim);
    for _ in 0..samples {
        let k = pick(&model.weights, rng.random::<f64>());
        let l = sample_lambda(weighting, lambda_min, lambda_max, rng.random::<f64>());
        let (a, s) = (alpha2(l).sqrt(), sigma2(l).sqrt());
        for i in 0..dim {
            let xi = model.means[k][i] + model.stds[k] * rng.sample::<f64, _>(StandardNormal);
            data.push(xi);
            augmented_data.push(a * xi + s * rng.sample::<f64, _>(StandardNormal));
        }
    }

    let lambda: Vec<f64> = (0..DISPLAY_POINTS)
        .map(|i| lambda_min + (lambda_max - lambda_min) * i as f64 / (DISPLAY_POINTS - 1) as f64)
        .collect();
    let p_w = lambda.iter().map(|&l| -weighting.dw(l) / w0).collect();
    let width = (lambda_max - lambda_min) / HISTOGRAM_BINS as f64;
    let histogram_lambda = (0..HISTOGRAM_BINS)
        .map(|b| lambda_min + (b as f64 + 0.5) * width)
        .collect();
    let mut histogram_density = vec![0.0; HISTOGRAM_BINS];
    for &l in lambda_samples.iter().filter(|&&l| l < lambda_max) {
        let b = (((l - lambda_min) / width) as usize).min(HISTOGRAM_BINS - 1);
        histogram_density[b] += 1.0 / (n * width);
    }
    Ok(AugmentationReport {
        weighted_loss,
        expected_nll,
        expected_nll_mc,
        expected_nll_se,
        noise_entropy_term,
        prior_mismatch_term,
        right_side,
        right_side_mc: expected_nll_mc + noise_entropy_term + prior_mismatch_term,
        dirac_mass,
        lambda,
        p_w,
        histogram_lambda,
        histogram_density,
        lambda_samples,
        augmented,
        data,
        augmented_data,
        dim,
    })
}

/// Index k with cumulative weight just above u.
fn pick(weights: &[f64], u: f64) -> usize {
    let total: f64 = weights.iter().sum();
    let mut acc = 0.0;
    for (k, w) in weights.iter().enumerate() {
        acc += w / total;
        if u < acc {
            return k;
        }
    }
    weights.len() - 1
}
