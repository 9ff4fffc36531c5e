//! The per-noise-level loss f(λ;x), the ELBO profile L(λ;x) (Eq. 8–9), the weighted loss and its
//! area decomposition (Eq. 6, 28–31, App. B), the density identity -ELBO(x) ≈ -log q(x), and the
//! KL–Fisher relation (App. G), all for Gaussian-mixture data with the exact denoiser.
//!
//! Expectations over ε ~ N(0, I_d):
//! - d ≤ 3: tensor products of composite Gauss–Legendre panels on [-9, 9] with the normal density
//!   in the weights ([`gaussian_panels`]). Gauss–Hermite converges only like exp(-c√n) when the
//!   mixture responsibilities switch sharply inside the bulk of ε (separated components, x between
//!   modes), so the panel width follows the sharpest switch at each λ: for components k, l the
//!   log-odds change by ~σα‖μ_k - μ_l‖/v per unit of ε, so panels of width
//!   min(2, (√v_k + √v_l)²/(σα‖μ_k - μ_l‖)) resolve every transition. Panel counts are capped
//!   (d = 1: 2048, d = 2: 48, d = 3: 8 panels of 6 nodes); mixtures that would need more are
//!   computed less accurately (see the tests for measured accuracies).
//! - d ≥ 4: 16384 randomly shifted Halton points (seeded, reproducible), mapped through Φ⁻¹;
//!   relative accuracy about 1e-3.
//!
//! Integrals over λ use composite Gauss–Legendre (10 nodes per panel of width ≤ 2, panel edges at
//! the weighting's corners), and L(λ;x) at the nodes is the running integral of the same
//! interpolant, so Eq. 31 holds to quadrature accuracy whatever the ε-rule's error.

use serde::{Deserialize, Serialize};

use super::error::{require_lambda_range, TheoryError};
use super::gmm::{Gmm, NoisyGmm};
use super::numeric::{alpha2, normal_ppf, softplus, LN_2PI};
use super::quadrature::{gaussian_panels, CompositeRule, Rule};
use super::weighting::Weighting;

/// Half-width of the ε box: the normal mass outside ±9 per coordinate is 2.3e-19.
pub const EPS_RADIUS: f64 = 9.0;
/// Widest λ panel of the λ-integrals.
pub const LAMBDA_PANEL_WIDTH: f64 = 2.0;
/// Gauss–Legendre nodes per λ panel.
pub const LAMBDA_PANEL_ORDER: usize = 10;
/// Number of quasi-Monte Carlo points for d ≥ 4.
pub const QMC_POINTS: usize = 16384;
const QMC_SEED: u64 = 0x5eed_e1b0_1ab5_2023;

/// Mixtures with more components than this use a bound instead of the exact pair scan.
const MAX_PAIR_SCAN: usize = 64;
/// Most component evaluations one ELBO profile or curve may cost (about a minute natively);
/// larger requests are refused with a message instead of hanging the caller.
pub const EVALUATION_BUDGET: f64 = 3e9;

/// Where the mixture's responsibilities can switch sharply, for choosing ε-panels.
#[derive(Debug, Clone)]
enum Sharpness {
    /// (‖μ_k - μ_l‖, k, l) for component pairs with distinct means and positive weights.
    Pairs(Vec<(f64, usize, usize)>),
    /// Many components: every pair's switch is at least as wide as that of two copies of the
    /// narrowest component (`narrowest`) at the bounding-box diagonal `span`.
    Bound { narrowest: usize, span: f64 },
}

/// Computes expectations E_ε[g(ε)] over ε ~ N(0, I_d) suited to one mixture.
#[derive(Debug, Clone)]
pub struct EpsExpectation {
    dim: usize,
    sharpness: Sharpness,
    /// Flattened QMC points for d ≥ 4.
    qmc: Vec<f64>,
}

