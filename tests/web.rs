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

/// Lets the browser run its event loop (the page's scheduler does this between steps).
async fn yield_to_browser() {
    let promise = js_sys::Promise::new(&mut |resolve, _| {
        let _ = web_sys::window()
            .unwrap()
            .set_timeout_with_callback(&resolve);
    });
    let _ = wasm_bindgen_futures::JsFuture::from(promise).await;
}

#[wasm_bindgen_test]
async fn burn_trains_on_browser_webgpu_samples_and_checkpoints_round_trip() {
    use elbo_lab::api::WeightingSpec;
    use elbo_lab::engine::config::{MlpConfig, ModelConfig, TrainConfig};
    use elbo_lab::engine::sample::{SamplerConfig, SamplerKind};
    use elbo_lab::engine::{checkpoint, device::browser_device, tensor_sampler, Trainer};

    let device = browser_device()
        .await
        .expect("burn's WebGPU device in Chromium");
    let config = TrainConfig {
        dataset: "moons".into(),
        // ε-MSE with the cosine schedule: w/p is constant, so the batch loss is a plain MSE whose
        // fall is visible within a few dozen steps.
        weighting: WeightingSpec {
            name: "iddpm".into(),
            params: Default::default(),
            expression: None,
        },
        steps: 40,
        batch: 64,
        lr: 3e-3,
        model: ModelConfig::Mlp(MlpConfig {
            depth: 2,
            width: 32,
            ..MlpConfig::default()
        }),
        n_train: 512,
        n_test: 64,
        ..TrainConfig::default()
    };
    let mut trainer = Trainer::new(config.clone(), &device).unwrap();
    for i in 0..40 {
        trainer.step().unwrap();
        if i % 10 == 9 {
            trainer.collect().await.unwrap();
        }
        yield_to_browser().await;
    }
    let losses: Vec<f64> = trainer.history.iter().map(|p| p.loss).collect();
    assert_eq!(losses.len(), 40);
    let first = losses[..8].iter().sum::<f64>() / 8.0;
    let last = losses[32..].iter().sum::<f64>() / 8.0;
    assert!(last < 0.8 * first, "the loss must fall: {first} → {last}");

    // The fused WGSL step on the page's own WebGPU device takes the same 40 steps (same seed,
    // same batches): its losses follow burn's to f32 rounding, amplified a little by Adam.
    let ctx = GpuContext::new().await.unwrap();
    let mut fused = Trainer::new(config, &device).unwrap();
    fused.use_fused(&ctx).await.unwrap();
    for i in 0..40 {
        fused.step().unwrap();
        if i % 20 == 19 {
            fused.collect().await.unwrap();
        }
    }
    for (a, b) in fused.history.iter().zip(&trainer.history) {
        assert!(
            (a.loss - b.loss).abs() <= 5e-3 * b.loss.abs().max(1.0),
            "step {}: fused {} vs burn {}",
            a.step,
            a.loss,
            b.loss
        );
    }
    assert_eq!(fused.history.len(), 40);

    for kind in [
        SamplerKind::Ancestral,
        SamplerKind::Ddim,
        SamplerKind::Heun,
        SamplerKind::Ode,
    ] {
        let points = tensor_sampler::generate(&trainer, &SamplerConfig::with_steps(kind, 4), 16, 1)
            .await
            .unwrap();
        assert_eq!(points.len(), 16);
        assert!(
            points.iter().flatten().all(|v| v.is_finite()),
            "{kind:?} gave non-finite samples"
        );
    }

    let bytes = checkpoint::save(&mut trainer).await.unwrap();
    let restored = checkpoint::load(&bytes, &device).unwrap();
    assert_eq!(restored.step_count(), 40);
    let sampler = SamplerConfig::with_steps(SamplerKind::Ddim, 8);
    let a = tensor_sampler::generate(&trainer, &sampler, 8, 2)
        .await
        .unwrap();
    let b = tensor_sampler::generate(&restored, &sampler, 8, 2)
        .await
        .unwrap();
    // Same weights, but GPU kernels may take other paths for freshly uploaded tensors than for
    // computed ones and round differently; identical to f32 rounding is what can be asked.
    let worst = a
        .iter()
        .flatten()
        .zip(b.iter().flatten())
        .map(|(x, y)| (x - y).abs() / x.abs().max(1.0))
        .fold(0.0, f64::max);
    assert!(
        worst < 1e-4,
        "the restored model samples like the original: worst difference {worst:e}"
    );
    let mut corrupted = bytes;
    corrupted[20] ^= 1;
    assert!(checkpoint::load(&corrupted, &device).is_err());
}
