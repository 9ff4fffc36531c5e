//! Gaussian mixtures with isotropic components: the data whose noisy marginals, scores and
//! optimal denoisers are exact, so every identity of the paper can be checked on them.

use serde::Deserialize;

use super::error::TheoryError;
use super::numeric::{alpha2, logsumexp, sigma2, LN_2PI};

/// Largest dimension accepted (the ε-expectations cost grows quickly with it).
pub const MAX_DIM: usize = 32;
/// Largest number of components accepted.
pub const MAX_COMPONENTS: usize = 4096;
/// Weights whose sum is this close to 1 are renormalised (rounding in hand-written JSON);
/// farther off they are refused.
pub const WEIGHT_SUM_TOL: f64 = 1e-6;

/// q(x) = Σ_k π_k N(x; μ_k, s_k² I). Build it with [`Gmm::new`] or [`Gmm::from_json`], which
/// validate it; a std of 0 is a point mass (allowed, but then log q(x) is undefined).
#[derive(Debug, Clone, PartialEq)]
pub struct Gmm {
    pub weights: Vec<f64>,
    pub means: Vec<Vec<f64>>,
    pub stds: Vec<f64>,
    dim: usize,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct GmmJson {
    weights: Vec<f64>,
    means: Vec<Vec<f64>>,
    stds: Vec<f64>,
}

impl Gmm {
    /// Validates and builds a mixture: at least one component; weights finite, ≥ 0, summing to 1
    /// (within [`WEIGHT_SUM_TOL`], then renormalised); all means of one dimension (1 to
    /// [`MAX_DIM`]) and finite; stds finite and ≥ 0.
    pub fn new(
        weights: Vec<f64>,
        means: Vec<Vec<f64>>,
        stds: Vec<f64>,
    ) -> Result<Self, TheoryError> {
        let k = weights.len();
        if k == 0 {
            return Err(TheoryError::InvalidGmm(
                "it needs at least one component (weights, means and stds are empty)".into(),
            ));
        }
        if k > MAX_COMPONENTS {
            return Err(TheoryError::InvalidGmm(format!(
                "{k} components; at most {MAX_COMPONENTS} are accepted"
            )));
        }
        if means.len() != k || stds.len() != k {
            return Err(TheoryError::InvalidGmm(format!(
                "weights, means and stds must have one entry per component; got {k} weights, {} means, {} stds",
                means.len(),
                stds.len()
            )));
        }
        if let Some((i, w)) = weights
            .iter()
            .enumerate()
            .find(|(_, w)| !w.is_finite() || **w < 0.0)
        {
            return Err(TheoryError::InvalidGmm(format!(
                "weight {i} is {w}; weights must be finite and ≥ 0"
            )));
        }
        let total: f64 = weights.iter().sum();
        if total <= 0.0 {
            return Err(TheoryError::InvalidGmm(
                "the weights sum to 0; they must sum to 1".into(),
            ));
        }
        if (total - 1.0).abs() > WEIGHT_SUM_TOL {
            return Err(TheoryError::InvalidGmm(format!(
                "the weights sum to {total}; they must sum to 1 (within {WEIGHT_SUM_TOL})"
            )));
        }
        let dim = means[0].len();
        if dim == 0 || dim > MAX_DIM {
            return Err(TheoryError::InvalidGmm(format!(
                "mean 0 has {dim} coordinates; the dimension must be between 1 and {MAX_DIM}"
            )));
        }
        for (i, m) in means.iter().enumerate() {
            if m.len() != dim {
                return Err(TheoryError::InvalidGmm(format!(
                    "mean {i} has {} coordinates but mean 0 has {dim}; all means need the same dimension",
                    m.len()
                )));
            }
            if m.iter().any(|v| !v.is_finite()) {
                return Err(TheoryError::InvalidGmm(format!(
                    "mean {i} has a non-finite coordinate; means must be finite"
                )));
            }
        }
        if let Some((i, s)) = stds
            .iter()
            .enumerate()
            .find(|(_, s)| !s.is_finite() || **s < 0.0)
        {
            return Err(TheoryError::InvalidGmm(format!(
                "std {i} is {s}; stds must be finite and ≥ 0 (0 is a point mass)"
            )));
        }
        let weights = weights.iter().map(|w| w / total).collect();
        Ok(Self {
            weights,
            means,
            stds,
            dim,
        })
    }

    /// Parses `{"weights": [...], "means": [[...], ...], "stds": [...]}` and validates it.
    pub fn from_json(text: &str) -> Result<Self, TheoryError> {
        let parsed: GmmJson = serde_json::from_str(text).map_err(|e| {
            TheoryError::InvalidGmm(format!(
                "{e}; expected JSON like {{\"weights\": [0.5, 0.5], \"means\": [[-1], [1]], \"stds\": [0.3, 0.3]}}"
            ))
        })?;
        Self::new(parsed.weights, parsed.means, parsed.stds)
    }

