//! App. I: where the bits of n-bit data "live" along λ. Data uniform over 2^n levels in [-1, 1]
//! (point masses), the optimal model p(z_λ) = the noisy mixture, L(λ;x) = KL(q(z_λ|x)||p(z_λ)).
//!
//! Averaged over x, E_x[L(λ;x)] is the mutual information I(x; z_λ) and, by Eq. 144 with the
//! optimal denoiser, E_x[dL/dλ] = ½ e^λ·mmse(λ) (the I-MMSE relation). Both are computed in the
//! SNR-scaled channel y = z/σ = e^{λ/2}x + ε with unit-variance components, by composite
//! Gauss–Legendre:
//! - when neighbouring levels overlap (e^{λ/2}δ < 5, δ the level spacing) as one integral over y
//!   of the whole mixture, using only the levels within 14.5 of each y;
//! - otherwise per level (E over ε of the KL integrand), using that levels whose neighbours within
//!   reach are all present have identical terms, so only the edge levels and one interior level are
//!   computed.
//!
//! Panels shrink to 1.5/(e^{λ/2}δ) where the posterior switches between neighbouring levels.

use super::error::TheoryError;
use super::numeric::LN_2PI;
use super::quadrature::{gauss_legendre, gaussian_panels, Rule};

/// Largest bit depth accepted (2^10 levels).
pub const MAX_BITS: u32 = 10;
const RADIUS: f64 = 9.0;
const WINDOW: f64 = RADIUS + 5.5;
const SWITCH_SNR_SPACING: f64 = 5.0;

/// The 2^bits levels -1 + 2j/(2^bits - 1), j = 0..2^bits (pixel values scaled to [-1, 1]).
pub fn levels(bits: u32) -> Result<Vec<f64>, TheoryError> {
    check_bits(bits)?;
    let n = 1usize << bits;
    Ok((0..n)
        .map(|j| -1.0 + 2.0 * j as f64 / (n - 1) as f64)
        .collect())
}

fn check_bits(bits: u32) -> Result<(), TheoryError> {
    if bits == 0 || bits > MAX_BITS {
        return Err(TheoryError::InvalidParam {
            owner: "low-bit analysis".into(),
            key: "bits".into(),
            value: f64::from(bits),
            reason: format!("the bit depth must be between 1 and {MAX_BITS}"),
        });
    }
    Ok(())
}

/// E_x[L(λ;x)] (nats) and E_x[dL/dλ] at one λ for n-bit data.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LowBitPoint {
    pub l: f64,
    pub dl: f64,
}

/// E_x[L(λ;x)] and E_x[dL/dλ] for `bits`-bit data at λ.
pub fn low_bit_point(bits: u32, lambda: f64) -> Result<LowBitPoint, TheoryError> {
    check_bits(bits)?;
    if !lambda.is_finite() || lambda.abs() > 200.0 {
        return Err(TheoryError::InvalidRange(format!(
            "λ must be a finite number in [-200, 200], got {lambda}"
        )));
    }
    let n = 1usize << bits;
    let spacing = 2.0 / (n - 1) as f64;
    let u = (0.5 * lambda).exp();
    let separation = u * spacing;
    Ok(if separation < SWITCH_SNR_SPACING {
        global(n, spacing, u)
    } else {
        per_level(n, spacing, u)
    })
}

/// Curves E_x L(λ;x) and E_x dL/dλ on the given λ values for one bit depth.
pub fn low_bit_curve(bits: u32, lambdas: &[f64]) -> Result<(Vec<f64>, Vec<f64>), TheoryError> {
    let mut l = Vec::with_capacity(lambdas.len());
    let mut dl = Vec::with_capacity(lambdas.len());
    for &lambda in lambdas {
        let p = low_bit_point(bits, lambda)?;
        l.push(p.l);
        dl.push(p.dl);
    }
    Ok((l, dl))
}

fn panel_width(separation: f64) -> f64 {
    if 0.5 * separation > RADIUS + 3.0 {
        // Every switch between levels lies outside the integration box.
        1.0
    } else {
        (1.5 / separation).min(1.0)
    }
}

