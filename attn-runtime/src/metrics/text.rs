//! Python `str` semantics the text metrics depend on: what `str.split()` and `str.rstrip()` call
//! whitespace, and `str.lower()`.

/// Python's `str.isspace()`: Unicode `White_Space` plus the separators U+001C..U+001F.
pub(super) fn is_py_space(c: char) -> bool {
    c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c)
}

/// Python's `s.split()`: the non-empty runs between whitespace.
pub(super) fn py_split(s: &str) -> impl Iterator<Item = &str> {
    s.split(is_py_space).filter(|t| !t.is_empty())
}

/// Python's `s.rstrip()`.
pub(super) fn py_rstrip(s: &str) -> &str {
    s.trim_end_matches(is_py_space)
}

/// Python's `s.lower()`: full Unicode lowercasing (including the final-sigma rule). Identical for
/// every character Python 3.11's Unicode 14 database knows; Rust's newer tables also lowercase a
/// few characters assigned later.
pub(super) fn py_lower(s: &str) -> String {
    s.to_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whitespace_is_pythons() {
        let s = "a\u{1f}b\u{a0}c\u{3000}d \t";
        assert_eq!(py_split(s).collect::<Vec<_>>(), ["a", "b", "c", "d"]);
        assert_eq!(py_rstrip("x \u{1c}\n"), "x");
        assert_eq!(py_split("\u{200b}").count(), 1); // zero-width space is not whitespace
    }

    #[test]
    fn lower_handles_final_sigma() {
        assert_eq!(py_lower("ΟΔΟΣ ΣΑΣ"), "οδος σας");
    }
}
