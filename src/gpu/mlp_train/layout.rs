//! Where every tensor of the fused training step lives in the arena, and the fixed list of passes
//! one step runs (shared by the GPU kernels and their CPU twin, so both execute the same plan).

/// The denoiser's shape as the fused step needs it (engine/model.rs builds the same network).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MlpShape {
    /// Data dimension d.
    pub dim: usize,
    pub width: usize,
    /// Hidden layers.
    pub depth: usize,
    pub fourier_octaves: usize,
    pub lambda_frequencies: usize,
    /// Examples per step.
    pub batch: usize,
}

impl MlpShape {
    /// Input features: z, sin/cos of z at each octave, sin/cos of λ at each frequency, λ.
    pub fn features(&self) -> usize {
        self.dim + 2 * self.dim * self.fourier_octaves + 2 * self.lambda_frequencies + 1
    }

    /// (inputs, outputs) of each linear layer: input, hidden…, output.
    pub fn layers(&self) -> Vec<(usize, usize)> {
        let mut layers = vec![(self.features(), self.width)];
        layers.extend((1..self.depth).map(|_| (self.width, self.width)));
        layers.push((self.width, self.dim));
        layers
    }

    /// Parameters in burn's visiting order: per layer, weight [in, out] then bias [out].
    pub fn parameter_shapes(&self) -> Vec<Vec<usize>> {
        self.layers()
            .into_iter()
            .flat_map(|(i, o)| [vec![i, o], vec![o]])
            .collect()
    }

    pub fn n_params(&self) -> usize {
        self.layers().iter().map(|(i, o)| i * o + o).sum()
    }

    /// Floats of one step's batch slot: z [B·d], λ [B], target [B·d], coef [B].
    pub fn slot_len(&self) -> usize {
        self.batch * (2 * self.dim + 2)
    }
}

/// Workgroups of the gradient norm's first stage (`NORM_GROUPS` in the shader).
pub const NORM_GROUPS: usize = 256;

/// Offsets (in f32 elements) of everything in the arena.
#[derive(Debug, Clone, PartialEq)]
pub struct ArenaLayout {
    pub n_params: usize,
    pub params: usize,
    pub adam_m: usize,
    pub adam_v: usize,
    pub ema: usize,
    pub grads: usize,
    /// The λ embedding's frequencies.
    pub constants: usize,
    /// The network's input, [B, features].
    pub features: usize,
    /// Per hidden layer: pre-activation and activation, [B, width] each.
    pub pre: Vec<usize>,
    pub post: Vec<usize>,
    /// The prediction and the loss gradient with respect to it, [B, d] each.
    pub output: usize,
    pub output_grad: usize,
    /// Two [B, width] buffers for the gradient flowing down through hidden layers (ping-pong).
    pub hidden_grad: [usize; 2],
    /// NORM_GROUPS partial sums of g², then Σg².
    pub partial: usize,
    pub len: usize,
    /// Per layer: weight and bias offsets relative to a parameter copy's start.
    pub weight: Vec<usize>,
    pub bias: Vec<usize>,
}

impl ArenaLayout {
    pub fn new(shape: &MlpShape) -> Self {
        let p = shape.n_params();
        let mut next = 0;
        let mut take = |n: usize| {
            let at = next;
            next += n;
            at
        };
        let params = take(p);
        let adam_m = take(p);
        let adam_v = take(p);
        let ema = take(p);
        let grads = take(p);
        let constants = take(shape.lambda_frequencies.max(1));
        let features = take(shape.batch * shape.features());
        let hidden = shape.batch * shape.width;
        let mut pre = Vec::new();
        let mut post = Vec::new();
        for _ in 0..shape.depth {
            pre.push(take(hidden));
            post.push(take(hidden));
        }
        let output = take(shape.batch * shape.dim);
        let output_grad = take(shape.batch * shape.dim);
        let hidden_grad = [take(hidden), take(hidden)];
        let partial = take(NORM_GROUPS + 1);
        let mut weight = Vec::new();
        let mut bias = Vec::new();
        let mut at = 0;
        for (i, o) in shape.layers() {
            weight.push(at);
            bias.push(at + i * o);
            at += i * o + o;
        }
        Self {
            n_params: p,
            params,
            adam_m,
            adam_v,
            ema,
            grads,
            constants,
            features,
            pre,
            post,
            output,
            output_grad,
            hidden_grad,
            partial,
            len: next,
            weight,
            bias,
        }
    }

    /// The four copies a snapshot keeps (params, m, v, EMA) are contiguous from `params`.
    pub fn state_len(&self) -> usize {
        4 * self.n_params
    }
}

/// λ is divided by this for the raw-λ input, so it enters at unit scale for λ ∈ [−12, 12]. The
/// burn model (engine/model.rs) reads this constant: one definition for both.
pub const LAMBDA_SCALE: f32 = 10.0;

