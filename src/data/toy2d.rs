//! Seeded 2D toy distributions: FFJORD's set, common in diffusion and flow work, plus VDM's swirl.
//!
//! Definitions follow `toy_data.py` of FFJORD (Grathwohl et al. 2019), which later diffusion and
//! flow-matching work reuses, so that a density learned here can be compared with published
//! pictures. Two deliberate differences from the NumPy originals, neither of which changes the
//! distribution: class and angle choices are drawn independently per point (the originals use
//! equal counts or `linspace`, then shuffle), and `1.414` is written as √2. Every generator keeps
//! its coordinates within about [-4, 4]; the trainer standardises anyway.
//!
//! Generators draw only from the `rng` they are given, so a seeded `StdRng` reproduces them. Its
//! stream is the same on every platform, the browser included; `sin`, `exp` and `ln` come from
//! each platform's maths library, so across platforms points may differ in the last bit.

use std::f64::consts::{PI, SQRT_2, TAU};

use rand::distr::weighted::WeightedIndex;
use rand::Rng;
use rand_distr::{Distribution, StandardNormal};

use super::error::DataError;
use crate::theory::Gmm;

/// Radius of the `8-gaussians` ring: FFJORD's scale 4 divided by √2.
pub const EIGHT_GAUSSIANS_RADIUS: f64 = 4.0 / SQRT_2;
/// Per-coordinate standard deviation of each `8-gaussians` mode: FFJORD's 0.5 divided by √2.
pub const EIGHT_GAUSSIANS_STD: f64 = 0.5 / SQRT_2;
/// Radii of the four `rings` (FFJORD's 0.25, 0.5, 0.75, 1 scaled by 3).
pub const RING_RADII: [f64; 4] = [0.75, 1.5, 2.25, 3.0];
/// Per-coordinate noise of `rings`.
pub const RING_NOISE: f64 = 0.08;
/// Number of levels per coordinate of the discrete `swirl` data.
pub const SWIRL_LEVELS: u16 = 256;
/// Distance between neighbouring `swirl` levels: 256 levels spanning [-1, 1].
pub const SWIRL_BIN_WIDTH: f64 = 2.0 / 255.0;

fn normal(rng: &mut (impl Rng + ?Sized)) -> f64 {
    StandardNormal.sample(rng)
}

/// `moons`: sklearn's `make_moons(noise=0.1)` scaled by 2 and shifted by (-1, -0.2), as in FFJORD.
///
/// Each point lies on the upper arc (cos t, sin t) or the lower arc (1 - cos t, 1/2 - sin t) with
/// probability 1/2, t ~ U[0, π], plus N(0, 0.1²) per coordinate before the scaling (so 0.2 after
/// it). Noise-free, x ∈ [-3, 3] and y ∈ [-1.2, 1.8].
pub fn moons(rng: &mut (impl Rng + ?Sized), n: usize) -> Vec<[f64; 2]> {
    (0..n)
        .map(|_| {
            let t = PI * rng.random::<f64>();
            let (x, y) = if rng.random_bool(0.5) {
                (t.cos(), t.sin())
            } else {
                (1.0 - t.cos(), 0.5 - t.sin())
            };
            let x = x + 0.1 * normal(rng);
            let y = y + 0.1 * normal(rng);
            [2.0 * x - 1.0, 2.0 * y - 0.2]
        })
        .collect()
}

/// `swiss-roll`: sklearn's `make_swiss_roll(noise=1.0)` projected on its (x, z) plane and divided
/// by 5, as in FFJORD.
///
/// t = 1.5π (1 + 2U), U ~ U[0, 1), point (t cos t, t sin t) + N(0, 1) per coordinate, all divided
/// by 5: a spiral of 1.5 turns out to radius 2.83 with noise 0.2.
pub fn swiss_roll(rng: &mut (impl Rng + ?Sized), n: usize) -> Vec<[f64; 2]> {
    (0..n)
        .map(|_| {
            let t = 1.5 * PI * (1.0 + 2.0 * rng.random::<f64>());
            let x = t * t.cos() + normal(rng);
            let y = t * t.sin() + normal(rng);
            [x / 5.0, y / 5.0]
        })
        .collect()
}

/// The eight mode centres of `8-gaussians`, counter-clockwise from (radius, 0).
pub fn eight_gaussians_centres() -> [[f64; 2]; 8] {
    std::array::from_fn(|k| {
        let angle = PI / 4.0 * k as f64;
        [
            EIGHT_GAUSSIANS_RADIUS * angle.cos(),
            EIGHT_GAUSSIANS_RADIUS * angle.sin(),
        ]
    })
}

