//! App. J's Fourier analysis of noise perturbation: the circularly averaged power spectrum of
//! images against that of white noise, and the per-frequency log-SNR it implies (Fig. 6, 7).
//!
//! The DFT is linear, so F(z_λ) = α F(x) + σ F(ε): at frequency radius f the data contribute
//! α²·S_x(f) and the noise σ²·S_ε(f), where S = |F|² averaged over the circle of radius f and
//! over images. Unit white noise has E|F(ε)(k)|² = N (the number of pixels) at every k for the
//! unnormalised DFT, so S_ε is flat and the log-SNR of frequency band B is
//! λ̃_B(λ) = λ + log(mean_B S_x / N): the same line for every band, shifted by how much power
//! the data have there.

use super::error::DataError;
use super::mnist::Images;

/// Images are mapped from bytes 0..=255 to [−1, 1], the scale the diffusion models use.
fn to_signed_unit(byte: u8) -> f64 {
    f64::from(byte) / 127.5 - 1.0
}

/// |DFT|² of a square n×n image (row-major), unnormalised: Σ_k |F_k|² = n² Σ_p x_p²
/// (Parseval). Separable: a 1-D DFT of every row, then of every column, O(n³).
pub fn power_spectrum(image: &[f64], n: usize) -> Vec<f64> {
    assert_eq!(image.len(), n * n, "power_spectrum needs n×n pixels");
    let twiddle: Vec<(f64, f64)> = (0..n)
        .map(|k| {
            let angle = -2.0 * std::f64::consts::PI * k as f64 / n as f64;
            (angle.cos(), angle.sin())
        })
        .collect();
    // Rows: real input, complex output.
    let mut rows = vec![(0.0, 0.0); n * n];
    for r in 0..n {
        for k in 0..n {
            let (mut re, mut im) = (0.0, 0.0);
            for c in 0..n {
                let (cos, sin) = twiddle[(k * c) % n];
                re += image[r * n + c] * cos;
                im += image[r * n + c] * sin;
            }
            rows[r * n + k] = (re, im);
        }
    }
    let mut power = vec![0.0; n * n];
    for kc in 0..n {
        for kr in 0..n {
            let (mut re, mut im) = (0.0, 0.0);
            for r in 0..n {
                let (a, b) = rows[r * n + kc];
                let (cos, sin) = twiddle[(kr * r) % n];
                re += a * cos - b * sin;
                im += a * sin + b * cos;
            }
            power[kr * n + kc] = re * re + im * im;
        }
    }
    power
}

/// Signed frequency of DFT index k: 0, 1, …, n/2, then −(n/2 − 1), …, −1.
fn signed(k: usize, n: usize) -> f64 {
    if k <= n / 2 {
        k as f64
    } else {
        k as f64 - n as f64
    }
}

/// Circular average of an n×n power spectrum over integer frequency radii 0..=n/2 (cycles per
/// image; a DFT index belongs to the radius nearest to √(k_x² + k_y²); the corners beyond n/2 are
/// left out, as their circles are incomplete).
pub fn radial_average(power: &[f64], n: usize) -> Vec<f64> {
    let bins = n / 2 + 1;
    let (mut sum, mut count) = (vec![0.0; bins], vec![0usize; bins]);
    for kr in 0..n {
        for kc in 0..n {
            let radius = signed(kr, n).hypot(signed(kc, n)).round() as usize;
            if radius < bins {
                sum[radius] += power[kr * n + kc];
                count[radius] += 1;
            }
        }
    }
    sum.iter()
        .zip(&count)
        .map(|(s, c)| s / (*c).max(1) as f64)
        .collect()
}

/// The mean circular power spectrum of a set of square images, and the flat spectrum of unit
/// white noise on the same grid.
#[derive(Debug, Clone, PartialEq)]
pub struct Spectrum {
    /// Frequency radius in cycles per image, 0..=n/2.
    pub frequency: Vec<f64>,
    /// S_x(f): mean over images of the circular average of |F(x)|², x in [−1, 1].
    pub data_power: Vec<f64>,
    /// S_ε(f) = n² (the pixel count) for unit white noise, exactly.
    pub noise_power: Vec<f64>,
    pub images: usize,
}

impl Spectrum {
    /// The mean spectrum of the first `count` images (at least one, square images only).
    pub fn of_images(images: &Images, count: usize) -> Result<Self, DataError> {
        let n = images.rows;
        if images.cols != n {
            return Err(DataError::SpectrumInput(format!(
                "the spectrum needs square images, got {}×{}",
                images.rows, images.cols
            )));
        }
        let used = count.min(images.n);
        if used == 0 {
            return Err(DataError::SpectrumInput(
                "the spectrum needs at least one image".into(),
            ));
        }
        let mut data_power = vec![0.0; n / 2 + 1];
        for i in 0..used {
            let pixels: Vec<f64> = images
                .image(i)
                .unwrap_or_default()
                .iter()
                .map(|b| to_signed_unit(*b))
                .collect();
            for (acc, p) in data_power
                .iter_mut()
                .zip(radial_average(&power_spectrum(&pixels, n), n))
            {
                *acc += p / used as f64;
            }
        }
        Ok(Self {
            frequency: (0..=n / 2).map(|f| f as f64).collect(),
            noise_power: vec![(n * n) as f64; n / 2 + 1],
            data_power,
            images: used,
        })
    }

    /// log(S_x(f)/S_ε(f)) per frequency: the log-SNR at frequency f is λ plus this (App. J).
    pub fn log_power_ratio(&self) -> Vec<f64> {
        self.data_power
            .iter()
            .zip(&self.noise_power)
            .map(|(x, e)| (x / e).ln())
            .collect()
    }

    /// λ̃ of the frequency band [lo, hi] (inclusive radii) at data log-SNR λ: λ + log of the
    /// band's mean data power over the noise power (Fig. 7).
    pub fn band_log_snr(&self, lo: usize, hi: usize, lambda: f64) -> f64 {
        let band: Vec<usize> = (lo..=hi.min(self.frequency.len() - 1)).collect();
        let data = band.iter().map(|&f| self.data_power[f]).sum::<f64>() / band.len().max(1) as f64;
        let noise =
            band.iter().map(|&f| self.noise_power[f]).sum::<f64>() / band.len().max(1) as f64;
        lambda + (data / noise).ln()
    }

    /// The lowest non-zero frequency at which the noise's power σ²S_ε exceeds the data's α²S_x
    /// at log-SNR λ (every higher frequency is drowned too when S_x decreases), if any.
    pub fn drowned_from(&self, lambda: f64) -> Option<f64> {
        self.log_power_ratio()
            .iter()
            .enumerate()
            .skip(1)
            .find(|(_, r)| lambda + **r < 0.0)
            .map(|(f, _)| self.frequency[f])
    }
}
