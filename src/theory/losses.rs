//! Familiar training losses as (prediction target, training schedule, loss multiplier), each with
//! the Table 1 row it should reproduce (App. D), for the explainer's implied-weighting widget.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// A loss as it is written in its paper, and the Table 1 weighting its App. D derivation gives.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LossPreset {
    pub name: String,
    pub label: String,
    /// KaTeX of the loss as its paper writes it.
    pub latex: String,
    /// eps, x, v, f, score or o.
    pub target: String,
    pub target_params: BTreeMap<String, f64>,
    /// The schedule its paper trains with.
    pub schedule: String,
    /// none, p2, min-snr or elbo.
    pub multiplier: String,
    /// Parameter keys of the multiplier that also parametrise the Table 1 row (γ of P2, Min-SNR).
    pub multiplier_params: BTreeMap<String, f64>,
    /// The Table 1 weighting (registry name) of this loss with its own schedule.
    pub table_weighting: String,
}

#[allow(clippy::too_many_arguments)]
fn preset(
    name: &str,
    label: &str,
    latex: &str,
    target: &str,
    schedule: &str,
    multiplier: &str,
    multiplier_params: &[(&str, f64)],
    table_weighting: &str,
) -> LossPreset {
    let target_params = if target == "f" {
        [("sigma_data".to_string(), 0.5)].into_iter().collect()
    } else {
        BTreeMap::new()
    };
    LossPreset {
        name: name.into(),
        label: label.into(),
        latex: latex.into(),
        target: target.into(),
        target_params,
        schedule: schedule.into(),
        multiplier: multiplier.into(),
        multiplier_params: multiplier_params
            .iter()
            .map(|(k, v)| (k.to_string(), *v))
            .collect(),
        table_weighting: table_weighting.into(),
    }
}

/// The losses of Table 1 (App. D.1–D.6) and the ELBO (Eq. 4).
pub fn loss_presets() -> Vec<LossPreset> {
    vec![
        preset(
            "eps-cosine",
            "ε-prediction MSE, cosine schedule (IDDPM)",
            r"\mathbb E_{t\sim\mathcal U(0,1),\boldsymbol\epsilon}\lVert\boldsymbol\epsilon-\hat{\boldsymbol\epsilon}_\theta(\mathbf z_t;t)\rVert^2",
            "eps",
            "cosine",
            "none",
            &[],
            "iddpm",
        ),
        preset(
            "v-cosine",
            "v-prediction MSE, cosine schedule",
            r"\mathbb E_{t,\boldsymbol\epsilon}\lVert\mathbf v-\hat{\mathbf v}_\theta(\mathbf z_t;t)\rVert^2,\ \mathbf v=\alpha_t\boldsymbol\epsilon-\sigma_t\mathbf x",
            "v",
            "cosine",
            "none",
            &[],
            "v-cosine",
        ),
        preset(
            "edm",
            "EDM (F-prediction, EDM training schedule)",
            r"\mathbb E_{\sigma,\boldsymbol\epsilon}\,\lVert\mathbf F-\hat{\mathbf F}_\theta\rVert^2,\ \log\sigma\sim\mathcal N(-1.2,1.2^2)",
            "f",
            "edm-train",
            "none",
            &[],
            "edm",
        ),
        preset(
            "flow-matching",
            "Flow matching / rectified flow (OT path)",
            r"\mathbb E_{t,\boldsymbol\epsilon}\lVert(\boldsymbol\epsilon-\mathbf x)-\hat{\mathbf o}_\theta(\mathbf z_t;t)\rVert^2,\ \mathbf z_t=(1-t)\mathbf x+t\boldsymbol\epsilon",
            "o",
            "fm-ot",
            "none",
            &[],
            "fm-ot",
        ),
        preset(
            "indi",
            "InDI (x-prediction, OT path)",
            r"\mathbb E_{t,\boldsymbol\epsilon}\lVert\mathbf x-\hat{\mathbf x}_\theta(\mathbf z_t;t)\rVert^2",
            "x",
            "fm-ot",
            "none",
            &[],
            "indi",
        ),
        preset(
            "min-snr",
            "Min-SNR-γ (x-prediction, cosine)",
            r"\mathbb E_{t,\boldsymbol\epsilon}\,\min(e^{\lambda_t},\gamma)\,\lVert\mathbf x-\hat{\mathbf x}_\theta\rVert^2",
            "x",
            "cosine",
            "min-snr",
            &[("gamma", 5.0)],
            "min-snr",
        ),
        preset(
            "p2",
            "P2 (ε-prediction, cosine)",
            r"\mathbb E_{t,\boldsymbol\epsilon}\,\frac{\lVert\boldsymbol\epsilon-\hat{\boldsymbol\epsilon}_\theta\rVert^2}{(k+e^{\lambda_t})^{\gamma}}",
            "eps",
            "cosine",
            "p2",
            &[("gamma", 1.0)],
            "p2",
        ),
        preset(
            "elbo",
            "ELBO (ε-prediction, −dλ/dt factor)",
            r"\mathbb E_{t,\boldsymbol\epsilon}\,\Big(-\frac{d\lambda}{dt}\Big)\lVert\boldsymbol\epsilon-\hat{\boldsymbol\epsilon}_\theta\rVert^2",
            "eps",
            "cosine",
            "elbo",
            &[],
            "elbo",
        ),
    ]
}
