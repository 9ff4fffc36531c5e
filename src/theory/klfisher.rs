//! App. G, Eq. 138: d/dλ KL(q(z_λ|x) || p(z_λ)) = ½σ_λ² D_F(q(z_λ|x) || p(z_λ)), checked in
//! integrated form on a Gaussian mixture: the rise of the KL from λ_min (from log-densities only)
//! against the running integral of ½σ²·Fisher divergence (from scores only), with the ε-loss of
//! the mixture's denoiser, ½f (Eq. 9), as a third route to the same slope.

use serde::{Deserialize, Serialize};

use super::error::{require_lambda_range, TheoryError};
use super::gmm::Gmm;
use super::identity::{
    check_budget, fisher_divergence, kl_to_marginal, per_lambda_loss, EpsExpectation,
};
use super::numeric::sigma2;
use super::quadrature::CompositeRule;

/// Widest λ panel and nodes per panel of the running integral.
pub const PANEL_WIDTH: f64 = 1.0;
pub const PANEL_ORDER: usize = 10;

/// Both sides of Eq. 138, per λ and integrated, at the nodes of a composite rule (plus both ends).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KlFisherCurve {
    pub lambda: Vec<f64>,
    /// KL(q(z_λ|x)||p(z_λ)) - KL at λ_min, from log-densities (Eq. 14).
    pub kl_rise: Vec<f64>,
    /// ∫_{λ_min}^{λ} ½σ² D_F dλ', from scores (Eq. 137–138).
    pub fisher_integral: Vec<f64>,
    /// The slopes: ½σ² D_F and ½ E‖ε - ε*‖² (equal by Eq. 117 and ε* = -σ∇log p).
    pub half_sigma2_fisher: Vec<f64>,
    pub half_eps_loss: Vec<f64>,
    /// max over λ of |kl_rise - fisher_integral|, relative to the total rise.
    pub max_relative_gap: f64,
}

/// Eq. 138 for data point `x` and the model mixture `model` on [λ_min, λ_max].
pub fn kl_fisher_curve(
    model: &Gmm,
    x: &[f64],
    lambda_min: f64,
    lambda_max: f64,
) -> Result<KlFisherCurve, TheoryError> {
    require_lambda_range(lambda_min, lambda_max)?;
    model.check_point(x)?;
    let rule = CompositeRule::new(lambda_min, lambda_max, &[], PANEL_WIDTH, PANEL_ORDER)?;
    let expectation = EpsExpectation::new(model);
    // Three expectations per node (KL, Fisher, ε-loss) against the budget's two.
    let mut priced = rule.nodes.clone();
    priced.extend(rule.nodes.iter().step_by(2));
    check_budget(model, &priced, &expectation)?;
    let half_sigma2_fisher: Vec<f64> = rule
        .nodes
        .iter()
        .map(|&l| 0.5 * sigma2(l) * fisher_divergence(model, x, l, &expectation))
        .collect();
    let half_eps_loss: Vec<f64> = rule
        .nodes
        .iter()
        .map(|&l| 0.5 * per_lambda_loss(model, x, l, &expectation))
        .collect();
    let kl_min = kl_to_marginal(model, x, lambda_min, &expectation);
    let (running, total) = rule.running_integral(&half_sigma2_fisher);

    let mut lambda = vec![lambda_min];
    lambda.extend_from_slice(&rule.nodes);
    lambda.push(lambda_max);
    let kl_rise: Vec<f64> = lambda
        .iter()
        .map(|&l| kl_to_marginal(model, x, l, &expectation) - kl_min)
        .collect();
    let mut fisher_integral = vec![0.0];
    fisher_integral.extend_from_slice(&running);
    fisher_integral.push(total);
    let mut slope_f = vec![f64::NAN];
    slope_f.extend_from_slice(&half_sigma2_fisher);
    let mut slope_e = vec![f64::NAN];
    slope_e.extend_from_slice(&half_eps_loss);
    // The ends carry no slope sample of their own: repeat the nearest node's.
    slope_f[0] = slope_f[1];
    slope_e[0] = slope_e[1];
    slope_f.push(*slope_f.last().unwrap_or(&0.0));
    slope_e.push(*slope_e.last().unwrap_or(&0.0));
    if kl_rise
        .iter()
        .chain(&fisher_integral)
        .chain(&slope_f)
        .chain(&slope_e)
        .any(|v| !v.is_finite())
    {
        return Err(TheoryError::Numerical(
            "the KL or the Fisher divergence is not finite on this range".into(),
        ));
    }
    let scale = kl_rise
        .last()
        .copied()
        .unwrap_or(0.0)
        .abs()
        .max(total.abs())
        .max(f64::MIN_POSITIVE);
    let max_relative_gap = kl_rise
        .iter()
        .zip(&fisher_integral)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f64::max)
        / scale;
    Ok(KlFisherCurve {
        lambda,
        kl_rise,
        fisher_integral,
        half_sigma2_fisher: slope_f,
        half_eps_loss: slope_e,
        max_relative_gap,
    })
}
