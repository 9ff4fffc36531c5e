//! The weighted loss (Eq. 5) estimated by importance sampling over λ (Eq. 7), prepared per batch
//! on the host in f64 from the theory core: λ, z_λ, the regression target and each example's
//! coefficient ½·w(λ)/p(λ)·factor(target, λ), so the device only evaluates Σ c_i‖y_i − ŷ_i‖².

use rand::Rng;
use rand_distr::StandardNormal;

use super::config::{TSampling, TrainConfig, ADAPTIVE};
use super::EngineError;
use crate::theory::adaptive::AdaptiveSchedule;
use crate::theory::param::Vp;
use crate::theory::{Schedule, Target, Weighting};

/// Where training λ's come from: a fixed schedule (Table 4) or the adaptive one (App. F).
#[derive(Debug, Clone)]
pub enum TrainSchedule {
    Fixed(Schedule),
    Adaptive(AdaptiveSchedule),
}

impl TrainSchedule {
    /// λ for a uniform u: λ(t = u) for a fixed schedule, the inverse CDF for the adaptive one.
    pub fn lambda_of(&self, u: f64) -> f64 {
        match self {
            Self::Fixed(s) => s.lambda(u),
            Self::Adaptive(a) => a.sample(u),
        }
    }

    pub fn log_p(&self, lambda: f64) -> f64 {
        match self {
            Self::Fixed(s) => s.log_p_lambda(lambda),
            Self::Adaptive(a) => a.p_lambda(lambda).ln(),
        }
    }

    pub fn p(&self, lambda: f64) -> f64 {
        self.log_p(lambda).exp()
    }
}

/// One batch ready for the device (f32) plus what the host keeps to interpret the result (f64).
#[derive(Debug, Clone, Default)]
pub struct PreparedBatch {
    /// z_λ = α x + σ ε, row-major [B, d].
    pub z: Vec<f32>,
    /// λ per example, [B, 1].
    pub lambda: Vec<f32>,
    /// The regression target y(x, ε, λ) of the chosen parameterisation, [B, d].
    pub target: Vec<f32>,
    /// ½ w(λ)/p(λ) · factor(target, λ): the example's weight on ‖y − ŷ‖² (Eq. 7, 122–126).
    pub coef: Vec<f32>,
    pub lambdas: Vec<f64>,
    /// ‖ε − ε̂‖² / ‖y − ŷ‖² per example (Eq. 122–126).
    pub eps_factor: Vec<f64>,
    /// w(λ) per example (the adaptive schedule tracks w·‖ε − ε̂‖²).
    pub w: Vec<f64>,
}

impl PreparedBatch {
    /// Drops the network's inputs and targets once the device has its copy: what a pending step
    /// keeps until its losses are read back (coef, λ, factors, w) is under half the batch.
    pub fn release_inputs(&mut self) {
        self.z = Vec::new();
        self.lambda = Vec::new();
        self.target = Vec::new();
    }
}

#[derive(Debug, Clone)]
pub struct Objective {
    pub weighting: Weighting,
    pub schedule: TrainSchedule,
    pub target: Target,
    pub t_sampling: TSampling,
}

impl Objective {
    pub fn new(config: &TrainConfig) -> Result<Self, EngineError> {
        let schedule = if config.schedule.name == ADAPTIVE {
            TrainSchedule::Adaptive(AdaptiveSchedule::new(config.lambda_min, config.lambda_max)?)
        } else {
            TrainSchedule::Fixed(
                config
                    .schedule
                    .build(config.lambda_min, config.lambda_max)?,
            )
        };
        Ok(Self {
            weighting: config.weighting_fn()?,
            schedule,
            target: config.target_fn()?,
            t_sampling: config.t_sampling,
        })
    }

    /// Uniform u's for a batch of n, by the configured low-discrepancy rule.
    pub fn draw_u(&self, n: usize, rng: &mut impl Rng) -> Vec<f64> {
        match self.t_sampling {
            TSampling::Iid => (0..n).map(|_| rng.random::<f64>()).collect(),
            TSampling::Stratified => {
                let u0: f64 = rng.random();
                (0..n).map(|i| (u0 + i as f64 / n as f64).fract()).collect()
            }
            TSampling::Antithetic => {
                let mut u = Vec::with_capacity(n);
                while u.len() < n {
                    let v: f64 = rng.random();
                    u.push(v);
                    if u.len() < n {
                        u.push(1.0 - v);
                    }
                }
                u
            }
        }
    }

