//! Loading the user's own data files: TSV, CSV or JSONL of sequence pairs, labelled text or
//! tagged tokens (and CSV images), with errors that name the file and line.

use std::path::Path;

use serde_json::Value;

use super::{Dataset, Examples, Split, Tokenizer};
use crate::error::AttnError;
use crate::model::TaskSpec;

/// The UTF-8 byte-order mark some editors write at the start of a file.
const BOM: char = '\u{feff}';

/// Reads `path` as data for a model of task `task`, the format chosen by its extension:
/// - classification: `.tsv`/`.csv` rows `label, text` (an optional `label, text` header), or
///   `.jsonl` objects `{"text": .., "label": ..}`;
/// - tagging: `.jsonl` objects `{"tokens": [..], "tags": [..]}`, or `.tsv`/`.conll` lines
///   `token<TAB>tag` with a blank line between sentences;
/// - sequence-to-sequence: `.tsv`/`.csv` rows `source, target` (optional header), or `.jsonl`
///   objects `{"source": .., "target": ..}`;
/// - language models: `.txt` running text, each non-blank line a document (a paragraph, a
///   verse), or `.jsonl` objects `{"text": ..}`;
/// - images: `.csv` rows of `channels·height·width` pixel values then the class id: finite
///   numbers from 0 to [`MAX_PIXEL`], scaled into `[0, 1]` by the file's largest value when it is
///   above 1.
///
/// A leading UTF-8 byte-order mark is skipped.
///
/// # Errors
/// [`AttnError::Data`] naming the file and line of the first malformed entry (a NaN, infinite,
/// negative or larger than [`MAX_PIXEL`] pixel among them), or
/// [`AttnError::Io`] when the file cannot be read.
pub fn load_file(path: &Path, task: &TaskSpec, tokenizer: Tokenizer) -> Result<Dataset, AttnError> {
    let file = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| AttnError::Io {
        path: file.clone(),
        source,
    })?;
    // editors on Windows start UTF-8 files with a byte-order mark: it is not data, and left in
    // place it would hide the header (which then became an example) or the first field
    let text = text.strip_prefix(BOM).unwrap_or(&text);
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or("")
        .to_ascii_lowercase();
    let at = |line: usize| format!("{file}:{line}");
    let examples = match (task, ext.as_str()) {
        (TaskSpec::Classify { .. }, "jsonl") => Examples::Labelled(jsonl(text, &file, |v, n| Ok((string(v, "text", &at(n))?, label(v, &at(n))?)))?),
        (TaskSpec::Classify { .. }, "tsv" | "csv") => {
            Examples::Labelled(columns(text, &ext, &file, &["label", "text"], |c| (c[1].clone(), c[0].clone()))?)
        }
        (TaskSpec::Seq2Seq { .. }, "jsonl") => {
            Examples::Pairs(jsonl(text, &file, |v, n| Ok((string(v, "source", &at(n))?, string(v, "target", &at(n))?)))?)
        }
        (TaskSpec::Seq2Seq { .. }, "tsv" | "csv") => {
            Examples::Pairs(columns(text, &ext, &file, &["source", "target"], |c| (c[0].clone(), c[1].clone()))?)
        }
        (TaskSpec::Tag { .. }, "jsonl") => Examples::Tagged(jsonl(text, &file, |v, n| {
            let (tokens, tags) = (strings(v, "tokens", &at(n))?, strings(v, "tags", &at(n))?);
            if tokens.len() != tags.len() {
                return Err(AttnError::data(at(n), format!("{} tokens but {} tags", tokens.len(), tags.len()), "give one tag per token"));
            }
            Ok((tokens, tags))
        })?),
        (TaskSpec::Tag { .. }, "tsv" | "conll") => Examples::Tagged(conll(text, &file)?),
        (TaskSpec::ImageClassify { channels, height, width, .. }, "csv") => images(text, &file, [*channels, *height, *width])?,
        (TaskSpec::LanguageModel { .. }, "txt") => {
            Examples::Text(text.lines().filter(|l| !l.trim().is_empty()).map(|l| l.trim_end_matches('\r').to_string()).collect())
        }
        (TaskSpec::LanguageModel { .. }, "jsonl") => Examples::Text(jsonl(text, &file, |v, n| string(v, "text", &at(n)))?),
        (task, ext) => {
            return Err(AttnError::data(
                file,
                format!("a `.{ext}` file cannot hold {} data", task.name()),
                "use .tsv, .csv or .jsonl (classification, seq2seq), .jsonl/.tsv/.conll (tagging), .csv (images), .txt or .jsonl (language models)",
            ))
        }
    };
    if examples.is_empty() {
        return Err(AttnError::data(
            file,
            "the file holds no example",
            "add data, one example per line",
        ));
    }
    Ok(Dataset {
        name: path.display().to_string(),
        examples,
        src_tokenizer: tokenizer,
        tgt_tokenizer: tokenizer,
        min_count: 1,
        split: Split::Seeded,
    })
}

