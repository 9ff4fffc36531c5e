//! Gaussian-mixture data: exact marginals and denoisers, the ELBO profile, Eq. 31, the density
//! identity -ELBO(x) ≈ -log q(x), KL–Fisher (App. G) and the low-bit analysis (App. I).

use std::collections::BTreeMap;

use elbo_lab::theory::gmm::Gmm;
use elbo_lab::theory::identity::{
    density_terms, elbo_closed_form, elbo_profile, fisher_divergence, identity_terms,
    kl_to_marginal, per_lambda_loss, prior_kl, EpsExpectation,
};
use elbo_lab::theory::lowbit::{levels, low_bit_curve, low_bit_point};
use elbo_lab::theory::numeric::{alpha2, sigma2};
use elbo_lab::theory::quadrature::CompositeRule;
use elbo_lab::theory::weighting::{Weighting, WEIGHTING_NAMES};
use elbo_lab::theory::TheoryError;

const GMM_1D: &str = r#"{"weights": [0.3, 0.7], "means": [[-1.5], [2.0]], "stds": [0.4, 0.6]}"#;
const GMM_2D: &str = r#"{"weights": [0.5, 0.3, 0.2], "means": [[-1.5, 0.0], [1.5, 1.0], [0.0, -2.0]], "stds": [0.5, 0.4, 0.3]}"#;

fn points_1d() -> Vec<Vec<f64>> {
    // A mode, between the modes, near the lighter mode, and both tails.
    vec![vec![-1.5], vec![0.25], vec![1.0], vec![5.0], vec![-4.0]]
}

fn points_2d() -> Vec<Vec<f64>> {
    vec![
        vec![-1.5, 0.0],
        vec![0.0, 0.5],
        vec![0.2, -0.9],
        vec![3.0, -3.0],
    ]
}

fn no_params() -> BTreeMap<String, f64> {
    BTreeMap::new()
}

fn all_weightings() -> Vec<Weighting> {
    let p = |items: &[(&str, f64)]| -> BTreeMap<String, f64> {
        items.iter().map(|(k, v)| (k.to_string(), *v)).collect()
    };
    let mut out: Vec<Weighting> = WEIGHTING_NAMES
        .iter()
        .filter(|&&n| n != "expr")
        .map(|n| Weighting::new(n, &no_params(), None).unwrap())
        .collect();
    out.push(Weighting::new("p2", &p(&[("gamma", 0.5)]), None).unwrap());
    out.push(Weighting::new("min-snr", &p(&[("gamma", 1.0)]), None).unwrap());
    out.push(Weighting::new("sigmoid", &p(&[("k", -1.0)]), None).unwrap());
    out.push(Weighting::new("expr", &no_params(), Some("exp(-l/4) / (1 + exp(l - 3))")).unwrap());
    out
}

/// Closed form of f(λ;x) for a single Gaussian N(μ, s²I): ε - ε* = α(αs²ε - σ(x - μ))/v, so
/// f = α²(α²s⁴d + σ²‖x - μ‖²)/v² with v = α²s² + σ².
fn single_gaussian_f(mu: &[f64], s: f64, x: &[f64], lambda: f64) -> f64 {
    let (a2, s2) = (alpha2(lambda), sigma2(lambda));
    let v = a2 * s * s + s2;
    let d = x.len() as f64;
    let r2: f64 = x.iter().zip(mu).map(|(a, b)| (a - b) * (a - b)).sum();
    a2 * (a2 * s.powi(4) * d + s2 * r2) / (v * v)
}

