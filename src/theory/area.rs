//! The area picture of Theorem 1 (Eq. 28–31, App. B): the curve (L(λ;x), w(λ)) for one data point
//! of a Gaussian mixture, the two exact decompositions of the area under it, and their Riemann
//! strips (vertical strips w·ΔL, horizontal strips L·Δw), for the page's explainer; the same
//! picture for a trained model, from its per-λ loss averaged over the data.

use serde::{Deserialize, Serialize};

use super::error::TheoryError;
use super::gmm::Gmm;
use super::identity::{self, kl_to_marginal, prior_kl, ElboProfile, EpsExpectation, IdentityTerms};
use super::quadrature::CompositeRule;
use super::weighting::Weighting;

/// Most strips a picture may have.
pub const MAX_STRIPS: usize = 256;
/// Points of the λ grid on which w(λ), its derivative and p_w(λ) are tabulated.
pub const CURVE_POINTS: usize = 401;

/// One strip of each decomposition over [λ_lo, λ_hi] (midpoint rule in λ).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Strip {
    pub lambda_lo: f64,
    pub lambda_hi: f64,
    /// L(λ;x) at λ_lo, the midpoint and λ_hi.
    pub l_lo: f64,
    pub l_mid: f64,
    pub l_hi: f64,
    /// w(λ) (scaled) at λ_lo, the midpoint and λ_hi.
    pub w_lo: f64,
    pub w_mid: f64,
    pub w_hi: f64,
    /// w(λ_mid)·(L(λ_hi) - L(λ_lo)): this strip of the weighted diffusion loss (Eq. 6, 9).
    pub vertical: f64,
    /// L(λ_mid)·(w(λ_lo) - w(λ_hi)): this strip of ∫ L dw (Eq. 30); negative where w rises with λ.
    pub horizontal: f64,
}

/// Everything the area widget draws and prints, with w scaled to a maximum of 1 on the grid.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AreaPicture {
    pub lambda_min: f64,
    pub lambda_max: f64,
    /// The factor applied to w (1 / max of w on the grid); every area is linear in w.
    pub w_scale: f64,
    /// Eq. 31's four terms for the scaled weighting.
    pub terms: IdentityTerms,
    /// prior_term + weighted_loss (Eq. 29 + Eq. 6).
    pub lhs: f64,
    /// rect_term + mixture_term (Eq. 28, 30).
    pub rhs: f64,
    /// lhs - rhs.
    pub difference: f64,
    /// Theorem 1's condition on the range: w non-increasing in λ.
    pub monotonic: bool,
    /// λ grid with w, dw/dλ and the mixture density -w'(λ)/w(λ_min) (Eq. 12 in λ): for a monotone
    /// weighting the probability density p_w(λ) (integrating to 1 - `dirac_mass`); otherwise it
    /// is negative where w rises with λ (negative mixture weights).
    pub lambda: Vec<f64>,
    pub w: Vec<f64>,
    pub dw: Vec<f64>,
    pub p_w: Vec<f64>,
    /// w(λ_max)/w(λ_min): p_w's point mass at λ_max (the rectangle of Eq. 28).
    pub dirac_mass: f64,
    /// λ intervals (on the grid) where dw/dλ > 0, i.e. dw/dt < 0: negative mixture weights.
    pub negative_intervals: Vec<[f64; 2]>,
    /// L(λ;x) at the quadrature nodes and both ends (λ ascending), for drawing the curve.
    pub curve_lambda: Vec<f64>,
    pub curve_l: Vec<f64>,
    pub curve_w: Vec<f64>,
    pub strips: Vec<Strip>,
    /// Σ strips.vertical (→ weighted_loss) and Σ strips.horizontal (→ mixture_term).
    pub riemann_weighted_loss: f64,
    pub riemann_mixture: f64,
}

/// The area picture of data point `x` of `model` under `weighting` on [λ_min, λ_max] with
/// `strips` Riemann strips evenly spaced in λ.
pub fn area_picture(
    model: &Gmm,
    x: &[f64],
    weighting: &Weighting,
    lambda_min: f64,
    lambda_max: f64,
    strips: usize,
) -> Result<AreaPicture, TheoryError> {
    check_strips(strips)?;
    weighting.validate_on(lambda_min, lambda_max, CURVE_POINTS)?;
    let profile =
        identity::elbo_profile(model, x, lambda_min, lambda_max, &weighting.breakpoints())?;
    // L at the strip edges and midpoints from its closed form (Eq. 14 plus the prior shift),
    // which agrees with the running integral of the profile to quadrature accuracy.
    let expectation = EpsExpectation::new(model);
    let kl_min = kl_to_marginal(model, x, lambda_min, &expectation);
    let prior = prior_kl(x, lambda_min);
    let (l_start, l_end) = (profile.prior, profile.l_end);
    let l_of = |l: f64| {
        if l == lambda_min {
            l_start
        } else if l == lambda_max {
            l_end
        } else {
            kl_to_marginal(model, x, l, &expectation) - kl_min + prior
        }
    };
    picture(&profile, l_of, weighting, strips)
}