impl EpsExpectation {
    pub fn new(gmm: &Gmm) -> Self {
        let live: Vec<usize> = (0..gmm.len()).filter(|&k| gmm.weights[k] > 0.0).collect();
        let sharpness = if live.len() <= MAX_PAIR_SCAN {
            let mut pairs = Vec::new();
            for (i, &k) in live.iter().enumerate() {
                for &l in &live[i + 1..] {
                    let dist = distance(&gmm.means[k], &gmm.means[l]);
                    if dist > 0.0 {
                        pairs.push((dist, k, l));
                    }
                }
            }
            Sharpness::Pairs(pairs)
        } else {
            let narrowest = live
                .iter()
                .copied()
                .min_by(|&a, &b| gmm.stds[a].total_cmp(&gmm.stds[b]))
                .unwrap_or(0);
            let span = (0..gmm.dim())
                .map(|i| {
                    let (lo, hi) = live
                        .iter()
                        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &k| {
                            (lo.min(gmm.means[k][i]), hi.max(gmm.means[k][i]))
                        });
                    (hi - lo) * (hi - lo)
                })
                .sum::<f64>()
                .sqrt();
            Sharpness::Bound { narrowest, span }
        };
        let dim = gmm.dim();
        let qmc = if dim >= 4 {
            qmc_points(dim)
        } else {
            Vec::new()
        };
        Self {
            dim,
            sharpness,
            qmc,
        }
    }

    /// Number of ε points used at the λ of `noisy`.
    pub fn points_at(&self, noisy: &NoisyGmm<'_>) -> usize {
        match self.dim {
            1 => self.panels_at(noisy) * 8,
            2 => (self.panels_at(noisy) * 8).pow(2),
            3 => (self.panels_at(noisy) * 6).pow(3),
            _ => QMC_POINTS,
        }
    }

    /// Panels of the 1D rule at this λ (d ≤ 3).
    pub fn panels_at(&self, noisy: &NoisyGmm<'_>) -> usize {
        let (cap, floor) = match self.dim {
            1 => (2048, 9),
            2 => (48, 9),
            _ => (8, 4),
        };
        let scale = noisy.sigma * noisy.alpha;
        let mut width = 2.0f64;
        match &self.sharpness {
            Sharpness::Pairs(pairs) => {
                for &(dist, k, l) in pairs {
                    let spread = noisy.variance(k).sqrt() + noisy.variance(l).sqrt();
                    width = width.min(spread * spread / (scale * dist));
                }
            }
            Sharpness::Bound { narrowest, span } => {
                if *span > 0.0 {
                    width = width.min(4.0 * noisy.variance(*narrowest) / (scale * span));
                }
            }
        }
        let wanted = (2.0 * EPS_RADIUS / width).ceil();
        if wanted.is_finite() {
            (wanted as usize).clamp(floor, cap)
        } else {
            cap
        }
    }

    /// E_ε[g(ε)] at the λ of `noisy`.
    pub fn mean(&self, noisy: &NoisyGmm<'_>, mut g: impl FnMut(&[f64]) -> f64) -> f64 {
        let d = self.dim;
        if d >= 4 {
            let weight = 1.0 / QMC_POINTS as f64;
            return self.qmc.chunks_exact(d).map(|e| weight * g(e)).sum();
        }
        let order = if d == 3 { 6 } else { 8 };
        let rule = gaussian_panels(EPS_RADIUS, self.panels_at(noisy), order);
        tensor_expectation(&rule, d, &mut g)
    }
}

fn distance(a: &[f64], b: &[f64]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y) * (x - y))
        .sum::<f64>()
        .sqrt()
}

/// Refuses a computation over `lambdas` that would exceed [`EVALUATION_BUDGET`] component
/// evaluations (two expectations per λ: the loss and the log-density).
pub fn check_budget(
    model: &Gmm,
    lambdas: &[f64],
    expectation: &EpsExpectation,
) -> Result<(), TheoryError> {
    let per_point = (model.len() * model.dim()) as f64;
    let total: f64 = lambdas
        .iter()
        .map(|&l| 2.0 * expectation.points_at(&model.noisy(l)) as f64 * per_point)
        .sum();
    if total > EVALUATION_BUDGET {
        return Err(TheoryError::InvalidInput(format!(
            "this mixture needs about {total:.1e} component evaluations for the exact ELBO (limit {EVALUATION_BUDGET:.0e}); use fewer, wider or less separated components, a lower dimension, or fewer points"
        )));
    }
    Ok(())
}

