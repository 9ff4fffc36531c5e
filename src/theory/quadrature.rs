//! Quadrature rules: Gauss–Legendre (plain, composite, cumulative), Gauss–Hermite for E over
//! N(0, 1), composite rules for Gaussian expectations, and adaptive Gauss–Kronrod.

use std::f64::consts::PI;

use super::error::TheoryError;
use super::numeric::normal_pdf;

/// Nodes and weights of a quadrature rule: ∫ g ≈ Σ_i `weights[i] · g(nodes[i])`.
#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    pub nodes: Vec<f64>,
    pub weights: Vec<f64>,
}

impl Rule {
    /// Applies the rule to a function.
    pub fn integrate(&self, mut g: impl FnMut(f64) -> f64) -> f64 {
        self.nodes
            .iter()
            .zip(&self.weights)
            .map(|(&x, &w)| w * g(x))
            .sum()
    }

    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }
}

/// n-point Gauss–Legendre rule on [-1, 1] (exact for polynomials of degree 2n-1), nodes ascending.
///
/// Newton iteration on the Legendre recurrence; accurate to rounding for n up to a few hundred.
/// `n = 0` gives an empty rule.
pub fn gauss_legendre(n: usize) -> Rule {
    let mut nodes = vec![0.0; n];
    let mut weights = vec![0.0; n];
    let nf = n as f64;
    for i in 0..n.div_ceil(2) {
        let mut z = (PI * (i as f64 + 0.75) / (nf + 0.5)).cos();
        let mut dp = 1.0;
        for _ in 0..100 {
            let (p, d) = legendre_and_derivative(n, z);
            dp = d;
            let step = p / d;
            z -= step;
            if step.abs() < 1e-16 {
                break;
            }
        }
        let (_, d) = legendre_and_derivative(n, z);
        if d.is_finite() {
            dp = d;
        }
        nodes[i] = -z;
        nodes[n - 1 - i] = z;
        let w = 2.0 / ((1.0 - z * z) * dp * dp);
        weights[i] = w;
        weights[n - 1 - i] = w;
    }
    if n % 2 == 1 {
        nodes[n / 2] = 0.0;
    }
    Rule { nodes, weights }
}

/// P_n(z) and P_n'(z) by the three-term recurrence.
fn legendre_and_derivative(n: usize, z: f64) -> (f64, f64) {
    let mut p0 = 1.0;
    let mut p1 = 0.0;
    for j in 0..n {
        let p2 = p1;
        p1 = p0;
        p0 = ((2 * j + 1) as f64 * z * p1 - j as f64 * p2) / (j + 1) as f64;
    }
    let d = n as f64 * (z * p0 - p1) / (z * z - 1.0);
    (p0, d)
}

/// n-point Gauss–Hermite rule for expectations over N(0, 1) (probabilists' convention):
/// E[g(ε)] ≈ Σ w_i g(x_i), weights summing to 1, exact for polynomials of degree 2n-1.
///
/// Newton on the orthonormal Hermite recurrence with the classical asymptotic starting points;
/// reliable for n up to about 150. It converges slowly for integrands with sharp transitions
/// (use [`gaussian_panels`] there).
pub fn gauss_hermite(n: usize) -> Rule {
    // Physicists' rule for ∫ e^{-x²} g(x) dx first, then x → √2 x, w → w/√π.
    let mut x = vec![0.0; n];
    let mut w = vec![0.0; n];
    let nf = n as f64;
    let mut z = 0.0;
    for i in 0..n.div_ceil(2) {
        z = match i {
            0 => (2.0 * nf + 1.0).sqrt() - 1.855_75 * (2.0 * nf + 1.0).powf(-1.0 / 6.0),
            1 => z - 1.14 * nf.powf(0.426) / z,
            2 => 1.86 * z - 0.86 * x[0],
            3 => 1.91 * z - 0.91 * x[1],
            _ => 2.0 * z - x[i - 2],
        };
        let mut pp = 1.0;
        for _ in 0..200 {
            let (p1, p2) = hermite_orthonormal(n, z);
            pp = (2.0 * nf).sqrt() * p2;
            let step = p1 / pp;
            z -= step;
            if step.abs() < 1e-15 * z.abs().max(1.0) {
                break;
            }
        }
        let (_, p2) = hermite_orthonormal(n, z);
        pp = if p2.is_finite() {
            (2.0 * nf).sqrt() * p2
        } else {
            pp
        };
        x[i] = z;
        x[n - 1 - i] = -z;
        w[i] = 2.0 / (pp * pp);
        w[n - 1 - i] = w[i];
    }
    if n % 2 == 1 {
        x[n / 2] = 0.0;
    }
    let sqrt_pi = PI.sqrt();
    let mut nodes: Vec<f64> = x.iter().map(|v| v * std::f64::consts::SQRT_2).collect();
    let mut weights: Vec<f64> = w.iter().map(|v| v / sqrt_pi).collect();
    nodes.reverse();
    weights.reverse();
    Rule { nodes, weights }
}

