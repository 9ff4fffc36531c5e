//! The data layer: toy generators (determinism, shape, scale), splits, standardisation, the CSV
//! parser's accepted and refused inputs, and the IDX decoder on hand-made bytes and on MNIST.
#![cfg(not(target_arch = "wasm32"))]

use elbo_lab::data::mnist::{
    decode_images, decode_labeled, decode_labels, IMAGES_MAGIC, LABELS_MAGIC, TEST_IMAGES_FILE,
    TEST_LABELS_FILE, TRAIN_IMAGES_FILE, TRAIN_LABELS_FILE,
};
use elbo_lab::data::toy2d::{
    self, eight_gaussians_centres, spiral_arm, swirl_level, EIGHT_GAUSSIANS_STD, RING_RADII,
    SWIRL_BIN_WIDTH,
};
use elbo_lab::data::{
    parse_points_csv, points_to_csv, DataError, Dataset, Standardizer, DATASET_NAMES, MAX_POINTS,
    MAX_SAMPLES,
};
use elbo_lab::theory::Gmm;
use rand::rngs::StdRng;
use rand::SeedableRng;
use std::f64::consts::{PI, TAU};

const N: usize = 4000;

fn two_blob_gmm() -> Gmm {
    Gmm::new(
        vec![0.25, 0.75],
        vec![vec![-2.0, 0.0], vec![1.5, 1.0]],
        vec![0.1, 0.3],
    )
    .unwrap()
}

/// Every dataset that can be built by name, plus a small `points` set.
fn all_datasets() -> Vec<Dataset> {
    DATASET_NAMES
        .iter()
        .filter(|name| **name != "points")
        .map(|name| Dataset::from_name(name, Some(two_blob_gmm())).unwrap())
        .chain([Dataset::from_points(vec![[0.0, 1.0], [2.0, -1.0], [0.5, 0.5]]).unwrap()])
        .collect()
}

fn sample(d: &Dataset, seed: u64, n: usize) -> Vec<[f64; 2]> {
    d.sample(&mut StdRng::seed_from_u64(seed), n).unwrap()
}

fn dist(a: [f64; 2], b: [f64; 2]) -> f64 {
    (a[0] - b[0]).hypot(a[1] - b[1])
}

/// Distance from `p` to a curve given as a dense polyline (its vertices, which is enough when
/// they are much closer together than the tolerance tested).
fn dist_to_curve(p: [f64; 2], curve: &[[f64; 2]]) -> f64 {
    curve
        .iter()
        .map(|&c| dist(p, c))
        .fold(f64::INFINITY, f64::min)
}

fn fraction(points: &[[f64; 2]], pred: impl Fn([f64; 2]) -> bool) -> f64 {
    points.iter().filter(|&&p| pred(p)).count() as f64 / points.len() as f64
}

// ---------------------------------------------------------------------------------------------
// Generators: determinism, count, finiteness, scale.

#[test]
fn names_are_exactly_the_documented_ones() {
    assert_eq!(
        Dataset::names().join(" "),
        "moons swiss-roll 8-gaussians checkerboard pinwheel rings spirals swirl gmm points"
    );
}

#[test]
fn every_dataset_is_deterministic_for_a_seed_and_differs_across_seeds() {
    for d in all_datasets() {
        let a = sample(&d, 7, 500);
        let b = sample(&d, 7, 500);
        let c = sample(&d, 8, 500);
        assert_eq!(a, b, "{}", d.name());
        assert_ne!(a, c, "{}", d.name());
    }
}

#[test]
fn every_dataset_returns_n_finite_points_of_roughly_unit_scale() {
    for d in all_datasets() {
        for n in [0, 1, 17, N] {
            let pts = sample(&d, 3, n);
            assert_eq!(pts.len(), n, "{}", d.name());
            assert!(
                pts.iter()
                    .flatten()
                    .all(|v| v.is_finite() && v.abs() <= 5.0),
                "{}: a point outside [-5, 5]²",
                d.name()
            );
        }
        let pts = sample(&d, 4, N);
        let spread = |axis: usize| {
            let m = pts.iter().map(|p| p[axis]).sum::<f64>() / N as f64;
            (pts.iter().map(|p| (p[axis] - m).powi(2)).sum::<f64>() / N as f64).sqrt()
        };
        for axis in 0..2 {
            let s = spread(axis);
            assert!(
                (0.2..=3.0).contains(&s),
                "{} axis {axis}: std {s}",
                d.name()
            );
        }
    }
}

