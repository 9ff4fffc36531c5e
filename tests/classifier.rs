//! The MNIST quality classifier: the shipped weights classify real digits, the weight file
//! round-trips and refuses damage, training is a function of the seed, and the quality figures
//! (Fréchet distance, label entropy, confident share) match closed forms and known cases.
#![cfg(not(target_arch = "wasm32"))]

use std::sync::OnceLock;

use burn::prelude::Device;
use elbo_lab::data::mnist::{TEST_IMAGES_FILE, TEST_LABELS_FILE};
use elbo_lab::data::{decode_labeled, Images, LabeledImages};
use elbo_lab::engine::classifier::{
    self, accuracy, entropy_bits, frechet_distance, from_bytes, outputs, psd_sqrt, quality,
    quality_of, reference_stats, shipped, symmetric_eigen, to_bytes, Classifier, ClassifierConfig,
    ClassifierError, Outputs, ReferenceStats, CLASSES, FEATURES, MAGIC, SHIPPED_WEIGHTS,
};
use elbo_lab::engine::device::{native_device, NativeBackend};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha12Rng;

fn device() -> Device {
    native_device(NativeBackend::Cpu).unwrap()
}

/// MNIST's test digits, read once for every test of this file.
fn test_digits() -> &'static LabeledImages {
    static TEST: OnceLock<LabeledImages> = OnceLock::new();
    TEST.get_or_init(|| {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("data/mnist");
        let read = |name: &str| {
            std::fs::read(dir.join(name)).unwrap_or_else(|e| {
                panic!(
                    "{}: {e}; `make data` fetches MNIST",
                    dir.join(name).display()
                )
            })
        };
        decode_labeled(&read(TEST_IMAGES_FILE), &read(TEST_LABELS_FILE)).unwrap()
    })
}

fn model() -> &'static Classifier {
    static MODEL: OnceLock<Classifier> = OnceLock::new();
    MODEL.get_or_init(|| shipped(&device()).unwrap())
}

/// Images `range` of a labelled set.
fn slice(set: &LabeledImages, range: std::ops::Range<usize>) -> LabeledImages {
    let size = set.images.pixels_per_image();
    LabeledImages {
        images: Images {
            n: range.len(),
            rows: set.images.rows,
            cols: set.images.cols,
            pixels: set.images.pixels[range.start * size..range.end * size].to_vec(),
        },
        labels: set.labels[range].to_vec(),
    }
}

fn block<T>(future: impl std::future::Future<Output = T>) -> T {
    pollster::block_on(future)
}

#[test]
fn shipped_weights_classify_real_digits() {
    let first = slice(test_digits(), 0..2000);
    let acc = block(accuracy(model(), &device(), &first)).unwrap();
    assert!(acc >= 0.97, "accuracy {acc} on the first 2000 test digits");
    assert_eq!(model().parameter_count(), 188_234);
}

#[test]
fn weight_bytes_round_trip_exactly() {
    let bytes = block(to_bytes(model())).unwrap();
    assert_eq!(bytes, SHIPPED_WEIGHTS);
    assert_eq!(&bytes[..8], &MAGIC);
    let again = from_bytes(&bytes, &device()).unwrap();
    assert_eq!(block(to_bytes(&again)).unwrap(), bytes);
}

/// The shipped weights with `edit` applied and the CRC recomputed, so the edit itself is what
/// the loader sees.
fn resealed(edit: impl FnOnce(&mut Vec<u8>)) -> Vec<u8> {
    let mut bytes = SHIPPED_WEIGHTS[..SHIPPED_WEIGHTS.len() - 4].to_vec();
    edit(&mut bytes);
    let crc = crc32fast::hash(&bytes);
    bytes.extend_from_slice(&crc.to_le_bytes());
    bytes
}