/// Orthonormal Hermite values (H̃_n(z), H̃_{n-1}(z)).
fn hermite_orthonormal(n: usize, z: f64) -> (f64, f64) {
    const PI_M4: f64 = 0.751_125_544_464_942_5;
    let mut p1 = PI_M4;
    let mut p2 = 0.0;
    for j in 1..=n {
        let jf = j as f64;
        let p3 = p2;
        p2 = p1;
        p1 = z * (2.0 / jf).sqrt() * p2 - ((jf - 1.0) / jf).sqrt() * p3;
    }
    (p1, p2)
}

/// A composite Gauss–Legendre rule on [a, b] made of panels, with the matrix that integrates the
/// per-panel interpolant from the panel start to each node (for running integrals).
#[derive(Debug, Clone)]
pub struct CompositeRule {
    /// Nodes, ascending.
    pub nodes: Vec<f64>,
    /// Weights: ∫_a^b g ≈ Σ_i `weights[i] · g(nodes[i])`.
    pub weights: Vec<f64>,
    /// Panel edges, ascending, `panel_edges[0] = a`, last = b.
    pub panel_edges: Vec<f64>,
    /// Nodes per panel.
    pub order: usize,
    /// `cumulative[j][i]` = ∫_{-1}^{x_j} ℓ_i(s) ds on the reference panel (ℓ_i: Lagrange basis).
    cumulative: Vec<Vec<f64>>,
}

impl CompositeRule {
    /// Panels between the sorted break points inside (a, b), each split into equal parts no wider
    /// than `max_width`, with `order` Gauss–Legendre nodes each. Break points are where the
    /// integrand (or its derivative) is not smooth: a panel edge there keeps Gauss–Legendre exact.
    pub fn new(
        a: f64,
        b: f64,
        breakpoints: &[f64],
        max_width: f64,
        order: usize,
    ) -> Result<Self, TheoryError> {
        if !(a.is_finite() && b.is_finite() && a < b) {
            return Err(TheoryError::InvalidRange(format!(
                "an integration interval needs finite a < b, got [{a}, {b}]"
            )));
        }
        if !(max_width > 0.0 && max_width.is_finite()) || order == 0 {
            return Err(TheoryError::InvalidInput(format!(
                "a composite rule needs a positive panel width and order, got {max_width} and {order}"
            )));
        }
        let mut cuts: Vec<f64> = breakpoints
            .iter()
            .copied()
            .filter(|&p| p.is_finite() && p > a && p < b)
            .collect();
        cuts.sort_by(f64::total_cmp);
        cuts.dedup_by(|x, y| (*x - *y).abs() <= 1e-12 * (b - a));
        let mut edges = vec![a];
        let mut segment_ends = cuts;
        segment_ends.push(b);
        let mut start = a;
        for end in segment_ends {
            let pieces = ((end - start) / max_width).ceil().max(1.0) as usize;
            for k in 1..=pieces {
                edges.push(if k == pieces {
                    end
                } else {
                    start + (end - start) * k as f64 / pieces as f64
                });
            }
            start = end;
        }
        let reference = gauss_legendre(order);
        let mut nodes = Vec::with_capacity((edges.len() - 1) * order);
        let mut weights = Vec::with_capacity(nodes.capacity());
        for pair in edges.windows(2) {
            let half = 0.5 * (pair[1] - pair[0]);
            let mid = 0.5 * (pair[1] + pair[0]);
            for (x, w) in reference.nodes.iter().zip(&reference.weights) {
                nodes.push(mid + half * x);
                weights.push(half * w);
            }
        }
        let cumulative = cumulative_matrix(&reference);
        Ok(Self {
            nodes,
            weights,
            panel_edges: edges,
            order,
            cumulative,
        })
    }

