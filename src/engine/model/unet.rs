//! The image denoiser: a U-Net for 28 × 28 × 1 (MNIST). Residual blocks with group norm and
//! SiLU, 28 → 14 → 7 and back with skip connections, λ-conditioning through a Fourier
//! embedding added in every block, optional self-attention at 7 × 7 (the shape of the DDPM and
//! VDM image networks, scaled down to train in a browser).

use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::{GroupNorm, GroupNormConfig, Initializer, Linear, LinearConfig, PaddingConfig2d};
use burn::prelude::*;
use burn::tensor::activation::{silu, softmax};
use serde::{Deserialize, Serialize};

use super::conv;
use crate::gpu::mlp_train::layout::{lambda_frequencies, LAMBDA_SCALE};

/// The U-Net's shape.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct UNetConfig {
    /// Channels at 28 × 28 and 14 × 14; 7 × 7 has twice as many.
    pub base_width: usize,
    /// Residual blocks per resolution on the way down (one more on the way up, for the skips).
    pub blocks: usize,
    /// Self-attention at 7 × 7 (in the middle and after each block there).
    pub attention: bool,
    /// Sinusoidal embedding of λ with this many frequencies.
    pub lambda_frequencies: usize,
}

impl Default for UNetConfig {
    fn default() -> Self {
        Self::preset("tiny").expect("tiny is a preset")
    }
}

impl UNetConfig {
    pub const PRESETS: [&'static str; 2] = ["tiny", "small"];

    /// `tiny`: base width 32, 0.81 M parameters (the page's default on a laptop GPU);
    /// `small`: base width 64, 3.2 M.
    pub fn preset(name: &str) -> Option<Self> {
        let base_width = match name {
            "tiny" => 32,
            "small" => 64,
            _ => return None,
        };
        Some(Self {
            base_width,
            blocks: 1,
            attention: true,
            lambda_frequencies: 16,
        })
    }

    /// Channels of the three resolutions (28, 14, 7).
    pub fn widths(&self) -> [usize; 3] {
        let c = self.base_width;
        [c, c, 2 * c]
    }

    /// Width of the λ embedding added in every block.
    fn embedding_width(&self) -> usize {
        4 * self.base_width
    }

    pub fn validate(&self) -> Result<(), String> {
        if self.base_width < 8 || self.base_width > 256 || !self.base_width.is_multiple_of(8) {
            return Err(format!(
                "the U-Net's base width must be a multiple of 8 in 8..=256, got {}",
                self.base_width
            ));
        }
        if self.blocks == 0 || self.blocks > 4 {
            return Err(format!(
                "the U-Net needs 1..=4 blocks per resolution, got {}",
                self.blocks
            ));
        }
        if self.lambda_frequencies == 0 || self.lambda_frequencies > 64 {
            return Err("the U-Net's λ embedding needs 1..=64 frequencies".into());
        }
        Ok(())
    }
}

/// Group norm with up to 8 groups (each group at least 4 channels where the width allows).
fn group_norm(channels: usize, device: &Device) -> GroupNorm {
    let groups = (1..=8)
        .rev()
        .find(|g| channels.is_multiple_of(*g) && channels / g >= 4)
        .unwrap_or(1);
    GroupNormConfig::new(groups, channels).init(device)
}

fn conv3(from: usize, to: usize, zero: bool, device: &Device) -> Conv2d {
    let config =
        Conv2dConfig::new([from, to], [3, 3]).with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1));
    let config = if zero {
        config.with_initializer(Initializer::Zeros)
    } else {
        config
    };
    config.init(device)
}

/// x + F(x; λ): GN → SiLU → conv, + the block's projection of the λ embedding, GN → SiLU →
/// conv (zero-initialised, so every block starts as the identity).
#[derive(Module, Debug)]
pub struct ResBlock {
    norm1: GroupNorm,
    conv1: Conv2d,
    embed: Linear,
    norm2: GroupNorm,
    conv2: Conv2d,
    /// 1 × 1 convolution on the skip path when the width changes.
    skip: Option<Conv2d>,
}