#[test]
fn damaged_weight_files_are_refused() {
    let device = device();
    let load = |bytes: &[u8]| from_bytes(bytes, &device).map(drop).unwrap_err();

    let mut flipped = SHIPPED_WEIGHTS.to_vec();
    flipped[1000] ^= 0x10;
    assert!(matches!(load(&flipped), ClassifierError::Crc { .. }));

    let truncated = &SHIPPED_WEIGHTS[..SHIPPED_WEIGHTS.len() - 100];
    assert!(matches!(load(truncated), ClassifierError::Crc { .. }));
    assert!(matches!(
        load(&SHIPPED_WEIGHTS[..10]),
        ClassifierError::Length { .. }
    ));

    let mut magic = SHIPPED_WEIGHTS.to_vec();
    magic[7] = b'9';
    let err = load(&magic);
    assert!(matches!(err, ClassifierError::Magic { .. }));
    assert!(err.to_string().contains("not classifier weights"), "{err}");
    assert!(matches!(load(&[]), ClassifierError::Magic { .. }));
    assert!(matches!(
        load(b"\x89PNG\r\n\x1a\n"),
        ClassifierError::Magic { .. }
    ));

    // Internally consistent files of another size or with a NaN are refused too.
    let count = resealed(|b| b[8..12].copy_from_slice(&5u32.to_le_bytes()));
    assert!(matches!(
        load(&count),
        ClassifierError::ParameterCount { found: 5, .. }
    ));
    let longer = resealed(|b| b.extend_from_slice(&[0; 4]));
    assert!(matches!(load(&longer), ClassifierError::Length { .. }));
    let nan = resealed(|b| b[12 + 4 * 7..12 + 4 * 8].copy_from_slice(&f32::NAN.to_le_bytes()));
    assert!(matches!(
        load(&nan),
        ClassifierError::NonFinite { index: 7, .. }
    ));
}

#[test]
fn training_is_a_function_of_the_seed() {
    let set = slice(test_digits(), 0..256);
    let config = |seed| ClassifierConfig {
        seed,
        epochs: 1,
        batch: 64,
        lr: 1e-3,
    };
    let device = device();
    let train = |seed| {
        let mut reports = Vec::new();
        let model = block(classifier::train(&config(seed), &set, &device, |p| {
            reports.push(p)
        }))
        .unwrap();
        // 4 steps: one report at the end of the epoch.
        assert_eq!(reports.len(), 1);
        assert_eq!((reports[0].step, reports[0].steps), (4, 4));
        assert!(reports[0].loss.is_finite() && reports[0].loss > 0.0);
        block(to_bytes(&model)).unwrap()
    };
    let a = train(7);
    assert_eq!(a, train(7), "same seed, same weights");
    assert_ne!(a, train(8), "another seed, other weights");
}

#[test]
fn invalid_training_input_is_refused() {
    let device = device();
    let mut set = slice(test_digits(), 0..8);
    let run = |config: &ClassifierConfig, set: &LabeledImages| {
        block(classifier::train(config, set, &device, |_| {})).map(drop)
    };
    let bad_epochs = ClassifierConfig {
        epochs: 0,
        ..Default::default()
    };
    assert!(matches!(
        run(&bad_epochs, &set),
        Err(ClassifierError::InvalidConfig {
            field: "epochs",
            ..
        })
    ));
    set.labels[3] = 10;
    assert!(matches!(
        run(&ClassifierConfig::default(), &set),
        Err(ClassifierError::Label {
            index: 3,
            label: 10
        })
    ));
    let small = Images {
        n: 2,
        rows: 27,
        cols: 27,
        pixels: vec![0; 2 * 27 * 27],
    };
    assert!(matches!(
        block(outputs(model(), &device, &small)),
        Err(ClassifierError::ImageSize { rows: 27, cols: 27 })
    ));
}

/// Uniform noise images: bytes drawn independently per pixel.
fn noise_images(n: usize, seed: u64) -> Images {
    let mut rng = ChaCha12Rng::seed_from_u64(seed);
    Images {
        n,
        rows: 28,
        cols: 28,
        pixels: (0..n * 784).map(|_| rng.random()).collect(),
    }
}