#[test]
fn mixtures_are_validated_with_messages() {
    let bad: [(&str, &str); 12] = [
        ("{not json", "expected JSON like"),
        (
            r#"{"weights": [1], "means": [[0]]}"#,
            "missing field `stds`",
        ),
        (
            r#"{"weights": [1], "means": [[0]], "stds": [1], "extra": 1}"#,
            "unknown field `extra`",
        ),
        (
            r#"{"weights": [], "means": [], "stds": []}"#,
            "at least one component",
        ),
        (
            r#"{"weights": [1.2, -0.2], "means": [[0], [1]], "stds": [1, 1]}"#,
            "finite and ≥ 0",
        ),
        (
            r#"{"weights": [0.5, 0.4], "means": [[0], [1]], "stds": [1, 1]}"#,
            "sum to 0.9",
        ),
        (
            r#"{"weights": [0, 0], "means": [[0], [1]], "stds": [1, 1]}"#,
            "sum to 0",
        ),
        (
            r#"{"weights": [0.5, 0.5], "means": [[0], [1, 2]], "stds": [1, 1]}"#,
            "same dimension",
        ),
        (
            r#"{"weights": [0.5, 0.5], "means": [[0]], "stds": [1, 1]}"#,
            "one entry per component",
        ),
        (
            r#"{"weights": [1], "means": [[]], "stds": [1]}"#,
            "between 1 and",
        ),
        (
            r#"{"weights": [1], "means": [[0]], "stds": [-1]}"#,
            "stds must be finite and ≥ 0",
        ),
        (
            r#"{"weights": [1], "means": [[0]], "stds": ["a"]}"#,
            "invalid type",
        ),
    ];
    for (json, needle) in bad {
        let err = Gmm::from_json(json).unwrap_err();
        assert!(matches!(err, TheoryError::InvalidGmm(_)), "{json}: {err}");
        assert!(err.to_string().contains(needle), "{json}: {err}");
        assert!(!err.to_string().contains('\n'));
    }
    // Rounding in the weights is normalised away.
    let g = Gmm::from_json(r#"{"weights": [0.3333333, 0.3333333, 0.3333333], "means": [[0], [1], [2]], "stds": [1, 1, 1]}"#).unwrap();
    assert!((g.weights.iter().sum::<f64>() - 1.0).abs() < 1e-15);
    // Point masses are fine, but have no log-density.
    let g = Gmm::from_json(r#"{"weights": [0.5, 0.5], "means": [[0], [1]], "stds": [0, 0.5]}"#)
        .unwrap();
    assert!(g.has_point_mass());
    assert!(g
        .log_density(&[0.3])
        .unwrap_err()
        .to_string()
        .contains("point masses"));
    let g = Gmm::from_json(GMM_2D).unwrap();
    let err = g.log_density(&[1.0]).unwrap_err();
    assert!(
        matches!(err, TheoryError::DimensionMismatch(_))
            && err.to_string().contains("2-dimensional")
    );
    assert_eq!(Gmm::from_json(&g.to_json()).unwrap(), g);
}

#[test]
fn noisy_marginals_scores_and_denoisers_are_exact() {
    let g = Gmm::from_json(GMM_2D).unwrap();
    for &lambda in &[-20.0, -3.0, 0.0, 2.5, 20.0] {
        let noisy = g.noisy(lambda);
        let (a, s2) = (alpha2(lambda).sqrt(), sigma2(lambda));
        for z in [[0.1, -0.2], [2.0, 1.0], [-3.0, 4.0]] {
            // Direct sum of the Gaussian components.
            let direct: f64 = (0..3)
                .map(|k| {
                    let v = a * a * g.stds[k] * g.stds[k] + s2;
                    let r2: f64 = (0..2).map(|i| (z[i] - a * g.means[k][i]).powi(2)).sum();
                    g.weights[k] * (-0.5 * r2 / v).exp() / (2.0 * std::f64::consts::PI * v)
                })
                .sum();
            let lq = noisy.log_density(&z);
            assert!(
                (lq - direct.ln()).abs() < 1e-12 * lq.abs().max(1.0),
                "λ={lambda} z={z:?}"
            );
            let r = noisy.responsibilities(&z);
            assert!((r.iter().sum::<f64>() - 1.0).abs() < 1e-14);
            // The score is the gradient of the log-density.
            let score = noisy.score(&z);
            for i in 0..2 {
                let h = 1e-6;
                let mut zp = z;
                let mut zm = z;
                zp[i] += h;
                zm[i] -= h;
                let fd = (noisy.log_density(&zp) - noisy.log_density(&zm)) / (2.0 * h);
                assert!(
                    (fd - score[i]).abs() < 1e-6 * (1.0 + fd.abs()),
                    "λ={lambda} z={z:?} i={i}: {fd} vs {}",
                    score[i]
                );
            }
            let eps_star = noisy.eps_star(&z);
            for i in 0..2 {
                assert!((eps_star[i] + noisy.sigma * score[i]).abs() < 1e-15);
            }
        }
    }
}

#[test]
fn per_lambda_loss_is_exact_for_a_single_gaussian_in_every_dimension() {
    // d ≤ 2 use tensor panels (Gauss–Legendre on φ: ~1e-11 with panels of width 2), d = 3
    // coarser panels (~1e-7), d = 5 quasi-Monte Carlo.
    for (d, tol) in [(1usize, 1e-10), (2, 1e-10), (3, 1e-6), (5, 3e-3)] {
        let mu: Vec<f64> = (0..d).map(|i| 0.3 * i as f64 - 0.5).collect();
        let x: Vec<f64> = (0..d).map(|i| 1.0 - 0.7 * i as f64).collect();
        let json = serde_json::json!({"weights": [1.0], "means": [mu], "stds": [0.7]}).to_string();
        let g = Gmm::from_json(&json).unwrap();
        let e = EpsExpectation::new(&g);
        for &lambda in &[-20.0, -6.0, -1.0, 0.0, 1.5, 4.0, 9.0, 20.0] {
            let got = per_lambda_loss(&g, &x, lambda, &e);
            let want = single_gaussian_f(&mu, 0.7, &x, lambda);
            assert!(
                (got - want).abs() <= tol * want.max(1e-300) + 1e-300,
                "d={d} λ={lambda}: {got} vs {want}"
            );
        }
    }
}

#[test]
fn density_identity_holds_in_1d_and_2d() {
    // -ELBO(x) = prior + recon + ½∫f dλ must equal -log q(x) up to endpoint effects (~1e-7 here).
    let mut worst = (0.0f64, 0.0f64);
    for (json, points) in [(GMM_1D, points_1d()), (GMM_2D, points_2d())] {
        let g = Gmm::from_json(json).unwrap();
        for x in points {
            let t = density_terms(&g, &x, -20.0, 20.0).unwrap();
            let gap = (t.neg_elbo - t.neg_log_q).abs();
            let paths = (t.diffusion - t.diffusion_closed_form).abs();
            assert!(
                gap < 1e-5,
                "{json} x={x:?}: -ELBO {} vs -log q {}",
                t.neg_elbo,
                t.neg_log_q
            );
            assert!(
                paths < 1e-7,
                "{json} x={x:?}: ½∫f = {} vs closed form {}",
                t.diffusion,
                t.diffusion_closed_form
            );
            assert!((t.prior + t.recon + t.diffusion - t.neg_elbo).abs() < 1e-12);
            worst = (worst.0.max(gap), worst.1.max(paths));
        }
    }
    eprintln!(
        "density identity: max |-ELBO + log q| = {:.2e}, max |½∫f - closed form| = {:.2e}",
        worst.0, worst.1
    );
}

#[test]
fn density_identity_on_a_sharp_preset_and_in_3d() {
    // Narrow, unequal components (std 0.06 next to 0.35): the panel caps bind in 2D.
    let sharp = r#"{"weights": [0.5, 0.3, 0.2], "means": [[-1.2, -0.6], [1.3, -0.4], [0.1, 1.4]], "stds": [0.35, 0.15, 0.06]}"#;
    let g = Gmm::from_json(sharp).unwrap();
    for x in [vec![0.1, 1.4], vec![0.0, 0.4]] {
        let t = density_terms(&g, &x, -20.0, 20.0).unwrap();
        eprintln!(
            "sharp 2D x={x:?}: |-ELBO + log q| = {:.2e}",
            (t.neg_elbo - t.neg_log_q).abs()
        );
        assert!(
            (t.neg_elbo - t.neg_log_q).abs() < 1e-4,
            "x={x:?}: {} vs {}",
            t.neg_elbo,
            t.neg_log_q
        );
    }
    let g3 = Gmm::from_json(
        r#"{"weights": [0.6, 0.4], "means": [[-1, 0, 0.5], [1.5, 0.5, -0.5]], "stds": [0.6, 0.5]}"#,
    )
    .unwrap();
    let x = [0.2, 0.1, 0.0];
    let t = density_terms(&g3, &x, -20.0, 20.0).unwrap();
    eprintln!(
        "3D: |-ELBO + log q| = {:.2e}",
        (t.neg_elbo - t.neg_log_q).abs()
    );
    assert!(
        (t.neg_elbo - t.neg_log_q).abs() < 1e-4,
        "{} vs {}",
        t.neg_elbo,
        t.neg_log_q
    );
}

#[test]
fn elbo_profile_agrees_with_its_closed_form() {
    // L(λ;x) = prior + ½∫_{λ_min}^{λ} f (Eq. 9) vs KL(q(z_λ|x)||q(z_λ)) + prior mismatch.
    for (json, x) in [(GMM_1D, vec![0.25]), (GMM_2D, vec![0.0, 0.5])] {
        let g = Gmm::from_json(json).unwrap();
        let e = EpsExpectation::new(&g);
        let profile = elbo_profile(&g, &x, -20.0, 20.0, &[]).unwrap();
        let mut worst = 0.0f64;
        for (i, &lambda) in profile.rule.nodes.iter().enumerate().step_by(3) {
            let closed = elbo_closed_form(&g, &x, lambda, -20.0, &e);
            worst = worst.max((closed - profile.l[i]).abs());
        }
        eprintln!("{json}: max |L_integral - L_closed| = {worst:.2e}");
        assert!(worst < 1e-7, "{json}: {worst}");
        assert!((profile.l[0] - profile.prior).abs() < 1e-6);
        assert!((profile.prior - prior_kl(&x, -20.0)).abs() < 1e-15);
    }
}

#[test]
fn eq_31_holds_for_every_weighting_in_1d_and_2d() {
    let mut worst = 0.0f64;
    for (json, x) in [
        (GMM_1D, vec![0.25]),
        (GMM_1D, vec![-4.0]),
        (GMM_2D, vec![0.2, -0.9]),
    ] {
        let g = Gmm::from_json(json).unwrap();
        for w in all_weightings() {
            let profile = elbo_profile(&g, &x, -20.0, 20.0, &w.breakpoints()).unwrap();
            let t = identity_terms(&profile, &w).unwrap();
            let lhs = t.prior_term + t.weighted_loss;
            let rhs = t.rect_term + t.mixture_term;
            let rel = (lhs - rhs).abs() / lhs.abs().max(rhs.abs());
            worst = worst.max(rel);
            assert!(rel < 1e-6, "{} at {x:?}: {lhs} vs {rhs} ({t:?})", w.name());
            assert!(t.weighted_loss > 0.0 && t.prior_term >= 0.0);
        }
    }
    eprintln!("Eq. 31: worst relative mismatch {worst:.2e}");
}

#[test]
fn elbo_weighting_gives_the_plain_diffusion_loss() {
    let g = Gmm::from_json(GMM_1D).unwrap();
    let x = [1.0];
    let w = Weighting::new("elbo", &no_params(), None).unwrap();
    let profile = elbo_profile(&g, &x, -20.0, 20.0, &[]).unwrap();
    let t = identity_terms(&profile, &w).unwrap();
    assert_eq!(t.mixture_term, 0.0);
    assert!((t.weighted_loss - (profile.l_end - profile.prior)).abs() < 1e-12);
    assert!((t.rect_term - profile.l_end).abs() < 1e-15);
}

#[test]
fn kl_fisher_identity_for_a_wrong_model() {
    // App. G, Eq. 138: dL/dλ = ½σ² D_F(q(z_λ|x)||p(z_λ)) for a model whose score is that of a
    // different mixture. dL/dλ from the closed form (finite differences) vs D_F from the scores.
    let model = Gmm::from_json(
        r#"{"weights": [0.5, 0.5], "means": [[-1.0, 0.5], [1.0, -0.5]], "stds": [0.7, 0.9]}"#,
    )
    .unwrap();
    let e = EpsExpectation::new(&model);
    let x = [0.8, 0.4];
    for &lambda in &[-6.0, -2.0, 0.0, 1.0, 3.0, 7.0] {
        let h = 1e-3;
        let l = |lam: f64| elbo_closed_form(&model, &x, lam, -20.0, &e);
        let dl = (8.0 * (l(lambda + h) - l(lambda - h))
            - (l(lambda + 2.0 * h) - l(lambda - 2.0 * h)))
            / (12.0 * h);
        let fisher = fisher_divergence(&model, &x, lambda, &e);
        let rhs = 0.5 * sigma2(lambda) * fisher;
        assert!(
            (dl - rhs).abs() < 1e-7 * (1.0 + rhs),
            "λ={lambda}: dL/dλ {dl} vs ½σ²D_F {rhs}"
        );
        // ... and the Eq. 9 integrand (ε-form) is the same quantity.
        let f = per_lambda_loss(&model, &x, lambda, &e);
        assert!((0.5 * f - rhs).abs() < 1e-12 * (1.0 + rhs));
    }
}

#[test]
fn low_bit_bits_each_carry_one_bit() {
    // App. I: the area between the E_x[dL/dλ] curves of n and n-1 bits is ln 2, and
    // E_x[L] climbs from 0 to n ln 2 over λ ∈ [-20, 20].
    let rule = CompositeRule::new(-20.0, 20.0, &[], 1.0, 10).unwrap();
    let mut areas = Vec::new();
    for bits in 1..=8u32 {
        let (_, dl) = low_bit_curve(bits, &rule.nodes).unwrap();
        assert!(dl.iter().all(|v| v.is_finite() && *v >= 0.0), "bits={bits}");
        areas.push(rule.integrate_values(&dl));
        let top = low_bit_point(bits, 20.0).unwrap().l;
        let bottom = low_bit_point(bits, -20.0).unwrap().l;
        let n_ln2 = f64::from(bits) * std::f64::consts::LN_2;
        assert!(
            (top - n_ln2).abs() < 1e-9 && bottom.abs() < 1e-8,
            "bits={bits}: {bottom} .. {top}"
        );
        assert!(
            (areas[bits as usize - 1] - n_ln2).abs() < 1e-6,
            "bits={bits}: area {}",
            areas[bits as usize - 1]
        );
    }
    for n in 1..8 {
        let bit = areas[n] - areas[n - 1];
        assert!(
            (bit - std::f64::consts::LN_2).abs() < 1e-4,
            "bit {}: {bit}",
            n + 1
        );
    }
    // Later bits live at higher λ: the peak of each difference curve moves right.
    let lambdas: Vec<f64> = (0..=400).map(|i| -20.0 + 0.1 * i as f64).collect();
    let curves: Vec<Vec<f64>> = (1..=8)
        .map(|b| low_bit_curve(b, &lambdas).unwrap().1)
        .collect();
    let peak = |c: &[f64]| {
        lambdas[c
            .iter()
            .enumerate()
            .fold(0, |best, (i, v)| if *v > c[best] { i } else { best })]
    };
    let peaks: Vec<f64> = (1..8)
        .map(|n| {
            let diff: Vec<f64> = curves[n]
                .iter()
                .zip(&curves[n - 1])
                .map(|(a, b)| a - b)
                .collect();
            peak(&diff)
        })
        .collect();
    assert!(peaks.windows(2).all(|p| p[1] > p[0]), "peaks {peaks:?}");
}

#[test]
fn low_bit_curves_match_the_general_mixture_code() {
    // 2-bit data as a mixture of point masses: E_x[KL] and E_x[½f] from identity.rs.
    let xs = levels(2).unwrap();
    let n = xs.len() as f64;
    let json = serde_json::json!({
        "weights": vec![1.0 / n; xs.len()],
        "means": xs.iter().map(|x| vec![*x]).collect::<Vec<_>>(),
        "stds": vec![0.0; xs.len()],
    })
    .to_string();
    let g = Gmm::from_json(&json).unwrap();
    let e = EpsExpectation::new(&g);
    for &lambda in &[-4.0, 0.0, 2.0, 4.0, 6.0] {
        let l: f64 = xs
            .iter()
            .map(|x| kl_to_marginal(&g, &[*x], lambda, &e))
            .sum::<f64>()
            / n;
        let dl: f64 = xs
            .iter()
            .map(|x| 0.5 * per_lambda_loss(&g, &[*x], lambda, &e))
            .sum::<f64>()
            / n;
        let p = low_bit_point(2, lambda).unwrap();
        assert!((p.l - l).abs() < 1e-9, "λ={lambda}: {} vs {l}", p.l);
        assert!((p.dl - dl).abs() < 1e-9, "λ={lambda}: {} vs {dl}", p.dl);
    }
    assert!(low_bit_point(0, 0.0).is_err());
    assert!(low_bit_point(11, 0.0).is_err());
    assert!(low_bit_point(3, f64::NAN).is_err());
}

#[test]
fn many_components_use_the_bound_and_huge_requests_are_refused() {
    // 100 narrow components in 1D: the panel width comes from the bound, not the pair scan.
    let n = 100;
    let means: Vec<Vec<f64>> = (0..n)
        .map(|i| vec![-3.0 + 6.0 * i as f64 / (n - 1) as f64])
        .collect();
    let json = serde_json::json!({"weights": vec![1.0 / n as f64; n], "means": means, "stds": vec![0.08; n]}).to_string();
    let g = Gmm::from_json(&json).unwrap();
    let t = density_terms(&g, &[0.51], -20.0, 20.0).unwrap();
    assert!((t.neg_elbo - t.neg_log_q).abs() < 1e-5, "{t:?}");
    // 300 very narrow components in 2D would need ~1e10 evaluations: refused with a message.
    let k = 300;
    let means: Vec<Vec<f64>> = (0..k)
        .map(|i| vec![(i % 20) as f64 * 0.3 - 3.0, (i / 20) as f64 * 0.3 - 2.0])
        .collect();
    let json = serde_json::json!({"weights": vec![1.0 / k as f64; k], "means": means, "stds": vec![0.01; k]}).to_string();
    let g = Gmm::from_json(&json).unwrap();
    let e = density_terms(&g, &[0.0, 0.0], -20.0, 20.0)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("component evaluations") && e.contains("limit"),
        "{e}"
    );
}
