//! Per-coordinate standardisation of 2D data and the log-Jacobian that carries densities across it.

use serde::{Deserialize, Serialize};

use super::error::DataError;

/// The affine map z = (x - mean) / std, per coordinate, fitted on the training split.
///
/// The model learns the density of z; the data's density follows by the change of variables
/// log p_x(x) = log p_z(z) + [`Standardizer::log_abs_det_jacobian`], so log-likelihoods and
/// bits/dim can be reported for the data as the user gave it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Standardizer {
    pub mean: [f64; 2],
    pub std: [f64; 2],
}

impl Standardizer {
    /// The map that changes nothing (mean 0, std 1).
    pub fn identity() -> Self {
        Self {
            mean: [0.0; 2],
            std: [1.0; 2],
        }
    }

    /// Mean and population standard deviation (divided by n) of each coordinate.
    ///
    /// A coordinate on which all points are equal has std 0; it gets std 1 instead, so it is
    /// only centred (the map stays invertible and its Jacobian finite). Needs at least one point,
    /// all finite; coordinates so large that the statistics overflow f64 are refused.
    pub fn fit(points: &[[f64; 2]]) -> Result<Self, DataError> {
        super::dataset::check_points(points, "standardising", 1)?;
        let n = points.len() as f64;
        let mut mean = [0.0; 2];
        let mut std = [1.0; 2];
        for axis in 0..2 {
            // Divide before summing so that large coordinates do not overflow the sum.
            let m: f64 = points.iter().map(|p| p[axis] / n).sum();
            let var: f64 = points.iter().map(|p| (p[axis] - m).powi(2) / n).sum();
            let s = var.sqrt();
            if !m.is_finite() || !s.is_finite() {
                return Err(DataError::StatisticsOverflow { axis });
            }
            mean[axis] = m;
            if s > 0.0 {
                std[axis] = s;
            }
        }
        Ok(Self { mean, std })
    }

    /// Data space to standardised space.
    pub fn forward(&self, x: [f64; 2]) -> [f64; 2] {
        [
            (x[0] - self.mean[0]) / self.std[0],
            (x[1] - self.mean[1]) / self.std[1],
        ]
    }

    /// Standardised space back to data space.
    pub fn inverse(&self, z: [f64; 2]) -> [f64; 2] {
        [
            z[0] * self.std[0] + self.mean[0],
            z[1] * self.std[1] + self.mean[1],
        ]
    }

    /// [`Standardizer::forward`] applied to every point.
    pub fn forward_all(&self, points: &[[f64; 2]]) -> Vec<[f64; 2]> {
        points.iter().map(|&x| self.forward(x)).collect()
    }

    /// [`Standardizer::inverse`] applied to every point.
    pub fn inverse_all(&self, points: &[[f64; 2]]) -> Vec<[f64; 2]> {
        points.iter().map(|&z| self.inverse(z)).collect()
    }

    /// log |det ∂z/∂x| = -Σ log std: add it to log p_z(z) to get log p_x(x) (nats, whole point).
    ///
    /// For bits/dim in data space subtract `log_abs_det_jacobian() / (2 ln 2)` from the bits/dim
    /// measured in standardised space. For discrete data the bin width scales the same way: a bin
    /// of width w in data space has width w / std in standardised space.
    pub fn log_abs_det_jacobian(&self) -> f64 {
        -(self.std[0].ln() + self.std[1].ln())
    }
}

impl Default for Standardizer {
    fn default() -> Self {
        Self::identity()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fits_mean_and_population_std() {
        let s = Standardizer::fit(&[[1.0, 10.0], [3.0, 10.0]]).unwrap();
        assert_eq!(s.mean, [2.0, 10.0]);
        // The constant second coordinate keeps std 1.
        assert_eq!(s.std, [1.0, 1.0]);
        assert_eq!(s.forward([3.0, 12.0]), [1.0, 2.0]);
    }

    #[test]
    fn refuses_empty_non_finite_and_overflowing_points() {
        assert!(matches!(
            Standardizer::fit(&[]),
            Err(DataError::TooFewPoints { .. })
        ));
        assert!(matches!(
            Standardizer::fit(&[[f64::NAN, 0.0]]),
            Err(DataError::NonFinitePoint { index: 0, .. })
        ));
        let err = Standardizer::fit(&[[f64::MAX, 0.0], [-f64::MAX, 0.0]]).unwrap_err();
        assert_eq!(err, DataError::StatisticsOverflow { axis: 0 });
    }

    #[test]
    fn jacobian_is_minus_sum_of_log_stds() {
        let s = Standardizer {
            mean: [0.0, 0.0],
            std: [2.0, 0.5],
        };
        assert!((s.log_abs_det_jacobian() - 0.0).abs() < 1e-15);
        let s = Standardizer {
            mean: [1.0, -1.0],
            std: [4.0, 2.0],
        };
        assert!((s.log_abs_det_jacobian() + 8f64.ln()).abs() < 1e-12);
        assert_eq!(Standardizer::identity().log_abs_det_jacobian(), 0.0);
    }
}
