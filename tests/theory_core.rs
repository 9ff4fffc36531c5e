//! Numerics, schedules (Table 4), weightings (Table 1) and parameterisations (App. D/E.2) checked
//! against closed forms, finite differences and each other.

use std::collections::BTreeMap;

use elbo_lab::theory::numeric::*;
use elbo_lab::theory::param::{Target, Vp, TARGET_NAMES};
use elbo_lab::theory::quadrature::{
    gauss_hermite, gauss_legendre, gaussian_panels, integrate_adaptive, CompositeRule,
};
use elbo_lab::theory::schedule::{Schedule, ScheduleKind, SCHEDULE_NAMES};
use elbo_lab::theory::weighting::{
    edm_peak, implied_log_weighting, weighting_catalog, LossMultiplier, Weighting, WEIGHTING_NAMES,
};
use elbo_lab::theory::TheoryError;

fn no_params() -> BTreeMap<String, f64> {
    BTreeMap::new()
}

fn params(items: &[(&str, f64)]) -> BTreeMap<String, f64> {
    items.iter().map(|(k, v)| (k.to_string(), *v)).collect()
}

fn close(a: f64, b: f64, rel: f64, abs: f64) -> bool {
    (a - b).abs() <= abs + rel * a.abs().max(b.abs())
}

/// Deterministic uniform numbers for the tests (SplitMix64).
struct Rng(u64);
impl Rng {
    fn uniform(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^= z >> 31;
        (z >> 11) as f64 / (1u64 << 53) as f64
    }
    fn normal(&mut self) -> f64 {
        normal_ppf(self.uniform().clamp(1e-12, 1.0 - 1e-12))
    }
}

// ---------------------------------------------------------------------------------------------
// numeric

#[test]
fn logistic_helpers_are_stable_and_consistent() {
    for &x in &[
        -800.0, -40.0, -20.0, -1.0, 0.0, 1e-12, 1.0, 20.0, 40.0, 800.0,
    ] {
        let (s, sm) = (sigmoid(x), sigmoid(-x));
        assert!(s.is_finite() && (0.0..=1.0).contains(&s));
        assert!(close(s + sm, 1.0, 1e-15, 0.0), "x={x}");
        assert!(softplus(x).is_finite() && softplus(x) >= 0.0);
        assert!(close(softplus(x) - softplus(-x), x, 1e-15, 1e-15), "x={x}");
        assert!(close(log_sigmoid(x), -softplus(-x), 1e-15, 0.0));
        assert!(close(alpha2(x) + sigma2(x), 1.0, 1e-15, 0.0));
        // ln(sigma2) loses digits when σ² ≈ 1; the comparison allows that absolute rounding.
        assert!(close(log_sigma2(x), sigma2(x).ln(), 1e-12, 1e-15) || sigma2(x) == 0.0);
    }
    assert!(close(softplus(1e-10), (1e-10f64).exp().ln_1p(), 1e-15, 0.0));
    assert_eq!(softplus(800.0), 800.0);
    assert!(close(sech(3.0), 1.0 / 3f64.cosh(), 1e-15, 0.0));
    assert!(sech(1000.0) >= 0.0 && log_sech(1000.0).is_finite());
    assert!(close(
        logsumexp(&[1.0, 2.0, 3.0]),
        (1f64.exp() + 2f64.exp() + 3f64.exp()).ln(),
        1e-15,
        0.0
    ));
    assert_eq!(logsumexp(&[]), f64::NEG_INFINITY);
    assert_eq!(logsumexp(&[f64::NEG_INFINITY, 0.0]), 0.0);
    assert!(close(
        logaddexp(1000.0, 1000.0),
        1000.0 + std::f64::consts::LN_2,
        1e-15,
        0.0
    ));
    assert!(close(logit(sigmoid(3.7)), 3.7, 1e-13, 0.0));
}

#[test]
fn normal_cdf_and_quantile_are_accurate_into_the_far_tails() {
    // Reference values (Φ(-1) = 0.158655..., Φ(-10) = 7.61985e-24, Φ(-37.5) ≈ 4.605e-308).
    assert!(close(
        normal_cdf(-1.0),
        0.158_655_253_931_457_05,
        1e-15,
        0.0
    ));
    assert!(close(
        normal_cdf(-10.0),
        7.619_853_024_160_527e-24,
        1e-13,
        0.0
    ));
    assert!(close(normal_cdf(0.0), 0.5, 1e-16, 0.0));
    assert!(close(normal_sf(8.0), normal_cdf(-8.0), 1e-16, 0.0));
    // log Φ is continuous where it switches to the asymptotic series.
    for &x in &[-36.9, -37.0, -37.1] {
        let a = normal_log_cdf(x);
        let b = normal_log_cdf(x + 1e-7);
        assert!((a - b).abs() < 1e-5, "x={x}");
    }
    assert!(close(
        normal_log_cdf(-37.0),
        normal_cdf(-37.0).ln(),
        1e-13,
        0.0
    ));
    assert!(normal_log_cdf(-1e4).is_finite());
    assert!(close(
        normal_log_cdf(5.0),
        (-normal_sf(5.0)).ln_1p(),
        1e-15,
        0.0
    ));
    // Φ(Φ⁻¹(p)) = p from 1e-300 to 1/2, and the upper tail through normal_isf.
    // Φ's relative condition number is about x² in the tail, so rounding x alone costs ~x²·ulp.
    let mut p = 1e-300;
    while p < 0.5 {
        let x = normal_ppf(p);
        let tol = 4e-16 * (4.0 + x * x);
        assert!(
            close(normal_cdf(x), p, tol, 0.0),
            "p={p}: Φ(Φ⁻¹(p)) = {}",
            normal_cdf(x)
        );
        assert!(close(normal_sf(normal_isf(p)), p, tol, 0.0), "isf p={p}");
        p *= 3.7;
    }
    for &p in &[0.5, 0.6, 0.9, 0.999, 1.0 - 1e-12] {
        assert!(close(normal_cdf(normal_ppf(p)), p, 1e-14, 0.0), "p={p}");
    }
    assert!(close(normal_ppf(0.975), 1.959_963_984_540_054, 1e-14, 0.0));
    assert_eq!(normal_ppf(0.0), f64::NEG_INFINITY);
    assert_eq!(normal_ppf(1.0), f64::INFINITY);
    assert!(normal_ppf(1.5).is_nan() && normal_ppf(f64::NAN).is_nan());
}

