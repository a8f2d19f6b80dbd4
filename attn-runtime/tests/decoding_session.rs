//! Decoding sessions of the sequence-to-sequence models (`ZooModel::source_stepper`): every
//! step's logits, for rows re-chosen as a beam search re-chooses them, equal the teacher-forced
//! pass over the same prefixes, for the transformer and both recurrent decoders (Bahdanau's
//! attention before the cell, Luong's after; GRU and LSTM); beam search on a session finds what
//! it finds through the teacher-forced pass; bad steps and sources are refused and leave the
//! session as it was.

use attn_runtime::infer::BeamSearch;
use attn_runtime::loss::IGNORE;
use attn_runtime::model::ModelMeta;
use attn_runtime::optim::Adam;
use attn_runtime::prelude::*;
use attn_runtime::state_dict::StateDict;
use attn_runtime::tokens::BOS;
use attn_runtime::zoo::{
    Batch, Entry, ForwardSummary, Inputs, StepReport, StepSettings, ZooEntry, ZooModel,
};

attention_model! {
    /// A small transformer encoder-decoder.
    #[name = "session-transformer"]
    pub struct SessionTransformer {
        arch: Transformer,
        task: Seq2Seq { src_vocab: 16, tgt_vocab: 12, src_len: 6, tgt_len: 5 },
        d_model: 16, heads: 2, ff: 32, encoder_layers: 2, decoder_layers: 2,
    }
}

attention_model! {
    /// A bidirectional GRU encoder-decoder with additive attention before the cell.
    #[name = "session-gru-bahdanau"]
    pub struct SessionGruBahdanau {
        arch: Recurrent,
        cell: Gru,
        bidirectional: true,
        attention: Additive,
        task: Seq2Seq { src_vocab: 16, tgt_vocab: 12, src_len: 6, tgt_len: 5 },
        d_model: 8,
        hidden: 16,
        layers: 1,
    }
}

attention_model! {
    /// An LSTM encoder-decoder with Luong's general attention after the cell.
    #[name = "session-lstm-luong"]
    pub struct SessionLstmLuong {
        arch: Recurrent,
        cell: Lstm,
        attention: General,
        task: Seq2Seq { src_vocab: 16, tgt_vocab: 12, src_len: 6, tgt_len: 5 },
        d_model: 8,
        hidden: 16,
        layers: 2,
    }
}

const SRC_LEN: usize = 6;
const TGT_LEN: usize = 5;
const VOCAB: usize = 12;

fn entries() -> [&'static dyn ZooEntry; 3] {
    [
        &Entry::<SessionTransformer>::NEW,
        &Entry::<SessionGruBahdanau>::NEW,
        &Entry::<SessionLstmLuong>::NEW,
    ]
}

/// Sources of different lengths (one empty), so the padding masks differ per row.
fn sources() -> Vec<Vec<usize>> {
    vec![vec![3, 4, 5, 6, 7, 8], vec![9, 2], vec![10, 11, 12], vec![]]
}

/// The logits the teacher-forced pass gives row `(source, prefix)` at position `prefix.len()`.
fn teacher_forced(model: &dyn ZooModel, rows: &[(usize, Vec<usize>)]) -> Vec<Vec<f32>> {
    let sources = sources();
    let mut ids = vec![0; rows.len() * SRC_LEN];
    let mut targets = vec![IGNORE; rows.len() * TGT_LEN];
    let mut lengths = Vec::new();
    for (b, (s, prefix)) in rows.iter().enumerate() {
        ids[b * SRC_LEN..][..sources[*s].len()].copy_from_slice(&sources[*s]);
        targets[b * TGT_LEN..][..prefix.len()].copy_from_slice(prefix);
        targets[b * TGT_LEN + prefix.len()] = 0;
        lengths.push(sources[*s].len().max(1));
    }
    let batch = Batch {
        size: rows.len(),
        inputs: Inputs::Tokens { ids, lengths },
        targets,
    };
    let out = model.forward_teacher_forced(&batch, false).unwrap();
    assert_eq!(out.logits_shape[1], VOCAB);
    rows.iter()
        .enumerate()
        .map(|(b, (_, prefix))| {
            out.logits[(b * TGT_LEN + prefix.len()) * VOCAB..][..VOCAB].to_vec()
        })
        .collect()
}

