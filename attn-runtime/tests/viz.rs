//! Tests of `attn_runtime::viz`: rendered pictures decoded and checked pixel by pixel against
//! the promised layout, SVG structure and escaping, statistics and rollout on hand-computed
//! matrices, and errors on bad input.
//!
//! Set `ATTN_VIZ_DUMP=DIR` to also write the rendered pictures to `DIR` for a look.

use attn_runtime::viz::*;

fn labels(prefix: &str, n: usize) -> Vec<String> {
    (0..n).map(|i| format!("{prefix}{i}")).collect()
}

/// Decodes a PNG into (width, height, RGB bytes), checking it is 8-bit RGB.
fn decode(bytes: &[u8]) -> (u32, u32, Vec<u8>) {
    let decoder = png::Decoder::new(bytes);
    let mut reader = decoder.read_info().expect("PNG header");
    let mut buf = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buf).expect("PNG data");
    assert_eq!(info.color_type, png::ColorType::Rgb);
    assert_eq!(info.bit_depth, png::BitDepth::Eight);
    buf.truncate(info.buffer_size());
    (info.width, info.height, buf)
}

fn pixel(img: &(u32, u32, Vec<u8>), x: u32, y: u32) -> Rgb {
    let at = ((y * img.0 + x) * 3) as usize;
    [img.2[at], img.2[at + 1], img.2[at + 2]]
}

/// The texts of an SVG's `<text>` elements, in document order.
fn texts(svg: &str) -> Vec<String> {
    svg.split("<text")
        .skip(1)
        .filter_map(|t| {
            let body = &t[t.find('>')? + 1..t.find("</text>")?];
            Some(body.trim().to_string())
        })
        .collect()
}

/// How many `cell x cell` rectangles (heat-map cells) an SVG holds.
fn cells(svg: &str, cell: u32) -> usize {
    svg.matches(&format!("width=\"{cell}\" height=\"{cell}\""))
        .count()
}

fn dump(name: &str, bytes: &[u8]) {
    if let Some(dir) = std::env::var_os("ATTN_VIZ_DUMP") {
        std::fs::write(std::path::Path::new(&dir).join(name), bytes).expect("dump");
    }
}

/// 4 queries x 5 keys, one-hot at the given (query, key) cells.
fn one_hot(hot: &[(usize, usize)]) -> Heatmap {
    let mut w = vec![0.0; 20];
    for &(i, j) in hot {
        w[i * 5 + j] = 1.0;
    }
    Heatmap::new("one-hot", labels("q", 4), labels("k", 5), w).unwrap()
}

#[test]
fn png_decodes_at_the_layout_size() {
    let map = one_hot(&[(0, 0)]);
    let bytes = render_png(&map).unwrap();
    let l = layout(&map);
    let img = decode(&bytes);
    assert_eq!((img.0, img.1), (l.width, l.height));
    assert!(l.left + 5 * l.cell <= l.width && l.top + 4 * l.cell <= l.height);
    assert_eq!(bytes, render_png(&map).unwrap(), "same input, same bytes");
}

#[test]
fn one_hot_cells_take_the_colormap_ends() {
    let hot = [(0, 1), (1, 3), (2, 0), (3, 4)];
    let map = one_hot(&hot);
    let img = decode(&render_png(&map).unwrap());
    dump("one_hot.png", &render_png(&map).unwrap());
    let l = layout(&map);
    assert_eq!(viridis(1.0), VIRIDIS[VIRIDIS.len() - 1]);
    assert_eq!(viridis(0.0), VIRIDIS[0]);
    for i in 0..4 {
        for j in 0..5 {
            let (x, y) = (
                l.left + j * l.cell + l.cell / 2,
                l.top + i * l.cell + l.cell / 2,
            );
            let want = if hot.contains(&(i as usize, j as usize)) {
                viridis(1.0)
            } else {
                viridis(0.0)
            };
            assert_eq!(pixel(&img, x, y), want, "centre of cell ({i}, {j})");
            // The whole cell, corners included, has the colour.
            let (x0, y0) = (l.left + j * l.cell, l.top + i * l.cell);
            assert_eq!(pixel(&img, x0, y0), want);
            assert_eq!(pixel(&img, x0 + l.cell - 1, y0 + l.cell - 1), want);
        }
    }
    // Outside the matrix is not a cell colour: the corner is background.
    assert_eq!(pixel(&img, 0, 0), [255, 255, 255]);
}

