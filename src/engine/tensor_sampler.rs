//! The trained network as a denoiser ε̂(z; λ) on burn tensors: what the samplers, the ELBO and
//! the page's views call. The network predicts the configured target; ε̂ = C(λ)·z + D(λ)·ŷ
//! converts it (every target is linear in z and ε, `Objective::eps_coefficients`).

use burn::prelude::*;

use super::likelihood::{
    negative_log_likelihood, rk4_with_divergence, start, step_grid, summarise, DivergenceBackend,
    OdeBitsPerDim,
};
use super::model::Denoiser;
use super::objective::Objective;
use super::sample::{sample, SampleError, SamplerBackend, SamplerConfig};
use super::train::Trainer;
use super::EngineError;

/// Rows per forward pass when evaluating many 2D points, and values per pass for larger
/// examples (both bound device memory for large requests).
const CHUNK_ROWS: usize = 16_384;
const CHUNK_VALUES: usize = 1 << 17;

/// ε̂ for rows of (z, λ) with the EMA model: z row-major [n, d] in model space.
pub async fn eps_hat_rows(
    trainer: &Trainer,
    z: &[f32],
    lambda: &[f64],
) -> Result<Vec<f64>, EngineError> {
    eps_hat_with(
        trainer.ema_model(),
        &trainer.objective,
        &trainer.device().clone().without_autodiff(),
        z,
        lambda,
    )
    .await
}

pub async fn eps_hat_with(
    model: &Denoiser,
    objective: &Objective,
    device: &Device,
    z: &[f32],
    lambda: &[f64],
) -> Result<Vec<f64>, EngineError> {
    let rows = lambda.len();
    if rows == 0 && z.is_empty() {
        return Ok(Vec::new());
    }
    if rows == 0 || !z.len().is_multiple_of(rows) {
        return Err(SampleError::Denoiser(format!("{} z values for {rows} rows", z.len())).into());
    }
    let dim = z.len() / rows;
    let chunk = CHUNK_ROWS.min(CHUNK_VALUES / dim).max(1);
    let mut out = Vec::with_capacity(dim * rows);
    for start in (0..rows).step_by(chunk) {
        let end = (start + chunk).min(rows);
        let n = end - start;
        let zs = Tensor::<2>::from_data(
            TensorData::new(z[dim * start..dim * end].to_vec(), [n, dim]),
            device,
        );
        let ls: Vec<f32> = lambda[start..end].iter().map(|l| *l as f32).collect();
        let ls = Tensor::<2>::from_data(TensorData::new(ls, [n, 1]), device);
        let prediction = model.forward(zs, ls);
        let y = super::read_f32(prediction).await?;
        for (row, l) in lambda[start..end].iter().enumerate() {
            let (c, d) = objective.eps_coefficients(*l);
            for j in 0..dim {
                let idx = dim * row + j;
                out.push(c * f64::from(z[dim * start + idx]) + d * f64::from(y[idx]));
            }
        }
    }
    Ok(out)
}

/// The trained network behind the samplers' trait: batches stay on the device; noise is drawn on
/// the host with the run's seed and uploaded, so samples are identical on every backend.
pub struct TensorBackend<'a> {
    model: &'a Denoiser,
    objective: &'a Objective,
    device: Device,
    rng: rand::rngs::StdRng,
}

impl<'a> TensorBackend<'a> {
    pub fn new(trainer: &'a Trainer, seed: u64) -> Self {
        use rand::SeedableRng;
        Self {
            model: trainer.ema_model(),
            objective: &trainer.objective,
            device: trainer.device().clone().without_autodiff(),
            rng: rand::rngs::StdRng::seed_from_u64(seed),
        }
    }

    /// n draws of N(0, I) of `dim` values each.
    pub fn prior(&mut self, n: usize, dim: usize) -> Tensor<2> {
        let values: Vec<f32> = (0..dim * n).map(|_| self.normal()).collect();
        Tensor::from_data(TensorData::new(values, [n, dim]), &self.device)
    }

    fn normal(&mut self) -> f32 {
        use rand::Rng;
        self.rng.sample::<f64, _>(rand_distr::StandardNormal) as f32
    }
}

impl SamplerBackend for TensorBackend<'_> {
    type Batch = Tensor<2>;

    fn eps_hat(&mut self, z: &Tensor<2>, lambda: f64) -> Result<Tensor<2>, SampleError> {
        let [n, _] = z.dims();
        let lambdas = Tensor::<2>::full([n, 1], lambda as f32, &self.device);
        let prediction = self.model.forward(z.clone(), lambdas);
        let (c, d) = self.objective.eps_coefficients(lambda);
        Ok(z.clone().mul_scalar(c) + prediction.mul_scalar(d))
    }

    fn lincomb(&self, terms: &[(f64, &Tensor<2>)]) -> Tensor<2> {
        let mut iter = terms.iter();
        let Some((c0, b0)) = iter.next() else {
            return Tensor::zeros([0, 0], &self.device);
        };
        iter.fold((*b0).clone().mul_scalar(*c0), |acc, (c, b)| {
            acc + (*b).clone().mul_scalar(*c)
        })
    }

    fn noise(&mut self, like: &Tensor<2>) -> Tensor<2> {
        let [n, d] = like.dims();
        let values: Vec<f32> = (0..n * d).map(|_| self.normal()).collect();
        Tensor::from_data(TensorData::new(values, [n, d]), &self.device)
    }
}

