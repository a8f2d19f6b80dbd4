//! Where the ticks of a chart's axes go and how they are labelled: "nice" steps of 1, 2 or 5
//! times a power of ten, whole numbers only on axes whose data are whole numbers (epochs, layer
//! counts, widths), and whole decades on logarithmic axes. Plotters draws the ticks given here.

/// How many ticks [`nice_ticks`] aims for on each axis.
pub(crate) const TARGET_TICKS: usize = 5;

/// Evenly spaced "nice" tick values inside `[min, max]`, about `target` intervals apart.
///
/// The step is `m * 10^k` with `m` in {1, 2, 5}: the raw step `(max - min) / target` is written
/// as `r * 10^k` with `1 <= r < 10`, and `m` is 1 for `r < 1.5`, 2 for `r < 3`, 5 for `r < 7`,
/// else 1 with `k + 1`. The ticks are all multiples of the step within `[min, max]` (with a
/// tolerance of 1e-9 steps at both ends), computed as exact integer ratios so `0.6` is `0.6`.
/// So `(0, 1, 5)` gives `[0.0, 0.2, 0.4, 0.6, 0.8, 1.0]` and `(3, 97, 5)` gives
/// `[20.0, 40.0, 60.0, 80.0]`. `min == max` gives `[min]`; non-finite bounds, `max < min` or
/// `target == 0` give no ticks.
///
/// PyTorch equivalent: matplotlib's `MaxNLocator` picking the ticks of `plt.plot`'s axes.
pub fn nice_ticks(min: f64, max: f64, target: usize) -> Vec<f64> {
    if min.is_finite() && min == max {
        return vec![min];
    }
    nice_step(min, max, target)
        .map(|(m, k)| multiples(min, max, m, k))
        .unwrap_or_default()
}

/// The step of [`nice_ticks`] as `(m, k)` for `m * 10^k`.
fn nice_step(min: f64, max: f64, target: usize) -> Option<(i64, i32)> {
    if !(min.is_finite() && max.is_finite()) || max <= min || target == 0 {
        return None;
    }
    let raw = (max - min) / target as f64;
    if !raw.is_finite() || raw <= 0.0 {
        return None;
    }
    let mut k = raw.log10().floor() as i32;
    let r = raw / 10f64.powi(k);
    let m = if r < 1.5 {
        1
    } else if r < 3.0 {
        2
    } else if r < 7.0 {
        5
    } else {
        k += 1;
        1
    };
    Some((m, k))
}

/// `n * 10^k` as the correctly rounded ratio of exact integers where possible.
fn scaled(n: i64, k: i32) -> f64 {
    if k < 0 {
        n as f64 / 10f64.powi(-k)
    } else {
        n as f64 * 10f64.powi(k)
    }
}

/// The multiples of `m * 10^k` within `[min, max]`.
fn multiples(min: f64, max: f64, m: i64, k: i32) -> Vec<f64> {
    let step = scaled(m, k);
    let first = (min / step - 1e-9).ceil() as i64;
    let last = (max / step + 1e-9).floor() as i64;
    (first..=last)
        .map(|i| scaled(i.saturating_mul(m), k))
        .collect()
}

/// `v` as a tick label for a step of `m * 10^k`: enough decimals for the step, or scientific
/// notation for very large or small steps.
fn tick_label(v: f64, k: i32) -> String {
    if !(-5..=5).contains(&k) {
        format!("{v:e}")
    } else {
        format!("{v:.*}", (-k).max(0) as usize)
    }
}

/// Label of the decade `10^d`: plain for `-4 <= d <= 4`, else `1e{d}`.
fn decade_label(d: i64) -> String {
    match d {
        0..=4 => format!("1{}", "0".repeat(d as usize)),
        -4..=-1 => format!("0.{}1", "0".repeat((-d - 1) as usize)),
        _ => format!("1e{d}"),
    }
}

/// Ticks of a linear axis over `[lo, hi]` as `(value, label)`. With `whole`, the step is a whole
/// number (at least 1), so every tick is a whole number and its label has no decimals.
pub(crate) fn linear_ticks(lo: f64, hi: f64, whole: bool) -> Vec<(f64, String)> {
    let Some((mut m, mut k)) = nice_step(lo, hi, TARGET_TICKS) else {
        return Vec::new();
    };
    if whole && k < 0 {
        (m, k) = (1, 0);
    }
    multiples(lo, hi, m, k)
        .into_iter()
        .map(|v| (v, tick_label(v, k)))
        .collect()
}