#[test]
fn quadrature_rules_are_exact_where_they_should_be() {
    for n in [1usize, 2, 5, 10, 20, 64] {
        let rule = gauss_legendre(n);
        assert!(
            close(rule.weights.iter().sum::<f64>(), 2.0, 1e-14, 0.0),
            "n={n}"
        );
        // Exact for x^k, k ≤ 2n-1.
        for k in 0..(2 * n) {
            let exact = if k % 2 == 1 {
                0.0
            } else {
                2.0 / (k as f64 + 1.0)
            };
            let got = rule.integrate(|x| x.powi(k as i32));
            assert!(
                close(got, exact, 1e-13, 1e-14),
                "n={n} k={k}: {got} vs {exact}"
            );
        }
    }
    for n in [1usize, 4, 10, 32, 80] {
        let rule = gauss_hermite(n);
        assert!(
            close(rule.weights.iter().sum::<f64>(), 1.0, 1e-13, 0.0),
            "n={n}"
        );
        // E[ε^{2k}] = (2k-1)!! for 2k ≤ 2n-1.
        let mut double_factorial = 1.0;
        for k in 0..n.min(8) {
            if k > 0 {
                double_factorial *= (2 * k - 1) as f64;
            }
            let got = rule.integrate(|x| x.powi(2 * k as i32));
            assert!(
                close(got, double_factorial, 1e-10, 0.0),
                "n={n} k={k}: {got}"
            );
        }
        assert!(rule.nodes.windows(2).all(|p| p[0] < p[1]));
    }
    let panels = gaussian_panels(9.0, 20, 8);
    assert!(close(panels.weights.iter().sum::<f64>(), 1.0, 1e-13, 0.0));
    assert!(close(panels.integrate(|e| e.powi(4)), 3.0, 1e-12, 0.0));

    let est = integrate_adaptive(f64::sin, 0.0, std::f64::consts::PI, 1e-13, 1e-13, 200).unwrap();
    assert!(close(est.value, 2.0, 1e-13, 0.0));
    let est = integrate_adaptive(f64::sqrt, 0.0, 1.0, 1e-12, 1e-12, 500).unwrap();
    assert!(close(est.value, 2.0 / 3.0, 1e-11, 0.0));
    assert!(integrate_adaptive(|x| 1.0 / x, -1.0, 1.0, 1e-12, 1e-12, 50).is_err());

    // Running integrals of the per-panel interpolant: ∫_0^x cos = sin x at every node (the
    // interpolant is degree 9, so interior nodes are less exact than the full-panel rule).
    let rule = CompositeRule::new(0.0, 7.0, &[1.3], 2.0, 10).unwrap();
    let values: Vec<f64> = rule.nodes.iter().map(|x| x.cos()).collect();
    let (running, total) = rule.running_integral(&values);
    for (x, r) in rule.nodes.iter().zip(&running) {
        assert!(
            close(*r, x.sin(), 1e-10, 1e-10),
            "x={x}: {r} vs {}",
            x.sin()
        );
    }
    assert!(close(total, 7f64.sin(), 1e-12, 1e-12));
    assert!(rule.panel_edges.contains(&1.3));
    assert!(CompositeRule::new(1.0, 1.0, &[], 1.0, 4).is_err());
}

// ---------------------------------------------------------------------------------------------
// schedules

fn all_schedule_kinds() -> Vec<ScheduleKind> {
    let mut kinds: Vec<ScheduleKind> = SCHEDULE_NAMES
        .iter()
        .map(|n| ScheduleKind::from_name(n, &no_params()).unwrap())
        .collect();
    kinds.push(ScheduleKind::ShiftedCosine { resolution: 512.0 });
    kinds.push(ScheduleKind::ShiftedCosine { resolution: 32.0 });
    kinds.push(ScheduleKind::Linear {
        beta_min: 0.0,
        beta_max: 5.0,
    });
    kinds.push(ScheduleKind::EdmTrain {
        mean: -1.0,
        std: 0.7,
    });
    kinds
}

const RANGES: [(f64, f64); 4] = [(-20.0, 20.0), (-10.0, 10.0), (-3.0, 12.0), (-15.0, -5.0)];

