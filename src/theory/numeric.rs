//! Numerically stable scalar helpers: logistic functions, log-sum-exp, the normal distribution.
//!
//! The VP forward process is written through these: α² = sigmoid(λ), σ² = sigmoid(-λ),
//! log σ² = -softplus(λ). None of them forms `1 - sigmoid(x)` or `log(1 + exp(x))` naively, so
//! λ ∈ [-20, 20] (and far beyond) stays finite and accurate to a few ulps.

use std::f64::consts::LN_2;

/// ln(2π).
pub const LN_2PI: f64 = 1.837_877_066_409_345_5;
/// √(2π).
pub const SQRT_2PI: f64 = 2.506_628_274_631_000_5;

/// The logistic function 1/(1+e^{-x}), without overflow for any x.
pub fn sigmoid(x: f64) -> f64 {
    if x >= 0.0 {
        1.0 / (1.0 + (-x).exp())
    } else {
        let e = x.exp();
        e / (1.0 + e)
    }
}

/// log(1 + e^x), exact to rounding for all x (no overflow for large x, no loss for small).
pub fn softplus(x: f64) -> f64 {
    if x > 0.0 {
        x + (-x).exp().ln_1p()
    } else {
        x.exp().ln_1p()
    }
}

/// log sigmoid(x) = -softplus(-x).
pub fn log_sigmoid(x: f64) -> f64 {
    -softplus(-x)
}

/// log(e^a + e^b), stable; `-inf` arguments are allowed.
pub fn logaddexp(a: f64, b: f64) -> f64 {
    let (hi, lo) = if a >= b { (a, b) } else { (b, a) };
    if hi == f64::NEG_INFINITY {
        return f64::NEG_INFINITY;
    }
    hi + (lo - hi).exp().ln_1p()
}

/// log Σ e^{x_i}; an empty slice (or all `-inf`) gives `-inf`.
pub fn logsumexp(xs: &[f64]) -> f64 {
    let max = xs.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if max == f64::NEG_INFINITY || max.is_nan() {
        return max;
    }
    if max == f64::INFINITY {
        return f64::INFINITY;
    }
    let sum: f64 = xs.iter().map(|&x| (x - max).exp()).sum();
    max + sum.ln()
}

/// log sech(x) = log 2 - |x| - log(1 + e^{-2|x|}), finite for every finite x.
pub fn log_sech(x: f64) -> f64 {
    let a = x.abs();
    LN_2 - a - (-2.0 * a).exp().ln_1p()
}

/// sech(x) = 1/cosh(x), computed through [`log_sech`] so it underflows gracefully instead of
/// dividing by an overflowed cosh.
pub fn sech(x: f64) -> f64 {
    log_sech(x).exp()
}

/// α² = sigmoid(λ) of the variance-preserving process (Eq. 100).
pub fn alpha2(lambda: f64) -> f64 {
    sigmoid(lambda)
}

/// σ² = sigmoid(-λ) of the variance-preserving process (Eq. 101).
pub fn sigma2(lambda: f64) -> f64 {
    sigmoid(-lambda)
}

/// log α² = -softplus(-λ).
pub fn log_alpha2(lambda: f64) -> f64 {
    -softplus(-lambda)
}

/// log σ² = -softplus(λ).
pub fn log_sigma2(lambda: f64) -> f64 {
    -softplus(lambda)
}

/// Standard normal density φ(x).
pub fn normal_pdf(x: f64) -> f64 {
    (-0.5 * x * x).exp() / SQRT_2PI
}

/// log φ(x).
pub fn normal_log_pdf(x: f64) -> f64 {
    -0.5 * x * x - 0.5 * LN_2PI
}

/// Density of N(mean, std²) at x.
pub fn normal_pdf_ms(x: f64, mean: f64, std: f64) -> f64 {
    normal_pdf((x - mean) / std) / std
}

/// Standard normal CDF Φ(x); accurate in the lower tail because it goes through erfc.
pub fn normal_cdf(x: f64) -> f64 {
    0.5 * libm::erfc(-x / std::f64::consts::SQRT_2)
}

/// Upper tail 1 - Φ(x) = Φ(-x), accurate for large x.
pub fn normal_sf(x: f64) -> f64 {
    normal_cdf(-x)
}