#[test]
fn sample_sizes_are_bounded() {
    let err = Dataset::Moons
        .sample(&mut StdRng::seed_from_u64(0), MAX_SAMPLES + 1)
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("the number of points is 1000001; it must be between 0 and 1000000"),
        "{err}"
    );
}

// ---------------------------------------------------------------------------------------------
// Shapes.

#[test]
fn eight_gaussians_sit_on_their_eight_centres_in_equal_shares() {
    let pts = sample(&Dataset::EightGaussians, 11, N);
    let centres = eight_gaussians_centres();
    let mut counts = [0usize; 8];
    for p in &pts {
        let (k, d) = centres
            .iter()
            .enumerate()
            .map(|(k, &c)| (k, dist(*p, c)))
            .min_by(|a, b| a.1.total_cmp(&b.1))
            .unwrap();
        // 2D Gaussian radius: P(r > 5σ) = e^{-12.5} ≈ 4e-6 per point.
        assert!(
            d < 5.0 * EIGHT_GAUSSIANS_STD,
            "{p:?} is {d} from centre {k}"
        );
        counts[k] += 1;
    }
    for c in counts {
        assert!((c as f64 / N as f64 - 0.125).abs() < 0.025, "{counts:?}");
    }
    let within_half = fraction(&pts, |p| centres.iter().any(|&c| dist(p, c) < 0.5));
    assert!(within_half > 0.55, "{within_half}");
}

#[test]
fn rings_radii_cluster_on_the_four_radii() {
    let pts = sample(&Dataset::Rings, 12, N);
    let mut counts = [0usize; 4];
    for p in &pts {
        let r = p[0].hypot(p[1]);
        let (k, gap) = RING_RADII
            .iter()
            .enumerate()
            .map(|(k, &rk)| (k, (r - rk).abs()))
            .min_by(|a, b| a.1.total_cmp(&b.1))
            .unwrap();
        assert!(gap < 0.4, "radius {r} is {gap} from ring {k}");
        counts[k] += 1;
    }
    for c in counts {
        assert!((c as f64 / N as f64 - 0.25).abs() < 0.03, "{counts:?}");
    }
}

#[test]
fn moons_form_two_arcs_of_equal_mass() {
    let pts = sample(&Dataset::Moons, 13, N);
    let arc = |upper: bool| -> Vec<[f64; 2]> {
        (0..=400)
            .map(|i| {
                let t = PI * f64::from(i) / 400.0;
                let (x, y) = if upper {
                    (t.cos(), t.sin())
                } else {
                    (1.0 - t.cos(), 0.5 - t.sin())
                };
                [2.0 * x - 1.0, 2.0 * y - 0.2]
            })
            .collect()
    };
    let (upper, lower) = (arc(true), arc(false));
    let on_upper = fraction(&pts, |p| {
        dist_to_curve(p, &upper) < dist_to_curve(p, &lower)
    });
    assert!((on_upper - 0.5).abs() < 0.04, "{on_upper}");
    let near = fraction(&pts, |p| {
        dist_to_curve(p, &upper).min(dist_to_curve(p, &lower)) < 0.5
    });
    assert!(near > 0.97, "{near}");
    // Two clusters: the upper arc's points lie mostly above the lower arc's.
    let mean_y = |on_up: bool| {
        let sel: Vec<f64> = pts
            .iter()
            .filter(|&&p| (dist_to_curve(p, &upper) < dist_to_curve(p, &lower)) == on_up)
            .map(|p| p[1])
            .collect();
        sel.iter().sum::<f64>() / sel.len() as f64
    };
    assert!(mean_y(true) - mean_y(false) > 1.0);
}

