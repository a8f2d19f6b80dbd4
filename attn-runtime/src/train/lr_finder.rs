//! The learning-rate range test (Smith, "Cyclical Learning Rates", 2017; fastai's `lr_find`,
//! Lightning's `Tuner.lr_find`): a short run whose rate grows exponentially from tiny to large,
//! one step per rate, the loss recorded at each; a tenth of the rate where the smoothed loss is
//! lowest is a good peak rate for the real run.

use super::trainer::epoch_seed;
use crate::data::{bucketed_batches, prepare, Dataset};
use crate::error::AttnError;
use crate::run::TrainConfig;
use crate::zoo::ZooEntry;

/// The range test's settings.
///
/// **PyTorch equivalent**: Lightning's `Tuner(trainer).lr_find(model, min_lr=1e-7, max_lr=1,
/// num_training=100, mode="exponential", early_stop_threshold=4.0)`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LrRangeTest {
    /// The first step's rate.
    pub min_lr: f64,
    /// The last step's rate.
    pub max_lr: f64,
    /// Steps (one batch each, the training batches in a seeded order, repeated if needed).
    pub steps: usize,
    /// Stop once the smoothed loss exceeds this many times its lowest value (it diverged).
    pub stop_factor: f64,
    /// Weight of the past in the loss's exponential moving average (0.98: fastai's).
    pub smoothing: f64,
}

impl Default for LrRangeTest {
    fn default() -> Self {
        LrRangeTest {
            min_lr: 1e-7,
            max_lr: 1.0,
            steps: 100,
            stop_factor: 4.0,
            smoothing: 0.98,
        }
    }
}

/// One step of the range test.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LrPoint {
    /// The step's learning rate.
    pub lr: f64,
    /// Its loss.
    pub loss: f64,
    /// The loss's bias-corrected exponential moving average up to this step.
    pub smoothed: f64,
}

/// What the range test found.
#[derive(Clone, Debug, PartialEq)]
pub struct LrRange {
    /// Every step taken.
    pub points: Vec<LrPoint>,
    /// The suggested rate, fastai's [`minimum`] rule (`None` when too few steps were taken
    /// before the loss diverged to tell).
    pub suggestion: Option<f64>,
    /// Whether the loss diverged before the last rate (then the test stopped there).
    pub diverged: bool,
}

/// Steps skipped at each end when looking for the steepest descent: the first ones are noise
/// around the starting loss, the last is the divergence (Lightning skips 10 and 1).
const SKIP_BEGIN: usize = 10;
const SKIP_END: usize = 1;

impl LrRangeTest {
    /// The rate of step `i`: exponential from `min_lr` (step 0) to `max_lr` (the last step).
    pub fn lr_at(&self, i: usize) -> f64 {
        let last = self.steps.saturating_sub(1).max(1) as f64;
        self.min_lr * (self.max_lr / self.min_lr).powf(i as f64 / last)
    }

    /// Refuses settings that define no range.
    ///
    /// # Errors
    /// [`AttnError::InvalidHyperParameter`] naming the setting.
    pub fn validate(&self) -> Result<(), AttnError> {
        let bad = |name: &'static str, value: f64, requirement: &'static str| {
            Err(AttnError::InvalidHyperParameter {
                name,
                value: value.to_string(),
                requirement,
            })
        };
        if !(self.min_lr > 0.0 && self.min_lr.is_finite()) {
            return bad("min_lr", self.min_lr, "must be a positive number");
        }
        if !(self.max_lr > self.min_lr && self.max_lr.is_finite()) {
            return bad("max_lr", self.max_lr, "must be larger than min_lr");
        }
        if self.steps < SKIP_BEGIN + SKIP_END + 3 {
            return bad("steps", self.steps as f64, "must be at least 14");
        }
        if self.stop_factor.is_nan() || self.stop_factor <= 1.0 {
            return bad("stop_factor", self.stop_factor, "must be above 1");
        }
        if !(0.0..1.0).contains(&self.smoothing) {
            return bad("smoothing", self.smoothing, "must be in [0, 1)");
        }
        Ok(())
    }
}