#[test]
fn labels_title_and_colour_bar_draw_ink() {
    let map = one_hot(&[(0, 0)]);
    let img = decode(&render_png(&map).unwrap());
    let l = layout(&map);
    // Anti-aliased text: count the pixels at least as dark as mid-grey.
    let dark = |x0: u32, y0: u32, x1: u32, y1: u32| {
        (y0..y1)
            .flat_map(|y| (x0..x1).map(move |x| (x, y)))
            .filter(|&(x, y)| pixel(&img, x, y).iter().all(|&c| c < 0x70))
            .count()
            >= 4
    };
    assert!(dark(0, 0, l.width, 24), "title");
    assert!(dark(0, l.top, l.left, l.top + l.cell), "first query label");
    assert!(dark(l.left, 24, l.left + l.cell, l.top), "first key label");
    let right = l.left + 5 * l.cell;
    assert!(dark(right, l.top, l.width, l.height), "colour-bar ticks");
    // The colour bar's top row is the top colour, its bottom the bottom colour.
    let bar: Vec<Rgb> = (l.top..l.height)
        .map(|y| pixel(&img, right + 12 + 4, y))
        .collect();
    assert_eq!(bar[0], viridis(1.0));
    assert!(bar.contains(&viridis(0.0)));
}

#[test]
fn long_and_non_ascii_labels_render() {
    let queries = vec![
        "a-very-long-token-label".to_string(),
        "héllo → 世界".to_string(),
    ];
    let keys = vec!["<s>".to_string(), "\u{1F600}".to_string()];
    let map = Heatmap::new("ünïcode", queries, keys, vec![0.1, 0.9, 0.6, 0.4]).unwrap();
    let png = render_png(&map).unwrap();
    let img = decode(&png);
    assert_eq!((img.0, img.1), (layout(&map).width, layout(&map).height));
    dump("labels.png", &png);
    let svg = render_svg(&map).unwrap();
    let t = texts(&svg);
    assert!(
        t.iter().any(|s| s == "a-very-long\u{2026}"),
        "truncated with an ellipsis: {t:?}"
    );
    assert!(t.iter().any(|s| s == "héllo → 世界"));
    assert!(t.iter().any(|s| s == "ünïcode"));
    // Truncation bounds the left margin: a 100-char label takes the room of its 12-char cut.
    let mut longer = map.clone();
    longer.queries[0] = "x".repeat(100);
    let mut twelve = map.clone();
    twelve.queries[0] = "x".repeat(11) + "\u{2026}";
    assert_eq!(layout(&longer), layout(&twelve));
    let mut wider = map.clone();
    wider.queries[0] = "W".repeat(100);
    assert!(
        layout(&wider).left > layout(&longer).left,
        "a proportional font"
    );
}

#[test]
fn svg_has_one_rect_per_cell_and_escapes_labels() {
    let queries = vec!["a<b".to_string(), "c&d".to_string(), "e>f".to_string()];
    let keys = labels("k", 4);
    let map = Heatmap::new("x < y & z", queries, keys, vec![0.25; 12]).unwrap();
    let svg = render_svg(&map).unwrap();
    dump("escaped.svg", svg.as_bytes());
    assert!(svg.starts_with("<svg"));
    assert!(svg.trim_end().ends_with("</svg>"));
    assert!(svg.contains("font-family=\"sans-serif\""));
    let l = layout(&map);
    assert_eq!(cells(&svg, l.cell), 12);
    let t = texts(&svg);
    for label in [
        "a&lt;b",
        "c&amp;d",
        "e&gt;f",
        "k0",
        "k3",
        "x &lt; y &amp; z",
    ] {
        assert!(t.iter().any(|s| s == label), "{label}: {t:?}");
    }
    // The colour bar's ticks.
    for tick in ["0", "0.5", "1"] {
        assert!(t.iter().any(|s| s == tick), "colour-bar tick {tick}");
    }
    assert!(svg.contains("a&lt;b") && svg.contains("c&amp;d") && svg.contains("e&gt;f"));
    assert!(svg.contains("x &lt; y &amp; z"));
    assert!(!svg.contains("a<b") && !svg.contains("c&d") && !svg.contains("e>f"));
    // Every tag opened is closed or self-closed, and every `&` starts an entity.
    assert_eq!(svg.matches("<text").count(), svg.matches("</text>").count());
    assert_eq!(svg.matches("<g ").count(), svg.matches("</g>").count());
    for (k, _) in svg.match_indices('&') {
        let rest = &svg[k..];
        assert!(["&lt;", "&gt;", "&amp;", "&quot;", "&apos;"]
            .iter()
            .any(|e| rest.starts_with(e)));
    }
    assert_eq!(svg, render_svg(&map).unwrap());
    // Cells sit where the layout says.
    let want = format!(
        "<rect x=\"{}\" y=\"{}\"",
        l.left + 3 * l.cell,
        l.top + 2 * l.cell
    );
    assert!(svg.contains(&want));
}

