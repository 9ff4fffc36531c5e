//! Sec. 3.2: the noise schedule is an importance distribution. For a Gaussian mixture with its
//! exact denoiser, the one-sample estimator Y = ½·w(λ)/p(λ)·‖ε - ε*(z_λ;λ)‖² (λ ~ p, ε ~ N(0, I),
//! Eq. 7) has mean L_w = ½∫w f dλ (Eq. 6) whatever p is, and variance
//! ¼∫ w² g / p dλ - L_w² with f = E‖ε - ε*‖², g = E‖ε - ε*‖⁴. This module computes both by
//! quadrature for every schedule, the App. F adaptive schedule (p ∝ w·f, piecewise constant on
//! bins), the variance-optimal density on the same bins (p ∝ √∫w²g), and seeded Monte Carlo
//! estimates to set beside them.
//!
//! Training follows the gradient of Y, not Y, so the widget also meters the gradient's noise. Every
//! ε-network ends in a bias b added to ε̂, and ∂Y/∂b = G = -(w/p)(ε - ε̂): at ε̂ = ε* its mean is
//! ∇_b L_w = -∫ w m dλ with m = E[ε - ε*] (the same for every p), and E‖G‖² = ∫ w² f / p dλ, so
//! the N-sample gradient has noise tr Var = (∫ w² f / p - ‖∇_b L_w‖²)/N. The density that
//! minimises it, p ∝ w√f, is neither the loss-optimal one nor App. F's p ∝ w·f.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rand_distr::StandardNormal;
use serde::{Deserialize, Serialize};

use super::adaptive::AdaptiveSchedule;
use super::error::{require_lambda_range, TheoryError};
use super::gmm::Gmm;
use super::identity::{check_budget, EpsExpectation};
use super::quadrature::gauss_legendre;
use super::schedule::{Schedule, SCHEDULE_NAMES};
use super::weighting::Weighting;

/// Bins of the adaptive schedule (App. F uses 100).
pub const ADAPTIVE_BINS: usize = 100;
/// Gauss–Legendre nodes per adaptive bin for the λ-integrals.
pub const NODES_PER_BIN: usize = 3;
/// Most Monte Carlo samples per schedule.
pub const MAX_SAMPLES: usize = 200_000;
/// Points of the display grid of p(λ).
pub const DISPLAY_POINTS: usize = 201;

/// f(λ) = E‖ε - ε*‖², g(λ) = E‖ε - ε*‖⁴ and m(λ) = E[ε - ε*] on the nodes of a λ-rule whose
/// panels are the adaptive schedule's bins, for one data point.
#[derive(Debug, Clone)]
pub struct LossMoments {
    pub model: Gmm,
    pub x: Vec<f64>,
    pub lambda_min: f64,
    pub lambda_max: f64,
    pub nodes: Vec<f64>,
    pub weights: Vec<f64>,
    pub f: Vec<f64>,
    pub g: Vec<f64>,
    /// m(λ) = E_ε[ε - ε*(αx + σε)], one d-vector per node (not zero for a single x: only its
    /// average over the data vanishes).
    pub mean_error: Vec<Vec<f64>>,
}

