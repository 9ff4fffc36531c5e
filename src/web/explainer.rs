//! `wasm-bindgen` exports of the explainer's widgets: thin conversions to [`crate::api`].

use std::cell::RefCell;
use std::rc::Rc;

use serde::Deserialize;
use wasm_bindgen::prelude::*;

use super::{from_js, to_js};
use crate::api;

fn theory_error(e: crate::theory::TheoryError) -> JsError {
    JsError::new(&e.to_string())
}

/// `{gmm, x: "x1,x2", weighting: {name, params?, expression?}, lambda_min, lambda_max, strips}`.
#[derive(Deserialize)]
struct AreaRequest {
    gmm: String,
    /// Comma-separated coordinates, e.g. `-1.2,-0.6`.
    x: String,
    weighting: api::WeightingSpec,
    lambda_min: f64,
    lambda_max: f64,
    strips: usize,
}

/// Theorem 1's area picture (Eq. 28–31, App. B) with its Riemann strips.
#[wasm_bindgen(js_name = areaPicture)]
pub fn area_picture(request: JsValue) -> Result<JsValue, JsError> {
    let r: AreaRequest = from_js(request, "area request")?;
    let x = api::parse_point(&r.x).map_err(theory_error)?;
    let picture = api::area_picture(
        &r.gmm,
        &x,
        &r.weighting,
        r.lambda_min,
        r.lambda_max,
        r.strips,
    )
    .map_err(theory_error)?;
    to_js(&picture)
}

/// `{loss: TrainedLoss, weighting, strips}`: the area picture of a model trained in the page.
#[derive(Deserialize)]
struct TrainedAreaRequest {
    loss: api::TrainedLoss,
    weighting: api::WeightingSpec,
    strips: usize,
}

/// Theorem 1's area picture from a trained model's per-λ loss (the trainer's `trainedLoss()`).
#[wasm_bindgen(js_name = areaPictureFromLoss)]
pub fn area_picture_from_loss(request: JsValue) -> Result<JsValue, JsError> {
    let r: TrainedAreaRequest = from_js(request, "trained-model area request")?;
    let picture =
        api::area_picture_from_loss(&r.loss, &r.weighting, r.strips).map_err(theory_error)?;
    to_js(&picture)
}

/// The losses of the implied-weighting widget (`[{name, label, latex, schedule, ...}]`).
#[wasm_bindgen(js_name = lossPresets)]
pub fn loss_presets() -> Result<JsValue, JsError> {
    to_js(&api::loss_presets())
}

/// `{loss, schedule?, gamma?, range: {lambda_min, lambda_max, points}}`.
#[derive(Deserialize)]
struct ImpliedRequest {
    loss: String,
    #[serde(default)]
    schedule: Option<String>,
    #[serde(default)]
    gamma: Option<f64>,
    range: api::CurveRange,
}

/// A loss's implied weighting (App. D) next to its Table 1 row.
#[wasm_bindgen(js_name = impliedComparison)]
pub fn implied_comparison(request: JsValue) -> Result<JsValue, JsError> {
    let r: ImpliedRequest = from_js(request, "implied-weighting request")?;
    let c = api::implied_comparison(&r.loss, r.schedule.as_deref(), r.gamma, &r.range)
        .map_err(theory_error)?;
    to_js(&c)
}

thread_local! {
    /// The loss moments of the last (mixture, point, range): changing the weighting, the sample
    /// count or the seed then costs only the sums and the Monte Carlo draws.
    static MOMENTS: RefCell<Option<(String, Rc<api::LossMoments>)>> = const { RefCell::new(None) };
}

/// `{gmm, x: "x1,x2", weighting, lambda_min, lambda_max, samples, seed}`: a Monte Carlo
/// experiment on one mixture point (the estimator and augmentation widgets).
#[derive(Deserialize)]
struct SampledRequest {
    gmm: String,
    x: String,
    weighting: api::WeightingSpec,
    lambda_min: f64,
    lambda_max: f64,
    samples: usize,
    seed: u32,
}

/// Sec. 3.2: the weighted loss estimated under every schedule, with exact variances (App. F's
/// adaptive schedule included).
#[wasm_bindgen(js_name = estimatorReport)]
pub fn estimator_report(request: JsValue) -> Result<JsValue, JsError> {
    let r: SampledRequest = from_js(request, "estimator request")?;
    let x = api::parse_point(&r.x).map_err(theory_error)?;
    let key = format!("{}|{x:?}|{}|{}", r.gmm, r.lambda_min, r.lambda_max);
    let moments = MOMENTS.with(|cache| -> Result<Rc<api::LossMoments>, JsError> {
        if let Some((k, m)) = cache.borrow().as_ref() {
            if *k == key {
                return Ok(Rc::clone(m));
            }
        }
        let m = Rc::new(
            api::loss_moments(&r.gmm, &x, r.lambda_min, r.lambda_max).map_err(theory_error)?,
        );
        *cache.borrow_mut() = Some((key, Rc::clone(&m)));
        Ok(m)
    })?;
    let report = api::estimator_report_from(&moments, &r.weighting, r.samples, u64::from(r.seed))
        .map_err(theory_error)?;
    to_js(&report)
}

/// Theorem 1 as data augmentation: both sides and the augmented samples.
#[wasm_bindgen(js_name = augmentationReport)]
pub fn augmentation_report(request: JsValue) -> Result<JsValue, JsError> {
    let r: SampledRequest = from_js(request, "augmentation request")?;
    let x = api::parse_point(&r.x).map_err(theory_error)?;
    let report = api::augmentation_report(
        &r.gmm,
        &x,
        &r.weighting,
        r.lambda_min,
        r.lambda_max,
        r.samples,
        u64::from(r.seed),
    )
    .map_err(theory_error)?;
    to_js(&report)
}

/// `{gmm, x: "x1,x2", lambda_min, lambda_max}`.
#[derive(Deserialize)]
struct KlFisherRequest {
    gmm: String,
    x: String,
    lambda_min: f64,
    lambda_max: f64,
}

/// App. G, Eq. 138: the KL's rise against the integrated Fisher divergence.
#[wasm_bindgen(js_name = klFisherCurve)]
pub fn kl_fisher_curve(request: JsValue) -> Result<JsValue, JsError> {
    let r: KlFisherRequest = from_js(request, "KL–Fisher request")?;
    let x = api::parse_point(&r.x).map_err(theory_error)?;
    let curve =
        api::kl_fisher_curve(&r.gmm, &x, r.lambda_min, r.lambda_max).map_err(theory_error)?;
    to_js(&curve)
}

/// `{max_bits, range: {lambda_min, lambda_max, points}}`.
#[derive(Deserialize)]
struct LowBitRequest {
    max_bits: u32,
    range: api::CurveRange,
}

/// Fig. 5 (App. I): where each bit of n-bit data lives along λ.
#[wasm_bindgen(js_name = lowBitPicture)]
pub fn low_bit_picture(request: JsValue) -> Result<JsValue, JsError> {
    let r: LowBitRequest = from_js(request, "low-bit request")?;
    to_js(&api::low_bit_picture(r.max_bits, &r.range).map_err(theory_error)?)
}
