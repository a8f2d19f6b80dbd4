//! A trained run's parameters for PyTorch: what `export --format pytorch` writes.

use super::LoadedRun;
use crate::error::AttnError;
use crate::pytorch_names::to_pytorch_names;
use crate::state_dict::StateDict;

/// The metadata key of the model's declaration, as the JSON of `config.json`'s `meta`, from
/// which `tools/attn_torch.py` rebuilds the model.
pub const MODEL_KEY: &str = "attn.model";
/// The metadata key of the run's vocabularies (`vocab.json`), to turn text into ids.
pub const VOCAB_KEY: &str = "attn.vocab";

/// The run's best parameters under the names and layouts of the layers' PyTorch twins
/// ([`pytorch_names`](crate::pytorch_names)), with the declaration ([`MODEL_KEY`]) and the
/// vocabularies ([`VOCAB_KEY`]) as metadata.
///
/// **PyTorch equivalent**: `model.state_dict()` of the twin `tools/attn_torch.py` builds, saved
/// with `safetensors.torch.save_file(sd, path, metadata)`.
///
/// # Errors
/// [`AttnError::StateDict`] when the model's parameters do not follow attn's layers' names; an
/// I/O or data error when the run's vocabulary cannot be read.
pub fn export_pytorch(run: &LoadedRun) -> Result<StateDict, AttnError> {
    let mut sd = to_pytorch_names(&run.model.params()?)?;
    sd.set_metadata(MODEL_KEY, run.config.meta.to_string());
    let vocab = run.dir.read("vocab.json")?;
    sd.set_metadata(VOCAB_KEY, String::from_utf8_lossy(&vocab).into_owned());
    Ok(sd)
}
