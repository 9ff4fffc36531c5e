// One training step of the denoiser MLP (engine/model.rs) as a handful of compute passes, so that
// many steps go to the GPU in one submission with nothing read back between them.
//
// Every tensor lives in one storage buffer, `arena`, at offsets the host computes
// (gpu/mlp_train/layout.rs):
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
    // 1: A's row m − 1 is all ones (not in memory), so C's last row is B's column sums: the
    // weight gradient's pass also writes the bias gradient, which follows it in the arena.
    a_ones_row: u32,
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
// A thread owns rows 4·lid.y … 4·lid.y + 3 and columns 4·lid.x … 4·lid.x + 3. Tiles are stored
// k-major as vec4s, so each step along K is two vector loads and sixteen multiply-adds, and are
// filled in the order that makes neighbouring threads read neighbouring global addresses (k
// fastest when the operand is contiguous along k, as A is in forward passes). The sixteen
// accumulators are four vec4s, which every compiler keeps in registers.
const TILE: u32 = 64u;
const TILE_K: u32 = 16u;
var<workgroup> tile_a: array<vec4<f32>, 256>;
var<workgroup> tile_b: array<vec4<f32>, 256>;

// The tile coordinates (along M or N, along K) of load r of thread li.
fn tile_slot(li: u32, r: u32, k_fastest: bool) -> vec2<u32> {
    let e = li + r * 256u;
    if k_fastest {
        return vec2(e / TILE_K, e % TILE_K);
    }
    return vec2(e % TILE, e / TILE);
}

@compute @workgroup_size(16, 16)
fn matmul(
    @builtin(workgroup_id) wg: vec3<u32>,
    @builtin(local_invocation_id) lid: vec3<u32>,
    @builtin(local_invocation_index) li: u32,
) {
    let row0 = wg.y * TILE;
    let col0 = wg.x * TILE;
    let a_k_fastest = op.a_cs == 1u;
    let b_k_fastest = op.b_rs == 1u;
    var acc0 = vec4<f32>(0.0);
    var acc1 = vec4<f32>(0.0);
    var acc2 = vec4<f32>(0.0);
    var acc3 = vec4<f32>(0.0);
    for (var k0 = 0u; k0 < op.k; k0 += TILE_K) {
        for (var r = 0u; r < 4u; r++) {
            let sa = tile_slot(li, r, a_k_fastest);
            let ga = vec2(row0 + sa.x, k0 + sa.y);
            var a = 0.0;
            if ga.x < op.m && ga.y < op.k {
                if op.a_ones_row == 1u && ga.x == op.m - 1u {
                    a = 1.0;
                } else {
                    a = arena[op.a_off + ga.x * op.a_rs + ga.y * op.a_cs];
                }
            }
            tile_a[sa.y * 16u + sa.x / 4u][sa.x % 4u] = a;
            let sb = tile_slot(li, r, b_k_fastest);
            let gb = vec2(col0 + sb.x, k0 + sb.y);
            var b = 0.0;
            if gb.x < op.n && gb.y < op.k {
                b = arena[op.b_off + gb.y * op.b_rs + gb.x * op.b_cs];
            }
            tile_b[sb.y * 16u + sb.x / 4u][sb.x % 4u] = b;
        }
        workgroupBarrier();
        for (var kk = 0u; kk < TILE_K; kk++) {
            let a = tile_a[kk * 16u + lid.y];
            let b = tile_b[kk * 16u + lid.x];
            acc0 += a.x * b;
            acc1 += a.y * b;
            acc2 += a.z * b;
            acc3 += a.w * b;
        }
        workgroupBarrier();
    }
    let i = row0 + 4u * lid.y;
    let j = col0 + 4u * lid.x;
    matmul_store_row(i, j, acc0);
    matmul_store_row(i + 1u, j, acc1);
    matmul_store_row(i + 2u, j, acc2);
    matmul_store_row(i + 3u, j, acc3);
}

// A thread's four outputs of row i: columns j … j + 3.
fn matmul_store_row(i: u32, j: u32, v: vec4<f32>) {
    matmul_store(i, j, v.x);
    matmul_store(i, j + 1u, v.y);
    matmul_store(i, j + 2u, v.z);
    matmul_store(i, j + 3u, v.w);
}

// Output (i, j) of the product through the epilogue op.mode names (see struct Op).
fn matmul_store(i: u32, j: u32, v: f32) {
    if i >= op.m || j >= op.n {
        return;
    }
    let at = i * op.n + j;
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
