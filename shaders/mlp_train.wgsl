// One training step of the denoiser MLP (engine/model.rs) as a handful of compute passes, so that
// many steps go to the GPU in one submission with nothing read back between them.
//
// Every tensor lives in one storage buffer, `arena`, at offsets the host computes (gpu/mlp/layout.rs):
//   params | adam m | adam v | ema | grads | constants | work (features, activations, gradients)
// Weights are stored as burn's Linear stores them, [in, out] row-major with y = x·W + b, layer after
// layer (input, hidden…, output), weight then bias, so the host copies them to and from burn as is.
//
// Inputs
//   op       (uniform, dynamic offset)  which pass and its sizes/offsets (struct Op below)
//   step     (uniform, dynamic offset)  what changes per step: its batch slot, Adam's folded step size
//                                       and ε̂, the EMA decay (struct Step)
//   batch    (storage, read)            per slot of the chunk: z [B·d], λ [B], target [B·d], coef [B],
//                                       all prepared on the host from the theory core (engine/objective.rs)
// Outputs
//   arena    (storage)                  updated params, Adam moments, EMA
//   errors   (storage)                  ‖y − ŷ‖² per example, [slot·B + i], read back at display rate
//
// f32 care: sigmoid is evaluated as 1/(1 + exp(−a)), which saturates to 0 or 1 without NaN; the
// phases of sin/cos are reduced to [−π, π] first, where GPU sin/cos have a stated precision; the
// gradient norm is a two-stage tree reduction, not one long serial sum.

struct Op {
    // Matrix product C[m, n] = A[m, k]·B[k, n] (+ epilogue), element (i, j) of A at
    // a_off + i·a_rs + j·a_cs (strides express transposes), C dense row-major at c_off.
    m: u32,
    n: u32,
    k: u32,
    // 0: C = A·B + bias, aux = silu(C)  (hidden layer: C keeps the pre-activation for backward)
    // 1: C = A·B + bias                 (output layer)
    // 2: C = A·B                        (weight gradient)
    // 3: C = (A·B) ⊙ silu'(aux)         (gradient through a hidden layer's activation)
    mode: u32,
    a_off: u32,
    a_rs: u32,
    a_cs: u32,
    b_off: u32,
    b_rs: u32,
    b_cs: u32,
    c_off: u32,
    bias_off: u32,
    aux_off: u32,
    // Features: the input dimension d, octaves of z, λ frequencies (stored at const_off).
    dim: u32,
    octaves: u32,
    lambda_freqs: u32,
    const_off: u32,
    // Sizes shared by several passes: examples per step, parameters in all.
    batch: u32,
    n_params: u32,
    // Offsets of the parameter copies and of the reduction scratch.
    params_off: u32,
    m_off: u32,
    v_off: u32,
    ema_off: u32,
    grads_off: u32,
    partial_off: u32,
    lambda_scale: f32,
}

struct Step {
    slot: u32,
    // lr·√(1 − β₂ᵗ)/(1 − β₁ᵗ) and ε·√(1 − β₂ᵗ): Adam's bias correction folded in (Kingma & Ba, Alg. 1).
    step_size: f32,
    eps_hat: f32,
    ema_decay: f32,
    beta1: f32,
    beta2: f32,
    clip: f32,
}

@group(0) @binding(0) var<uniform> op: Op;
@group(0) @binding(1) var<uniform> step: Step;
@group(0) @binding(2) var<storage, read_write> arena: array<f32>;
@group(0) @binding(3) var<storage, read> batch: array<f32>;
@group(0) @binding(4) var<storage, read_write> errors: array<f32>;

const PI: f32 = 3.14159265358979;
const TWO_PI: f32 = 6.28318530717959;
// Workgroups of the first stage of the gradient-norm reduction (and partial sums it leaves).
const NORM_GROUPS: u32 = 256u;

fn sigmoid(a: f32) -> f32 {
    return 1.0 / (1.0 + exp(-a));
}

fn reduce_phase(phase: f32) -> f32 {
    return phase - TWO_PI * round(phase / TWO_PI);
}

