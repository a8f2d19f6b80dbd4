//! The attention report's page: one self-contained HTML file (the weights inline as JSON, the
//! script and styles in the file, nothing fetched) where the reader picks a layer and a head
//! (or all heads at once), hovers a token to see what it attends to and what attends to it, and
//! sorts the heads' statistics. In the spirit of bertviz's head and model views.

use serde::Serialize;

use super::HeadStats;

/// The page's template: `__ATTN_DATA__` is replaced by the data as JSON.
const TEMPLATE: &str = include_str!("page.html");

/// What the page shows.
#[derive(Clone, Debug, Serialize)]
pub struct PageData {
    /// The model's name.
    pub model: String,
    /// The input the prediction was made for.
    pub input: String,
    /// Every attention layer, in the model's order.
    pub layers: Vec<PageLayer>,
    /// Every head's statistics.
    pub stats: Vec<PageStats>,
    /// The static images beside the page, linked from it.
    pub images: Vec<PageImage>,
}

/// A static image beside the page.
#[derive(Clone, Debug, Serialize)]
pub struct PageImage {
    /// Its file name.
    pub file: String,
    /// What it shows.
    pub caption: String,
}

impl PageImage {
    /// The image `file`, showing `caption`.
    pub fn new(file: impl Into<String>, caption: impl Into<String>) -> Self {
        PageImage {
            file: file.into(),
            caption: caption.into(),
        }
    }
}

/// One attention layer's maps.
///
/// # Shapes
/// `heads[h]`: `[queries.len(), keys.len()]`, row-major.
#[derive(Clone, Debug, Serialize)]
pub struct PageLayer {
    /// The layer's parameter path.
    pub name: String,
    /// The tokens its rows refer to.
    pub queries: Vec<String>,
    /// The tokens its columns refer to.
    pub keys: Vec<String>,
    /// Each head's weights.
    pub heads: Vec<Vec<f32>>,
}

/// One row of the statistics table.
#[derive(Clone, Debug, Serialize)]
pub struct PageStats {
    /// The layer.
    pub layer: String,
    /// The head.
    pub head: usize,
    /// Its statistics.
    #[serde(flatten)]
    pub stats: HeadStats,
}

/// The page of `data`, as HTML.
///
/// **Python equivalent**: bertviz's `head_view(attention, tokens, html_action="return")`.
pub fn attention_page(data: &PageData) -> String {
    // inside a <script> element only `</` (a closing tag) and `<!--` can end or disturb it; JSON
    // may write `<\/` and `<\u0021--` for them
    let json = serde_json::to_string(data)
        .unwrap_or_else(|_| "null".into())
        .replace("</", "<\\/")
        .replace("<!--", "<\\u0021--");
    TEMPLATE.replacen("__ATTN_DATA__", &json, 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(token: &str) -> PageData {
        PageData {
            model: "m".into(),
            input: token.into(),
            layers: vec![PageLayer {
                name: "encoder.layers.0.self_attn".into(),
                queries: vec![token.into()],
                keys: vec![token.into()],
                heads: vec![vec![1.0]],
            }],
            stats: Vec::new(),
            images: vec![PageImage::new("overview.png", "every layer")],
        }
    }

    #[test]
    fn the_data_is_inline_and_a_token_cannot_close_the_script() {
        let page = attention_page(&data("</script><script>alert(1)</script><!--"));
        // one data element, holding the JSON, whose text never closes it early
        let start = page.find("type=\"application/json\">").unwrap();
        let end = start + page[start..].find("</script>").unwrap();
        let json = &page[start + "type=\"application/json\">".len()..end];
        let parsed: serde_json::Value = serde_json::from_str(json).unwrap();
        assert_eq!(
            parsed["layers"][0]["queries"][0],
            "</script><script>alert(1)</script><!--"
        );
        assert!(!json.contains("</") && !json.contains("<!--"), "{json}");
        assert!(!page.contains("__ATTN_DATA__"));
    }

    #[test]
    fn the_page_fetches_nothing() {
        let page = attention_page(&data("cat"));
        for needle in ["http://", "https://", "src=", "@import", "<link"] {
            assert!(!page.contains(needle), "the page refers to `{needle}`");
        }
    }
}
