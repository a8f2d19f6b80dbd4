//! The set of models and sweeps the commands run over: the zoo's, a user crate's, or both.
//!
//! `train`, `eval`, `predict`, `attend` and `sweep` (in `attn-cli`) take a [`Registry`] and look
//! models up in it by name; a run directory names its model, so `eval` and `predict` find the
//! model of a run in the same registry it was trained from.
//!
//! **PyTorch equivalent**: none built in; the role of `timm`'s model registry
//! (`timm.create_model(name)`) or a `torch.hub` entry-point list.
//!
//! ```
//! use attn_runtime::prelude::*;
//! use attn_runtime::registry::Registry;
//! use attn_runtime::zoo::Entry;
//!
//! attention_model! {
//!     /// A tiny classifier of my own.
//!     #[name = "my-classifier", data = "sentiment"]
//!     pub struct MyClassifier {
//!         arch: SelfAttention,
//!         task: Classify { vocab: 128, max_len: 16, classes: 2 },
//!         d_model: 16, heads: 2, layers: 1,
//!         positional: Sinusoidal,
//!     }
//! }
//!
//! let registry = Registry::new().model(&Entry::<MyClassifier>::NEW);
//! assert_eq!(registry.names(), ["my-classifier"]);
//! assert_eq!(registry.find("my-classifier").unwrap().meta().heads, 2);
//! let err = registry.find("my-clasifier").err().unwrap().to_string();
//! assert!(err.contains("did you mean `my-classifier`?"), "{err}");
//! ```

use crate::error::AttnError;
use crate::experiment::SweepDecl;
use crate::suggest::closest;
use crate::zoo::ZooEntry;

/// Models and sweeps by name, in registration order (the order `--list` shows them).
#[derive(Clone, Default)]
pub struct Registry {
    models: Vec<&'static dyn ZooEntry>,
    sweeps: Vec<&'static SweepDecl>,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registry")
            .field("models", &self.names())
            .field("sweeps", &self.sweep_names())
            .finish()
    }
}

impl Registry {
    /// An empty registry.
    pub fn new() -> Self {
        Registry::default()
    }

    /// Adds a model: `registry.model(&Entry::<MyModel>::NEW)` for a declared model, or any
    /// [`ZooEntry`] of a hand-built one.
    #[must_use]
    pub fn model(mut self, entry: &'static dyn ZooEntry) -> Self {
        self.models.push(entry);
        self
    }

    /// Adds several models, in order.
    #[must_use]
    pub fn models(mut self, entries: &[&'static dyn ZooEntry]) -> Self {
        self.models.extend_from_slice(entries);
        self
    }

    /// Adds a sweep declared with `attention_sweep!` (`&MySweep::SWEEP`).
    #[must_use]
    pub fn sweep(mut self, decl: &'static SweepDecl) -> Self {
        self.sweeps.push(decl);
        self
    }

    /// Adds several sweeps, in order.
    #[must_use]
    pub fn sweeps(mut self, decls: &[&'static SweepDecl]) -> Self {
        self.sweeps.extend_from_slice(decls);
        self
    }

    /// This registry's models and sweeps followed by `other`'s (a user's models next to the zoo).
    #[must_use]
    pub fn merge(mut self, other: Registry) -> Self {
        self.models.extend(other.models);
        self.sweeps.extend(other.sweeps);
        self
    }

    /// Every model, in registration order.
    pub fn entries(&self) -> &[&'static dyn ZooEntry] {
        &self.models
    }

    /// Every sweep, in registration order.
    pub fn sweep_decls(&self) -> &[&'static SweepDecl] {
        &self.sweeps
    }

    /// Every model name, in registration order.
    pub fn names(&self) -> Vec<&'static str> {
        self.models.iter().map(|m| m.meta().name).collect()
    }

    /// Every sweep name, in registration order.
    pub fn sweep_names(&self) -> Vec<&'static str> {
        self.sweeps.iter().map(|s| s.name).collect()
    }

    /// Checks that no two models and no two sweeps share a name (the commands call this first,
    /// so a clash is an error, never a silently shadowed model).
    ///
    /// # Errors
    /// [`AttnError::DuplicateName`] naming both.
    pub fn check(&self) -> Result<(), AttnError> {
        for (i, a) in self.models.iter().enumerate() {
            if let Some(b) = self.models[..i]
                .iter()
                .find(|b| b.meta().name == a.meta().name)
            {
                return Err(AttnError::DuplicateName {
                    kind: "model",
                    name: a.meta().name.to_string(),
                    first: b.meta().type_name.to_string(),
                    second: a.meta().type_name.to_string(),
                });
            }
        }
        for (i, a) in self.sweeps.iter().enumerate() {
            if let Some(b) = self.sweeps[..i].iter().find(|b| b.name == a.name) {
                return Err(AttnError::DuplicateName {
                    kind: "sweep",
                    name: a.name.to_string(),
                    first: b.question.to_string(),
                    second: a.question.to_string(),
                });
            }
        }
        Ok(())
    }

    /// The model registered under `name`.
    ///
    /// # Errors
    /// [`AttnError::UnknownModel`], listing the registered names and the nearest one.
    pub fn find(&self, name: &str) -> Result<&'static dyn ZooEntry, AttnError> {
        self.models
            .iter()
            .copied()
            .find(|m| m.meta().name == name)
            .ok_or_else(|| {
                let (nearest, available) = candidates(name, self.names());
                AttnError::UnknownModel {
                    name: name.to_string(),
                    nearest,
                    available,
                }
            })
    }

    /// The sweep registered under `name`.
    ///
    /// # Errors
    /// [`AttnError::UnknownSweep`], listing the registered names and the nearest one.
    pub fn find_sweep(&self, name: &str) -> Result<&'static SweepDecl, AttnError> {
        self.sweeps
            .iter()
            .copied()
            .find(|s| s.name == name)
            .ok_or_else(|| {
                let (nearest, available) = candidates(name, self.sweep_names());
                AttnError::UnknownSweep {
                    name: name.to_string(),
                    nearest,
                    available,
                }
            })
    }
}

/// The registered name nearest to `name` (a likely typo), and every registered name.
fn candidates(name: &str, names: Vec<&str>) -> (Option<String>, Vec<String>) {
    (
        closest(name, names.iter().copied()).map(String::from),
        names.into_iter().map(String::from).collect(),
    )
}