#[test]
fn schedules_round_trip_between_t_and_lambda() {
    for kind in all_schedule_kinds() {
        for (lo, hi) in RANGES {
            let s = Schedule::new(kind, lo, hi).unwrap();
            assert_eq!(s.lambda(0.0), hi, "{kind:?}");
            assert_eq!(s.lambda(1.0), lo, "{kind:?}");
            for i in 0..=200 {
                let t = i as f64 / 200.0;
                let lambda = s.lambda(t);
                assert!(lambda.is_finite() && (lo..=hi).contains(&lambda));
                let back = s.t_of_lambda(lambda);
                assert!(
                    (back - t).abs() < 1e-11,
                    "{kind:?} [{lo},{hi}] t={t}: λ={lambda}, t(λ)={back}"
                );
            }
            for i in 0..=100 {
                let lambda = lo + (hi - lo) * i as f64 / 100.0;
                // t carries an absolute rounding of ~1e-16, i.e. ~1e-16/p(λ) in λ: skip where
                // that exceeds the tolerance (EDM training's far left tail).
                if s.p_lambda(lambda) < 1e-6 {
                    continue;
                }
                let again = s.lambda(s.t_of_lambda(lambda));
                assert!(
                    close(again, lambda, 1e-9, 1e-9),
                    "{kind:?} λ={lambda}: {again}"
                );
            }
            // λ decreases in t.
            let lams: Vec<f64> = (0..=50).map(|i| s.lambda(i as f64 / 50.0)).collect();
            assert!(lams.windows(2).all(|p| p[1] < p[0]), "{kind:?}");
        }
    }
}

#[test]
fn truncated_densities_integrate_to_one_and_equal_minus_dt_dlambda() {
    for kind in all_schedule_kinds() {
        for (lo, hi) in RANGES {
            let s = Schedule::new(kind, lo, hi).unwrap();
            let mass = integrate_adaptive(|l| s.p_lambda(l), lo, hi, 1e-12, 1e-12, 2000).unwrap();
            assert!(
                close(mass.value, 1.0, 1e-10, 0.0),
                "{kind:?} [{lo},{hi}]: ∫p = {}",
                mass.value
            );
            assert_eq!(s.p_lambda(lo - 0.1), 0.0);
            assert_eq!(s.p_lambda(hi + 0.1), 0.0);
            for i in 1..40 {
                let lambda = lo + (hi - lo) * i as f64 / 40.0;
                let h = 1e-5;
                let fd = -(s.t_of_lambda(lambda + h) - s.t_of_lambda(lambda - h)) / (2.0 * h);
                // t's absolute rounding (1e-16) over h bounds the difference quotient's noise.
                assert!(
                    close(fd, s.p_lambda(lambda), 1e-6, 3e-11),
                    "{kind:?} λ={lambda}: {fd} vs {}",
                    s.p_lambda(lambda)
                );
                let t = s.t_of_lambda(lambda);
                assert!(close(
                    s.dlambda_dt(t),
                    -1.0 / s.p_lambda(s.lambda(t)),
                    1e-12,
                    0.0
                ));
            }
        }
    }
}

#[test]
fn untruncated_densities_match_table_4() {
    use std::f64::consts::PI;
    let s128 = (64.0f64 / 128.0).ln();
    let (rho, smin, smax) = (7.0f64, 0.002f64, 80.0f64);
    let (a, b) = (smax.powf(1.0 / rho), smin.powf(1.0 / rho));
    for i in 0..=80 {
        let l = -20.0 + i as f64 * 0.5;
        let table: [(ScheduleKind, f64); 6] = [
            (ScheduleKind::Cosine, 1.0 / (0.5 * l).cosh() / (2.0 * PI)),
            (
                ScheduleKind::ShiftedCosine { resolution: 128.0 },
                1.0 / (0.5 * l - s128).cosh() / (2.0 * PI),
            ),
            (
                ScheduleKind::EdmTrain {
                    mean: 2.4,
                    std: 2.4,
                },
                (-(l - 2.4f64).powi(2) / (2.0 * 5.76)).exp() / (2.4 * (2.0 * PI).sqrt()),
            ),
            (
                ScheduleKind::EdmSample {
                    rho,
                    sigma_min: smin,
                    sigma_max: smax,
                },
                (-l / (2.0 * rho)).exp() / (2.0 * rho * (a - b)),
            ),
            (ScheduleKind::FmOt, 1.0 / (0.25 * l).cosh().powi(2) / 8.0),
            (
                ScheduleKind::Linear {
                    beta_min: 0.1,
                    beta_max: 20.0,
                },
                (1.0 / (1.0 + l.exp())) / (0.01 + 2.0 * 19.9 * (1.0 + (-l).exp()).ln()).sqrt(),
            ),
        ];
        for (kind, p) in table {
            assert!(
                close(kind.log_p_raw(l).exp(), p, 1e-12, 0.0),
                "{kind:?} λ={l}"
            );
        }
        // Table 4's λ(t) columns (cosine, FM-OT, EDM sampling) at the untruncated t(λ).
        let (t, tc) = ScheduleKind::Cosine.t_raw(l);
        assert!(close(-2.0 * (PI * t / 2.0).tan().ln(), l, 1e-9, 1e-9) || t < 1e-8);
        assert!(close(t + tc, 1.0, 1e-15, 0.0));
        let (t, _) = ScheduleKind::FmOt.t_raw(l);
        assert!(close(2.0 * ((1.0 - t) / t).ln(), l, 1e-9, 1e-9) || t < 1e-8);
        let k = ScheduleKind::EdmSample {
            rho,
            sigma_min: smin,
            sigma_max: smax,
        };
        let (t, _) = k.t_raw(l);
        let table_lambda = -2.0 * rho * (a + (1.0 - t) * (b - a)).ln();
        assert!(close(table_lambda, l, 1e-12, 1e-12));
    }
    // EDM sampling's natural range: t = 0 at λ = -2 log σ_min, t = 1 at λ = -2 log σ_max.
    let k = ScheduleKind::EdmSample {
        rho,
        sigma_min: smin,
        sigma_max: smax,
    };
    assert!(k.t_raw(-2.0 * smin.ln()).0.abs() < 1e-14);
    assert!((k.t_raw(-2.0 * smax.ln()).0 - 1.0).abs() < 1e-14);
}

