//! MNIST through the engine: VDM's 8-bit decoder and prior term against closed forms, the data
//! transform, a tiny U-Net that learns from a few hundred digits, a run restored without its
//! data, gzip-compressed IDX files, and the model family as a checked choice.
#![cfg(not(target_arch = "wasm32"))]

use burn::prelude::*;
use elbo_lab::data::{decode_images, gzip, DataError, Images};
use elbo_lab::engine::checkpoint;
use elbo_lab::engine::config::{preset, ModelConfig, TrainConfig};
use elbo_lab::engine::data::{pixel_value, ImageSet};
use elbo_lab::engine::device::{native_device, NativeBackend};
use elbo_lab::engine::elbo::{bits_per_dim_of, ByteGrid, Decoder, ElboRows};
use elbo_lab::engine::model::{Denoiser, UNetConfig};
use elbo_lab::engine::sample::{SamplerConfig, SamplerKind};
use elbo_lab::engine::{tensor_sampler, EngineError, Trainer};
use elbo_lab::theory::param::Vp;
use rand::{rngs::StdRng, Rng, SeedableRng};

fn cpu() -> Device {
    native_device(NativeBackend::Cpu).unwrap()
}

/// Random 8-bit examples of `dim` pixels, in model space.
fn random_pixels(n: usize, dim: usize, seed: u64) -> Vec<f64> {
    let mut rng = StdRng::seed_from_u64(seed);
    (0..n * dim).map(|_| pixel_value(rng.random())).collect()
}

/// The decoder's −log P(x | z_0) for one coordinate, summed over all 256 levels.
fn brute_force_reconstruction(x: f64, eps: f64, lambda_max: f64) -> f64 {
    let vp = Vp::new(lambda_max);
    let z = vp.z(x, eps);
    let logits: Vec<f64> = (0..=255u8)
        .map(|k| -0.5 * ((z - vp.alpha * pixel_value(k)) / vp.sigma).powi(2))
        .collect();
    let max = logits.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let log_norm = max + logits.iter().map(|l| (l - max).exp()).sum::<f64>().ln();
    let own = ((x + 1.0) * 128.0 - 0.5).round() as usize;
    log_norm - logits[own]
}

#[test]
fn the_windowed_discrete_decoder_equals_the_full_softmax() {
    let grid = ByteGrid::pixels();
    let mut rng = StdRng::seed_from_u64(3);
    for lambda_max in [-10.0, -2.0, 0.0, 5.0, 9.0, 13.3, 20.0] {
        for _ in 0..200 {
            let x = pixel_value(rng.random());
            let eps: f64 = rng.sample(rand_distr::StandardNormal);
            let ours = grid.reconstruction(&[x], &[eps], lambda_max);
            let exact = brute_force_reconstruction(x, eps, lambda_max);
            assert!(
                (ours - exact).abs() <= 1e-9 * exact.abs().max(1.0),
                "λ_max {lambda_max}, x {x}, ε {eps}: {ours} vs {exact}"
            );
        }
    }
}

/// As λ_max grows the decoder's reconstruction of 8-bit data costs nothing; with the noise far
/// above the level spacing every level is as likely (8 bits).
#[test]
fn the_pixel_decoder_spans_eight_bits_to_zero() {
    let x = random_pixels(64, 16, 1);
    let decoder = Decoder::Discrete(ByteGrid::pixels());
    let recon = |lambda_max: f64| {
        let rows = ElboRows::new(x.clone(), 16, -5.0, lambda_max, 9);
        let eps_hat = vec![0.0; rows.z.len()];
        rows.finish(&eps_hat, &decoder).unwrap().bpd_recon
    };
    let blurred = recon(-12.0);
    assert!((blurred - 8.0).abs() < 0.01, "{blurred}");
    let mut previous = blurred;
    for lambda_max in [4.0, 8.0, 10.0, 12.0, 14.0, 16.0] {
        let bits = recon(lambda_max);
        assert!(bits < previous, "λ_max {lambda_max}: {bits} ≥ {previous}");
        previous = bits;
    }
    assert!(previous < 1e-4, "{previous}");
}

