//! The numbers the explainer shows: Theorem 1's area picture (Eq. 28–31, App. B) and its Riemann
//! strips, computed for the page's preset mixtures.

use std::collections::BTreeMap;

use elbo_lab::api::{self, WeightingSpec};
use elbo_lab::presets::mixture_presets;
use elbo_lab::theory::TheoryError;

fn preset(name: &str) -> String {
    mixture_presets()
        .into_iter()
        .find(|p| p.name == name)
        .unwrap_or_else(|| panic!("no preset {name}"))
        .gmm
}

fn spec(name: &str, params: &[(&str, f64)]) -> WeightingSpec {
    WeightingSpec {
        name: name.into(),
        params: params
            .iter()
            .map(|(k, v)| (k.to_string(), *v))
            .collect::<BTreeMap<_, _>>(),
        expression: None,
    }
}

fn rel(a: f64, b: f64) -> f64 {
    (a - b).abs() / a.abs().max(b.abs()).max(1e-300)
}

#[test]
fn area_identity_holds_to_1e_6_for_every_weighting_and_preset() {
    let weightings = [
        spec("elbo", &[]),
        spec("sigmoid", &[("k", 2.0)]),
        spec("v-cosine", &[]),
        spec("edm-monotonic", &[]),
        spec("edm", &[]),
        spec("iddpm", &[]),
        spec("p2", &[("gamma", 1.0)]),
        spec("min-snr", &[("gamma", 5.0)]),
    ];
    for (mixture, x) in [
        ("three-blobs", vec![-1.2, -0.6]),
        ("three-blobs", vec![0.0, 0.3]),
        ("gaussian", vec![2.0, 1.0]),
    ] {
        let gmm = preset(mixture);
        for w in &weightings {
            let a = api::area_picture(&gmm, &x, w, -10.0, 10.0, 16).unwrap();
            assert!(
                rel(a.lhs, a.rhs) < 1e-6,
                "{mixture} {x:?} {}: lhs {} rhs {}",
                w.name,
                a.lhs,
                a.rhs
            );
            assert!((a.difference - (a.lhs - a.rhs)).abs() < 1e-15);
            // Both sides are positive areas for these weightings, and w is scaled to max 1.
            assert!(a.lhs > 0.0);
            let top = a.w.iter().copied().fold(0.0f64, f64::max);
            assert!((top - 1.0).abs() < 1e-12, "{}: max w {top}", w.name);
        }
    }
}

#[test]
fn riemann_strips_converge_to_both_sides() {
    let gmm = preset("three-blobs");
    let x = [1.3, -0.4];
    let w = spec("sigmoid", &[("k", 1.0)]);
    let mut previous = (f64::INFINITY, f64::INFINITY);
    for strips in [4, 16, 64, 256] {
        let a = api::area_picture(&gmm, &x, &w, -10.0, 10.0, strips).unwrap();
        assert_eq!(a.strips.len(), strips);
        let errors = (
            (a.riemann_weighted_loss - a.terms.weighted_loss).abs(),
            (a.riemann_mixture - a.terms.mixture_term).abs(),
        );
        // The midpoint rule's error falls (roughly fourfold per halving of the strip width).
        assert!(
            errors.0 < previous.0 && errors.1 < previous.1,
            "{strips}: {errors:?} after {previous:?}"
        );
        previous = errors;
        // Strips tile [λ_min, λ_max] and the L values at shared edges agree.
        assert_eq!(a.strips[0].lambda_lo, -10.0);
        assert_eq!(a.strips[strips - 1].lambda_hi, 10.0);
        for pair in a.strips.windows(2) {
            assert_eq!(pair[0].lambda_hi, pair[1].lambda_lo);
            assert_eq!(pair[0].l_hi, pair[1].l_lo);
        }
        // The end points of L are the profile's: prior (Eq. 29) and L(λ_max).
        assert!(rel(a.strips[0].l_lo * a.strips[0].w_lo, a.terms.prior_term) < 1e-12);
        assert!(
            rel(
                a.strips[strips - 1].l_hi * a.strips[strips - 1].w_hi,
                a.terms.rect_term
            ) < 1e-12
        );
    }
    assert!(previous.0 < 1e-4 * a_scale(&gmm, &x, &w));
    assert!(previous.1 < 1e-4 * a_scale(&gmm, &x, &w));
}

fn a_scale(gmm: &str, x: &[f64], w: &WeightingSpec) -> f64 {
    api::area_picture(gmm, x, w, -10.0, 10.0, 1).unwrap().lhs
}