    /// The mixture as JSON in the format [`Gmm::from_json`] reads.
    pub fn to_json(&self) -> String {
        serde_json::json!({"weights": self.weights, "means": self.means, "stds": self.stds})
            .to_string()
    }

    pub fn dim(&self) -> usize {
        self.dim
    }

    /// Number of components.
    pub fn len(&self) -> usize {
        self.weights.len()
    }

    pub fn is_empty(&self) -> bool {
        self.weights.is_empty()
    }

    /// Whether a component of positive weight has std 0.
    pub fn has_point_mass(&self) -> bool {
        self.weights
            .iter()
            .zip(&self.stds)
            .any(|(&w, &s)| w > 0.0 && s == 0.0)
    }

    /// Checks that a point has the mixture's dimension and finite coordinates.
    pub fn check_point(&self, x: &[f64]) -> Result<(), TheoryError> {
        if x.len() != self.dim {
            return Err(TheoryError::DimensionMismatch(format!(
                "the point has {} coordinate(s) but the mixture is {}-dimensional",
                x.len(),
                self.dim
            )));
        }
        if x.iter().any(|v| !v.is_finite()) {
            return Err(TheoryError::InvalidInput(
                "the point's coordinates must be finite numbers".into(),
            ));
        }
        Ok(())
    }

    /// log q(x); an error for mixtures with point masses (no density).
    pub fn log_density(&self, x: &[f64]) -> Result<f64, TheoryError> {
        self.check_point(x)?;
        if self.has_point_mass() {
            return Err(TheoryError::InvalidInput(
                "log q(x) is undefined for a mixture with point masses (a std of 0)".into(),
            ));
        }
        let d = self.dim as f64;
        let terms: Vec<f64> = (0..self.len())
            .map(|k| {
                let v = self.stds[k] * self.stds[k];
                let r2: f64 = x
                    .iter()
                    .zip(&self.means[k])
                    .map(|(a, m)| (a - m) * (a - m))
                    .sum();
                self.weights[k].ln() - 0.5 * r2 / v - 0.5 * d * (LN_2PI + v.ln())
            })
            .collect();
        Ok(logsumexp(&terms))
    }

    /// The noisy marginal q(z_λ) of the VP process.
    pub fn noisy(&self, lambda: f64) -> NoisyGmm<'_> {
        NoisyGmm::new(self, lambda)
    }
}

/// q(z_λ) = Σ_k π_k N(z; α μ_k, (α² s_k² + σ²) I): Eq. 1 applied to each component, with the VP
/// α² = sigmoid(λ), σ² = sigmoid(-λ) of Eq. 100–101.
#[derive(Debug, Clone)]
pub struct NoisyGmm<'a> {
    gmm: &'a Gmm,
    pub lambda: f64,
    pub alpha: f64,
    pub sigma: f64,
    /// v_k = α² s_k² + σ² (sum of positives: no cancellation).
    var: Vec<f64>,
    /// log π_k - d/2 log(2π v_k).
    log_coef: Vec<f64>,
}

impl<'a> NoisyGmm<'a> {
    fn new(gmm: &'a Gmm, lambda: f64) -> Self {
        let (a2, s2) = (alpha2(lambda), sigma2(lambda));
        let d = gmm.dim as f64;
        let var: Vec<f64> = gmm.stds.iter().map(|s| a2 * s * s + s2).collect();
        let log_coef = gmm
            .weights
            .iter()
            .zip(&var)
            .map(|(w, v)| w.ln() - 0.5 * d * (LN_2PI + v.ln()))
            .collect();
        Self {
            gmm,
            lambda,
            alpha: a2.sqrt(),
            sigma: s2.sqrt(),
            var,
            log_coef,
        }
    }

    pub fn mixture(&self) -> &Gmm {
        self.gmm
    }

    /// Variance v_k of component k of q(z_λ).
    pub fn variance(&self, k: usize) -> f64 {
        self.var[k]
    }

    /// Component log-densities (including log π_k) at z, into `out`.
    fn logits_at(&self, z: &[f64], out: &mut [f64]) {
        for (k, slot) in out.iter_mut().enumerate() {
            let r2: f64 = z
                .iter()
                .zip(&self.gmm.means[k])
                .map(|(zi, m)| {
                    let r = zi - self.alpha * m;
                    r * r
                })
                .sum();
            *slot = self.log_coef[k] - 0.5 * r2 / self.var[k];
        }
    }

    /// log q(z_λ).
    pub fn log_density(&self, z: &[f64]) -> f64 {
        let mut logits = vec![0.0; self.gmm.len()];
        self.logits_at(z, &mut logits);
        logsumexp(&logits)
    }

    /// Posterior component probabilities r_k(z) (softmax of the logits).
    pub fn responsibilities(&self, z: &[f64]) -> Vec<f64> {
        let mut logits = vec![0.0; self.gmm.len()];
        self.logits_at(z, &mut logits);
        softmax_in_place(&mut logits);
        logits
    }

