//! Named 2D Gaussian mixtures for the forward-process view, and parsing a mixture for the 2D kernel.

use serde::Serialize;

use crate::gpu::density::Component2d;
use crate::theory::gmm::Gmm;
use crate::theory::TheoryError;

#[derive(Debug, Clone, Serialize)]
pub struct MixturePreset {
    pub name: &'static str,
    pub label: &'static str,
    /// The mixture in the JSON format every front end accepts: `{"weights", "means", "stds"}`.
    pub gmm: String,
}

fn preset_json(weights: &[f64], means: &[[f64; 2]], stds: &[f64]) -> String {
    serde_json::json!({ "weights": weights, "means": means, "stds": stds }).to_string()
}

/// Mixtures chosen to show different things: separated equal modes (eight gaussians), modes of
/// unequal mass and width (three blobs), a dense grid whose modes merge early, and one Gaussian.
pub fn mixture_presets() -> Vec<MixturePreset> {
    let ring: Vec<[f64; 2]> = (0..8)
        .map(|k| {
            let angle = std::f64::consts::FRAC_PI_4 * f64::from(k);
            [2.0 * angle.cos(), 2.0 * angle.sin()]
        })
        .collect();
    let grid: Vec<[f64; 2]> = (0..9)
        .map(|k| [f64::from(k % 3) - 1.0, f64::from(k / 3) - 1.0].map(|v| 1.2 * v))
        .collect();
    vec![
        MixturePreset {
            name: "eight-gaussians",
            label: "8 Gaussians on a ring",
            gmm: preset_json(&[0.125; 8], &ring, &[0.12; 8]),
        },
        MixturePreset {
            name: "three-blobs",
            label: "3 blobs, unequal weights and widths",
            gmm: preset_json(
                &[0.5, 0.3, 0.2],
                &[[-1.2, -0.6], [1.3, -0.4], [0.1, 1.4]],
                &[0.35, 0.15, 0.06],
            ),
        },
        MixturePreset {
            name: "grid",
            label: "3×3 grid",
            gmm: preset_json(&[1.0 / 9.0; 9], &grid, &[0.1; 9]),
        },
        MixturePreset {
            name: "gaussian",
            label: "one Gaussian",
            gmm: preset_json(&[1.0], &[[0.8, -0.5]], &[0.5]),
        },
    ]
}

/// Parses a mixture and checks it is two-dimensional, as the heat-map kernel requires.
pub fn components_2d(gmm_json: &str) -> Result<Vec<Component2d>, TheoryError> {
    let gmm = Gmm::from_json(gmm_json)?;
    to_components_2d(&gmm)
}

pub fn to_components_2d(gmm: &Gmm) -> Result<Vec<Component2d>, TheoryError> {
    if gmm.dim() != 2 {
        return Err(TheoryError::InvalidInput(format!(
            "the heat-map shows 2D mixtures; this one has dimension {}",
            gmm.dim()
        )));
    }
    Ok((0..gmm.weights.len())
        .map(|k| Component2d {
            weight: gmm.weights[k],
            mean: [gmm.means[k][0], gmm.means[k][1]],
            std: gmm.stds[k],
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_preset_parses_as_a_2d_mixture() {
        for preset in mixture_presets() {
            let components = components_2d(&preset.gmm).expect(preset.name);
            let total: f64 = components.iter().map(|c| c.weight).sum();
            assert!(
                (total - 1.0).abs() < 1e-12,
                "{} weights sum to {total}",
                preset.name
            );
        }
    }

    #[test]
    fn a_3d_mixture_is_refused_with_a_message() {
        let err = components_2d(r#"{"weights":[1],"means":[[0,0,0]],"stds":[1]}"#).unwrap_err();
        assert!(err.to_string().contains("dimension 3"), "{err}");
    }
}
