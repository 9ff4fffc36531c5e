//! Numbers to pixels: the colour map of the density heat-maps (pure, so it is tested natively).

/// Control points of a perceptually ordered dark-to-bright map (close to matplotlib's "magma"),
/// sampled at equal steps; intermediate values are interpolated linearly.
const MAGMA: [[f32; 3]; 9] = [
    [0.001, 0.000, 0.014],
    [0.078, 0.054, 0.211],
    [0.232, 0.060, 0.438],
    [0.390, 0.100, 0.502],
    [0.550, 0.161, 0.506],
    [0.716, 0.215, 0.475],
    [0.868, 0.288, 0.409],
    [0.967, 0.439, 0.360],
    [0.987, 0.991, 0.750],
];

/// Colour for `v` in [0, 1] (clamped; NaN maps to 0) as RGB bytes.
pub fn magma(v: f32) -> [u8; 3] {
    let v = if v.is_nan() { 0.0 } else { v.clamp(0.0, 1.0) };
    let x = v * (MAGMA.len() - 1) as f32;
    let i = (x.floor() as usize).min(MAGMA.len() - 2);
    let f = x - i as f32;
    let (a, b) = (MAGMA[i], MAGMA[i + 1]);
    [0, 1, 2].map(|c| ((a[c] + (b[c] - a[c]) * f) * 255.0).round() as u8)
}

/// RGBA pixels for a log-density image: the brightest pixel is the maximum, and everything
/// `dynamic_range` nats (or more) below it is black. Log scale, because at high λ the mixture's
/// peaks are so narrow that a linear map would show only isolated dots.
pub fn log_density_rgba(log_q: &[f32], dynamic_range: f32) -> Vec<u8> {
    let max = log_q
        .iter()
        .copied()
        .filter(|v| v.is_finite())
        .fold(f32::NEG_INFINITY, f32::max);
    let range = if dynamic_range.is_finite() && dynamic_range > 0.0 {
        dynamic_range
    } else {
        1.0
    };
    let mut rgba = Vec::with_capacity(log_q.len() * 4);
    for &value in log_q {
        let v = if max.is_finite() && value.is_finite() {
            1.0 - (max - value) / range
        } else {
            0.0
        };
        let [r, g, b] = magma(v);
        rgba.extend_from_slice(&[r, g, b, 255]);
    }
    rgba
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colour_map_is_monotone_in_brightness_and_clamped() {
        let luminance =
            |c: [u8; 3]| 0.2126 * c[0] as f32 + 0.7152 * c[1] as f32 + 0.0722 * c[2] as f32;
        let mut last = -1.0;
        for i in 0..=100 {
            let l = luminance(magma(i as f32 / 100.0));
            assert!(l >= last, "brightness must not decrease (step {i})");
            last = l;
        }
        assert_eq!(magma(-3.0), magma(0.0));
        assert_eq!(magma(7.0), magma(1.0));
        assert_eq!(magma(f32::NAN), magma(0.0));
    }

    #[test]
    fn heatmap_maps_max_to_brightest_and_far_values_to_black() {
        let rgba = log_density_rgba(&[0.0, -5.0, -100.0, f32::NEG_INFINITY], 10.0);
        assert_eq!(rgba.len(), 16);
        assert_eq!(&rgba[0..3], &magma(1.0));
        assert_eq!(&rgba[4..7], &magma(0.5));
        assert_eq!(&rgba[8..11], &magma(0.0));
        assert_eq!(&rgba[12..15], &magma(0.0));
        assert!(rgba.chunks(4).all(|p| p[3] == 255));
    }
}