#[test]
fn paper_typos_in_table_4_are_corrected() {
    // EDM (training): the table's t(λ) = Φ(-λ; 2.4, 2.4²) has density N(λ; -2.4, 2.4²), not the
    // N(λ; 2.4, 2.4²) of its own p column; ours is consistent with p.
    let table_t = |l: f64| normal_cdf((-l - 2.4) / 2.4);
    let l = 3.0;
    let h = 1e-5;
    let table_density = -(table_t(l + h) - table_t(l - h)) / (2.0 * h);
    let p = ScheduleKind::EdmTrain {
        mean: 2.4,
        std: 2.4,
    }
    .log_p_raw(l)
    .exp();
    assert!(
        (table_density - p).abs() > 0.05 * p,
        "the table's t column would match p"
    );
    // Shifted cosine: the table's t(λ) = (2/π)arctan(e^{-λ/2 - s}) does not invert its λ(t).
    let s = (64.0f64 / 128.0).ln();
    let kind = ScheduleKind::ShiftedCosine { resolution: 128.0 };
    let t = 0.3;
    let lambda = kind.lambda_raw(t, 1.0 - t);
    let table = 2.0 / std::f64::consts::PI * (-lambda / 2.0 - s).exp().atan();
    assert!((table - t).abs() > 0.05);
    assert!((kind.t_raw(lambda).0 - t).abs() < 1e-14);
}

#[test]
fn truncation_beyond_the_natural_range_extends_the_formulas() {
    let linear = Schedule::from_name("linear", &no_params(), -20.0, 20.0).unwrap();
    let (t0, t1) = linear.truncation_times();
    assert!(t0 > 0.0 && t0 < 1e-3, "t0 = {t0}");
    assert!(
        t1 > 1.0,
        "the VP linear schedule stops near λ = -10.1, so t1 = {t1} > 1"
    );
    let edm = Schedule::from_name("edm-sample", &no_params(), -20.0, 20.0).unwrap();
    let (t0, t1) = edm.truncation_times();
    assert!(
        t0 < 0.0 && t1 > 1.0,
        "EDM sampling covers [-8.76, 12.43]: t0 = {t0}, t1 = {t1}"
    );
    // A range far in a tail where the mass underflows is refused.
    let err = Schedule::from_name("edm-train", &no_params(), 300.0, 301.0).unwrap_err();
    assert!(err.to_string().contains("no mass"), "{err}");
}

#[test]
fn schedule_inputs_are_validated_with_helpful_messages() {
    let err = Schedule::from_name("cosine", &no_params(), 5.0, 5.0).unwrap_err();
    assert!(matches!(err, TheoryError::InvalidRange(_)), "{err}");
    assert!(Schedule::from_name("cosine", &no_params(), f64::NAN, 5.0).is_err());
    assert!(Schedule::from_name("cosine", &no_params(), 1.0, f64::INFINITY).is_err());
    let err = Schedule::from_name("cosinus", &no_params(), -1.0, 1.0).unwrap_err();
    let text = err.to_string();
    for name in SCHEDULE_NAMES {
        assert!(text.contains(name), "{text}");
    }
    let err =
        Schedule::from_name("shifted-cosine", &params(&[("res", 64.0)]), -1.0, 1.0).unwrap_err();
    assert!(err.to_string().contains("resolution"), "{err}");
    let err =
        Schedule::from_name("cosine", &params(&[("resolution", 64.0)]), -1.0, 1.0).unwrap_err();
    assert!(err.to_string().contains("takes no parameters"), "{err}");
    assert!(Schedule::from_name(
        "shifted-cosine",
        &params(&[("resolution", -3.0)]),
        -1.0,
        1.0
    )
    .is_err());
    assert!(Schedule::from_name("edm-sample", &params(&[("sigma_min", 90.0)]), -1.0, 1.0).is_err());
    assert!(Schedule::from_name("linear", &params(&[("beta_max", 0.01)]), -1.0, 1.0).is_err());
    // The default shifted cosine is d = 128: s = log(1/2).
    let k = ScheduleKind::from_name("shifted-cosine", &no_params()).unwrap();
    assert_eq!(k, ScheduleKind::ShiftedCosine { resolution: 128.0 });
}

// ---------------------------------------------------------------------------------------------
// weightings

fn builtin_weightings() -> Vec<Weighting> {
    let mut out: Vec<Weighting> = WEIGHTING_NAMES
        .iter()
        .filter(|&&n| n != "expr")
        .map(|n| Weighting::new(n, &no_params(), None).unwrap())
        .collect();
    out.push(Weighting::new("p2", &params(&[("gamma", 0.5)]), None).unwrap());
    out.push(Weighting::new("p2", &params(&[("gamma", 1.0), ("k", 0.0)]), None).unwrap());
    out.push(Weighting::new("min-snr", &params(&[("gamma", 1.0)]), None).unwrap());
    out.push(Weighting::new("sigmoid", &params(&[("k", -3.0)]), None).unwrap());
    out.push(
        Weighting::new(
            "expr",
            &no_params(),
            Some("sigmoid(-lambda + 1) * (1 + 0.1*tanh(l))"),
        )
        .unwrap(),
    );
    out
}