    /// Σ weights · values.
    pub fn integrate_values(&self, values: &[f64]) -> f64 {
        self.weights.iter().zip(values).map(|(w, v)| w * v).sum()
    }

    /// ∫_a^{node_i} of the piecewise interpolant of `values`, for every node, and the total ∫_a^b.
    pub fn running_integral(&self, values: &[f64]) -> (Vec<f64>, f64) {
        let mut out = Vec::with_capacity(self.nodes.len());
        let mut before = 0.0;
        for (p, pair) in self.panel_edges.windows(2).enumerate() {
            let half = 0.5 * (pair[1] - pair[0]);
            let chunk = &values[p * self.order..(p + 1) * self.order];
            for row in &self.cumulative {
                let inside: f64 = row.iter().zip(chunk).map(|(c, v)| c * v).sum();
                out.push(before + half * inside);
            }
            let w = &self.weights[p * self.order..(p + 1) * self.order];
            before += w.iter().zip(chunk).map(|(w, v)| w * v).sum::<f64>();
        }
        (out, before)
    }
}

/// S[j][i] = ∫_{-1}^{x_j} ℓ_i(s) ds for the Lagrange basis on the Gauss–Legendre nodes.
fn cumulative_matrix(reference: &Rule) -> Vec<Vec<f64>> {
    let n = reference.len();
    let xs = &reference.nodes;
    let lagrange = |i: usize, s: f64| -> f64 {
        xs.iter()
            .enumerate()
            .filter(|&(m, _)| m != i)
            .map(|(_, &xm)| (s - xm) / (xs[i] - xm))
            .product()
    };
    xs.iter()
        .map(|&xj| {
            let half = 0.5 * (xj + 1.0);
            (0..n)
                .map(|i| {
                    reference
                        .nodes
                        .iter()
                        .zip(&reference.weights)
                        .map(|(&t, &w)| half * w * lagrange(i, -1.0 + half * (t + 1.0)))
                        .sum()
                })
                .collect()
        })
        .collect()
}

/// A rule for E over N(0, 1) made of `panels` equal Gauss–Legendre panels of `order` nodes on
/// [-radius, radius], the weights carrying φ(ε).
///
/// Unlike Gauss–Hermite it resolves integrands with sharp transitions (mixture responsibilities)
/// once the panels are narrower than the transitions. The mass outside ±radius is dropped
/// (2Φ(-9) ≈ 2e-19 for radius 9).
pub fn gaussian_panels(radius: f64, panels: usize, order: usize) -> Rule {
    let reference = gauss_legendre(order);
    let panels = panels.max(1);
    let h = 2.0 * radius / panels as f64;
    let mut nodes = Vec::with_capacity(panels * order);
    let mut weights = Vec::with_capacity(panels * order);
    for p in 0..panels {
        let mid = -radius + (p as f64 + 0.5) * h;
        for (x, w) in reference.nodes.iter().zip(&reference.weights) {
            let e = mid + 0.5 * h * x;
            nodes.push(e);
            weights.push(0.5 * h * w * normal_pdf(e));
        }
    }
    Rule { nodes, weights }
}

/// Result of an adaptive integration.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Estimate {
    pub value: f64,
    /// Estimated absolute error (sum of per-interval Kronrod–Gauss differences).
    pub error: f64,
}