#[test]
fn checkerboard_fills_only_the_dark_squares_and_all_of_them() {
    let pts = sample(&Dataset::Checkerboard, 14, N);
    let mut counts = std::collections::BTreeMap::new();
    for p in &pts {
        assert!(p.iter().all(|v| (-4.0..4.0).contains(v)), "{p:?}");
        let (i, j) = ((p[0] / 2.0).floor() as i64, (p[1] / 2.0).floor() as i64);
        assert_eq!((i + j).rem_euclid(2), 0, "{p:?} is in a light square");
        *counts.entry((i, j)).or_insert(0usize) += 1;
    }
    assert_eq!(counts.len(), 8, "{counts:?}");
    assert!(counts
        .values()
        .all(|&c| (c as f64 / N as f64 - 0.125).abs() < 0.03));
}

#[test]
fn swiss_roll_lies_along_its_spiral() {
    let pts = sample(&Dataset::SwissRoll, 15, N);
    let curve: Vec<[f64; 2]> = (0..=4000)
        .map(|i| {
            let t = 1.5 * PI * (1.0 + 2.0 * f64::from(i) / 4000.0);
            [t * t.cos() / 5.0, t * t.sin() / 5.0]
        })
        .collect();
    // Noise is N(0, 0.2²) per coordinate; 0.6 is 3σ.
    let near = fraction(&pts, |p| dist_to_curve(p, &curve) < 0.6);
    assert!(near > 0.97, "{near}");
}

#[test]
fn spirals_have_two_arms_of_equal_mass() {
    let pts = sample(&Dataset::Spirals, 16, N);
    let arm = |sign: f64| -> Vec<[f64; 2]> {
        (0..=3000)
            .map(|i| spiral_arm(3.0 * PI * f64::from(i) / 3000.0, sign))
            .map(|[x, y]| [x + sign * 0.25 / 3.0, y + sign * 0.25 / 3.0])
            .collect()
    };
    let (a, b) = (arm(1.0), arm(-1.0));
    let near = fraction(&pts, |p| {
        dist_to_curve(p, &a).min(dist_to_curve(p, &b)) < 0.4
    });
    assert!(near > 0.97, "{near}");
    let on_a = fraction(&pts, |p| dist_to_curve(p, &a) < dist_to_curve(p, &b));
    assert!((on_a - 0.5).abs() < 0.04, "{on_a}");
}

#[test]
fn pinwheel_has_five_arms() {
    let pts = sample(&Dataset::Pinwheel, 17, N);
    // Radius 2 f₀ with f₀ ~ N(1, 0.3²) (the tangential part is small): mean radius near 2.
    let mean_r = pts.iter().map(|p| p[0].hypot(p[1])).sum::<f64>() / N as f64;
    assert!((mean_r - 2.0).abs() < 0.15, "{mean_r}");
    // Near radius 2 (f₀ ≈ 1) each arm sits at angle -(2πc/5 + 0.25e), give or take the
    // tangential noise (0.1 rad): five clusters of angle, empty in between.
    let mut hits = [0usize; 5];
    let mut between = 0usize;
    for p in &pts {
        let r = p[0].hypot(p[1]);
        if (r - 2.0).abs() < 0.2 {
            let angle = (-p[1].atan2(p[0]) - 0.25 * 1f64.exp()).rem_euclid(TAU);
            let slot = angle / (TAU / 5.0);
            if (slot - slot.round()).abs() < 0.25 {
                hits[slot.round() as usize % 5] += 1;
            } else {
                between += 1;
            }
        }
    }
    let on_arms: usize = hits.iter().sum();
    assert!(hits.iter().all(|&h| h > 50), "{hits:?}");
    assert!(
        between * 50 < on_arms,
        "{between} between arms, {hits:?} on them"
    );
}

