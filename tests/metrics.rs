//! Energy distance and sliced Wasserstein of `engine::metrics`: hand-computed values, closed forms
//! for shifted Gaussians, symmetry, different set sizes, and refusal of unusable point sets.
#![cfg(not(target_arch = "wasm32"))]

use std::f64::consts::PI;

use elbo_lab::engine::metrics::{
    energy_distance, sliced_wasserstein, MetricError, MAX_PROJECTIONS,
};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rand_distr::StandardNormal;

/// n points of N(shift, I₂).
fn gaussian(n: usize, shift: [f64; 2], seed: u64) -> Vec<[f64; 2]> {
    let mut rng = StdRng::seed_from_u64(seed);
    (0..n)
        .map(|_| {
            let a: f64 = rng.sample(StandardNormal);
            let b: f64 = rng.sample(StandardNormal);
            [a + shift[0], b + shift[1]]
        })
        .collect()
}

fn on_axis(xs: &[f64]) -> Vec<[f64; 2]> {
    xs.iter().map(|&x| [x, 0.0]).collect()
}

#[test]
fn energy_distance_of_hand_computed_sets() {
    // One point each: E‖X − Y‖ = 5, no within-set spread.
    let d = energy_distance(&[[0.0, 0.0]], &[[3.0, 4.0]]).unwrap();
    assert!((d - 5.0).abs() < 1e-15, "{d}");
    // {0, 2} vs {1}: cross mean 1, within-a V-statistic (0 + 2 + 2 + 0)/4 = 1 ⇒ 1 − ½ = ½.
    let d = energy_distance(&on_axis(&[0.0, 2.0]), &on_axis(&[1.0])).unwrap();
    assert!((d - 0.5).abs() < 1e-15, "{d}");
    // {0, 1} vs {0, 1, 5}: cross 11/6, within a 2/4, within b 20/9 ⇒ 11/6 − 1/4 − 10/9 = 17/36.
    let d = energy_distance(&on_axis(&[0.0, 1.0]), &on_axis(&[0.0, 1.0, 5.0])).unwrap();
    assert!((d - 17.0 / 36.0).abs() < 1e-15, "{d}");
    // Points as Vec<f64> in 3D: {(0,0,0)} vs {(1,2,2)} = 3.
    let d = energy_distance(&[vec![0.0, 0.0, 0.0]], &[vec![1.0, 2.0, 2.0]]).unwrap();
    assert!((d - 3.0).abs() < 1e-15, "{d}");
}

#[test]
fn energy_distance_is_zero_for_identical_sets_symmetric_and_homogeneous() {
    let a = gaussian(500, [0.0, 0.0], 1);
    let b = gaussian(300, [0.7, -0.2], 2);
    assert!(energy_distance(&a, &a).unwrap() < 1e-12);
    let ab = energy_distance(&a, &b).unwrap();
    let ba = energy_distance(&b, &a).unwrap();
    assert!((ab - ba).abs() < 1e-12 * ab, "{ab} vs {ba}");
    // Distances scale with the points: D(ca, cb) = c·D(a, b).
    let scale = |s: &[[f64; 2]]| {
        s.iter()
            .map(|p| [3.0 * p[0], 3.0 * p[1]])
            .collect::<Vec<_>>()
    };
    let scaled = energy_distance(&scale(&a), &scale(&b)).unwrap();
    assert!(
        (scaled - 3.0 * ab).abs() < 1e-10,
        "{scaled} vs {}",
        3.0 * ab
    );
    // Permuting a set changes nothing.
    let mut reversed = b.clone();
    reversed.reverse();
    assert!((energy_distance(&a, &reversed).unwrap() - ab).abs() < 1e-12);
}

/// Modified Bessel function I_ν(x) for ν ∈ {0, 1} by its power series Σ (x/2)^{2k+ν}/(k!(k+ν)!)
/// (x ≤ 10 here: the terms peak near k = x/2 and 40 terms leave a relative error below 1e-16).
fn bessel_i(nu: u32, x: f64) -> f64 {
    let mut term = (0.5 * x).powi(nu as i32);
    let mut total = term;
    for k in 1..40 {
        term *= (0.25 * x * x) / (k as f64 * (k + nu) as f64);
        total += term;
    }
    total
}