#[test]
fn strip_edges_agree_with_the_profile_curve() {
    // L at strip edges comes from the closed form; the curve from the running integral of f.
    // Both must describe the same L(λ;x): compare at the curve's nodes by interpolation-free
    // check at λ = 0, which is a strip edge for an even count on a symmetric range.
    let gmm = preset("three-blobs");
    let x = [0.1, 1.4];
    let a = api::area_picture(&gmm, &x, &spec("elbo", &[]), -10.0, 10.0, 2).unwrap();
    let l0 = a.strips[0].l_hi;
    let l_end = a.strips[1].l_hi;
    // Monotone increasing L (f ≥ 0, Eq. 9) and the curve brackets L(0) between its neighbours.
    let i = a.curve_lambda.iter().position(|&l| l > 0.0).unwrap();
    assert!(a.curve_l[i - 1] <= l0 + 1e-9 && l0 <= a.curve_l[i] + 1e-9);
    assert!(a.curve_l.windows(2).all(|p| p[1] >= p[0] - 1e-12));
    assert!(rel(*a.curve_l.last().unwrap(), l_end) < 1e-12);
}

#[test]
fn monotone_weightings_give_a_distribution_and_others_negative_weights() {
    let gmm = preset("gaussian");
    let x = [0.8, -0.5];
    let a = api::area_picture(&gmm, &x, &spec("sigmoid", &[("k", 2.0)]), -10.0, 10.0, 8).unwrap();
    assert!(a.monotonic);
    assert!(a.negative_intervals.is_empty());
    // ∫ p_w dλ + Dirac mass = 1 (Eq. 12), trapezoid on the 401-point grid.
    let h = a.lambda[1] - a.lambda[0];
    let mass: f64 = a.p_w.windows(2).map(|p| 0.5 * h * (p[0] + p[1])).sum();
    assert!(
        (mass + a.dirac_mass - 1.0).abs() < 1e-3,
        "mass {mass} + {}",
        a.dirac_mass
    );
    assert!(a.p_w.iter().all(|&p| p >= 0.0));
    assert!(a.strips.iter().all(|s| s.horizontal >= 0.0));

    let b = api::area_picture(&gmm, &x, &spec("edm", &[]), -10.0, 10.0, 32).unwrap();
    assert!(!b.monotonic);
    // The mixture density -w'/w(λ_min) is negative exactly on the reported intervals.
    for (l, p) in b.lambda.iter().zip(&b.p_w) {
        let inside = b
            .negative_intervals
            .iter()
            .any(|[lo, hi]| l >= lo && l <= hi);
        assert!(
            inside || *p >= -1e-12,
            "λ={l}: {p} outside the negative intervals"
        );
    }
    assert!(b.p_w.iter().any(|&p| p < 0.0));
    assert!(!b.negative_intervals.is_empty());
    // EDM's w rises with λ below its peak: the strips there have negative horizontal area.
    let peak = b.lambda[b
        .w
        .iter()
        .enumerate()
        .fold(0, |m, (i, &w)| if w > b.w[m] { i } else { m })];
    let [lo, hi] = b.negative_intervals[0];
    assert!(
        lo <= -10.0 + 1e-9 && (hi - peak).abs() < 0.2,
        "{lo}..{hi}, peak {peak}"
    );
    assert!(b.strips.iter().any(|s| s.horizontal < 0.0));
    assert!(b
        .strips
        .iter()
        .filter(|s| s.lambda_hi < peak - 0.1)
        .all(|s| s.horizontal < 0.0));
}

#[test]
fn invalid_area_requests_are_refused_with_messages() {
    let gmm = preset("gaussian");
    let w = spec("elbo", &[]);
    let err = api::area_picture(&gmm, &[0.0, 0.0], &w, -10.0, 10.0, 0).unwrap_err();
    assert!(err.to_string().contains("strips"), "{err}");
    let err = api::area_picture(&gmm, &[0.0], &w, -10.0, 10.0, 4).unwrap_err();
    assert!(matches!(err, TheoryError::DimensionMismatch(_)), "{err}");
    let err = api::area_picture(&gmm, &[0.0, 0.0], &w, 5.0, -5.0, 4).unwrap_err();
    assert!(matches!(err, TheoryError::InvalidRange(_)), "{err}");
    let err = api::area_picture(&gmm, &[0.0, 0.0], &spec("nope", &[]), -5.0, 5.0, 4).unwrap_err();
    assert!(err.to_string().contains("unknown weighting"), "{err}");
}