/// Runs the range test for `entry`'s model on `dataset`'s training split with `cfg`'s batch
/// size, seed, clipping, label smoothing, dropout, teacher forcing and Adam settings (its `lr`,
/// warm-up and schedule are what the test replaces). Writes nothing.
///
/// # Errors
/// As [`prepare`] and [`TrainConfig::validate`] for bad data or settings; a failing step.
pub fn find_lr(
    entry: &dyn ZooEntry,
    dataset: &Dataset,
    cfg: &TrainConfig,
    test: &LrRangeTest,
) -> Result<LrRange, AttnError> {
    test.validate()?;
    cfg.validate()?;
    let meta = entry.meta();
    cfg.check_for(&meta.task)?;
    let data = prepare(dataset, meta, &cfg.data, None)?;
    let mut model = entry.instantiate(cfg.seed)?;
    model.optimizer().cfg = cfg.adam;
    let (mut points, mut average, mut best) = (Vec::new(), 0.0, f64::INFINITY);
    let (mut batches, mut passes) = (Vec::new(), 0);
    let mut diverged = false;
    for i in 0..test.steps {
        if batches.is_empty() {
            // the training batches in a seeded order, a new order each pass
            passes += 1;
            let seed = epoch_seed(cfg.seed, passes);
            batches = bucketed_batches(&data.train, meta, cfg.batch_size, Some(seed), cfg.bucket);
            batches.reverse();
        }
        let Some(batch) = batches.pop() else {
            // `prepare` refuses an empty training split, so a pass always has a batch
            return Err(AttnError::data(
                &dataset.name,
                "the training split gives no batch",
                "give the data set more examples",
            ));
        };
        let lr = test.lr_at(i);
        let settings = cfg.step_settings(lr, cfg.seed ^ i as u64);
        let loss = match model.train_step_with(&batch, &settings) {
            Ok(report) => f64::from(report.loss),
            // a non-finite loss or gradient is the divergence the test looks for
            Err(AttnError::NonFinite { .. }) => {
                diverged = true;
                break;
            }
            Err(e) => return Err(e),
        };
        average = test.smoothing * average + (1.0 - test.smoothing) * loss;
        let smoothed = average / (1.0 - test.smoothing.powi(i as i32 + 1));
        points.push(LrPoint { lr, loss, smoothed });
        best = best.min(smoothed);
        if smoothed > test.stop_factor * best {
            diverged = i + 1 < test.steps;
            break;
        }
    }
    Ok(LrRange {
        suggestion: minimum(&points, test.steps),
        points,
        diverged,
    })
}

/// The steps fastai's suggestions look at: the first tenth of the `steps` planned and the last
/// 5 taken left out. `None` when nothing is left.
fn considered(points: &[LrPoint], steps: usize) -> Option<&[LrPoint]> {
    points
        .get(steps / 10..points.len().checked_sub(5)?)
        .filter(|p| !p.is_empty())
}

/// The suggestion `train --find-lr` makes: a tenth of the rate at which the smoothed loss is
/// lowest (fastai's `minimum`, the rule of its course: at the minimum the rate is already
/// too large to train with). The first tenth of the `steps` planned and the last 5 taken are
/// left out, as fastai does. `None` when nothing is left.
///
/// Tried on two files a user brought, it beat the recommended 1e-3 on both, where the steepest
/// fall ([`steepest_descent`], Lightning's) was pulled by one noisy batch to 5e-7 on one and
/// fastai's [`valley`] suggested less than 1e-3 on both (docs/DESIGN_NOTES.md).
///
/// **PyTorch equivalent**: `fastai.callback.schedule.minimum` on `Learner.lr_find`'s recorded
/// rates and smoothed losses.
pub fn minimum(points: &[LrPoint], steps: usize) -> Option<f64> {
    considered(points, steps)?
        .iter()
        .min_by(|a, b| a.smoothed.total_cmp(&b.smoothed))
        .map(|p| p.lr / 10.0)
}