/// log Φ(x) for every x: erfc where it does not underflow, the asymptotic series below that.
pub fn normal_log_cdf(x: f64) -> f64 {
    if x > 0.0 {
        (-normal_sf(x)).ln_1p()
    } else if x > -37.0 {
        normal_cdf(x).ln()
    } else {
        // Φ(x) = φ(x)/|x| · Σ_k (-1)^k (2k-1)!!/x^{2k}; at |x| ≥ 37 the terms shrink by at least
        // 1/50 each up to k ≈ 680, so 16 terms leave an error below 1e-26.
        let x2 = x * x;
        let mut term = 1.0;
        let mut series = 1.0;
        for k in 1..16 {
            term *= -((2 * k - 1) as f64) / x2;
            series += term;
        }
        normal_log_pdf(x) - (-x).ln() + series.ln()
    }
}

/// φ(x)/Φ(x) (the inverse Mills ratio), finite for all x.
pub fn normal_pdf_over_cdf(x: f64) -> f64 {
    (normal_log_pdf(x) - normal_log_cdf(x)).exp()
}

/// Acklam's rational approximation to Φ⁻¹ (relative error 1.2e-9), the starting point that
/// [`normal_ppf`] polishes.
#[allow(clippy::excessive_precision)]
fn acklam_ppf(p: f64) -> f64 {
    const A: [f64; 6] = [
        -3.969683028665376e+01,
        2.209460984245205e+02,
        -2.759285104469687e+02,
        1.383577518672690e+02,
        -3.066479806614716e+01,
        2.506628277459239e+00,
    ];
    const B: [f64; 5] = [
        -5.447609879822406e+01,
        1.615858368580409e+02,
        -1.556989798598866e+02,
        6.680131188771972e+01,
        -1.328068155288572e+01,
    ];
    const C: [f64; 6] = [
        -7.784894002430293e-03,
        -3.223964580411365e-01,
        -2.400758277161838e+00,
        -2.549732539343734e+00,
        4.374664141464968e+00,
        2.938163982698783e+00,
    ];
    const D: [f64; 4] = [
        7.784695709041462e-03,
        3.224671290700398e-01,
        2.445134137142996e+00,
        3.754408661907416e+00,
    ];
    const P_LOW: f64 = 0.02425;
    if p < P_LOW {
        let q = (-2.0 * p.ln()).sqrt();
        (((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5])
            / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1.0)
    } else if p <= 1.0 - P_LOW {
        let q = p - 0.5;
        let r = q * q;
        (((((A[0] * r + A[1]) * r + A[2]) * r + A[3]) * r + A[4]) * r + A[5]) * q
            / (((((B[0] * r + B[1]) * r + B[2]) * r + B[3]) * r + B[4]) * r + 1.0)
    } else {
        let q = (-2.0 * (1.0 - p).ln()).sqrt();
        -(((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5])
            / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1.0)
    }
}

/// Standard normal quantile Φ⁻¹(p) for p ∈ [0, 1] (NaN outside, ∓∞ at 0 and 1).
///
/// Acklam's approximation refined by Newton steps on log Φ(x) = log p, which stay well conditioned
/// down to p ~ 1e-300; the result is accurate to a few ulps. For p > 1/2 it uses the symmetry
/// Φ⁻¹(p) = -Φ⁻¹(1-p); callers that know 1-p more precisely than p use [`normal_isf`].
pub fn normal_ppf(p: f64) -> f64 {
    if p.is_nan() || !(0.0..=1.0).contains(&p) {
        return f64::NAN;
    }
    if p == 0.0 {
        return f64::NEG_INFINITY;
    }
    if p == 1.0 {
        return f64::INFINITY;
    }
    if p > 0.5 {
        return -lower_ppf(1.0 - p);
    }
    lower_ppf(p)
}

/// Φ⁻¹(1 - q) computed from q, accurate when q is tiny (the upper tail).
pub fn normal_isf(q: f64) -> f64 {
    -normal_ppf(q)
}

/// Φ⁻¹(p) for p ∈ (0, 1/2].
fn lower_ppf(p: f64) -> f64 {
    let log_p = p.ln();
    let mut x = acklam_ppf(p);
    for _ in 0..4 {
        // Newton on g(x) = log Φ(x) - log p, g'(x) = φ(x)/Φ(x): quadratic convergence from 1e-9.
        let g = normal_log_cdf(x) - log_p;
        let step = g / normal_pdf_over_cdf(x);
        x -= step;
        if step.abs() <= 1e-16 * x.abs().max(1.0) {
            break;
        }
    }
    x
}

/// Inverse of [`sigmoid`]: log(p/(1-p)).
pub fn logit(p: f64) -> f64 {
    p.ln() - (-p).ln_1p()
}
