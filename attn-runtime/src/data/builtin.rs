//! The built-in data sets, by name: generated from a seed (`dates`, `copy`, `reverse`, `sort`)
//! or vendored in the repository with their licences (`digits`, `sentiment`, `bible-en-es`,
//! `fashion-mnist`; see `DATA_LICENSES.md`). Nothing is downloaded. The small ones are compiled
//! into the library; Fashion-MNIST (31 MB) is read from the repository's `data/` folder when
//! asked for, so that no binary carries it.

use std::io::Read;

use super::dates::generate_dates;
use super::synthetic::{generate_sequences, to_text, SyntheticTask};
use super::{Dataset, Examples, Split, Tokenizer};
use crate::error::AttnError;
use crate::spec::DataSet;

const DIGITS: &[u8] = include_bytes!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../data/digits/digits.csv.gz"
));
const SENTIMENT: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../data/sentiment/sentiment.tsv"
));
const BIBLE: &[u8] = include_bytes!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../data/bible-en-es/verses.tsv.gz"
));
/// Where the vendored Fashion-MNIST files are (`tools/vendor_data/fashion_mnist.py`).
const FASHION_MNIST: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../data/fashion-mnist");
/// The size of Fashion-MNIST's published test split.
pub const FASHION_MNIST_TEST: usize = 10_000;
/// The validation examples drawn from Fashion-MNIST's 60,000 training images.
pub const FASHION_MNIST_VALID: usize = 6_000;

/// Generated examples per data set: enough for the zoo's models to converge.
pub const GENERATED_EXAMPLES: usize = 20_000;
/// The seed generated data sets are drawn from (the split has its own fixed seed too).
pub const DATA_SEED: u64 = 2021;

/// Every built-in data set's name ([`DataSet::NAMES`]).
pub const BUILTIN: &[&str] = DataSet::NAMES;

/// The extensions of data files ([`load_file`](super::load_file) reads the first four; `.txt` is
/// what people name text files): a name ending so is a file, never a built-in data set.
const FILE_EXTENSIONS: &[&str] = &["tsv", "csv", "jsonl", "conll", "txt"];

/// Whether `name` reads as a file path rather than a built-in data set's name: it has a path
/// separator or a data file's extension.
fn looks_like_a_path(name: &str) -> bool {
    let path = std::path::Path::new(name);
    name.contains('/')
        || name.contains(std::path::MAIN_SEPARATOR)
        || path
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| FILE_EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()))
}

/// Loads the built-in data set called `name` (see [`load_builtin`]).
///
/// # Errors
/// [`AttnError::Data`] for an unknown name (listing the built-in ones and the nearest), a name
/// that is a path (a separator, or a data file's extension) to no file, or a vendored file that
/// does not parse.
pub fn builtin(name: &str) -> Result<Dataset, AttnError> {
    match DataSet::from_name(name) {
        Some(set) => load_builtin(set),
        None if looks_like_a_path(name) => {
            let path = std::path::Path::new(name);
            Err(AttnError::data(
                name,
                if path.is_dir() {
                    "a directory, not a data file".to_string()
                } else {
                    "file not found".to_string()
                },
                format!(
                    "check the path (relative paths start from {}), or name a built-in data set: {}",
                    std::env::current_dir()
                        .map_or_else(|_| "the current directory".into(), |d| d.display().to_string()),
                    BUILTIN.join(", ")
                ),
            ))
        }
        None => Err(AttnError::data(
            name,
            format!(
                "no built-in data set has this name{}",
                crate::suggest::closest(name, BUILTIN.iter().copied())
                    .map(|n| format!(" (did you mean `{n}`?)"))
                    .unwrap_or_default()
            ),
            format!(
                "use one of {}, or pass a data file with --data",
                BUILTIN.join(", ")
            ),
        )),
    }
}

