//! App. J's Fourier analysis (Fig. 6, 7): the DFT power spectrum against Parseval and pure
//! tones, white noise's flat spectrum, and the real MNIST digits' spectrum, whose decay is why
//! noise drowns high frequencies first.
#![cfg(not(target_arch = "wasm32"))]

use elbo_lab::data::mnist::{decode_images, Images, TEST_IMAGES_FILE};
use elbo_lab::data::spectrum::{power_spectrum, radial_average, Spectrum};
use rand::{rngs::StdRng, SeedableRng};
use rand_distr::{Distribution, StandardNormal};

#[test]
fn the_power_spectrum_obeys_parseval_and_puts_a_tone_at_its_frequency() {
    let n = 28;
    let mut rng = StdRng::seed_from_u64(1);
    let image: Vec<f64> = (0..n * n)
        .map(|_| StandardNormal.sample(&mut rng))
        .collect();
    let power = power_spectrum(&image, n);
    let energy: f64 = image.iter().map(|v| v * v).sum();
    let total: f64 = power.iter().sum();
    assert!(
        (total - (n * n) as f64 * energy).abs() < 1e-9 * total,
        "Parseval"
    );

    // cos(2π·3·c/n) along rows: all its power sits at (0, ±3), i.e. radius 3.
    let tone: Vec<f64> = (0..n * n)
        .map(|p| (2.0 * std::f64::consts::PI * 3.0 * (p % n) as f64 / n as f64).cos())
        .collect();
    let radial = radial_average(&power_spectrum(&tone, n), n);
    let peak = radial
        .iter()
        .enumerate()
        .max_by(|a, b| a.1.total_cmp(b.1))
        .unwrap()
        .0;
    assert_eq!(peak, 3);
    let elsewhere: f64 = radial
        .iter()
        .enumerate()
        .filter(|(f, _)| *f != 3)
        .map(|(_, p)| p)
        .sum();
    assert!(elsewhere < 1e-12 * radial[3], "{radial:?}");
}

#[test]
fn white_noise_has_the_flat_spectrum_the_analysis_assumes() {
    // The exact S_ε = n² used for the noise curve, against sampled unit noise.
    let n = 28;
    let mut rng = StdRng::seed_from_u64(2);
    let count = 400;
    let mut mean = vec![0.0; n / 2 + 1];
    for _ in 0..count {
        let image: Vec<f64> = (0..n * n)
            .map(|_| StandardNormal.sample(&mut rng))
            .collect();
        for (m, p) in mean
            .iter_mut()
            .zip(radial_average(&power_spectrum(&image, n), n))
        {
            *m += p / count as f64;
        }
    }
    for (f, m) in mean.iter().enumerate().skip(1) {
        let relative = m / (n * n) as f64 - 1.0;
        assert!(relative.abs() < 0.1, "radius {f}: {m} vs {}", n * n);
    }
}

fn mnist_test_images() -> Images {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("data/mnist")
        .join(TEST_IMAGES_FILE);
    let bytes = std::fs::read(&path)
        .unwrap_or_else(|e| panic!("{}: {e}; `make data` fetches MNIST", path.display()));
    decode_images(&bytes).unwrap()
}

#[test]
fn mnist_power_falls_with_frequency_so_noise_drowns_high_frequencies_first() {
    let spectrum = Spectrum::of_images(&mnist_test_images(), 1000).unwrap();
    assert_eq!(spectrum.images, 1000);
    assert_eq!(spectrum.frequency.len(), 15);
    let s = &spectrum.data_power;
    // Digits are smooth strokes: two orders of magnitude less power at 14 than at 1 cycle.
    assert!(s[1] > 100.0 * s[14], "{s:?}");
    // Fig. 7: at every λ the low band has the highest log-SNR, the high band the lowest, and the
    // gap does not depend on λ (the lines are parallel: λ̃ = λ + const).
    for lambda in [-6.0, 0.0, 4.0] {
        let (low, mid, high) = (
            spectrum.band_log_snr(1, 4, lambda),
            spectrum.band_log_snr(5, 9, lambda),
            spectrum.band_log_snr(10, 14, lambda),
        );
        assert!(low > mid && mid > high, "λ={lambda}: {low} {mid} {high}");
        let gap = low - spectrum.band_log_snr(1, 4, 0.0);
        assert!((gap - lambda).abs() < 1e-12);
    }
    // Fig. 6: as λ falls the first drowned frequency moves down from the top to the bottom.
    let drowned: Vec<Option<f64>> = [8.0, 2.0, -2.0, -6.0]
        .iter()
        .map(|l| spectrum.drowned_from(*l))
        .collect();
    let finite: Vec<f64> = drowned.iter().flatten().copied().collect();
    assert!(finite.windows(2).all(|w| w[1] <= w[0]), "{drowned:?}");
    assert!(
        finite.first().copied().unwrap_or(0.0) > *finite.last().unwrap(),
        "{drowned:?}"
    );
}

#[test]
fn the_spectrum_refuses_unusable_images() {
    let empty = Images {
        n: 0,
        rows: 28,
        cols: 28,
        pixels: Vec::new(),
    };
    assert!(Spectrum::of_images(&empty, 10)
        .unwrap_err()
        .to_string()
        .contains("at least one"));
    let oblong = Images {
        n: 1,
        rows: 2,
        cols: 3,
        pixels: vec![0; 6],
    };
    assert!(Spectrum::of_images(&oblong, 1)
        .unwrap_err()
        .to_string()
        .contains("square"));
}