/// One pass's uniform, as `struct Op` in shaders/mlp_train.wgsl (all 4-byte scalars, in order).
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, bytemuck::Pod, bytemuck::Zeroable)]
pub struct Op {
    pub m: u32,
    pub n: u32,
    pub k: u32,
    pub mode: u32,
    pub a_off: u32,
    pub a_rs: u32,
    pub a_cs: u32,
    pub b_off: u32,
    pub b_rs: u32,
    pub b_cs: u32,
    pub c_off: u32,
    pub bias_off: u32,
    pub aux_off: u32,
    pub dim: u32,
    pub octaves: u32,
    pub lambda_freqs: u32,
    pub const_off: u32,
    pub batch: u32,
    pub n_params: u32,
    pub params_off: u32,
    pub m_off: u32,
    pub v_off: u32,
    pub ema_off: u32,
    pub grads_off: u32,
    pub partial_off: u32,
    pub lambda_scale: f32,
    /// 1: the matmul's A has one more row than its strides describe, all ones (row m − 1), so
    /// the product's last row is B's column sums: a weight gradient and its bias gradient in
    /// one pass, since each bias follows its weight in the arena.
    pub a_ones_row: u32,
    /// Pads to a multiple of 16 bytes, as a uniform struct is laid out.
    pub _pad: [u32; 5],
}

/// The matmul epilogues (`op.mode`).
pub const MODE_HIDDEN: u32 = 0;
pub const MODE_LINEAR: u32 = 1;
pub const MODE_PLAIN: u32 = 2;
pub const MODE_SILU_GRAD: u32 = 3;

/// What changes from step to step (`struct Step` in the shader).
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, bytemuck::Pod, bytemuck::Zeroable)]
pub struct Step {
    pub slot: u32,
    pub step_size: f32,
    pub eps_hat: f32,
    pub ema_decay: f32,
    pub beta1: f32,
    pub beta2: f32,
    pub clip: f32,
    pub _pad: u32,
}

/// Which entry point of the shader a pass runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kernel {
    Features,
    Matmul,
    LossGradient,
    SquaredNormPartial,
    SquaredNormTotal,
    AdamEma,
}

impl Kernel {
    pub const ALL: [Kernel; 6] = [
        Kernel::Features,
        Kernel::Matmul,
        Kernel::LossGradient,
        Kernel::SquaredNormPartial,
        Kernel::SquaredNormTotal,
        Kernel::AdamEma,
    ];

    pub fn entry_point(self) -> &'static str {
        match self {
            Kernel::Features => "features",
            Kernel::Matmul => "matmul",
            Kernel::LossGradient => "loss_gradient",
            Kernel::SquaredNormPartial => "squared_norm_partial",
            Kernel::SquaredNormTotal => "squared_norm_total",
            Kernel::AdamEma => "adam_ema",
        }
    }
}

/// One pass: its kernel, its uniform and how many workgroups it needs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Pass {
    pub kernel: Kernel,
    pub op: Op,
    pub groups: [u32; 3],
}

/// Largest workgroup count per dispatch dimension WebGPU guarantees.
const MAX_GROUPS: usize = 65_535;

fn groups_1d(threads: usize, per_group: usize) -> [u32; 3] {
    let total = threads.div_ceil(per_group).max(1);
    let x = total.min(MAX_GROUPS);
    [x as u32, total.div_ceil(x) as u32, 1]
}

