//! Learning-rate schedules: linear warm-up, then constant, linear or cosine decay.

use serde::{Deserialize, Serialize};

/// How the learning rate decays after warm-up.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum Decay {
    /// Stay at the peak.
    #[default]
    Constant,
    /// Linearly to 0 at the last step.
    Linear,
    /// Half a cosine to 0 at the last step.
    Cosine,
}

/// Linear warm-up over `warmup` steps to `peak`, then `decay` until `total` steps.
///
/// **PyTorch equivalent**: `get_linear_schedule_with_warmup` / `get_cosine_schedule_with_warmup`
/// of Hugging Face Transformers (warm-up from `peak / warmup` at step 1).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct LrSchedule {
    /// The learning rate after warm-up.
    pub peak: f64,
    /// Warm-up steps.
    pub warmup: u64,
    /// Total steps of the run.
    pub total: u64,
    /// The decay after warm-up.
    pub decay: Decay,
}

impl LrSchedule {
    /// The learning rate for step `step` (1-based).
    pub fn at(&self, step: u64) -> f64 {
        if self.warmup > 0 && step <= self.warmup {
            return self.peak * step as f64 / self.warmup as f64;
        }
        let span = self.total.saturating_sub(self.warmup).max(1) as f64;
        let progress = (step.saturating_sub(self.warmup) as f64 / span).min(1.0);
        match self.decay {
            Decay::Constant => self.peak,
            Decay::Linear => self.peak * (1.0 - progress),
            Decay::Cosine => self.peak * 0.5 * (1.0 + (std::f64::consts::PI * progress).cos()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn warmup_then_decay() {
        let s = LrSchedule {
            peak: 1.0,
            warmup: 4,
            total: 14,
            decay: Decay::Linear,
        };
        assert_eq!(s.at(1), 0.25);
        assert_eq!(s.at(4), 1.0);
        assert!((s.at(9) - 0.5).abs() < 1e-12);
        assert_eq!(s.at(14), 0.0);
        let c = LrSchedule {
            decay: Decay::Cosine,
            ..s
        };
        assert!((c.at(9) - 0.5).abs() < 1e-12);
        let k = LrSchedule {
            decay: Decay::Constant,
            ..s
        };
        assert_eq!(k.at(100), 1.0);
    }
}
