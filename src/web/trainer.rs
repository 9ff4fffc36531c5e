//! The trainer behind the page: one `TrainerHandle` per run. The page's scheduler calls
//! `step(n)` (no readback), yields to the browser, and awaits `collect()` at display rate; every
//! readback is async. Calls that would overlap an in-flight readback are refused, not panicked.

use std::{cell::RefCell, rc::Rc};

use burn::prelude::Device;
use serde::Serialize;
use wasm_bindgen::prelude::*;

use super::to_js;
use crate::api;
use crate::engine::elbo::bits_per_dim;
use crate::engine::likelihood::OdeBitsPerDim;
use crate::engine::metrics::energy_distance;
use crate::engine::sample::{sample_with_trajectory, SamplerConfig, SamplerKind};
use crate::engine::tensor_sampler::{
    log_density_grid, ode_bits_per_dim, read_points, TensorBackend,
};
use crate::engine::{
    checkpoint, config, device::browser_device, EngineError, TrainConfig, Trainer,
};
use crate::gpu::GpuContext;

thread_local! {
    /// burn initialises a WebGPU runtime once per page; every run shares it.
    static DEVICE: RefCell<Option<Device>> = const { RefCell::new(None) };
    /// The raw WebGPU device of the fused training step, also one per page.
    static FUSED: RefCell<Option<GpuContext>> = const { RefCell::new(None) };
}

async fn fused_context() -> Result<GpuContext, EngineError> {
    if let Some(ctx) = FUSED.with(|c| c.borrow().clone()) {
        if ctx.check_alive().is_ok() {
            return Ok(ctx);
        }
    }
    let ctx = GpuContext::new().await?;
    FUSED.with(|c| *c.borrow_mut() = Some(ctx.clone()));
    Ok(ctx)
}

/// Puts the run on the engine the page asked for: `fused` (the default) moves its steps to the
/// fused WGSL kernels and falls back to burn, saying why, if that fails; `burn` keeps burn.
async fn choose_engine(trainer: &mut Trainer, engine: Option<String>) -> Result<String, JsError> {
    match engine.as_deref().unwrap_or("fused") {
        "burn" => Ok("burn on WebGPU".into()),
        "fused" => {
            let attempt = match fused_context().await {
                Ok(ctx) => trainer.use_fused(&ctx).await,
                Err(e) => Err(e),
            };
            Ok(match attempt {
                Ok(()) => format!(
                    "fused WGSL on {}",
                    trainer.fused_adapter().unwrap_or("WebGPU")
                ),
                Err(e) => format!("burn on WebGPU (the fused kernels were unavailable: {e})"),
            })
        }
        other => Err(JsError::new(&format!(
            "unknown engine `{other}`; accepted: fused, burn"
        ))),
    }
}

async fn device() -> Result<Device, JsError> {
    if let Some(device) = DEVICE.with(|d| d.borrow().clone()) {
        return Ok(device);
    }
    let device = browser_device().await.map_err(js_error)?;
    DEVICE.with(|d| *d.borrow_mut() = Some(device.clone()));
    Ok(device)
}

fn js_error(e: EngineError) -> JsError {
    JsError::new(&e.to_string())
}

fn busy() -> JsError {
    JsError::new("the trainer is busy with a previous request; wait for it to finish")
}

/// A named preset configuration as a plain object (for the page's preset menu).
#[wasm_bindgen(js_name = trainPreset)]
pub fn train_preset(name: &str) -> Result<JsValue, JsError> {
    to_js(&config::preset(name).map_err(js_error)?)
}

/// The trainer's menus from the Rust registries: preset names and the datasets the page offers
/// (`gmm` needs a mixture JSON, which the CLI takes; the page's mixtures live in the figures).
#[wasm_bindgen(js_name = trainerCatalog)]
pub fn trainer_catalog() -> Result<JsValue, JsError> {
    #[derive(Serialize)]
    struct Catalog {
        presets: Vec<&'static str>,
        datasets: Vec<&'static str>,
    }
    to_js(&Catalog {
        presets: config::PRESETS.to_vec(),
        datasets: crate::data::DATASET_NAMES
            .iter()
            .copied()
            .filter(|d| *d != "gmm")
            .collect(),
    })
}

/// Checks a configuration without building anything: `null` if valid, else the message and the
/// offending field (so the page can show it next to the control).
#[wasm_bindgen(js_name = validateTrainConfig)]
pub fn validate_train_config(config: JsValue) -> Result<JsValue, JsError> {
    let config: TrainConfig = serde_wasm_bindgen::from_value(config)
        .map_err(|e| JsError::new(&format!("invalid settings: {e}")))?;
    #[derive(Serialize)]
    struct Problem {
        field: String,
        message: String,
    }
    match config.validate() {
        Ok(()) => Ok(JsValue::NULL),
        Err(EngineError::InvalidConfig { field, message }) => to_js(&Problem {
            field: field.into(),
            message,
        }),
        Err(e) => to_js(&Problem {
            field: "config".into(),
            message: e.to_string(),
        }),
    }
}