// Where the slot's arrays start in `batch`.
fn slot_base() -> u32 {
    return step.slot * op.batch * (2u * op.dim + 2u);
}

// The network's input row for example i: z, sin and cos of z·2^k (coordinate-major), sin and cos
// of λ·f_j, and λ/lambda_scale. Writes op.n values at c_off + i·op.n.
@compute @workgroup_size(64)
fn features(@builtin(global_invocation_id) gid: vec3<u32>) {
    let i = gid.x;
    if i >= op.batch {
        return;
    }
    let d = op.dim;
    let base = slot_base();
    let lambda = batch[base + op.batch * d + i];
    let row = op.c_off + i * op.n;
    var col = 0u;
    for (var j = 0u; j < d; j++) {
        arena[row + col] = batch[base + i * d + j];
        col++;
    }
    let n_phase = d * op.octaves;
    for (var j = 0u; j < d; j++) {
        let z = batch[base + i * d + j];
        for (var k = 0u; k < op.octaves; k++) {
            let phase = reduce_phase(z * f32(1u << k));
            arena[row + col + j * op.octaves + k] = sin(phase);
            arena[row + col + n_phase + j * op.octaves + k] = cos(phase);
        }
    }
    col += 2u * n_phase;
    for (var j = 0u; j < op.lambda_freqs; j++) {
        let phase = reduce_phase(lambda * arena[op.const_off + j]);
        arena[row + col + j] = sin(phase);
        arena[row + col + op.lambda_freqs + j] = cos(phase);
    }
    col += 2u * op.lambda_freqs;
    arena[row + col] = lambda / op.lambda_scale;
}

// 64×64 output tile per workgroup, 4×4 per thread, K in slices of 16 through workgroup memory.
var<workgroup> tile_a: array<f32, 1024>;
var<workgroup> tile_b: array<f32, 1024>;

@compute @workgroup_size(16, 16)
fn matmul(
    @builtin(workgroup_id) wg: vec3<u32>,
    @builtin(local_invocation_id) lid: vec3<u32>,
    @builtin(local_invocation_index) li: u32,
) {
    let row0 = wg.y * 64u;
    let col0 = wg.x * 64u;
    var acc: array<f32, 16>;
    for (var s = 0u; s < 16u; s++) {
        acc[s] = 0.0;
    }
    for (var k0 = 0u; k0 < op.k; k0 += 16u) {
        for (var r = 0u; r < 4u; r++) {
            let e = li + r * 256u;
            let t = e % 64u;
            let kk = e / 64u;
            let gk = k0 + kk;
            var a = 0.0;
            if row0 + t < op.m && gk < op.k {
                a = arena[op.a_off + (row0 + t) * op.a_rs + gk * op.a_cs];
            }
            tile_a[kk * 64u + t] = a;
            var b = 0.0;
            if col0 + t < op.n && gk < op.k {
                b = arena[op.b_off + gk * op.b_rs + (col0 + t) * op.b_cs];
            }
            tile_b[kk * 64u + t] = b;
        }
        workgroupBarrier();
        for (var kk = 0u; kk < 16u; kk++) {
            var a: array<f32, 4>;
            var b: array<f32, 4>;
            for (var r = 0u; r < 4u; r++) {
                a[r] = tile_a[kk * 64u + lid.y * 4u + r];
                b[r] = tile_b[kk * 64u + lid.x * 4u + r];
            }
            for (var r = 0u; r < 4u; r++) {
                for (var c = 0u; c < 4u; c++) {
                    acc[r * 4u + c] += a[r] * b[c];
                }
            }
        }
        workgroupBarrier();
    }
    for (var r = 0u; r < 4u; r++) {
        let i = row0 + lid.y * 4u + r;
        for (var c = 0u; c < 4u; c++) {
            let j = col0 + lid.x * 4u + c;
            if i < op.m && j < op.n {
                let at = i * op.n + j;
                let v = acc[r * 4u + c];
                switch op.mode {
                    case 0u: {
                        let pre = v + arena[op.bias_off + j];
                        arena[op.c_off + at] = pre;
                        arena[op.aux_off + at] = pre * sigmoid(pre);
                    }
                    case 1u: {
                        arena[op.c_off + at] = v + arena[op.bias_off + j];
                    }
                    case 3u: {
                        let pre = arena[op.aux_off + at];
                        let s = sigmoid(pre);
                        arena[op.c_off + at] = v * s * (1.0 + pre * (1.0 - s));
                    }
                    default: {
                        arena[op.c_off + at] = v;
                    }
                }
            }
        }
    }
}

