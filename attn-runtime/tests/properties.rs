//! Property-based tests (proptest) of what reads user input: any bytes in a data file are
//! either loaded or refused with an error, never a panic, and the tokenisers keep their
//! contracts on any text.

use std::path::PathBuf;

use attn_runtime::data::{load_file, Tokenizer};
use attn_runtime::model::TaskSpec;
use attn_runtime::prelude::AttnError;
use proptest::prelude::*;

const TASKS: [TaskSpec; 4] = [
    TaskSpec::Classify {
        vocab: 64,
        max_len: 8,
        classes: 3,
    },
    TaskSpec::Seq2Seq {
        src_vocab: 64,
        tgt_vocab: 64,
        src_len: 8,
        tgt_len: 9,
    },
    TaskSpec::Tag {
        vocab: 64,
        max_len: 8,
        tags: 5,
    },
    TaskSpec::ImageClassify {
        channels: 1,
        height: 2,
        width: 2,
        classes: 3,
    },
];

const EXTENSIONS: [&str; 4] = ["tsv", "csv", "jsonl", "conll"];

/// Pieces data files are made of, so that generated files reach past the first line's checks:
/// separators, quotes, JSON punctuation, numbers (finite or not), headers, a byte-order mark.
fn piece() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("\t".to_string()),
        Just(",".to_string()),
        Just("\n".to_string()),
        Just("\r\n".to_string()),
        Just("\"".to_string()),
        Just("\u{feff}".to_string()),
        Just("label\ttext\n".to_string()),
        Just("source,target\n".to_string()),
        Just("{\"text\": \"a b\", \"label\": \"x\"}".to_string()),
        Just("{\"source\": \"a\", \"target\": \"b\"}".to_string()),
        Just("{\"tokens\": [\"a\", \"b\"], \"tags\": [\"X\", \"Y\"]}".to_string()),
        Just("{\"tokens\": [\"a\"], \"tags\": []}".to_string()),
        Just("label,p0,p1,p2,p3\n".to_string()),
        Just("nan".to_string()),
        Just("inf".to_string()),
        Just("-1".to_string()),
        Just("1e40".to_string()),
        Just("255".to_string()),
        Just("0.5".to_string()),
        "[a-zA-Z0-9 ]{1,6}",
        any::<String>(),
    ]
}

/// Whole lines, well-formed or nearly, of every kind of data file.
fn line() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => Just("0,0.5,1,255,1\n".to_string()),
        4 => Just("1,0,0,0,2\n".to_string()),
        1 => Just("nan,0,0,0,1\n".to_string()),
        1 => Just("0,0,0,1e40,1\n".to_string()),
        1 => Just("0,0,1\n".to_string()),
        4 => Just("pos\tgood film\n".to_string()),
        4 => Just("{\"source\": \"a b\", \"target\": \"b a\"}\n".to_string()),
        4 => Just("a\tX\nb\tY\n\n".to_string()),
        1 => Just("\n".to_string()),
        1 => piece().prop_map(|p| p + "\n"),
    ]
}

fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::collection::vec(piece(), 0..40).prop_map(|v| v.concat()),
        prop::collection::vec(line(), 0..12).prop_map(|v| v.concat()),
    ]
}

fn scratch() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("attn-properties-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Loads `bytes` as a file of every extension for every task: an example set or an error,
/// and a loaded set has no empty example text.
fn load_every_way(bytes: &[u8], case: &str) -> Result<(), TestCaseError> {
    let dir = scratch();
    for ext in EXTENSIONS {
        let path = dir.join(format!("{case}.{ext}"));
        std::fs::write(&path, bytes).unwrap();
        for task in &TASKS {
            match load_file(&path, task, Tokenizer::Word) {
                Ok(d) => prop_assert!(!d.examples.is_empty()),
                Err(AttnError::Data { .. } | AttnError::Io { .. }) => {}
                Err(other) => prop_assert!(false, "an error of another kind: {other:?}"),
            }
        }
        std::fs::remove_file(&path).ok();
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn any_bytes_are_loaded_or_refused_never_a_panic(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        load_every_way(&bytes, "bytes")?;
    }

    #[test]
    fn any_file_made_of_data_pieces_is_loaded_or_refused(t in text()) {
        load_every_way(t.as_bytes(), "pieces")?;
    }

    #[test]
    fn character_tokens_join_back_into_the_text(s in any::<String>()) {
        let tokens = Tokenizer::Char.tokenize(&s);
        prop_assert_eq!(tokens.len(), s.chars().count());
        prop_assert_eq!(Tokenizer::Char.detokenize(&tokens), s);
    }

    #[test]
    fn whitespace_tokens_are_the_words_between_spaces(s in any::<String>()) {
        let tokens = Tokenizer::Whitespace.tokenize(&s);
        prop_assert!(tokens.iter().all(|t| !t.is_empty() && !t.chars().any(char::is_whitespace)));
        let words: Vec<&str> = s.split_whitespace().collect();
        prop_assert_eq!(Tokenizer::Whitespace.detokenize(&tokens), words.join(" "));
    }

    #[test]
    fn word_tokens_are_lower_case_and_tokenising_them_again_changes_nothing(s in any::<String>()) {
        let tokens = Tokenizer::Word.tokenize(&s);
        prop_assert!(tokens.iter().all(|t| !t.is_empty() && !t.chars().any(char::is_whitespace)));
        let again = Tokenizer::Word.tokenize(&Tokenizer::Word.detokenize(&tokens));
        prop_assert_eq!(again, tokens);
    }
}

/// The generated files are not all refused at the first line: each task loads some of them, so
/// the properties above reach the loaders' inner checks.
#[test]
fn generated_files_reach_past_the_first_check_for_every_task() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    let mut runner = TestRunner::deterministic();
    let dir = scratch();
    let mut loaded = [0usize; 4];
    for i in 0..400 {
        let t = text().new_tree(&mut runner).unwrap().current();
        for ext in EXTENSIONS {
            let path = dir.join(format!("reach-{i}.{ext}"));
            std::fs::write(&path, &t).unwrap();
            for (k, task) in TASKS.iter().enumerate() {
                loaded[k] += usize::from(load_file(&path, task, Tokenizer::Word).is_ok());
            }
            std::fs::remove_file(&path).ok();
        }
    }
    assert!(
        loaded.iter().all(|&n| n >= 5),
        "loaded per task: {loaded:?}"
    );
}