/// KL(q(z_1|x) ‖ N(0, I)) = ½ Σ_j (α² x_j² + σ² − 1 − ln σ²) at λ_min.
#[test]
fn the_prior_term_matches_its_closed_form() {
    let dim = 784;
    let x = random_pixels(5, dim, 2);
    for lambda_min in [-8.0, -5.0, -2.0] {
        let rows = ElboRows::new(x.clone(), dim, lambda_min, 13.3, 4);
        let eps_hat = vec![0.0; rows.z.len()];
        let bpd = rows
            .finish(&eps_hat, &Decoder::Discrete(ByteGrid::pixels()))
            .unwrap();
        let (alpha2, sigma2) = (
            1.0 / (1.0 + (-lambda_min).exp()),
            1.0 / (1.0 + lambda_min.exp()),
        );
        let kl: f64 = x
            .iter()
            .map(|v| 0.5 * (alpha2 * v * v + sigma2 - 1.0 - sigma2.ln()))
            .sum::<f64>()
            / 5.0;
        let closed = kl / (dim as f64 * std::f64::consts::LN_2);
        assert!(
            (bpd.bpd_prior - closed).abs() < 1e-12,
            "λ_min {lambda_min}: {} vs {closed}",
            bpd.bpd_prior
        );
    }
}

fn digits() -> ImageSet {
    let read = |name: &str| {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("data/mnist")
            .join(name);
        decode_images(&std::fs::read(&path).expect("make data fetches MNIST")).unwrap()
    };
    ImageSet {
        train: read("train-images-idx3-ubyte"),
        test: read("t10k-images-idx3-ubyte"),
    }
}

/// The MNIST preset shrunk to what a test can train on the CPU in seconds.
fn tiny_config(steps: u64) -> TrainConfig {
    let mut config = preset("mnist").unwrap();
    config.model = ModelConfig::UNet {
        unet: UNetConfig {
            base_width: 8,
            ..UNetConfig::preset("tiny").unwrap()
        },
    };
    config.steps = steps;
    config.batch = 8;
    config.lr = 2e-3;
    config.ema_decay = 0.9;
    config.n_train = 300;
    config.n_test = 8;
    config
}

/// A tiny U-Net on 300 digits: its training loss and its −ELBO on held-out digits fall.
#[test]
fn a_tiny_unet_learns_from_a_few_hundred_digits() {
    let images = digits();
    let mut trainer = Trainer::with_images(tiny_config(40), &images, &cpu()).unwrap();
    assert_eq!(trainer.transform.image_shape(), Some([1, 28, 28]));
    assert_eq!((trainer.train.len(), trainer.test.len()), (300, 8));
    let test = trainer.test.clone();
    let before = pollster::block_on(bits_per_dim_of(&trainer, &test, 1)).unwrap();
    trainer.train_blocking(40, 5).unwrap();
    let after = pollster::block_on(bits_per_dim_of(&trainer, &test, 1)).unwrap();
    let mean = |points: &[elbo_lab::engine::train::LossPoint]| {
        points.iter().map(|p| p.loss).sum::<f64>() / points.len() as f64
    };
    let (first, last) = (mean(&trainer.history[..8]), mean(&trainer.history[32..]));
    assert!(last < 0.7 * first, "loss {first} → {last}");
    assert!(after.discrete && after.bpd_jacobian == 0.0);
    assert!(
        after.bpd < before.bpd - 1.0,
        "−ELBO {} → {} bits/dim",
        before.bpd,
        after.bpd
    );
    // The prior and reconstruction terms do not depend on the network.
    assert_eq!(before.bpd_prior, after.bpd_prior);
    assert_eq!(before.bpd_recon, after.bpd_recon);
}

