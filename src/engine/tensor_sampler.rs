//! The trained network as a denoiser ε̂(z; λ) on burn tensors: what the samplers, the ELBO and
//! the page's views call. The network predicts the configured target; ε̂ = C(λ)·z + D(λ)·ŷ
//! converts it (every target is linear in z and ε, `Objective::eps_coefficients`).

use burn::prelude::*;

use super::model::Denoiser;
use super::objective::Objective;
use super::sample::{sample, SampleError, SamplerBackend, SamplerConfig};
use super::train::Trainer;
use super::EngineError;

/// Rows per forward pass when evaluating many points (bounds device memory for large requests).
const CHUNK_ROWS: usize = 16_384;

/// ε̂ for rows of (z, λ) with the EMA model: z row-major [n, 2] in standardised space.
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
    if z.len() != 2 * rows {
        return Err(EngineError::Sample(format!(
            "{} z values for {rows} rows of 2",
            z.len()
        )));
    }
    let mut out = Vec::with_capacity(2 * rows);
    for start in (0..rows).step_by(CHUNK_ROWS) {
        let end = (start + CHUNK_ROWS).min(rows);
        let n = end - start;
        let zs = Tensor::<2>::from_data(
            TensorData::new(z[2 * start..2 * end].to_vec(), [n, 2]),
            device,
        );
        let ls: Vec<f32> = lambda[start..end].iter().map(|l| *l as f32).collect();
        let ls = Tensor::<2>::from_data(TensorData::new(ls, [n, 1]), device);
        let prediction = model.forward(zs, ls);
        let y = super::read_f32(prediction).await?;
        for (row, l) in lambda[start..end].iter().enumerate() {
            let (c, d) = objective.eps_coefficients(*l);
            for j in 0..2 {
                let idx = 2 * row + j;
                out.push(c * f64::from(z[2 * start + idx]) + d * f64::from(y[idx]));
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

    /// n points of N(0, I) in 2D.
    pub fn prior(&mut self, n: usize) -> Tensor<2> {
        let values: Vec<f32> = (0..2 * n).map(|_| self.normal()).collect();
        Tensor::from_data(TensorData::new(values, [n, 2]), &self.device)
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
            return Tensor::zeros([0, 2], &self.device);
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

/// n samples in data space from the trained (EMA) model with the given sampler (its λ range
/// clipped to the training range).
pub async fn generate(
    trainer: &Trainer,
    config: &SamplerConfig,
    n: usize,
    seed: u64,
) -> Result<Vec<[f64; 2]>, EngineError> {
    let config = within_training_range(trainer, config);
    let mut backend = TensorBackend::new(trainer, seed);
    let start = backend.prior(n);
    let x = sample(&mut backend, start, &config).map_err(|e| EngineError::Sample(e.to_string()))?;
    let standardised = read_points(x).await?;
    Ok(trainer.standardizer.inverse_all(&standardised))
}