#[test]
fn every_loss_preset_reproduces_its_table_1_row() {
    let range = api::CurveRange::default();
    let presets = api::loss_presets();
    assert!(presets.len() >= 8);
    for p in &presets {
        let c = api::implied_comparison(&p.name, None, None, &range).unwrap();
        assert!(
            c.log_ratio_spread < 1e-6,
            "{}: implied and Table 1 differ by a λ-dependent factor (spread {})",
            p.name,
            c.log_ratio_spread
        );
        assert_eq!(c.implied_monotonic, c.table_monotonic, "{}", p.name);
        let top = c.implied.iter().copied().fold(0.0f64, f64::max);
        assert!((top - 1.0).abs() < 1e-12);
    }
    // Min-SNR and P2 follow their γ on both sides.
    for (loss, gamma) in [("min-snr", 2.0), ("p2", 0.5)] {
        let c = api::implied_comparison(loss, None, Some(gamma), &range).unwrap();
        let d = api::implied_comparison(loss, None, None, &range).unwrap();
        assert!(
            c.log_ratio_spread < 1e-6,
            "{loss} γ={gamma}: {}",
            c.log_ratio_spread
        );
        assert!(c.implied != d.implied, "{loss}: γ changes the weighting");
    }
}

#[test]
fn another_schedule_breaks_the_table_row_and_bad_requests_are_refused() {
    let range = api::CurveRange::default();
    // ε-prediction trained with the EDM schedule is not IDDPM's sech(λ/2).
    let c = api::implied_comparison("eps-cosine", Some("edm-train"), None, &range).unwrap();
    assert_eq!(c.schedule, "edm-train");
    assert!(c.log_ratio_spread > 1.0, "spread {}", c.log_ratio_spread);
    // ... while the ELBO multiplier gives w = 1 under every schedule (Eq. 4).
    for schedule in ["cosine", "edm-train", "fm-ot", "linear"] {
        let c = api::implied_comparison("elbo", Some(schedule), None, &range).unwrap();
        assert!(
            c.log_ratio_spread < 1e-9,
            "{schedule}: {}",
            c.log_ratio_spread
        );
    }
    let err = api::implied_comparison("nope", None, None, &range).unwrap_err();
    assert!(err.to_string().contains("unknown loss"), "{err}");
    let err = api::implied_comparison("eps-cosine", Some("nope"), None, &range).unwrap_err();
    assert!(err.to_string().contains("schedule"), "{err}");
    let err = api::implied_comparison("min-snr", None, Some(-1.0), &range).unwrap_err();
    assert!(err.to_string().contains("gamma"), "{err}");
}

// Sec. 3.2 and App. F: the schedule changes the variance of the estimate, not its value.

/// The rows whose density is piecewise constant on the adaptive schedule's bins.
const BINNED: [&str; 3] = ["adaptive", "optimal", "gradient-optimal"];

fn report(mixture: &str, x: &[f64], w: &WeightingSpec, samples: usize) -> api::EstimatorReport {
    api::estimator_report(&preset(mixture), x, w, -10.0, 10.0, samples, 7).unwrap()
}

#[test]
fn every_schedule_estimates_the_same_weighted_loss() {
    for (mixture, x, w) in [
        (
            "three-blobs",
            vec![0.2, 0.3],
            spec("sigmoid", &[("k", 2.0)]),
        ),
        ("three-blobs", vec![-1.2, -0.6], spec("edm", &[])),
        ("gaussian", vec![1.5, 0.0], spec("v-cosine", &[])),
    ] {
        let r = report(mixture, &x, &w, 20_000);
        // The quadrature L_w agrees with Eq. 31's weighted loss from the identity module.
        let a = api::area_picture(&preset(mixture), &x, &w, -10.0, 10.0, 1).unwrap();
        assert!(
            rel(r.weighted_loss, a.terms.weighted_loss / a.w_scale) < 1e-5,
            "{mixture} {}: {} vs {}",
            w.name,
            r.weighted_loss,
            a.terms.weighted_loss / a.w_scale
        );
        assert_eq!(
            r.rows.len(),
            9,
            "six schedules, adaptive and the two optimal ones"
        );
        for row in &r.rows {
            let sd = row.std_of_estimate.expect("finite variance");
            let z = (row.estimate - r.weighted_loss) / sd;
            assert!(
                z.abs() < 4.5,
                "{mixture} {} {}: estimate {} vs L_w {} ({z:.2} standard deviations)",
                w.name,
                row.name,
                row.estimate,
                r.weighted_loss
            );
            // The sample standard error estimates the exact one where Y is light-tailed (a
            // schedule with little mass where w·f is large gives rare huge samples instead, whose
            // sample variance under-reports; that is what the variance meter shows).
            let ratio = row.standard_error / sd;
            let light = BINNED.contains(&row.name.as_str());
            assert!(
                !light || (0.8..1.25).contains(&ratio),
                "{mixture} {} {}: sample SE {} vs exact {sd}",
                w.name,
                row.name,
                row.standard_error
            );
            // p integrates to 1 on the display grid (trapezoid; binned densities have jumps).
            let h = r.lambda[1] - r.lambda[0];
            let mass: f64 = row.p.windows(2).map(|p| 0.5 * h * (p[0] + p[1])).sum();
            assert!((mass - 1.0).abs() < 0.02, "{}: ∫p = {mass}", row.name);
        }
    }
}

