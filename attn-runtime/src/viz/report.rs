//! An attention report for one prediction: a heatmap per head (PNG and SVG), a grid per layer,
//! an overview of every layer, the source–target alignment of sequence-to-sequence models,
//! attention rollout, per-head statistics (table and JSON), and an `index.html` to explore it
//! all (`page.rs`: pick a layer and a head, hover a token, sort the heads).

use std::path::{Path, PathBuf};

use serde::Serialize;

use super::page::{attention_page, PageData, PageImage, PageLayer, PageStats};
use super::{
    head_similarity, head_stats, render_grid_png, render_png, render_svg, rollout, stats_table,
    HeadStats, Heatmap,
};
use crate::error::AttnError;
use crate::infer::{AttentionMap, Prediction};
use crate::run::write_atomic;

/// What [`write_report`] wrote.
#[derive(Clone, Debug, Serialize)]
pub struct ReportFiles {
    /// The folder.
    pub dir: PathBuf,
    /// `(layer, head, stats)` of every head.
    pub stats: Vec<(String, usize, HeadStats)>,
    /// Per layer with several heads, `[H, H]` pairwise [`head_similarity`].
    pub similarity: Vec<LayerSimilarity>,
    /// The fixed-width statistics table, then each layer's head-similarity matrix.
    pub table: String,
}

/// How alike the heads of one layer attend.
#[derive(Clone, Debug, Serialize)]
pub struct LayerSimilarity {
    /// The layer's parameter path.
    pub layer: String,
    /// `matrix[a][b]`: [`head_similarity`] of heads `a` and `b` (1 on the diagonal).
    pub matrix: Vec<Vec<f64>>,
}

/// One line per head of `[H, H]` similarities, two decimals.
fn similarity_table(layers: &[LayerSimilarity]) -> String {
    let mut out = String::new();
    for l in layers {
        out.push_str(&format!(
            "\nhead similarity, {} (1 = same pattern)\n",
            l.layer
        ));
        for (a, row) in l.matrix.iter().enumerate() {
            let cells: Vec<String> = row.iter().map(|v| format!("{v:.2}")).collect();
            out.push_str(&format!("  h{a}  {}\n", cells.join("  ")));
        }
    }
    out
}

fn viz(e: super::VizError) -> AttnError {
    AttnError::data("attention report", e.to_string(), "report this bug")
}

/// The queries and keys a map's rows and columns refer to, cut to the real tokens.
fn axes(map: &AttentionMap, p: &Prediction) -> (Vec<String>, Vec<String>) {
    let [_, _, sq, sk] = map.shape;
    let take = |tokens: &[String], n: usize| -> Vec<String> {
        let mut t: Vec<String> = tokens.iter().take(n).cloned().collect();
        if t.is_empty() {
            t = (0..n).map(|i| i.to_string()).collect();
        }
        t
    };
    let decoder = map.layer.starts_with("decoder");
    let queries = if map.layer.starts_with("pool") {
        vec!["pool".to_string()]
    } else if decoder {
        take(&p.output_tokens, sq)
    } else {
        take(&p.input_tokens, sq)
    };
    let keys = if decoder && map.layer.ends_with("self_attn") {
        take(&p.output_tokens, sk)
    } else {
        take(&p.input_tokens, sk)
    };
    (queries, keys)
}

/// One head's `[queries, keys]` weights cut from a `[1, H, Sq, Sk]` map.
fn head(map: &AttentionMap, h: usize, rows: usize, cols: usize) -> Vec<f32> {
    let [_, _, sq, sk] = map.shape;
    let mut out = Vec::with_capacity(rows * cols);
    for i in 0..rows.min(sq) {
        let start = (h * sq + i) * sk;
        out.extend_from_slice(&map.weights[start..start + cols.min(sk)]);
    }
    out
}