/// Reads a [n, 2] batch back (async) as points.
pub async fn read_points(batch: Tensor<2>) -> Result<Vec<[f64; 2]>, EngineError> {
    let values = super::read_f32(batch).await?;
    Ok(values
        .chunks_exact(2)
        .map(|p| [f64::from(p[0]), f64::from(p[1])])
        .collect())
}

/// The sampler's λ range clipped to the range the model was trained on: outside it the network
/// was never asked anything and its ε̂ is an extrapolation (at λ = −20 an ε-model's x̂ = z/α
/// would multiply any error by e^10).
pub fn within_training_range(trainer: &Trainer, config: &SamplerConfig) -> SamplerConfig {
    let mut clipped = config.clone();
    clipped.lambda_min = config.lambda_min.max(trainer.config.lambda_min);
    clipped.lambda_max = config.lambda_max.min(trainer.config.lambda_max);
    if clipped.lambda_min >= clipped.lambda_max {
        clipped.lambda_min = trainer.config.lambda_min;
        clipped.lambda_max = trainer.config.lambda_max;
    }
    clipped
}

/// n samples in model space from the trained (EMA) model with the given sampler (its λ range
/// clipped to the training range), row-major [n, d], drawn in batches of `batch` (one noise
/// stream for all, so the result depends on the seed and the batch, not on anything else).
pub async fn generate_rows(
    trainer: &Trainer,
    config: &SamplerConfig,
    n: usize,
    batch: usize,
    seed: u64,
) -> Result<Vec<f32>, EngineError> {
    let config = within_training_range(trainer, config);
    let dim = trainer.transform.dim();
    let mut backend = TensorBackend::new(trainer, seed);
    let mut rows = Vec::with_capacity(n * dim);
    let mut done = 0;
    while done < n {
        let count = batch.max(1).min(n - done);
        let start = backend.prior(count, dim);
        let x = sample(&mut backend, start, &config)?;
        rows.extend(super::read_f32(x).await?);
        done += count;
        super::yield_to_host().await;
    }
    Ok(rows)
}

/// n 2D samples in data space from the trained (EMA) model (see `generate_rows`; one batch).
pub async fn generate(
    trainer: &Trainer,
    config: &SamplerConfig,
    n: usize,
    seed: u64,
) -> Result<Vec<[f64; 2]>, EngineError> {
    let rows = generate_rows(trainer, config, n, n, seed).await?;
    let standardised: Vec<[f64; 2]> = rows
        .chunks_exact(2)
        .map(|p| [f64::from(p[0]), f64::from(p[1])])
        .collect();
    Ok(trainer.transform.standardizer().inverse_all(&standardised))
}

/// n images from the trained (EMA) model, each pixel at its nearest 8-bit level.
pub async fn generate_images(
    trainer: &Trainer,
    config: &SamplerConfig,
    n: usize,
    seed: u64,
) -> Result<crate::data::Images, EngineError> {
    let Some([_, rows, cols]) = trainer.transform.image_shape() else {
        return Err(SampleError::InvalidConfig {
            field: "dataset",
            message: "this run's data are points, not images".into(),
        }
        .into());
    };
    let values = generate_rows(trainer, config, n, IMAGE_BATCH, seed).await?;
    Ok(crate::data::Images {
        n,
        rows,
        cols,
        pixels: values
            .iter()
            .map(|v| super::data::pixel_level(f64::from(*v)))
            .collect(),
    })
}

/// Images sampled per batch (bounds the U-Net's activations: ~100 MB per layer at 256).
const IMAGE_BATCH: usize = 256;

