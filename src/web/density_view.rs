//! The forward-process heat-map for the page: WebGPU when the browser has it, the f64 CPU path
//! (with a notice saying so) when it does not or when the device is lost mid-session.

use std::{cell::RefCell, rc::Rc};

use serde::Serialize;
use wasm_bindgen::prelude::*;

use crate::gpu::{density::Component2d, DensityGrid, DensityKernel, GpuContext, GpuError};
use crate::theory::numeric;
use crate::{presets, viz};

/// Log-density dynamic range of the colour map, in nats (see `viz::log_density_rgba`).
const DYNAMIC_RANGE: f32 = 12.0;

struct Gpu {
    ctx: GpuContext,
    kernel: DensityKernel,
}

struct State {
    gpu: RefCell<Option<Gpu>>,
    notice: RefCell<Option<String>>,
}

/// Everything about a frame except its pixels (those travel as a `Uint8ClampedArray`).
#[derive(Serialize)]
struct FrameInfo {
    /// `"webgpu"` or `"cpu"`: which path produced this frame.
    backend: &'static str,
    max_log_q: f32,
    /// α_λ² and σ_λ² of the VP forward process at this λ (Eq. 100-101).
    alpha2: f64,
    sigma2: f64,
}

#[wasm_bindgen]
pub struct DensityView {
    state: Rc<State>,
}

#[wasm_bindgen]
impl DensityView {
    /// Acquires WebGPU if the browser offers it; never fails (falls back to the CPU path).
    pub async fn create() -> DensityView {
        let (gpu, notice) = match acquire().await {
            Ok(gpu) => (Some(gpu), None),
            Err(e) => (None, Some(e.to_string())),
        };
        DensityView {
            state: Rc::new(State {
                gpu: RefCell::new(gpu),
                notice: RefCell::new(notice),
            }),
        }
    }

    /// `"WebGPU: <adapter>"` or `"cpu"`.
    pub fn backend(&self) -> String {
        match &*self.state.gpu.borrow() {
            Some(gpu) => format!("WebGPU: {}", gpu.ctx.adapter_name),
            None => "cpu".into(),
        }
    }

    /// Why the CPU path is in use, if it is.
    pub fn notice(&self) -> Option<String> {
        self.state.notice.borrow().clone()
    }

    /// Simulates a lost device (the page's "lose GPU" test hook and real loss go the same way).
    #[wasm_bindgen(js_name = loseDevice)]
    pub fn lose_device(&self) {
        if let Some(gpu) = &*self.state.gpu.borrow() {
            gpu.ctx.device.destroy();
            gpu.ctx.mark_lost("destroyed by the page");
        }
    }

    /// Renders log q(z_λ) of the mixture `gmm_json` on a `size`×`size` grid over
    /// [-extent, extent]². Resolves to `{rgba: Uint8ClampedArray, backend, max_log_q, alpha2, sigma2}`; rejects with a message for
    /// invalid input, leaving the previous picture to the caller.
    pub fn render(&self, gmm_json: String, lambda: f64, size: u32, extent: f64) -> js_sys::Promise {
        let state = Rc::clone(&self.state);
        wasm_bindgen_futures::future_to_promise(async move {
            let components =
                presets::components_2d(&gmm_json).map_err(|e| JsError::new(&e.to_string()))?;
            if !(extent.is_finite() && extent > 0.0) {
                return Err(JsError::new("the view extent must be a positive number").into());
            }
            let grid = DensityGrid::square(extent, size);
            let (log_q, backend) = render_log_q(&state, &components, lambda, &grid).await?;
            let max_log_q = log_q.iter().copied().fold(f32::NEG_INFINITY, f32::max);
            let info = FrameInfo {
                backend,
                max_log_q,
                alpha2: numeric::sigmoid(lambda),
                sigma2: numeric::sigmoid(-lambda),
            };
            let frame = super::to_js(&info)?;
            let rgba = viz::log_density_rgba(&log_q, DYNAMIC_RANGE);
            let pixels = js_sys::Uint8ClampedArray::from(rgba.as_slice());
            js_sys::Reflect::set(&frame, &"rgba".into(), &pixels)?;
            Ok(frame)
        })
    }
}

async fn acquire() -> Result<Gpu, GpuError> {
    if !browser_has_webgpu() {
        return Err(GpuError::NoAdapter(
            "this browser does not offer WebGPU".into(),
        ));
    }
    let ctx = GpuContext::new().await?;
    let kernel = DensityKernel::new(&ctx).await?;
    Ok(Gpu { ctx, kernel })
}

fn browser_has_webgpu() -> bool {
    let navigator = js_sys::Reflect::get(&js_sys::global(), &"navigator".into());
    navigator
        .and_then(|n| js_sys::Reflect::get(&n, &"gpu".into()))
        .map(|gpu| !gpu.is_undefined() && !gpu.is_null())
        .unwrap_or(false)
}

/// GPU first; on a GPU failure the device is dropped for good, the notice explains why, and this
/// and every later frame come from the CPU, so the page keeps working.
async fn render_log_q(
    state: &State,
    components: &[Component2d],
    lambda: f64,
    grid: &DensityGrid,
) -> Result<(Vec<f32>, &'static str), JsValue> {
    // Clone the handles out so no RefCell borrow is held across the await.
    let attempt = state
        .gpu
        .borrow()
        .as_ref()
        .map(|gpu| (gpu.ctx.clone(), gpu.kernel.clone()));
    if let Some((ctx, kernel)) = attempt {
        match kernel.log_density(&ctx, components, lambda, grid).await {
            Ok(values) => return Ok((values, "webgpu")),
            Err(GpuError::InvalidInput(message)) => return Err(JsError::new(&message).into()),
            Err(e) => {
                *state.gpu.borrow_mut() = None;
                *state.notice.borrow_mut() = Some(e.to_string());
            }
        }
    }
    let values = crate::gpu::density::log_density_cpu(components, lambda, grid)
        .map_err(|e| JsError::new(&e.to_string()))?;
    Ok((values, "cpu"))
}