#[allow(clippy::excessive_precision)]
const GK_X: [f64; 8] = [
    0.991455371120812639206854697526329,
    0.949107912342758524526189684047851,
    0.864864423359769072789712788640926,
    0.741531185599394439863864773280788,
    0.586087235467691130294144845693013,
    0.405845151377397166906606412076961,
    0.207784955007898467600689403773245,
    0.000000000000000000000000000000000,
];
#[allow(clippy::excessive_precision)]
const GK_WK: [f64; 8] = [
    0.022935322010529224963732008058970,
    0.063092092629978553290700663189204,
    0.104790010322250183839876322541518,
    0.140653259715525918745189590510238,
    0.169004726639267902826583426598550,
    0.190350578064785409913256402421014,
    0.204432940075298892414161999234649,
    0.209482141084727828012999174891714,
];
#[allow(clippy::excessive_precision)]
const GK_WG: [f64; 4] = [
    0.129484966168869693270611432679082,
    0.279705391489276667901467771423780,
    0.381830050505118944950369775488975,
    0.417959183673469387755102040816327,
];

/// 15-point Kronrod and embedded 7-point Gauss estimates on [a, b].
fn gk15(g: &mut impl FnMut(f64) -> f64, a: f64, b: f64) -> (f64, f64) {
    let c = 0.5 * (a + b);
    let h = 0.5 * (b - a);
    let fc = g(c);
    let mut kronrod = GK_WK[7] * fc;
    let mut gauss = GK_WG[3] * fc;
    for (j, &x) in GK_X.iter().take(7).enumerate() {
        let pair = g(c - h * x) + g(c + h * x);
        kronrod += GK_WK[j] * pair;
        if j % 2 == 1 {
            gauss += GK_WG[j / 2] * pair;
        }
    }
    (kronrod * h, (kronrod - gauss).abs() * h)
}

/// Adaptive Gauss–Kronrod (G7/K15) integration of g over [a, b], bisecting the interval with the
/// largest error until the total error estimate is below max(abs_tol, rel_tol·|value|).
///
/// Returns an error when `max_intervals` bisections do not reach the tolerance (the estimate is
/// then in the message) or when g is not finite somewhere it was evaluated.
pub fn integrate_adaptive(
    mut g: impl FnMut(f64) -> f64,
    a: f64,
    b: f64,
    abs_tol: f64,
    rel_tol: f64,
    max_intervals: usize,
) -> Result<Estimate, TheoryError> {
    if !(a.is_finite() && b.is_finite()) {
        return Err(TheoryError::InvalidRange(format!(
            "adaptive integration needs finite limits, got [{a}, {b}]"
        )));
    }
    if a == b {
        return Ok(Estimate {
            value: 0.0,
            error: 0.0,
        });
    }
    let mut intervals: Vec<(f64, f64, f64, f64)> = Vec::new();
    let (v, e) = gk15(&mut g, a, b);
    intervals.push((a, b, v, e));
    loop {
        let value: f64 = intervals.iter().map(|iv| iv.2).sum();
        let error: f64 = intervals.iter().map(|iv| iv.3).sum();
        if !value.is_finite() || !error.is_finite() {
            return Err(TheoryError::Numerical(format!(
                "the integrand is not finite somewhere in [{a}, {b}]"
            )));
        }
        if error <= abs_tol.max(rel_tol * value.abs()) {
            return Ok(Estimate { value, error });
        }
        if intervals.len() >= max_intervals {
            return Err(TheoryError::Numerical(format!(
                "adaptive integration over [{a}, {b}] stopped at {value} ± {error} after {max_intervals} intervals"
            )));
        }
        let worst = intervals
            .iter()
            .enumerate()
            .max_by(|x, y| x.1 .3.total_cmp(&y.1 .3))
            .map(|(i, _)| i)
            .unwrap_or(0);
        let (lo, hi, _, _) = intervals.swap_remove(worst);
        let mid = 0.5 * (lo + hi);
        let (v1, e1) = gk15(&mut g, lo, mid);
        let (v2, e2) = gk15(&mut g, mid, hi);
        intervals.push((lo, mid, v1, e1));
        intervals.push((mid, hi, v2, e2));
    }
}
