//! Stability signals of a training curve: loss spikes, divergence, and how much the gradient
//! norm varies.

use serde::{Deserialize, Serialize};

/// Steps compared against when deciding whether a loss is a spike.
pub const SPIKE_WINDOW: usize = 10;
/// A loss above this many times the mean of the previous [`SPIKE_WINDOW`] losses is a spike.
pub const SPIKE_FACTOR: f64 = 1.5;

/// The stability of one run.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Stability {
    /// Steps whose loss is a spike (see [`loss_spikes`]).
    pub loss_spikes: usize,
    /// Whether the loss became non-finite.
    pub diverged: bool,
    /// Coefficient of variation of the gradient norms (see [`grad_norm_spread`]).
    pub grad_norm_spread: f64,
}

impl Stability {
    /// The signals of a run's per-step `losses` and `grad_norms`.
    pub fn of(losses: &[f64], grad_norms: &[f64]) -> Self {
        Stability {
            loss_spikes: loss_spikes(losses),
            diverged: losses.iter().any(|l| !l.is_finite()),
            grad_norm_spread: grad_norm_spread(grad_norms),
        }
    }
}

/// How many steps have a loss above [`SPIKE_FACTOR`] times the mean of the [`SPIKE_WINDOW`]
/// finite losses before them. The first [`SPIKE_WINDOW`] steps are never spikes (no history);
/// non-finite losses count as divergence, not spikes.
pub fn loss_spikes(losses: &[f64]) -> usize {
    (SPIKE_WINDOW..losses.len())
        .filter(|&i| {
            let before = &losses[i - SPIKE_WINDOW..i];
            let finite: Vec<f64> = before.iter().copied().filter(|l| l.is_finite()).collect();
            if finite.is_empty() || !losses[i].is_finite() {
                return false;
            }
            let mean = finite.iter().sum::<f64>() / finite.len() as f64;
            losses[i] > SPIKE_FACTOR * mean
        })
        .count()
}

/// The coefficient of variation `std / mean` (population standard deviation) of the finite
/// gradient norms: 0 when every step's norm is the same, growing as they scatter. 0 for fewer
/// than two norms or a zero mean.
pub fn grad_norm_spread(grad_norms: &[f64]) -> f64 {
    let finite: Vec<f64> = grad_norms
        .iter()
        .copied()
        .filter(|g| g.is_finite())
        .collect();
    if finite.len() < 2 {
        return 0.0;
    }
    let n = finite.len() as f64;
    let mean = finite.iter().sum::<f64>() / n;
    if mean == 0.0 {
        return 0.0;
    }
    let var = finite.iter().map(|g| (g - mean).powi(2)).sum::<f64>() / n;
    var.sqrt() / mean
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_smooth_curve_has_no_spike() {
        let losses: Vec<f64> = (0..50).map(|i| 2.0 / (1.0 + i as f64)).collect();
        assert_eq!(loss_spikes(&losses), 0);
    }

    #[test]
    fn spikes_are_counted_against_the_recent_mean() {
        let mut losses = vec![1.0; 30];
        losses[15] = 1.6; // > 1.5 × 1.0
        losses[20] = 1.4; // mean of 10..20 is 1.06, 1.5 × 1.06 = 1.59: not a spike
        losses[3] = 9.0; // inside the first window: no history, not counted
        assert_eq!(loss_spikes(&losses), 1);
        losses[25] = f64::NAN;
        let s = Stability::of(&losses, &[1.0, 1.0]);
        assert_eq!(s.loss_spikes, 1);
        assert!(s.diverged);
    }

    #[test]
    fn spread_is_the_coefficient_of_variation() {
        assert_eq!(grad_norm_spread(&[2.0, 2.0, 2.0]), 0.0);
        // mean 2, population std 1
        assert!((grad_norm_spread(&[1.0, 3.0]) - 0.5).abs() < 1e-12);
        assert!((grad_norm_spread(&[1.0, 3.0, f64::INFINITY]) - 0.5).abs() < 1e-12);
        assert_eq!(grad_norm_spread(&[5.0]), 0.0);
    }
}