#[test]
fn swirl_values_are_exactly_on_the_8_bit_grid() {
    let d = Dataset::from_name("swirl", None).unwrap();
    assert!(d.is_discrete_8bit());
    let pts = sample(&d, 18, N);
    for v in pts.iter().flatten() {
        let level = swirl_level(*v).unwrap_or_else(|| panic!("{v} is off the grid"));
        assert_eq!(*v, f64::from(level) * SWIRL_BIN_WIDTH - 1.0);
        // Noise-free levels are 32..=208; 0.25 noise moves them by a few levels at most.
        assert!((20..=220).contains(&level), "{level}");
    }
    // Discrete: far fewer distinct values than points.
    let mut distinct: Vec<u64> = pts.iter().flatten().map(|v| v.to_bits()).collect();
    distinct.sort_unstable();
    distinct.dedup();
    assert!(distinct.len() <= 256);
    // And a swirl: the radius grows with the winding angle, so points span radii 0.1 to 0.7.
    let radii: Vec<f64> = pts
        .iter()
        .map(|p| (p[0] + 0.06).hypot(p[1] + 0.06))
        .collect();
    assert!(radii.iter().any(|&r| r < 0.15) && radii.iter().any(|&r| r > 0.6));
    for other in all_datasets().iter().filter(|d| d.name() != "swirl") {
        assert!(!other.is_discrete_8bit(), "{}", other.name());
    }
}

#[test]
fn gmm_matches_its_weights_and_means() {
    let pts = sample(
        &Dataset::from_name("gmm", Some(two_blob_gmm())).unwrap(),
        19,
        N,
    );
    let first = fraction(&pts, |p| dist(p, [-2.0, 0.0]) < dist(p, [1.5, 1.0]));
    assert!((first - 0.25).abs() < 0.03, "{first}");
    let mean_first: f64 = pts
        .iter()
        .filter(|p| p[0] < -1.0)
        .map(|p| p[0])
        .sum::<f64>()
        / pts.iter().filter(|p| p[0] < -1.0).count() as f64;
    assert!((mean_first + 2.0).abs() < 0.02, "{mean_first}");
}

#[test]
fn gmm_by_name_needs_a_2d_mixture_and_says_so() {
    assert_eq!(
        Dataset::from_name("gmm", None).unwrap_err(),
        DataError::MissingGmm
    );
    let three_d = Gmm::new(vec![1.0], vec![vec![0.0; 3]], vec![1.0]).unwrap();
    let msg = Dataset::from_name("gmm", Some(three_d))
        .unwrap_err()
        .to_string();
    assert_eq!(
        msg,
        "invalid Gaussian mixture for 2D data: it is 3-dimensional; 2D data needs means with 2 coordinates"
    );
    assert!(Dataset::from_name("points", None)
        .unwrap_err()
        .to_string()
        .contains("your own points"));
}

#[test]
fn points_are_resampled_exactly_with_replacement() {
    let given = vec![[0.125, -3.0], [1.0, 2.0]];
    let d = Dataset::from_points(given.clone()).unwrap();
    let pts = sample(&d, 20, 1000);
    assert!(pts.iter().all(|p| given.contains(p)));
    let share = fraction(&pts, |p| p == given[0]);
    assert!((share - 0.5).abs() < 0.06, "{share}");
}

#[test]
fn points_are_validated() {
    assert_eq!(
        Dataset::from_points(vec![]).unwrap_err().to_string(),
        "the `points` dataset needs at least 1 point(s), got 0"
    );
    assert_eq!(
        Dataset::from_points(vec![[0.0, 0.0], [1.0, f64::INFINITY]])
            .unwrap_err()
            .to_string(),
        "point 1 is (1, inf); coordinates must be finite numbers"
    );
    assert!(matches!(
        Dataset::from_points(vec![[0.0, 0.0]; MAX_POINTS + 1]),
        Err(DataError::TooManyPoints { .. })
    ));
}

// ---------------------------------------------------------------------------------------------
// Splits.

#[test]
fn splits_have_the_asked_sizes_and_are_deterministic() {
    for d in all_datasets().into_iter().filter(|d| d.name() != "points") {
        let s = d.split(300, 100, 42).unwrap();
        assert_eq!((s.train.len(), s.test.len()), (300, 100), "{}", d.name());
        assert_eq!(s, d.split(300, 100, 42).unwrap(), "{}", d.name());
        assert_ne!(
            s.train,
            d.split(300, 100, 43).unwrap().train,
            "{}",
            d.name()
        );
        // Train and test come from different streams.
        assert_ne!(s.train[..100], s.test[..], "{}", d.name());
        // The test set does not depend on n_train; a longer train set extends the shorter.
        let longer = d.split(600, 100, 42).unwrap();
        assert_eq!(longer.test, s.test, "{}", d.name());
        assert_eq!(longer.train[..300], s.train[..], "{}", d.name());
    }
}