    /// ∇_z log q(z_λ) = -Σ_k r_k(z)(z - α μ_k)/v_k (each component's score, Eq. 115, weighted by
    /// its posterior probability).
    pub fn score(&self, z: &[f64]) -> Vec<f64> {
        let r = self.responsibilities(z);
        let mut out = vec![0.0; z.len()];
        for (k, rk) in r.iter().enumerate() {
            if *rk == 0.0 {
                continue;
            }
            for (o, (zi, m)) in out.iter_mut().zip(z.iter().zip(&self.gmm.means[k])) {
                *o -= rk * (zi - self.alpha * m) / self.var[k];
            }
        }
        out
    }

    /// Δ_z log q(z_λ) = tr ∇² log q: with s_k = -(z - αμ_k)/v_k and g = Σ_k r_k s_k (the score),
    /// ∇² log q = Σ_k r_k (s_k s_kᵀ - I/v_k) - g gᵀ (the Hessian of a log-sum-exp of quadratics).
    /// The trace of the exact denoiser's Jacobian is -σ times this: what the probability-flow
    /// likelihood integrates.
    pub fn laplacian_log_density(&self, z: &[f64]) -> f64 {
        let r = self.responsibilities(z);
        let d = z.len() as f64;
        let mut g = vec![0.0; z.len()];
        let mut total = 0.0;
        for (k, rk) in r.iter().enumerate() {
            if *rk == 0.0 {
                continue;
            }
            let mut s2 = 0.0;
            for (gi, (zi, m)) in g.iter_mut().zip(z.iter().zip(&self.gmm.means[k])) {
                let s = -(zi - self.alpha * m) / self.var[k];
                s2 += s * s;
                *gi += rk * s;
            }
            total += rk * (s2 - d / self.var[k]);
        }
        total - g.iter().map(|gi| gi * gi).sum::<f64>()
    }

    /// The optimal denoiser ε*(z; λ) = -σ ∇ log q(z_λ) (Eq. 109 with the exact score).
    pub fn eps_star(&self, z: &[f64]) -> Vec<f64> {
        self.score(z).into_iter().map(|s| -self.sigma * s).collect()
    }

    /// ‖ε - ε*(αx + σε)‖² (Eq. 6's integrand with z from Eq. 1); see [`Self::eps_error_into`].
    pub(crate) fn eps_error_sq(&self, x: &[f64], eps: &[f64], logits: &mut [f64]) -> f64 {
        self.logits_from_eps(x, eps, logits);
        softmax_in_place(logits);
        (0..x.len())
            .map(|i| self.eps_error_coordinate(i, x[i], eps[i], logits).powi(2))
            .sum()
    }

    /// ε - ε*(αx + σε) into `out`, in the cancellation-free form
    /// ε - ε* = α Σ_k r_k (α s_k² ε - σ(x - μ_k))/v_k (uses Σ r_k = 1 and v_k - σ² = α² s_k²).
    pub(crate) fn eps_error_into(
        &self,
        x: &[f64],
        eps: &[f64],
        logits: &mut [f64],
        out: &mut [f64],
    ) {
        self.logits_from_eps(x, eps, logits);
        softmax_in_place(logits);
        for (i, o) in out.iter_mut().enumerate() {
            *o = self.eps_error_coordinate(i, x[i], eps[i], logits);
        }
    }

    /// Coordinate i of ε - ε*, given the responsibilities r_k in `r`.
    fn eps_error_coordinate(&self, i: usize, xi: f64, ei: f64, r: &[f64]) -> f64 {
        let mut acc = 0.0;
        for (k, &rk) in r.iter().enumerate() {
            if rk == 0.0 {
                continue;
            }
            let s = self.gmm.stds[k];
            acc += rk * (self.alpha * s * s * ei - self.sigma * (xi - self.gmm.means[k][i]))
                / self.var[k];
        }
        self.alpha * acc
    }

    /// log q(αx + σε).
    pub(crate) fn log_density_from_eps(&self, x: &[f64], eps: &[f64], logits: &mut [f64]) -> f64 {
        self.logits_from_eps(x, eps, logits);
        logsumexp(logits)
    }

    /// Component logits at z = αx + σε, forming z - αμ_k = α(x - μ_k) + σε without cancellation.
    fn logits_from_eps(&self, x: &[f64], eps: &[f64], out: &mut [f64]) {
        for (k, slot) in out.iter_mut().enumerate() {
            let r2: f64 = x
                .iter()
                .zip(eps)
                .zip(&self.gmm.means[k])
                .map(|((xi, ei), m)| {
                    let r = self.alpha * (xi - m) + self.sigma * ei;
                    r * r
                })
                .sum();
            *slot = self.log_coef[k] - 0.5 * r2 / self.var[k];
        }
    }
}

/// Turns logits into probabilities in place (max-subtracted).
fn softmax_in_place(logits: &mut [f64]) {
    let max = logits.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let mut total = 0.0;
    for l in logits.iter_mut() {
        *l = (*l - max).exp();
        total += *l;
    }
    for l in logits.iter_mut() {
        *l /= total;
    }
}