impl ResBlock {
    fn new(from: usize, to: usize, embedding: usize, device: &Device) -> Self {
        Self {
            norm1: group_norm(from, device),
            conv1: conv3(from, to, false, device),
            embed: LinearConfig::new(embedding, to).init(device),
            norm2: group_norm(to, device),
            conv2: conv3(to, to, true, device),
            skip: (from != to).then(|| Conv2dConfig::new([from, to], [1, 1]).init(device)),
        }
    }

    fn forward(&self, x: Tensor<4>, embedding: &Tensor<2>) -> Tensor<4> {
        let h = conv::forward(&self.conv1, silu(self.norm1.forward(x.clone())));
        let [batch, channels] = [h.dims()[0], h.dims()[1]];
        let e = self
            .embed
            .forward(embedding.clone())
            .reshape([batch, channels, 1, 1]);
        let h = conv::forward(&self.conv2, silu(self.norm2.forward(h + e)));
        let skip = match &self.skip {
            Some(skip) => conv::forward(skip, x),
            None => x,
        };
        skip + h
    }
}

/// Single-head self-attention over the pixels of a feature map, with a residual connection
/// (zero-initialised output projection: it starts as the identity).
#[derive(Module, Debug)]
pub struct Attention {
    norm: GroupNorm,
    qkv: Linear,
    out: Linear,
}

impl Attention {
    fn new(channels: usize, device: &Device) -> Self {
        Self {
            norm: group_norm(channels, device),
            qkv: LinearConfig::new(channels, 3 * channels).init(device),
            out: LinearConfig::new(channels, channels)
                .with_initializer(Initializer::Zeros)
                .init(device),
        }
    }

    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let [b, c, h, w] = x.dims();
        // [B, C, H, W] → [B, HW, C]: one token per pixel.
        let tokens = self
            .norm
            .forward(x.clone())
            .reshape([b, c, h * w])
            .swap_dims(1, 2);
        let qkv = self.qkv.forward(tokens);
        let q = qkv.clone().narrow(2, 0, c);
        let k = qkv.clone().narrow(2, c, c);
        let v = qkv.narrow(2, 2 * c, c);
        let scores = q.matmul(k.swap_dims(1, 2)).div_scalar((c as f64).sqrt());
        let attended = softmax(scores, 2).matmul(v);
        let out = self
            .out
            .forward(attended)
            .swap_dims(1, 2)
            .reshape([b, c, h, w]);
        x + out
    }
}

/// Nearest-neighbour ×2 upsampling.
fn upsample(x: Tensor<4>) -> Tensor<4> {
    let [b, c, h, w] = x.dims();
    x.reshape([b, c, h, 1, w, 1])
        .repeat_dim(3, 2)
        .repeat_dim(5, 2)
        .reshape([b, c, 2 * h, 2 * w])
}

#[derive(Module, Debug)]
pub struct UNet {
    /// λ features → embedding: Linear, SiLU, Linear.
    embed_in: Linear,
    embed_out: Linear,
    conv_in: Conv2d,
    /// Blocks per resolution on the way down (28, 14, 7).
    down: Vec<Vec<ResBlock>>,
    /// Stride-2 convolutions 28 → 14 and 14 → 7.
    downsample: Vec<Conv2d>,
    /// Attention after each 7 × 7 block on the way down and up, when enabled.
    down_attention: Vec<Attention>,
    mid1: ResBlock,
    mid_attention: Option<Attention>,
    mid2: ResBlock,
    /// Blocks per resolution on the way up (7, 14, 28), each taking a skip.
    up: Vec<Vec<ResBlock>>,
    up_attention: Vec<Attention>,
    /// Convolutions after the ×2 upsampling 7 → 14 and 14 → 28.
    upsample: Vec<Conv2d>,
    norm_out: GroupNorm,
    conv_out: Conv2d,
    lambda_frequencies: usize,
}