#[test]
fn the_adaptive_schedule_has_lower_variance_than_every_fixed_schedule() {
    for (mixture, x, w) in [
        (
            "three-blobs",
            vec![0.2, 0.3],
            spec("sigmoid", &[("k", 2.0)]),
        ),
        ("three-blobs", vec![1.3, -0.4], spec("elbo", &[])),
        ("gaussian", vec![0.8, -0.5], spec("edm", &[])),
    ] {
        let r = report(mixture, &x, &w, 100);
        let var = |name: &str| {
            r.rows
                .iter()
                .find(|row| row.name == name)
                .and_then(|row| row.variance)
                .unwrap()
        };
        let adaptive = var("adaptive");
        let optimal = var("optimal");
        assert!(
            optimal <= adaptive * (1.0 + 1e-12),
            "optimal {optimal} vs adaptive {adaptive}"
        );
        for row in r
            .rows
            .iter()
            .filter(|row| !BINNED.contains(&row.name.as_str()))
        {
            let v = row.variance.unwrap_or(f64::INFINITY);
            assert!(
                adaptive < v,
                "{mixture} {}: adaptive {adaptive} vs {} {v}",
                w.name,
                row.name
            );
        }
        // The adaptive density follows w·f/(2L_w), the density it is built from.
        let adaptive_p = &r.rows.iter().find(|row| row.name == "adaptive").unwrap().p;
        let h = r.lambda[1] - r.lambda[0];
        let l1: f64 = adaptive_p
            .iter()
            .zip(&r.target_density)
            .map(|(a, b)| h * (a - b).abs())
            .sum();
        assert!(l1 < 0.05, "‖p_adaptive - w f/2L_w‖₁ = {l1}");
    }
}

#[test]
fn the_output_bias_gradient_is_unbiased_under_every_schedule_and_its_noise_is_metered() {
    for (mixture, x, w) in [
        (
            "three-blobs",
            vec![0.2, 0.3],
            spec("sigmoid", &[("k", 2.0)]),
        ),
        ("three-blobs", vec![1.3, -0.4], spec("elbo", &[])),
        ("gaussian", vec![1.5, 0.0], spec("v-cosine", &[])),
    ] {
        let r = report(mixture, &x, &w, 20_000);
        let norm = |v: &[f64]| v.iter().map(|a| a * a).sum::<f64>().sqrt();
        assert!(
            norm(&r.bias_gradient) > 0.0,
            "a single x has a non-zero bias gradient"
        );
        for row in &r.rows {
            let noise = row.gradient_noise.expect("finite gradient noise");
            // Each coordinate's deviation is at most the total noise √(tr Var/N).
            let deviation: Vec<f64> = row
                .gradient_estimate
                .iter()
                .zip(&r.bias_gradient)
                .map(|(a, b)| a - b)
                .collect();
            assert!(
                norm(&deviation) < 4.5 * noise,
                "{mixture} {} {}: gradient {:?} vs exact {:?} (noise {noise})",
                w.name,
                row.name,
                row.gradient_estimate,
                r.bias_gradient
            );
            // As for Y, the sample SE estimates the exact noise only where G is light-tailed:
            // under p ∝ w·f and p ∝ w√f. Under the loss-optimal density it under-reports
            // (0.059 against 0.078 for three-blobs, sigmoid).
            let ratio = row.gradient_standard_error / noise;
            let light = ["adaptive", "gradient-optimal"].contains(&row.name.as_str());
            assert!(
                !light || (0.8..1.25).contains(&ratio),
                "{mixture} {} {}: sample gradient SE {} vs exact {noise}",
                w.name,
                row.name,
                row.gradient_standard_error
            );
        }
        // Each optimal density wins its own meter among the densities on the same bins, and
        // the two meters rank them differently.
        let row = |name: &str| r.rows.iter().find(|row| row.name == name).unwrap();
        let (loss_best, gradient_best) = (row("optimal"), row("gradient-optimal"));
        for other in BINNED.map(row) {
            assert!(
                loss_best.std_of_estimate.unwrap()
                    <= other.std_of_estimate.unwrap() * (1.0 + 1e-12)
            );
            assert!(
                gradient_best.gradient_noise.unwrap()
                    <= other.gradient_noise.unwrap() * (1.0 + 1e-12),
                "{mixture} {}: gradient-optimal {:?} vs {} {:?}",
                w.name,
                gradient_best.gradient_noise,
                other.name,
                other.gradient_noise
            );
        }
        assert!(gradient_best.std_of_estimate > loss_best.std_of_estimate);
    }
}

