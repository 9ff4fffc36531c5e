//! App. F / H: the adaptive noise schedule. 100 evenly spaced λ-bins, an EMA of w(λ)‖ε - ε̂‖² per
//! bin, p(λ) ∝ EMA (piecewise constant), t(λ) = 1 - CDF (piecewise linear) and its inverse.

use super::error::{require_lambda_range, TheoryError};
use super::weighting::Weighting;

/// Bins of App. H.
pub const DEFAULT_BINS: usize = 100;
/// EMA decay of App. H.
pub const DEFAULT_DECAY: f64 = 0.999;
/// EMA initial value of App. H.
pub const DEFAULT_INIT: f64 = 1.0;

/// The adaptive schedule's state: per-bin EMAs and the CDF they define.
#[derive(Debug, Clone, PartialEq)]
pub struct AdaptiveSchedule {
    lambda_min: f64,
    lambda_max: f64,
    decay: f64,
    ema: Vec<f64>,
    /// cdf[b] = P(λ < edge b), cdf[0] = 0, cdf[bins] = 1.
    cdf: Vec<f64>,
}

impl AdaptiveSchedule {
    /// The App. H configuration: 100 bins, decay 0.999, EMAs initialised to 1 (so p starts uniform).
    pub fn new(lambda_min: f64, lambda_max: f64) -> Result<Self, TheoryError> {
        Self::with_options(
            lambda_min,
            lambda_max,
            DEFAULT_BINS,
            DEFAULT_DECAY,
            DEFAULT_INIT,
        )
    }

    pub fn with_options(
        lambda_min: f64,
        lambda_max: f64,
        bins: usize,
        decay: f64,
        init: f64,
    ) -> Result<Self, TheoryError> {
        require_lambda_range(lambda_min, lambda_max)?;
        if bins == 0 || bins > 100_000 {
            return Err(TheoryError::InvalidInput(format!(
                "the adaptive schedule needs between 1 and 100000 bins, got {bins}"
            )));
        }
        if !(0.0..1.0).contains(&decay) {
            return Err(TheoryError::InvalidInput(format!(
                "the EMA decay must be in [0, 1), got {decay}"
            )));
        }
        if !(init > 0.0 && init.is_finite()) {
            return Err(TheoryError::InvalidInput(format!(
                "the EMA initial value must be a positive number, got {init}"
            )));
        }
        let mut schedule = Self {
            lambda_min,
            lambda_max,
            decay,
            ema: vec![init; bins],
            cdf: Vec::new(),
        };
        schedule.rebuild_cdf();
        Ok(schedule)
    }

    pub fn bins(&self) -> usize {
        self.ema.len()
    }

    pub fn lambda_min(&self) -> f64 {
        self.lambda_min
    }

    pub fn lambda_max(&self) -> f64 {
        self.lambda_max
    }

    /// The per-bin EMAs.
    pub fn ema(&self) -> &[f64] {
        &self.ema
    }

    fn bin_width(&self) -> f64 {
        (self.lambda_max - self.lambda_min) / self.bins() as f64
    }

    /// Edge b of the bins (b = 0..=bins).
    pub fn edge(&self, b: usize) -> f64 {
        if b >= self.bins() {
            self.lambda_max
        } else {
            self.lambda_min + b as f64 * self.bin_width()
        }
    }

    fn bin_of(&self, lambda: f64) -> usize {
        let b = ((lambda - self.lambda_min) / self.bin_width()).floor();
        (b.max(0.0) as usize).min(self.bins() - 1)
    }

    /// Replaces the per-bin EMAs (a restored run's, from `ema()`), refusing a different bin count
    /// or a value that is not finite and ≥ 0. On error nothing changes.
    pub fn set_ema(&mut self, ema: &[f64]) -> Result<(), TheoryError> {
        if ema.len() != self.bins() {
            return Err(TheoryError::InvalidInput(format!(
                "{} EMA values for a schedule of {} bins",
                ema.len(),
                self.bins()
            )));
        }
        if let Some(bad) = ema.iter().find(|v| !(v.is_finite() && **v >= 0.0)) {
            return Err(TheoryError::InvalidInput(format!(
                "EMA value {bad}; values must be finite and ≥ 0"
            )));
        }
        self.ema = ema.to_vec();
        self.rebuild_cdf();
        Ok(())
    }