impl DivergenceBackend for TensorBackend<'_> {
    /// ε̂ = C·z + D·ŷ, so tr ∂ε̂/∂z = d·C + D·tr ∂ŷ/∂z. The network's Jacobian trace comes from
    /// one forward-mode pass over the batch repeated once per input direction.
    fn eps_hat_and_trace(
        &mut self,
        z: &Tensor<2>,
        lambda: f64,
    ) -> Result<(Tensor<2>, Tensor<2>), SampleError> {
        let [n, dim] = z.dims();
        let repeated = Tensor::cat(vec![z.clone(); dim], 0);
        let mut directions = Vec::with_capacity(dim * n * dim);
        for j in 0..dim {
            for _ in 0..n {
                directions.extend((0..dim).map(|k| if k == j { 1.0f32 } else { 0.0 }));
            }
        }
        let directions =
            Tensor::<2>::from_data(TensorData::new(directions, [dim * n, dim]), &self.device);
        let lambdas = Tensor::<2>::full([dim * n, 1], lambda as f32, &self.device);
        let mlp = self.model.as_mlp().ok_or_else(|| {
            SampleError::Denoiser(
                "the exact ODE likelihood needs the MLP's forward-mode tangents; \
                 use the ELBO for image models"
                    .into(),
            )
        })?;
        let (prediction, tangent) = mlp.forward_with_tangent(repeated, lambdas, directions);
        let prediction = prediction.slice([0..n, 0..dim]);
        // Row block j holds ∂ŷ/∂z_j: its column j is the j-th diagonal entry of the Jacobian.
        let diagonal = (0..dim)
            .map(|j| tangent.clone().slice([j * n..(j + 1) * n, j..j + 1]))
            .reduce(|a, b| a + b)
            .unwrap_or_else(|| Tensor::zeros([n, 1], &self.device));
        let (c, d) = self.objective.eps_coefficients(lambda);
        let eps = z.clone().mul_scalar(c) + prediction.mul_scalar(d);
        let trace = diagonal.mul_scalar(d).add_scalar(dim as f64 * c);
        Ok((eps, trace))
    }
}

/// −log p(x) in nats (standardised space) of each row of `points` under the trained (EMA)
/// model's probability-flow ODE, integrated over the training λ range with `steps` RK4 steps.
pub async fn ode_nll_standardised(
    trainer: &Trainer,
    points: &[[f64; 2]],
    steps: usize,
) -> Result<Vec<f64>, EngineError> {
    let (lambda_min, lambda_max) = (trainer.config.lambda_min, trainer.config.lambda_max);
    let mut nll = Vec::with_capacity(points.len());
    for chunk in points.chunks(CHUNK_ROWS / 2) {
        let mut backend = TensorBackend::new(trainer, 0);
        let n = chunk.len();
        let flat: Vec<f32> = chunk.iter().flat_map(|p| p.map(|v| v as f32)).collect();
        let x = Tensor::<2>::from_data(TensorData::new(flat, [n, 2]), &backend.device);
        let zeros = Tensor::<2>::zeros([n, 1], &backend.device);
        // Step by step, handing the page back its thread between steps: a grid of thousands of
        // points takes seconds on a slow GPU, and the page must stay responsive meanwhile.
        let mut end = start(&backend, &x, zeros, lambda_max);
        for (from, to) in step_grid(lambda_min, lambda_max, steps)? {
            end = rk4_with_divergence(&mut backend, end, from, to)?;
            super::yield_to_host().await;
        }
        let z = super::read_f32(end.z).await?;
        let integral = super::read_f32(end.divergence_integral).await?;
        for (zi, ii) in z.chunks_exact(2).zip(integral) {
            let zi = [f64::from(zi[0]), f64::from(zi[1])];
            nll.push(negative_log_likelihood(&zi, f64::from(ii), lambda_min));
        }
    }
    Ok(nll)
}

/// The exact ODE likelihood of `points` (data space) in bits/dim of the data as given.
pub async fn ode_bits_per_dim(
    trainer: &Trainer,
    points: &[[f64; 2]],
    steps: usize,
) -> Result<OdeBitsPerDim, EngineError> {
    if points.is_empty() {
        return Err(crate::data::DataError::TooFewPoints {
            what: "evaluation",
            min: 1,
            found: 0,
        }
        .into());
    }
    let standardised = trainer.transform.standardizer().forward_all(points);
    let nll = ode_nll_standardised(trainer, &standardised, steps).await?;
    Ok(summarise(
        &nll,
        2,
        -trainer.transform.standardizer().log_abs_det_jacobian(),
        steps,
    ))
}

/// log p(x) of the model (data space, nats) on a `size`×`size` grid over `bounds` =
/// [x_min, x_max, y_min, y_max], row-major from the top row (y_max) down, as an image is drawn.
pub async fn log_density_grid(
    trainer: &Trainer,
    bounds: [f64; 4],
    size: usize,
    steps: usize,
) -> Result<Vec<f64>, EngineError> {
    let [x0, x1, y0, y1] = bounds;
    if !(bounds.iter().all(|b| b.is_finite()) && x0 < x1 && y0 < y1) || size < 2 {
        return Err(SampleError::InvalidConfig {
            field: "bounds",
            message: format!(
                "the density grid needs finite bounds with min < max and at least 2×2 cells, got {bounds:?} and {size}"
            ),
        }
        .into());
    }
    let cell = |i: usize, lo: f64, hi: f64| lo + (i as f64 + 0.5) / size as f64 * (hi - lo);
    let points: Vec<[f64; 2]> = (0..size)
        .flat_map(|row| (0..size).map(move |col| [cell(col, x0, x1), cell(size - 1 - row, y0, y1)]))
        .collect();
    let standardised = trainer.transform.standardizer().forward_all(&points);
    let nll = ode_nll_standardised(trainer, &standardised, steps).await?;
    let log_jacobian = trainer.transform.standardizer().log_abs_det_jacobian();
    Ok(nll.iter().map(|v| -v + log_jacobian).collect())
}