/// `8-gaussians`: FFJORD's ring of eight equally weighted isotropic Gaussians, radius 2√2 ≈ 2.83
/// and std 1/(2√2) ≈ 0.354 ([`EIGHT_GAUSSIANS_RADIUS`], [`EIGHT_GAUSSIANS_STD`]).
///
/// The GAN literature's tighter ring (radius 2, std 0.02) is available as a `gmm` instead.
pub fn eight_gaussians(rng: &mut (impl Rng + ?Sized), n: usize) -> Vec<[f64; 2]> {
    let centres = eight_gaussians_centres();
    (0..n)
        .map(|_| {
            let c = centres[rng.random_range(0..centres.len())];
            [
                c[0] + EIGHT_GAUSSIANS_STD * normal(rng),
                c[1] + EIGHT_GAUSSIANS_STD * normal(rng),
            ]
        })
        .collect()
}

/// `checkerboard`: FFJORD's uniform density on the 8 dark squares of a 4×4 board of side-2
/// squares covering [-4, 4)², the squares where ⌊x/2⌋ + ⌊y/2⌋ is even.
pub fn checkerboard(rng: &mut (impl Rng + ?Sized), n: usize) -> Vec<[f64; 2]> {
    (0..n)
        .map(|_| {
            let x1 = 4.0 * rng.random::<f64>() - 2.0;
            // One of two unit rows of the same parity as x1's column, as FFJORD builds it.
            let row = if rng.random_bool(0.5) { -2.0 } else { 0.0 };
            let x2 = rng.random::<f64>() + row + x1.floor().rem_euclid(2.0);
            [2.0 * x1, 2.0 * x2]
        })
        .collect()
}

/// `pinwheel`: FFJORD's five curved arms (from Johnson et al. 2016, "Composing graphical models
/// with neural networks").
///
/// Per point: an arm c uniform in 0..5, radial f₀ = 1 + 0.3 z₀ and tangential f₁ = 0.1 z₁ with
/// z ~ N(0, I), angle a = 2πc/5 + 0.25 exp(f₀); the point is 2 (f₀ cos a + f₁ sin a,
/// -f₀ sin a + f₁ cos a), so arms reach radius about 4.
pub fn pinwheel(rng: &mut (impl Rng + ?Sized), n: usize) -> Vec<[f64; 2]> {
    const ARMS: u32 = 5;
    const RADIAL_STD: f64 = 0.3;
    const TANGENTIAL_STD: f64 = 0.1;
    const RATE: f64 = 0.25;
    (0..n)
        .map(|_| {
            let arm = rng.random_range(0..ARMS);
            let f0 = 1.0 + RADIAL_STD * normal(rng);
            let f1 = TANGENTIAL_STD * normal(rng);
            let a = TAU * f64::from(arm) / f64::from(ARMS) + RATE * f0.exp();
            let (s, c) = a.sin_cos();
            [2.0 * (f0 * c + f1 * s), 2.0 * (-f0 * s + f1 * c)]
        })
        .collect()
}

/// `rings`: FFJORD's four concentric circles of radii 0.75, 1.5, 2.25 and 3 ([`RING_RADII`]),
/// each chosen with probability 1/4, angle uniform, plus N(0, 0.08²) per coordinate.
pub fn rings(rng: &mut (impl Rng + ?Sized), n: usize) -> Vec<[f64; 2]> {
    (0..n)
        .map(|_| {
            let r = RING_RADII[rng.random_range(0..RING_RADII.len())];
            let (s, c) = (TAU * rng.random::<f64>()).sin_cos();
            [
                r * c + RING_NOISE * normal(rng),
                r * s + RING_NOISE * normal(rng),
            ]
        })
        .collect()
}

/// A point of the noise-free `spirals` arm (sign +1 or -1) at angle θ ∈ [0, 3π].
pub fn spiral_arm(theta: f64, sign: f64) -> [f64; 2] {
    [
        sign * -theta * theta.cos() / 3.0,
        sign * theta * theta.sin() / 3.0,
    ]
}

/// `spirals`: FFJORD's `2spirals`, two interleaved arms of 1.5 turns.
///
/// θ = 3π √U (so points are uniform along the arm's area, not its angle); arm point
/// (-θ cos θ + U₁/2, θ sin θ + U₂/2) with U₁, U₂ ~ U[0, 1), negated for the second arm, divided
/// by 3, plus N(0, 0.1²) per coordinate. Noise-free radius up to π.
pub fn spirals(rng: &mut (impl Rng + ?Sized), n: usize) -> Vec<[f64; 2]> {
    (0..n)
        .map(|_| {
            let theta = 3.0 * PI * rng.random::<f64>().sqrt();
            let sign = if rng.random_bool(0.5) { 1.0 } else { -1.0 };
            let x = sign * (-theta * theta.cos() + 0.5 * rng.random::<f64>()) / 3.0;
            let y = sign * (theta * theta.sin() + 0.5 * rng.random::<f64>()) / 3.0;
            [x + 0.1 * normal(rng), y + 0.1 * normal(rng)]
        })
        .collect()
}