#[test]
fn real_digits_score_well_and_noise_does_not() {
    let device = device();
    let test = test_digits();
    let reference = block(reference_stats(
        model(),
        &device,
        &slice(test, 0..2000).images,
    ))
    .unwrap();
    assert_eq!((reference.count, reference.dim()), (2000, FEATURES));
    let real = block(quality(
        model(),
        &device,
        &slice(test, 5000..6000).images,
        &reference,
    ))
    .unwrap();
    let noise = block(quality(
        model(),
        &device,
        &noise_images(1000, 3),
        &reference,
    ))
    .unwrap();
    eprintln!("real {real:?}\nnoise {noise:?}");
    assert_eq!(real.count, 1000);
    assert!(real.confident_share > 0.9, "{real:?}");
    assert!(
        real.label_entropy_bits > 3.2 && real.label_entropy_bits <= 10f64.log2() + 1e-12,
        "{real:?}"
    );
    assert!(
        noise.confident_share < 0.5 * real.confident_share,
        "{noise:?}"
    );
    assert!(noise.frechet > 10.0 * real.frechet, "{noise:?} vs {real:?}");
}

#[test]
fn a_set_against_its_own_statistics_is_at_distance_zero() {
    let out = block(outputs(
        model(),
        &device(),
        &slice(test_digits(), 0..1000).images,
    ))
    .unwrap();
    let own = ReferenceStats::of_rows(&out.features, FEATURES).unwrap();
    let trace: f64 = (0..FEATURES)
        .map(|i| own.covariance[i * FEATURES + i])
        .sum();
    let score = quality_of(&out, &own).unwrap();
    assert!(
        score.frechet.abs() < 1e-6 * trace,
        "{} (trace {trace})",
        score.frechet
    );
}

/// Stats of a Gaussian given its mean and covariance (the count plays no part in the distance).
fn gaussian(mean: Vec<f64>, covariance: Vec<f64>) -> ReferenceStats {
    ReferenceStats {
        count: 2,
        mean,
        covariance,
    }
}

fn close(a: f64, b: f64, tol: f64) -> bool {
    (a - b).abs() <= tol * (1.0 + a.abs().max(b.abs()))
}

#[test]
fn frechet_matches_the_closed_form_for_non_commuting_2x2_covariances() {
    // For 2×2 PSD M, Tr √M = √(Tr M + 2 √det M); with M = Σ₁^½ Σ₂ Σ₁^½: Tr M = Tr Σ₁Σ₂ and
    // det M = det Σ₁ det Σ₂.
    let cases = [
        ([2.0, 0.5, 0.5, 1.0], [1.0, -0.3, -0.3, 3.0]),
        ([4.0, 0.0, 0.0, 0.25], [1.0, 0.9, 0.9, 1.0]),
        ([1.0, 0.999, 0.999, 1.0], [0.5, 0.0, 0.0, 2.0]),
    ];
    for (s1, s2) in cases {
        let a = gaussian(vec![1.0, -2.0], s1.to_vec());
        let b = gaussian(vec![0.5, 1.0], s2.to_vec());
        let tr_prod = s1[0] * s2[0] + s1[1] * s2[2] + s1[2] * s2[1] + s1[3] * s2[3];
        let det = |m: [f64; 4]| m[0] * m[3] - m[1] * m[2];
        let root_trace = (tr_prod + 2.0 * (det(s1) * det(s2)).sqrt()).sqrt();
        let expected = 0.25 + 9.0 + (s1[0] + s1[3]) + (s2[0] + s2[3]) - 2.0 * root_trace;
        let got = frechet_distance(&a, &b).unwrap();
        assert!(close(got, expected, 1e-12), "{got} vs {expected}");
        // The formula is written asymmetrically; the distance is not.
        assert!(close(frechet_distance(&b, &a).unwrap(), got, 1e-12));
    }
}

/// A random orthogonal matrix (Gram–Schmidt on Gaussian-ish columns), row-major.
fn orthogonal(dim: usize, rng: &mut ChaCha12Rng) -> Vec<f64> {
    let mut q = vec![0.0; dim * dim];
    for j in 0..dim {
        let mut v: Vec<f64> = (0..dim).map(|_| rng.random_range(-1.0..1.0)).collect();
        for k in 0..j {
            let dot: f64 = (0..dim).map(|i| v[i] * q[i * dim + k]).sum();
            (0..dim).for_each(|i| v[i] -= dot * q[i * dim + k]);
        }
        let norm = v.iter().map(|x| x * x).sum::<f64>().sqrt();
        (0..dim).for_each(|i| q[i * dim + j] = v[i] / norm);
    }
    q
}