/// Loads a built-in data set: one arm per [`DataSet`], so a data set without a loader does not
/// compile.
///
/// # Errors
/// [`AttnError::Data`] for a vendored file that does not parse.
pub fn load_builtin(set: DataSet) -> Result<Dataset, AttnError> {
    let dataset = |examples, src_tokenizer, tgt_tokenizer, min_count| Dataset {
        name: set.name().to_string(),
        examples,
        src_tokenizer,
        tgt_tokenizer,
        min_count,
        split: Split::Seeded,
    };
    let synthetic = |task| {
        let pairs = generate_sequences(task, GENERATED_EXAMPLES, 3, 10, DATA_SEED)
            .into_iter()
            .map(|p| (to_text(&p.source), to_text(&p.target)))
            .collect();
        Ok(dataset(
            Examples::Pairs(pairs),
            Tokenizer::Whitespace,
            Tokenizer::Whitespace,
            1,
        ))
    };
    match set {
        DataSet::Dates => {
            let pairs = generate_dates(GENERATED_EXAMPLES, DATA_SEED)
                .into_iter()
                .map(|p| (p.human, p.iso))
                .collect();
            Ok(dataset(
                Examples::Pairs(pairs),
                Tokenizer::Char,
                Tokenizer::Char,
                1,
            ))
        }
        DataSet::Copy => synthetic(SyntheticTask::Copy),
        DataSet::Reverse => synthetic(SyntheticTask::Reverse),
        DataSet::Sort => synthetic(SyntheticTask::Sort),
        DataSet::Digits => Ok(dataset(
            digits()?,
            Tokenizer::Whitespace,
            Tokenizer::Whitespace,
            1,
        )),
        DataSet::Sentiment => Ok(dataset(sentiment()?, Tokenizer::Word, Tokenizer::Word, 2)),
        // subwords learnt from the training split: a word vocabulary of 4,096 left much of the
        // text unknown (README, "Results")
        DataSet::BibleEnEs => Ok(dataset(
            Examples::Pairs(bible()?),
            Tokenizer::Bpe,
            Tokenizer::Bpe,
            2,
        )),
        DataSet::BibleEn => {
            let verses = bible()?.into_iter().map(|(en, _)| en).collect();
            Ok(dataset(
                Examples::Text(verses),
                Tokenizer::Char,
                Tokenizer::Char,
                2,
            ))
        }
        DataSet::FashionMnist => Ok(Dataset {
            split: Split::Published {
                test: FASHION_MNIST_TEST,
                valid: FASHION_MNIST_VALID,
            },
            ..dataset(
                fashion_mnist(std::path::Path::new(FASHION_MNIST))?,
                Tokenizer::Whitespace,
                Tokenizer::Whitespace,
                1,
            )
        }),
    }
}

/// Reads a gzip-compressed IDX file of `dims` dimensions (images `[n, 28, 28]`, labels `[n]`):
/// its big-endian sizes and its u8 values.
fn idx(path: &std::path::Path, dims: usize) -> Result<(Vec<usize>, Vec<u8>), AttnError> {
    let name = path.display().to_string();
    let file = std::fs::File::open(path).map_err(|source| AttnError::Io {
        path: name.clone(),
        source,
    })?;
    let mut bytes = Vec::new();
    flate2::read::GzDecoder::new(file)
        .read_to_end(&mut bytes)
        .map_err(|e| {
            AttnError::data(
                &name,
                format!("does not decompress ({e})"),
                "restore it with tools/vendor_data/fashion_mnist.py",
            )
        })?;
    let bad = |what: String| {
        AttnError::data(
            &name,
            what,
            "restore it with tools/vendor_data/fashion_mnist.py",
        )
    };
    let header = 4 + 4 * dims;
    if bytes.len() < header || bytes[..3] != [0, 0, 8] || usize::from(bytes[3]) != dims {
        return Err(bad(format!("not an IDX file of {dims} u8 dimensions")));
    }
    let sizes: Vec<usize> = bytes[4..header]
        .chunks(4)
        .map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]]) as usize)
        .collect();
    let values = bytes.split_off(header);
    if values.len() != sizes.iter().product::<usize>() {
        return Err(bad(format!(
            "{} values where the header says {sizes:?}",
            values.len()
        )));
    }
    Ok((sizes, values))
}