#[test]
fn the_mean_error_and_bias_gradient_match_the_closed_form_for_one_gaussian() {
    // q(z) = N(αμ, v I) with v = α²s² + σ²: ε* = σ(z - αμ)/v, so E[ε - ε*] = -σα(x - μ)/v.
    let (mu, s) = ([0.8, -0.5], 0.5);
    let x = [1.5, 0.2];
    let moments = api::loss_moments(&preset("gaussian"), &x, -10.0, 10.0).unwrap();
    let sigmoid = |v: f64| 1.0 / (1.0 + (-v).exp());
    let closed = |lambda: f64| -> Vec<f64> {
        let (a2, s2) = (sigmoid(lambda), sigmoid(-lambda));
        let v = a2 * s * s + s2;
        (0..2)
            .map(|i| -(s2 * a2).sqrt() * (x[i] - mu[i]) / v)
            .collect()
    };
    for (&lambda, m) in moments.nodes.iter().zip(&moments.mean_error) {
        for (a, b) in m.iter().zip(closed(lambda)) {
            assert!((a - b).abs() < 1e-10, "λ = {lambda}: {a} vs {b}");
        }
    }
    let w = spec("sigmoid", &[("k", 1.0)]).build().unwrap();
    let exact: Vec<f64> = (0..2)
        .map(|i| {
            -moments
                .nodes
                .iter()
                .zip(&moments.weights)
                .map(|(&l, q)| q * w.w(l) * closed(l)[i])
                .sum::<f64>()
        })
        .collect();
    for (a, b) in moments.bias_gradient(&w).iter().zip(&exact) {
        assert!(rel(*a, *b) < 1e-10, "{a} vs {b}");
    }
}

#[test]
fn estimates_are_reproducible_and_bad_estimator_requests_are_refused() {
    let w = spec("sigmoid", &[("k", 2.0)]);
    let a = report("gaussian", &[0.8, -0.5], &w, 500);
    let b = report("gaussian", &[0.8, -0.5], &w, 500);
    assert_eq!(a, b, "one seed, one result");
    let c =
        api::estimator_report(&preset("gaussian"), &[0.8, -0.5], &w, -10.0, 10.0, 500, 8).unwrap();
    assert_ne!(
        a.rows[0].estimate, c.rows[0].estimate,
        "another seed, other samples"
    );
    let gmm = preset("gaussian");
    let err = api::estimator_report(&gmm, &[0.0, 0.0], &w, -10.0, 10.0, 0, 1).unwrap_err();
    assert!(err.to_string().contains("samples"), "{err}");
    let err = api::estimator_report(&gmm, &[0.0, 0.0, 0.0], &w, -10.0, 10.0, 10, 1).unwrap_err();
    assert!(matches!(err, TheoryError::DimensionMismatch(_)), "{err}");
}

#[test]
fn the_report_from_kept_moments_is_the_report() {
    let gmm = preset("three-blobs");
    let x = [0.2, 0.3];
    let moments = api::loss_moments(&gmm, &x, -10.0, 10.0).unwrap();
    for w in [spec("sigmoid", &[("k", 1.0)]), spec("edm", &[])] {
        let direct = api::estimator_report(&gmm, &x, &w, -10.0, 10.0, 300, 5).unwrap();
        let kept = api::estimator_report_from(&moments, &w, 300, 5).unwrap();
        assert_eq!(direct, kept, "{}", w.name);
    }
}

// Theorem 1 as data augmentation (Sec. 4): weighted loss = E_{p_w}[-log p(z_λ')] + constants.