/// D(δ) for X ~ N(0, I₂), Y ~ N(δe₁, I₂). X − Y ~ N(−δe₁, 2I₂), so ‖X − Y‖/√2 is Rice with
/// noncentrality ν = δ/√2, whose mean is √(π/2)·L_{1/2}(−ν²/2) with
/// L_{1/2}(−t) = e^{−t/2}((1 + t)I₀(t/2) + t·I₁(t/2)); and E‖X − X'‖ = √2·√(π/2) = √π. Hence
/// D(δ) = E‖X − Y‖ − √π = √π(L_{1/2}(−δ²/4) − 1).
fn energy_closed_form(delta: f64) -> f64 {
    let t = delta * delta / 4.0;
    let laguerre = (-0.5 * t).exp() * ((1.0 + t) * bessel_i(0, 0.5 * t) + t * bessel_i(1, 0.5 * t));
    PI.sqrt() * (laguerre - 1.0)
}

#[test]
fn energy_distance_of_shifted_gaussians_matches_the_closed_form() {
    // Expected V-statistic: D(δ) + ½(1/n + 1/m)·√π (the diagonal zeros of the within-set means).
    // Its spread over 30 independent pairs of these sizes was measured at sd = 10% of D at
    // δ = 0.5, 5% at 1, 2.6% at 2 and 1.2% at 4 (means within 0.5% of this closed form), so the
    // mean of 5 pairs must be within 10% + the floor (≥ 3 sd).
    let (n, m) = (1500, 1200);
    let floor = 0.5 * (1.0 / n as f64 + 1.0 / m as f64) * PI.sqrt();
    let mut previous = 0.0;
    for (i, delta) in [0.5, 1.0, 2.0, 4.0].into_iter().enumerate() {
        let estimate = (0..5)
            .map(|r| {
                let seed = 100 * i as u64 + 2 * r;
                energy_distance(
                    &gaussian(n, [0.0, 0.0], seed),
                    &gaussian(m, [delta, 0.0], seed + 1),
                )
                .unwrap()
            })
            .sum::<f64>()
            / 5.0;
        let expected = energy_closed_form(delta) + floor;
        eprintln!("δ = {delta}: estimate {estimate:.5}, closed form {expected:.5}");
        assert!(
            (estimate - expected).abs() < 0.1 * expected + floor,
            "δ = {delta}: {estimate} vs {expected}"
        );
        assert!(estimate > previous, "not increasing with the shift");
        previous = estimate;
    }
    // The closed form itself: 0 at δ = 0, and far away E‖X − Y‖ ≈ δ + 1/δ (Rice mean for
    // variance 2 per axis, error O(δ⁻³)), so D(6) ≈ 6 + 1/6 − √π to about 0.01.
    assert!(energy_closed_form(0.0).abs() < 1e-15);
    let far = energy_closed_form(6.0);
    assert!((far - (6.0 + 1.0 / 6.0 - PI.sqrt())).abs() < 0.02, "{far}");
}

#[test]
fn energy_distance_between_samples_of_one_distribution_is_the_v_statistic_floor() {
    let (n, m) = (1000, 700);
    let mean = (0..10)
        .map(|r| {
            energy_distance(
                &gaussian(n, [0.0, 0.0], 7 + 2 * r),
                &gaussian(m, [0.0, 0.0], 8 + 2 * r),
            )
            .unwrap()
        })
        .sum::<f64>()
        / 10.0;
    let floor = 0.5 * (1.0 / n as f64 + 1.0 / m as f64) * PI.sqrt();
    eprintln!("same distribution: mean {mean:.3e}, floor {floor:.3e}");
    assert!((mean / floor - 1.0).abs() < 0.4, "{mean} vs {floor}");
}

#[test]
fn sliced_wasserstein_of_a_shift_is_the_mean_projected_shift() {
    let a = gaussian(2000, [0.0, 0.0], 3);
    let seed = 17;
    let k = 2000;
    // Unit shift between two point masses: W₁ = |cos θ| on each projection.
    let unit = sliced_wasserstein(&[[0.0, 0.0]], &[[1.0, 0.0]], k, seed).unwrap();
    for delta in [0.3, 1.0, 2.5] {
        let b: Vec<[f64; 2]> = a.iter().map(|p| [p[0] + delta, p[1]]).collect();
        let sw = sliced_wasserstein(&a, &b, k, seed).unwrap();
        // A rigid shift keeps the sorted order on every projection: W₁ = |δ cos θ| exactly, so
        // with the same seed (same directions) it is δ times the point-mass value.
        assert!(
            (sw - delta * unit).abs() < 1e-12 * delta,
            "{sw} vs {}",
            delta * unit
        );
        // And over directions E|cos θ| = 2/π; the Monte Carlo sd of |cos θ| is
        // √(½ − 4/π²) ≈ 0.31, so 2000 projections are within 4·0.31/√2000 ≈ 2.8%.
        let expected = 2.0 * delta / PI;
        eprintln!("δ = {delta}: SW₁ {sw:.5}, 2δ/π = {expected:.5}");
        assert!(
            (sw - expected).abs() < 0.028 * expected,
            "{sw} vs {expected}"
        );
    }
}