/// Fashion-MNIST from `dir`: the 60,000 training images, then the 10,000 of the published test
/// split (what [`Split::Published`] keeps at the end), pixels scaled to `[0, 1]`.
pub(crate) fn fashion_mnist(dir: &std::path::Path) -> Result<Examples, AttnError> {
    let (mut pixels, mut labels) = (Vec::new(), Vec::new());
    for part in ["train", "t10k"] {
        let (sizes, images) = idx(&dir.join(format!("{part}-images-idx3-ubyte.gz")), 3)?;
        let (label_sizes, ids) = idx(&dir.join(format!("{part}-labels-idx1-ubyte.gz")), 1)?;
        if sizes[1..] != [28, 28] || label_sizes[0] != sizes[0] {
            return Err(AttnError::data(
                dir.display().to_string(),
                format!("{part}: images {sizes:?} and labels {label_sizes:?} do not pair up"),
                "restore the files with tools/vendor_data/fashion_mnist.py",
            ));
        }
        if let Some(&l) = ids.iter().find(|&&l| l >= 10) {
            return Err(AttnError::data(
                dir.display().to_string(),
                format!("{part}: label {l} is not one of the 10 classes"),
                "restore the files with tools/vendor_data/fashion_mnist.py",
            ));
        }
        pixels.extend(
            images
                .chunks(28 * 28)
                .map(|img| img.iter().map(|&v| f32::from(v) / 255.0).collect()),
        );
        labels.extend(ids.iter().map(|&l| usize::from(l)));
    }
    Ok(Examples::Images {
        pixels,
        labels,
        shape: [1, 28, 28],
    })
}

fn gunzip(name: &str, bytes: &[u8]) -> Result<String, AttnError> {
    let mut text = String::new();
    flate2::read::GzDecoder::new(bytes)
        .read_to_string(&mut text)
        .map_err(|e| {
            AttnError::data(
                name,
                format!("the vendored file does not decompress ({e})"),
                "restore it from the repository",
            )
        })?;
    Ok(text)
}

fn digits() -> Result<Examples, AttnError> {
    let text = gunzip("digits", DIGITS)?;
    let (mut pixels, mut labels) = (Vec::new(), Vec::new());
    for (i, line) in text.lines().enumerate() {
        let values: Result<Vec<f32>, _> = line.split(',').map(str::parse::<f32>).collect();
        let values = values.map_err(|_| {
            AttnError::data(
                format!("digits:{}", i + 1),
                "a value is not a number",
                "restore the vendored file",
            )
        })?;
        if values.len() != 65 {
            return Err(AttnError::data(
                format!("digits:{}", i + 1),
                "a row is not 64 pixels and a label",
                "restore the vendored file",
            ));
        }
        pixels.push(values[..64].iter().map(|v| v / 16.0).collect());
        labels.push(values[64] as usize);
    }
    Ok(Examples::Images {
        pixels,
        labels,
        shape: [1, 8, 8],
    })
}

fn sentiment() -> Result<Examples, AttnError> {
    let mut out = Vec::new();
    for (i, line) in SENTIMENT.lines().enumerate().skip(1) {
        let fields: Vec<&str> = line.splitn(3, '\t').collect();
        if fields.len() != 3 {
            return Err(AttnError::data(
                format!("sentiment:{}", i + 1),
                "a row is not label, source, text",
                "restore the vendored file",
            ));
        }
        out.push((fields[2].to_string(), fields[0].to_string()));
    }
    Ok(Examples::Labelled(out))
}

