//! Shared helpers of the integration tests: fixture loading and closeness checks.
#![allow(dead_code)]

use std::path::PathBuf;

use attn_runtime::prelude::*;

/// The device every suite runs on (CPU, or CUDA with the `cuda` feature).
pub type TestDevice = DefaultDevice;
/// The dtype of the golden tests.
pub type TestDtype = f32;

/// Golden values are compared with this absolute-plus-relative tolerance (f32 against a float64
/// PyTorch reference).
pub const TOL: f64 = 1e-5;

/// A fixture file made by a generator under `tools/`.
pub struct Fixture {
    pub name: String,
    pub sd: StateDict,
    pub config: serde_json::Value,
}

impl Fixture {
    pub fn load(group: &str, name: &str) -> Self {
        let path = fixture_path(group, &format!("{name}.safetensors"));
        let sd = StateDict::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let config = sd
            .metadata()
            .get("config")
            .map(|c| serde_json::from_str(c).expect("config is JSON"))
            .unwrap_or(serde_json::Value::Null);
        Fixture {
            name: name.to_string(),
            sd,
            config,
        }
    }

    pub fn values(&self, name: &str) -> Vec<f32> {
        self.get(name).values.iter().map(|&v| v as f32).collect()
    }

    pub fn shape(&self, name: &str) -> Vec<usize> {
        self.get(name).shape.clone()
    }

    fn get(&self, name: &str) -> &attn_runtime::state_dict::NamedTensor {
        self.sd
            .get(name)
            .unwrap_or_else(|e| panic!("fixture {}: {e}", self.name))
    }

    pub fn usize(&self, key: &str) -> usize {
        self.config[key]
            .as_u64()
            .unwrap_or_else(|| panic!("config.{key}")) as usize
    }

    pub fn lengths(&self) -> Option<Vec<usize>> {
        self.config["lengths"]
            .as_array()
            .map(|a| a.iter().map(|v| v.as_u64().unwrap() as usize).collect())
    }

    pub fn window(&self) -> Option<usize> {
        self.config["window"].as_u64().map(|w| w as usize)
    }

    pub fn causal(&self) -> bool {
        self.config["causal"].as_bool().unwrap_or(false)
    }

    /// The mask the fixture's config describes.
    pub fn mask(&self) -> AttentionMask {
        let mut mask = AttentionMask::none();
        if self.causal() {
            mask = mask.causal();
        }
        if let Some(lengths) = self.lengths() {
            mask = mask.key_lengths(lengths);
        }
        if let Some(w) = self.window() {
            mask = mask.window(w);
        }
        if self.sd.contains("custom_mask") {
            let shape = self.shape("custom_mask");
            let allowed = self
                .values("custom_mask")
                .iter()
                .map(|&v| v != 0.0)
                .collect();
            mask = mask.allowed(BoolMask::shared(shape[0], shape[1], allowed).unwrap());
        }
        mask
    }

    /// Asserts that `got` equals the fixture tensor `name` within [`TOL`].
    pub fn assert_close(&self, name: &str, got: &[f32]) {
        assert_close(
            &format!("{}: {name}", self.name),
            got,
            &self.values(name),
            TOL,
        );
    }
}

/// An empty scratch directory `attn-<group>-<pid>-<name>` in the system's temporary directory
/// (not created: the code under test makes it), emptied of an earlier run's files.
pub fn scratch_dir(group: &str, name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("attn-{group}-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

pub fn fixture_path(group: &str, file: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(group)
        .join(file)
}

/// `|got - want| <= tol * (1 + |want|)` elementwise, with a message naming the first offender.
pub fn assert_close(what: &str, got: &[f32], want: &[f32], tol: f64) {
    assert_eq!(
        got.len(),
        want.len(),
        "{what}: length {} vs {}",
        got.len(),
        want.len()
    );
    let mut worst = (0.0f64, 0usize);
    for (i, (&g, &w)) in got.iter().zip(want).enumerate() {
        assert!(g.is_finite(), "{what}[{i}] = {g} is not finite");
        let err = (g as f64 - w as f64).abs() / (1.0 + (w as f64).abs());
        if err > worst.0 {
            worst = (err, i);
        }
    }
    let (err, i) = worst;
    assert!(
        err <= tol,
        "{what}[{i}]: got {}, want {} (scaled error {err:.3e} > {tol:.0e})",
        got[i],
        want[i]
    );
}

/// A tensor of runtime shape from a fixture.
pub fn tensor<S: Shape>(
    dev: &TestDevice,
    fx: &Fixture,
    name: &str,
    shape: S,
) -> Tensor<S, f32, TestDevice> {
    let want = fx.shape(name);
    let got: Vec<usize> = shape.concrete().into_iter().collect();
    assert_eq!(want, got, "fixture {} tensor {name} shape", fx.name);
    dev.tensor_from_vec(fx.values(name), shape)
}

/// Asserts that every scaled error in `errors` (tensor name → `|got − want| / (1 + |want|)`,
/// gradients named `grad.*`) of one kind — the gradients, or the forward values — is within
/// [`TOL`], naming every tensor that is not.
pub fn assert_errors_within_tol(
    fixture: &str,
    errors: &std::collections::BTreeMap<String, f64>,
    gradients: bool,
) {
    let failures: Vec<String> = errors
        .iter()
        .filter(|(k, _)| k.starts_with("grad.") == gradients)
        .filter(|(_, &e)| e > TOL)
        .map(|(k, e)| format!("{k}: {e:.3e}"))
        .collect();
    assert!(
        failures.is_empty(),
        "{fixture}: scaled errors over {TOL:.0e}: {}",
        failures.join(", ")
    );
}