/// The passes of one training step, in order: features, forward, loss gradient, backward (weight
/// and bias gradient, gradient into the layer below), ‖g‖², Adam + EMA.
pub fn step_passes(shape: &MlpShape, layout: &ArenaLayout) -> Vec<Pass> {
    let u = |v: usize| v as u32;
    let base = Op {
        dim: u(shape.dim),
        octaves: u(shape.fourier_octaves),
        lambda_freqs: u(shape.lambda_frequencies),
        const_off: u(layout.constants),
        batch: u(shape.batch),
        n_params: u(layout.n_params),
        params_off: u(layout.params),
        m_off: u(layout.adam_m),
        v_off: u(layout.adam_v),
        ema_off: u(layout.ema),
        grads_off: u(layout.grads),
        partial_off: u(layout.partial),
        lambda_scale: LAMBDA_SCALE,
        ..Op::default()
    };
    let layers = shape.layers();
    let last = layers.len() - 1;
    let input_of = |l: usize| {
        if l == 0 {
            layout.features
        } else {
            layout.post[l - 1]
        }
    };
    let grad_of = |l: usize| {
        if l == last {
            layout.output_grad
        } else {
            layout.hidden_grad[l % 2]
        }
    };
    let matmul = |m: usize, n: usize, k: usize, op: Op| Pass {
        kernel: Kernel::Matmul,
        op: Op {
            m: u(m),
            n: u(n),
            k: u(k),
            ..op
        },
        groups: [u(n.div_ceil(64)), u(m.div_ceil(64)), 1],
    };
    let b = shape.batch;
    let mut passes = vec![Pass {
        kernel: Kernel::Features,
        op: Op {
            n: u(shape.features()),
            c_off: u(layout.features),
            ..base
        },
        groups: groups_1d(b, 64),
    }];
    for (l, &(inputs, outputs)) in layers.iter().enumerate() {
        let hidden = l < last;
        passes.push(matmul(
            b,
            outputs,
            inputs,
            Op {
                mode: if hidden { MODE_HIDDEN } else { MODE_LINEAR },
                a_off: u(input_of(l)),
                a_rs: u(inputs),
                a_cs: 1,
                b_off: u(layout.params + layout.weight[l]),
                b_rs: u(outputs),
                b_cs: 1,
                c_off: u(if hidden { layout.pre[l] } else { layout.output }),
                bias_off: u(layout.params + layout.bias[l]),
                aux_off: u(if hidden { layout.post[l] } else { 0 }),
                ..base
            },
        ));
    }
    passes.push(Pass {
        kernel: Kernel::LossGradient,
        op: Op {
            a_off: u(layout.output),
            c_off: u(layout.output_grad),
            ..base
        },
        groups: groups_1d(b, 64),
    });
    for l in (0..layers.len()).rev() {
        let (inputs, outputs) = layers[l];
        // [dW; db] = [input, 1]ᵀ·G: A[i, k] = input[k, i], and a last row of ones gives
        // the bias gradient (G's column sums) right after the weight's.
        passes.push(matmul(
            inputs + 1,
            outputs,
            b,
            Op {
                mode: MODE_PLAIN,
                a_off: u(input_of(l)),
                a_rs: 1,
                a_cs: u(inputs),
                a_ones_row: 1,
                b_off: u(grad_of(l)),
                b_rs: u(outputs),
                b_cs: 1,
                c_off: u(layout.grads + layout.weight[l]),
                ..base
            },
        ));
        if l > 0 {
            // G below = (G·Wᵀ) ⊙ silu'(pre): B[k, j] = W[j, k].
            passes.push(matmul(
                b,
                inputs,
                outputs,
                Op {
                    mode: MODE_SILU_GRAD,
                    a_off: u(grad_of(l)),
                    a_rs: u(outputs),
                    a_cs: 1,
                    b_off: u(layout.params + layout.weight[l]),
                    b_rs: 1,
                    b_cs: u(outputs),
                    c_off: u(grad_of(l - 1)),
                    aux_off: u(layout.pre[l - 1]),
                    ..base
                },
            ));
        }
    }
    passes.push(Pass {
        kernel: Kernel::SquaredNormPartial,
        op: base,
        groups: [NORM_GROUPS as u32, 1, 1],
    });
    passes.push(Pass {
        kernel: Kernel::SquaredNormTotal,
        op: base,
        groups: [1, 1, 1],
    });
    passes.push(Pass {
        kernel: Kernel::AdamEma,
        op: base,
        groups: groups_1d(layout.n_params, 256),
    });
    passes
}

/// The λ embedding's frequencies, geometric over [0.05, 8]: the slowest resolves the whole λ
/// range, the fastest a fraction of a nat. The burn model (engine/model.rs) calls this too.
pub fn lambda_frequencies(n: usize) -> Vec<f32> {
    const MIN: f32 = 0.05;
    const MAX: f32 = 8.0;
    let ratio = (MAX / MIN).powf(1.0 / (n.max(2) - 1) as f32);
    (0..n).map(|j| MIN * ratio.powi(j as i32)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_op_struct_has_the_uniform_layout_of_the_shader() {
        // 27 four-byte fields (108 bytes; WGSL rounds the uniform to 112), padded to 128 on the host.
        assert_eq!(std::mem::size_of::<Op>(), 128);
        assert_eq!(std::mem::size_of::<Step>(), 32);
    }

    #[test]
    fn regions_do_not_overlap_and_the_ping_pong_alternates() {
        let shape = MlpShape {
            dim: 2,
            width: 8,
            depth: 3,
            fourier_octaves: 2,
            lambda_frequencies: 3,
            batch: 5,
        };
        let layout = ArenaLayout::new(&shape);
        // Inputs: z (2) + sin/cos of z at 2 octaves (8) + sin/cos of λ at 3 frequencies (6) + λ.
        assert_eq!(shape.features(), 17);
        assert_eq!(
            layout.n_params,
            (17 * 8 + 8) + 2 * (8 * 8 + 8) + (8 * 2 + 2)
        );
        assert_eq!(*layout.bias.last().unwrap() + 2, layout.n_params);
        assert_eq!(layout.len, layout.partial + NORM_GROUPS + 1);
        let passes = step_passes(&shape, &layout);
        // 1 features + 4 forward + loss + 4 [dW; db] + 3 down + 2 norm + Adam.
        assert_eq!(passes.len(), 1 + 4 + 1 + 4 + 3 + 2 + 1);
        for p in &passes {
            if p.op.a_ones_row == 1 {
                // The gradient's last row lands exactly on the bias.
                let l = layout
                    .weight
                    .iter()
                    .position(|&w| layout.grads + w == p.op.c_off as usize);
                let l = l.expect("a weight gradient");
                assert_eq!(
                    layout.weight[l] + (p.op.m as usize - 1) * p.op.n as usize,
                    layout.bias[l]
                );
            }
            if p.kernel == Kernel::Matmul && p.op.mode == MODE_SILU_GRAD {
                assert_ne!(
                    p.op.a_off, p.op.c_off,
                    "the gradient below must not overwrite G"
                );
            }
        }
    }
}