#[test]
fn the_weighted_loss_is_the_likelihood_of_augmented_data() {
    for (mixture, x, w) in [
        (
            "three-blobs",
            vec![0.2, 0.3],
            spec("sigmoid", &[("k", 2.0)]),
        ),
        ("three-blobs", vec![-1.2, -0.6], spec("v-cosine", &[])),
        ("gaussian", vec![1.5, 0.0], spec("edm-monotonic", &[])),
        (
            "eight-gaussians",
            vec![2.0, 0.0],
            spec("sigmoid", &[("k", -1.0)]),
        ),
    ] {
        let r = api::augmentation_report(&preset(mixture), &x, &w, -10.0, 10.0, 20_000, 3).unwrap();
        // The left side is the area widget's weighted loss (w normalised to w(λ_min) = 1).
        let a = api::area_picture(&preset(mixture), &x, &w, -10.0, 10.0, 1).unwrap();
        let w0 = a.w[0];
        assert!(rel(r.weighted_loss, a.terms.weighted_loss / w0) < 1e-9);
        // Denoising loss (f) and likelihood of augmented data (log-densities): two independent
        // computations of the same number.
        assert!(
            rel(r.weighted_loss, r.right_side) < 1e-6,
            "{mixture} {}: {} vs {}",
            w.name,
            r.weighted_loss,
            r.right_side
        );
        let z = (r.expected_nll_mc - r.expected_nll) / r.expected_nll_se;
        assert!(z.abs() < 4.5, "{mixture} {}: MC off by {z:.2} s.e.", w.name);
        assert!(r.right_side_mc.is_finite());
        assert_eq!(r.lambda_samples.len(), 20_000);
        assert_eq!(r.augmented.len(), 2 * 20_000);
        assert_eq!(r.data.len(), r.augmented_data.len());
        // The share of samples at λ_max matches p_w's point mass.
        let at_max = r.lambda_samples.iter().filter(|&&l| l == 10.0).count() as f64 / 20_000.0;
        let sd = (r.dirac_mass * (1.0 - r.dirac_mass) / 20_000.0).sqrt();
        assert!(
            (at_max - r.dirac_mass).abs() <= 4.5 * sd + 1e-12,
            "{at_max} vs {}",
            r.dirac_mass
        );
    }
}

#[test]
fn sigmoid_weighting_means_logistic_augmentation_noise() {
    // sigmoid(-λ + k) ⇔ λ' ~ Logistic(k, 1) truncated to the range: compare the sample CDF with
    // the logistic CDF, renormalised to [λ_min, λ_max] with the mass above λ_max at λ_max.
    let k = 1.5;
    let r = api::augmentation_report(
        &preset("gaussian"),
        &[0.8, -0.5],
        &spec("sigmoid", &[("k", k)]),
        -10.0,
        10.0,
        20_000,
        11,
    )
    .unwrap();
    let logistic = |l: f64| 1.0 / (1.0 + (-(l - k)).exp());
    let (f0, f1) = (logistic(-10.0), logistic(10.0));
    for q in [-2.0, 0.0, 1.5, 3.0, 5.0] {
        let expected = (logistic(q) - f0) / (1.0 - f0);
        let got = r.lambda_samples.iter().filter(|&&l| l <= q).count() as f64 / 20_000.0;
        assert!(
            (got - expected).abs() < 0.015,
            "P(λ' ≤ {q}) = {got} vs {expected}"
        );
    }
    assert!((r.dirac_mass - (1.0 - f1) / (1.0 - f0)).abs() < 1e-12);
    // The histogram is a density of the continuous part: it integrates to 1 - the point mass.
    let width = r.histogram_lambda[1] - r.histogram_lambda[0];
    let mass: f64 = r.histogram_density.iter().map(|h| h * width).sum();
    let at_max = r.lambda_samples.iter().filter(|&&l| l == 10.0).count() as f64 / 20_000.0;
    assert!((mass + at_max - 1.0).abs() < 1e-9, "{mass} + {at_max}");
    // ... and follows p_w where it is large (bins of 0.4 around the peak at k).
    let peak = r
        .histogram_lambda
        .iter()
        .position(|&l| (l - k).abs() < 0.21)
        .unwrap();
    let p_peak = 0.25 / (1.0 - f0);
    assert!(
        (r.histogram_density[peak] - p_peak).abs() < 0.03,
        "{}",
        r.histogram_density[peak]
    );
}

#[test]
fn a_non_monotone_weighting_is_no_augmentation() {
    let err = api::augmentation_report(
        &preset("gaussian"),
        &[0.0, 0.0],
        &spec("edm", &[]),
        -10.0,
        10.0,
        100,
        1,
    )
    .unwrap_err();
    assert!(err.to_string().contains("not monotone"), "{err}");
}

// App. G, Eq. 138: d/dλ KL = ½σ² D_F, integrated.

#[test]
fn the_kl_rises_by_the_integrated_fisher_divergence() {
    for (mixture, x) in [
        ("three-blobs", vec![0.2, 0.3]),
        ("three-blobs", vec![1.3, -0.4]),
        ("gaussian", vec![2.0, 1.0]),
        ("eight-gaussians", vec![0.0, 0.0]),
    ] {
        let c = api::kl_fisher_curve(&preset(mixture), &x, -10.0, 10.0).unwrap();
        assert!(
            c.max_relative_gap < 1e-6,
            "{mixture} {x:?}: gap {}",
            c.max_relative_gap
        );
        let last = c.kl_rise.len() - 1;
        assert!(c.kl_rise[last] > 0.1, "the KL rises over the range");
        assert!(rel(c.kl_rise[last], c.fisher_integral[last]) < 1e-6);
        // The scores' Fisher divergence and the denoiser's ε-loss give the same slope.
        for (a, b) in c.half_sigma2_fisher.iter().zip(&c.half_eps_loss) {
            assert!((a - b).abs() <= 1e-9 * (1.0 + a.abs()), "{a} vs {b}");
        }
        assert!(c.lambda.windows(2).all(|p| p[1] > p[0]));
    }
}