#[test]
fn weightings_match_table_1_closed_forms() {
    let edm_n = |l: f64| {
        (-(l - 2.4f64).powi(2) / (2.0 * 5.76)).exp() / (2.4 * (2.0 * std::f64::consts::PI).sqrt())
    };
    let peak = edm_peak();
    for i in 0..=40 {
        let l = -20.0 + i as f64;
        let expected: [(&str, BTreeMap<String, f64>, f64); 11] = [
            ("elbo", no_params(), 1.0),
            ("iddpm", no_params(), 1.0 / (l / 2.0).cosh()),
            ("edm", no_params(), edm_n(l) * ((-l).exp() + 0.25)),
            ("v-cosine", no_params(), (-l / 2.0).exp()),
            ("fm-ot", no_params(), (-l / 2.0).exp()),
            ("indi", no_params(), (-l).exp() / (l / 4.0).cosh().powi(2)),
            (
                "p2",
                params(&[("gamma", 0.5)]),
                1.0 / (l / 2.0).cosh() / (1.0 + l.exp()).powf(0.5),
            ),
            (
                "min-snr",
                no_params(),
                1.0 / (l / 2.0).cosh() * (5.0 * (-l).exp()).min(1.0),
            ),
            ("sigmoid", no_params(), 1.0 / (1.0 + (l - 2.0).exp())),
            (
                "edm-monotonic",
                no_params(),
                if l < peak {
                    edm_n(peak) * ((-peak).exp() + 0.25)
                } else {
                    edm_n(l) * ((-l).exp() + 0.25)
                },
            ),
            ("low-bit", no_params(), normal_cdf(-2.0 * (l - 8.4))),
        ];
        for (name, p, want) in expected {
            let w = Weighting::new(name, &p, None).unwrap().w(l);
            assert!(close(w, want, 1e-12, 1e-300), "{name} λ={l}: {w} vs {want}");
        }
    }
}

#[test]
fn weighting_derivatives_match_finite_differences() {
    for w in builtin_weightings() {
        let corners = w.breakpoints();
        for i in 0..=160 {
            let l = -20.0 + 0.25 * i as f64 + 0.0123;
            if corners.iter().any(|c| (c - l).abs() < 1e-3) {
                continue;
            }
            // Five-point stencil: steep weightings (low-bit) need fourth-order accuracy.
            let h = 1e-4;
            let fd = (8.0 * (w.w(l + h) - w.w(l - h)) - (w.w(l + 2.0 * h) - w.w(l - 2.0 * h)))
                / (12.0 * h);
            let d = w.dw(l);
            let scale = w.w(l).abs() + d.abs();
            assert!(
                (fd - d).abs() <= 1e-6 * scale + 1e-300,
                "{} λ={l}: {d} vs fd {fd}",
                w.name()
            );
        }
    }
}

#[test]
fn monotonicity_is_computed_and_matches_table_1() {
    let monotone = [
        "elbo",
        "v-cosine",
        "fm-ot",
        "indi",
        "sigmoid",
        "edm-monotonic",
        "low-bit",
    ];
    let not = ["iddpm", "edm", "p2", "min-snr"];
    for name in monotone {
        assert!(
            Weighting::new(name, &no_params(), None)
                .unwrap()
                .is_monotonic(-20.0, 20.0),
            "{name}"
        );
    }
    for name in not {
        assert!(
            !Weighting::new(name, &no_params(), None)
                .unwrap()
                .is_monotonic(-20.0, 20.0),
            "{name}"
        );
    }
    for info in weighting_catalog() {
        if info.name == "expr" {
            assert_eq!(info.monotonic, None);
        } else {
            assert_eq!(
                info.monotonic,
                Some(monotone.contains(&info.name.as_str())),
                "{}",
                info.name
            );
        }
        assert!(!info.latex.is_empty() && !info.label.is_empty() && !info.source.is_empty());
    }
    // IDDPM is monotone on λ ≥ 0 only; the decision depends on the range.
    assert!(Weighting::new("iddpm", &no_params(), None)
        .unwrap()
        .is_monotonic(0.0, 20.0));
}

#[test]
fn edm_monotonic_is_flat_left_of_the_edm_peak() {
    let peak = edm_peak();
    assert!((-3.4..-3.2).contains(&peak), "peak {peak}");
    let edm = Weighting::new("edm", &no_params(), None).unwrap();
    let mono = Weighting::new("edm-monotonic", &no_params(), None).unwrap();
    // The peak is the maximum: the log-derivative changes sign there and nowhere else.
    assert!(edm.dlog_w(peak - 1e-9) > 0.0 && edm.dlog_w(peak + 1e-9) < 0.0);
    let top = edm.w(peak);
    for i in 0..=4000 {
        let l = -20.0 + 0.01 * i as f64;
        assert!(edm.w(l) <= top * (1.0 + 1e-14));
        assert!(
            (edm.dlog_w(l) > 0.0) == (l < peak) || (l - peak).abs() < 1e-9,
            "λ={l}"
        );
        if l < peak {
            assert_eq!(mono.w(l), top);
            assert_eq!(mono.dw(l), 0.0);
        } else {
            assert_eq!(mono.w(l), edm.w(l));
        }
    }
    assert_eq!(mono.breakpoints(), vec![peak]);
}