fn assert_close(case: &str, got: &[f32], want: &[Vec<f32>]) {
    assert_eq!(got.len(), want.len() * VOCAB, "{case}: logits count");
    for (r, want) in want.iter().enumerate() {
        for (j, (g, w)) in got[r * VOCAB..][..VOCAB].iter().zip(want).enumerate() {
            assert!(
                (g - w).abs() <= 1e-4 * (1.0 + w.abs()),
                "{case} row {r} [{j}]: {g} vs {w}"
            );
        }
    }
}

/// Steps as a beam search takes them: parents re-chosen (repeated, dropped, reordered) and the
/// tokens each row is fed.
const STEPS: [(&[usize], &[usize]); 4] = [
    (&[0, 1, 2, 3, 1], &[BOS, BOS, BOS, BOS, BOS]),
    (&[4, 0, 0, 2, 3], &[5, 6, 7, 8, 9]),
    (&[1, 3, 4], &[10, 4, 3]),
    (&[2, 2, 0, 1], &[11, 2, 5, 6]),
];

#[test]
fn every_step_equals_the_teacher_forced_pass_over_the_same_prefixes() {
    let sources = sources();
    let sources: Vec<&[usize]> = sources.iter().map(Vec::as_slice).collect();
    for entry in entries() {
        let name = entry.meta().name;
        let model = entry.instantiate(7).unwrap();
        let mut session = model
            .source_stepper(&sources)
            .unwrap()
            .unwrap_or_else(|| panic!("{name}: a decoding session"));
        assert_eq!((session.sources(), session.vocab()), (4, VOCAB));
        // each row's source and the tokens fed after BOS
        let mut rows: Vec<(usize, Vec<usize>)> = (0..sources.len()).map(|s| (s, vec![])).collect();
        for (t, (parents, tokens)) in STEPS.into_iter().enumerate() {
            rows = parents
                .iter()
                .zip(tokens)
                .map(|(&p, &tok)| {
                    let (s, mut prefix) = rows[p].clone();
                    if t > 0 {
                        prefix.push(tok);
                    }
                    (s, prefix)
                })
                .collect();
            let got = session.try_step(parents, tokens).unwrap();
            assert_close(
                &format!("{name} step {t}"),
                &got,
                &teacher_forced(&*model, &rows),
            );
            assert_eq!(session.len(), t + 1);
        }
    }
}

/// `result` is an [`AttnError::InvalidInput`] whose reason says `what`.
fn refused<T: std::fmt::Debug>(name: &str, what: &str, result: Result<T, AttnError>) {
    match result {
        Err(AttnError::InvalidInput { reason, .. }) => {
            assert!(reason.contains(what), "{name}: {reason}")
        }
        other => panic!("{name}: {what} not refused: {other:?}"),
    }
}

#[test]
fn refused_steps_and_sources_name_the_problem_and_change_nothing() {
    let sources = sources();
    let sources: Vec<&[usize]> = sources.iter().map(Vec::as_slice).collect();
    for entry in entries() {
        let name = entry.meta().name;
        let model = entry.instantiate(3).unwrap();
        for (bad, what) in [
            (vec![], "no sources"),
            (vec![&[1usize, 2, 3, 4, 5, 6, 7][..]], "7 tokens"),
            (vec![&[1usize, 16][..]], "16"),
        ] {
            refused(name, what, model.source_stepper(&bad).map(|s| s.is_some()));
        }
        let mut session = model.source_stepper(&sources).unwrap().unwrap();
        let (parents, tokens) = STEPS[0];
        session.try_step(parents, tokens).unwrap();
        for (parents, tokens, what) in [
            (&[0usize, 1][..], &[5usize][..], "2 parents and 1 tokens"),
            (&[][..], &[][..], "0 parents"),
            (&[5][..], &[5][..], "parent row 5 of a step of 5 rows"),
            (&[0][..], &[VOCAB][..], "token 12 outside"),
        ] {
            refused(name, what, session.try_step(parents, tokens));
        }
        // the session is as it was: the next step is the one it would have taken
        let (parents, tokens) = STEPS[1];
        let rows: Vec<(usize, Vec<usize>)> = parents
            .iter()
            .zip(tokens)
            .map(|(&p, &tok)| ([0, 1, 2, 3, 1][p], vec![tok]))
            .collect();
        let got = session.try_step(parents, tokens).unwrap();
        assert_close(
            &format!("{name} after refusals"),
            &got,
            &teacher_forced(&*model, &rows),
        );
        assert_eq!(session.len(), 2);
        for _ in 2..TGT_LEN {
            session.try_step(&[0], &[4]).unwrap();
        }
        refused(name, "reads 5 positions", session.try_step(&[0], &[4]));
    }
}