fn jsonl<T>(
    text: &str,
    file: &str,
    mut f: impl FnMut(&Value, usize) -> Result<T, AttnError>,
) -> Result<Vec<T>, AttnError> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let value: Value = serde_json::from_str(line).map_err(|e| {
            AttnError::data(
                format!("{file}:{}", i + 1),
                format!("not a JSON object ({e})"),
                "write one JSON object per line",
            )
        })?;
        out.push(f(&value, i + 1)?);
    }
    Ok(out)
}

fn string(v: &Value, key: &str, at: &str) -> Result<String, AttnError> {
    v.get(key)
        .and_then(Value::as_str)
        .map(String::from)
        .ok_or_else(|| {
            AttnError::data(
                at,
                format!("no string field \"{key}\""),
                format!("give every object a \"{key}\" string"),
            )
        })
}

fn label(v: &Value, at: &str) -> Result<String, AttnError> {
    match v.get("label") {
        Some(Value::String(s)) => Ok(s.clone()),
        Some(Value::Number(n)) => Ok(n.to_string()),
        Some(Value::Bool(b)) => Ok(b.to_string()),
        _ => Err(AttnError::data(
            at,
            "no \"label\" field (string or number)",
            "give every object a \"label\"",
        )),
    }
}

fn strings(v: &Value, key: &str, at: &str) -> Result<Vec<String>, AttnError> {
    v.get(key)
        .and_then(Value::as_array)
        .and_then(|a| {
            a.iter()
                .map(|x| x.as_str().map(String::from))
                .collect::<Option<Vec<_>>>()
        })
        .ok_or_else(|| {
            AttnError::data(
                at,
                format!("no array of strings \"{key}\""),
                format!("give every object a \"{key}\" array of strings"),
            )
        })
}

/// One record of a delimited file: the line it starts on (1-based) and its fields.
pub type Record = (usize, Vec<String>);

/// The records of a delimited file's `text`, through the `csv` crate: for `csv`, RFC 4180
/// quoting (a quoted field may hold commas, doubled quotes and line breaks); for any other
/// extension (`tsv`), fields split at every tab with no quoting, so a quote is text (as in
/// tab-separated corpora, where a sentence may begin with one). Line ends may be LF or CRLF;
/// blank lines are skipped.
///
/// # Errors
/// [`AttnError::Data`] naming `file` and the line, for a quoted field that is never closed.
pub fn records(text: &str, ext: &str, file: &str) -> Result<Vec<Record>, AttnError> {
    let csv = ext == "csv";
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(if csv { b',' } else { b'\t' })
        .quoting(csv)
        .from_reader(text.as_bytes());
    let mut out = Vec::new();
    // the line a record starts on, counted here: the reader's own count and offset include the
    // blank lines it skipped before the record
    let (mut counted_to, mut line) = (0, 1);
    for record in reader.records() {
        // `text` is UTF-8 and records may have any length: the reader has no error left to give
        let record =
            record.map_err(|e| AttnError::data(file, e.to_string(), "write UTF-8 text"))?;
        let offset = record.position().map_or(0, |p| p.byte() as usize);
        let start = text.len() - text[offset..].trim_start_matches(['\r', '\n']).len();
        line += text[counted_to..start].matches('\n').count();
        counted_to = start;
        out.push((line, record.iter().map(String::from).collect::<Vec<_>>()));
    }
    // the reader ends an unclosed quoted field at the end of the file, taking every line after it
    if csv && ends_in_open_quote(text) {
        let line = out.last().map_or(1, |(line, _)| *line);
        return Err(AttnError::data(
            format!("{file}:{line}"),
            "a quoted field is not closed",
            "close the quotes (write a quote inside a quoted field as two: \"\")",
        ));
    }
    Ok(out)
}

/// Whether RFC 4180 quoting leaves a field of `text` open at its end.
fn ends_in_open_quote(text: &str) -> bool {
    let (mut quoted, mut field_start) = (false, true);
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                chars.next();
            }
            ('"', true) => quoted = false,
            ('"', false) if field_start => quoted = true,
            (',' | '\n' | '\r', false) => {
                field_start = true;
                continue;
            }
            _ => {}
        }
        field_start = false;
    }
    quoted
}