/// Parses user CSV points ("x,y" per line, header optional) into `[[x, y], ...]`.
#[wasm_bindgen(js_name = parsePointsCsv)]
pub fn parse_points_csv(text: &str) -> Result<JsValue, JsError> {
    let points = crate::data::parse_points_csv(text).map_err(|e| JsError::new(&e.to_string()))?;
    to_js(&points)
}

#[derive(Serialize)]
struct Progress<'a> {
    step: u64,
    /// (step, loss) pairs recorded since the previous `collect`.
    steps: Vec<u64>,
    losses: Vec<f64>,
    histogram_lambda: Vec<f64>,
    histogram: &'a [f64],
    /// The training density p(λ) on the histogram's λ grid (adaptive: the current one).
    p_lambda: Vec<f64>,
    /// w(λ) on the same grid.
    w: Vec<f64>,
}

/// The run, out of its slot while an async operation uses it: a call arriving meanwhile finds
/// the slot empty and is told the trainer is busy (no RefCell borrow is held across an await).
#[derive(Clone)]
struct Slot(Rc<RefCell<Option<Trainer>>>);

impl Slot {
    fn take(&self) -> Result<Trainer, JsError> {
        self.0.borrow_mut().take().ok_or_else(busy)
    }

    fn put(&self, trainer: Trainer) {
        *self.0.borrow_mut() = Some(trainer);
    }

    /// Runs a synchronous operation on the run in place.
    fn with<T>(&self, f: impl FnOnce(&mut Trainer) -> Result<T, JsError>) -> Result<T, JsError> {
        let mut slot = self.0.borrow_mut();
        f(slot.as_mut().ok_or_else(busy)?)
    }
}

#[wasm_bindgen]
pub struct TrainerHandle {
    slot: Slot,
    /// How many history points the page has already received.
    reported: Rc<RefCell<usize>>,
    engine: String,
}

#[wasm_bindgen]
impl TrainerHandle {
    /// Builds a run from a configuration object (see `trainPreset`) on `engine` (`fused`, the
    /// default, or `burn`); acquires WebGPU on first use.
    pub async fn create(config: JsValue, engine: Option<String>) -> Result<TrainerHandle, JsError> {
        let config: TrainConfig = serde_wasm_bindgen::from_value(config)
            .map_err(|e| JsError::new(&format!("invalid settings: {e}")))?;
        let device = device().await?;
        let mut trainer = Trainer::new(config, &device).map_err(js_error)?;
        let engine = choose_engine(&mut trainer, engine).await?;
        Ok(Self::wrap(trainer, engine))
    }

    /// Restores a run from checkpoint bytes (saved here or by the CLI).
    #[wasm_bindgen(js_name = fromCheckpoint)]
    pub async fn from_checkpoint(
        bytes: Vec<u8>,
        engine: Option<String>,
    ) -> Result<TrainerHandle, JsError> {
        let device = device().await?;
        let mut trainer = checkpoint::load(&bytes, &device).map_err(js_error)?;
        let engine = choose_engine(&mut trainer, engine).await?;
        Ok(Self::wrap(trainer, engine))
    }

    fn wrap(trainer: Trainer, engine: String) -> Self {
        let reported = trainer.history.len();
        Self {
            slot: Slot(Rc::new(RefCell::new(Some(trainer)))),
            reported: Rc::new(RefCell::new(reported)),
            engine,
        }
    }

    /// Where the optimisation steps run, e.g. "fused WGSL on browser WebGPU".
    pub fn engine(&self) -> String {
        self.engine.clone()
    }

    pub fn config(&self) -> Result<JsValue, JsError> {
        self.slot.with(|t| to_js(&t.config))
    }

    #[wasm_bindgen(js_name = stepCount)]
    pub fn step_count(&self) -> Result<f64, JsError> {
        self.slot.with(|t| Ok(t.step_count() as f64))
    }

    /// Mean loss over the last `n` collected steps (the end of a run, less noisy than one step).
    #[wasm_bindgen(js_name = meanLoss)]
    pub fn mean_loss(&self, n: u32) -> Result<f64, JsError> {
        self.slot.with(|t| {
            let recent = &t.history[t.history.len().saturating_sub(n.max(1) as usize)..];
            if recent.is_empty() {
                return Err(JsError::new("no collected steps yet"));
            }
            Ok(recent.iter().map(|p| p.loss).sum::<f64>() / recent.len() as f64)
        })
    }