// Eq. 7's batch mean of c_i‖y_i − ŷ_i‖²: records ‖y − ŷ‖² per example and writes its gradient
// with respect to the prediction, 2c_i(ŷ_i − y_i)/B, at c_off. The prediction is at a_off.
@compute @workgroup_size(64)
fn loss_gradient(@builtin(global_invocation_id) gid: vec3<u32>) {
    let i = gid.x;
    if i >= op.batch {
        return;
    }
    let d = op.dim;
    let base = slot_base();
    let target_at = base + op.batch * (d + 1u);
    let coef = batch[base + op.batch * (2u * d + 1u) + i];
    var err = 0.0;
    for (var j = 0u; j < d; j++) {
        let diff = arena[op.a_off + i * d + j] - batch[target_at + i * d + j];
        err += diff * diff;
        arena[op.c_off + i * d + j] = 2.0 * coef * diff / f32(op.batch);
    }
    errors[step.slot * op.batch + i] = err;
}

// Bias gradient: column sums of the m×n matrix at a_off, written at c_off.
@compute @workgroup_size(64)
fn column_sum(@builtin(global_invocation_id) gid: vec3<u32>) {
    let j = gid.x;
    if j >= op.n {
        return;
    }
    var total = 0.0;
    for (var i = 0u; i < op.m; i++) {
        total += arena[op.a_off + i * op.n + j];
    }
    arena[op.c_off + j] = total;
}

var<workgroup> partial: array<f32, 256>;

fn tree_sum(li: u32) {
    for (var width = 128u; width > 0u; width /= 2u) {
        workgroupBarrier();
        if li < width {
            partial[li] += partial[li + width];
        }
    }
    workgroupBarrier();
}

// Stage 1 of Σg²: NORM_GROUPS workgroups, each a grid-strided share of the gradient.
@compute @workgroup_size(256)
fn squared_norm_partial(
    @builtin(workgroup_id) wg: vec3<u32>,
    @builtin(local_invocation_index) li: u32,
) {
    var total = 0.0;
    for (var at = wg.x * 256u + li; at < op.n_params; at += NORM_GROUPS * 256u) {
        let g = arena[op.grads_off + at];
        total += g * g;
    }
    partial[li] = total;
    tree_sum(li);
    if li == 0u {
        arena[op.partial_off + wg.x] = partial[0];
    }
}

// Stage 2: one workgroup adds the partial sums; the total lands at partial_off + NORM_GROUPS.
@compute @workgroup_size(256)
fn squared_norm_total(@builtin(local_invocation_index) li: u32) {
    partial[li] = arena[op.partial_off + li];
    tree_sum(li);
    if li == 0u {
        arena[op.partial_off + NORM_GROUPS] = partial[0];
    }
}

// Adam with global-norm clipping, then the EMA of the updated weights (engine/optim.rs).
@compute @workgroup_size(256)
fn adam_ema(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let at = gid.x + gid.y * groups.x * 256u;
    if at >= op.n_params {
        return;
    }
    let norm = sqrt(arena[op.partial_off + NORM_GROUPS]);
    let scale = min(1.0, step.clip / (norm + 1e-12));
    let g = arena[op.grads_off + at] * scale;
    let m = step.beta1 * arena[op.m_off + at] + (1.0 - step.beta1) * g;
    let v = step.beta2 * arena[op.v_off + at] + (1.0 - step.beta2) * g * g;
    arena[op.m_off + at] = m;
    arena[op.v_off + at] = v;
    let param = arena[op.params_off + at] - step.step_size * m / (sqrt(v) + step.eps_hat);
    arena[op.params_off + at] = param;
    let ema = arena[op.ema_off + at];
    arena[op.ema_off + at] = step.ema_decay * ema + (1.0 - step.ema_decay) * param;
}