/// The per-λ loss f(λ) = E‖ε − ε̂‖² of a trained model, tabulated as means over equal bins of
/// [λ_min, λ_max] (the trainer's histogram, averaged over the data), and the prior term
/// L(λ_min) it starts from. Between bin centres f is linear, beyond the outer centres constant,
/// so L(λ) = L(λ_min) + ½∫ f (Eq. 9) is exact for that interpolant.
#[derive(Debug, Clone, PartialEq)]
pub struct TabulatedLoss {
    lambda_min: f64,
    lambda_max: f64,
    prior: f64,
    centres: Vec<f64>,
    f: Vec<f64>,
    /// L at each centre.
    l_at_centres: Vec<f64>,
    /// Bins that held a measurement (the others are interpolated).
    pub visited: usize,
}

/// Fewest bins a tabulated loss needs, and the share of them that must hold a measurement.
pub const MIN_TABULATED_BINS: usize = 4;
pub const MIN_VISITED_SHARE: f64 = 0.5;

impl TabulatedLoss {
    /// `bins[i]` is the mean of f over the i-th of `bins.len()` equal bins (NaN: never sampled;
    /// filled by linear interpolation between its measured neighbours).
    pub fn new(
        lambda_min: f64,
        lambda_max: f64,
        bins: &[f64],
        prior: f64,
    ) -> Result<Self, TheoryError> {
        super::error::require_lambda_range(lambda_min, lambda_max)?;
        if bins.len() < MIN_TABULATED_BINS {
            return Err(TheoryError::InvalidInput(format!(
                "a per-λ loss needs at least {MIN_TABULATED_BINS} bins, got {}",
                bins.len()
            )));
        }
        if !(prior.is_finite() && prior >= 0.0) {
            return Err(TheoryError::InvalidInput(format!(
                "the prior term must be a finite non-negative number, got {prior}"
            )));
        }
        // NaN marks a bin never sampled; anything else must be a mean of squares.
        let valid = |v: f64| v.is_nan() || (v.is_finite() && v >= 0.0);
        if let Some(bad) = bins.iter().find(|v| !valid(**v)) {
            return Err(TheoryError::InvalidInput(format!(
                "a per-λ loss is a mean of squares, so finite and non-negative; got {bad}"
            )));
        }
        let measured: Vec<usize> = (0..bins.len()).filter(|&i| !bins[i].is_nan()).collect();
        let visited = measured.len();
        if (visited as f64) < MIN_VISITED_SHARE * bins.len() as f64 {
            return Err(TheoryError::InvalidInput(format!(
                "only {visited} of {} noise-level bins have been sampled so far; train a few more steps",
                bins.len()
            )));
        }
        let width = (lambda_max - lambda_min) / bins.len() as f64;
        let centres: Vec<f64> = (0..bins.len())
            .map(|i| lambda_min + (i as f64 + 0.5) * width)
            .collect();
        let f: Vec<f64> = (0..bins.len())
            .map(|i| {
                if !bins[i].is_nan() {
                    return bins[i];
                }
                let before = measured.iter().rev().find(|&&j| j < i);
                let after = measured.iter().find(|&&j| j > i);
                match (before, after) {
                    (Some(&a), Some(&b)) => {
                        let s = (i - a) as f64 / (b - a) as f64;
                        bins[a] + s * (bins[b] - bins[a])
                    }
                    (Some(&a), None) => bins[a],
                    (None, Some(&b)) => bins[b],
                    (None, None) => unreachable!("at least half of the bins are measured"),
                }
            })
            .collect();
        let mut l_at_centres = Vec::with_capacity(f.len());
        // Constant f from λ_min to the first centre, then trapezoids (exact for linear pieces).
        let mut l = prior + 0.5 * f[0] * (centres[0] - lambda_min);
        l_at_centres.push(l);
        for i in 1..f.len() {
            l += 0.25 * (f[i - 1] + f[i]) * (centres[i] - centres[i - 1]);
            l_at_centres.push(l);
        }
        Ok(Self {
            lambda_min,
            lambda_max,
            prior,
            centres,
            f,
            l_at_centres,
            visited,
        })
    }