impl LossMoments {
    pub fn new(
        model: &Gmm,
        x: &[f64],
        lambda_min: f64,
        lambda_max: f64,
    ) -> Result<Self, TheoryError> {
        require_lambda_range(lambda_min, lambda_max)?;
        model.check_point(x)?;
        let reference = gauss_legendre(NODES_PER_BIN);
        let width = (lambda_max - lambda_min) / ADAPTIVE_BINS as f64;
        let mut nodes = Vec::with_capacity(ADAPTIVE_BINS * NODES_PER_BIN);
        let mut weights = Vec::with_capacity(nodes.capacity());
        for b in 0..ADAPTIVE_BINS {
            let mid = lambda_min + (b as f64 + 0.5) * width;
            for (s, w) in reference.nodes.iter().zip(&reference.weights) {
                nodes.push(mid + 0.5 * width * s);
                weights.push(0.5 * width * w);
            }
        }
        let expectation = EpsExpectation::new(model);
        check_budget(model, &nodes, &expectation)?;
        let mut logits = vec![0.0; model.len()];
        let (mut f, mut g, mut mean_error) = (Vec::new(), Vec::new(), Vec::new());
        let mut error = vec![0.0; x.len()];
        for &lambda in &nodes {
            let noisy = model.noisy(lambda);
            f.push(expectation.mean(&noisy, |eps| noisy.eps_error_sq(x, eps, &mut logits)));
            g.push(expectation.mean(&noisy, |eps| {
                let e = noisy.eps_error_sq(x, eps, &mut logits);
                e * e
            }));
            let m: Vec<f64> = (0..x.len())
                .map(|i| {
                    expectation.mean(&noisy, |eps| {
                        noisy.eps_error_into(x, eps, &mut logits, &mut error);
                        error[i]
                    })
                })
                .collect();
            mean_error.push(m);
        }
        if f.iter()
            .chain(&g)
            .chain(mean_error.iter().flatten())
            .any(|v| !v.is_finite())
        {
            return Err(TheoryError::Numerical(
                "the per-λ loss moments are not finite".into(),
            ));
        }
        Ok(Self {
            model: model.clone(),
            x: x.to_vec(),
            lambda_min,
            lambda_max,
            nodes,
            weights,
            f,
            g,
            mean_error,
        })
    }

    /// L_w = ½∫ w f dλ (Eq. 6).
    pub fn weighted_loss(&self, weighting: &Weighting) -> f64 {
        0.5 * self
            .nodes
            .iter()
            .zip(&self.weights)
            .zip(&self.f)
            .map(|((&l, q), f)| q * weighting.w(l) * f)
            .sum::<f64>()
    }

    /// Var[Y] = ¼∫ w² g / p dλ - L_w² for the importance density `p` (infinite where p = 0 but
    /// w·f > 0).
    pub fn variance(&self, weighting: &Weighting, p: impl Fn(f64) -> f64) -> f64 {
        let mean = self.weighted_loss(weighting);
        (0.25 * self.importance_second_moment(weighting, &self.g, p) - mean * mean).max(0.0)
    }

    /// ∫ w² h / p dλ: the second moment of an importance-weighted sample (w/p)·X with E[X²] = h.
    fn importance_second_moment(
        &self,
        weighting: &Weighting,
        h: &[f64],
        p: impl Fn(f64) -> f64,
    ) -> f64 {
        self.nodes
            .iter()
            .zip(&self.weights)
            .zip(h)
            .map(|((&l, q), h)| {
                let w = weighting.w(l);
                if w == 0.0 || *h == 0.0 {
                    0.0
                } else {
                    q * w * w * h / p(l)
                }
            })
            .sum()
    }

    /// ∇_b L_w = -∫ w m dλ: the exact gradient with respect to the output bias at ε̂ = ε*.
    pub fn bias_gradient(&self, weighting: &Weighting) -> Vec<f64> {
        let mut out = vec![0.0; self.x.len()];
        for ((&l, q), m) in self.nodes.iter().zip(&self.weights).zip(&self.mean_error) {
            let w = weighting.w(l);
            for (o, mi) in out.iter_mut().zip(m) {
                *o -= q * w * mi;
            }
        }
        out
    }

    /// tr Var[G] = ∫ w² f / p dλ - ‖∇_b L_w‖² for one sample of the output-bias gradient
    /// (infinite where p = 0 but w·f > 0).
    pub fn bias_gradient_variance(&self, weighting: &Weighting, p: impl Fn(f64) -> f64) -> f64 {
        let mean_sq: f64 = self.bias_gradient(weighting).iter().map(|v| v * v).sum();
        (self.importance_second_moment(weighting, &self.f, p) - mean_sq).max(0.0)
    }
}