/// fastai's `valley` (`lr_find`'s default since fastai 2.4): the longest run of steps along
/// which the smoothed loss keeps falling (not necessarily step after step: the longest
/// decreasing subsequence), and the rate half-way through its middle third; the same steps
/// left out as by [`minimum`]. `None` when nothing is left.
///
/// **PyTorch equivalent**: `fastai.callback.schedule.valley` on `Learner.lr_find`'s recorded
/// rates and smoothed losses.
pub fn valley(points: &[LrPoint], steps: usize) -> Option<f64> {
    let inner = considered(points, steps)?;
    let n = inner.len();
    // lds[i]: the length of the longest decreasing run of losses that ends at step i
    let mut lds = vec![1usize; n];
    let (mut start, mut end) = (0isize, 0usize);
    for i in 1..n {
        for j in 0..i {
            if inner[i].smoothed < inner[j].smoothed && lds[i] < lds[j] + 1 {
                lds[i] = lds[j] + 1;
            }
            if lds[end] < lds[i] {
                end = i;
                // fastai's arithmetic: one before the run's first step (-1 for a run from 0)
                start = end as isize - lds[end] as isize;
            }
        }
    }
    let sections = (end as isize - start) as f64 / 3.0;
    let idx = start + sections as isize + (sections / 2.0) as isize;
    // a negative index counts from the end, as Python's does
    let idx = if idx < 0 { idx + n as isize } else { idx };
    inner.get(usize::try_from(idx).ok()?).map(|p| p.lr)
}

/// The rate at which the smoothed loss falls fastest against the step (the steps are evenly
/// spaced in log rate), the ends skipped; `None` with too few steps left.
///
/// **PyTorch equivalent**: Lightning's `_LRFinder.suggestion()` (`np.gradient` of the losses,
/// its `argmin`).
pub fn steepest_descent(points: &[LrPoint]) -> Option<f64> {
    let inner = points.get(SKIP_BEGIN..points.len().checked_sub(SKIP_END)?)?;
    if inner.len() < 3 {
        return None;
    }
    // central differences inside, one-sided at the ends (numpy's `gradient`)
    let n = inner.len();
    let slope = |k: usize| match k {
        0 => inner[1].smoothed - inner[0].smoothed,
        k if k == n - 1 => inner[n - 1].smoothed - inner[n - 2].smoothed,
        k => (inner[k + 1].smoothed - inner[k - 1].smoothed) / 2.0,
    };
    let k = (0..n).min_by(|&a, &b| slope(a).total_cmp(&slope(b)))?;
    Some(inner[k].lr)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_grow_exponentially_from_the_first_to_the_last() {
        let test = LrRangeTest {
            min_lr: 1e-6,
            max_lr: 1e-2,
            steps: 5,
            ..LrRangeTest::default()
        };
        let lrs: Vec<f64> = (0..5).map(|i| test.lr_at(i)).collect();
        for (got, want) in lrs.iter().zip([1e-6, 1e-5, 1e-4, 1e-3, 1e-2]) {
            assert!((got / want - 1.0).abs() < 1e-12, "{lrs:?}");
        }
    }

    #[test]
    fn the_suggestion_is_where_the_smoothed_loss_falls_fastest() {
        // a smooth fall, steepest at step 20, then a rise at the end
        let points: Vec<LrPoint> = (0..30)
            .map(|i| {
                let smoothed = match i {
                    0..=27 => 5.0 - 3.0 * ((i as f64 - 20.0) / 2.0).tanh(),
                    _ => 10.0,
                };
                LrPoint {
                    lr: 10f64.powi(i - 30),
                    loss: smoothed,
                    smoothed,
                }
            })
            .collect();
        assert_eq!(steepest_descent(&points), Some(10f64.powi(20 - 30)));
        // too few steps once the ends are skipped
        assert_eq!(steepest_descent(&points[..13]), None);
    }

    #[test]
    fn settings_that_define_no_range_are_refused() {
        for (test, name) in [
            (
                LrRangeTest {
                    min_lr: 0.0,
                    ..LrRangeTest::default()
                },
                "min_lr",
            ),
            (
                LrRangeTest {
                    max_lr: 1e-8,
                    ..LrRangeTest::default()
                },
                "max_lr",
            ),
            (
                LrRangeTest {
                    steps: 5,
                    ..LrRangeTest::default()
                },
                "steps",
            ),
        ] {
            let err = test.validate().unwrap_err().to_string();
            assert!(err.contains(name), "{err}");
        }
    }
}
