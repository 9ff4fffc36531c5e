//! The MNIST U-Net on the CPU: its size per preset, its output shape, that λ conditions it and
//! examples do not mix, and its backward pass against finite differences.
#![cfg(not(target_arch = "wasm32"))]

use burn::prelude::*;
use elbo_lab::engine::device::{native_device, NativeBackend};
use elbo_lab::engine::model::{UNet, UNetConfig};
use elbo_lab::engine::state::{load_module, parameter_count, shapes_of};
use rand::{rngs::StdRng, Rng, SeedableRng};
use rand_distr::StandardNormal;

fn cpu() -> Device {
    native_device(NativeBackend::Cpu).unwrap()
}

fn parameters(net: &UNet) -> usize {
    parameter_count(&shapes_of(net))
}

/// A small U-Net with every parameter drawn at random (the fresh network's zero-initialised
/// output layers would hide everything behind a zero output).
fn randomised(config: &UNetConfig, seed: u64) -> (UNet, Vec<f32>) {
    let device = cpu();
    let net = UNet::new(config, &device);
    let mut rng = StdRng::seed_from_u64(seed);
    let values: Vec<f32> = (0..parameters(&net))
        .map(|_| 0.15 * rng.sample::<f32, _>(StandardNormal))
        .collect();
    (load_module(net, &values, &device), values)
}

fn tiny_test_config() -> UNetConfig {
    UNetConfig {
        base_width: 8,
        blocks: 1,
        attention: true,
        lambda_frequencies: 4,
    }
}

fn images(n: usize, seed: u64, device: &Device) -> Tensor<4> {
    let mut rng = StdRng::seed_from_u64(seed);
    let values: Vec<f32> = (0..n * 784)
        .map(|_| rng.sample::<f32, _>(StandardNormal))
        .collect();
    Tensor::from_data(TensorData::new(values, [n, 1, 28, 28]), device)
}

fn lambdas(values: &[f32], device: &Device) -> Tensor<2> {
    Tensor::from_data(TensorData::new(values.to_vec(), [values.len(), 1]), device)
}

fn to_vec<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.into_data()
        .convert::<f32>()
        .try_into_vec::<f32>()
        .unwrap()
}

#[test]
fn the_presets_have_the_sizes_they_promise() {
    let device = cpu();
    let tiny = parameters(&UNet::new(&UNetConfig::preset("tiny").unwrap(), &device));
    let small = parameters(&UNet::new(&UNetConfig::preset("small").unwrap(), &device));
    assert!((700_000..900_000).contains(&tiny), "tiny: {tiny}");
    assert!((2_800_000..3_600_000).contains(&small), "small: {small}");
    assert!(UNetConfig::preset("huge").is_none());
}

#[test]
fn a_fresh_unet_predicts_zero_in_the_image_shape() {
    let device = cpu();
    let net = UNet::new(&tiny_test_config(), &device);
    let out = net.forward(images(3, 1, &device), lambdas(&[-5.0, 0.0, 5.0], &device));
    assert_eq!(out.dims(), [3, 1, 28, 28]);
    assert!(to_vec(out).iter().all(|v| *v == 0.0));
}

#[test]
fn lambda_conditions_the_output_and_examples_do_not_mix() {
    let device = cpu();
    let (net, _) = randomised(&tiny_test_config(), 3);
    let z = images(2, 4, &device);
    let both = to_vec(net.forward(z.clone(), lambdas(&[-6.0, 6.0], &device)));
    assert!(both.iter().all(|v| v.is_finite()));
    // The same image at another λ gives another prediction…
    let first = z.clone().narrow(0, 0, 1);
    let at_low = to_vec(net.forward(first.clone(), lambdas(&[-6.0], &device)));
    let at_high = to_vec(net.forward(first, lambdas(&[6.0], &device)));
    let change = at_low
        .iter()
        .zip(&at_high)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0f32, f32::max);
    assert!(change > 1e-3, "λ barely matters: {change}");
    // …and an example's prediction does not depend on the rest of its batch (group norm is per
    // example, attention runs within an image).
    let worst = at_low
        .iter()
        .zip(&both[..784])
        .map(|(a, b)| (a - b).abs())
        .fold(0.0f32, f32::max);
    assert!(worst < 1e-4, "batch mixing: {worst}");
}