    /// The interpolated f(λ).
    pub fn f_at(&self, lambda: f64) -> f64 {
        let (i, s) = self.locate(lambda);
        match s {
            None => self.f[i],
            Some(s) => self.f[i] + s * (self.f[i + 1] - self.f[i]),
        }
    }

    /// L(λ) = L(λ_min) + ½∫_{λ_min}^{λ} f (Eq. 9 integrated), exact for the interpolant.
    pub fn l_at(&self, lambda: f64) -> f64 {
        let last = self.f.len() - 1;
        if lambda <= self.centres[0] {
            return self.prior + 0.5 * self.f[0] * (lambda - self.lambda_min);
        }
        if lambda >= self.centres[last] {
            return self.l_at_centres[last] + 0.5 * self.f[last] * (lambda - self.centres[last]);
        }
        let (i, s) = self.locate(lambda);
        let s = s.unwrap_or(0.0);
        let h = self.centres[i + 1] - self.centres[i];
        let f_here = self.f[i] + s * (self.f[i + 1] - self.f[i]);
        self.l_at_centres[i] + 0.25 * (self.f[i] + f_here) * s * h
    }

    /// The bin centres: the interpolant's corners, so quadrature panels end there.
    pub fn knots(&self) -> &[f64] {
        &self.centres
    }

    /// (index i, position in [centre_i, centre_i+1]) or (end index, None) outside the centres.
    fn locate(&self, lambda: f64) -> (usize, Option<f64>) {
        let last = self.centres.len() - 1;
        if lambda <= self.centres[0] {
            return (0, None);
        }
        if lambda >= self.centres[last] {
            return (last, None);
        }
        let width = self.centres[1] - self.centres[0];
        let i = (((lambda - self.centres[0]) / width) as usize).min(last - 1);
        (i, Some((lambda - self.centres[i]) / width))
    }

    /// The ELBO profile of the interpolant on a rule with panel edges at the knots and the
    /// weighting's corners, so Eq. 31 holds to quadrature accuracy as for a mixture.
    fn profile(&self, breakpoints: &[f64]) -> Result<ElboProfile, TheoryError> {
        let mut cuts = self.centres.clone();
        cuts.extend_from_slice(breakpoints);
        let rule = CompositeRule::new(
            self.lambda_min,
            self.lambda_max,
            &cuts,
            identity::LAMBDA_PANEL_WIDTH,
            identity::LAMBDA_PANEL_ORDER,
        )?;
        let f: Vec<f64> = rule.nodes.iter().map(|&l| self.f_at(l)).collect();
        let (running, total) = rule.running_integral(&f);
        Ok(ElboProfile {
            l: running.iter().map(|r| self.prior + 0.5 * r).collect(),
            l_end: self.prior + 0.5 * total,
            prior: self.prior,
            f,
            rule,
            lambda_min: self.lambda_min,
            lambda_max: self.lambda_max,
        })
    }
}

/// The area picture of a trained model's per-λ loss (averaged over the data) under `weighting`
/// on the loss's own λ range, with `strips` Riemann strips.
pub fn area_picture_from_loss(
    loss: &TabulatedLoss,
    weighting: &Weighting,
    strips: usize,
) -> Result<AreaPicture, TheoryError> {
    check_strips(strips)?;
    weighting.validate_on(loss.lambda_min, loss.lambda_max, CURVE_POINTS)?;
    let profile = loss.profile(&weighting.breakpoints())?;
    picture(&profile, |l| loss.l_at(l), weighting, strips)
}

fn check_strips(strips: usize) -> Result<(), TheoryError> {
    if strips == 0 || strips > MAX_STRIPS {
        return Err(TheoryError::InvalidInput(format!(
            "the number of strips must be between 1 and {MAX_STRIPS}, got {strips}"
        )));
    }
    Ok(())
}

