//! How `eval` and `predict` decode a sequence-to-sequence run's outputs: the command line's
//! `--beam N` or `--greedy`, over the run's own default (`config.json`'s `beam`, which the
//! recipe sets for models that translate better with a beam, e.g. `bible-transformer`).

use attn_runtime::infer::BeamSearch;
use attn_runtime::train::LoadedRun;

/// What the command line asked for.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Asked {
    /// Neither `--beam` nor `--greedy`: the run's default.
    RunDefault,
    /// `--greedy`.
    Greedy,
    /// `--beam N` with its length penalty.
    Beam(BeamSearch),
}

impl Asked {
    /// What `--beam` (its settings, when given) and `--greedy` ask for; clap refuses both at once.
    pub(crate) fn new(beam: Option<BeamSearch>, greedy: bool) -> Asked {
        match beam {
            Some(beam) => Asked::Beam(beam),
            None if greedy => Asked::Greedy,
            None => Asked::RunDefault,
        }
    }

    /// The beam search to run for `run`'s outputs, `None` for greedy decoding.
    pub(crate) fn resolve(self, run: &LoadedRun) -> Option<BeamSearch> {
        match self {
            Asked::RunDefault => run.config.train.beam,
            Asked::Greedy => None,
            Asked::Beam(beam) => Some(beam),
        }
    }
}