#[test]
fn the_kl_fisher_gap_detects_a_wrong_slope() {
    // A check that cannot fail is no check: integrating the slope at the wrong scale (σ² → α²)
    // leaves a visible gap, measured with the same tolerance.
    use elbo_lab::theory::numeric::{alpha2, sigma2};
    let c = api::kl_fisher_curve(&preset("three-blobs"), &[0.2, 0.3], -10.0, 10.0).unwrap();
    let mut integral = 0.0;
    let mut worst: f64 = 0.0;
    for i in 1..c.lambda.len() {
        let h = c.lambda[i] - c.lambda[i - 1];
        let wrong = |j: usize| c.half_sigma2_fisher[j] * alpha2(c.lambda[j]) / sigma2(c.lambda[j]);
        integral += 0.5 * h * (wrong(i) + wrong(i - 1));
        worst = worst.max((integral - c.kl_rise[i]).abs());
    }
    assert!(worst / c.kl_rise.last().unwrap() > 1e-2, "{worst}");
}

// App. I, Fig. 5: each added bit carries one bit of information, at higher λ than the last.

#[test]
fn each_added_bit_carries_one_bit_further_right() {
    let range = api::CurveRange {
        lambda_min: -20.0,
        lambda_max: 20.0,
        points: 201,
    };
    let p = api::low_bit_picture(6, &range).unwrap();
    assert_eq!(p.bits, vec![1, 2, 3, 4, 5, 6]);
    for (n, info) in p.bit_information.iter().enumerate() {
        assert!((info - 1.0).abs() < 1e-4, "bit {}: {info} bits", n + 1);
    }
    let peak = |c: &[f64]| {
        p.lambda[c
            .iter()
            .enumerate()
            .fold(0, |best, (i, v)| if *v > c[best] { i } else { best })]
    };
    let peaks: Vec<f64> = p.bit_density.iter().map(|c| peak(c)).collect();
    assert!(peaks.windows(2).all(|w| w[1] > w[0]), "peaks {peaks:?}");
    // The density of bit n is the difference of the dL/dλ curves, in bits.
    let i = 120;
    assert!(
        (p.bit_density[3][i] - (p.dl[3][i] - p.dl[2][i]) / std::f64::consts::LN_2).abs() < 1e-12
    );
    // The 5-bit-like weighting (Eq. 146) is ~1 where the first bits live and ~0 beyond bit 5.
    assert!(p.low_bit_w[0] > 0.999 && *p.low_bit_w.last().unwrap() < 1e-6);
    assert!(api::low_bit_picture(0, &range).is_err());
    assert!(api::low_bit_picture(9, &range).is_err());
}

/// The trainer's histogram for one mixture point, filled with the exact f(λ;x) at the bin
/// centres (what a perfectly trained model's histogram converges to).
fn exact_bins(gmm_json: &str, x: &[f64], lambda_min: f64, lambda_max: f64, n: usize) -> Vec<f64> {
    use elbo_lab::theory::identity::{per_lambda_loss, EpsExpectation};
    let gmm = elbo_lab::theory::Gmm::from_json(gmm_json).unwrap();
    let expectation = EpsExpectation::new(&gmm);
    let width = (lambda_max - lambda_min) / n as f64;
    (0..n)
        .map(|i| per_lambda_loss(&gmm, x, lambda_min + (i as f64 + 0.5) * width, &expectation))
        .collect()
}

fn trained(bins: &[f64], prior: f64) -> api::TrainedLoss {
    api::TrainedLoss {
        lambda_min: -10.0,
        lambda_max: 10.0,
        bins: bins.iter().map(|v| (!v.is_nan()).then_some(*v)).collect(),
        prior,
        dataset: "test".into(),
        weighting: "elbo".into(),
        step: 1,
    }
}

