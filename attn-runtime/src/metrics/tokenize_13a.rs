//! The `13a` tokenizer of sacreBLEU (mteval-v13a.pl, the WMT standard).

use super::text::py_split;

/// Tokenizes `line` exactly as sacreBLEU's `Tokenizer13a` (mteval-v13a.pl):
///
/// 1. remove `<skipped>`, join `-\n` line-break hyphenation, turn other `\n` into spaces;
/// 2. if the line holds `&`: unescape `&quot;` `&amp;` `&lt;` `&gt;` (in that order, once each);
/// 3. pad with a space on each side, then
///    - split off every ASCII punctuation character except `'`, `,`, `-` and `.`;
///    - split off `.` and `,` unless preceded by a digit, then unless followed by a digit (each a
///      left-to-right pass over non-overlapping character pairs, like `re.sub`);
///    - split off `-` when preceded by a digit;
/// 4. collapse whitespace (Python's definition) to single spaces and trim.
///
/// **Equivalent**: `sacrebleu.tokenizers.tokenizer_13a.Tokenizer13a()(line)`.
pub fn tokenize_13a(line: &str) -> String {
    let mut line = line
        .replace("<skipped>", "")
        .replace("-\n", "")
        .replace('\n', " ");
    if line.contains('&') {
        line = line
            .replace("&quot;", "\"")
            .replace("&amp;", "&")
            .replace("&lt;", "<")
            .replace("&gt;", ">");
    }

    let padded = format!(" {line} ");
    let mut chars: Vec<char> = Vec::with_capacity(padded.len() * 2);
    for c in padded.chars() {
        if is_split_punctuation(c) {
            chars.extend([' ', c, ' ']);
        } else {
            chars.push(c);
        }
    }
    let digit = |c: char| c.is_ascii_digit();
    let period_comma = |c: char| c == '.' || c == ',';
    // ([^0-9])([\.,]) -> \1 \2
    let chars = sub_pairs(&chars, |c| !digit(c), period_comma, |a, b| [a, ' ', b, ' ']);
    // ([\.,])([^0-9]) -> " \1 \2"
    let chars = sub_pairs(&chars, period_comma, |c| !digit(c), |a, b| [' ', a, ' ', b]);
    // ([0-9])(-) -> \1 \2
    let chars = sub_pairs(&chars, digit, |c| c == '-', |a, b| [a, ' ', b, ' ']);

    let spaced: String = chars.into_iter().collect();
    py_split(&spaced).collect::<Vec<_>>().join(" ")
}

/// The 13a character class `[\{-\~\[-\` -\&\(-\+\:-\@\/]`: printable ASCII punctuation (and the
/// space) except `'`, `,`, `-` and `.`.
fn is_split_punctuation(c: char) -> bool {
    matches!(c, '{'..='~' | '['..='`' | ' '..='&' | '('..='+' | ':'..='@' | '/')
}

/// `re.sub` of a two-character pattern `(first)(second)`: a left-to-right scan that replaces
/// each non-overlapping matching pair with `replace(a, b)`.
fn sub_pairs(
    s: &[char],
    first: impl Fn(char) -> bool,
    second: impl Fn(char) -> bool,
    replace: impl Fn(char, char) -> [char; 4],
) -> Vec<char> {
    let mut out = Vec::with_capacity(s.len() + s.len() / 2);
    let mut i = 0;
    while i < s.len() {
        if i + 1 < s.len() && first(s[i]) && second(s[i + 1]) {
            out.extend(replace(s[i], s[i + 1]));
            i += 2;
        } else {
            out.push(s[i]);
            i += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_punctuation_but_keeps_numbers() {
        assert_eq!(
            tokenize_13a("Hello, world! It's 3.14 or 1,000 (approx.)"),
            "Hello , world ! It's 3.14 or 1,000 ( approx . )"
        );
        assert_eq!(
            tokenize_13a("pages 10-12, e-mail"),
            "pages 10 - 12 , e-mail"
        );
    }

    #[test]
    fn unescapes_and_skips() {
        assert_eq!(
            tokenize_13a("&quot;A&amp;B&quot; &lt;skipped&gt;<skipped> x-\ny"),
            "\" A & B \" < skipped > xy"
        );
        assert_eq!(tokenize_13a("&amp;quot;"), "& quot ;");
        assert_eq!(tokenize_13a(""), "");
    }

    #[test]
    fn pairs_do_not_overlap() {
        // "a.," : "a." is split first, so "," must wait for the next rule
        assert_eq!(tokenize_13a("a.,b"), "a . , b");
        assert_eq!(tokenize_13a("1.,2"), "1 . , 2");
    }
}