/// Σ over the tensor grid of `rule`^d of Π weights · g(point).
fn tensor_expectation(rule: &Rule, d: usize, g: &mut impl FnMut(&[f64]) -> f64) -> f64 {
    let n = rule.len();
    let mut index = vec![0usize; d];
    let mut point = vec![0.0; d];
    let mut total = 0.0;
    loop {
        let mut weight = 1.0;
        for (p, &i) in point.iter_mut().zip(&index) {
            *p = rule.nodes[i];
            weight *= rule.weights[i];
        }
        total += weight * g(&point);
        let mut axis = 0;
        loop {
            if axis == d {
                return total;
            }
            index[axis] += 1;
            if index[axis] < n {
                break;
            }
            index[axis] = 0;
            axis += 1;
        }
    }
}

/// Halton points in [0,1)^d with a seeded random shift (mod 1), mapped to N(0, I) by Φ⁻¹.
fn qmc_points(d: usize) -> Vec<f64> {
    const PRIMES: [u64; 32] = [
        2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41, 43, 47, 53, 59, 61, 67, 71, 73, 79, 83, 89,
        97, 101, 103, 107, 109, 113, 127, 131,
    ];
    let mut state = QMC_SEED;
    let shifts: Vec<f64> = (0..d).map(|_| uniform(&mut state)).collect();
    let mut out = Vec::with_capacity(QMC_POINTS * d);
    for i in 0..QMC_POINTS {
        for (j, shift) in shifts.iter().enumerate() {
            let u = (radical_inverse(i as u64 + 1, PRIMES[j % PRIMES.len()]) + shift).fract();
            out.push(normal_ppf(u.clamp(1e-16, 1.0 - 1e-16)));
        }
    }
    out
}

fn radical_inverse(mut i: u64, base: u64) -> f64 {
    let mut result = 0.0;
    let mut f = 1.0 / base as f64;
    while i > 0 {
        result += f * (i % base) as f64;
        i /= base;
        f /= base as f64;
    }
    result
}

/// SplitMix64 step mapped to [0, 1).
fn uniform(state: &mut u64) -> f64 {
    *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^= z >> 31;
    (z >> 11) as f64 / (1u64 << 53) as f64
}

/// f(λ;x) = E_ε‖ε - ε*(αx + σε; λ)‖², the per-λ loss of the exact denoiser of `model`
/// (the integrand of Eq. 6 and, halved, dL/dλ by Eq. 9 / 144).
pub fn per_lambda_loss(model: &Gmm, x: &[f64], lambda: f64, expectation: &EpsExpectation) -> f64 {
    let noisy = model.noisy(lambda);
    let mut logits = vec![0.0; model.len()];
    expectation.mean(&noisy, |eps| noisy.eps_error_sq(x, eps, &mut logits))
}

/// E_ε[log p(αx + σε)] with p(z_λ) the noisy marginal of `model`.
pub fn expected_log_marginal(
    model: &Gmm,
    x: &[f64],
    lambda: f64,
    expectation: &EpsExpectation,
) -> f64 {
    let noisy = model.noisy(lambda);
    let mut logits = vec![0.0; model.len()];
    expectation.mean(&noisy, |eps| {
        noisy.log_density_from_eps(x, eps, &mut logits)
    })
}

/// KL(q(z_λ|x) || p(z_λ)) = -H(q(z_λ|x)) - E[log p(z_λ)] (Eq. 14), with -H = -d/2 log(2πe σ²)
/// and log σ² = -softplus(λ).
pub fn kl_to_marginal(model: &Gmm, x: &[f64], lambda: f64, expectation: &EpsExpectation) -> f64 {
    let d = model.dim() as f64;
    let neg_entropy = -0.5 * d * (LN_2PI + 1.0 - softplus(lambda));
    neg_entropy - expected_log_marginal(model, x, lambda, expectation)
}

/// Eq. 29's prior loss KL(q(z_1|x) || N(0, I)) at λ_min (p(z_1) = N(0, I), Eq. 102):
/// ½[α²(‖x‖² - d) + d·softplus(λ_min)], using σ² - 1 = -α² and log σ² = -softplus(λ).
pub fn prior_kl(x: &[f64], lambda_min: f64) -> f64 {
    let d = x.len() as f64;
    let x2: f64 = x.iter().map(|v| v * v).sum();
    0.5 * (alpha2(lambda_min) * (x2 - d) + d * softplus(lambda_min))
}