/// Everything drawn from a profile and a way to evaluate L(λ) anywhere on its range.
fn picture(
    profile: &ElboProfile,
    l_of: impl Fn(f64) -> f64,
    weighting: &Weighting,
    strips: usize,
) -> Result<AreaPicture, TheoryError> {
    let (lambda_min, lambda_max) = (profile.lambda_min, profile.lambda_max);
    let raw = identity::identity_terms(profile, weighting)?;

    let lambda = grid(lambda_min, lambda_max, CURVE_POINTS);
    let top = lambda
        .iter()
        .map(|&l| weighting.w(l))
        .fold(0.0f64, f64::max);
    if !(top > 0.0 && top.is_finite()) {
        return Err(TheoryError::Numerical(format!(
            "weighting `{}` is zero everywhere on [{lambda_min}, {lambda_max}]",
            weighting.name()
        )));
    }
    let scale = 1.0 / top;
    let w_of = |l: f64| scale * weighting.w(l);
    let terms = IdentityTerms {
        weighted_loss: scale * raw.weighted_loss,
        prior_term: scale * raw.prior_term,
        rect_term: scale * raw.rect_term,
        mixture_term: scale * raw.mixture_term,
    };
    let lhs = terms.prior_term + terms.weighted_loss;
    let rhs = terms.rect_term + terms.mixture_term;

    let monotonic = weighting.is_monotonic(lambda_min, lambda_max);
    let w: Vec<f64> = lambda.iter().map(|&l| w_of(l)).collect();
    let dw: Vec<f64> = lambda.iter().map(|&l| scale * weighting.dw(l)).collect();
    let w_first = w_of(lambda_min);
    let p_w = if w_first > 0.0 {
        dw.iter().map(|d| -d / w_first).collect()
    } else {
        vec![0.0; lambda.len()]
    };
    let dirac_mass = if w_first > 0.0 {
        w_of(lambda_max) / w_first
    } else {
        0.0
    };
    let negative_intervals = rising_intervals(&lambda, &dw);

    let mut curve_lambda = vec![lambda_min];
    let mut curve_l = vec![profile.prior];
    curve_lambda.extend_from_slice(&profile.rule.nodes);
    curve_l.extend_from_slice(&profile.l);
    curve_lambda.push(lambda_max);
    curve_l.push(profile.l_end);
    let curve_w = curve_lambda.iter().map(|&l| w_of(l)).collect();

    let edges = grid(lambda_min, lambda_max, strips + 1);
    let l_edges: Vec<f64> = edges.iter().map(|&l| l_of(l)).collect();
    let strips: Vec<Strip> = (0..strips)
        .map(|j| {
            let (lo, hi) = (edges[j], edges[j + 1]);
            let mid = 0.5 * (lo + hi);
            let (l_lo, l_mid, l_hi) = (l_edges[j], l_of(mid), l_edges[j + 1]);
            let (w_lo, w_mid, w_hi) = (w_of(lo), w_of(mid), w_of(hi));
            Strip {
                lambda_lo: lo,
                lambda_hi: hi,
                l_lo,
                l_mid,
                l_hi,
                w_lo,
                w_mid,
                w_hi,
                vertical: w_mid * (l_hi - l_lo),
                horizontal: l_mid * (w_lo - w_hi),
            }
        })
        .collect();
    if strips
        .iter()
        .any(|s| !(s.vertical.is_finite() && s.horizontal.is_finite()))
    {
        return Err(TheoryError::Numerical(
            "a strip of the area picture is not finite".into(),
        ));
    }
    let riemann_weighted_loss = strips.iter().map(|s| s.vertical).sum();
    let riemann_mixture = strips.iter().map(|s| s.horizontal).sum();
    Ok(AreaPicture {
        lambda_min,
        lambda_max,
        w_scale: scale,
        terms,
        lhs,
        rhs,
        difference: lhs - rhs,
        monotonic,
        lambda,
        w,
        dw,
        p_w,
        dirac_mass,
        negative_intervals,
        curve_lambda,
        curve_l,
        curve_w,
        strips,
        riemann_weighted_loss,
        riemann_mixture,
    })
}

fn grid(a: f64, b: f64, n: usize) -> Vec<f64> {
    (0..n)
        .map(|i| {
            if i + 1 == n {
                b
            } else {
                a + (b - a) * i as f64 / (n - 1) as f64
            }
        })
        .collect()
}

/// Maximal runs of grid points with dw/dλ > 0 (a relative tolerance keeps flat parts out).
fn rising_intervals(lambda: &[f64], dw: &[f64]) -> Vec<[f64; 2]> {
    let scale = dw.iter().fold(0.0f64, |m, d| m.max(d.abs()));
    let rising = |d: f64| d > 1e-9 * scale;
    let mut out = Vec::new();
    let mut start: Option<f64> = None;
    for (i, (&l, &d)) in lambda.iter().zip(dw).enumerate() {
        match (start, rising(d)) {
            (None, true) => start = Some(if i == 0 { l } else { lambda[i - 1] }),
            (Some(s), false) => {
                out.push([s, l]);
                start = None;
            }
            _ => {}
        }
    }
    if let Some(s) = start {
        out.push([s, *lambda.last().unwrap_or(&s)]);
    }
    out
}
