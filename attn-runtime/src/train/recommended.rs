//! Training settings that suit each built-in data set, so every zoo model trains on its default
//! data with no other argument.

use super::{Selection, TrainConfig};
use crate::data::ImageAugment;
use crate::model::{ArchKind, ModelMeta};
use crate::optim::Decay;
use crate::spec::DataSet;

/// The settings `train <model>` uses unless told otherwise, for the data set called `dataset`
/// (a built-in one's name, or a file, which gets the defaults).
pub fn recommended(meta: &ModelMeta, dataset: &str) -> TrainConfig {
    let base = TrainConfig::default();
    let transformer = matches!(meta.arch, ArchKind::Transformer | ArchKind::Decoder);
    let set = DataSet::from_name(dataset);
    let (epochs, batch_size, lr) = match set {
        Some(DataSet::Dates) => (6, 64, if transformer { 2e-3 } else { 3e-3 }),
        Some(DataSet::Copy | DataSet::Reverse | DataSet::Sort) => (4, 64, 2e-3),
        Some(DataSet::Digits) => (40, 32, 2e-3),
        Some(DataSet::Sentiment) => (12, 32, 1e-3),
        Some(DataSet::BibleEnEs) => (15, 32, 1e-3),
        Some(DataSet::BibleEn) => (10, 32, 2e-3),
        Some(DataSet::FashionMnist) => (16, 64, 2e-3),
        None => (base.epochs, base.batch_size, base.lr),
    };
    // the few sentiment reviews longer than the zoo's 64 tokens are cut (4 of 2,982); the
    // translation vocabularies keep their 4,096 most frequent entries
    let data = crate::data::PrepareOptions {
        truncate: set == Some(DataSet::Sentiment),
        max_vocab: (set == Some(DataSet::BibleEnEs)).then_some(4096),
        ..base.data
    };
    TrainConfig {
        data,
        epochs,
        batch_size,
        lr,
        warmup: if transformer { 100 } else { 0 },
        decay: if transformer {
            Decay::Cosine
        } else {
            Decay::Constant
        },
        // the vision transformer overfits Fashion-MNIST's 54,000 images within 16 epochs
        label_smoothing: if set == Some(DataSet::FashionMnist) {
            0.1
        } else {
            base.label_smoothing
        },
        patience: Some(5),
        selection: Selection::default_for(&meta.task),
        // clothes are left-right symmetric: mirrored images are more training data (shifts
        // slowed learning more than they helped within the budget)
        augment: ImageAugment {
            horizontal_flip: set == Some(DataSet::FashionMnist),
            max_shift: 0,
        },
        ..base
    }
}
