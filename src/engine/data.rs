//! A run's examples in the model's space, whatever their shape, and the transform between them
//! and the data as given, which owns its part of the likelihood (bits/dim are always reported
//! for the data as given):
//! - 2D points, standardised per coordinate: a log-Jacobian, and for `swirl`'s 8-bit grid VDM's
//!   discrete decoder on that grid;
//! - 8-bit images as VDM maps them, k ↦ 2(k + ½)/256 − 1, with the discrete decoder.
//!
//! The engine does no I/O: 2D data is generated from the configuration, images are handed over
//! (the CLI reads IDX files, the page fetches them).

use serde::{Deserialize, Serialize};

use super::config::TrainConfig;
use super::elbo::{ByteGrid, Decoder};
use super::EngineError;
use crate::data::{DataError, Dataset, Images, Standardizer};
use crate::theory::Gmm;

/// The dataset name of MNIST (its images come from outside the engine).
pub const MNIST: &str = "mnist";
/// One MNIST digit: [channels, rows, cols].
const MNIST_SHAPE: [usize; 3] = [1, 28, 28];

/// Model-space value of 8-bit level k (VDM's encoder): the centre of bin k of [−1, 1].
pub fn pixel_value(level: u8) -> f64 {
    (2.0 * f64::from(level) + 1.0) / 256.0 - 1.0
}

/// The 8-bit level nearest to a model-space value (clamped to 0..=255; NaN gives 0).
pub fn pixel_level(value: f64) -> u8 {
    let k = ((value + 1.0) * 128.0 - 0.5).round();
    if k.is_nan() {
        0
    } else {
        k.clamp(0.0, 255.0) as u8
    }
}

/// Examples in the model's space, row-major, `dim` values each. Images stay bytes (MNIST's
/// 60 000 digits are 47 MB as bytes, 376 MB as f64) and are mapped row by row when drawn.
#[derive(Debug, Clone, PartialEq)]
pub struct Examples {
    dim: usize,
    rows: Rows,
}

#[derive(Debug, Clone, PartialEq)]
enum Rows {
    Real(Vec<f64>),
    Pixels(Vec<u8>),
}

impl Examples {
    /// Points already in model space.
    pub fn from_points(points: &[[f64; 2]]) -> Self {
        Self {
            dim: 2,
            rows: Rows::Real(points.iter().flatten().copied().collect()),
        }
    }

    /// The first `n` images of `images` (fewer if it has fewer), mapped by [`pixel_value`].
    pub fn from_images(images: &Images, n: usize) -> Self {
        let dim = images.pixels_per_image();
        let n = n.min(images.n);
        Self {
            dim,
            rows: Rows::Pixels(images.pixels[..n * dim].to_vec()),
        }
    }

    /// No examples of `dim` values (a run restored only to sample).
    pub fn empty(dim: usize) -> Self {
        Self {
            dim,
            rows: Rows::Real(Vec::new()),
        }
    }

    pub fn dim(&self) -> usize {
        self.dim
    }

    pub fn len(&self) -> usize {
        let values = match &self.rows {
            Rows::Real(v) => v.len(),
            Rows::Pixels(p) => p.len(),
        };
        values / self.dim.max(1)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Appends example `i` (model space) to `out`.
    pub fn push_row(&self, i: usize, out: &mut Vec<f64>) {
        let range = i * self.dim..(i + 1) * self.dim;
        match &self.rows {
            Rows::Real(v) => out.extend_from_slice(&v[range]),
            Rows::Pixels(p) => out.extend(p[range].iter().map(|k| pixel_value(*k))),
        }
    }

    /// Examples `range`, row-major, in model space.
    pub fn rows(&self, range: std::ops::Range<usize>) -> Vec<f64> {
        let mut out = Vec::with_capacity(range.len() * self.dim);
        for i in range {
            self.push_row(i, &mut out);
        }
        out
    }

    /// The first `n` examples (all if there are fewer).
    pub fn first(&self, n: usize) -> Self {
        let values = n.min(self.len()) * self.dim;
        let rows = match &self.rows {
            Rows::Real(v) => Rows::Real(v[..values].to_vec()),
            Rows::Pixels(p) => Rows::Pixels(p[..values].to_vec()),
        };
        Self {
            dim: self.dim,
            rows,
        }
    }

    /// 2D examples as points (model space); empty for any other shape.
    pub fn points(&self) -> Vec<[f64; 2]> {
        if self.dim != 2 {
            return Vec::new();
        }
        self.rows(0..self.len())
            .chunks_exact(2)
            .map(|p| [p[0], p[1]])
            .collect()
    }
}

/// How the data as given maps to the model's space, and what that does to the likelihood.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DataTransform {
    /// 2D points standardised per coordinate; `eight_bit` when they lie on `swirl`'s grid.
    Points {
        standardizer: Standardizer,
        eight_bit: bool,
    },
    /// 8-bit images of shape [channels, rows, cols], k ↦ 2(k + ½)/256 − 1.
    Pixels { shape: [usize; 3] },
}

impl DataTransform {
    /// The shape of one example (`[2]` for points).
    pub fn shape(&self) -> Vec<usize> {
        match self {
            Self::Points { .. } => vec![2],
            Self::Pixels { shape } => shape.to_vec(),
        }
    }

    pub fn dim(&self) -> usize {
        self.shape().iter().product()
    }

