//! "Did you mean" for names typed by people (model names, dataset names, CLI values).
//!
//! (`attn-macros` has its own copy: a proc-macro crate cannot depend on this one, and
//! `../shared/DESIGN.md` keeps its dependencies to syn, quote and proc-macro2.)

/// The candidate closest to `word` by edit distance, if close enough to be a likely typo.
///
/// ```
/// let names = ["sentiment-encoder", "digits-patches"];
/// assert_eq!(attn_runtime::suggest::closest("sentiment-encodr", names), Some("sentiment-encoder"));
/// assert_eq!(attn_runtime::suggest::closest("banana", names), None);
/// ```
pub fn closest<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    candidates
        .into_iter()
        .map(|c| (edit_distance(word, c), c))
        .filter(|(d, c)| *d <= (c.len().max(word.len()) / 3).max(1))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// Levenshtein distance over chars.
///
/// **Python equivalent**: `Levenshtein.distance(a, b)`.
pub fn edit_distance(a: &str, b: &str) -> usize {
    // the crate clap's own suggestions use (already in every attn binary's build)
    strsim::levenshtein(a, b)
}