/// The `swirl` grid value of a level: 2k/255 - 1, so level 0 is -1 and level 255 is +1.
pub fn swirl_value(level: u8) -> f64 {
    f64::from(level) * SWIRL_BIN_WIDTH - 1.0
}

/// The level k whose grid value is `v`, if `v` is exactly on the `swirl` grid.
pub fn swirl_level(v: f64) -> Option<u8> {
    let k = (v + 1.0) / SWIRL_BIN_WIDTH;
    let rounded = k.round();
    if !(0.0..=255.0).contains(&rounded) {
        return None;
    }
    // Exact comparison: grid values are produced by `swirl_value`, so they round-trip bit for bit.
    let level = rounded as u8;
    (swirl_value(level) == v).then_some(level)
}

/// `swirl`: the 8-bit dataset of VDM's 2D colab (`colab/2D_VDM_Example.ipynb`, Kingma et al. 2021),
/// each coordinate on 256 levels spanning [-1, 1].
///
/// Construction, as in the colab: θ = 3π √U, radius r = 2θ + π, point p = (r cos θ, r sin θ);
/// u = 4 (p + 0.25 z + 30) with z ~ N(0, I); the level is ⌊u⌋ (NumPy's `astype('uint8')` of
/// positive values), clamped to 0..=255 (noise-free u lies in [32, 208], so the clamp only guards
/// the tails). The colab hands the integers to its model, whose encoder maps level k to
/// 2(k + ½)/256 - 1; here level k is 2k/255 - 1 ([`swirl_value`]), so the data is discrete with
/// bin width 2/255 ([`SWIRL_BIN_WIDTH`]) and lies in about [-0.75, 0.63]. The distribution over
/// the 256 × 256 cells is the colab's; only the affine labelling of the cells differs.
pub fn swirl(rng: &mut (impl Rng + ?Sized), n: usize) -> Vec<[f64; 2]> {
    (0..n)
        .map(|_| {
            let theta = 3.0 * PI * rng.random::<f64>().sqrt();
            let r = 2.0 * theta + PI;
            let p = [r * theta.cos(), r * theta.sin()];
            p.map(|c| {
                let u = 4.0 * (c + 0.25 * normal(rng) + 30.0);
                swirl_value(u.floor().clamp(0.0, 255.0) as u8)
            })
        })
        .collect()
}

/// `gmm`: samples of a two-dimensional [`Gmm`]: a component k with probability π_k, then
/// μ_k + s_k z with z ~ N(0, I). A component of std 0 gives its mean exactly. The mixture is
/// checked first with [`check_gmm_2d`].
pub fn gmm(rng: &mut (impl Rng + ?Sized), n: usize, mix: &Gmm) -> Result<Vec<[f64; 2]>, DataError> {
    let (means, pick) = prepare_gmm_2d(mix)?;
    Ok((0..n)
        .map(|_| {
            let k = pick.sample(rng);
            let s = mix.stds[k];
            [means[k][0] + s * normal(rng), means[k][1] + s * normal(rng)]
        })
        .collect())
}

/// Checks that a mixture can be sampled as 2D data: dimension 2, one weight, mean and std per
/// component, weights finite, ≥ 0 and not all 0, means finite, stds finite and ≥ 0.
///
/// [`Gmm::new`] already guarantees all but the dimension; the fields are public, though, so a
/// mixture edited after construction is checked again rather than trusted.
pub fn check_gmm_2d(mix: &Gmm) -> Result<(), DataError> {
    prepare_gmm_2d(mix).map(|_| ())
}