#[test]
fn split_sizes_are_checked() {
    let msg = Dataset::Moons.split(0, 10, 1).unwrap_err().to_string();
    assert_eq!(
        msg,
        "the number of training points is 0; it must be between 1 and 1000000"
    );
    let msg = Dataset::Moons.split(10, 0, 1).unwrap_err().to_string();
    assert_eq!(
        msg,
        "the number of test points is 0; it must be between 1 and 1000000"
    );
}

#[test]
fn points_split_holds_out_a_fifth_without_overlap() {
    let given: Vec<[f64; 2]> = (0..50).map(|i| [f64::from(i), -f64::from(i)]).collect();
    let d = Dataset::from_points(given.clone()).unwrap();
    let s = d.split(1000, 1000, 5).unwrap();
    assert_eq!((s.train.len(), s.test.len()), (40, 10));
    let mut all: Vec<[f64; 2]> = s.train.iter().chain(&s.test).copied().collect();
    all.sort_by(|a, b| a[0].total_cmp(&b[0]));
    assert_eq!(all, given);
    assert_eq!(s, d.split(1, 1, 5).unwrap());
    assert_ne!(s.test, d.split(1, 1, 6).unwrap().test);

    for (n, hold) in [(2, 1), (3, 1), (4, 1), (5, 1), (8, 2), (10, 2), (13, 3)] {
        let pts: Vec<[f64; 2]> = (0..n).map(|i| [f64::from(i), 0.0]).collect();
        let s = Dataset::from_points(pts).unwrap().split(1, 1, 0).unwrap();
        assert_eq!(
            (s.train.len(), s.test.len()),
            (n as usize - hold, hold),
            "n = {n}"
        );
    }
    let msg = Dataset::from_points(vec![[1.0, 1.0]])
        .unwrap()
        .split(10, 10, 0)
        .unwrap_err()
        .to_string();
    assert_eq!(
        msg,
        "splitting the `points` dataset needs at least 2 point(s), got 1"
    );
}

// ---------------------------------------------------------------------------------------------
// Standardisation.

#[test]
fn standardizer_gives_zero_mean_unit_std_and_round_trips() {
    let split = Dataset::SwissRoll.split(2000, 10, 9).unwrap();
    let s = Standardizer::fit(&split.train).unwrap();
    let z = s.forward_all(&split.train);
    for axis in 0..2 {
        let m = z.iter().map(|p| p[axis]).sum::<f64>() / z.len() as f64;
        let v = z.iter().map(|p| (p[axis] - m).powi(2)).sum::<f64>() / z.len() as f64;
        assert!(
            m.abs() < 1e-12 && (v - 1.0).abs() < 1e-12,
            "axis {axis}: {m} {v}"
        );
    }
    let back = s.inverse_all(&z);
    for (a, b) in back.iter().zip(&split.train) {
        assert!(dist(*a, *b) < 1e-12);
    }
}

#[test]
fn standardizer_jacobian_matches_the_change_of_density() {
    // If x ~ N(mean, diag(std²)), z = forward(x) ~ N(0, I): log p_x(x) = log p_z(z) + log|det J|.
    let s = Standardizer {
        mean: [1.5, -0.5],
        std: [2.0, 0.25],
    };
    let log_normal =
        |v: f64, m: f64, sd: f64| -0.5 * ((v - m) / sd).powi(2) - sd.ln() - 0.5 * (2.0 * PI).ln();
    for x in [[0.0, 0.0], [3.0, -1.0], [-2.0, 4.0]] {
        let z = s.forward(x);
        let log_px = log_normal(x[0], 1.5, 2.0) + log_normal(x[1], -0.5, 0.25);
        let log_pz = log_normal(z[0], 0.0, 1.0) + log_normal(z[1], 0.0, 1.0);
        assert!((log_pz + s.log_abs_det_jacobian() - log_px).abs() < 1e-12);
    }
    // Numerically, the determinant of the forward map's Jacobian by finite differences.
    let h = 1e-6;
    let x = [0.3, 0.7];
    let dzdx0 = (s.forward([x[0] + h, x[1]])[0] - s.forward(x)[0]) / h;
    let dzdx1 = (s.forward([x[0], x[1] + h])[1] - s.forward(x)[1]) / h;
    assert!(((dzdx0 * dzdx1).ln() - s.log_abs_det_jacobian()).abs() < 1e-6);
}