/// E[-log p(x|z_0)] for the Gaussian decoder N(x; z_0/α_0, σ_0²/α_0² I) at λ_max (VDM's decoder;
/// Eq. 112 gives x - z_0/α_0 = -(σ_0/α_0)ε), so it is d/2·log(2π e^{-λ_max}) + d/2.
pub fn reconstruction(dim: usize, lambda_max: f64) -> f64 {
    let d = dim as f64;
    0.5 * d * (LN_2PI - lambda_max) + 0.5 * d
}

/// L(λ;x) of Eq. 8 in closed form for a reverse process with the exact score of `model` and prior
/// N(0, I) at λ_min. Started from p(z_1) instead, the reverse process reproduces the model's own
/// forward joint, so the path KL (Eq. 13) equals the marginal KL (Eq. 14, with equality); the
/// N(0, I) prior only shifts it by a constant, because dL/dλ (Eq. 9) does not see the prior:
/// L(λ;x) = KL(q(z_λ|x)||p(z_λ)) + KL(q(z_1|x)||N(0,I)) - KL(q(z_1|x)||p(z_1)).
pub fn elbo_closed_form(
    model: &Gmm,
    x: &[f64],
    lambda: f64,
    lambda_min: f64,
    expectation: &EpsExpectation,
) -> f64 {
    kl_to_marginal(model, x, lambda, expectation) + prior_kl(x, lambda_min)
        - kl_to_marginal(model, x, lambda_min, expectation)
}

/// Fisher divergence D_F(q(z_λ|x) || p(z_λ)) = E‖∇log q(z_λ|x) - ∇log p(z_λ)‖² (Eq. 137), with
/// ∇log q(z_λ|x) = -ε/σ (Eq. 117) and the model's score from its mixture formula.
pub fn fisher_divergence(model: &Gmm, x: &[f64], lambda: f64, expectation: &EpsExpectation) -> f64 {
    let noisy = model.noisy(lambda);
    let mut z = vec![0.0; x.len()];
    expectation.mean(&noisy, |eps| {
        for ((zi, xi), ei) in z.iter_mut().zip(x).zip(eps) {
            *zi = noisy.alpha * xi + noisy.sigma * ei;
        }
        let score = noisy.score(&z);
        eps.iter()
            .zip(&score)
            .map(|(e, s)| {
                let diff = -e / noisy.sigma - s;
                diff * diff
            })
            .sum()
    })
}

/// f(λ;x) and L(λ;x) on the nodes of a composite λ-rule over [λ_min, λ_max].
#[derive(Debug, Clone)]
pub struct ElboProfile {
    pub rule: CompositeRule,
    /// f(λ_i;x) at the rule's nodes.
    pub f: Vec<f64>,
    /// L(λ_i;x) = prior + ½∫_{λ_min}^{λ_i} f (Eq. 9 integrated) at the nodes.
    pub l: Vec<f64>,
    /// L(λ_min;x) = KL(q(z_1|x)||N(0,I)) (Eq. 29).
    pub prior: f64,
    /// L(λ_max;x).
    pub l_end: f64,
    pub lambda_min: f64,
    pub lambda_max: f64,
}

/// Computes the ELBO profile of point `x` under the exact reverse process of `model`.
/// `breakpoints` become λ-panel edges (pass the weighting's corners).
pub fn elbo_profile(
    model: &Gmm,
    x: &[f64],
    lambda_min: f64,
    lambda_max: f64,
    breakpoints: &[f64],
) -> Result<ElboProfile, TheoryError> {
    require_lambda_range(lambda_min, lambda_max)?;
    model.check_point(x)?;
    let rule = CompositeRule::new(
        lambda_min,
        lambda_max,
        breakpoints,
        LAMBDA_PANEL_WIDTH,
        LAMBDA_PANEL_ORDER,
    )?;
    let expectation = EpsExpectation::new(model);
    check_budget(model, &rule.nodes, &expectation)?;
    let f: Vec<f64> = rule
        .nodes
        .iter()
        .map(|&lambda| per_lambda_loss(model, x, lambda, &expectation))
        .collect();
    if let Some(i) = f.iter().position(|v| !v.is_finite()) {
        return Err(TheoryError::Numerical(format!(
            "the per-λ loss is not finite at λ = {}",
            rule.nodes[i]
        )));
    }
    let prior = prior_kl(x, lambda_min);
    let (running, total) = rule.running_integral(&f);
    let l = running.iter().map(|r| prior + 0.5 * r).collect();
    Ok(ElboProfile {
        rule,
        f,
        l,
        prior,
        l_end: prior + 0.5 * total,
        lambda_min,
        lambda_max,
    })
}