#[test]
fn p_w_is_a_distribution_with_a_dirac_mass_at_t0() {
    let schedule = Schedule::from_name("cosine", &no_params(), -20.0, 20.0).unwrap();
    for name in [
        "elbo",
        "v-cosine",
        "sigmoid",
        "edm-monotonic",
        "low-bit",
        "indi",
    ] {
        let w = Weighting::new(name, &no_params(), None).unwrap();
        // ∫_0^1 p_w(t) dt, split at the corner of edm-monotonic.
        let mut cuts = vec![0.0];
        cuts.extend(w.breakpoints().iter().map(|&l| schedule.t_of_lambda(l)));
        cuts.push(1.0);
        let mut mass = 0.0;
        for pair in cuts.windows(2) {
            mass += integrate_adaptive(
                |t| w.p_w(&schedule, t),
                pair[0],
                pair[1],
                1e-11,
                1e-11,
                4000,
            )
            .unwrap()
            .value;
        }
        let dirac = w.dirac_mass(-20.0, 20.0);
        assert!(
            close(mass + dirac, 1.0, 1e-8, 0.0),
            "{name}: ∫p_w = {mass}, mass at 0 = {dirac}"
        );
        for i in 0..=20 {
            assert!(w.p_w(&schedule, i as f64 / 20.0) >= -1e-15, "{name}");
        }
    }
}

#[test]
fn user_expressions_parse_evaluate_and_differentiate() {
    let edm = Weighting::new("edm", &no_params(), None).unwrap();
    let expr = Weighting::new(
        "expr",
        &no_params(),
        Some("normpdf(lambda, 2.4, 2.4) * (exp(-lambda) + 0.5^2)"),
    )
    .unwrap();
    for i in 0..=40 {
        let l = -20.0 + i as f64;
        assert!(close(expr.w(l), edm.w(l), 1e-13, 0.0), "λ={l}");
        assert!(close(expr.dw(l), edm.dw(l), 1e-10, 1e-300), "λ={l}");
    }
    let cases: [(&str, f64, f64); 12] = [
        ("-l^2", 3.0, -9.0),
        ("2^-l", 2.0, 0.25),
        ("2^3^2", 0.0, 512.0),
        ("(1 + 2) * 3 - 4 / 8", 0.0, 8.5),
        ("min(l, 3) + max(l, 3)", 5.0, 8.0),
        ("abs(-l) + sqrt(4)", 2.0, 4.0),
        ("sigmoid(0) + softplus(0) - log(2)", 0.0, 0.5),
        ("sech(0) + cosh(0) + tanh(0) + sinh(0)", 0.0, 2.0),
        ("normcdf(0) + normpdf(0)*sqrt(2*pi)", 0.0, 1.5),
        ("e^lambda", 1.0, std::f64::consts::E),
        ("1.5e2 + 2E-1 + .5", 0.0, 150.7),
        ("lambda*lambda - l", 4.0, 12.0),
    ];
    for (text, l, want) in cases {
        let w = Weighting::new("expr", &no_params(), Some(text)).unwrap();
        assert!(close(w.w(l), want, 1e-14, 1e-14), "{text}: {}", w.w(l));
    }
    // Derivatives against finite differences, composite expression.
    let w = Weighting::new(
        "expr",
        &no_params(),
        Some("exp(-l/3) * sigmoid(2 - l)^1.5 / (1 + l^2) + l^l/1e9"),
    )
    .unwrap();
    for &l in &[0.3, 1.0, 2.5, 7.0] {
        let h = 1e-6;
        let fd = (w.w(l + h) - w.w(l - h)) / (2.0 * h);
        assert!(
            close(w.dw(l), fd, 1e-7, 1e-12),
            "λ={l}: {} vs {fd}",
            w.dw(l)
        );
    }
}

#[test]
fn bad_expressions_get_positioned_messages() {
    let err = |text: &str| {
        Weighting::new("expr", &no_params(), Some(text))
            .unwrap_err()
            .to_string()
    };
    let e = err("1 + * 2");
    assert!(
        e.contains("column 5") && e.contains("expected a number"),
        "{e}"
    );
    let e = err("exp(l");
    assert!(
        e.contains("`,` or `)`") && e.contains("end of the expression"),
        "{e}"
    );
    let e = err("foo(l)");
    assert!(
        e.contains("unknown name `foo`") && e.contains("sigmoid") && e.contains("lambda"),
        "{e}"
    );
    let e = err("min(l)");
    assert!(e.contains("takes 2 argument"), "{e}");
    let e = err("l $ 2");
    assert!(
        e.contains("unexpected character `$`") && e.contains("column 3"),
        "{e}"
    );
    let e = err("2 l");
    assert!(e.contains("column 3") && e.contains("operator"), "{e}");
    let e = err("   ");
    assert!(e.contains("empty"), "{e}");
    let e = err("exp");
    assert!(e.contains("`(` after the function `exp`"), "{e}");
    let deep = format!("{}l{}", "(".repeat(200), ")".repeat(200));
    assert!(err(&deep).contains("nests deeper"));
    assert!(err(&"-".repeat(500)).contains("nests deeper"));
    assert!(err(&"l+".repeat(1500)).contains("longer than"));
    let e = Weighting::new("expr", &no_params(), None)
        .unwrap_err()
        .to_string();
    assert!(e.contains("needs an expression"), "{e}");
    let e = Weighting::new("sigmoid", &no_params(), Some("l"))
        .unwrap_err()
        .to_string();
    assert!(e.contains("only used with the weighting `expr`"), "{e}");
    // Negative or non-finite somewhere on the grid: refused with the λ.
    let w = Weighting::new("expr", &no_params(), Some("1 - l/10")).unwrap();
    let e = w.validate_on(-20.0, 20.0, 401).unwrap_err().to_string();
    assert!(e.contains("negative") && e.contains("λ = "), "{e}");
    let w = Weighting::new("expr", &no_params(), Some("exp(-l*40)")).unwrap();
    assert!(w
        .validate_on(-20.0, 20.0, 401)
        .unwrap_err()
        .to_string()
        .contains("not finite"));
    let w = Weighting::new("expr", &no_params(), Some("log(l)")).unwrap();
    assert!(w.validate_on(-20.0, 20.0, 401).is_err());
}