#[test]
fn the_backward_pass_matches_finite_differences() {
    let device = cpu();
    let (net, values) = randomised(&tiny_test_config(), 5);
    let grad_device = device.clone().autodiff();
    let net_ad = load_module(
        UNet::new(&tiny_test_config(), &grad_device),
        &values,
        &grad_device,
    );
    let z = images(1, 6, &device);
    let weights = images(1, 7, &device);
    let lambda = lambdas(&[1.5], &device);
    // L(z) = Σ r ⊙ f(z; λ): its gradient in z through every layer, against central differences
    // along a random direction.
    let loss = |z: Tensor<4>| -> f64 {
        let out = net.forward(z, lambda.clone());
        f64::from((out * weights.clone()).sum().into_scalar::<f32>())
    };
    let z_ad = Tensor::<4>::from_data(z.to_data(), &grad_device).require_grad();
    let out = net_ad.forward(
        z_ad.clone(),
        Tensor::from_data(lambda.to_data(), &grad_device),
    );
    let l = (out * Tensor::from_data(weights.to_data(), &grad_device)).sum();
    let grads = l.backward();
    let gradient = to_vec(z_ad.grad(&grads).expect("z requires its gradient"));
    let direction = images(1, 8, &device);
    let along: f64 = gradient
        .iter()
        .zip(to_vec(direction.clone()))
        .map(|(g, d)| f64::from(*g) * f64::from(d))
        .sum();
    let h = 1e-2;
    let numeric = (loss(z.clone() + direction.clone().mul_scalar(h))
        - loss(z - direction.mul_scalar(h)))
        / (2.0 * h);
    assert!(
        (along - numeric).abs() <= 2e-2 * numeric.abs().max(1.0),
        "autodiff {along} vs finite differences {numeric}"
    );
}

/// The CPU's im2col convolution is burn's convolution: same outputs and same gradients for every
/// kernel the U-Net uses (3 × 3 at stride 1 and 2, 1 × 1), so either path trains the same model.
#[test]
fn the_im2col_convolution_matches_burns() {
    use burn::nn::conv::Conv2dConfig;
    use burn::nn::PaddingConfig2d;
    use elbo_lab::engine::model::conv;
    let device = cpu().autodiff();
    let mut rng = StdRng::seed_from_u64(5);
    for (kernel, stride, pad) in [(3, 1, 1), (3, 2, 1), (1, 1, 0)] {
        let layer = Conv2dConfig::new([3, 5], [kernel, kernel])
            .with_stride([stride, stride])
            .with_padding(PaddingConfig2d::Explicit(pad, pad, pad, pad))
            .init(&device);
        let values: Vec<f32> = (0..2 * 3 * 8 * 8)
            .map(|_| rng.sample::<f32, _>(StandardNormal))
            .collect();
        let input = || {
            Tensor::<4>::from_data(TensorData::new(values.clone(), [2, 3, 8, 8]), &device)
                .require_grad()
        };
        let (x1, x2) = (input(), input());
        let ours = conv::im2col(&layer, x1.clone());
        let burns = layer.forward(x2.clone());
        assert_eq!(ours.dims(), burns.dims());
        let close = |a: Tensor<4>, b: Tensor<4>, what: &str| {
            let a: Vec<f32> = a.into_data().convert::<f32>().try_into_vec().unwrap();
            let b: Vec<f32> = b.into_data().convert::<f32>().try_into_vec().unwrap();
            let worst = a
                .iter()
                .zip(&b)
                .map(|(p, q)| (p - q).abs())
                .fold(0.0f32, f32::max);
            assert!(
                worst < 1e-4,
                "{what} (k {kernel}, stride {stride}): {worst}"
            );
        };
        close(ours.clone().inner(), burns.clone().inner(), "output");
        // A weighted sum, so every output position's gradient differs.
        let weights = Tensor::<4>::from_data(
            TensorData::new(
                (0..ours.dims().iter().product::<usize>())
                    .map(|i| (i % 7) as f32 - 3.0)
                    .collect::<Vec<f32>>(),
                ours.dims(),
            ),
            &device,
        );
        let g1 = (ours * weights.clone()).sum().backward();
        let g2 = (burns * weights).sum().backward();
        close(
            x1.grad(&g1).unwrap(),
            x2.grad(&g2).unwrap(),
            "input gradient",
        );
        let w1 = layer.weight.val().grad(&g1).unwrap();
        let w2 = layer.weight.val().grad(&g2).unwrap();
        close(w1, w2, "weight gradient");
    }
}