/// One integral over y ∈ [-u - R, u + R] of the mixture p(y) = (1/N)Σ_j φ(y - u x_j):
/// I = ∫ (1/N)Σ_j φ_j log φ_j - p log p dy and mmse = ∫ p(y) Var(x|y) dy.
fn global(n: usize, spacing: f64, u: f64) -> LowBitPoint {
    let separation = u * spacing;
    let h = panel_width(separation);
    let (a, b) = (-u - RADIUS, u + RADIUS);
    let panels = ((b - a) / h).ceil().max(1.0) as usize;
    let reference = gauss_legendre(8);
    let c = (-0.5 * LN_2PI).exp() / n as f64;
    let ln_n = (n as f64).ln();
    let mut info = 0.0;
    let mut mmse = 0.0;
    let width = (b - a) / panels as f64;
    for p in 0..panels {
        let mid = a + (p as f64 + 0.5) * width;
        for (t, wt) in reference.nodes.iter().zip(&reference.weights) {
            let y = mid + 0.5 * width * t;
            let weight = 0.5 * width * wt;
            let (lo, hi) = window(y, u, spacing, n);
            let mut s = 0.0;
            let mut s_t = 0.0;
            let mut s_x = 0.0;
            for j in lo..=hi {
                let xj = -1.0 + j as f64 * spacing;
                let r = y - u * xj;
                let t_j = -0.5 * r * r;
                let e = t_j.exp();
                s += e;
                s_t += e * t_j;
                s_x += e * xj;
            }
            if s == 0.0 {
                continue;
            }
            // (c)[Σ e^{t_j} t_j + S ln N - S ln S]: the ½ln 2π parts cancel exactly.
            info += weight * c * (s_t + s * ln_n - s * s.ln());
            let mean = s_x / s;
            let mut var = 0.0;
            for j in lo..=hi {
                let xj = -1.0 + j as f64 * spacing;
                let r = y - u * xj;
                var += (-0.5 * r * r).exp() * (xj - mean) * (xj - mean);
            }
            mmse += weight * c * var;
        }
    }
    LowBitPoint {
        l: info,
        dl: 0.5 * u * u * mmse,
    }
}

/// Levels j with |y - u x_j| ≤ WINDOW (others contribute below e^{-105} relative).
fn window(y: f64, u: f64, spacing: f64, n: usize) -> (usize, usize) {
    let lo = (((y - WINDOW) / u + 1.0) / spacing).ceil();
    let hi = (((y + WINDOW) / u + 1.0) / spacing).floor();
    let clamp = |v: f64| v.clamp(0.0, (n - 1) as f64) as usize;
    (clamp(lo), clamp(hi))
}

/// Per level i: KL_i = log N - E_ε log Σ_j exp(-uΔ_ij ε - u²Δ_ij²/2) and
/// f_i = u² E_ε[(Σ_j r_j Δ_ij)²] with Δ_ij = x_i - x_j.
fn per_level(n: usize, spacing: f64, u: f64) -> LowBitPoint {
    let separation = u * spacing;
    let reach = (22.0 / separation).ceil() as usize;
    let rule = gaussian_panels(
        RADIUS,
        (2.0 * RADIUS / panel_width(separation)).ceil() as usize,
        8,
    );
    let ln_n = (n as f64).ln();
    let mut total_kl = 0.0;
    let mut total_f = 0.0;
    if n <= 2 * reach + 1 {
        for i in 0..n {
            let (kl, f) = level_terms(i, n, spacing, u, reach, &rule, ln_n);
            total_kl += kl;
            total_f += f;
        }
    } else {
        // Levels i and n-1-i mirror each other (ε → -ε); all levels with `reach` neighbours on
        // both sides are alike.
        for i in 0..reach {
            let (kl, f) = level_terms(i, n, spacing, u, reach, &rule, ln_n);
            total_kl += 2.0 * kl;
            total_f += 2.0 * f;
        }
        let (kl, f) = level_terms(reach, n, spacing, u, reach, &rule, ln_n);
        let interior = (n - 2 * reach) as f64;
        total_kl += interior * kl;
        total_f += interior * f;
    }
    LowBitPoint {
        l: total_kl / n as f64,
        dl: 0.5 * total_f / n as f64,
    }
}

fn level_terms(
    i: usize,
    n: usize,
    spacing: f64,
    u: f64,
    reach: usize,
    rule: &Rule,
    ln_n: f64,
) -> (f64, f64) {
    let lo = i.saturating_sub(reach);
    let hi = (i + reach).min(n - 1);
    let mut log_sum = 0.0;
    let mut err2 = 0.0;
    for (&eps, &weight) in rule.nodes.iter().zip(&rule.weights) {
        let mut others = 0.0;
        let mut moment = 0.0;
        for j in lo..=hi {
            if j == i {
                continue;
            }
            let delta = (i as f64 - j as f64) * spacing;
            let a = u * delta;
            let e = (-a * eps - 0.5 * a * a).exp();
            others += e;
            moment += e * delta;
        }
        // ln(1 + Σ_{j≠i} ...) keeps the tiny overlap terms at large λ accurate.
        log_sum += weight * others.ln_1p();
        let mean_delta = moment / (1.0 + others);
        err2 += weight * mean_delta * mean_delta;
    }
    (ln_n - log_sum, u * u * err2)
}