#[test]
fn weighting_names_and_params_are_validated() {
    let e = Weighting::new("snr", &no_params(), None)
        .unwrap_err()
        .to_string();
    for name in WEIGHTING_NAMES {
        assert!(e.contains(name), "{e}");
    }
    let e = Weighting::new("min-snr", &params(&[("k", 1.0)]), None)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("unknown parameter `k`") && e.contains("gamma"),
        "{e}"
    );
    let e = Weighting::new("elbo", &params(&[("gamma", 1.0)]), None)
        .unwrap_err()
        .to_string();
    assert!(e.contains("takes no parameters"), "{e}");
    assert!(Weighting::new("min-snr", &params(&[("gamma", 0.0)]), None).is_err());
    assert!(Weighting::new("p2", &params(&[("gamma", -1.0)]), None).is_err());
    assert!(Weighting::new("sigmoid", &params(&[("k", f64::NAN)]), None).is_err());
}

// ---------------------------------------------------------------------------------------------
// parameterisations and implied weightings

fn all_targets() -> Vec<Target> {
    let mut t: Vec<Target> = TARGET_NAMES
        .iter()
        .map(|n| Target::from_name(n, &no_params()).unwrap())
        .collect();
    t.push(Target::F { sigma_data: 1.3 });
    t
}

#[test]
fn conversions_round_trip() {
    let mut rng = Rng(7);
    for target in all_targets() {
        for i in 0..=40 {
            let lambda = -20.0 + i as f64;
            let vp = Vp::new(lambda);
            for _ in 0..5 {
                let (x, eps) = (2.0 * rng.normal(), rng.normal());
                let z = vp.z(x, eps);
                let value = target.from_eps(&vp, z, eps);
                let back = target.to_eps(&vp, z, value);
                assert!(
                    close(back, eps, 1e-7, 1e-7),
                    "{target:?} λ={lambda}: {back} vs {eps}"
                );
                assert!(
                    close(vp.x_from_eps(z, eps), x, 1e-6, 1e-6 * (1.0 + x.abs())) || lambda < -15.0
                );
            }
        }
    }
    let vp = Vp::new(0.7);
    let (x, eps) = (0.3, -1.1);
    let z = vp.z(x, eps);
    assert!(close(
        vp.x_from_v(z, vp.v_from_eps_x(eps, x)),
        x,
        1e-14,
        1e-14
    ));
    assert!(close(
        vp.eps_from_score(vp.score_from_eps(eps)),
        eps,
        1e-14,
        0.0
    ));
    assert!(close(vp.o_from_eps_x(eps, x), x - eps, 0.0, 0.0));
    assert!(close(
        vp.x_from_f(z, vp.f_from_x(z, x, 0.5), 0.5),
        x,
        1e-14,
        1e-14
    ));
}

#[test]
fn loss_factors_match_converted_errors() {
    // ‖ε - ε̂‖² = factor · ‖T(ε) - T(ε̂)‖² with T the conversion at the same z (Eq. 122–126, 78).
    let mut rng = Rng(11);
    for target in all_targets() {
        for i in 0..=32 {
            let lambda = -16.0 + i as f64;
            let vp = Vp::new(lambda);
            let d = 5;
            let x: Vec<f64> = (0..d).map(|_| rng.normal()).collect();
            let eps: Vec<f64> = (0..d).map(|_| rng.normal()).collect();
            let eps_hat: Vec<f64> = eps.iter().map(|e| e + 0.3 * rng.normal()).collect();
            let z: Vec<f64> = x.iter().zip(&eps).map(|(x, e)| vp.z(*x, *e)).collect();
            let eps_err: f64 = eps
                .iter()
                .zip(&eps_hat)
                .map(|(a, b)| (a - b) * (a - b))
                .sum();
            let target_err: f64 = (0..d)
                .map(|j| {
                    let a = target.from_eps(&vp, z[j], eps[j]);
                    let b = target.from_eps(&vp, z[j], eps_hat[j]);
                    (a - b) * (a - b)
                })
                .sum();
            let factor = target.loss_factor(lambda);
            assert!(
                close(eps_err, factor * target_err, 1e-6, 0.0),
                "{target:?} λ={lambda}: {eps_err} vs {}",
                factor * target_err
            );
        }
    }
}

#[test]
fn edm_f_target_has_unit_variance_for_data_of_std_sigma_data() {
    // F = a·x + b·ε with x ~ N(0, σ_d²): Var F = a²σ_d² + b² = 1 (the point of EDM's
    // preconditioning), at every λ.
    for sd in [0.5, 1.0, 2.0] {
        for i in 0..=40 {
            let lambda = -20.0 + i as f64;
            let vp = Vp::new(lambda);
            let f_of = |x: f64, e: f64| vp.f_from_x(vp.z(x, e), x, sd);
            let a = f_of(1.0, 0.0) - f_of(0.0, 0.0);
            let b = f_of(0.0, 1.0) - f_of(0.0, 0.0);
            assert!(
                close(a * a * sd * sd + b * b, 1.0, 1e-9, 0.0),
                "σ_d={sd} λ={lambda}"
            );
        }
    }
}

