//! The front-end-neutral API: defaults, validation, serde shapes, and the identities end to end.

use std::collections::BTreeMap;

use elbo_lab::api::*;

const GMM_1D: &str = r#"{"weights": [0.3, 0.7], "means": [[-1.5], [2.0]], "stds": [0.4, 0.6]}"#;
const GMM_2D: &str = r#"{"weights": [0.5, 0.3, 0.2], "means": [[-1.5, 0.0], [1.5, 1.0], [0.0, -2.0]], "stds": [0.5, 0.4, 0.3]}"#;

fn spec(name: &str) -> WeightingSpec {
    WeightingSpec {
        name: name.into(),
        params: BTreeMap::new(),
        expression: None,
    }
}

#[test]
fn curve_ranges_default_and_validate() {
    let r = CurveRange::default();
    assert_eq!((r.lambda_min, r.lambda_max, r.points), (-20.0, 20.0, 401));
    let lambdas = r.lambdas();
    assert_eq!(lambdas.len(), 401);
    assert_eq!((lambdas[0], lambdas[400]), (-20.0, 20.0));
    assert!((lambdas[200]).abs() < 1e-15);
    let partial: CurveRange = serde_json::from_str(r#"{"points": 11}"#).unwrap();
    assert_eq!(
        partial,
        CurveRange {
            points: 11,
            ..CurveRange::default()
        }
    );
    for bad in [
        CurveRange { points: 1, ..r },
        CurveRange {
            lambda_min: 3.0,
            lambda_max: 3.0,
            ..r
        },
        CurveRange {
            lambda_min: 4.0,
            lambda_max: 3.0,
            ..r
        },
        CurveRange {
            lambda_min: f64::NAN,
            ..r
        },
        CurveRange {
            points: MAX_POINTS + 1,
            ..r
        },
    ] {
        let e = bad.validate().unwrap_err().to_string();
        assert!(e.starts_with("invalid range"), "{e}");
    }
}

#[test]
fn weighting_curves_have_the_table_1_flags() {
    let monotone = [
        "elbo",
        "v-cosine",
        "fm-ot",
        "indi",
        "sigmoid",
        "edm-monotonic",
        "low-bit",
    ];
    for name in monotone
        .iter()
        .chain(["iddpm", "edm", "p2", "min-snr"].iter())
    {
        let c = weighting_curve(&spec(name), &CurveRange::default()).unwrap();
        assert_eq!(c.monotonic, monotone.contains(name), "{name}");
        assert_eq!(c.w.len(), 401);
        assert!(c.w.iter().all(|w| w.is_finite() && *w >= 0.0));
    }
    let parsed: WeightingSpec =
        serde_json::from_str(r#"{"name": "expr", "expression": "sigmoid(-l + 3)"}"#).unwrap();
    let c = weighting_curve(
        &parsed,
        &CurveRange {
            points: 5,
            ..CurveRange::default()
        },
    )
    .unwrap();
    assert!(c.monotonic && (c.w[2] - 0.952_574_126_822_433_4).abs() < 1e-15);
    let e = weighting_curve(
        &WeightingSpec {
            expression: Some("l".into()),
            ..spec("expr")
        },
        &CurveRange::default(),
    )
    .unwrap_err();
    assert!(e.to_string().contains("negative"), "{e}");
    let mut bad = spec("sigmoid");
    bad.params.insert("gamma".into(), 1.0);
    let e = weighting_curve(&bad, &CurveRange::default())
        .unwrap_err()
        .to_string();
    assert!(e.contains("accepted: k"), "{e}");
    let value = serde_json::to_value(
        weighting_curve(
            &spec("elbo"),
            &CurveRange {
                points: 2,
                ..CurveRange::default()
            },
        )
        .unwrap(),
    )
    .unwrap();
    assert_eq!(
        value,
        serde_json::json!({"name": "elbo", "lambda": [-20.0, 20.0], "w": [1.0, 1.0], "monotonic": true})
    );
}

#[test]
fn schedule_curves_run_from_lambda_max_to_lambda_min() {
    for info in schedule_catalog() {
        let s = ScheduleSpec {
            name: info.name.clone(),
            params: BTreeMap::new(),
        };
        let c = schedule_curve(
            &s,
            &CurveRange {
                lambda_min: -12.0,
                lambda_max: 15.0,
                points: 51,
            },
        )
        .unwrap();
        assert_eq!((c.t[0], c.t[50]), (0.0, 1.0));
        assert_eq!((c.lambda[0], c.lambda[50]), (15.0, -12.0), "{}", info.name);
        assert!(c.p_lambda.iter().all(|p| p.is_finite() && *p > 0.0));
        assert!(
            !info.latex_lambda.is_empty() && !info.latex_t.is_empty() && !info.latex_p.is_empty()
        );
    }
    let mut s = ScheduleSpec {
        name: "shifted-cosine".into(),
        params: BTreeMap::new(),
    };
    s.params.insert("resolution".into(), 256.0);
    let c = schedule_curve(&s, &CurveRange::default()).unwrap();
    let cosine = schedule_curve(
        &ScheduleSpec {
            name: "cosine".into(),
            params: BTreeMap::new(),
        },
        &CurveRange::default(),
    )
    .unwrap();
    // d = 256 > 64 shifts the schedule toward noise (s = log(64/256) < 0): about 2s = -2.8 at
    // mid-range (not exactly, since both are truncated to [-20, 20]).
    let shift = c.lambda[200] - cosine.lambda[200];
    assert!((shift - 2.0 * (0.25f64).ln()).abs() < 0.1, "{shift}");
    assert!(schedule_curve(
        &ScheduleSpec {
            name: "quadratic".into(),
            params: BTreeMap::new()
        },
        &CurveRange::default()
    )
    .is_err());
}

#[test]
fn identity_and_density_hold_through_the_api() {
    for (json, x) in [(GMM_1D, vec![-4.0]), (GMM_2D, vec![0.0, 0.5])] {
        for name in ["elbo", "iddpm", "edm-monotonic", "min-snr"] {
            let t = identity_terms(json, &x, &spec(name), -20.0, 20.0).unwrap();
            let (lhs, rhs) = (t.prior_term + t.weighted_loss, t.rect_term + t.mixture_term);
            assert!(
                (lhs - rhs).abs() <= 1e-6 * lhs.abs(),
                "{name}: {lhs} vs {rhs}"
            );
        }
        let d = density_terms(json, &x, -20.0, 20.0).unwrap();
        assert!((d.neg_elbo - d.neg_log_q).abs() < 1e-5, "{d:?}");
    }
    let e = density_terms(GMM_2D, &[1.0], -20.0, 20.0)
        .unwrap_err()
        .to_string();
    assert!(e.contains("dimension"), "{e}");
    assert!(density_terms("[]", &[1.0], -20.0, 20.0).is_err());
    assert!(density_terms(GMM_1D, &[1.0], 2.0, -2.0)
        .unwrap_err()
        .to_string()
        .contains("smaller"));
    assert!(identity_terms(GMM_1D, &[1.0], &spec("nope"), -20.0, 20.0).is_err());
}

#[test]
fn elbo_curves_rise_from_the_prior_to_the_density_bound() {
    let range = CurveRange {
        points: 81,
        ..CurveRange::default()
    };
    let c = elbo_curve(GMM_1D, &[0.25], &range).unwrap();
    assert_eq!(c.f.len(), 81);
    assert!(
        c.l.windows(2).all(|p| p[1] >= p[0] - 1e-12),
        "L increases with λ (f ≥ 0)"
    );
    assert!((c.f[80] - 1.0).abs() < 1e-6, "f → d at high λ: {}", c.f[80]);
    let d = density_terms(GMM_1D, &[0.25], -20.0, 20.0).unwrap();
    assert!((c.l[0] - d.prior).abs() < 1e-12);
    assert!((c.l[80] - (d.prior + d.diffusion)).abs() < 1e-7);
}

#[test]
fn implied_curves_and_low_bit_curves() {
    let spec = ImpliedSpec {
        target: "v".into(),
        target_params: BTreeMap::new(),
        schedule: ScheduleSpec {
            name: "cosine".into(),
            params: BTreeMap::new(),
        },
        multiplier: None,
        multiplier_params: BTreeMap::new(),
    };
    let c = implied_weighting_curve(&spec, &CurveRange::default()).unwrap();
    assert!(c.monotonic);
    assert_eq!(c.w[0], 1.0);
    assert!(
        (c.w[200] - (-10.0f64).exp()).abs() < 1e-12,
        "e^{{-λ/2}} scaled to 1 at λ = -20"
    );
    let bad = ImpliedSpec {
        target: "noise".into(),
        ..spec.clone()
    };
    assert!(implied_weighting_curve(&bad, &CurveRange::default())
        .unwrap_err()
        .to_string()
        .contains("eps, x, v, f, score, o"));
    let iddpm = ImpliedSpec {
        target: "eps".into(),
        ..spec
    };
    assert!(
        !implied_weighting_curve(&iddpm, &CurveRange::default())
            .unwrap()
            .monotonic
    );

    let lb = low_bit_curves(
        3,
        &CurveRange {
            points: 21,
            ..CurveRange::default()
        },
    )
    .unwrap();
    assert_eq!(lb.bits, vec![1, 2, 3]);
    assert_eq!((lb.l.len(), lb.dl.len(), lb.l[2].len()), (3, 3, 21));
    assert!((lb.l[2][20] - 3.0 * std::f64::consts::LN_2).abs() < 1e-9);
    assert!(low_bit_curves(0, &CurveRange::default()).is_err());
    assert!(low_bit_curves(11, &CurveRange::default()).is_err());
}

#[test]
fn catalogs_cover_every_name() {
    let w = weighting_catalog();
    let names: Vec<&str> = w.iter().map(|i| i.name.as_str()).collect();
    assert_eq!(names, elbo_lab::theory::weighting::WEIGHTING_NAMES.to_vec());
    let p2 = w.iter().find(|i| i.name == "p2").unwrap();
    assert_eq!(
        p2.params
            .iter()
            .map(|p| (p.key.as_str(), p.default))
            .collect::<Vec<_>>(),
        vec![("gamma", 1.0), ("k", 1.0)]
    );
    let s = schedule_catalog();
    assert_eq!(s.len(), 6);
    let shifted = s.iter().find(|i| i.name == "shifted-cosine").unwrap();
    assert_eq!(shifted.params[0].default, 128.0);
    serde_json::to_string(&w).unwrap();
}

#[test]
fn params_and_points_parse_with_messages() {
    assert_eq!(parse_param("gamma=5").unwrap(), ("gamma".into(), 5.0));
    assert_eq!(
        parse_param(" sigma_data = -0.5 ").unwrap(),
        ("sigma_data".into(), -0.5)
    );
    assert_eq!(parse_param("k=1e-3").unwrap(), ("k".into(), 1e-3));
    for (bad, needle) in [
        ("gamma", "KEY=VALUE"),
        ("=3", "no valid key"),
        ("1a=3", "no valid key"),
        ("gamma=x", "not a number"),
        ("gamma=inf", "finite"),
        ("gamma=NaN", "finite"),
    ] {
        let e = parse_param(bad).unwrap_err().to_string();
        assert!(e.contains(needle), "{bad}: {e}");
    }
    let e = parse_params(&["k=1", "k=2"]).unwrap_err().to_string();
    assert!(e.contains("more than once"));
    assert_eq!(parse_point("-1.5, 0.3").unwrap(), vec![-1.5, 0.3]);
    assert_eq!(parse_point("2").unwrap(), vec![2.0]);
    for bad in ["", " , ", "1,,2", "1,a", "nan"] {
        assert!(parse_point(bad).is_err(), "{bad}");
    }
}