    /// The per-λ loss so far with the prior term, as the explainer's area widget takes it.
    #[wasm_bindgen(js_name = trainedLoss)]
    pub fn trained_loss(&self) -> Result<JsValue, JsError> {
        self.slot.with(|t| {
            let h = &t.histogram;
            to_js(&api::TrainedLoss {
                lambda_min: h.lambda_min,
                lambda_max: h.lambda_max,
                bins: h.mean.iter().map(|v| v.is_finite().then_some(*v)).collect(),
                prior: api::TrainedLoss::mean_prior(&t.train.points(), h.lambda_min),
                dataset: t.config.dataset.clone(),
                weighting: t.objective.weighting.name().to_string(),
                step: t.step_count(),
            })
        })
    }

    /// The held-out points in data space, `[[x, y], ...]`, for drawing under the samples.
    #[wasm_bindgen(js_name = heldOut)]
    pub fn held_out(&self) -> Result<JsValue, JsError> {
        self.slot.with(|t| to_js(&t.test_points()))
    }

    /// Runs `n` optimisation steps without reading anything back.
    pub fn step(&self, n: u32) -> Result<(), JsError> {
        self.slot.with(|t| {
            for _ in 0..n {
                t.step().map_err(js_error)?;
            }
            Ok(())
        })
    }

    /// Reads back the steps since the last call; resolves to the new losses, the per-λ loss
    /// histogram with w(λ) and p(λ); rejects with the divergence message (weights restored).
    pub fn collect(&self) -> js_sys::Promise {
        let slot = self.slot.clone();
        let reported = Rc::clone(&self.reported);
        wasm_bindgen_futures::future_to_promise(async move {
            let mut trainer = slot.take()?;
            let result = trainer.collect().await;
            slot.put(trainer);
            Ok(slot.with(|t| progress(t, &reported, result))?)
        })
    }

    /// `n` samples with `sampler` and `steps`; resolves to `{points, trajectories}` in data space
    /// (trajectories: up to 64 of the points at every sampling step, for the trajectory view).
    pub fn sample(&self, n: u32, sampler: String, steps: u32, seed: u32) -> js_sys::Promise {
        let slot = self.slot.clone();
        wasm_bindgen_futures::future_to_promise(async move {
            let kind =
                SamplerKind::from_name(&sampler).map_err(|e| JsError::new(&e.to_string()))?;
            let mut config = SamplerConfig::new(kind);
            if steps > 0 {
                config.steps = steps as usize;
            }
            config
                .validate()
                .map_err(|e| JsError::new(&e.to_string()))?;
            let mut trainer = slot.take()?;
            let result = match trainer.sync_host().await {
                Ok(()) => {
                    sample_points(&trainer, &config, n.max(1) as usize, u64::from(seed)).await
                }
                Err(e) => Err(e),
            };
            slot.put(trainer);
            Ok(to_js(&result.map_err(js_error)?)?)
        })
    }

    /// Bits/dim (with its terms) on up to `n` held-out points, and the energy distance of as many
    /// DDIM samples to them.
    pub fn evaluate(&self, n: u32) -> js_sys::Promise {
        let slot = self.slot.clone();
        wasm_bindgen_futures::future_to_promise(async move {
            let mut trainer = slot.take()?;
            let result = match trainer.sync_host().await {
                Ok(()) => evaluate(&trainer, n.max(2) as usize).await,
                Err(e) => Err(e),
            };
            slot.put(trainer);
            Ok(to_js(&result.map_err(js_error)?)?)
        })
    }

    /// The model's own density by its probability-flow ODE with the exact Jacobian trace: log p(x)
    /// (nats, data space) on a `size`×`size` grid over `bounds` = [x_min, x_max, y_min, y_max]
    /// (rows from the top), as `{log_density, rgba, nll_bpd, nll_bpd_stderr}` where the bits/dim
    /// are the exact likelihood of up to `n` held-out points.
    #[wasm_bindgen(js_name = densityMap)]
    pub fn density_map(&self, bounds: Vec<f64>, size: u32, steps: u32, n: u32) -> js_sys::Promise {
        let slot = self.slot.clone();
        wasm_bindgen_futures::future_to_promise(async move {
            let bounds: [f64; 4] = bounds.try_into().map_err(|b: Vec<f64>| {
                JsError::new(&format!("bounds needs 4 numbers, got {}", b.len()))
            })?;
            if !(2..=256).contains(&size) || !(1..=1024).contains(&steps) {
                return Err(JsError::new(&format!(
                    "the density map takes 2 to 256 cells a side and 1 to 1024 ODE steps, got {size} and {steps}"
                ))
                .into());
            }
            let mut trainer = slot.take()?;
            let result = match trainer.sync_host().await {
                Ok(()) => {
                    density_map(&trainer, bounds, size as usize, steps as usize, n as usize).await
                }
                Err(e) => Err(e),
            };
            slot.put(trainer);
            Ok(to_js(&result.map_err(js_error)?)?)
        })
    }