/// Q diag(d) Qᵀ.
fn rotated(q: &[f64], d: &[f64]) -> Vec<f64> {
    let dim = d.len();
    let mut out = vec![0.0; dim * dim];
    for i in 0..dim {
        for j in 0..dim {
            out[i * dim + j] = (0..dim)
                .map(|k| q[i * dim + k] * d[k] * q[j * dim + k])
                .sum();
        }
    }
    out
}

fn product(a: &[f64], b: &[f64], dim: usize) -> Vec<f64> {
    let mut out = vec![0.0; dim * dim];
    for i in 0..dim {
        for j in 0..dim {
            out[i * dim + j] = (0..dim).map(|k| a[i * dim + k] * b[k * dim + j]).sum();
        }
    }
    out
}

#[test]
fn frechet_of_commuting_covariances_is_the_sum_of_squared_root_differences() {
    // Σ₁ = Q D₁ Qᵀ, Σ₂ = Q D₂ Qᵀ: the distance is ‖μ₁ − μ₂‖² + Σ (√d₁ − √d₂)².
    let dim = 24;
    let mut rng = ChaCha12Rng::seed_from_u64(11);
    let q = orthogonal(dim, &mut rng);
    let d1: Vec<f64> = (0..dim).map(|_| rng.random_range(0.0..4.0)).collect();
    let mut d2: Vec<f64> = (0..dim).map(|_| rng.random_range(0.0..4.0)).collect();
    d2[3] = 0.0; // singular covariances are allowed
    let a = gaussian(vec![0.0; dim], rotated(&q, &d1));
    let b = gaussian(vec![0.1; dim], rotated(&q, &d2));
    let expected = 0.01 * dim as f64
        + d1.iter()
            .zip(&d2)
            .map(|(x, y)| (x.sqrt() - y.sqrt()).powi(2))
            .sum::<f64>();
    let got = frechet_distance(&a, &b).unwrap();
    // A zero eigenvalue comes out of Jacobi as ±1e-16 or so, and its square root as 1e-8:
    // singular covariances cost half the digits, inherently.
    assert!(close(got, expected, 1e-7), "{got} vs {expected}");
}

#[test]
fn frechet_of_random_covariances_is_symmetric_and_zero_on_the_diagonal() {
    let dim = 32;
    let mut rng = ChaCha12Rng::seed_from_u64(5);
    let random_cov = |rng: &mut ChaCha12Rng| {
        let q = orthogonal(dim, rng);
        let d: Vec<f64> = (0..dim).map(|_| rng.random_range(0.01..3.0)).collect();
        rotated(&q, &d)
    };
    let a = gaussian(vec![0.0; dim], random_cov(&mut rng));
    let b = gaussian(vec![0.0; dim], random_cov(&mut rng));
    let ab = frechet_distance(&a, &b).unwrap();
    let ba = frechet_distance(&b, &a).unwrap();
    assert!(ab > 0.1 && close(ab, ba, 1e-10), "{ab} vs {ba}");
    assert!(frechet_distance(&a, &a).unwrap() < 1e-9);
    let short = gaussian(vec![0.0; 3], vec![1.0; 9]);
    assert!(matches!(
        frechet_distance(&a, &short),
        Err(ClassifierError::StatsShape { .. })
    ));
}

#[test]
fn psd_sqrt_has_the_known_roots() {
    // √[[5, 4], [4, 5]] = [[2, 1], [1, 2]].
    let root = psd_sqrt(&[5.0, 4.0, 4.0, 5.0], 2);
    for (got, want) in root.iter().zip([2.0, 1.0, 1.0, 2.0]) {
        assert!(close(*got, want, 1e-14), "{root:?}");
    }
    // Q diag(9, 4, 1, 0) Qᵀ has the root Q diag(3, 2, 1, 0) Qᵀ, and the root squares back.
    let mut rng = ChaCha12Rng::seed_from_u64(2);
    let q = orthogonal(4, &mut rng);
    let root = psd_sqrt(&rotated(&q, &[9.0, 4.0, 1.0, 0.0]), 4);
    let want = rotated(&q, &[3.0, 2.0, 1.0, 0.0]);
    for (got, want) in root.iter().zip(&want) {
        assert!((got - want).abs() < 1e-7, "{got} vs {want}");
    }
    let dim = 40;
    let a = rotated(
        &orthogonal(dim, &mut rng),
        &(0..dim).map(|i| 0.1 + i as f64).collect::<Vec<_>>(),
    );
    let root = psd_sqrt(&a, dim);
    for (got, want) in product(&root, &root, dim).iter().zip(&a) {
        assert!((got - want).abs() < 1e-10 * dim as f64, "{got} vs {want}");
    }
}

