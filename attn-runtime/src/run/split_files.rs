//! A run's split written out as data files (`eval --split-out DIR`): the examples it trained,
//! validated and was tested on, in the formats `load_file` reads, so other tools (and other
//! runs) see exactly the same split.

use std::path::{Path, PathBuf};

use serde_json::json;

use super::write_atomic;
use crate::data::{Examples, Splits};
use crate::error::AttnError;

/// Writes `splits` into `dir` (created when missing) as `train`, `valid` and `test` files: JSON
/// lines of the keys the loaders read (`{"text", "label"}`, `{"tokens", "tags"}`, `{"source",
/// "target"}`, `{"text"}`), or for images CSV rows of the pixel values (as scaled to `[0, 1]`)
/// then the class id. Each file is written atomically. Returns the paths written.
///
/// # Errors
/// [`AttnError::Io`] naming the directory or file that could not be written.
pub fn write_split_files(dir: &Path, splits: &Splits) -> Result<Vec<PathBuf>, AttnError> {
    std::fs::create_dir_all(dir).map_err(|source| AttnError::Io {
        path: dir.display().to_string(),
        source,
    })?;
    let mut written = Vec::new();
    for (name, part) in [
        ("train", &splits.train),
        ("valid", &splits.valid),
        ("test", &splits.test),
    ] {
        let ext = if matches!(part, Examples::Images { .. }) {
            "csv"
        } else {
            "jsonl"
        };
        let path = dir.join(format!("{name}.{ext}"));
        write_atomic(&path, examples_file(part).as_bytes())?;
        written.push(path);
    }
    Ok(written)
}

/// `examples` as the text of a data file (see [`write_split_files`]).
fn examples_file(examples: &Examples) -> String {
    let lines: Vec<String> = match examples {
        Examples::Labelled(v) => v
            .iter()
            .map(|(text, label)| json!({ "text": text, "label": label }).to_string())
            .collect(),
        Examples::Tagged(v) => v
            .iter()
            .map(|(tokens, tags)| json!({ "tokens": tokens, "tags": tags }).to_string())
            .collect(),
        Examples::Pairs(v) => v
            .iter()
            .map(|(source, target)| json!({ "source": source, "target": target }).to_string())
            .collect(),
        Examples::Text(v) => v.iter().map(|t| json!({ "text": t }).to_string()).collect(),
        Examples::Images { pixels, labels, .. } => pixels
            .iter()
            .zip(labels)
            .map(|(px, label)| {
                let mut row: Vec<String> = px.iter().map(f32::to_string).collect();
                row.push(label.to_string());
                row.join(",")
            })
            .collect(),
    };
    lines.iter().map(|l| format!("{l}\n")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::{load_file, Tokenizer};
    use crate::model::TaskSpec;

    /// What is written loads back as the same examples, in order, for every kind of data.
    #[test]
    fn written_splits_load_back_as_the_same_examples() {
        let pairs = Examples::Pairs(vec![
            ("a \"quoted\"\tsource".into(), "line one\nline two".into()),
            ("b".into(), "c".into()),
        ]);
        let labelled = Examples::Labelled(vec![("good, film".into(), "pos".into())]);
        let tagged = Examples::Tagged(vec![(vec!["John".into()], vec!["B-PER".into()])]);
        let images = Examples::Images {
            pixels: vec![vec![0.0, 0.25], vec![1.0, 0.5]],
            labels: vec![1, 0],
            shape: [1, 1, 2],
        };
        let tasks = [
            TaskSpec::Seq2Seq {
                src_vocab: 64,
                tgt_vocab: 64,
                src_len: 8,
                tgt_len: 8,
            },
            TaskSpec::Classify {
                vocab: 64,
                max_len: 8,
                classes: 2,
            },
            TaskSpec::Tag {
                vocab: 64,
                max_len: 8,
                tags: 8,
            },
            TaskSpec::ImageClassify {
                channels: 1,
                height: 1,
                width: 2,
                classes: 2,
            },
        ];
        for (examples, task) in [pairs, labelled, tagged, images].into_iter().zip(tasks) {
            let dir = tempfile::tempdir().unwrap();
            let splits = Splits {
                train: examples.clone(),
                valid: examples.clone(),
                test: examples.clone(),
            };
            let paths = write_split_files(dir.path(), &splits).unwrap();
            assert_eq!(paths.len(), 3);
            for path in paths {
                let loaded = load_file(&path, &task, Tokenizer::Word).unwrap();
                assert_eq!(loaded.examples, examples, "{}", path.display());
            }
        }
    }
}
