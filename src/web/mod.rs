//! The `wasm-bindgen` API the page calls: thin conversions to and from [`crate::api`], plus the
//! GPU-backed views. No maths lives here; errors become `JsError`s with the theory's message.

mod density_view;
mod explainer;
mod spectrum;
mod trainer;

use serde::{de::DeserializeOwned, Serialize};
use wasm_bindgen::prelude::*;

use crate::api;

pub use density_view::DensityView;
pub use spectrum::FourierView;
pub use trainer::TrainerHandle;

#[wasm_bindgen(start)]
pub fn start() {
    console_error_panic_hook::set_once();
}

/// Plain JS objects and arrays (not `Map`s), so the page can read fields directly.
pub(crate) fn to_js<T: Serialize>(value: &T) -> Result<JsValue, JsError> {
    value
        .serialize(&serde_wasm_bindgen::Serializer::json_compatible())
        .map_err(|e| JsError::new(&e.to_string()))
}

pub(crate) fn from_js<T: DeserializeOwned>(value: JsValue, what: &str) -> Result<T, JsError> {
    serde_wasm_bindgen::from_value(value).map_err(|e| JsError::new(&format!("invalid {what}: {e}")))
}

/// Every weighting of Table 1 and Sec. 5.1 with label, KaTeX formula, parameters and the
/// computed monotonicity flag.
#[wasm_bindgen(js_name = weightingCatalog)]
pub fn weighting_catalog() -> Result<JsValue, JsError> {
    to_js(&api::weighting_catalog())
}

/// Every noise schedule of Table 4 with label and formulas.
#[wasm_bindgen(js_name = scheduleCatalog)]
pub fn schedule_catalog() -> Result<JsValue, JsError> {
    to_js(&api::schedule_catalog())
}

/// w(λ) on a λ grid: `spec` = `{name, params?, expression?}`, `range` = `{lambda_min, lambda_max, points}`.
#[wasm_bindgen(js_name = weightingCurve)]
pub fn weighting_curve(spec: JsValue, range: JsValue) -> Result<JsValue, JsError> {
    let spec: api::WeightingSpec = from_js(spec, "weighting")?;
    let range: api::CurveRange = from_js(range, "λ range")?;
    let curve = api::weighting_curve(&spec, &range).map_err(|e| JsError::new(&e.to_string()))?;
    to_js(&curve)
}

/// λ(t) and p(λ) of a truncated schedule on a uniform t grid.
#[wasm_bindgen(js_name = scheduleCurve)]
pub fn schedule_curve(spec: JsValue, range: JsValue) -> Result<JsValue, JsError> {
    let spec: api::ScheduleSpec = from_js(spec, "schedule")?;
    let range: api::CurveRange = from_js(range, "λ range")?;
    let curve = api::schedule_curve(&spec, &range).map_err(|e| JsError::new(&e.to_string()))?;
    to_js(&curve)
}

/// The named 2D mixtures the forward-process view offers (`[{name, label, gmm}]`).
#[wasm_bindgen(js_name = mixturePresets)]
pub fn mixture_presets() -> Result<JsValue, JsError> {
    to_js(&crate::presets::mixture_presets())
}
