//! Named 2D datasets (generated, a mixture or the user's points) and their seeded train/test split.

use rand::rngs::StdRng;
use rand::seq::{IndexedRandom, SliceRandom};
use rand::{Rng, SeedableRng};

use super::error::DataError;
use super::points_csv::{parse_points_csv, MAX_POINTS};
use super::toy2d;
use crate::theory::Gmm;

/// Every dataset name [`Dataset::from_name`] knows, in the order the page lists them.
pub const DATASET_NAMES: [&str; 10] = [
    "moons",
    "swiss-roll",
    "8-gaussians",
    "checkerboard",
    "pinwheel",
    "rings",
    "spirals",
    "swirl",
    "gmm",
    "points",
];

/// Largest number of points one call draws (per split part): 16 MB of coordinates, which the page
/// can still hold next to a model.
pub const MAX_SAMPLES: usize = 1_000_000;

/// Share of the user's points held out as the test split of `points`.
pub const HOLDOUT_FRACTION: f64 = 0.2;

/// A 2D data distribution the trainer can draw from.
#[derive(Debug, Clone, PartialEq)]
pub enum Dataset {
    Moons,
    SwissRoll,
    EightGaussians,
    Checkerboard,
    Pinwheel,
    Rings,
    Spirals,
    /// Discrete: every coordinate is one of 256 levels (see [`toy2d::swirl`]).
    Swirl,
    /// Samples of a two-dimensional mixture.
    Gmm(Gmm),
    /// The user's points: sampling draws them with replacement, exactly (no jitter), so the
    /// empirical distribution is the data.
    Points(Vec<[f64; 2]>),
}

/// Training and test points of one dataset, drawn independently.
#[derive(Debug, Clone, PartialEq)]
pub struct Split {
    pub train: Vec<[f64; 2]>,
    pub test: Vec<[f64; 2]>,
}

impl Dataset {
    /// The accepted names, as [`DATASET_NAMES`].
    pub fn names() -> &'static [&'static str] {
        &DATASET_NAMES
    }

    /// The dataset called `name` (exactly one of [`DATASET_NAMES`]).
    ///
    /// `gmm` is the mixture for the name `gmm` (which must be 2D) and is ignored for the others.
    /// `points` is refused here: it is built from the points themselves with
    /// [`Dataset::from_points`] or [`Dataset::from_csv`].
    pub fn from_name(name: &str, gmm: Option<Gmm>) -> Result<Self, DataError> {
        Ok(match name {
            "moons" => Self::Moons,
            "swiss-roll" => Self::SwissRoll,
            "8-gaussians" => Self::EightGaussians,
            "checkerboard" => Self::Checkerboard,
            "pinwheel" => Self::Pinwheel,
            "rings" => Self::Rings,
            "spirals" => Self::Spirals,
            "swirl" => Self::Swirl,
            "gmm" => {
                let mix = gmm.ok_or(DataError::MissingGmm)?;
                toy2d::check_gmm_2d(&mix)?;
                Self::Gmm(mix)
            }
            "points" => return Err(DataError::PointsByName),
            _ => {
                return Err(DataError::UnknownDataset {
                    name: name.to_string(),
                    accepted: DATASET_NAMES.join(", "),
                })
            }
        })
    }

    /// The user's points as a dataset: 1 to [`MAX_POINTS`] points with finite coordinates.
    pub fn from_points(points: Vec<[f64; 2]>) -> Result<Self, DataError> {
        check_points(&points, "the `points` dataset", 1)?;
        Ok(Self::Points(points))
    }

    /// The user's points parsed from CSV text (see [`parse_points_csv`] for the format).
    pub fn from_csv(text: &str) -> Result<Self, DataError> {
        Self::from_points(parse_points_csv(text)?)
    }

    /// The name [`Dataset::from_name`] reads back.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Moons => "moons",
            Self::SwissRoll => "swiss-roll",
            Self::EightGaussians => "8-gaussians",
            Self::Checkerboard => "checkerboard",
            Self::Pinwheel => "pinwheel",
            Self::Rings => "rings",
            Self::Spirals => "spirals",
            Self::Swirl => "swirl",
            Self::Gmm(_) => "gmm",
            Self::Points(_) => "points",
        }
    }

    /// Whether the data lives on the 8-bit grid of [`toy2d::swirl`] (256 levels per coordinate,
    /// bin width [`toy2d::SWIRL_BIN_WIDTH`] in data space), so the ELBO should use a discrete
    /// decoder and report bits/dim of the discrete data rather than of a density.
    pub fn is_discrete_8bit(&self) -> bool {
        matches!(self, Self::Swirl)
    }

    /// `n` points (at most [`MAX_SAMPLES`]); `points` draws the user's points with replacement.
    pub fn sample(
        &self,
        rng: &mut (impl Rng + ?Sized),
        n: usize,
    ) -> Result<Vec<[f64; 2]>, DataError> {
        check_count("the number of points", n, 0)?;
        Ok(match self {
            Self::Moons => toy2d::moons(rng, n),
            Self::SwissRoll => toy2d::swiss_roll(rng, n),
            Self::EightGaussians => toy2d::eight_gaussians(rng, n),
            Self::Checkerboard => toy2d::checkerboard(rng, n),
            Self::Pinwheel => toy2d::pinwheel(rng, n),
            Self::Rings => toy2d::rings(rng, n),
            Self::Spirals => toy2d::spirals(rng, n),
            Self::Swirl => toy2d::swirl(rng, n),
            Self::Gmm(mix) => toy2d::gmm(rng, n, mix)?,
            Self::Points(points) => {
                check_points(points, "the `points` dataset", 1)?;
                (0..n).filter_map(|_| points.choose(rng).copied()).collect()
            }
        })
    }

    /// A train/test split, the same for the same `seed` (see [`toy2d`] on platforms).
    ///
    /// Generated datasets draw `n_train` and `n_test` points (each 1 to [`MAX_SAMPLES`]) from two
    /// independent streams derived from `seed`, so the test set does not depend on `n_train`,
    /// and a larger `n_train` extends the smaller one's training set rather than replacing it.
    ///
    /// `points` ignores `n_train` and `n_test`: its test split is a random ~20% of the points
    /// ([`HOLDOUT_FRACTION`], rounded, at least 1 and at most all but one) and its training split
    /// the rest, so no point is in both (the trainer resamples batches from `train`). It needs
    /// at least 2 points.
    pub fn split(&self, n_train: usize, n_test: usize, seed: u64) -> Result<Split, DataError> {
        let mut streams = StdRng::seed_from_u64(seed);
        if let Self::Points(points) = self {
            check_points(points, "splitting the `points` dataset", 2)?;
            let mut shuffled = points.clone();
            shuffled.shuffle(&mut StdRng::from_rng(&mut streams));
            let n = shuffled.len();
            let n_hold = ((n as f64 * HOLDOUT_FRACTION).round() as usize).clamp(1, n - 1);
            let train = shuffled.split_off(n_hold);
            return Ok(Split {
                train,
                test: shuffled,
            });
        }
        check_count("the number of training points", n_train, 1)?;
        check_count("the number of test points", n_test, 1)?;
        // Child generators seeded from one parent: independent streams, one per split part.
        let mut train_rng = StdRng::from_rng(&mut streams);
        let mut test_rng = StdRng::from_rng(&mut streams);
        Ok(Split {
            train: self.sample(&mut train_rng, n_train)?,
            test: self.sample(&mut test_rng, n_test)?,
        })
    }
}

