//! Browser tests (`wasm-pack test --headless --chrome`): the heat-map kernel on Chromium's WebGPU
//! against the f64 theory, and the page's wasm API end to end.
#![cfg(target_arch = "wasm32")]

use elbo_lab::gpu::density::{log_density_cpu, DensityGrid, DensityKernel};
use elbo_lab::gpu::GpuContext;
use elbo_lab::presets::{components_2d, mixture_presets};
use wasm_bindgen::JsValue;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

#[wasm_bindgen_test]
async fn density_kernel_on_browser_webgpu_matches_the_f64_theory() {
    let ctx = GpuContext::new()
        .await
        .expect("Chromium must expose WebGPU (--enable-unsafe-webgpu)");
    let kernel = DensityKernel::new(&ctx).await.unwrap();
    let grid = DensityGrid::square(3.5, 48);
    for preset in mixture_presets() {
        let components = components_2d(&preset.gmm).unwrap();
        for lambda in [-20.0, -3.0, 0.0, 2.5, 8.0, 20.0] {
            let gpu = kernel
                .log_density(&ctx, &components, lambda, &grid)
                .await
                .unwrap();
            let cpu = log_density_cpu(&components, lambda, &grid).unwrap();
            let worst = gpu
                .iter()
                .zip(&cpu)
                .map(|(&g, &c)| (f64::from(g) - f64::from(c)).abs() / f64::from(c).abs().max(1.0))
                .fold(0.0, f64::max);
            assert!(
                worst <= 1e-4,
                "{} at λ={lambda}: worst relative error {worst:e}",
                preset.name
            );
        }
    }
}

/// A plain JS object, as the page passes it (not a `Map`).
fn js_object(value: serde_json::Value) -> JsValue {
    use serde::Serialize;
    value
        .serialize(&serde_wasm_bindgen::Serializer::json_compatible())
        .unwrap()
}

#[wasm_bindgen_test]
fn wasm_api_returns_curves_and_refuses_bad_input() {
    let spec = js_object(serde_json::json!({"name": "sigmoid", "params": {"k": 2.0}}));
    let range =
        js_object(serde_json::json!({"lambda_min": -20.0, "lambda_max": 20.0, "points": 41}));
    let curve = elbo_lab::web::weighting_curve(spec, range.clone()).unwrap();
    let w = js_sys::Reflect::get(&curve, &JsValue::from_str("w")).unwrap();
    assert_eq!(js_sys::Array::from(&w).length(), 41);
    let monotonic = js_sys::Reflect::get(&curve, &JsValue::from_str("monotonic")).unwrap();
    assert_eq!(monotonic.as_bool(), Some(true));

    let bad = js_object(serde_json::json!({"name": "no-such-weighting"}));
    assert!(elbo_lab::web::weighting_curve(bad, range.clone()).is_err());
    let inverted =
        js_object(serde_json::json!({"lambda_min": 3.0, "lambda_max": -3.0, "points": 41}));
    let spec = js_object(serde_json::json!({"name": "cosine"}));
    assert!(elbo_lab::web::schedule_curve(spec, inverted).is_err());
}

#[wasm_bindgen_test]
async fn density_view_renders_a_frame_in_the_browser() {
    let view = elbo_lab::web::DensityView::create().await;
    assert!(
        view.backend().starts_with("WebGPU"),
        "backend: {}",
        view.backend()
    );
    let promise = view.render(mixture_presets()[0].gmm.clone(), 1.0, 32, 3.0);
    let frame = wasm_bindgen_futures::JsFuture::from(promise).await.unwrap();
    let rgba = js_sys::Reflect::get(&frame, &JsValue::from_str("rgba")).unwrap();
    assert_eq!(js_sys::Uint8ClampedArray::new(&rgba).length(), 32 * 32 * 4);

    // A malformed mixture is refused with a message; the view keeps working.
    let refused =
        wasm_bindgen_futures::JsFuture::from(view.render("{not json".into(), 1.0, 32, 3.0)).await;
    assert!(refused.is_err());
    let again = wasm_bindgen_futures::JsFuture::from(view.render(
        mixture_presets()[1].gmm.clone(),
        -2.0,
        16,
        3.0,
    ))
    .await;
    assert!(again.is_ok());

    // After the device is lost the view falls back to the CPU and says why.
    view.lose_device();
    let frame = wasm_bindgen_futures::JsFuture::from(view.render(
        mixture_presets()[0].gmm.clone(),
        0.0,
        16,
        3.0,
    ))
    .await
    .unwrap();
    let backend = js_sys::Reflect::get(&frame, &JsValue::from_str("backend")).unwrap();
    assert_eq!(backend.as_string().as_deref(), Some("cpu"));
    assert!(view.notice().is_some());
}
