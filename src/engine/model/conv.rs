//! The U-Net's convolutions: burn's own on GPUs; on the CPU (NdArray) as one matrix product over
//! the shifted copies of the input (im2col). NdArray computes a convolution's input gradient with
//! a transposed convolution that indexes element by element: measured, it took ~95% of a training
//! step (6.6 s per step of a width-8 U-Net at batch 16), while matrix products and slices have
//! fast gradients there. Both paths use the same parameters ([out, in, k, k]), so a checkpoint is
//! the same file whichever trained it, and `tests/unet.rs` checks that they agree.

use burn::nn::conv::Conv2d;
use burn::prelude::*;

/// `conv` applied to `x` ([B, C, H, W]); the convolutions of the U-Net only (square kernels of
/// size 1 or 3 with "same" padding, stride 1 or 2, no dilation or groups).
pub fn forward(conv: &Conv2d, x: Tensor<4>) -> Tensor<4> {
    if on_ndarray(&x.device()) {
        im2col(conv, x)
    } else {
        conv.forward(x)
    }
}

#[cfg(not(target_arch = "wasm32"))]
#[allow(deprecated)] // NdArray is the CPU backend this project builds on (engine/device.rs).
fn on_ndarray(device: &Device) -> bool {
    // Device equality ignores autodiff: this holds for the training device too.
    *device == Device::ndarray()
}

#[cfg(target_arch = "wasm32")]
fn on_ndarray(_device: &Device) -> bool {
    false
}

/// The convolution as [B·H'·W', k²·C] patches times the weight as [k²·C, out].
pub fn im2col(conv: &Conv2d, x: Tensor<4>) -> Tensor<4> {
    let [b, c, h, w] = x.dims();
    let k = conv.kernel_size[0];
    let stride = conv.stride[0];
    let weight = conv.weight.val();
    let out = weight.dims()[0];
    // Channels last, so that one pixel's patch is contiguous: [B, H, W, C].
    let x = x.permute([0, 2, 3, 1]);
    let patches = if k == 1 {
        x
    } else {
        let pad = k / 2;
        let padded = pad_spatial(x, pad);
        let shifted: Vec<Tensor<4>> = (0..k)
            .flat_map(|dy| (0..k).map(move |dx| (dy, dx)))
            .map(|(dy, dx)| padded.clone().slice([0..b, dy..dy + h, dx..dx + w, 0..c]))
            .collect();
        // [B, H, W, k²·C], ordered (dy, dx, channel).
        Tensor::cat(shifted, 3)
    };
    let (patches, ho, wo) = if stride == 2 {
        // The stride-2 outputs are the stride-1 outputs at even rows and columns.
        let [_, _, _, cols] = patches.dims();
        let even = patches
            .reshape([b, h / 2, 2, w / 2, 2, cols])
            .narrow(2, 0, 1)
            .narrow(4, 0, 1);
        (even.reshape([b, h / 2, w / 2, cols]), h / 2, w / 2)
    } else {
        (patches, h, w)
    };
    let cols = k * k * c;
    // [out, C, k, k] → [k, k, C, out] → [k²·C, out], the patches' order.
    let weight = weight.permute([2, 3, 1, 0]).reshape([cols, out]);
    let mut y = patches.reshape([b * ho * wo, cols]).matmul(weight);
    if let Some(bias) = &conv.bias {
        y = y + bias.val().reshape([1, out]);
    }
    y.reshape([b, ho, wo, out]).permute([0, 3, 1, 2])
}

/// Zeros around the two spatial axes of a [B, H, W, C] tensor.
fn pad_spatial(x: Tensor<4>, pad: usize) -> Tensor<4> {
    let [b, h, w, c] = x.dims();
    let device = x.device();
    let rows = Tensor::zeros([b, pad, w, c], &device);
    let x = Tensor::cat(vec![rows.clone(), x, rows], 1);
    let cols = Tensor::zeros([b, h + 2 * pad, pad, c], &device);
    Tensor::cat(vec![cols.clone(), x, cols], 2)
}