fn mean(heads: &[Vec<f32>]) -> Vec<f32> {
    let n = heads.len().max(1) as f32;
    (0..heads.first().map_or(0, Vec::len))
        .map(|i| heads.iter().map(|h| h[i]).sum::<f32>() / n)
        .collect()
}

/// Writes the report of `prediction` by `model` into `dir`.
///
/// # Errors
/// [`AttnError::Io`] when a file cannot be written.
pub fn write_report(
    prediction: &Prediction,
    model: &str,
    input: &str,
    dir: &Path,
) -> Result<ReportFiles, AttnError> {
    std::fs::create_dir_all(dir).map_err(|source| AttnError::Io {
        path: dir.display().to_string(),
        source,
    })?;
    let write = |name: &str, bytes: &[u8]| write_atomic(&dir.join(name), bytes);
    let mut stats = Vec::new();
    let mut similarity = Vec::new();
    let mut overview = Vec::new();
    let mut encoder_layers = Vec::new();
    let mut page = PageData {
        model: model.to_string(),
        input: input.to_string(),
        layers: Vec::new(),
        stats: Vec::new(),
        images: Vec::new(),
    };
    for map in &prediction.attention {
        let (queries, keys) = axes(map, prediction);
        let heads: Vec<Vec<f32>> = (0..map.shape[1])
            .map(|h| head(map, h, queries.len(), keys.len()))
            .collect();
        let mut tiles = Vec::new();
        for (h, w) in heads.iter().enumerate() {
            let title = format!("{model} · {} · head {h}", map.layer);
            let hm = Heatmap::new(title, queries.clone(), keys.clone(), w.clone()).map_err(viz)?;
            write(
                &format!("{}.head{h}.png", map.layer),
                &render_png(&hm).map_err(viz)?,
            )?;
            write(
                &format!("{}.head{h}.svg", map.layer),
                render_svg(&hm).map_err(viz)?.as_bytes(),
            )?;
            if w.iter().any(|&x| x > 0.0) {
                // over every key the layer has, so that weight on padding shows
                let full = head(map, h, queries.len(), map.shape[3]);
                if let Ok(s) = head_stats(&full, queries.len(), map.shape[3], keys.len()) {
                    stats.push((map.layer.clone(), h, s));
                }
            }
            tiles.push(hm);
        }
        if heads.len() > 1 {
            let matrix = heads
                .iter()
                .map(|a| {
                    heads
                        .iter()
                        .map(|b| head_similarity(a, b, keys.len()).unwrap_or(f64::NAN))
                        .collect()
                })
                .collect();
            similarity.push(LayerSimilarity {
                layer: map.layer.clone(),
                matrix,
            });
        }
        write(
            &format!("{}.png", map.layer),
            &render_grid_png(&tiles, 4, &format!("{model} · {}", map.layer)).map_err(viz)?,
        )?;
        let averaged = mean(&heads);
        overview.push(
            Heatmap::new(
                format!("{} (mean of heads)", map.layer),
                queries.clone(),
                keys.clone(),
                averaged.clone(),
            )
            .map_err(viz)?,
        );
        if map.layer.starts_with("encoder") && queries.len() == keys.len() {
            encoder_layers.push(averaged.clone());
        }
        page.images.push(PageImage::new(
            format!("{}.png", map.layer),
            format!("{}, every head", map.layer),
        ));
        page.layers.push(PageLayer {
            name: map.layer.clone(),
            queries: queries.clone(),
            keys: keys.clone(),
            heads,
        });
    }
    if !overview.is_empty() {
        write(
            "overview.png",
            &render_grid_png(
                &overview,
                3,
                &format!("{model}: every layer, heads averaged"),
            )
            .map_err(viz)?,
        )?;
        page.images.insert(
            0,
            PageImage::new("overview.png", "every layer, heads averaged"),
        );
    }
    if let Some(cross) = overview
        .iter()
        .rev()
        .find(|m| m.title.contains("cross_attn") || m.title.starts_with("decoder.attention"))
    {
        let hm = Heatmap {
            title: format!("{model}: source → target alignment"),
            ..cross.clone()
        };
        write("alignment.png", &render_png(&hm).map_err(viz)?)?;
        write("alignment.svg", render_svg(&hm).map_err(viz)?.as_bytes())?;
        page.images.push(PageImage::new(
            "alignment.png",
            "source–target alignment (the last cross-attention, heads averaged)",
        ));
    }
    let class_token = class_token_maps(prediction, model).map_err(viz)?;
    if let Some(last) = class_token.last() {
        write(
            "class-token.png",
            &render_grid_png(
                &class_token,
                4,
                &format!("{model}: which patches the class token reads, layer by layer"),
            )
            .map_err(viz)?,
        )?;
        write("class-token.svg", render_svg(last).map_err(viz)?.as_bytes())?;
        page.images.push(PageImage::new(
            "class-token.png",
            "What the class token reads: each layer's attention from the class token to every \
             patch, heads averaged, laid out as the image",
        ));
    }
    if !encoder_layers.is_empty() {
        let size = prediction
            .input_tokens
            .len()
            .min((encoder_layers[0].len() as f64).sqrt() as usize);
        if size * size == encoder_layers[0].len() {
            let r = rollout(&encoder_layers, size).map_err(viz)?;
            let tokens: Vec<String> = prediction.input_tokens.iter().take(size).cloned().collect();
            let hm = Heatmap::new(
                format!("{model}: attention rollout"),
                tokens.clone(),
                tokens,
                r,
            )
            .map_err(viz)?;
            write("rollout.png", &render_png(&hm).map_err(viz)?)?;
            page.images.push(PageImage::new(
                "rollout.png",
                "attention rollout over the encoder's layers",
            ));
        }
    }
    let rows: Vec<(String, HeadStats)> = stats
        .iter()
        .map(|(l, h, s)| (format!("{l} h{h}"), *s))
        .collect();
    let table = stats_table(&rows) + &similarity_table(&similarity);
    let json = serde_json::json!({ "heads": &stats, "similarity": &similarity });
    write(
        "stats.json",
        serde_json::to_string_pretty(&json)
            .unwrap_or_default()
            .as_bytes(),
    )?;
    page.stats = stats
        .iter()
        .map(|(layer, head, stats)| PageStats {
            layer: layer.clone(),
            head: *head,
            stats: *stats,
        })
        .collect();
    write("index.html", attention_page(&page).as_bytes())?;
    Ok(ReportFiles {
        dir: dir.to_path_buf(),
        stats,
        similarity,
        table,
    })
}