#[test]
fn sliced_wasserstein_handles_sets_of_different_sizes_exactly() {
    // {0, 1} vs {0, 1, 2} on the x-axis: the quantile functions differ by 1 on (1/3, 1/2] and on
    // (2/3, 1], so W₁ = 1/6 + 1/3 = ½ per unit of |cos θ|.
    let seed = 5;
    let unit = sliced_wasserstein(&[[0.0, 0.0]], &[[1.0, 0.0]], 100, seed).unwrap();
    let sw =
        sliced_wasserstein(&on_axis(&[0.0, 1.0]), &on_axis(&[0.0, 1.0, 2.0]), 100, seed).unwrap();
    assert!((sw - 0.5 * unit).abs() < 1e-15, "{sw} vs {}", 0.5 * unit);
    // Duplicating every point of a set changes nothing (same empirical measure).
    let a = gaussian(300, [0.0, 0.0], 9);
    let b = gaussian(200, [0.5, 0.5], 10);
    let doubled: Vec<[f64; 2]> = b.iter().chain(&b).copied().collect();
    let one = sliced_wasserstein(&a, &b, 50, 1).unwrap();
    let two = sliced_wasserstein(&a, &doubled, 50, 1).unwrap();
    assert!((one - two).abs() < 1e-12, "{one} vs {two}");
}

#[test]
fn sliced_wasserstein_is_zero_for_identical_sets_symmetric_and_finds_independent_shifts() {
    let a = gaussian(2000, [0.0, 0.0], 21);
    assert_eq!(sliced_wasserstein(&a, &a, 100, 2).unwrap(), 0.0);
    let b = gaussian(1500, [1.0, 0.0], 22);
    let ab = sliced_wasserstein(&a, &b, 500, 2).unwrap();
    let ba = sliced_wasserstein(&b, &a, 500, 2).unwrap();
    assert!((ab - ba).abs() < 1e-12, "{ab} vs {ba}");
    // Independent samples add sampling noise of order 1/√n to each 1D distance.
    let expected = 2.0 / PI;
    eprintln!("independent N(0, I) vs N(e₁, I): SW₁ {ab:.4}, 2/π = {expected:.4}");
    assert!((ab - expected).abs() < 0.1 * expected, "{ab} vs {expected}");
    let same = sliced_wasserstein(&a, &gaussian(1500, [0.0, 0.0], 23), 500, 2).unwrap();
    assert!(same < 0.1, "{same}");
}

#[test]
fn unusable_point_sets_are_refused_with_messages() {
    let good = vec![[0.0, 0.0], [1.0, 1.0]];
    let empty: Vec<[f64; 2]> = Vec::new();
    let expect = |r: Result<f64, MetricError>, needle: &str| {
        let err = r.unwrap_err().to_string();
        assert!(err.contains(needle), "`{err}` lacks `{needle}`");
    };
    expect(energy_distance(&empty, &good), "set a is empty");
    expect(energy_distance(&good, &empty), "set b is empty");
    expect(energy_distance(&[[0.0, f64::NAN]], &good), "must be finite");
    expect(
        energy_distance(&good, &[[f64::INFINITY, 0.0]]),
        "point 0 of set b",
    );
    expect(
        energy_distance(&[vec![0.0, 0.0]], &[vec![0.0, 0.0, 0.0]]),
        "same dimension",
    );
    expect(
        energy_distance(&[vec![0.0, 0.0], vec![1.0]], &[vec![0.0, 0.0]]),
        "point 1 of set a has 1 coordinates",
    );
    expect(
        energy_distance(&[Vec::<f64>::new()], &[Vec::new()]),
        "no coordinates",
    );
    expect(sliced_wasserstein(&empty, &good, 10, 0), "set a is empty");
    expect(
        sliced_wasserstein(&good, &[[f64::NAN, 0.0]], 10, 0),
        "must be finite",
    );
    expect(sliced_wasserstein(&good, &good, 0, 0), "between 1 and");
    expect(
        sliced_wasserstein(&good, &good, MAX_PROJECTIONS + 1, 0),
        "between 1 and",
    );
    expect(
        sliced_wasserstein(&[vec![0.0]], &[vec![0.0, 1.0]], 10, 0),
        "same dimension",
    );
}