impl UNet {
    pub fn new(config: &UNetConfig, device: &Device) -> Self {
        let widths = config.widths();
        let emb = config.embedding_width();
        let features = 2 * config.lambda_frequencies + 1;
        let mut down = Vec::new();
        let mut down_attention = Vec::new();
        let mut skips = vec![widths[0]];
        let mut width = widths[0];
        for (level, &w) in widths.iter().enumerate() {
            let mut blocks = Vec::new();
            for _ in 0..config.blocks {
                blocks.push(ResBlock::new(width, w, emb, device));
                width = w;
                if level == 2 && config.attention {
                    down_attention.push(Attention::new(w, device));
                }
                skips.push(w);
            }
            down.push(blocks);
            if level < 2 {
                skips.push(width);
            }
        }
        let downsample = (0..2)
            .map(|level| {
                Conv2dConfig::new([widths[level], widths[level]], [3, 3])
                    .with_stride([2, 2])
                    .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
                    .init(device)
            })
            .collect();
        let mid = widths[2];
        let mut up = Vec::new();
        let mut up_attention = Vec::new();
        for level in (0..3).rev() {
            let w = widths[level];
            let mut blocks = Vec::new();
            for _ in 0..=config.blocks {
                let skip = skips.pop().expect("one skip per block on the way up");
                blocks.push(ResBlock::new(width + skip, w, emb, device));
                width = w;
                if level == 2 && config.attention {
                    up_attention.push(Attention::new(w, device));
                }
            }
            up.push(blocks);
        }
        let upsample = [2usize, 1]
            .iter()
            .map(|&level| conv3(widths[level], widths[level], false, device))
            .collect();
        Self {
            embed_in: LinearConfig::new(features, emb).init(device),
            embed_out: LinearConfig::new(emb, emb).init(device),
            conv_in: conv3(1, widths[0], false, device),
            down,
            downsample,
            down_attention,
            mid1: ResBlock::new(mid, mid, emb, device),
            mid_attention: config.attention.then(|| Attention::new(mid, device)),
            mid2: ResBlock::new(mid, mid, emb, device),
            up,
            up_attention,
            upsample,
            norm_out: group_norm(widths[0], device),
            // Zero output: the untrained model predicts 0, a calm start for every target.
            conv_out: Conv2dConfig::new([widths[0], 1], [3, 3])
                .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
                .with_initializer(Initializer::Zeros)
                .init(device),
            lambda_frequencies: config.lambda_frequencies,
        }
    }

    /// The λ embedding: sin/cos of λ at the geometric frequencies the MLP uses, and λ scaled.
    fn embedding(&self, lambda: Tensor<2>) -> Tensor<2> {
        let n = self.lambda_frequencies;
        let freqs = Tensor::<1>::from_floats(lambda_frequencies(n).as_slice(), &lambda.device())
            .reshape([1, n]);
        let phase = lambda.clone() * freqs;
        let features = Tensor::cat(
            vec![
                phase.clone().sin(),
                phase.cos(),
                lambda.div_scalar(LAMBDA_SCALE),
            ],
            1,
        );
        self.embed_out
            .forward(silu(self.embed_in.forward(features)))
    }

    /// z: [B, 1, 28, 28], lambda: [B, 1] → the prediction of the chosen target, [B, 1, 28, 28].
    pub fn forward(&self, z: Tensor<4>, lambda: Tensor<2>) -> Tensor<4> {
        let emb = self.embedding(lambda);
        let mut h = conv::forward(&self.conv_in, z);
        let mut skips = vec![h.clone()];
        let mut attention = self.down_attention.iter();
        for (level, blocks) in self.down.iter().enumerate() {
            for block in blocks {
                h = block.forward(h, &emb);
                if level == 2 {
                    if let Some(a) = attention.next() {
                        h = a.forward(h);
                    }
                }
                skips.push(h.clone());
            }
            if level < 2 {
                h = conv::forward(&self.downsample[level], h);
                skips.push(h.clone());
            }
        }
        h = self.mid1.forward(h, &emb);
        if let Some(a) = &self.mid_attention {
            h = a.forward(h);
        }
        h = self.mid2.forward(h, &emb);
        let mut attention = self.up_attention.iter();
        for (i, blocks) in self.up.iter().enumerate() {
            let level = 2 - i;
            for block in blocks {
                let skip = skips.pop().expect("one skip per block on the way up");
                h = block.forward(Tensor::cat(vec![h, skip], 1), &emb);
                if level == 2 {
                    if let Some(a) = attention.next() {
                        h = a.forward(h);
                    }
                }
            }
            if level > 0 {
                h = conv::forward(&self.upsample[i], upsample(h));
            }
        }
        conv::forward(&self.conv_out, silu(self.norm_out.forward(h)))
    }
}
