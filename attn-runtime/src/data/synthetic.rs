//! Synthetic sequence tasks over digit tokens, for checking that a model can learn at all.
//!
//! Each example is a random sequence of digits `0..=9` and its transformation: the same sequence
//! ([`SyntheticTask::Copy`]), the sequence backwards ([`SyntheticTask::Reverse`]), or the digits
//! in ascending order ([`SyntheticTask::Sort`]).

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// Which transformation maps a source sequence to its target.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SyntheticTask {
    /// The target is the source unchanged.
    Copy,
    /// The target is the source in reverse order.
    Reverse,
    /// The target is the source's digits in ascending order.
    Sort,
}

impl SyntheticTask {
    /// Every task, in declaration order.
    pub const ALL: [SyntheticTask; 3] = [
        SyntheticTask::Copy,
        SyntheticTask::Reverse,
        SyntheticTask::Sort,
    ];

    /// The task's name: "copy", "reverse" or "sort".
    pub fn name(self) -> &'static str {
        match self {
            SyntheticTask::Copy => "copy",
            SyntheticTask::Reverse => "reverse",
            SyntheticTask::Sort => "sort",
        }
    }

    /// The task with this [`name`](Self::name), ignoring ASCII case; `None` for any other string.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|task| task.name().eq_ignore_ascii_case(name))
    }

    /// The target this task assigns to `source`.
    pub fn apply(self, source: &[u8]) -> Vec<u8> {
        let mut target = source.to_vec();
        match self {
            SyntheticTask::Copy => {}
            SyntheticTask::Reverse => target.reverse(),
            SyntheticTask::Sort => target.sort_unstable(),
        }
        target
    }
}

/// One example: a digit sequence and the task's target for it. Every element is in `0..=9`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SequencePair {
    /// The input digits.
    pub source: Vec<u8>,
    /// The expected output digits; as long as `source`.
    pub target: Vec<u8>,
}

/// Generates `count` examples of `task`, deterministically from `seed`.
///
/// Each source has a length drawn uniformly from `min_len..=max_len` and digits drawn uniformly
/// from `0..=9`. Returns an empty `Vec` when `min_len == 0` or `min_len > max_len`. The same
/// arguments always give the same pairs, and the sources for a given seed and length range do not
/// depend on the task.
pub fn generate_sequences(
    task: SyntheticTask,
    count: usize,
    min_len: usize,
    max_len: usize,
    seed: u64,
) -> Vec<SequencePair> {
    if min_len == 0 || min_len > max_len {
        return Vec::new();
    }
    let mut rng = StdRng::seed_from_u64(seed);
    (0..count)
        .map(|_| {
            let len = rng.gen_range(min_len..=max_len);
            let source: Vec<u8> = (0..len).map(|_| rng.gen_range(0..10u8)).collect();
            let target = task.apply(&source);
            SequencePair { source, target }
        })
        .collect()
}

/// Renders digits space-separated, e.g. `[3, 1, 4]` as "3 1 4", for the text pipeline.
///
/// Values above 9 are written as their decimal number ("12"); an empty slice gives "".
pub fn to_text(digits: &[u8]) -> String {
    let mut text = String::with_capacity(digits.len() * 2);
    for (i, digit) in digits.iter().enumerate() {
        if i > 0 {
            text.push(' ');
        }
        text.push_str(&digit.to_string());
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for task in SyntheticTask::ALL {
            assert_eq!(SyntheticTask::from_name(task.name()), Some(task));
        }
        assert_eq!(
            SyntheticTask::from_name("Reverse"),
            Some(SyntheticTask::Reverse)
        );
        assert_eq!(SyntheticTask::from_name("shuffle"), None);
        assert_eq!(SyntheticTask::from_name(""), None);
    }

    #[test]
    fn deterministic_per_seed() {
        for task in SyntheticTask::ALL {
            assert_eq!(
                generate_sequences(task, 100, 1, 12, 5),
                generate_sequences(task, 100, 1, 12, 5)
            );
            assert_ne!(
                generate_sequences(task, 100, 1, 12, 5),
                generate_sequences(task, 100, 1, 12, 6)
            );
        }
    }

    #[test]
    fn lengths_in_range_and_digits_valid() {
        let pairs = generate_sequences(SyntheticTask::Copy, 2_000, 3, 7, 1);
        assert_eq!(pairs.len(), 2_000);
        let mut seen_len = [false; 8];
        for pair in &pairs {
            assert!((3..=7).contains(&pair.source.len()), "{pair:?}");
            assert_eq!(pair.source.len(), pair.target.len());
            assert!(
                pair.source.iter().chain(&pair.target).all(|&d| d <= 9),
                "{pair:?}"
            );
            seen_len[pair.source.len()] = true;
        }
        assert_eq!(
            seen_len,
            [false, false, false, true, true, true, true, true]
        );
        let fixed = generate_sequences(SyntheticTask::Sort, 50, 4, 4, 1);
        assert!(fixed.iter().all(|p| p.source.len() == 4));
    }

    #[test]
    fn degenerate_ranges_give_nothing() {
        assert!(generate_sequences(SyntheticTask::Copy, 10, 0, 5, 1).is_empty());
        assert!(generate_sequences(SyntheticTask::Copy, 10, 6, 5, 1).is_empty());
        assert!(generate_sequences(SyntheticTask::Copy, 0, 1, 5, 1).is_empty());
    }

    #[test]
    fn targets_are_correct() {
        let copies = generate_sequences(SyntheticTask::Copy, 500, 1, 10, 9);
        let reversed = generate_sequences(SyntheticTask::Reverse, 500, 1, 10, 9);
        let sorted = generate_sequences(SyntheticTask::Sort, 500, 1, 10, 9);
        for ((c, r), s) in copies.iter().zip(&reversed).zip(&sorted) {
            assert_eq!(c.source, r.source);
            assert_eq!(c.source, s.source);
            assert_eq!(c.target, c.source);
            let back: Vec<u8> = r.source.iter().rev().copied().collect();
            assert_eq!(r.target, back);
            assert!(s.target.windows(2).all(|w| w[0] <= w[1]), "{s:?}");
            let mut counts = [0usize; 10];
            s.source.iter().for_each(|&d| counts[d as usize] += 1);
            s.target.iter().for_each(|&d| counts[d as usize] -= 1);
            assert_eq!(counts, [0; 10], "{s:?}");
        }
        assert_eq!(
            SyntheticTask::Sort.apply(&[3, 1, 4, 1, 5]),
            vec![1, 1, 3, 4, 5]
        );
        assert_eq!(SyntheticTask::Reverse.apply(&[3, 1, 4]), vec![4, 1, 3]);
    }

    #[test]
    fn text_rendering() {
        assert_eq!(to_text(&[3, 1, 4]), "3 1 4");
        assert_eq!(to_text(&[7]), "7");
        assert_eq!(to_text(&[]), "");
        assert_eq!(to_text(&[0, 12]), "0 12");
    }
}