    /// Folds one training step into the EMAs: the values w(λ_i)‖ε_i - ε̂_i‖² falling in a bin are
    /// averaged and that bin's EMA moves toward the average by (1 - decay); bins without samples
    /// keep their value. λ must lie in [λ_min, λ_max] (up to rounding); values must be finite
    /// and ≥ 0. On error nothing changes.
    pub fn update(&mut self, lambdas: &[f64], values: &[f64]) -> Result<(), TheoryError> {
        if lambdas.len() != values.len() {
            return Err(TheoryError::InvalidInput(format!(
                "update needs one value per λ, got {} λ and {} values",
                lambdas.len(),
                values.len()
            )));
        }
        let slack = 1e-9 * (self.lambda_max - self.lambda_min);
        let mut sums = vec![0.0; self.bins()];
        let mut counts = vec![0usize; self.bins()];
        for (&lambda, &value) in lambdas.iter().zip(values) {
            if !(lambda >= self.lambda_min - slack && lambda <= self.lambda_max + slack) {
                return Err(TheoryError::InvalidInput(format!(
                    "λ = {lambda} is outside the schedule's range [{}, {}]",
                    self.lambda_min, self.lambda_max
                )));
            }
            if !(value.is_finite() && value >= 0.0) {
                return Err(TheoryError::InvalidInput(format!(
                    "loss value {value} at λ = {lambda}; values must be finite and ≥ 0"
                )));
            }
            let b = self.bin_of(lambda);
            sums[b] += value;
            counts[b] += 1;
        }
        let mut next = self.ema.clone();
        for (b, slot) in next.iter_mut().enumerate() {
            if counts[b] > 0 {
                let mean = sums[b] / counts[b] as f64;
                *slot = self.decay * *slot + (1.0 - self.decay) * mean;
            }
        }
        if next.iter().any(|v| !v.is_finite()) {
            return Err(TheoryError::Numerical(
                "the loss values overflow the EMA; they must be far below 1e300".into(),
            ));
        }
        self.ema = next;
        self.rebuild_cdf();
        Ok(())
    }

    /// Eq. 136: normalises the EMAs into bin masses. If every EMA has decayed to 0 the schedule
    /// falls back to uniform.
    fn rebuild_cdf(&mut self) {
        let total: f64 = self.ema.iter().sum();
        let uniform = !(total > 0.0 && total.is_finite());
        let bins = self.bins();
        let mut cdf = Vec::with_capacity(bins + 1);
        let mut acc = 0.0;
        cdf.push(0.0);
        for (b, e) in self.ema.iter().enumerate() {
            acc += if uniform {
                1.0 / bins as f64
            } else {
                e / total
            };
            cdf.push(if b + 1 == bins { 1.0 } else { acc.min(1.0) });
        }
        self.cdf = cdf;
    }

    /// p(λ): the bin's mass over the bin width (0 outside the range).
    pub fn p_lambda(&self, lambda: f64) -> f64 {
        if !(lambda >= self.lambda_min && lambda <= self.lambda_max) {
            return 0.0;
        }
        let b = self.bin_of(lambda);
        (self.cdf[b + 1] - self.cdf[b]) / self.bin_width()
    }

    /// P(Λ ≤ λ), piecewise linear.
    pub fn cdf(&self, lambda: f64) -> f64 {
        if lambda <= self.lambda_min {
            return 0.0;
        }
        if lambda >= self.lambda_max {
            return 1.0;
        }
        let b = self.bin_of(lambda);
        let frac = (lambda - self.edge(b)) / self.bin_width();
        self.cdf[b] + frac.clamp(0.0, 1.0) * (self.cdf[b + 1] - self.cdf[b])
    }

    /// t(λ) = 1 - CDF(λ) (App. E.3: the CDF of p(λ) is 1 - f⁻¹(λ)).
    pub fn t_of_lambda(&self, lambda: f64) -> f64 {
        1.0 - self.cdf(lambda)
    }

    /// Inverse CDF: the λ with CDF(λ) = q, q clamped to [0, 1].
    pub fn quantile(&self, q: f64) -> f64 {
        let q = if q.is_nan() { 0.0 } else { q.clamp(0.0, 1.0) };
        // First bin whose upper CDF exceeds q (bins of zero mass are skipped).
        let b = self.cdf[1..]
            .partition_point(|&c| c <= q)
            .min(self.bins() - 1);
        let mass = self.cdf[b + 1] - self.cdf[b];
        let frac = if mass > 0.0 {
            ((q - self.cdf[b]) / mass).clamp(0.0, 1.0)
        } else {
            0.0
        };
        self.edge(b) + frac * self.bin_width()
    }

    /// λ(t), the inverse of [`Self::t_of_lambda`]: λ(0) = λ_max, λ(1) = λ_min.
    pub fn lambda(&self, t: f64) -> f64 {
        self.quantile(1.0 - t)
    }

    /// dλ/dt = -1/p(λ(t)).
    pub fn dlambda_dt(&self, t: f64) -> f64 {
        -1.0 / self.p_lambda(self.lambda(t))
    }

    /// A λ sample from a uniform u ∈ [0, 1) by the inverse CDF.
    pub fn sample(&self, u: f64) -> f64 {
        self.quantile(u)
    }

    /// Eq. 135: the importance weight w(λ)/p(λ) of a sample λ ~ p.
    pub fn importance_weight(&self, weighting: &Weighting, lambda: f64) -> f64 {
        weighting.w(lambda) / self.p_lambda(lambda)
    }
}
