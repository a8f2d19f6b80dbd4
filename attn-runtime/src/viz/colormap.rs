//! The viridis colormap: perceptually uniform, sequential, readable in grey scale and by people
//! with the common colour-vision deficiencies.
//!
//! Viridis (van der Walt & Smith, matplotlib's default since 2.0) is represented here by ten
//! control points, matplotlib's viridis sampled at `t = k / 9` for `k = 0..=9` ([`VIRIDIS`]).
//! [`viridis`] interpolates linearly in sRGB between the two control points around `t` and rounds
//! each channel to the nearest integer, so `viridis(0.0)` is exactly the first control point
//! (dark purple, `#440154`) and `viridis(1.0)` exactly the last (yellow, `#fde725`). SVG output
//! uses the same points as the stops of a linear gradient, which interpolates the same way.

/// An sRGB colour, 8 bits per channel.
pub type Rgb = [u8; 3];

/// The control points of viridis at `t = k / 9`, `k = 0..=9`, darkest (low values) first.
pub const VIRIDIS: [Rgb; 10] = [
    [0x44, 0x01, 0x54],
    [0x48, 0x28, 0x78],
    [0x3e, 0x49, 0x89],
    [0x31, 0x68, 0x8e],
    [0x26, 0x82, 0x8e],
    [0x1f, 0x9e, 0x89],
    [0x35, 0xb7, 0x79],
    [0x6e, 0xce, 0x58],
    [0xb5, 0xde, 0x2b],
    [0xfd, 0xe7, 0x25],
];

/// The colour of `t` on viridis; `t` is clamped to `[0, 1]` and NaN maps to 0.
///
/// Viridis (matplotlib's perceptually uniform sequential map) is represented by the ten control
/// points [`VIRIDIS`], sampled at `t = k / 9`; between them the colour is interpolated linearly in
/// sRGB and each channel rounded to the nearest integer. So `viridis(0.0)` is exactly
/// `VIRIDIS[0]` (dark purple `#440154`, the bottom colour) and `viridis(1.0)` exactly `VIRIDIS[9]`
/// (yellow `#fde725`, the top colour).
pub fn viridis(t: f32) -> Rgb {
    let t = if t.is_nan() {
        0.0
    } else {
        f64::from(t).clamp(0.0, 1.0)
    };
    let last = VIRIDIS.len() - 1;
    let pos = t * last as f64;
    let k = (pos.floor() as usize).min(last - 1);
    let f = pos - k as f64;
    let (a, b) = (VIRIDIS[k], VIRIDIS[k + 1]);
    let mix = |i: usize| {
        let v = f64::from(a[i]) + (f64::from(b[i]) - f64::from(a[i])) * f;
        v.round().clamp(0.0, 255.0) as u8
    };
    [mix(0), mix(1), mix(2)]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_are_exact_and_out_of_range_clamps() {
        assert_eq!(viridis(0.0), VIRIDIS[0]);
        assert_eq!(viridis(1.0), VIRIDIS[9]);
        assert_eq!(viridis(-3.0), VIRIDIS[0]);
        assert_eq!(viridis(7.0), VIRIDIS[9]);
        assert_eq!(viridis(f32::NAN), VIRIDIS[0]);
    }

    #[test]
    fn interpolates_between_control_points() {
        // Halfway between points 4 and 5 (t = 4.5 / 9 = 0.5).
        let c = viridis(0.5);
        assert_eq!(c, [0x23, 0x90, 0x8c]);
        // Control points are hit exactly.
        for (k, p) in VIRIDIS.iter().enumerate() {
            assert_eq!(viridis(k as f32 / 9.0), *p, "point {k}");
        }
    }

    #[test]
    fn lightness_increases() {
        let luma = |c: Rgb| 0.2126 * c[0] as f64 + 0.7152 * c[1] as f64 + 0.0722 * c[2] as f64;
        let mut prev = -1.0;
        for i in 0..=100 {
            let l = luma(viridis(i as f32 / 100.0));
            assert!(l >= prev, "luma drops at {i}");
            prev = l;
        }
    }
}