#[test]
fn a_tabulated_loss_of_the_exact_denoiser_reproduces_the_mixture_picture() {
    let gmm = preset("three-blobs");
    let x = [0.2, 0.3];
    let bins = exact_bins(&gmm, &x, -10.0, 10.0, 400);
    let prior = elbo_lab::theory::identity::prior_kl(&x, -10.0);
    for w in [
        spec("elbo", &[]),
        spec("sigmoid", &[("k", 2.0)]),
        spec("edm", &[]),
    ] {
        let exact = api::area_picture(&gmm, &x, &w, -10.0, 10.0, 8).unwrap();
        let table = api::area_picture_from_loss(&trained(&bins, prior), &w, 8).unwrap();
        // Eq. 31 holds for the interpolant as tightly as for the closed form...
        assert!(
            rel(table.lhs, table.rhs) < 1e-6,
            "{}: {} vs {}",
            w.name,
            table.lhs,
            table.rhs
        );
        // ...and 400 bins reproduce the exact areas to the interpolation error, O(h²).
        assert!(
            rel(table.lhs, exact.lhs) < 2e-3,
            "{}: {} vs {}",
            w.name,
            table.lhs,
            exact.lhs
        );
        assert!(
            rel(table.terms.rect_term, exact.terms.rect_term) < 2e-3,
            "{}",
            w.name
        );
        for (a, b) in table.strips.iter().zip(&exact.strips) {
            assert!(
                (a.l_hi - b.l_hi).abs() < 2e-3 * b.l_hi.abs().max(1.0),
                "{}",
                w.name
            );
        }
        assert_eq!(table.monotonic, exact.monotonic);
    }
}

#[test]
fn the_tabulated_curve_grows_at_half_the_loss_and_fills_unsampled_bins() {
    // f = 2 everywhere: L(λ) = prior + (λ - λ_min), so L(λ_max) = prior + 20.
    let mut bins = vec![2.0; 50];
    bins[10] = f64::NAN;
    bins[11] = f64::NAN;
    let w = spec("elbo", &[]);
    let a = api::area_picture_from_loss(&trained(&bins, 0.5), &w, 4).unwrap();
    assert!(
        (a.terms.rect_term - 20.5).abs() < 1e-9,
        "{}",
        a.terms.rect_term
    );
    assert!((a.terms.weighted_loss - 20.0).abs() < 1e-9);
    assert!(
        (a.strips[2].l_hi - 15.5).abs() < 1e-9,
        "{}",
        a.strips[2].l_hi
    );
    // A linear f integrates exactly, wherever the strip edges fall.
    let ramp: Vec<f64> = (0..50).map(|i| i as f64 * 0.1).collect();
    let a = api::area_picture_from_loss(&trained(&ramp, 0.0), &w, 3).unwrap();
    let l = elbo_lab::theory::area::TabulatedLoss::new(-10.0, 10.0, &ramp, 0.0).unwrap();
    let h = 20.0 / 50.0;
    // f(λ) = 0.1·(λ - λ_min - h/2)/h between the outer centres: check one point by hand.
    let at: f64 = 1.0;
    let centre0 = -10.0 + h / 2.0;
    let by_hand = 0.25 * (0.1 / h) * (at - centre0).powi(2);
    assert!(
        (l.l_at(at) - by_hand).abs() < 1e-12,
        "{} vs {by_hand}",
        l.l_at(at)
    );
    assert!(rel(a.lhs, a.rhs) < 1e-9);
}

#[test]
fn a_tabulated_loss_refuses_what_no_training_run_produces() {
    let w = spec("elbo", &[]);
    let mut sparse = vec![f64::NAN; 50];
    sparse[3] = 1.0;
    let err = api::area_picture_from_loss(&trained(&sparse, 0.1), &w, 4).unwrap_err();
    assert!(err.to_string().contains("train a few more steps"), "{err}");
    let err =
        api::area_picture_from_loss(&trained(&[1.0, -1.0, 1.0, 1.0], 0.1), &w, 4).unwrap_err();
    assert!(err.to_string().contains("non-negative"), "{err}");
    let err = api::area_picture_from_loss(&trained(&[1.0; 8], f64::NAN), &w, 4).unwrap_err();
    assert!(err.to_string().contains("prior"), "{err}");
    let err = api::area_picture_from_loss(&trained(&[1.0; 2], 0.1), &w, 4).unwrap_err();
    assert!(err.to_string().contains("at least"), "{err}");
    let err = api::area_picture_from_loss(&trained(&[1.0; 8], 0.1), &w, 0).unwrap_err();
    assert!(err.to_string().contains("strips"), "{err}");
}

#[test]
fn the_mean_prior_of_standardised_data_is_half_d_softplus_lambda_min() {
    // Unit second moment per coordinate: E‖x‖² = d, so Eq. 29's KL averages to (d/2)·softplus(λ_min).
    let points = [[1.0, -1.0], [-1.0, 1.0], [1.0, 1.0], [-1.0, -1.0]];
    let expected = elbo_lab::theory::numeric::softplus(-10.0);
    assert!((api::TrainedLoss::mean_prior(&points, -10.0) - expected).abs() < 1e-15);
}
