//! Sample-quality metrics between two point sets: energy distance and sliced Wasserstein-1.
//!
//! Points are any `AsRef<[f64]>` (`[f64; 2]`, `Vec<f64>`, slices); both sets must share one
//! dimension. The two sets may have different sizes.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rand_distr::StandardNormal;
use thiserror::Error;

/// Most points per set for [`energy_distance`], whose cost grows as (n + m)²: 50 000 points is
/// about 4·10⁹ distances, seconds natively; more would freeze the page.
pub const MAX_ENERGY_POINTS: usize = 50_000;
/// Most points per set for [`sliced_wasserstein`] (its cost is n log n per projection).
pub const MAX_SLICED_POINTS: usize = 1_000_000;
/// Most projections for [`sliced_wasserstein`].
pub const MAX_PROJECTIONS: usize = 10_000;

/// A point set a metric cannot use; the message says which set and what is accepted.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum MetricError {
    #[error("invalid point set: {0}")]
    InvalidInput(String),
}

fn invalid(message: String) -> MetricError {
    MetricError::InvalidInput(message)
}

/// Checks a set (non-empty, at most `max` points, one dimension ≥ 1, finite) and copies it into a
/// flat row-major buffer. Returns (buffer, dimension).
fn flatten<P: AsRef<[f64]>>(
    name: &str,
    set: &[P],
    max: usize,
) -> Result<(Vec<f64>, usize), MetricError> {
    let Some(first) = set.first() else {
        return Err(invalid(format!(
            "set {name} is empty; at least one point is needed"
        )));
    };
    if set.len() > max {
        return Err(invalid(format!(
            "set {name} has {} points; at most {max} are accepted",
            set.len()
        )));
    }
    let dim = first.as_ref().len();
    if dim == 0 {
        return Err(invalid(format!(
            "the points of set {name} have no coordinates; points need at least one"
        )));
    }
    let mut flat = Vec::with_capacity(set.len() * dim);
    for (i, p) in set.iter().enumerate() {
        let p = p.as_ref();
        if p.len() != dim {
            return Err(invalid(format!(
                "point {i} of set {name} has {} coordinates but point 0 has {dim}; all points need the same dimension",
                p.len()
            )));
        }
        if let Some(v) = p.iter().find(|v| !v.is_finite()) {
            return Err(invalid(format!(
                "point {i} of set {name} has the coordinate {v}; coordinates must be finite numbers"
            )));
        }
        flat.extend_from_slice(p);
    }
    Ok((flat, dim))
}

fn check_same_dim(dim_a: usize, dim_b: usize) -> Result<(), MetricError> {
    if dim_a != dim_b {
        return Err(invalid(format!(
            "set a is {dim_a}-dimensional but set b is {dim_b}-dimensional; both must have the same dimension"
        )));
    }
    Ok(())
}

fn distance(p: &[f64], q: &[f64]) -> f64 {
    p.iter()
        .zip(q)
        .map(|(a, b)| (a - b) * (a - b))
        .sum::<f64>()
        .sqrt()
}

/// (1/(n·m)) Σ_i Σ_j ‖a_i − b_j‖ over flat sets of dimension `dim`. Rows are summed separately and
/// then added, so each partial sum has at most max(n, m) terms (rounding stays near 1e-13 relative
/// for the largest sets accepted, far below the sampling noise the metric is used against).
fn mean_distance(a: &[f64], b: &[f64], dim: usize) -> f64 {
    let (n, m) = (a.len() / dim, b.len() / dim);
    let total: f64 = a
        .chunks_exact(dim)
        .map(|p| b.chunks_exact(dim).map(|q| distance(p, q)).sum::<f64>())
        .sum();
    total / (n as f64 * m as f64)
}

/// Energy distance between the empirical distributions of `a` and `b`:
///
/// D(a, b) = E‖X − Y‖ − ½ E‖X − X'‖ − ½ E‖Y − Y'‖,
///
/// half of the energy distance 2E‖X − Y‖ − E‖X − X'‖ − E‖Y − Y'‖ of Székely & Rizzo (2013,
/// "Energy statistics: a class of statistics based on distances"), so that a pure shift by δ between two point masses gives |δ|. Every expectation is
/// the V-statistic (the mean over all n² or n·m pairs, i = j included), i.e. the exact energy
/// distance between the two empirical measures: it is ≥ 0, 0 exactly when the sets are equal as
/// multisets, and for two independent samples of one distribution its mean is
/// ½(1/n + 1/m)·E‖X − X'‖ > 0 (the diagonal zeros bias the within-set terms down), which is the
/// floor a "same distribution" comparison should be judged against. Cost O((n + m)²·d).
pub fn energy_distance<P: AsRef<[f64]>>(a: &[P], b: &[P]) -> Result<f64, MetricError> {
    let (fa, dim_a) = flatten("a", a, MAX_ENERGY_POINTS)?;
    let (fb, dim_b) = flatten("b", b, MAX_ENERGY_POINTS)?;
    check_same_dim(dim_a, dim_b)?;
    let cross = mean_distance(&fa, &fb, dim_a);
    let within_a = mean_distance(&fa, &fa, dim_a);
    let within_b = mean_distance(&fb, &fb, dim_a);
    // Rounding can leave an exact 0 (identical sets) a few ulps negative.
    Ok((cross - 0.5 * within_a - 0.5 * within_b).max(0.0))
}