fn check_count(what: &'static str, n: usize, min: usize) -> Result<(), DataError> {
    if (min..=MAX_SAMPLES).contains(&n) {
        Ok(())
    } else {
        Err(DataError::InvalidCount {
            what,
            found: n,
            min,
            max: MAX_SAMPLES,
        })
    }
}

/// Checks user points: at least `min`, at most [`MAX_POINTS`], all coordinates finite.
pub(crate) fn check_points(
    points: &[[f64; 2]],
    what: &'static str,
    min: usize,
) -> Result<(), DataError> {
    if points.len() < min {
        return Err(DataError::TooFewPoints {
            what,
            min,
            found: points.len(),
        });
    }
    if points.len() > MAX_POINTS {
        return Err(DataError::TooManyPoints {
            found: points.len(),
            max: MAX_POINTS,
        });
    }
    if let Some((index, p)) = points
        .iter()
        .enumerate()
        .find(|(_, p)| !p[0].is_finite() || !p[1].is_finite())
    {
        return Err(DataError::NonFinitePoint {
            index,
            x: p[0],
            y: p[1],
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_name_round_trips_except_points() {
        let mix = Gmm::new(vec![1.0], vec![vec![0.0, 0.0]], vec![1.0]).unwrap();
        for name in Dataset::names() {
            match Dataset::from_name(name, Some(mix.clone())) {
                Ok(d) => assert_eq!(d.name(), *name),
                Err(e) => {
                    assert_eq!(*name, "points");
                    assert_eq!(e, DataError::PointsByName);
                }
            }
        }
    }

    #[test]
    fn unknown_name_lists_the_accepted_ones() {
        let err = Dataset::from_name("moon", None).unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("`moon`"), "{msg}");
        assert!(msg.contains("moons, swiss-roll, 8-gaussians"), "{msg}");
    }

    #[test]
    fn gmm_needs_a_2d_mixture() {
        assert_eq!(
            Dataset::from_name("gmm", None).unwrap_err(),
            DataError::MissingGmm
        );
        let mix = Gmm::new(vec![1.0], vec![vec![0.0]], vec![1.0]).unwrap();
        let msg = Dataset::from_name("gmm", Some(mix))
            .unwrap_err()
            .to_string();
        assert!(msg.contains("1-dimensional"), "{msg}");
    }

    #[test]
    fn a_hand_built_empty_points_dataset_errs_instead_of_panicking() {
        let d = Dataset::Points(Vec::new());
        let mut rng = StdRng::seed_from_u64(0);
        assert!(matches!(
            d.sample(&mut rng, 3),
            Err(DataError::TooFewPoints { .. })
        ));
        assert!(matches!(
            d.split(3, 3, 0),
            Err(DataError::TooFewPoints { min: 2, .. })
        ));
    }
}