#[test]
fn jacobi_eigenpairs_satisfy_the_eigen_equation() {
    let dim = 30;
    let mut rng = ChaCha12Rng::seed_from_u64(9);
    // A symmetric indefinite matrix.
    let mut a = vec![0.0; dim * dim];
    for i in 0..dim {
        for j in i..dim {
            let v = rng.random_range(-1.0..1.0);
            a[i * dim + j] = v;
            a[j * dim + i] = v;
        }
    }
    let (values, vectors) = symmetric_eigen(&a, dim);
    for k in 0..dim {
        for i in 0..dim {
            let av: f64 = (0..dim)
                .map(|j| a[i * dim + j] * vectors[j * dim + k])
                .sum();
            assert!((av - values[k] * vectors[i * dim + k]).abs() < 1e-10);
        }
    }
    let trace: f64 = (0..dim).map(|i| a[i * dim + i]).sum();
    assert!(close(values.iter().sum(), trace, 1e-12));
}

/// Outputs whose predicted labels are `labels` (one-hot logits), with random features.
fn outputs_with_labels(labels: &[usize]) -> Outputs {
    let mut rng = ChaCha12Rng::seed_from_u64(1);
    let mut logits = vec![0.0f32; labels.len() * CLASSES];
    for (i, &l) in labels.iter().enumerate() {
        logits[i * CLASSES + l] = 20.0;
    }
    Outputs {
        n: labels.len(),
        features: (0..labels.len() * FEATURES).map(|_| rng.random()).collect(),
        logits,
    }
}

#[test]
fn label_entropy_is_zero_for_one_class_and_log2_10_when_balanced() {
    assert_eq!(entropy_bits(&[0, 0, 40, 0]), 0.0);
    assert!(close(entropy_bits(&[7; 10]), 10f64.log2(), 1e-15));
    assert!(close(entropy_bits(&[1, 1]), 1.0, 1e-15));
    assert_eq!(entropy_bits(&[]), 0.0);

    let reference =
        ReferenceStats::of_rows(&outputs_with_labels(&[0, 1, 2]).features, FEATURES).unwrap();
    let one_class = quality_of(&outputs_with_labels(&[4; 50]), &reference).unwrap();
    assert_eq!(one_class.label_entropy_bits, 0.0);
    assert_eq!(one_class.confident_share, 1.0);
    let balanced: Vec<usize> = (0..100).map(|i| i % 10).collect();
    let balanced = quality_of(&outputs_with_labels(&balanced), &reference).unwrap();
    assert!(close(balanced.label_entropy_bits, 10f64.log2(), 1e-12));

    // Scores need two images (a covariance); none is an error, not a NaN.
    assert!(matches!(
        quality_of(&outputs_with_labels(&[3]), &reference),
        Err(ClassifierError::TooFewImages { .. })
    ));
}

/// The page scores its samples on WebGPU: burn's wgpu (Vulkan, or lavapipe without a GPU) must
/// see what NdArray sees, stepped slices and all.
#[test]
fn wgpu_gives_the_cpu_outputs() {
    let digits = slice(test_digits(), 0..200).images;
    let cpu = block(outputs(model(), &device(), &digits)).unwrap();
    let gpu_device = native_device(NativeBackend::Wgpu).unwrap();
    let gpu_model = from_bytes(SHIPPED_WEIGHTS, &gpu_device).unwrap();
    let gpu = block(outputs(&gpu_model, &gpu_device, &digits)).unwrap();
    let max_diff = |a: &[f32], b: &[f32]| {
        a.iter()
            .zip(b)
            .map(|(x, y)| (x - y).abs())
            .fold(0f32, f32::max)
    };
    assert!(max_diff(&cpu.logits, &gpu.logits) < 1e-3);
    assert!(max_diff(&cpu.features, &gpu.features) < 1e-3);
}