/// log(implied) - log(table) must be constant in λ (Table 1 rows hold up to a constant factor).
fn assert_proportional(label: &str, implied: impl Fn(f64) -> f64, table: impl Fn(f64) -> f64) {
    let diffs: Vec<f64> = (0..=400)
        .map(|i| -20.0 + 0.1 * i as f64)
        .map(|l| implied(l) - table(l))
        .collect();
    let (lo, hi) = diffs
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &d| {
            (a.min(d), b.max(d))
        });
    assert!(
        hi - lo < 1e-10,
        "{label}: log-ratio varies by {:e}",
        hi - lo
    );
}

#[test]
fn implied_weightings_reproduce_table_1() {
    let range = (-20.0, 20.0);
    let sched = |name: &str| Schedule::from_name(name, &no_params(), range.0, range.1).unwrap();
    let target = |name: &str| Target::from_name(name, &no_params()).unwrap();
    let builtin = |name: &str, p: BTreeMap<String, f64>| Weighting::new(name, &p, None).unwrap();
    let none = LossMultiplier::None;
    let rows: Vec<(&str, Target, Schedule, LossMultiplier, Weighting)> = vec![
        (
            "ε + cosine = IDDPM",
            target("eps"),
            sched("cosine"),
            none,
            builtin("iddpm", no_params()),
        ),
        (
            "v + cosine",
            target("v"),
            sched("cosine"),
            none,
            builtin("v-cosine", no_params()),
        ),
        (
            "o + FM-OT",
            target("o"),
            sched("fm-ot"),
            none,
            builtin("fm-ot", no_params()),
        ),
        (
            "x + FM-OT = InDI",
            target("x"),
            sched("fm-ot"),
            none,
            builtin("indi", no_params()),
        ),
        (
            "F(σ_data=0.5) + EDM train = EDM",
            Target::F { sigma_data: 0.5 },
            sched("edm-train"),
            none,
            builtin("edm", no_params()),
        ),
        (
            "ε + cosine + P2(γ=1)",
            target("eps"),
            sched("cosine"),
            LossMultiplier::P2 { gamma: 1.0, k: 1.0 },
            builtin("p2", no_params()),
        ),
        (
            "ε + cosine + P2(γ=0.5)",
            target("eps"),
            sched("cosine"),
            LossMultiplier::P2 { gamma: 0.5, k: 1.0 },
            builtin("p2", params(&[("gamma", 0.5)])),
        ),
        (
            "x + cosine + Min-SNR(5)",
            target("x"),
            sched("cosine"),
            LossMultiplier::MinSnr { gamma: 5.0 },
            builtin("min-snr", no_params()),
        ),
        (
            "v + shifted cosine, d = 64 (s = 0)",
            target("v"),
            Schedule::from_name(
                "shifted-cosine",
                &params(&[("resolution", 64.0)]),
                -20.0,
                20.0,
            )
            .unwrap(),
            none,
            builtin("v-cosine", no_params()),
        ),
    ];
    for (label, t, s, m, w) in &rows {
        assert_proportional(label, |l| implied_log_weighting(t, s, m, l), |l| w.log_w(l));
    }
    // The ELBO multiplier -dλ/dt gives w = 1 for ε-prediction under every schedule.
    for name in SCHEDULE_NAMES {
        let s = sched(name);
        assert_proportional(
            name,
            |l| implied_log_weighting(&target("eps"), &s, &LossMultiplier::Elbo, l),
            |_| 0.0,
        );
    }
}

#[test]
fn v_prediction_with_a_shifted_cosine_is_not_exactly_exp_minus_half_lambda() {
    // App. D.2.1 (Eq. 59-60) states (e^{-λ}+1)·sech(λ/2 - s)/(2π) ∝ e^{-λ/2}. That holds only for
    // s = 0: the ratio to e^{-λ/2} is (e^{λ/2} + e^{-λ/2})/(π(e^{λ/2-s} + e^{-λ/2+s})), which runs
    // from e^{-s}/π (λ → -∞) to e^{s}/π (λ → +∞). For d = 128 (s = -log 2) that is a factor of 4.
    let s = Schedule::from_name("shifted-cosine", &no_params(), -20.0, 20.0).unwrap();
    let v = Target::V;
    let shift = (64.0f64 / 128.0).ln();
    let ratio = |l: f64| implied_log_weighting(&v, &s, &LossMultiplier::None, l) + 0.5 * l;
    let spread = ratio(-20.0) - ratio(20.0);
    assert!(
        close(spread, -2.0 * shift, 1e-6, 1e-6),
        "log-ratio spread {spread}"
    );
    // What holds instead: the implied w is e^{-λ/2}·cosh(λ/2)/cosh(λ/2 - s) up to a constant.
    assert_proportional(
        "v + shifted cosine (exact form)",
        |l| implied_log_weighting(&v, &s, &LossMultiplier::None, l),
        |l| -0.5 * l + log_sech(0.5 * l - shift) - log_sech(0.5 * l),
    );
}

#[test]
fn target_and_multiplier_names_are_validated() {
    let e = Target::from_name("noise", &no_params())
        .unwrap_err()
        .to_string();
    for n in TARGET_NAMES {
        assert!(e.contains(n), "{e}");
    }
    assert!(Target::from_name("f", &params(&[("sigma_data", 0.0)])).is_err());
    assert!(Target::from_name("x", &params(&[("sigma_data", 1.0)]))
        .unwrap_err()
        .to_string()
        .contains("takes no parameters"));
    let e = LossMultiplier::from_name("snr", &no_params())
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("p2") && e.contains("min-snr") && e.contains("elbo"),
        "{e}"
    );
}
