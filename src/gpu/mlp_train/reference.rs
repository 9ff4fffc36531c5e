//! The CPU twin of shaders/mlp_train.wgsl: each entry point re-written in plain Rust (f64), run
//! over the same arena layout and the same list of passes, so the tests can compare the GPU with
//! it pass by pass and step by step.

use super::layout::{
    Kernel, Op, Pass, Step, MODE_HIDDEN, MODE_LINEAR, MODE_PLAIN, MODE_SILU_GRAD, NORM_GROUPS,
};

fn sigmoid(a: f64) -> f64 {
    1.0 / (1.0 + (-a).exp())
}

fn idx(v: u32) -> usize {
    v as usize
}

/// Runs one pass over `arena` with the step's batch slot `batch` and `errors` (same meaning
/// as the shader's bindings).
pub fn run_pass(pass: &Pass, step: &Step, arena: &mut [f64], batch: &[f64], errors: &mut [f64]) {
    let op = &pass.op;
    let slot = idx(step.slot) * idx(op.batch) * (2 * idx(op.dim) + 2);
    match pass.kernel {
        Kernel::Features => features(op, &batch[slot..], arena),
        Kernel::Matmul => matmul(op, arena),
        Kernel::LossGradient => {
            let b = idx(op.batch);
            loss_gradient(
                op,
                &batch[slot..],
                arena,
                &mut errors[idx(step.slot) * b..][..b],
            )
        }
        // The twin sums in one pass; the GPU's two-stage tree sum differs only by rounding.
        Kernel::SquaredNormPartial => {
            let g = &arena[idx(op.grads_off)..][..idx(op.n_params)];
            let total: f64 = g.iter().map(|g| g * g).sum();
            let partial = idx(op.partial_off);
            arena[partial..partial + NORM_GROUPS].fill(0.0);
            arena[partial] = total;
        }
        Kernel::SquaredNormTotal => {
            let partial = idx(op.partial_off);
            arena[partial + NORM_GROUPS] = arena[partial..partial + NORM_GROUPS].iter().sum();
        }
        Kernel::AdamEma => adam_ema(op, step, arena),
    }
}

fn features(op: &Op, slot: &[f64], arena: &mut [f64]) {
    let (b, d) = (idx(op.batch), idx(op.dim));
    let octaves = idx(op.octaves);
    let freqs = idx(op.lambda_freqs);
    for i in 0..b {
        let lambda = slot[b * d + i];
        let mut row = Vec::with_capacity(idx(op.n));
        let z = &slot[i * d..(i + 1) * d];
        row.extend_from_slice(z);
        let phases: Vec<f64> = z
            .iter()
            .flat_map(|z| (0..octaves).map(move |k| z * f64::from(1u32 << k)))
            .collect();
        row.extend(phases.iter().map(|p| p.sin()));
        row.extend(phases.iter().map(|p| p.cos()));
        let lambda_phases: Vec<f64> = (0..freqs)
            .map(|j| lambda * arena[idx(op.const_off) + j])
            .collect();
        row.extend(lambda_phases.iter().map(|p| p.sin()));
        row.extend(lambda_phases.iter().map(|p| p.cos()));
        row.push(lambda / f64::from(op.lambda_scale));
        arena[idx(op.c_off) + i * row.len()..][..row.len()].copy_from_slice(&row);
    }
}

fn matmul(op: &Op, arena: &mut [f64]) {
    let (m, n, k) = (idx(op.m), idx(op.n), idx(op.k));
    let a = |i: usize, kk: usize| idx(op.a_off) + i * idx(op.a_rs) + kk * idx(op.a_cs);
    let b = |kk: usize, j: usize| idx(op.b_off) + kk * idx(op.b_rs) + j * idx(op.b_cs);
    let is_ones_row = |i: usize| op.a_ones_row == 1 && i + 1 == m;
    let mut out = vec![0.0; m * n];
    for i in 0..m {
        for kk in 0..k {
            let aik = if is_ones_row(i) { 1.0 } else { arena[a(i, kk)] };
            for j in 0..n {
                out[i * n + j] += aik * arena[b(kk, j)];
            }
        }
    }
    for (at, v) in out.into_iter().enumerate() {
        let j = at % n;
        match op.mode {
            MODE_HIDDEN => {
                let pre = v + arena[idx(op.bias_off) + j];
                arena[idx(op.c_off) + at] = pre;
                arena[idx(op.aux_off) + at] = pre * sigmoid(pre);
            }
            MODE_LINEAR => arena[idx(op.c_off) + at] = v + arena[idx(op.bias_off) + j],
            MODE_SILU_GRAD => {
                let pre = arena[idx(op.aux_off) + at];
                let s = sigmoid(pre);
                arena[idx(op.c_off) + at] = v * s * (1.0 + pre * (1.0 - s));
            }
            MODE_PLAIN => arena[idx(op.c_off) + at] = v,
            other => panic!("unknown matmul mode {other}"),
        }
    }
}

fn loss_gradient(op: &Op, slot: &[f64], arena: &mut [f64], errors: &mut [f64]) {
    let (b, d) = (idx(op.batch), idx(op.dim));
    for (i, err_out) in errors.iter_mut().enumerate() {
        let coef = slot[b * (2 * d + 1) + i];
        let mut err = 0.0;
        for j in 0..d {
            let diff = arena[idx(op.a_off) + i * d + j] - slot[b * (d + 1) + i * d + j];
            err += diff * diff;
            arena[idx(op.c_off) + i * d + j] = 2.0 * coef * diff / b as f64;
        }
        *err_out = err;
    }
}

fn adam_ema(op: &Op, step: &Step, arena: &mut [f64]) {
    let norm = arena[idx(op.partial_off) + NORM_GROUPS].sqrt();
    let scale = (f64::from(step.clip) / (norm + 1e-12)).min(1.0);
    let (b1, b2) = (f64::from(step.beta1), f64::from(step.beta2));
    let decay = f64::from(step.ema_decay);
    for at in 0..idx(op.n_params) {
        let g = arena[idx(op.grads_off) + at] * scale;
        let m = b1 * arena[idx(op.m_off) + at] + (1.0 - b1) * g;
        let v = b2 * arena[idx(op.v_off) + at] + (1.0 - b2) * g * g;
        arena[idx(op.m_off) + at] = m;
        arena[idx(op.v_off) + at] = v;
        let param = arena[idx(op.params_off) + at]
            - f64::from(step.step_size) * m / (v.sqrt() + f64::from(step.eps_hat));
        arena[idx(op.params_off) + at] = param;
        let ema = arena[idx(op.ema_off) + at];
        arena[idx(op.ema_off) + at] = decay * ema + (1.0 - decay) * param;
    }
}