#[test]
fn standardizer_guards_a_constant_coordinate() {
    let s = Standardizer::fit(&[[2.0, 5.0], [4.0, 5.0], [6.0, 5.0]]).unwrap();
    assert_eq!(s.mean, [4.0, 5.0]);
    assert_eq!(s.std[1], 1.0);
    assert!((s.std[0] - (8.0f64 / 3.0).sqrt()).abs() < 1e-12);
    assert!(s.log_abs_det_jacobian().is_finite());
    let one = Standardizer::fit(&[[3.0, -1.0]]).unwrap();
    assert_eq!(one.forward([3.0, -1.0]), [0.0, 0.0]);
    assert_eq!(one.log_abs_det_jacobian(), 0.0);
}

// ---------------------------------------------------------------------------------------------
// CSV.

fn csv_ok(text: &str) -> Vec<[f64; 2]> {
    parse_points_csv(text).unwrap_or_else(|e| panic!("{text:?}: {e}"))
}

fn csv_err(text: &str) -> String {
    parse_points_csv(text).unwrap_err().to_string()
}

#[test]
fn csv_accepts_the_common_shapes() {
    let expected = vec![[1.0, 2.0], [-3.5, 0.25], [1e-3, 4e2]];
    for text in [
        "1,2\n-3.5,0.25\n0.001,400\n",
        "x,y\n1,2\n-3.5,0.25\n0.001,400",
        "x, y\r\n1, 2\r\n-3.5, 0.25\r\n1e-3, 4E2\r\n",
        "1;2\n-3.5;0.25\n0.001;400",
        "X;Y\n1 ; 2\n-3,5;0,25\n0,001;400",
        "x\ty\n1\t2\n-3.5\t0.25\n0.001\t400\n",
        "1 2\n   -3.5    0.25   \n+0.001 400.",
        "\n\n  x , y  \n\n1,2\n\n\n-3.5,0.25\n   \n0.001,400\n\n",
        "\u{feff}x,y\n1,2\n-3.5,0.25\n0.001,400\n",
        "x,y\r1,2\r-3.5,0.25\r0.001,400\r",
        "longitude,latitude\n\"1\",\"2\"\n-3.5,.25\n0.001,400",
    ] {
        assert_eq!(csv_ok(text), expected, "{text:?}");
    }
    assert_eq!(csv_ok("0,0"), vec![[0.0, 0.0]]);
}

#[test]
fn csv_refuses_bad_input_with_line_and_finding() {
    let cases: &[(&str, &str)] = &[
        ("", "the CSV text is empty; expected one point \"x,y\" per line (an optional header line first)"),
        (" \n\r\n\t\n", "the CSV text is empty; expected one point \"x,y\" per line (an optional header line first)"),
        ("x,y\n\n", "the CSV text has a header line but no points; expected one point \"x,y\" per line after it"),
        ("1,2\n3,4\n\n5,6\n7,8\n\n3.5\n", "line 7: expected two numbers \"x,y\", found \"3.5\""),
        ("1,2,3", "line 1: expected two numbers \"x,y\", found \"1,2,3\""),
        ("x,y\n1,2\nx,y\n", "line 3: expected two numbers \"x,y\", found \"x,y\""),
        ("1,2\nfoo,bar\n", "line 2: expected two numbers \"x,y\", found \"foo,bar\""),
        ("x,y\n1,\n", "line 2: expected two numbers \"x,y\", found \"1,\""),
        ("1 2 3\n", "line 1: expected two numbers \"x,y\", found \"1 2 3\""),
        ("x,y\r\n1,2\r\n3;4;5\r\n", "line 3: expected two numbers \"x,y\", found \"3;4;5\""),
        ("x,y\n1,nan\n", "line 2: \"nan\" is not a finite number; coordinates must be finite (no nan or inf)"),
        ("inf,0\n", "line 1: \"inf\" is not a finite number; coordinates must be finite (no nan or inf)"),
        ("1,2\n-Infinity,3\n", "line 2: \"-Infinity\" is not a finite number; coordinates must be finite (no nan or inf)"),
        ("1e400,3\n", "line 1: \"1e400\" is not a finite number; coordinates must be finite (no nan or inf)"),
        ("NaN,NaN\n", "line 1: \"NaN\" is not a finite number; coordinates must be finite (no nan or inf)"),
    ];
    for (text, msg) in cases {
        assert_eq!(csv_err(text), *msg, "{text:?}");
    }
}

