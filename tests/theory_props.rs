//! Property tests: every schedule, weighting, target and parser stays finite (or returns an
//! error) for any valid input over λ ∈ [-20, 20] and t ∈ [0, 1], and never panics.

use std::collections::BTreeMap;

use elbo_lab::api::{parse_param, parse_point};
use elbo_lab::theory::adaptive::AdaptiveSchedule;
use elbo_lab::theory::gmm::Gmm;
use elbo_lab::theory::param::{Target, Vp};
use elbo_lab::theory::schedule::{Schedule, ScheduleKind};
use elbo_lab::theory::weighting::{implied_log_weighting, LossMultiplier, Weighting};
use proptest::prelude::*;

fn schedule_kind() -> impl Strategy<Value = ScheduleKind> {
    prop_oneof![
        Just(ScheduleKind::Cosine),
        (8.0f64..4096.0).prop_map(|resolution| ScheduleKind::ShiftedCosine { resolution }),
        (0.0f64..1.0, 1.0f64..40.0)
            .prop_map(|(beta_min, beta_max)| ScheduleKind::Linear { beta_min, beta_max }),
        (-5.0f64..5.0, 0.5f64..5.0).prop_map(|(mean, std)| ScheduleKind::EdmTrain { mean, std }),
        (1.0f64..10.0, 0.001f64..0.1, 10.0f64..200.0).prop_map(|(rho, sigma_min, sigma_max)| {
            ScheduleKind::EdmSample {
                rho,
                sigma_min,
                sigma_max,
            }
        }),
        Just(ScheduleKind::FmOt),
    ]
}

fn weighting() -> impl Strategy<Value = Weighting> {
    let p = |items: Vec<(&str, f64)>| -> BTreeMap<String, f64> {
        items.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
    };
    prop_oneof![
        prop::sample::select(vec![
            "elbo",
            "iddpm",
            "edm",
            "v-cosine",
            "fm-ot",
            "indi",
            "edm-monotonic",
            "low-bit"
        ])
        .prop_map(|n| Weighting::new(n, &BTreeMap::new(), None).unwrap()),
        (0.0f64..10.0, 0.0f64..10.0).prop_map(move |(g, k)| Weighting::new(
            "p2",
            &p(vec![("gamma", g), ("k", k)]),
            None
        )
        .unwrap()),
        (0.01f64..100.0)
            .prop_map(move |g| Weighting::new("min-snr", &p(vec![("gamma", g)]), None).unwrap()),
        (-10.0f64..10.0)
            .prop_map(move |k| Weighting::new("sigmoid", &p(vec![("k", k)]), None).unwrap()),
    ]
}

fn target() -> impl Strategy<Value = Target> {
    prop_oneof![
        Just(Target::Eps),
        Just(Target::X),
        Just(Target::V),
        (0.05f64..5.0).prop_map(|sigma_data| Target::F { sigma_data }),
        Just(Target::Score),
        Just(Target::O),
    ]
}

fn range() -> impl Strategy<Value = (f64, f64)> {
    (-20.0f64..19.0, 0.5f64..40.0).prop_map(|(lo, width)| (lo, (lo + width).min(20.0)))
}

proptest! {
    // 2000 cases per property (about 0.1 s in all); failures are reported, not saved to files.
    #![proptest_config(ProptestConfig { cases: 2000, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn schedules_are_finite(kind in schedule_kind(), (lo, hi) in range(), t in 0.0f64..=1.0, l in -20.0f64..=20.0) {
        // A range deep in a tail of a narrow EDM schedule has no mass in f64: refused, not NaN.
        let s = match Schedule::new(kind, lo, hi) {
            Ok(s) => s,
            Err(e) => {
                prop_assert!(e.to_string().contains("no mass"), "{e}");
                return Ok(());
            }
        };
        let lambda = s.lambda(t);
        prop_assert!(lambda.is_finite() && lambda >= lo && lambda <= hi);
        prop_assert!(s.p_lambda(lambda).is_finite());
        prop_assert!(s.dlambda_dt(t).is_finite() && s.dlambda_dt(t) < 0.0);
        let tl = s.t_of_lambda(l);
        prop_assert!((0.0..=1.0).contains(&tl));
        prop_assert!(s.p_lambda(l).is_finite() && s.p_lambda(l) >= 0.0);
    }

    #[test]
    fn weightings_are_finite_and_non_negative(w in weighting(), l in -20.0f64..=20.0, kind in schedule_kind(), t in 0.0f64..=1.0) {
        prop_assert!(w.w(l).is_finite() && w.w(l) >= 0.0, "{} at {l}", w.name());
        prop_assert!(w.dw(l).is_finite());
        prop_assert!(!w.log_w(l).is_nan());
        let s = Schedule::new(kind, -20.0, 20.0).unwrap();
        prop_assert!(w.p_w(&s, t).is_finite());
        prop_assert!(w.dirac_mass(-20.0, 20.0).is_finite());
    }

    #[test]
    fn targets_and_implied_weightings_are_finite(
        tg in target(), kind in schedule_kind(), l in -20.0f64..=20.0,
        x in -10.0f64..10.0, eps in -10.0f64..10.0, gamma in 0.1f64..10.0,
    ) {
        let f = tg.loss_factor(l);
        prop_assert!(f.is_finite() && f > 0.0);
        let vp = Vp::new(l);
        let z = vp.z(x, eps);
        let value = tg.from_eps(&vp, z, eps);
        prop_assert!(value.is_finite());
        prop_assert!(tg.to_eps(&vp, z, value).is_finite());
        let s = Schedule::new(kind, -20.0, 20.0).unwrap();
        for m in [LossMultiplier::None, LossMultiplier::Elbo, LossMultiplier::P2 { gamma, k: 1.0 }, LossMultiplier::MinSnr { gamma }] {
            prop_assert!(implied_log_weighting(&tg, &s, &m, l).is_finite());
        }
    }

    #[test]
    fn parsers_never_panic(text in ".{0,80}", formula in "[-+*/^(),. 0-9a-z]{0,40}") {
        let _ = parse_param(&text);
        let _ = parse_point(&text);
        let _ = Gmm::from_json(&text);
        if let Ok(w) = Weighting::new("expr", &BTreeMap::new(), Some(&formula)) {
            let _ = w.validate_on(-20.0, 20.0, 41);
            let _ = w.is_monotonic(-20.0, 20.0);
        }
    }

    #[test]
    fn adaptive_schedule_stays_normalised(
        updates in prop::collection::vec(prop::collection::vec((-20.0f64..=20.0, 0.0f64..1e6), 1..20), 1..20),
        u in 0.0f64..1.0,
    ) {
        let mut s = AdaptiveSchedule::new(-20.0, 20.0).unwrap();
        for batch in updates {
            let (l, v): (Vec<f64>, Vec<f64>) = batch.into_iter().unzip();
            s.update(&l, &v).unwrap();
        }
        let mass: f64 = (0..100).map(|b| s.p_lambda(s.edge(b) + 0.2) * 0.4).sum();
        prop_assert!((mass - 1.0).abs() < 1e-9);
        let l = s.sample(u);
        prop_assert!((-20.0..=20.0).contains(&l));
    }
}
