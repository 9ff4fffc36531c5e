//! Prediction targets (ε, x, v, F, score, o), conversions between them at a given (z, λ), and the
//! factors that turn each target's squared error into the ε-error (App. D, App. E.2).
//!
//! Everything is in the variance-preserving family: α² = sigmoid(λ), σ² = sigmoid(-λ).
//!
//! EDM's F-parameterisation (Eq. 119–121): the paper writes the skip term as
//! σ̃²_data·α/(e^{-λ} + σ̃²_data)·z. EDM preconditions the network input z̃ = z/α (the VE latent),
//! so the skip coefficient on z is σ̃²_data/(α(e^{-λ} + σ̃²_data)); only with that form does F have
//! unit variance for data of standard deviation σ̃_data (as EDM intends), and the two agree in the
//! VE case α = 1. We use the EDM form; the loss factor (Eq. 126) is the same for both because it
//! depends only on c_out.

use std::collections::BTreeMap;

use super::error::TheoryError;
use super::numeric::{alpha2, sigma2, softplus};
use super::params::{positive, ParamReader};

/// Names accepted by [`Target::from_name`].
pub const TARGET_NAMES: [&str; 6] = ["eps", "x", "v", "f", "score", "o"];

/// Default σ̃_data of the F-parameterisation (EDM).
pub const DEFAULT_SIGMA_DATA: f64 = 0.5;

/// What the network predicts, and so what the MSE is measured on.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Target {
    /// Noise ε (Ho et al.).
    Eps,
    /// Data x.
    X,
    /// v = αε - σx (Salimans & Ho, Eq. 49).
    V,
    /// EDM's F (Eq. 119–121) with σ̃_data.
    F { sigma_data: f64 },
    /// Score ∇ log q(z_λ|x) = -ε/σ (Eq. 117).
    Score,
    /// Flow-matching velocity target o = x - ε (Eq. 72).
    O,
}

impl Target {
    /// Builds a target from its name; `f` takes `sigma_data` (default 0.5).
    pub fn from_name(name: &str, params: &BTreeMap<String, f64>) -> Result<Self, TheoryError> {
        let owner = format!("target `{name}`");
        let keys: &[&'static str] = match name {
            "f" => &["sigma_data"],
            "eps" | "x" | "v" | "score" | "o" => &[],
            _ => {
                return Err(TheoryError::UnknownName {
                    what: "prediction target",
                    name: name.to_string(),
                    accepted: TARGET_NAMES.join(", "),
                })
            }
        };
        let reader = ParamReader::new(&owner, params, keys)?;
        Ok(match name {
            "eps" => Self::Eps,
            "x" => Self::X,
            "v" => Self::V,
            "f" => Self::F {
                sigma_data: reader.get("sigma_data", DEFAULT_SIGMA_DATA, positive)?,
            },
            "score" => Self::Score,
            _ => Self::O,
        })
    }

    pub fn name(&self) -> &'static str {
        match self {
            Self::Eps => "eps",
            Self::X => "x",
            Self::V => "v",
            Self::F { .. } => "f",
            Self::Score => "score",
            Self::O => "o",
        }
    }

    /// log of the factor with ‖ε - ε̂‖² = factor · ‖target - target̂‖² at log-SNR λ.
    pub fn log_loss_factor(&self, lambda: f64) -> f64 {
        match *self {
            Self::Eps => 0.0,
            // Eq. 122: ‖ε - ε̂‖² = e^λ ‖x - x̂‖².
            Self::X => lambda,
            // Eq. 123: factor σ².
            Self::Score => -softplus(lambda),
            // Eq. 125 (VP): factor (e^{-λ} + 1)^{-1}.
            Self::V => -softplus(-lambda),
            // Eq. 126: factor (e^{-λ}/σ̃²_data + 1)^{-1}.
            Self::F { sigma_data } => -softplus(-lambda - 2.0 * sigma_data.ln()),
            // Eq. 78: ‖o - ô‖² = (1 + e^{-λ/2})² ‖ε - ε̂‖².
            Self::O => -2.0 * softplus(-0.5 * lambda),
        }
    }

    /// ‖ε - ε̂‖² / ‖target - target̂‖² (Eq. 122–126, 78).
    pub fn loss_factor(&self, lambda: f64) -> f64 {
        self.log_loss_factor(lambda).exp()
    }

    /// The target's value for one coordinate, given z and the ε that produced it.
    pub fn from_eps(&self, vp: &Vp, z: f64, eps: f64) -> f64 {
        let x = vp.x_from_eps(z, eps);
        match *self {
            Self::Eps => eps,
            Self::X => x,
            Self::V => vp.v_from_eps_x(eps, x),
            Self::F { sigma_data } => vp.f_from_x(z, x, sigma_data),
            Self::Score => vp.score_from_eps(eps),
            Self::O => vp.o_from_eps_x(eps, x),
        }
    }

    /// The ε implied by a value of the target for one coordinate, given z.
    pub fn to_eps(&self, vp: &Vp, z: f64, value: f64) -> f64 {
        match *self {
            Self::Eps => value,
            Self::X => vp.eps_from_x(z, value),
            Self::V => vp.eps_from_v(z, value),
            Self::F { sigma_data } => vp.eps_from_x(z, vp.x_from_f(z, value, sigma_data)),
            Self::Score => vp.eps_from_score(value),
            Self::O => vp.eps_from_o(z, value),
        }
    }
}