#[test]
fn csv_accepts_exactly_the_maximum_number_of_points() {
    let mut text = String::from("x,y\n");
    for i in 0..MAX_POINTS {
        text.push_str(&format!("{i},1\n"));
    }
    assert_eq!(csv_ok(&text).len(), MAX_POINTS);
    text.push_str("1,1\n");
    assert_eq!(
        csv_err(&text),
        format!(
            "line {}: more than 100000 points; at most 100000 are accepted",
            MAX_POINTS + 2
        )
    );
}

#[test]
fn csv_writer_round_trips_exactly() {
    let mut rng = StdRng::seed_from_u64(21);
    let mut pts = toy2d::pinwheel(&mut rng, 300);
    pts.extend([
        [0.1, -0.0],
        [1e-300, 1e300],
        [f64::MIN_POSITIVE, -f64::MAX],
        [3.0, 7.0],
    ]);
    let text = points_to_csv(&pts);
    assert!(text.starts_with("x,y\n"));
    assert_eq!(text.lines().count(), pts.len() + 1);
    assert!(text.contains("\n3.0,7.0\n"));
    let back = csv_ok(&text);
    assert_eq!(back.len(), pts.len());
    for (a, b) in back.iter().zip(&pts) {
        assert_eq!(a.map(f64::to_bits), b.map(f64::to_bits));
    }
    assert_eq!(points_to_csv(&[]), "x,y\n");
}

#[test]
fn csv_points_become_a_dataset() {
    let d = Dataset::from_csv("x,y\n0,0\n1,1\n").unwrap();
    assert_eq!(d, Dataset::Points(vec![[0.0, 0.0], [1.0, 1.0]]));
    assert_eq!(d.name(), "points");
    assert!(matches!(Dataset::from_csv(""), Err(DataError::CsvEmpty)));
}

// ---------------------------------------------------------------------------------------------
// IDX.

fn idx(magic: u32, dims: &[u32], body: &[u8]) -> Vec<u8> {
    let mut out = magic.to_be_bytes().to_vec();
    for d in dims {
        out.extend_from_slice(&d.to_be_bytes());
    }
    out.extend_from_slice(body);
    out
}

#[test]
fn idx_decodes_hand_made_images_and_labels() {
    let pixels: Vec<u8> = (0..3 * 4 * 5).map(|i| (i * 7 % 256) as u8).collect();
    let images = decode_images(&idx(IMAGES_MAGIC, &[3, 4, 5], &pixels)).unwrap();
    assert_eq!((images.n, images.rows, images.cols), (3, 4, 5));
    assert_eq!(images.pixels, pixels);
    assert_eq!(images.pixels_per_image(), 20);
    assert_eq!(images.image(2).unwrap(), &pixels[40..60]);
    let labels = decode_labels(&idx(LABELS_MAGIC, &[3], &[7, 0, 9])).unwrap();
    assert_eq!(labels, vec![7, 0, 9]);
    let both = decode_labeled(
        &idx(IMAGES_MAGIC, &[3, 4, 5], &pixels),
        &idx(LABELS_MAGIC, &[3], &[7, 0, 9]),
    )
    .unwrap();
    assert_eq!(both.labels, labels);
    assert_eq!(both.images, images);
}