/// A sampling distribution over λ on the range.
#[derive(Debug, Clone)]
pub enum Proposal {
    Schedule(Schedule),
    /// Piecewise constant on bins: App. F's adaptive schedule, or one of the two optimal ones.
    Binned(AdaptiveSchedule),
}

impl Proposal {
    pub fn p(&self, lambda: f64) -> f64 {
        match self {
            Self::Schedule(s) => s.p_lambda(lambda),
            Self::Binned(a) => a.p_lambda(lambda),
        }
    }

    /// λ for a uniform u ∈ [0, 1) (inverse CDF; for a schedule λ(t) with t = u).
    pub fn sample(&self, u: f64) -> f64 {
        match self {
            Self::Schedule(s) => s.lambda(u),
            Self::Binned(a) => a.sample(u),
        }
    }
}

/// A piecewise-constant density with bin masses ∝ `per_bin` (one value per bin).
fn binned(moments: &LossMoments, per_bin: &[f64]) -> Result<AdaptiveSchedule, TheoryError> {
    // Decay 0: each bin's "EMA" is exactly the value given, the converged state of App. F.
    let mut a = AdaptiveSchedule::with_options(
        moments.lambda_min,
        moments.lambda_max,
        ADAPTIVE_BINS,
        0.0,
        1.0,
    )?;
    let mids: Vec<f64> = (0..ADAPTIVE_BINS)
        .map(|b| 0.5 * (a.edge(b) + a.edge(b + 1)))
        .collect();
    a.update(&mids, per_bin)?;
    Ok(a)
}

/// ∫ over each bin of `values` (given at the moment nodes), by the bin's own rule.
fn per_bin_integrals(moments: &LossMoments, values: &[f64]) -> Vec<f64> {
    values
        .chunks(NODES_PER_BIN)
        .zip(moments.weights.chunks(NODES_PER_BIN))
        .map(|(v, q)| v.iter().zip(q).map(|(v, q)| v * q).sum())
        .collect()
}

/// One row of the widget: a proposal, its exact variance and a seeded Monte Carlo estimate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProposalResult {
    /// A schedule name, `adaptive` (App. F: p ∝ w·f), `optimal` (p ∝ √(∫w²g) per bin: least
    /// loss variance) or `gradient-optimal` (p ∝ √(∫w²f) per bin: least gradient noise).
    pub name: String,
    /// Var[Y] of one sample; `None` when infinite (p vanishes where w·f does not).
    pub variance: Option<f64>,
    /// √(Var[Y]/N): the standard deviation of an N-sample estimate.
    pub std_of_estimate: Option<f64>,
    /// The N-sample Monte Carlo estimate and its sample standard error.
    pub estimate: f64,
    pub standard_error: f64,
    /// √(tr Var[G]/N): the noise of the N-sample output-bias gradient; `None` when infinite.
    pub gradient_noise: Option<f64>,
    /// The N-sample output-bias gradient (same samples as `estimate`) and √(sample tr Var/N).
    pub gradient_estimate: Vec<f64>,
    pub gradient_standard_error: f64,
    /// p(λ) on the display grid.
    pub p: Vec<f64>,
}

/// The estimator widget's numbers for one data point and weighting.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EstimatorReport {
    /// L_w by quadrature (Eq. 6): what every row estimates.
    pub weighted_loss: f64,
    /// ∇_b L_w, the exact output-bias gradient at ε̂ = ε*: what every row's gradient estimates.
    pub bias_gradient: Vec<f64>,
    pub samples: usize,
    pub seed: u64,
    /// The display grid, with w·f/(2 L_w): the density the adaptive schedule follows.
    pub lambda: Vec<f64>,
    pub target_density: Vec<f64>,
    pub rows: Vec<ProposalResult>,
}

/// Every schedule (truncated to the range), the adaptive schedule and the two optimal densities, each
/// with its exact variance and an N-sample estimate from `seed`.
pub fn estimator_report(
    model: &Gmm,
    x: &[f64],
    weighting: &Weighting,
    lambda_min: f64,
    lambda_max: f64,
    samples: usize,
    seed: u64,
) -> Result<EstimatorReport, TheoryError> {
    let moments = LossMoments::new(model, x, lambda_min, lambda_max)?;
    estimator_report_from(&moments, weighting, samples, seed)
}

