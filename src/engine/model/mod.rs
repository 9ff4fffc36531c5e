//! The denoiser as a choice of network family: the MLP of the 2D trainer (mlp.rs) or the U-Net
//! for 28 × 28 images (unet.rs). Both take z flattened to [B, d] and λ as [B, 1], so the
//! trainer, the samplers and the ELBO do not care which one runs.

pub mod conv;
pub mod mlp;
pub mod unet;

use burn::prelude::*;
use serde::{Deserialize, Deserializer, Serialize};

pub use mlp::Mlp;
pub use unet::{UNet, UNetConfig};

use super::EngineError;

/// The MLP's shape.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MlpConfig {
    /// Hidden layers.
    pub depth: usize,
    /// Units per hidden layer.
    pub width: usize,
    /// Fourier features of z at frequencies 2^0 … 2^(n−1).
    pub fourier_octaves: usize,
    /// Sinusoidal embedding of λ with this many frequencies.
    pub lambda_frequencies: usize,
}

impl Default for MlpConfig {
    fn default() -> Self {
        Self {
            depth: 3,
            width: 128,
            fourier_octaves: 4,
            lambda_frequencies: 16,
        }
    }
}

impl MlpConfig {
    fn validate(&self) -> Result<(), String> {
        if self.depth == 0 || self.depth > 16 || self.width == 0 || self.width > 4096 {
            return Err(format!(
                "depth must be 1..=16 and width 1..=4096, got {} × {}",
                self.depth, self.width
            ));
        }
        if self.fourier_octaves > 16 || self.lambda_frequencies > 64 {
            return Err("at most 16 Fourier octaves and 64 λ frequencies".into());
        }
        Ok(())
    }
}

/// Which network, with its shape. In JSON the MLP is its bare fields (`{"depth": 3, …}`, as
/// every earlier configuration and checkpoint wrote it) and the U-Net is `{"unet": {…}}`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum ModelConfig {
    Mlp(MlpConfig),
    UNet { unet: UNetConfig },
}

impl Default for ModelConfig {
    fn default() -> Self {
        Self::Mlp(MlpConfig::default())
    }
}

impl<'de> Deserialize<'de> for ModelConfig {
    /// By the `unet` key, so that a mistake in either family's fields is reported as such
    /// (an untagged enum would only say that nothing matched).
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct UNetChoice {
            unet: UNetConfig,
        }
        let value = serde_json::Value::deserialize(deserializer)?;
        if value.get("unet").is_some() {
            let choice = UNetChoice::deserialize(value).map_err(D::Error::custom)?;
            Ok(Self::UNet { unet: choice.unet })
        } else {
            MlpConfig::deserialize(value)
                .map(Self::Mlp)
                .map_err(D::Error::custom)
        }
    }
}

impl ModelConfig {
    /// The U-Net presets (`tiny`, `small`) by name.
    pub fn unet_preset(name: &str) -> Result<Self, EngineError> {
        UNetConfig::preset(name)
            .map(|unet| Self::UNet { unet })
            .ok_or_else(|| EngineError::InvalidConfig {
                field: "preset",
                message: format!(
                    "unknown U-Net preset `{name}`; accepted: {}",
                    UNetConfig::PRESETS.join(", ")
                ),
            })
    }

    /// `mlp` or `unet`.
    pub fn family(&self) -> &'static str {
        match self {
            Self::Mlp(_) => "mlp",
            Self::UNet { .. } => "unet",
        }
    }

    pub fn as_mlp(&self) -> Option<&MlpConfig> {
        match self {
            Self::Mlp(m) => Some(m),
            Self::UNet { .. } => None,
        }
    }

    /// The network's own limits (what data it fits is checked by `Denoiser::new`).
    pub fn validate(&self) -> Result<(), EngineError> {
        let checked = match self {
            Self::Mlp(m) => m.validate(),
            Self::UNet { unet } => unet.validate(),
        };
        checked.map_err(|message| EngineError::InvalidConfig {
            field: "model",
            message,
        })
    }
}

#[derive(Module, Debug)]
#[allow(clippy::large_enum_variant)]
pub enum Denoiser {
    Mlp(Mlp),
    UNet(UNet),
}

impl Denoiser {
    /// A freshly initialised network for examples of `shape` (`[d]` for points, `[1, H, W]` for
    /// images). The MLP takes any flat shape; the U-Net single-channel images whose sides halve
    /// twice.
    pub fn new(
        config: &ModelConfig,
        shape: &[usize],
        device: &Device,
    ) -> Result<Self, EngineError> {
        let dim = shape.iter().product();
        match config {
            ModelConfig::Mlp(m) => Ok(Self::Mlp(Mlp::new(m, dim, device))),
            ModelConfig::UNet { unet } => match shape {
                [1, h, w] if h % 4 == 0 && w % 4 == 0 && h == w => {
                    Ok(Self::UNet(UNet::new(unet, device)))
                }
                _ => Err(EngineError::InvalidConfig {
                    field: "model",
                    message: format!(
                        "the U-Net takes square single-channel images whose side is a multiple \
                         of 4 (MNIST); this dataset's examples have shape {shape:?}: use the MLP"
                    ),
                }),
            },
        }
    }

    /// z: [B, d] (model space, images flattened row-major), λ: [B, 1] → the prediction of the
    /// configured target, [B, d].
    pub fn forward(&self, z: Tensor<2>, lambda: Tensor<2>) -> Tensor<2> {
        match self {
            Self::Mlp(m) => m.forward(z, lambda),
            Self::UNet(u) => {
                let [batch, dim] = z.dims();
                let side = square_side(dim);
                u.forward(z.reshape([batch, 1, side, side]), lambda)
                    .reshape([batch, dim])
            }
        }
    }

    /// The MLP, for what only it supports (forward-mode tangents for the exact ODE likelihood).
    pub fn as_mlp(&self) -> Option<&Mlp> {
        match self {
            Self::Mlp(m) => Some(m),
            Self::UNet(_) => None,
        }
    }
}

/// The side of a square image of `dim` pixels (`Denoiser::new` admits only such images).
fn square_side(dim: usize) -> usize {
    let side = (dim as f64).sqrt().round() as usize;
    debug_assert_eq!(side * side, dim, "the U-Net sees square images");
    side
}