#[test]
fn idx_refuses_malformed_bytes_with_what_is_wrong() {
    let img = |dims: &[u32], body: &[u8]| decode_images(&idx(IMAGES_MAGIC, dims, body));
    let cases: Vec<(Result<(), DataError>, &str)> = vec![
        (
            decode_images(&[]).map(drop),
            "the image file is truncated: the header says 16 bytes in all, found 0",
        ),
        (
            decode_images(&IMAGES_MAGIC.to_be_bytes()[..3]).map(drop),
            "the image file is truncated: the header says 16 bytes in all, found 3",
        ),
        (
            decode_images(&idx(LABELS_MAGIC, &[1, 1, 1], &[0])).map(drop),
            "the image file has magic number 0x00000801; expected 0x00000803 (IDX, unsigned bytes, 3 dimension(s))",
        ),
        (
            decode_labels(&idx(IMAGES_MAGIC, &[1], &[0])).map(drop),
            "the label file has magic number 0x00000803; expected 0x00000801 (IDX, unsigned bytes, 1 dimension(s))",
        ),
        (
            decode_images(&[0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]).map(drop),
            "the image file is gzip-compressed; decompress it first (gunzip), the decoder reads raw IDX",
        ),
        (
            img(&[2, 2, 2], &[0; 7]).map(drop),
            "the image file is truncated: the header says 24 bytes in all, found 23",
        ),
        (
            img(&[2, 2, 2], &[0; 9]).map(drop),
            "the image file has 1 byte(s) after the 24 its header declares; it is not a single IDX file",
        ),
        (
            img(&[1, 0, 28], &[]).map(drop),
            "the image file declares an unusable size: images of 0×28 pixels; rows and columns must be at least 1",
        ),
        (
            decode_labels(&idx(LABELS_MAGIC, &[5], &[1, 2])).map(drop),
            "the label file is truncated: the header says 13 bytes in all, found 10",
        ),
        (
            decode_labeled(
                &idx(IMAGES_MAGIC, &[2, 1, 1], &[0, 0]),
                &idx(LABELS_MAGIC, &[3], &[0, 0, 0]),
            )
            .map(drop),
            "2 images but 3 labels; the image and label files must hold the same number of items",
        ),
    ];
    for (result, msg) in cases {
        assert_eq!(result.unwrap_err().to_string(), msg);
    }
    // Sizes whose product overflows are refused before anything is allocated.
    assert!(img(&[u32::MAX, u32::MAX, u32::MAX], &[]).is_err());
}

#[test]
fn idx_decodes_the_real_mnist_files() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("data/mnist");
    let read = |name: &str| std::fs::read(dir.join(name)).ok();
    let files = [
        TRAIN_IMAGES_FILE,
        TRAIN_LABELS_FILE,
        TEST_IMAGES_FILE,
        TEST_LABELS_FILE,
    ];
    let Some(bytes) = files.iter().map(|f| read(f)).collect::<Option<Vec<_>>>() else {
        eprintln!(
            "skipping: MNIST is not in {} (`make data` fetches it)",
            dir.display()
        );
        return;
    };
    let train = decode_labeled(&bytes[0], &bytes[1]).unwrap();
    let test = decode_labeled(&bytes[2], &bytes[3]).unwrap();
    assert_eq!(
        (train.images.n, train.images.rows, train.images.cols),
        (60_000, 28, 28)
    );
    assert_eq!(
        (test.images.n, test.images.rows, test.images.cols),
        (10_000, 28, 28)
    );
    for set in [&train, &test] {
        assert!(set.labels.iter().all(|&l| l <= 9));
        // Every digit occurs, roughly a tenth of the time.
        for digit in 0..=9u8 {
            let share =
                set.labels.iter().filter(|&&l| l == digit).count() as f64 / set.labels.len() as f64;
            assert!((0.08..0.12).contains(&share), "digit {digit}: {share}");
        }
        // Digits are white strokes on black: most pixels 0, some 255.
        let zeros = set.images.pixels.iter().filter(|&&p| p == 0).count() as f64;
        assert!(zeros / set.images.pixels.len() as f64 > 0.7);
        assert!(set.images.pixels.contains(&255));
    }
    // The first test digit of MNIST is a 7; its first training digit a 5.
    assert_eq!((test.labels[0], train.labels[0]), (7, 5));
}