/// [`estimator_report`] from moments computed before (they do not depend on the weighting, the
/// sample count or the seed, so the page keeps them while those change).
pub fn estimator_report_from(
    moments: &LossMoments,
    weighting: &Weighting,
    samples: usize,
    seed: u64,
) -> Result<EstimatorReport, TheoryError> {
    let (model, x) = (&moments.model, moments.x.as_slice());
    let (lambda_min, lambda_max) = (moments.lambda_min, moments.lambda_max);
    if samples == 0 || samples > MAX_SAMPLES {
        return Err(TheoryError::InvalidInput(format!(
            "the number of samples must be between 1 and {MAX_SAMPLES}, got {samples}"
        )));
    }
    weighting.validate_on(lambda_min, lambda_max, DISPLAY_POINTS)?;
    let weighted_loss = moments.weighted_loss(weighting);
    if !(weighted_loss > 0.0 && weighted_loss.is_finite()) {
        return Err(TheoryError::Numerical(format!(
            "the weighted loss is {weighted_loss}; choose a weighting that is positive on the range"
        )));
    }
    let mut proposals: Vec<(String, Proposal)> = Vec::new();
    for name in SCHEDULE_NAMES {
        let s = Schedule::from_name(name, &Default::default(), lambda_min, lambda_max)?;
        proposals.push((name.to_string(), Proposal::Schedule(s)));
    }
    // ∫ over each bin of w(λ)^power · h(λ), h given at the moment nodes.
    let weighted_per_bin = |power: i32, h: &[f64]| {
        let values: Vec<f64> = moments
            .nodes
            .iter()
            .zip(h)
            .map(|(&l, h)| weighting.w(l).powi(power) * h)
            .collect();
        per_bin_integrals(moments, &values)
    };
    // Among densities constant on the same bins, Σ_b (∫_b w²h)/p_b is smallest for
    // p_b ∝ √(∫_b w²h) (Cauchy–Schwarz).
    let least_second_moment =
        |h: &[f64]| -> Vec<f64> { weighted_per_bin(2, h).iter().map(|v| v.sqrt()).collect() };
    // App. F: bin mass ∝ ∫_bin w·E‖ε - ε̂‖². "optimal" minimises the loss variance
    // ¼∫w²g/p - L_w², "gradient-optimal" the gradient noise ∫w²f/p - ‖∇_b L_w‖².
    let adaptive = weighted_per_bin(1, &moments.f);
    let optimal = least_second_moment(&moments.g);
    let gradient_optimal = least_second_moment(&moments.f);
    proposals.push((
        "adaptive".into(),
        Proposal::Binned(binned(moments, &adaptive)?),
    ));
    proposals.push((
        "optimal".into(),
        Proposal::Binned(binned(moments, &optimal)?),
    ));
    proposals.push((
        "gradient-optimal".into(),
        Proposal::Binned(binned(moments, &gradient_optimal)?),
    ));

    let lambda: Vec<f64> = (0..DISPLAY_POINTS)
        .map(|i| lambda_min + (lambda_max - lambda_min) * i as f64 / (DISPLAY_POINTS - 1) as f64)
        .collect();
    let target_density = lambda
        .iter()
        .map(|&l| {
            let f = interpolate(&moments.nodes, &moments.f, l);
            weighting.w(l) * f / (2.0 * weighted_loss)
        })
        .collect();
    let rows = proposals
        .iter()
        .enumerate()
        .map(|(i, (name, proposal))| {
            let variance = moments.variance(weighting, |l| proposal.p(l));
            let variance = variance.is_finite().then_some(variance);
            let gradient_variance = moments.bias_gradient_variance(weighting, |l| proposal.p(l));
            let mc = monte_carlo(
                model,
                x,
                weighting,
                proposal,
                samples,
                seed.wrapping_add(i as u64),
            );
            let per_estimate = |v: f64| (v / samples as f64).sqrt();
            ProposalResult {
                name: name.clone(),
                variance,
                std_of_estimate: variance.map(per_estimate),
                estimate: mc.loss,
                standard_error: mc.loss_standard_error,
                gradient_noise: gradient_variance
                    .is_finite()
                    .then(|| per_estimate(gradient_variance)),
                gradient_estimate: mc.gradient,
                gradient_standard_error: mc.gradient_standard_error,
                p: lambda.iter().map(|&l| proposal.p(l)).collect(),
            }
        })
        .collect();
    Ok(EstimatorReport {
        weighted_loss,
        bias_gradient: moments.bias_gradient(weighting),
        samples,
        seed,
        lambda,
        target_density,
        rows,
    })
}

