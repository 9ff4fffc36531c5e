//! App. F / H adaptive schedule: normalisation, inverse, sampling, and convergence of the EMA.

use std::collections::BTreeMap;

use elbo_lab::theory::adaptive::AdaptiveSchedule;
use elbo_lab::theory::quadrature::integrate_adaptive;
use elbo_lab::theory::weighting::Weighting;

fn trained(g: impl Fn(f64) -> f64, steps: usize) -> AdaptiveSchedule {
    let mut s = AdaptiveSchedule::new(-20.0, 20.0).unwrap();
    let centres: Vec<f64> = (0..100).map(|b| -20.0 + 0.4 * (b as f64 + 0.5)).collect();
    let values: Vec<f64> = centres.iter().map(|&l| g(l)).collect();
    for _ in 0..steps {
        s.update(&centres, &values).unwrap();
    }
    s
}

#[test]
fn starts_uniform_and_stays_normalised() {
    let s = AdaptiveSchedule::new(-20.0, 20.0).unwrap();
    assert_eq!(s.bins(), 100);
    assert!(s.ema().iter().all(|&e| e == 1.0));
    assert!((s.p_lambda(3.3) - 1.0 / 40.0).abs() < 1e-15);
    let s = trained(|l| (-0.5 * (l - 2.0).powi(2) / 9.0).exp() + 0.01, 3000);
    let edges: Vec<f64> = (0..=100).map(|b| s.edge(b)).collect();
    let mass: f64 = edges
        .windows(2)
        .map(|e| {
            integrate_adaptive(|l| s.p_lambda(l), e[0], e[1], 1e-14, 1e-14, 50)
                .unwrap()
                .value
        })
        .sum();
    assert!((mass - 1.0).abs() < 1e-12, "∫p = {mass}");
    assert_eq!(s.p_lambda(-20.5), 0.0);
    assert_eq!(s.p_lambda(20.5), 0.0);
}

#[test]
fn t_and_lambda_are_inverse_piecewise_linear_maps() {
    let s = trained(|l| 1.0 + l.sin().abs() * 3.0, 500);
    assert_eq!(s.lambda(0.0), 20.0);
    assert_eq!(s.lambda(1.0), -20.0);
    for i in 0..=1000 {
        let l = -20.0 + 0.04 * i as f64;
        let back = s.lambda(s.t_of_lambda(l));
        assert!((back - l).abs() < 1e-9, "λ={l}: {back}");
    }
    for i in 0..=200 {
        let t = i as f64 / 200.0;
        assert!((s.t_of_lambda(s.lambda(t)) - t).abs() < 1e-12);
        let lam = s.lambda(t);
        if t > 0.0 && t < 1.0 {
            assert!(
                (s.dlambda_dt(t) + 1.0 / s.p_lambda(lam)).abs() < 1e-12 * s.dlambda_dt(t).abs()
            );
        }
    }
    // -dt/dλ = p: the t map's slope inside a bin is the bin's density.
    let l = 1.23;
    let h = 1e-4;
    let fd = -(s.t_of_lambda(l + h) - s.t_of_lambda(l - h)) / (2.0 * h);
    assert!((fd - s.p_lambda(l)).abs() < 1e-9);
}

#[test]
fn sampling_follows_the_density() {
    let s = trained(|l| (-(l * l) / 20.0).exp() + 0.05, 4000);
    let n = 200_000;
    let mut counts = vec![0usize; 100];
    for i in 0..n {
        // Stratified uniforms: the histogram must match the bin masses to within one sample.
        let u = (i as f64 + 0.5) / n as f64;
        let l = s.sample(u);
        assert!((-20.0..=20.0).contains(&l));
        let b = (((l + 20.0) / 0.4).floor() as usize).min(99);
        counts[b] += 1;
    }
    for (b, &c) in counts.iter().enumerate() {
        let mass = s.p_lambda(s.edge(b) + 0.2) * 0.4;
        assert!(
            (c as f64 - mass * n as f64).abs() <= 1.5,
            "bin {b}: {c} vs {}",
            mass * n as f64
        );
    }
}

#[test]
fn the_density_becomes_proportional_to_the_loss() {
    // After many updates the EMA forgets its initial 1 (0.999^20000 ≈ 2e-9): p ∝ g per bin.
    let g = |l: f64| 0.1 + (1.0 + (0.3 * l).tanh()) * (-(l - 1.0).powi(2) / 50.0).exp();
    let s = trained(g, 20_000);
    let ratios: Vec<f64> = (0..100)
        .map(|b| {
            let c = s.edge(b) + 0.2;
            s.p_lambda(c) / g(c)
        })
        .collect();
    let mean = ratios.iter().sum::<f64>() / 100.0;
    for r in &ratios {
        assert!((r / mean - 1.0).abs() < 1e-6, "{r} vs {mean}");
    }
}

#[test]
fn importance_weights_give_an_unbiased_weighted_loss() {
    // Eq. 135: E_{λ~p}[w(λ)/p(λ) h(λ)] = ∫ w h dλ for any full-support p.
    let s = trained(|l| 1.0 / (1.0 + (l / 5.0).powi(2)), 800);
    let w = Weighting::new("sigmoid", &BTreeMap::new(), None).unwrap();
    let h = |l: f64| 1.0 + 0.5 * (0.2 * l).sin();
    let n = 400_000;
    let estimate: f64 = (0..n)
        .map(|i| {
            let l = s.sample((i as f64 + 0.5) / n as f64);
            s.importance_weight(&w, l) * h(l)
        })
        .sum::<f64>()
        / n as f64;
    let exact = integrate_adaptive(|l| w.w(l) * h(l), -20.0, 20.0, 1e-12, 1e-12, 500)
        .unwrap()
        .value;
    assert!(
        (estimate - exact).abs() < 1e-6 * exact,
        "{estimate} vs {exact}"
    );
}

#[test]
fn bad_updates_are_refused_and_change_nothing() {
    let mut s = AdaptiveSchedule::new(-5.0, 5.0).unwrap();
    let before = s.clone();
    let e = s.update(&[0.0, 1.0], &[1.0]).unwrap_err().to_string();
    assert!(e.contains("one value per λ"), "{e}");
    let e = s.update(&[0.0, 7.0], &[1.0, 1.0]).unwrap_err().to_string();
    assert!(e.contains("outside") && e.contains("[-5, 5]"), "{e}");
    assert!(s
        .update(&[0.0], &[-1.0])
        .unwrap_err()
        .to_string()
        .contains("≥ 0"));
    assert!(s.update(&[0.0], &[f64::NAN]).is_err());
    assert!(s.update(&[f64::NAN], &[1.0]).is_err());
    assert!(s.update(&[0.0], &[f64::MAX]).is_ok() || s == before);
    let mut s = before.clone();
    assert!(s.update(&[0.0, 1.0], &[f64::MAX, f64::MAX]).is_ok());
    assert!(AdaptiveSchedule::new(1.0, 1.0).is_err());
    assert!(AdaptiveSchedule::with_options(-1.0, 1.0, 0, 0.9, 1.0).is_err());
    assert!(AdaptiveSchedule::with_options(-1.0, 1.0, 10, 1.0, 1.0).is_err());
    assert!(AdaptiveSchedule::with_options(-1.0, 1.0, 10, 0.9, 0.0).is_err());
    // Values exactly at the range ends land in the edge bins.
    let mut s = AdaptiveSchedule::new(-5.0, 5.0).unwrap();
    s.update(&[-5.0, 5.0], &[3.0, 3.0]).unwrap();
    assert!(s.ema()[0] > 1.0 && s.ema()[99] > 1.0);
}