/// The four areas of Eq. 31 (App. B) for one weighting and one data point.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct IdentityTerms {
    /// Eq. 6: ½∫_{λ_min}^{λ_max} w(λ) f(λ;x) dλ.
    pub weighted_loss: f64,
    /// Eq. 29: w(λ_min)·L(λ_min;x), the weighted prior loss.
    pub prior_term: f64,
    /// w(λ_max)·L(λ_max;x), the rectangle of Eq. 31's right side.
    pub rect_term: f64,
    /// Eq. 30–31: ∫_{t=0}^{1} L(t;x) dw(λ_t) = -∫_{λ_min}^{λ_max} L(λ;x) w'(λ) dλ.
    pub mixture_term: f64,
}

/// Eq. 28/31 terms from a profile; prior_term + weighted_loss = rect_term + mixture_term.
/// The weighting is used as given (no normalisation).
pub fn identity_terms(
    profile: &ElboProfile,
    weighting: &Weighting,
) -> Result<IdentityTerms, TheoryError> {
    let nodes = &profile.rule.nodes;
    let w: Vec<f64> = nodes.iter().map(|&l| weighting.w(l)).collect();
    let dw: Vec<f64> = nodes.iter().map(|&l| weighting.dw(l)).collect();
    if let Some(i) = (0..nodes.len()).find(|&i| !w[i].is_finite() || !dw[i].is_finite()) {
        return Err(TheoryError::Numerical(format!(
            "weighting `{}` or its derivative is not finite at λ = {}",
            weighting.name(),
            nodes[i]
        )));
    }
    let weighted: Vec<f64> = w.iter().zip(&profile.f).map(|(w, f)| w * f).collect();
    let mixture: Vec<f64> = dw.iter().zip(&profile.l).map(|(d, l)| d * l).collect();
    Ok(IdentityTerms {
        // Eq. 6.
        weighted_loss: 0.5 * profile.rule.integrate_values(&weighted),
        // Eq. 29.
        prior_term: weighting.w(profile.lambda_min) * profile.prior,
        // Eq. 28: w(λ_max) L(0;x).
        rect_term: weighting.w(profile.lambda_max) * profile.l_end,
        // Eq. 30: dw(λ_t) runs from t = 0 (λ_max) to t = 1 (λ_min).
        mixture_term: -profile.rule.integrate_values(&mixture),
    })
}

/// The terms of the density identity -ELBO(x) = prior + recon + diffusion ≈ -log q(x).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct DensityTerms {
    /// prior + recon + diffusion.
    pub neg_elbo: f64,
    /// -log q(x) (exact).
    pub neg_log_q: f64,
    /// KL(q(z_1|x)||N(0,I)) at λ_min.
    pub prior: f64,
    /// E[-log p(x|z_0)] of the Gaussian decoder at λ_max.
    pub recon: f64,
    /// ½∫ f(λ;x) dλ (Eq. 9 integrated over [λ_min, λ_max]).
    pub diffusion: f64,
    /// The same diffusion term from the closed form L(λ_max;x) - L(λ_min;x) (log-densities, no
    /// denoiser): an independent check of `diffusion`.
    pub diffusion_closed_form: f64,
}

/// -ELBO(x) of the exact reverse process of the data mixture, its terms, and -log q(x).
pub fn density_terms(
    gmm: &Gmm,
    x: &[f64],
    lambda_min: f64,
    lambda_max: f64,
) -> Result<DensityTerms, TheoryError> {
    let neg_log_q = -gmm.log_density(x)?;
    let profile = elbo_profile(gmm, x, lambda_min, lambda_max, &[])?;
    let expectation = EpsExpectation::new(gmm);
    let recon = reconstruction(gmm.dim(), lambda_max);
    let diffusion = profile.l_end - profile.prior;
    let diffusion_closed_form = kl_to_marginal(gmm, x, lambda_max, &expectation)
        - kl_to_marginal(gmm, x, lambda_min, &expectation);
    Ok(DensityTerms {
        neg_elbo: profile.prior + recon + diffusion,
        neg_log_q,
        prior: profile.prior,
        recon,
        diffusion,
        diffusion_closed_form,
    })
}