/// N-sample Monte Carlo estimates of the loss and of its output-bias gradient.
#[derive(Debug, Clone, PartialEq)]
pub struct MonteCarlo {
    pub loss: f64,
    pub loss_standard_error: f64,
    pub gradient: Vec<f64>,
    /// √(sample tr Var[G] / N).
    pub gradient_standard_error: f64,
}

/// Mean and standard error of N samples of Y = ½·w(λ)/p(λ)·‖ε - ε*(z_λ;λ)‖² (Eq. 7) and of
/// G = -(w/p)(ε - ε*), from the same (λ, ε).
pub fn monte_carlo(
    model: &Gmm,
    x: &[f64],
    weighting: &Weighting,
    proposal: &Proposal,
    samples: usize,
    seed: u64,
) -> MonteCarlo {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut logits = vec![0.0; model.len()];
    let mut eps = vec![0.0; x.len()];
    let mut error = vec![0.0; x.len()];
    let (mut sum, mut sum_sq) = (0.0, 0.0);
    let (mut gradient_sum, mut gradient_sum_sq) = (vec![0.0; x.len()], 0.0);
    for _ in 0..samples {
        let lambda = proposal.sample(rng.random::<f64>());
        for e in eps.iter_mut() {
            *e = rng.sample(StandardNormal);
        }
        let p = proposal.p(lambda);
        if p <= 0.0 {
            continue;
        }
        let ratio = weighting.w(lambda) / p;
        model
            .noisy(lambda)
            .eps_error_into(x, &eps, &mut logits, &mut error);
        let error_sq: f64 = error.iter().map(|e| e * e).sum();
        let y = 0.5 * ratio * error_sq;
        sum += y;
        sum_sq += y * y;
        for (s, e) in gradient_sum.iter_mut().zip(&error) {
            *s -= ratio * e;
        }
        gradient_sum_sq += ratio * ratio * error_sq;
    }
    let n = samples as f64;
    let standard_error = |sum_sq: f64, mean_sq: f64| {
        if samples > 1 {
            ((sum_sq - n * mean_sq) / (n - 1.0)).max(0.0).sqrt() / n.sqrt()
        } else {
            0.0
        }
    };
    let loss = sum / n;
    let gradient: Vec<f64> = gradient_sum.iter().map(|s| s / n).collect();
    let gradient_mean_sq = gradient.iter().map(|g| g * g).sum();
    MonteCarlo {
        loss,
        loss_standard_error: standard_error(sum_sq, loss * loss),
        gradient_standard_error: standard_error(gradient_sum_sq, gradient_mean_sq),
        gradient,
    }
}

/// Linear interpolation of (xs, ys) at `x` (clamped to the ends).
fn interpolate(xs: &[f64], ys: &[f64], x: f64) -> f64 {
    match xs.iter().position(|&v| v >= x) {
        None => *ys.last().unwrap_or(&0.0),
        Some(0) => ys[0],
        Some(i) => {
            let t = (x - xs[i - 1]) / (xs[i] - xs[i - 1]);
            ys[i - 1] + t * (ys[i] - ys[i - 1])
        }
    }
}
