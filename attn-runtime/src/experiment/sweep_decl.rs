//! A declared sweep as data: what `attention_sweep!` expands to, and the runs it stands for.

use std::collections::BTreeMap;

use super::SweepRun;
use crate::error::AttnError;
use crate::train::TrainConfig;
use crate::zoo::ZooEntry;

/// The runtime settings a sweep may vary, with what each must satisfy.
pub const RUNTIME_SETTINGS: &[(&str, &str)] = &[
    ("dropout", "in [0, 1)"),
    ("lr", "positive"),
    ("weight_decay", "at least 0"),
    ("label_smoothing", "in [0, 1)"),
    ("teacher_forcing", "in [0, 1]"),
];

/// One compile-time grid point: its swept settings and its generated model.
pub struct SweepPoint {
    /// `(setting, value)` of each compile-time axis, in declaration order.
    pub settings: &'static [(&'static str, &'static str)],
    /// The model generated for this point.
    pub entry: &'static dyn ZooEntry,
}

/// A declared sweep: compile-time grid points × runtime values × seeds.
pub struct SweepDecl {
    /// The sweep's name (`cargo run --bin sweep -- <name>`).
    pub name: &'static str,
    /// One line saying what the sweep asks (its first doc line).
    pub question: &'static str,
    /// The compile-time grid points, in declaration order (the last axis varies fastest).
    pub points: &'static [SweepPoint],
    /// `(setting, values)` of each runtime axis (see [`RUNTIME_SETTINGS`]).
    pub runtime: &'static [(&'static str, &'static [f64])],
    /// Seeds per setting: `0..seeds`.
    pub seeds: u64,
}

impl SweepDecl {
    /// Every run of the sweep, grid point by grid point, then runtime values (the last axis
    /// fastest), then seeds; each starts from `base(entry)` (e.g. the data set's recommended
    /// settings) with the runtime values applied.
    ///
    /// # Errors
    /// [`AttnError::InvalidInput`] for a runtime setting the sweep cannot vary (the macro rules
    /// it out for declared sweeps).
    pub fn runs(
        &self,
        base: impl Fn(&'static dyn ZooEntry) -> TrainConfig,
    ) -> Result<Vec<SweepRun<'static>>, AttnError> {
        let mut combos: Vec<Vec<(&'static str, f64)>> = vec![Vec::new()];
        for (key, values) in self.runtime {
            combos = combos
                .into_iter()
                .flat_map(|c| {
                    values.iter().map(move |v| {
                        let mut c = c.clone();
                        c.push((*key, *v));
                        c
                    })
                })
                .collect();
        }
        let mut runs = Vec::new();
        for point in self.points {
            for combo in &combos {
                let mut config = base(point.entry);
                let mut settings: BTreeMap<String, String> = point
                    .settings
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect();
                for &(key, value) in combo {
                    apply(&mut config, key, value)?;
                    settings.insert(key.to_string(), value.to_string());
                }
                for seed in 0..self.seeds {
                    runs.push(SweepRun {
                        point: settings.clone(),
                        entry: point.entry,
                        config: config.clone(),
                        seed,
                    });
                }
            }
        }
        Ok(runs)
    }
}

fn apply(config: &mut TrainConfig, key: &str, value: f64) -> Result<(), AttnError> {
    match key {
        "dropout" => config.dropout = Some(value),
        "lr" => config.lr = value,
        "weight_decay" => config.adam.weight_decay = value,
        "label_smoothing" => config.label_smoothing = value,
        "teacher_forcing" => config.teacher_forcing = Some(value),
        other => {
            return Err(AttnError::InvalidInput {
                reason: format!("a sweep cannot vary `{other}` at run time"),
                fix: format!(
                    "vary one of {}",
                    RUNTIME_SETTINGS
                        .iter()
                        .map(|(k, _)| *k)
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            })
        }
    }
    Ok(())
}
