//! `train --resume`: the run directory is the source of truth. Its model, data and settings
//! continue; a flag that contradicts them is refused, naming the run's value and the flag's,
//! rather than silently ignored. `--epochs` may extend a run (never shorten it); `--device`,
//! `--out` and `--quiet` do not change what is trained.

use std::path::Path;

use anyhow::{bail, Result};
use attn_runtime::data::{Tokenizer, Vocabs};
use attn_runtime::run::{RunConfig, RunDir};
use attn_runtime::train::TrainConfig;
use serde_json::Value;

/// What a run directory recorded about its training.
pub(crate) struct Recorded {
    /// `config.json`.
    pub config: RunConfig,
    /// The tokeniser its data (or its sources) were read with.
    pub src_tokenizer: Tokenizer,
    /// The tokeniser of its targets.
    pub tgt_tokenizer: Tokenizer,
}

impl Recorded {
    /// Reads `dir`'s records.
    pub(crate) fn read(dir: &Path) -> Result<Recorded> {
        let run = RunDir::open(dir)?;
        let config: RunConfig = run.read_json("config.json")?;
        let vocabs: Vocabs = run.read_json("vocab.json")?;
        Ok(Recorded {
            config,
            src_tokenizer: vocabs.src_tokenizer,
            tgt_tokenizer: vocabs.tgt_tokenizer,
        })
    }

    /// Refuses the settings `given` (the run's own with the command line's flags set over
    /// them) where a flag changed one, and source or target tokenisers other than the run's.
    pub(crate) fn refuse_contradictions(
        &self,
        given: &TrainConfig,
        (src, tgt): (Tokenizer, Tokenizer),
    ) -> Result<()> {
        let mut clashes = Vec::new();
        for (side, run, flag) in [
            ("its data (or sources)", self.src_tokenizer, src),
            ("its targets", self.tgt_tokenizer, tgt),
        ] {
            if run != flag {
                clashes.push(format!(
                    "--tokenizer: the run read {side} with {}, the command line says {}",
                    run.name(),
                    flag.name()
                ));
            }
        }
        let recorded = serde_json::to_value(&self.config.train)?;
        let given = serde_json::to_value(given)?;
        differences("", &recorded, &given, &mut clashes);
        if !clashes.is_empty() {
            bail!(
                "--resume continues a run with its own settings, and these flags contradict them:\n  {}\n\
                 leave them out to continue the run as it was trained, or start a new run (without \
                 --resume) to train with them",
                clashes.join("\n  ")
            );
        }
        Ok(())
    }
}

/// The flag that sets the setting at JSON key `key`.
fn flag(key: &str) -> String {
    match key {
        "clip_norm" => "--clip/--no-clip".into(),
        "selection" => "--select".into(),
        k => format!("--{}", k.replace('_', "-")),
    }
}

/// Collects a line per leaf of `given` that differs from `recorded` (the epoch budget apart:
/// the library checks that it only grows).
fn differences(key: &str, recorded: &Value, given: &Value, out: &mut Vec<String>) {
    match (recorded, given) {
        (Value::Object(r), Value::Object(g)) => {
            for (k, gv) in g {
                let rv = r.get(k).unwrap_or(&Value::Null);
                differences(k, rv, gv, out);
            }
        }
        _ if key == "epochs" || recorded == given => {}
        _ => out.push(format!(
            "{}: the run has {recorded}, the command line says {given}",
            flag(key)
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_changed_setting_is_named_with_both_values() {
        let run = TrainConfig::default();
        let mut given = run.clone();
        given.lr = 0.5;
        given.epochs = 99;
        given.data.max_train = Some(7);
        given.clip_norm = None;
        let mut out = Vec::new();
        differences(
            "",
            &serde_json::to_value(&run).unwrap(),
            &serde_json::to_value(&given).unwrap(),
            &mut out,
        );
        out.sort();
        assert_eq!(
            out,
            [
                "--clip/--no-clip: the run has 1.0, the command line says null".to_string(),
                format!("--lr: the run has {}, the command line says 0.5", run.lr),
                "--max-train: the run has null, the command line says 7".to_string(),
            ]
        );
    }
}