/// The vendored verses as `(English, Spanish)` pairs.
fn bible() -> Result<Vec<(String, String)>, AttnError> {
    let text = gunzip("bible-en-es", BIBLE)?;
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate().skip(1) {
        let fields: Vec<&str> = line.split('\t').collect();
        if fields.len() != 3 {
            return Err(AttnError::data(
                format!("bible-en-es:{}", i + 1),
                "a row is not ref, en, es",
                "restore the vendored file",
            ));
        }
        out.push((fields[1].to_string(), fields[2].to_string()));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fashion_mnist_is_the_published_data_with_its_test_split_kept() {
        let data = builtin("fashion-mnist").unwrap();
        let Examples::Images {
            pixels,
            labels,
            shape,
        } = &data.examples
        else {
            panic!("images")
        };
        assert_eq!(
            (pixels.len(), labels.len(), *shape),
            (70_000, 70_000, [1, 28, 28])
        );
        // 6,000 images of each class to train, 1,000 to test; the pixel sums (of the u8
        // values) are what tools/vendor_data/fashion_mnist.py computed with Python
        for (range, per_class, sum) in [
            (0..60_000, 6_000, 3_431_114_169u64),
            (60_000..70_000, 1_000, 573_469_082),
        ] {
            let mut counts = [0usize; 10];
            labels[range.clone()].iter().for_each(|&l| counts[l] += 1);
            assert_eq!(counts, [per_class; 10]);
            let total: u64 = pixels[range]
                .iter()
                .flatten()
                .map(|&v| (v * 255.0).round() as u64)
                .sum();
            assert_eq!(total, sum);
        }
        let splits = data.split();
        assert_eq!(
            (splits.train.len(), splits.valid.len(), splits.test.len()),
            (54_000, 6_000, 10_000)
        );
        let Examples::Images { labels: test, .. } = &splits.test else {
            panic!("images")
        };
        assert_eq!(
            test[..],
            labels[60_000..],
            "the published test split, in order"
        );
        assert_eq!(data.split(), splits, "seeded");
    }

    #[test]
    fn a_published_split_keeps_its_test_examples_and_shuffles_the_rest() {
        let data = Dataset {
            name: "toy".into(),
            examples: Examples::Labelled((0..20).map(|i| (i.to_string(), "x".into())).collect()),
            src_tokenizer: Tokenizer::Word,
            tgt_tokenizer: Tokenizer::Word,
            min_count: 1,
            split: Split::Published { test: 5, valid: 3 },
        };
        let s = data.split();
        let texts = |e: &Examples| match e {
            Examples::Labelled(v) => v
                .iter()
                .map(|(t, _)| t.parse::<usize>().unwrap())
                .collect::<Vec<_>>(),
            _ => unreachable!(),
        };
        assert_eq!(texts(&s.test), [15, 16, 17, 18, 19]);
        let (mut seen, valid) = (texts(&s.train), texts(&s.valid));
        assert_eq!((seen.len(), valid.len()), (12, 3));
        seen.extend(valid);
        seen.sort();
        assert_eq!(seen, (0..15).collect::<Vec<_>>());
    }

    #[test]
    fn vendored_sets_load_with_their_documented_sizes() {
        assert_eq!(builtin("digits").unwrap().examples.len(), 1797);
        assert_eq!(builtin("sentiment").unwrap().examples.len(), 2982);
        assert_eq!(builtin("bible-en-es").unwrap().examples.len(), 12030);
    }

    #[test]
    fn generated_sets_are_deterministic() {
        assert_eq!(builtin("dates").unwrap(), builtin("dates").unwrap());
        let Examples::Pairs(p) = builtin("reverse").unwrap().examples else {
            panic!("pairs")
        };
        let src: Vec<&str> = p[0].0.split(' ').collect();
        let tgt: Vec<&str> = p[0].1.split(' ').rev().collect();
        assert_eq!(src, tgt);
    }

    #[test]
    fn every_data_set_loads_under_its_name() {
        for &set in DataSet::ALL {
            assert_eq!(builtin(set.name()).unwrap().name, set.name());
        }
    }

    #[test]
    fn a_path_to_no_file_is_file_not_found_not_an_unknown_name() {
        for name in [
            "no/such/reviews.tsv",
            "reviews.csv",
            "pairs.JSONL",
            "tags.conll",
            "notes.txt",
            "./sentiment",
        ] {
            let err = builtin(name).unwrap_err().to_string();
            assert!(
                err.starts_with(&format!("{name}: file not found; check the path")),
                "{err}"
            );
            assert!(!err.contains("no built-in data set"), "{err}");
        }
        let dir = std::env::temp_dir();
        let err = builtin(&dir.display().to_string()).unwrap_err().to_string();
        assert!(err.contains("a directory, not a data file"), "{err}");
        // a bare word is still a (misspelt) built-in name
        let err = builtin("sentimnt").unwrap_err().to_string();
        assert!(err.contains("no built-in data set"), "{err}");
    }

    #[test]
    fn unknown_names_suggest_the_nearest() {
        let err = builtin("sentimnet").unwrap_err().to_string();
        assert!(err.contains("did you mean `sentiment`"), "{err}");
    }
}