/// For an image model with a class token, one heatmap per encoder layer: the class token's
/// attention to each patch (heads averaged), laid out as the patch grid.
fn class_token_maps(p: &Prediction, model: &str) -> Result<Vec<Heatmap>, super::VizError> {
    let Some([rows, cols]) = p.patch_grid else {
        return Ok(Vec::new());
    };
    if p.input_tokens.first().map(String::as_str) != Some("<cls>") {
        return Ok(Vec::new());
    }
    let mut out = Vec::new();
    for map in p
        .attention
        .iter()
        .filter(|m| m.layer.starts_with("encoder"))
    {
        let [_, heads, queries, keys] = map.shape;
        if keys != rows * cols + 1 || queries == 0 {
            continue;
        }
        // row 0 (the class token's query) of every head, keys after the class token
        let read: Vec<f32> = (1..keys)
            .map(|j| {
                (0..heads)
                    .map(|h| map.weights[h * queries * keys + j])
                    .sum::<f32>()
                    / heads.max(1) as f32
            })
            .collect();
        out.push(Heatmap::new(
            format!("{model} · {}: class token → patches", map.layer),
            (0..rows).map(|r| format!("row {r}")).collect(),
            (0..cols).map(|c| format!("col {c}")).collect(),
            read,
        )?);
    }
    Ok(out)
}