fn columns<T>(
    text: &str,
    ext: &str,
    file: &str,
    header: &[&str; 2],
    f: impl Fn(&[String]) -> T,
) -> Result<Vec<T>, AttnError> {
    let mut out = Vec::new();
    // a header names the columns: in our order, or the other way round (`text, label`, the
    // order of Hugging Face's and pandas' files), which is then the order of every row
    let mut swapped = false;
    for (i, (line, mut fields)) in records(text, ext, file)?.into_iter().enumerate() {
        if fields.iter().all(|f| f.trim().is_empty()) {
            continue;
        }
        if i == 0 && fields.len() == 2 {
            let names = [fields[0].trim(), fields[1].trim()];
            if names == [header[0], header[1]] {
                continue;
            }
            if names == [header[1], header[0]] {
                swapped = true;
                continue;
            }
        }
        if swapped {
            fields.reverse();
        }
        if fields.len() != 2 {
            return Err(AttnError::data(
                format!("{file}:{line}"),
                format!(
                    "{} fields where 2 were expected ({}, {})",
                    fields.len(),
                    header[0],
                    header[1]
                ),
                if ext == "csv" {
                    "quote fields that contain commas"
                } else {
                    "separate the two fields by one tab"
                },
            ));
        }
        out.push(f(&fields));
    }
    Ok(out)
}

fn conll(text: &str, file: &str) -> Result<Vec<(Vec<String>, Vec<String>)>, AttnError> {
    let mut out = Vec::new();
    let (mut tokens, mut tags) = (Vec::new(), Vec::new());
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            if !tokens.is_empty() {
                out.push((std::mem::take(&mut tokens), std::mem::take(&mut tags)));
            }
            continue;
        }
        let parts: Vec<&str> = line.split('\t').collect();
        if parts.len() != 2 {
            return Err(AttnError::data(
                format!("{file}:{}", i + 1),
                format!("{} fields where `token<TAB>tag` was expected", parts.len()),
                "one token and its tag per line",
            ));
        }
        tokens.push(parts[0].to_string());
        tags.push(parts[1].to_string());
    }
    if !tokens.is_empty() {
        out.push((tokens, tags));
    }
    Ok(out)
}

/// The largest pixel value an image file may hold: a 16-bit intensity. Files of 8-bit (0–255),
/// 4-bit (0–16) or already scaled (0–1) values fit; anything larger is a corrupt entry, and
/// scaling the file by it would wash every other image out to black.
pub const MAX_PIXEL: f32 = 65_535.0;

/// Parses the `k`th (1-based) pixel of a line at `at`: a finite number from 0 to [`MAX_PIXEL`].
fn pixel(raw: &str, k: usize, at: &str) -> Result<f32, AttnError> {
    let fix = "write pixel intensities as numbers from 0 to 65535 (the file is scaled into [0, 1] by its largest value)";
    let value = raw
        .parse::<f32>()
        .map_err(|_| AttnError::data(at, format!("pixel {k} (`{raw}`) is not a number"), fix))?;
    if !value.is_finite() {
        return Err(AttnError::data(
            at,
            format!("pixel {k} is {value}, not a finite number"),
            fix,
        ));
    }
    if !(0.0..=MAX_PIXEL).contains(&value) {
        return Err(AttnError::data(
            at,
            format!("pixel {k} is {raw}, outside 0 to 65535"),
            fix,
        ));
    }
    Ok(value)
}