#[test]
fn grids_tile_the_maps() {
    let maps: Vec<Heatmap> = (0..3).map(|h| one_hot(&[(h, h)])).collect();
    let bytes = render_grid_png(&maps, 2, "layer 0").unwrap();
    dump("grid.png", &bytes);
    let img = decode(&bytes);
    let g = grid_layout(&maps, 2, "layer 0").unwrap();
    assert_eq!((img.0, img.1), (g.width, g.height));
    assert_eq!((g.columns, g.rows), (2, 2));
    let l = layout(&maps[0]);
    for (k, _) in maps.iter().enumerate() {
        let (ox, oy) = g.origin(k);
        for d in 0..4u32 {
            let (x, y) = (ox + l.left + d * l.cell + 1, oy + l.top + d * l.cell + 1);
            let want = if d as usize == k {
                viridis(1.0)
            } else {
                viridis(0.0)
            };
            assert_eq!(pixel(&img, x, y), want, "map {k}, cell ({d}, {d})");
        }
    }
    let svg = render_grid_svg(&maps, 2, "layer 0").unwrap();
    dump("grid.svg", svg.as_bytes());
    assert!(svg.starts_with("<svg"));
    assert_eq!(cells(&svg, l.cell), 3 * 20);
    assert_eq!(texts(&svg).iter().filter(|s| *s == "one-hot").count(), 3);
    assert!(render_grid_png(&maps, 0, "").is_err());
    assert!(render_grid_svg(&[], 1, "").is_err());
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-6
}

#[test]
fn stats_of_a_uniform_head() {
    let s = head_stats(&[0.25; 16], 4, 4, 4).unwrap();
    assert!(close(s.entropy, 4f64.ln()));
    // Rows 0..4: mean |i - j| = 6/4, 4/4, 4/4, 6/4, averaging to 1.25.
    assert!(close(s.mean_distance, 1.25));
    assert!(close(s.diagonal, 0.25));
    // Rows 1..4 give 0.25 each, row 0 gives 0.
    assert!(close(s.previous_token, 0.75 / 4.0));
    assert!(close(s.first_token, 0.25));
    assert!(close(s.padding, 0.0));
}

#[test]
fn stats_of_identity_and_previous_token_heads() {
    let mut identity = vec![0.0; 25];
    let mut previous = vec![0.0; 25];
    for i in 0..5 {
        identity[i * 5 + i] = 1.0;
        previous[i * 5 + i.saturating_sub(1)] = 1.0;
    }
    let s = head_stats(&identity, 5, 5, 5).unwrap();
    assert_eq!(s.entropy, 0.0);
    assert!(close(s.diagonal, 1.0) && close(s.mean_distance, 0.0));
    assert!(close(s.previous_token, 0.0) && close(s.first_token, 0.2));
    let s = head_stats(&previous, 5, 5, 5).unwrap();
    assert_eq!(s.entropy, 0.0);
    // Rows 1..5 put everything on the previous token; row 0 attends to itself.
    assert!(close(s.previous_token, 4.0 / 5.0));
    assert!(close(s.diagonal, 1.0 / 5.0));
    assert!(close(s.mean_distance, 4.0 / 5.0));
    assert!(close(s.first_token, 2.0 / 5.0));
}

#[test]
fn stats_of_padding() {
    // Two queries over four keys, the last one padding.
    let w = [0.5, 0.2, 0.2, 0.1, 0.4, 0.3, 0.0, 0.3];
    let s = head_stats(&w, 2, 4, 3).unwrap();
    assert!(close(s.padding, (0.1 + 0.3) / 2.0));
    let h0 = -(0.5f64.ln() * 0.5 + 2.0 * 0.2 * 0.2f64.ln() + 0.1 * 0.1f64.ln());
    let h1 = -(0.4 * 0.4f64.ln() + 2.0 * 0.3 * 0.3f64.ln());
    assert!(close(s.entropy, (h0 + h1) / 2.0));
    // Row 0: 0.2 + 0.4 + 0.3; row 1: 0.4 + 0.0 + 0.6.
    assert!(close(s.mean_distance, (0.9 + 1.0) / 2.0));
    assert!(close(head_stats(&w, 2, 4, 0).unwrap().padding, 1.0));
    let table = stats_table(&[("L0.H0".into(), s), ("L0.H1".into(), s)]);
    assert!(table.starts_with("head ") && table.contains("padding"));
    assert!(table.contains("L0.H1") && table.contains("0.2000"));
    let json = serde_json::to_value(s).unwrap();
    assert!(close(json["padding"].as_f64().unwrap(), 0.2));
}

