//! "Did you mean" suggestions by edit distance.

/// The closest candidate to `word`, if it is close enough to be a likely typo.
pub fn closest<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let word_lc = word.to_lowercase();
    candidates
        .into_iter()
        .map(|c| (edit_distance(&word_lc, &c.to_lowercase()), c))
        .filter(|(d, c)| *d <= (c.len().max(word.len()) / 3).max(1))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// ", did you mean `x`?" or nothing.
pub fn did_you_mean<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> String {
    match closest(word, candidates) {
        Some(c) => format!(" (did you mean `{c}`?)"),
        None => String::new(),
    }
}

/// Edit distance over chars (insertions, deletions, substitutions and swaps of neighbours, the
/// commonest typos).
pub fn edit_distance(a: &str, b: &str) -> usize {
    let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (d[i - 1][j] + 1)
                .min(d[i][j - 1] + 1)
                .min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(d[i - 2][j - 2] + 1);
            }
            d[i][j] = best;
        }
    }
    d[a.len()][b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distances() {
        assert_eq!(edit_distance("heads", "heads"), 0);
        assert_eq!(edit_distance("haeds", "heads"), 1);
        assert_eq!(edit_distance("hdeas", "heads"), 2);
        assert_eq!(edit_distance("head", "heads"), 1);
        assert_eq!(edit_distance("", "abc"), 3);
    }

    #[test]
    fn suggests_typos_only() {
        let keys = ["heads", "layers", "d_model", "dropout"];
        assert_eq!(closest("head", keys), Some("heads"));
        assert_eq!(closest("dmodel", keys), Some("d_model"));
        assert_eq!(closest("Dropout", keys), Some("dropout"));
        assert_eq!(closest("banana", keys), None);
        assert_eq!(did_you_mean("layer", keys), " (did you mean `layers`?)");
    }
}
