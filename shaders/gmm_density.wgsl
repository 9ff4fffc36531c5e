// Log-density of the noisy marginal q(z_λ) of an isotropic 2D Gaussian mixture, on a pixel grid.
//
// Forward process (paper Eq. 1, VP case Eq. 100-101): z_λ = α_λ x + σ_λ ε with α² = sigmoid(λ),
// σ² = sigmoid(-λ). A mixture Σ_k π_k N(μ_k, s_k² I) stays a mixture under it:
//     q(z_λ) = Σ_k π_k N(z; α μ_k, (α² s_k² + σ²) I).
//
// Inputs
//   params      (uniform)  origin = data-space coordinate of pixel (0, 0)'s centre, step = pixel size
//                           (y grows downwards in the image, so step.y is usually negative),
//                           width × height pixels, n_components, lambda.
//   components  (storage)  one Component per mixture component: mean, standard deviation (named
//                          `spread`: `std` is reserved in WGSL), log of its weight.
// Output
//   log_q       (storage)  width*height f32, row-major (row = y index), natural-log density.
//
// f32 care: α² and σ² come from a two-sided sigmoid (never 1 - sigmoid), so σ² at λ = 20 is 2e-9
// rather than 0; the mixture sum is a streaming log-sum-exp so far-away pixels do not underflow.

struct Params {
    origin: vec2<f32>,
    step: vec2<f32>,
    width: u32,
    height: u32,
    n_components: u32,
    lambda: f32,
}

struct Component {
    mean: vec2<f32>,
    spread: f32,
    log_weight: f32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> components: array<Component>;
@group(0) @binding(2) var<storage, read_write> log_q: array<f32>;

const LOG_TWO_PI: f32 = 1.8378770664093453;

// sigmoid(x) without overflow and without cancellation for large |x|.
fn stable_sigmoid(x: f32) -> f32 {
    if (x >= 0.0) {
        return 1.0 / (1.0 + exp(-x));
    }
    let e = exp(x);
    return e / (1.0 + e);
}

@compute @workgroup_size(8, 8, 1)
fn main(@builtin(global_invocation_id) id: vec3<u32>) {
    if (id.x >= params.width || id.y >= params.height) {
        return;
    }
    let z = params.origin + vec2<f32>(f32(id.x), f32(id.y)) * params.step;
    let alpha2 = stable_sigmoid(params.lambda);
    let sigma2 = stable_sigmoid(-params.lambda);
    let alpha = sqrt(alpha2);

    // Streaming log-sum-exp: keep the running maximum m and Σ exp(term - m).
    var m: f32 = -3.0e38;
    var acc: f32 = 0.0;
    for (var k: u32 = 0u; k < params.n_components; k = k + 1u) {
        let c = components[k];
        let variance = alpha2 * c.spread * c.spread + sigma2;
        let d = z - alpha * c.mean;
        // log N(z; αμ, v I) in 2D = -|z-αμ|²/(2v) - log(2π v)
        let term = c.log_weight - dot(d, d) / (2.0 * variance) - LOG_TWO_PI - log(variance);
        if (term > m) {
            acc = acc * exp(m - term) + 1.0;
            m = term;
        } else {
            acc = acc + exp(term - m);
        }
    }
    log_q[id.y * params.width + id.x] = m + log(acc);
}