    /// Draws λ and ε for every example of `x` (model space, row-major [n, dim]) and computes
    /// what the device and the host need. ε is drawn here, with the run's seed, so a run is
    /// identical on every backend.
    pub fn prepare(&self, x: &[f64], dim: usize, rng: &mut impl Rng) -> PreparedBatch {
        let n = x.len() / dim.max(1);
        let u = self.draw_u(n, rng);
        let mut batch = PreparedBatch {
            z: Vec::with_capacity(dim * n),
            lambda: Vec::with_capacity(n),
            target: Vec::with_capacity(dim * n),
            coef: Vec::with_capacity(n),
            lambdas: Vec::with_capacity(n),
            eps_factor: Vec::with_capacity(n),
            w: Vec::with_capacity(n),
        };
        for (example, &u) in x.chunks_exact(dim.max(1)).zip(&u) {
            // Keep u off the open ends, where λ(t) of a truncated schedule is exactly λ_max/λ_min
            // but some schedules' derivatives are not finite.
            let lambda = self.schedule.lambda_of(u.clamp(1e-9, 1.0 - 1e-9));
            let vp = Vp::new(lambda);
            let log_factor = self.target.log_loss_factor(lambda);
            // Eq. 7: importance weight w/p, times the target's factor, times ½ (Eq. 5).
            let log_coef = self.weighting.log_w(lambda) - self.schedule.log_p(lambda) + log_factor;
            for &xj in example {
                let eps: f64 = rng.sample(StandardNormal);
                let z = vp.z(xj, eps);
                batch.z.push(z as f32);
                batch.target.push(self.target.from_eps(&vp, z, eps) as f32);
            }
            batch.lambda.push(lambda as f32);
            batch.coef.push((0.5 * log_coef.exp()) as f32);
            batch.lambdas.push(lambda);
            batch.eps_factor.push(log_factor.exp());
            batch.w.push(self.weighting.w(lambda));
        }
        batch
    }

    /// ε̂ = C·z + D·ŷ for a prediction ŷ of the target at λ (every target is linear in z and ε).
    pub fn eps_coefficients(&self, lambda: f64) -> (f64, f64) {
        let vp = Vp::new(lambda);
        (
            self.target.to_eps(&vp, 1.0, 0.0),
            self.target.to_eps(&vp, 0.0, 1.0),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::config::preset;
    use rand::{rngs::StdRng, SeedableRng};

    #[test]
    fn stratified_and_antithetic_u_cover_the_unit_interval() {
        let mut rng = StdRng::seed_from_u64(1);
        let mut objective = Objective::new(&TrainConfig::default()).unwrap();
        let u = objective.draw_u(8, &mut rng);
        let mut sorted = u.clone();
        sorted.sort_by(f64::total_cmp);
        for (i, v) in sorted.iter().enumerate() {
            assert!(
                *v >= i as f64 / 8.0 && *v < (i + 1) as f64 / 8.0,
                "one u per stratum: {sorted:?}"
            );
        }
        objective.t_sampling = TSampling::Antithetic;
        let u = objective.draw_u(6, &mut rng);
        for pair in u.chunks(2) {
            assert!((pair[0] + pair[1] - 1.0).abs() < 1e-15);
        }
    }

    #[test]
    fn the_batch_estimates_the_weighted_loss_of_a_known_predictor() {
        // With ε̂ ≡ 0 (ŷ = the target's value at ε̂ = 0), ‖ε − ε̂‖² = ‖ε‖², whose mean is d, so
        // Eq. 7's estimate of the ELBO-weighted loss must be ½ · d · (λ_max − λ_min).
        for target in ["eps", "x", "v", "f"] {
            let config = TrainConfig {
                target: target.into(),
                ..preset("default").unwrap()
            };
            let objective = Objective::new(&config).unwrap();
            let mut rng = StdRng::seed_from_u64(7);
            let n = 20_000;
            let x = [0.3, -1.1].repeat(n);
            let batch = objective.prepare(&x, 2, &mut rng);
            let mut total = 0.0;
            for i in 0..n {
                let (c, d) = objective.eps_coefficients(batch.lambdas[i]);
                let mut err = 0.0;
                for j in 0..2 {
                    let z = f64::from(batch.z[2 * i + j]);
                    // The prediction that means ε̂ = 0: C z + D ŷ = 0.
                    let y_hat = -c * z / d;
                    err += (f64::from(batch.target[2 * i + j]) - y_hat).powi(2);
                }
                total += f64::from(batch.coef[i]) * err;
            }
            let estimate = total / n as f64;
            let exact = 0.5 * 2.0 * (config.lambda_max - config.lambda_min);
            assert!(
                (estimate / exact - 1.0).abs() < 0.03,
                "{target}: {estimate} vs {exact}"
            );
        }
    }
}