fn prepare_gmm_2d(mix: &Gmm) -> Result<(Vec<[f64; 2]>, WeightedIndex<f64>), DataError> {
    if mix.dim() != 2 {
        return Err(DataError::InvalidGmm(format!(
            "it is {}-dimensional; 2D data needs means with 2 coordinates",
            mix.dim()
        )));
    }
    let means = mix
        .means
        .iter()
        .enumerate()
        .map(|(k, m)| match m.as_slice() {
            [x, y] if x.is_finite() && y.is_finite() => Ok([*x, *y]),
            [_, _] => Err(DataError::InvalidGmm(format!(
                "mean {k} has a non-finite coordinate; means must be finite"
            ))),
            _ => Err(DataError::InvalidGmm(format!(
                "mean {k} has {} coordinates; every mean needs 2",
                m.len()
            ))),
        })
        .collect::<Result<Vec<_>, _>>()?;
    if mix.stds.len() != means.len() || mix.weights.len() != means.len() {
        return Err(DataError::InvalidGmm(format!(
            "it has {} weights, {} means and {} stds; it needs one of each per component",
            mix.weights.len(),
            means.len(),
            mix.stds.len()
        )));
    }
    if let Some((k, s)) = mix
        .stds
        .iter()
        .enumerate()
        .find(|(_, s)| !s.is_finite() || **s < 0.0)
    {
        return Err(DataError::InvalidGmm(format!(
            "std {k} is {s}; stds must be finite and ≥ 0"
        )));
    }
    // WeightedIndex panics on an infinite total, so weights are checked here, not by it.
    if let Some((k, w)) = mix
        .weights
        .iter()
        .enumerate()
        .find(|(_, w)| !w.is_finite() || **w < 0.0)
    {
        return Err(DataError::InvalidGmm(format!(
            "weight {k} is {w}; weights must be finite and ≥ 0"
        )));
    }
    let total: f64 = mix.weights.iter().sum();
    if !(total > 0.0 && total.is_finite()) {
        return Err(DataError::InvalidGmm(format!(
            "the weights sum to {total}; they must sum to a positive finite number (normally 1)"
        )));
    }
    let pick = WeightedIndex::new(&mix.weights).map_err(|e| {
        DataError::InvalidGmm(format!(
            "its weights cannot be sampled ({e}); they must be finite, ≥ 0 and not all 0"
        ))
    })?;
    Ok((means, pick))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::StdRng;
    use rand::SeedableRng;

    #[test]
    fn swirl_grid_round_trips_every_level() {
        for k in 0..=255u8 {
            assert_eq!(swirl_level(swirl_value(k)), Some(k));
        }
        assert_eq!(swirl_value(0), -1.0);
        assert!((swirl_value(255) - 1.0).abs() < 1e-15);
        assert_eq!(swirl_level(0.5 * SWIRL_BIN_WIDTH - 1.0), None);
        assert_eq!(swirl_level(1.5), None);
        assert_eq!(swirl_level(f64::NAN), None);
    }

    #[test]
    fn eight_centres_lie_on_the_ring() {
        for c in eight_gaussians_centres() {
            assert!((c[0].hypot(c[1]) - EIGHT_GAUSSIANS_RADIUS).abs() < 1e-12);
        }
    }

    #[test]
    fn gmm_rejects_wrong_dimension() {
        let mix = Gmm::new(vec![1.0], vec![vec![0.0, 0.0, 0.0]], vec![1.0]).unwrap();
        let err = gmm(&mut StdRng::seed_from_u64(0), 3, &mix).unwrap_err();
        assert!(err.to_string().contains("3-dimensional"), "{err}");
    }

    #[test]
    fn gmm_rejects_tampered_fields() {
        let mut mix = Gmm::new(
            vec![0.5, 0.5],
            vec![vec![0.0, 0.0], vec![1.0, 1.0]],
            vec![1.0; 2],
        )
        .unwrap();
        mix.stds[1] = -1.0;
        let err = gmm(&mut StdRng::seed_from_u64(0), 3, &mix).unwrap_err();
        assert!(err.to_string().contains("std 1 is -1"), "{err}");
        mix.stds[1] = 1.0;
        mix.weights = vec![0.0, 0.0];
        let err = gmm(&mut StdRng::seed_from_u64(0), 3, &mix).unwrap_err();
        assert!(err.to_string().contains("the weights sum to 0"), "{err}");
        // An infinite weight would make rand's WeightedIndex panic; it must be an error instead.
        mix.weights = vec![f64::INFINITY, 1.0];
        let err = gmm(&mut StdRng::seed_from_u64(0), 3, &mix).unwrap_err();
        assert!(err.to_string().contains("weight 0 is inf"), "{err}");
        mix.weights = vec![f64::MAX, f64::MAX];
        let err = gmm(&mut StdRng::seed_from_u64(0), 3, &mix).unwrap_err();
        assert!(err.to_string().contains("sum to inf"), "{err}");
    }

    #[test]
    fn point_mass_components_give_their_mean() {
        let mix = Gmm::new(vec![1.0], vec![vec![0.25, -0.5]], vec![0.0]).unwrap();
        let pts = gmm(&mut StdRng::seed_from_u64(1), 10, &mix).unwrap();
        assert!(pts.iter().all(|p| *p == [0.25, -0.5]));
    }
}