/// Ticks of a log axis over `[lo, hi]` (values, not logarithms) as `(value, label)`: whole
/// decades (every one, or every `m * 10^k`-th one) when at least two fit; otherwise nice linear
/// values.
pub(crate) fn log_ticks(lo: f64, hi: f64) -> Vec<(f64, String)> {
    let (llo, lhi) = (lo.log10(), hi.log10());
    if let Some((m, k)) = nice_step(llo, lhi, TARGET_TICKS) {
        let step = if k < 0 {
            1
        } else {
            m.saturating_mul(10i64.pow(k as u32))
        };
        let first = (llo / step as f64 - 1e-9).ceil() as i64;
        let last = (lhi / step as f64 + 1e-9).floor() as i64;
        if last > first {
            return (first..=last)
                .map(|i| {
                    let d = i.saturating_mul(step);
                    (10f64.powi(d as i32), decade_label(d))
                })
                .collect();
        }
    }
    match nice_step(lo, hi, TARGET_TICKS) {
        Some((m, k)) => multiples(lo, hi, m, k)
            .into_iter()
            .filter(|v| *v > 0.0)
            .map(|v| (v, tick_label(v, k)))
            .collect(),
        None => Vec::new(),
    }
}

/// The label of the tick at `value` among `ticks` (the nearest one; plotters asks with the
/// values it was given).
pub(crate) fn label_at(ticks: &[(f64, String)], value: f64) -> String {
    ticks
        .iter()
        .min_by(|a, b| (a.0 - value).abs().total_cmp(&(b.0 - value).abs()))
        .map(|(_, label)| label.clone())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nice_ticks_follow_the_1_2_5_rule() {
        assert_eq!(nice_ticks(0.0, 1.0, 5), [0.0, 0.2, 0.4, 0.6, 0.8, 1.0]);
        assert_eq!(nice_ticks(3.0, 97.0, 5), [20.0, 40.0, 60.0, 80.0]);
        // raw step 0.22 -> 0.2; raw step 3.6 -> 5 (r = 3.6 >= 3).
        assert_eq!(nice_ticks(-0.05, 1.05, 5), [0.0, 0.2, 0.4, 0.6, 0.8, 1.0]);
        assert_eq!(nice_ticks(-1.0, 17.0, 5), [0.0, 5.0, 10.0, 15.0]);
        // raw step 8 -> 10.
        assert_eq!(nice_ticks(0.0, 40.0, 5), [0.0, 10.0, 20.0, 30.0, 40.0]);
        assert_eq!(nice_ticks(2.5, 2.5, 5), [2.5]);
        assert!(nice_ticks(1.0, 0.0, 5).is_empty());
        assert!(nice_ticks(0.0, f64::NAN, 5).is_empty());
        assert!(nice_ticks(0.0, 1.0, 0).is_empty());
        assert_eq!(tick_label(0.6, -1), "0.6");
        assert_eq!(tick_label(20.0, 1), "20");
        assert_eq!(decade_label(-3), "0.001");
        assert_eq!(decade_label(2), "100");
        assert_eq!(decade_label(-7), "1e-7");
    }

    #[test]
    fn whole_axes_get_whole_ticks() {
        // Epochs 1..3 padded by 5%: a fractional axis would tick every 0.5.
        let labels = |t: Vec<(f64, String)>| t.into_iter().map(|(_, l)| l).collect::<Vec<_>>();
        assert_eq!(
            labels(linear_ticks(0.9, 3.1, false)),
            ["1.0", "1.5", "2.0", "2.5", "3.0"]
        );
        assert_eq!(labels(linear_ticks(0.9, 3.1, true)), ["1", "2", "3"]);
        // A single epoch, padded to 1 ± 1.
        assert_eq!(labels(linear_ticks(0.0, 2.0, true)), ["0", "1", "2"]);
        // Wide ranges keep their nice step.
        assert_eq!(
            labels(linear_ticks(25.0, 135.0, true)),
            ["40", "60", "80", "100", "120"]
        );
    }

    #[test]
    fn log_ticks_are_decades() {
        let t = log_ticks(5e-5, 2.0);
        let labels: Vec<&str> = t.iter().map(|(_, l)| l.as_str()).collect();
        assert_eq!(labels, ["0.0001", "0.001", "0.01", "0.1", "1"]);
        assert!((t[1].0 - 1e-3).abs() < 1e-15);
        assert_eq!(label_at(&t, 0.0099999), "0.01");
    }
}