/// A checkpoint of an image run samples without its data, refuses to train without it, and with
/// it evaluates exactly as the run it came from.
#[test]
fn an_mnist_checkpoint_samples_alone_and_evaluates_with_its_digits() {
    let images = digits();
    let device = cpu();
    let mut trainer = Trainer::with_images(tiny_config(4), &images, &device).unwrap();
    trainer.train_blocking(4, 2).unwrap();
    let bytes = pollster::block_on(checkpoint::save(&mut trainer)).unwrap();

    let mut alone = checkpoint::load(&bytes, &device).unwrap();
    assert_eq!(alone.step_count(), 4);
    assert!(alone.train.is_empty());
    assert!(matches!(
        alone.step(),
        Err(EngineError::Data(DataError::TooFewPoints { .. }))
    ));
    let sampler = SamplerConfig::with_steps(SamplerKind::Ddim, 4);
    let samples =
        pollster::block_on(tensor_sampler::generate_images(&alone, &sampler, 3, 0)).unwrap();
    assert_eq!((samples.n, samples.rows, samples.cols), (3, 28, 28));
    assert_eq!(samples.pixels.len(), 3 * 784);
    let again =
        pollster::block_on(tensor_sampler::generate_images(&trainer, &sampler, 3, 0)).unwrap();
    assert_eq!(
        samples, again,
        "the same weights and seed give the same digits"
    );

    let restored = checkpoint::load_with_images(&bytes, &images, &device).unwrap();
    let test = trainer.test.clone();
    let original = pollster::block_on(bits_per_dim_of(&trainer, &test, 3)).unwrap();
    let reloaded = pollster::block_on(bits_per_dim_of(&restored, &test, 3)).unwrap();
    assert!((original.bpd - reloaded.bpd).abs() < 1e-9);
}

#[test]
fn the_unet_refuses_points_and_model_json_keeps_its_forms() {
    let unet = ModelConfig::unet_preset("tiny").unwrap();
    assert!(matches!(
        Denoiser::new(&unet, &[2], &cpu()),
        Err(EngineError::InvalidConfig { field: "model", .. })
    ));
    assert!(ModelConfig::unet_preset("huge").is_err());
    // The MLP is written as its bare fields, as every earlier configuration was.
    let mlp = serde_json::to_value(ModelConfig::default()).unwrap();
    assert!(mlp.get("width").is_some() && mlp.get("unet").is_none());
    let json = serde_json::to_string(&unet).unwrap();
    assert!(json.starts_with("{\"unet\":"), "{json}");
    assert_eq!(serde_json::from_str::<ModelConfig>(&json).unwrap(), unet);
    let bad = serde_json::from_str::<ModelConfig>(r#"{"unet": {"base_widht": 8}}"#);
    assert!(bad.unwrap_err().to_string().contains("base_widht"));
    let bad = serde_json::from_str::<ModelConfig>(r#"{"widht": 8}"#);
    assert!(bad.unwrap_err().to_string().contains("widht"));
    // A 2D dataset with the U-Net is refused when the trainer is built.
    let config = TrainConfig {
        model: unet,
        ..TrainConfig::default()
    };
    assert!(Trainer::new(config, &cpu()).is_err());
}

#[test]
fn gzip_idx_files_decompress_and_damage_is_reported() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/three-4x5-images.idx.gz");
    let bytes = std::fs::read(path).unwrap();
    assert!(gzip::is_gzip(&bytes));
    let images: Images = decode_images(&gzip::decompress(&bytes, 1 << 20).unwrap()).unwrap();
    assert_eq!((images.n, images.rows, images.cols), (3, 4, 5));
    let expected: Vec<u8> = (0..60u32).map(|i| ((i * 37) % 256) as u8).collect();
    assert_eq!(images.pixels, expected);

    assert!(gzip::decompress(&bytes, 50).is_err(), "over the cap");
    assert!(gzip::decompress(&bytes[..bytes.len() - 3], 1 << 20).is_err());
    assert!(gzip::decompress(&bytes[..12], 1 << 20).is_err());
    assert!(gzip::decompress(b"IDX, not gzip at all", 1 << 20).is_err());
    for at in [12, bytes.len() / 2, bytes.len() - 6] {
        let mut damaged = bytes.clone();
        damaged[at] ^= 0x40;
        assert!(gzip::decompress(&damaged, 1 << 20).is_err(), "flip at {at}");
    }
}