    /// The run as checkpoint bytes (model, EMA, Adam state, configuration, step).
    pub fn checkpoint(&self) -> js_sys::Promise {
        let slot = self.slot.clone();
        wasm_bindgen_futures::future_to_promise(async move {
            let mut trainer = slot.take()?;
            let result = checkpoint::save(&mut trainer).await;
            slot.put(trainer);
            let bytes = result.map_err(js_error)?;
            Ok(js_sys::Uint8Array::from(bytes.as_slice()).into())
        })
    }
}

#[derive(Serialize)]
struct Samples {
    points: Vec<[f64; 2]>,
    trajectories: Vec<Vec<[f64; 2]>>,
}

async fn sample_points(
    trainer: &Trainer,
    config: &SamplerConfig,
    n: usize,
    seed: u64,
) -> Result<Samples, EngineError> {
    let config = crate::engine::tensor_sampler::within_training_range(trainer, config);
    let mut backend = TensorBackend::new(trainer, seed);
    let start = backend.prior(n, 2);
    let (x, path) = sample_with_trajectory(&mut backend, start, &config)?;
    let points = trainer.standardizer().inverse_all(&read_points(x).await?);
    let shown = n.min(64);
    let mut trajectories = Vec::with_capacity(path.len());
    for z in path {
        // The latent z_λ itself (VP keeps it at unit scale), mapped back to data units, so the
        // view shows points moving from noise onto the data.
        let head = z.slice([0..shown, 0..2]);
        trajectories.push(
            trainer
                .standardizer()
                .inverse_all(&read_points(head).await?),
        );
    }
    Ok(Samples {
        points,
        trajectories,
    })
}

#[derive(Serialize)]
struct Evaluation {
    #[serde(flatten)]
    bpd: crate::engine::elbo::BitsPerDim,
    energy_distance: f64,
}

async fn evaluate(trainer: &Trainer, n: usize) -> Result<Evaluation, EngineError> {
    let mut held_out = trainer.test_points();
    held_out.truncate(n);
    let bpd = bits_per_dim(trainer, &held_out, trainer.config.seed).await?;
    // 256 DDIM steps, as the native metrics use: with few steps an ε-model's errors at low λ are
    // amplified by 1/α and the score says more about the sampler than about the model.
    let sampler = SamplerConfig::with_steps(SamplerKind::Ddim, 256);
    let samples = crate::engine::tensor_sampler::generate(
        trainer,
        &sampler,
        held_out.len(),
        trainer.config.seed,
    )
    .await?;
    let energy_distance = energy_distance(&samples, &held_out)?;
    Ok(Evaluation {
        bpd,
        energy_distance,
    })
}

#[derive(Serialize)]
struct DensityMap {
    log_density: Vec<f64>,
    /// The heat-map's pixels (12 nats of range below the peak, as the forward-process view).
    rgba: Vec<u8>,
    #[serde(flatten)]
    held_out: OdeBitsPerDim,
}

async fn density_map(
    trainer: &Trainer,
    bounds: [f64; 4],
    size: usize,
    steps: usize,
    n: usize,
) -> Result<DensityMap, EngineError> {
    let log_density = log_density_grid(trainer, bounds, size, steps).await?;
    let as_f32: Vec<f32> = log_density.iter().map(|v| *v as f32).collect();
    let mut held_out = trainer.test_points();
    held_out.truncate(n.max(1));
    Ok(DensityMap {
        rgba: crate::viz::log_density_rgba(&as_f32, 12.0),
        held_out: ode_bits_per_dim(trainer, &held_out, steps).await?,
        log_density,
    })
}

/// What the page shows after a `collect`: the losses it has not seen yet, f(λ), w(λ), p(λ).
fn progress(
    t: &Trainer,
    reported: &RefCell<usize>,
    result: Result<(), EngineError>,
) -> Result<JsValue, JsError> {
    let mut seen = reported.borrow_mut();
    *seen = (*seen).min(t.history.len());
    result.map_err(js_error)?;
    let fresh = &t.history[*seen..];
    let lambda = t.histogram.centres();
    let p_lambda = lambda.iter().map(|l| t.objective.schedule.p(*l)).collect();
    let w = lambda.iter().map(|l| t.objective.weighting.w(*l)).collect();
    let progress = Progress {
        step: t.step_count(),
        steps: fresh.iter().map(|p| p.step).collect(),
        losses: fresh.iter().map(|p| p.loss).collect(),
        histogram_lambda: lambda,
        histogram: &t.histogram.mean,
        p_lambda,
        w,
    };
    *seen = t.history.len();
    to_js(&progress)
}