/// α and σ of the VP process at one λ, with the conversions of Eq. 49, 72, 109–121.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Vp {
    pub lambda: f64,
    pub alpha: f64,
    pub sigma: f64,
}

impl Vp {
    /// Eq. 100–101: α² = sigmoid(λ), σ² = sigmoid(-λ).
    pub fn new(lambda: f64) -> Self {
        Self {
            lambda,
            alpha: alpha2(lambda).sqrt(),
            sigma: sigma2(lambda).sqrt(),
        }
    }

    /// Eq. 111: z = αx + σε.
    pub fn z(&self, x: f64, eps: f64) -> f64 {
        self.alpha * x + self.sigma * eps
    }

    /// Eq. 112: x = (z - σε)/α.
    pub fn x_from_eps(&self, z: f64, eps: f64) -> f64 {
        (z - self.sigma * eps) / self.alpha
    }

    /// Eq. 113: ε = (z - αx)/σ.
    pub fn eps_from_x(&self, z: f64, x: f64) -> f64 {
        (z - self.alpha * x) / self.sigma
    }

    /// Eq. 49: v = αε - σx.
    pub fn v_from_eps_x(&self, eps: f64, x: f64) -> f64 {
        self.alpha * eps - self.sigma * x
    }

    /// Inverse of Eq. 49 with Eq. 111 when α² + σ² = 1: ε = αv + σz.
    pub fn eps_from_v(&self, z: f64, v: f64) -> f64 {
        self.alpha * v + self.sigma * z
    }

    /// x = αz - σv (VP).
    pub fn x_from_v(&self, z: f64, v: f64) -> f64 {
        self.alpha * z - self.sigma * v
    }

    /// Eq. 109 / 117: s = -ε/σ.
    pub fn score_from_eps(&self, eps: f64) -> f64 {
        -eps / self.sigma
    }

    /// Eq. 109: ε = -σ s.
    pub fn eps_from_score(&self, score: f64) -> f64 {
        -self.sigma * score
    }

    /// Eq. 72: o = x - ε.
    pub fn o_from_eps_x(&self, eps: f64, x: f64) -> f64 {
        x - eps
    }

    /// Eq. 72 with Eq. 111: z = αo + (α + σ)ε ⇒ ε = (z - αo)/(α + σ).
    pub fn eps_from_o(&self, z: f64, o: f64) -> f64 {
        (z - self.alpha * o) / (self.alpha + self.sigma)
    }

    /// EDM preconditioning (c_skip, c_out) on the VP latent: x = c_skip·z + c_out·F, with
    /// e^{-λ/2} = σ/α. See the module doc for why c_skip carries 1/α.
    pub fn edm_coefficients(&self, sigma_data: f64) -> (f64, f64) {
        let ratio = self.sigma / self.alpha;
        let denom = ratio * ratio + sigma_data * sigma_data;
        let c_skip = sigma_data * sigma_data / (self.alpha * denom);
        let c_out = ratio * sigma_data / denom.sqrt();
        (c_skip, c_out)
    }

    /// Eq. 120 (EDM form): F = (x - c_skip z)/c_out.
    pub fn f_from_x(&self, z: f64, x: f64, sigma_data: f64) -> f64 {
        let (c_skip, c_out) = self.edm_coefficients(sigma_data);
        (x - c_skip * z) / c_out
    }

    /// Eq. 119 (EDM form): x = c_skip z + c_out F.
    pub fn x_from_f(&self, z: f64, f: f64, sigma_data: f64) -> f64 {
        let (c_skip, c_out) = self.edm_coefficients(sigma_data);
        c_skip * z + c_out * f
    }
}
