//! App. J's Fourier analysis on MNIST digits for the page (Fig. 6 and 7): the spectra are
//! computed once from the digits the page fetched; each λ only rescales them.

use rand::{rngs::StdRng, SeedableRng};
use rand_distr::{Distribution, StandardNormal};
use serde::Serialize;
use wasm_bindgen::prelude::*;

use super::to_js;
use crate::data::mnist::{decode_images, Images};
use crate::data::spectrum::Spectrum;
use crate::theory::numeric::sigmoid;

/// The frequency bands of Fig. 7 (radii in cycles per image, inclusive).
const BANDS: [(&str, usize, usize); 3] = [
    ("low (1–4 cycles)", 1, 4),
    ("middle (5–9)", 5, 9),
    ("high (10–14)", 10, 14),
];

#[wasm_bindgen]
pub struct FourierView {
    images: Images,
    spectrum: Spectrum,
}

#[derive(Serialize)]
struct AtLambda {
    alpha2: f64,
    sigma2: f64,
    /// Frequencies 1..=n/2 (the mean, frequency 0, is left out as in the figure).
    frequency: Vec<f64>,
    /// α²·S_x(f) and σ²·S_ε(f).
    data: Vec<f64>,
    noise: Vec<f64>,
    /// The lowest frequency the noise drowns at this λ (none: the data win everywhere).
    drowned_from: Option<f64>,
}

#[derive(Serialize)]
struct Band {
    label: &'static str,
    log_snr: Vec<f64>,
}

#[derive(Serialize)]
struct Bands {
    lambda: Vec<f64>,
    bands: Vec<Band>,
}

#[wasm_bindgen]
impl FourierView {
    /// From the bytes of an IDX image file; the spectrum averages its first `count` images.
    #[wasm_bindgen(constructor)]
    pub fn new(idx_bytes: &[u8], count: u32) -> Result<FourierView, JsError> {
        let images = decode_images(idx_bytes).map_err(|e| JsError::new(&e.to_string()))?;
        let spectrum = Spectrum::of_images(&images, count as usize)
            .map_err(|e| JsError::new(&e.to_string()))?;
        Ok(Self { images, spectrum })
    }

    /// How many images the spectrum averages.
    pub fn images(&self) -> u32 {
        self.spectrum.images as u32
    }

    /// Fig. 6 at log-SNR λ.
    pub fn at(&self, lambda: f64) -> Result<JsValue, JsError> {
        check_lambda(lambda)?;
        let (alpha2, sigma2) = (sigmoid(lambda), sigmoid(-lambda));
        let s = &self.spectrum;
        to_js(&AtLambda {
            alpha2,
            sigma2,
            frequency: s.frequency[1..].to_vec(),
            data: s.data_power[1..].iter().map(|p| alpha2 * p).collect(),
            noise: s.noise_power[1..].iter().map(|p| sigma2 * p).collect(),
            drowned_from: s.drowned_from(lambda),
        })
    }

    /// Fig. 7: the log-SNR λ̃ of each frequency band against λ on `points` values in [min, max].
    #[wasm_bindgen(js_name = bandLogSnr)]
    pub fn band_log_snr(
        &self,
        lambda_min: f64,
        lambda_max: f64,
        points: u32,
    ) -> Result<JsValue, JsError> {
        check_lambda(lambda_min)?;
        check_lambda(lambda_max)?;
        if lambda_min >= lambda_max || !(2..=10_000).contains(&points) {
            return Err(JsError::new(&format!(
                "need λ_min < λ_max and 2 to 10000 points, got [{lambda_min}, {lambda_max}] and {points}"
            )));
        }
        let lambda: Vec<f64> = (0..points)
            .map(|i| lambda_min + (lambda_max - lambda_min) * f64::from(i) / f64::from(points - 1))
            .collect();
        let bands = BANDS
            .iter()
            .map(|(label, lo, hi)| Band {
                label,
                log_snr: lambda
                    .iter()
                    .map(|l| self.spectrum.band_log_snr(*lo, *hi, *l))
                    .collect(),
            })
            .collect();
        to_js(&Bands { lambda, bands })
    }

    /// Digit `index` noised to z_λ = αx + σε (x in [−1, 1]), as RGBA pixels for a canvas, with a
    /// fixed noise image per `seed` so that moving λ shows the same noise growing.
    #[wasm_bindgen(js_name = noisyDigit)]
    pub fn noisy_digit(&self, index: u32, lambda: f64, seed: u32) -> Result<Vec<u8>, JsError> {
        check_lambda(lambda)?;
        let pixels = self
            .images
            .image(index as usize)
            .ok_or_else(|| JsError::new(&format!("no image {index}")))?;
        let (alpha, sigma) = (sigmoid(lambda).sqrt(), sigmoid(-lambda).sqrt());
        let mut rng = StdRng::seed_from_u64(u64::from(seed));
        let mut rgba = Vec::with_capacity(4 * pixels.len());
        for p in pixels {
            let e: f64 = StandardNormal.sample(&mut rng);
            let z = alpha * (f64::from(*p) / 127.5 - 1.0) + sigma * e;
            // z spans about ±3 at any λ (VP keeps unit scale); map [−2, 2] to black..white.
            let v = (((z + 2.0) / 4.0).clamp(0.0, 1.0) * 255.0).round() as u8;
            rgba.extend_from_slice(&[v, v, v, 255]);
        }
        Ok(rgba)
    }
}

fn check_lambda(lambda: f64) -> Result<(), JsError> {
    if lambda.is_finite() {
        Ok(())
    } else {
        Err(JsError::new(&format!(
            "λ must be a finite number, got {lambda}"
        )))
    }
}