#[test]
fn similarity_of_heads() {
    let a = [0.7, 0.2, 0.1, 0.1, 0.1, 0.8];
    let b = [0.1, 0.3, 0.6, 0.3, 0.3, 0.4];
    assert!(close(head_similarity(&a, &a, 3).unwrap(), 1.0));
    let ab = head_similarity(&a, &b, 3).unwrap();
    assert!(ab < 1.0 && ab > 0.0);
    assert_eq!(ab, head_similarity(&b, &a, 3).unwrap());
    // One row, P = [1, 0], Q = [½, ½]: M = [¾, ¼], KL(P‖M) = log2(4/3),
    // KL(Q‖M) = ½ log2(2/3) + ½ log2(2), JSD = ½ (sum).
    let jsd = 0.5 * ((4.0f64 / 3.0).log2() + 0.5 * (2.0f64 / 3.0).log2() + 0.5);
    assert!(close(
        head_similarity(&[1.0, 0.0], &[0.5, 0.5], 2).unwrap(),
        1.0 - jsd
    ));
}

#[test]
fn rollout_of_identity_and_a_hand_computed_pair() {
    let mut eye = vec![0.0; 9];
    for i in 0..3 {
        eye[i * 3 + i] = 1.0;
    }
    assert_eq!(rollout(&[eye.clone(), eye.clone()], 3).unwrap(), eye);
    // A1 = rownorm(W1 + I) = [[1, 0], [¼, ¾]], A2 = rownorm(W2 + I) = [[¾, ¼], [0, 1]];
    // R = A2 · A1 = [[13/16, 3/16], [¼, ¾]].
    let w1 = vec![1.0, 0.0, 0.5, 0.5];
    let w2 = vec![0.5, 0.5, 0.0, 1.0];
    let r = rollout(&[w1.clone(), w2.clone()], 2).unwrap();
    let want = [0.8125, 0.1875, 0.25, 0.75];
    assert!(
        r.iter().zip(want).all(|(a, b)| (a - b).abs() < 1e-6),
        "{r:?}"
    );
    // The order matters: A1 · A2 differs.
    let swapped = rollout(&[w2, w1], 2).unwrap();
    assert!((swapped[0] - 0.75).abs() < 1e-6 && (swapped[3] - 0.8125).abs() < 1e-6);
}

#[test]
fn bad_input_is_an_error() {
    let err = Heatmap::new("t", labels("q", 2), labels("k", 2), vec![0.5; 3]).unwrap_err();
    assert!(matches!(err, VizError::SizeMismatch { .. }));
    let err = Heatmap::new("t", labels("q", 1), labels("k", 2), vec![0.5, f32::NAN]).unwrap_err();
    assert!(matches!(err, VizError::NonFinite { .. }));
    let bypassed = Heatmap {
        title: String::new(),
        queries: labels("q", 2),
        keys: labels("k", 2),
        weights: vec![0.0, f32::INFINITY, 0.0, 0.0],
    };
    assert!(render_png(&bypassed).is_err() && render_svg(&bypassed).is_err());
    assert!(render_grid_png(&[bypassed], 1, "").is_err());
    assert!(matches!(
        head_stats(&[0.5; 5], 2, 3, 3),
        Err(VizError::SizeMismatch { .. })
    ));
    assert!(matches!(
        head_stats(&[f32::NAN; 4], 2, 2, 2),
        Err(VizError::NonFinite { .. })
    ));
    assert!(head_stats(&[0.5; 4], 2, 2, 3).is_err());
    assert!(head_similarity(&[0.5; 4], &[0.5; 6], 2).is_err());
    assert!(head_similarity(&[0.5, f32::NAN], &[0.5; 2], 2).is_err());
    assert!(matches!(
        rollout(&[vec![0.5; 4]], 3),
        Err(VizError::SizeMismatch { .. })
    ));
    assert!(matches!(
        rollout(&[vec![f32::NAN; 4]], 2),
        Err(VizError::NonFinite { .. })
    ));
}

#[test]
fn every_printable_character_renders() {
    let ascii: String = (' '..='~').collect();
    let maps: Vec<Heatmap> = ascii
        .as_bytes()
        .chunks(32)
        .map(|c| {
            let title = String::from_utf8_lossy(c).into_owned();
            Heatmap::new(title, vec!["a".into()], vec!["b".into()], vec![0.5]).unwrap()
        })
        .collect();
    let bytes = render_grid_png(&maps, 1, "Font sheet").unwrap();
    dump("font.png", &bytes);
    let g = grid_layout(&maps, 1, "Font sheet").unwrap();
    assert_eq!(decode(&bytes).0, g.width);
    let svg = render_grid_svg(&maps, 1, "Font sheet").unwrap();
    assert!(svg.contains("&lt;=&gt;?") && svg.contains("[\\]^_"));
}