/// Sliced Wasserstein-1 distance: the mean over `n_projections` random unit directions θ of the
/// 1D Wasserstein-1 distance between the projected sets,
///
/// SW₁(a, b) = (1/K) Σ_k W₁(θ_k·a, θ_k·b),  W₁(μ, ν) = ∫₀¹ |F_μ⁻¹(u) − F_ν⁻¹(u)| du
///
/// (Bonneel et al. 2015, "Sliced and Radon Wasserstein barycenters of measures", with p = 1; in 1D
/// the optimal plan is the monotone rearrangement, hence the quantile form: Villani 2003, "Topics
/// in Optimal Transportation", the one-dimensional case). The quantile integral is exact for empirical sets of any sizes n and m: the
/// two step functions change only at multiples of 1/n and 1/m, merged in integer arithmetic.
/// The directions are uniform on the unit sphere (normalised Gaussian vectors) and depend only on
/// `seed` and the dimension, so two calls with one seed project onto the same directions. In 2D,
/// a shift by δ gives E_θ|θ·δ| = 2|δ|/π in the limit of many projections.
pub fn sliced_wasserstein<P: AsRef<[f64]>>(
    a: &[P],
    b: &[P],
    n_projections: usize,
    seed: u64,
) -> Result<f64, MetricError> {
    if n_projections == 0 || n_projections > MAX_PROJECTIONS {
        return Err(invalid(format!(
            "{n_projections} projections; between 1 and {MAX_PROJECTIONS} are accepted"
        )));
    }
    let (fa, dim) = flatten("a", a, MAX_SLICED_POINTS)?;
    let (fb, dim_b) = flatten("b", b, MAX_SLICED_POINTS)?;
    check_same_dim(dim, dim_b)?;
    let mut rng = StdRng::seed_from_u64(seed);
    let mut pa = vec![0.0; fa.len() / dim];
    let mut pb = vec![0.0; fb.len() / dim];
    let mut total = 0.0;
    for _ in 0..n_projections {
        let theta = random_direction(&mut rng, dim);
        project(&fa, &theta, &mut pa);
        project(&fb, &theta, &mut pb);
        pa.sort_unstable_by(f64::total_cmp);
        pb.sort_unstable_by(f64::total_cmp);
        total += wasserstein1_sorted(&pa, &pb);
    }
    Ok(total / n_projections as f64)
}

/// A uniform direction on the unit sphere: a standard normal vector, normalised (redrawn in the
/// probability-zero case of a vanishing norm).
fn random_direction(rng: &mut StdRng, dim: usize) -> Vec<f64> {
    loop {
        let v: Vec<f64> = (0..dim).map(|_| rng.sample(StandardNormal)).collect();
        let norm = v.iter().map(|x| x * x).sum::<f64>().sqrt();
        if norm > 1e-12 {
            return v.into_iter().map(|x| x / norm).collect();
        }
    }
}

fn project(flat: &[f64], theta: &[f64], out: &mut [f64]) {
    for (o, p) in out.iter_mut().zip(flat.chunks_exact(theta.len())) {
        *o = p.iter().zip(theta).map(|(x, t)| x * t).sum();
    }
}

/// ∫₀¹ |F_a⁻¹(u) − F_b⁻¹(u)| du for sorted samples. Positions on [0, 1] are counted in units of
/// 1/(n·m): a's quantile steps at multiples of m, b's at multiples of n, so breakpoints are exact.
fn wasserstein1_sorted(a: &[f64], b: &[f64]) -> f64 {
    let (n, m) = (a.len() as u64, b.len() as u64);
    let (mut i, mut j) = (0usize, 0usize);
    let mut position: u64 = 0;
    let mut total = 0.0;
    while i < a.len() && j < b.len() {
        let end_a = (i as u64 + 1) * m;
        let end_b = (j as u64 + 1) * n;
        let end = end_a.min(end_b);
        total += (end - position) as f64 * (a[i] - b[j]).abs();
        position = end;
        if end_a == end {
            i += 1;
        }
        if end_b == end {
            j += 1;
        }
    }
    total / (n * m) as f64
}