fn images(text: &str, file: &str, shape: [usize; 3]) -> Result<Examples, AttnError> {
    let n = shape.iter().product::<usize>();
    let (mut pixels, mut labels) = (Vec::new(), Vec::new());
    for (line, fields) in records(text, "csv", file)? {
        if fields.iter().all(|f| f.trim().is_empty()) {
            continue;
        }
        let at = format!("{file}:{line}");
        let values: Vec<&str> = fields.iter().map(|f| f.trim()).collect();
        if values.len() != n + 1 {
            return Err(AttnError::data(
                at,
                format!(
                    "{} values where {n} pixels and a label were expected",
                    values.len()
                ),
                "one image per line: pixels, then the class id",
            ));
        }
        let row = values[..n]
            .iter()
            .enumerate()
            .map(|(k, v)| pixel(v, k + 1, &at))
            .collect::<Result<Vec<f32>, _>>()?;
        let label = values[n].parse::<usize>().map_err(|_| {
            AttnError::data(
                &at,
                format!("label `{}` is not a class id", values[n]),
                "end each line with a class id 0, 1, ...",
            )
        })?;
        pixels.push(row);
        labels.push(label);
    }
    let max = pixels.iter().flatten().fold(0f32, |m, &v| m.max(v));
    if max > 1.0 {
        pixels.iter_mut().flatten().for_each(|v| *v /= max);
    }
    Ok(Examples::Images {
        pixels,
        labels,
        shape,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const CLASSIFY: TaskSpec = TaskSpec::Classify {
        vocab: 64,
        max_len: 8,
        classes: 2,
    };
    const SEQ2SEQ: TaskSpec = TaskSpec::Seq2Seq {
        src_vocab: 64,
        tgt_vocab: 64,
        src_len: 8,
        tgt_len: 8,
    };
    const TAG: TaskSpec = TaskSpec::Tag {
        vocab: 64,
        max_len: 8,
        tags: 8,
    };
    const IMAGE: TaskSpec = TaskSpec::ImageClassify {
        channels: 1,
        height: 1,
        width: 2,
        classes: 2,
    };

    /// Loads `body` written to a file called `name` (in a directory of its own, removed after).
    fn load(name: &str, body: &str, task: &TaskSpec) -> Result<Examples, AttnError> {
        let dir = std::env::temp_dir().join(format!("attn-files-{}-{name}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(name);
        std::fs::write(&path, body).unwrap();
        let loaded = load_file(&path, task, Tokenizer::Word).map(|d| d.examples);
        std::fs::remove_dir_all(&dir).ok();
        loaded
    }

    /// The error of loading `body` as `name`, as text.
    fn load_err(name: &str, body: &str, task: &TaskSpec) -> String {
        load(name, body, task).unwrap_err().to_string()
    }

    #[test]
    fn a_byte_order_mark_is_skipped_in_every_format() {
        let cases: [(&str, &str, &TaskSpec); 9] = [
            ("c.tsv", "label\ttext\npos\tgood\nneg\tbad\n", &CLASSIFY),
            ("c.csv", "label,text\npos,good\nneg,bad\n", &CLASSIFY),
            (
                "c.jsonl",
                "{\"text\": \"good\", \"label\": \"pos\"}\n{\"text\": \"bad\", \"label\": \"neg\"}\n",
                &CLASSIFY,
            ),
            ("s.tsv", "source\ttarget\na b\tb a\nc d\td c\n", &SEQ2SEQ),
            ("s.csv", "source,target\na b,b a\nc d,d c\n", &SEQ2SEQ),
            (
                "s.jsonl",
                "{\"source\": \"a b\", \"target\": \"b a\"}\n",
                &SEQ2SEQ,
            ),
            ("t.conll", "John\tB-PER\nruns\tO\n\nMary\tB-PER\n", &TAG),
            ("t.tsv", "John\tB-PER\nruns\tO\n", &TAG),
            ("i.csv", "0,255,1\n255,0,0\n", &IMAGE),
        ];
        for (name, body, task) in cases {
            let plain = load(name, body, task).unwrap();
            let bom = load(name, &format!("\u{feff}{body}"), task).unwrap();
            assert_eq!(bom, plain, "{name}");
        }
        // the symptom: a BOM'd header became an example, and a third class
        let Examples::Labelled(v) =
            load("h.tsv", "\u{feff}label\ttext\npos\tgood\n", &CLASSIFY).unwrap()
        else {
            panic!("labelled")
        };
        assert_eq!(v, [("good".to_string(), "pos".to_string())]);
        let tagged = load(
            "b.jsonl",
            "\u{feff}{\"tokens\": [\"a\"], \"tags\": [\"X\"]}\n",
            &TAG,
        );
        assert_eq!(
            tagged.unwrap(),
            Examples::Tagged(vec![(vec!["a".into()], vec!["X".into()])])
        );
    }

    #[test]
    fn a_header_naming_the_columns_the_other_way_round_is_followed() {
        // `text, label` (Hugging Face's and pandas' order) and `target, source`: the header
        // says which column is which, for every row; without one, our order
        for (name, ours, theirs, task) in [
            (
                "swapped-c.tsv",
                "label\ttext\npos\tgood\nneg\tbad\n",
                "text\tlabel\ngood\tpos\nbad\tneg\n",
                &CLASSIFY,
            ),
            (
                "swapped-c.csv",
                "label,text\npos,good\n",
                "text,label\ngood,pos\n",
                &CLASSIFY,
            ),
            (
                "swapped-s.tsv",
                "source\ttarget\na b\tb a\n",
                "target\tsource\nb a\ta b\n",
                &SEQ2SEQ,
            ),
        ] {
            assert_eq!(
                load(name, theirs, task).unwrap(),
                load(name, ours, task).unwrap(),
                "{name}"
            );
        }
        let Examples::Labelled(v) = load("headerless.tsv", "good\tpos\n", &CLASSIFY).unwrap()
        else {
            panic!("labelled")
        };
        assert_eq!(v, [("pos".to_string(), "good".to_string())]);
    }

    #[test]
    fn csv_fields_may_hold_commas_quotes_and_line_breaks_and_crlf_reads_as_lf() {
        let body = "source,target\n\"a, b\",\"line one\nline two\"\n\"say \"\"hi\"\"\",x\n";
        let want = Examples::Pairs(vec![
            ("a, b".into(), "line one\nline two".into()),
            ("say \"hi\"".into(), "x".into()),
        ]);
        assert_eq!(load("q.csv", body, &SEQ2SEQ).unwrap(), want);
        // CRLF line ends (and a CRLF inside a quoted field stays in the value)
        let crlf = body.replace('\n', "\r\n");
        let Examples::Pairs(pairs) = load("q.csv", &crlf, &SEQ2SEQ).unwrap() else {
            panic!("pairs")
        };
        assert_eq!(pairs[0], ("a, b".into(), "line one\r\nline two".into()));
        assert_eq!(pairs[1], ("say \"hi\"".into(), "x".into()));
        // a line after a two-line record is still named by its own line number
        let err = load_err("q.csv", &format!("{body}a,b,c\n"), &SEQ2SEQ);
        assert!(
            err.contains("q.csv:5: 3 fields where 2 were expected"),
            "{err}"
        );
        assert!(err.contains("quote fields that contain commas"), "{err}");
        // and after blank lines, which count as lines
        let err = load_err("q.csv", &format!("{body}\n\r\na,b,c\n"), &SEQ2SEQ);
        assert!(
            err.contains("q.csv:7: 3 fields where 2 were expected"),
            "{err}"
        );
    }

    #[test]
    fn an_unclosed_quote_is_refused_at_its_line() {
        let err = load_err("u.csv", "pos,good\nneg,\"bad\nneg,worse\n", &CLASSIFY);
        assert!(
            err.contains("u.csv:2: a quoted field is not closed"),
            "{err}"
        );
        assert!(err.contains("close the quotes"), "{err}");
        // a quote inside an unquoted field is text, and closes nothing
        let Examples::Labelled(v) = load("u.csv", "pos,a 5\" screen\n", &CLASSIFY).unwrap() else {
            panic!("labelled")
        };
        assert_eq!(v, [("a 5\" screen".to_string(), "pos".to_string())]);
    }

    #[test]
    fn tsv_fields_are_split_at_tabs_and_quotes_are_text() {
        let body = "\"Go!\"\t\"¡Ve!\"\nHe said \"hi\", twice.\tDijo \"hola\"\r\n";
        let want = Examples::Pairs(vec![
            ("\"Go!\"".into(), "\"¡Ve!\"".into()),
            ("He said \"hi\", twice.".into(), "Dijo \"hola\"".into()),
        ]);
        assert_eq!(load("quotes.tsv", body, &SEQ2SEQ).unwrap(), want);
        let err = load_err("quotes.tsv", "a\tb\n\na\tb\tc\n", &SEQ2SEQ);
        assert!(
            err.contains("quotes.tsv:3: 3 fields where 2 were expected"),
            "{err}"
        );
        assert!(err.contains("separate the two fields by one tab"), "{err}");
    }

    #[test]
    fn non_finite_negative_or_huge_pixels_are_refused_naming_line_and_pixel() {
        for (row, needle) in [
            ("NaN,1,0", "pixel 1 is NaN, not a finite number"),
            ("0,inf,0", "pixel 2 is inf, not a finite number"),
            ("0,-inf,0", "pixel 2 is -inf, not a finite number"),
            ("0,1e39,0", "pixel 2 is inf, not a finite number"),
            ("1e30,0,0", "pixel 1 is 1e30, outside 0 to 65535"),
            ("-1,0,0", "pixel 1 is -1, outside 0 to 65535"),
            ("0,x,0", "pixel 2 (`x`) is not a number"),
        ] {
            let err = load_err("p.csv", &format!("0,1,1\n{row}\n"), &IMAGE);
            assert!(err.contains(&format!("p.csv:2: {needle}")), "{row}: {err}");
            assert!(err.contains("from 0 to 65535"), "{err}");
        }
        // 16-bit intensities are fine, and scaled into [0, 1]
        let Examples::Images { pixels, .. } = load("p.csv", "0,65535,1\n", &IMAGE).unwrap() else {
            panic!("images")
        };
        assert_eq!(pixels, [vec![0.0, 1.0]]);
    }
}