/// A model without a decoding session: the inner model with its session hidden, so beam search takes the
/// teacher-forced path.
struct WithoutSession(Box<dyn ZooModel>);

impl ZooModel for WithoutSession {
    fn meta(&self) -> &'static ModelMeta {
        self.0.meta()
    }
    fn num_params(&self) -> usize {
        self.0.num_params()
    }
    fn forward(&self, batch: &Batch, need_weights: bool) -> Result<ForwardSummary, AttnError> {
        self.0.forward(batch, need_weights)
    }
    fn forward_teacher_forced(
        &self,
        batch: &Batch,
        need_weights: bool,
    ) -> Result<ForwardSummary, AttnError> {
        self.0.forward_teacher_forced(batch, need_weights)
    }
    fn train_step_with(
        &mut self,
        batch: &Batch,
        settings: &StepSettings,
    ) -> Result<StepReport, AttnError> {
        self.0.train_step_with(batch, settings)
    }
    fn train_step(&mut self, batch: &Batch) -> Result<f32, AttnError> {
        self.0.train_step(batch)
    }
    fn set_learning_rate(&mut self, lr: f64) {
        self.0.set_learning_rate(lr)
    }
    fn optimizer(&mut self) -> &mut Adam {
        self.0.optimizer()
    }
    fn params(&self) -> Result<StateDict, AttnError> {
        self.0.params()
    }
    fn load(&mut self, params: &StateDict) -> Result<(), AttnError> {
        self.0.load(params)
    }
    fn reseed(&mut self, seed: u64) -> Result<(), AttnError> {
        self.0.reseed(seed)
    }
}

#[test]
fn beam_search_on_a_session_finds_what_the_teacher_forced_path_finds() {
    let sources = sources();
    let sources: Vec<&[usize]> = sources.iter().map(Vec::as_slice).collect();
    let settings = BeamSearch {
        beam_size: 3,
        length_penalty: 0.6,
    };
    for entry in entries() {
        let name = entry.meta().name;
        let stepping = entry.instantiate(11).unwrap();
        let forced = WithoutSession(entry.instantiate(11).unwrap());
        assert!(forced.source_stepper(&sources).unwrap().is_none());
        let got = settings
            .search_batch(&*stepping, &sources, SRC_LEN, TGT_LEN)
            .unwrap();
        let want = settings
            .search_batch(&forced, &sources, SRC_LEN, TGT_LEN)
            .unwrap();
        assert_eq!(got.len(), want.len());
        for (s, (got, want)) in got.iter().zip(&want).enumerate() {
            assert_eq!(got.len(), want.len(), "{name} source {s}: hypotheses");
            assert!(got.len() >= settings.beam_size, "{name} source {s}");
            for (g, w) in got.iter().zip(want) {
                assert_eq!(g.tokens, w.tokens, "{name} source {s}");
                assert!(
                    (g.log_prob - w.log_prob).abs() <= 1e-4 * (1.0 + w.log_prob.abs()),
                    "{name} source {s}: {} vs {}",
                    g.log_prob,
                    w.log_prob
                );
            }
        }
    }
}