    /// The image shape, for image data.
    pub fn image_shape(&self) -> Option<[usize; 3]> {
        match self {
            Self::Points { .. } => None,
            Self::Pixels { shape } => Some(*shape),
        }
    }

    /// The standardisation of point data (the identity for images, which are not standardised).
    pub fn standardizer(&self) -> Standardizer {
        match self {
            Self::Points { standardizer, .. } => *standardizer,
            Self::Pixels { .. } => Standardizer::identity(),
        }
    }

    /// Whether the data is 8-bit (bits/dim are then bits of a probability mass).
    pub fn is_discrete(&self) -> bool {
        match self {
            Self::Points { eight_bit, .. } => *eight_bit,
            Self::Pixels { .. } => true,
        }
    }

    /// The reconstruction term's decoder p(x | z_0) in model space.
    pub fn decoder(&self) -> Decoder {
        match self {
            Self::Points {
                standardizer,
                eight_bit: true,
            } => Decoder::Discrete(ByteGrid::swirl(standardizer)),
            Self::Points { standardizer, .. } => Decoder::Gaussian {
                log_std_sum: -standardizer.log_abs_det_jacobian(),
            },
            Self::Pixels { .. } => Decoder::Discrete(ByteGrid::pixels()),
        }
    }
}

/// A run's data: the transform and its training and held-out examples in model space.
#[derive(Debug, Clone)]
pub struct RunData {
    pub transform: DataTransform,
    pub train: Examples,
    pub test: Examples,
}

/// MNIST's training and test images, as the CLI reads them or the page fetches them.
#[derive(Debug, Clone)]
pub struct ImageSet {
    pub train: Images,
    pub test: Images,
}

impl RunData {
    /// The data `config` names: 2D sets are generated from its seed; MNIST's images must be
    /// given (`images`), or the run has none and can only sample (a restored checkpoint).
    pub fn for_config(
        config: &TrainConfig,
        images: Option<&ImageSet>,
    ) -> Result<Self, EngineError> {
        if config.dataset == MNIST {
            return Ok(match images {
                Some(set) => Self::images(config, set)?,
                None => Self {
                    transform: DataTransform::Pixels { shape: MNIST_SHAPE },
                    train: Examples::empty(MNIST_SHAPE.iter().product()),
                    test: Examples::empty(MNIST_SHAPE.iter().product()),
                },
            });
        }
        let dataset = dataset_2d(config)?;
        let split = dataset.split(config.n_train, config.n_test, config.seed)?;
        let standardizer = Standardizer::fit(&split.train)?;
        Ok(Self {
            transform: DataTransform::Points {
                standardizer,
                eight_bit: dataset.is_discrete_8bit(),
            },
            train: Examples::from_points(&standardizer.forward_all(&split.train)),
            test: Examples::from_points(&standardizer.forward_all(&split.test)),
        })
    }

    /// The first `n_train` training and `n_test` test images (all there are, if fewer).
    fn images(config: &TrainConfig, set: &ImageSet) -> Result<Self, EngineError> {
        let shape = [1, set.train.rows, set.train.cols];
        if (set.test.rows, set.test.cols) != (set.train.rows, set.train.cols) {
            return Err(DataError::IdxSize {
                what: "image",
                reason: format!(
                    "test images are {}×{} but training images {}×{}",
                    set.test.rows, set.test.cols, set.train.rows, set.train.cols
                ),
            }
            .into());
        }
        for (what, images) in [("training", &set.train), ("evaluation", &set.test)] {
            if images.n < 2 {
                return Err(DataError::TooFewPoints {
                    what,
                    min: 2,
                    found: images.n,
                }
                .into());
            }
        }
        Ok(Self {
            transform: DataTransform::Pixels { shape },
            train: Examples::from_images(&set.train, config.n_train),
            test: Examples::from_images(&set.test, config.n_test),
        })
    }
}

/// The 2D dataset a config names, with its mixture or points.
fn dataset_2d(config: &TrainConfig) -> Result<Dataset, EngineError> {
    if let Some(points) = &config.points {
        if config.dataset == "points" {
            return Ok(Dataset::Points(points.clone()));
        }
    }
    let gmm = match &config.gmm {
        Some(json) => Some(Gmm::from_json(json)?),
        None => None,
    };
    Ok(Dataset::from_name(&config.dataset, gmm)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pixel_levels_round_trip_and_span_the_unit_interval() {
        for k in 0..=255u8 {
            assert_eq!(pixel_level(pixel_value(k)), k);
        }
        assert!((pixel_value(0) + 1.0 - 1.0 / 256.0).abs() < 1e-15);
        assert!((pixel_value(255) - 1.0 + 1.0 / 256.0).abs() < 1e-15);
        assert_eq!(pixel_level(5.0), 255);
        assert_eq!(pixel_level(-5.0), 0);
        assert_eq!(pixel_level(f64::NAN), 0);
    }

    #[test]
    fn image_examples_are_rows_of_mapped_pixels() {
        let images = Images {
            n: 3,
            rows: 2,
            cols: 2,
            pixels: (0..12).collect(),
        };
        let examples = Examples::from_images(&images, 2);
        assert_eq!((examples.len(), examples.dim()), (2, 4));
        let rows = examples.rows(1..2);
        let expected: Vec<f64> = (4..8).map(pixel_value).collect();
        assert_eq!(rows, expected);
        assert_eq!(examples.first(1).len(), 1);
        assert!(examples.points().is_empty());
    }
}
