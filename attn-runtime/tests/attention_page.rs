//! The attention report's page in a real browser: headless Chromium loads the page, a scripted
//! hover (the page's `#selftest`) shades the tokens by the weights of the hovered row and
//! column, a click sorts the statistics table, and no script error is reported.
//!
//! Needs a headless Chromium (`chromium` from the distribution's packages, or `ATTN_BROWSER`):
//! `.ci/run` installs it and runs this test with `--ignored`.

use std::path::Path;
use std::process::Command;

use attn_runtime::viz::{attention_page, head_stats, PageData, PageImage, PageLayer, PageStats};

/// A browser: `ATTN_BROWSER`, else the first of Chromium's usual names on the `PATH`.
fn browser() -> String {
    if let Ok(b) = std::env::var("ATTN_BROWSER") {
        return b;
    }
    for name in [
        "chromium",
        "chromium-browser",
        "google-chrome",
        "google-chrome-stable",
    ] {
        let found = Command::new("sh")
            .args(["-c", &format!("command -v {name}")])
            .output()
            .is_ok_and(|o| o.status.success());
        if found {
            return name.to_string();
        }
    }
    panic!(
        "no headless browser: install Chromium (`apt-get install chromium`) or set ATTN_BROWSER \
         to one; `.ci/run` does"
    );
}

/// The DOM after the page's scripts ran, as Chromium serialises it.
fn dump_dom(page: &Path) -> (String, String) {
    let out = Command::new(browser())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--enable-logging=stderr",
            "--v=0",
            "--dump-dom",
        ])
        .arg(format!("file://{}#selftest", page.display()))
        .output()
        .expect("the browser runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The text of the element `<pre id="{id}" ...>` in `dom`, unescaped.
fn pre(dom: &str, id: &str) -> String {
    let start = dom.find(&format!("<pre id=\"{id}\"")).expect(id);
    let open = start + dom[start..].find('>').unwrap() + 1;
    let close = open + dom[open..].find("</pre>").unwrap();
    dom[open..close]
        .replace("&quot;", "\"")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

#[test]
#[ignore = "needs a headless Chromium: .ci/run installs it and runs the ignored browser tests"]
fn hovering_a_token_shades_the_other_side_by_its_weights_in_a_real_browser() {
    // two heads over three tokens, one of them a closing script tag that must stay text
    let tokens: Vec<String> = ["<bos>", "</script>", "cat"].map(String::from).to_vec();
    let head0 = vec![0.7, 0.2, 0.1, 0.3, 0.3, 0.4, 0.05, 0.15, 0.8];
    let head1 = vec![0.1, 0.1, 0.8, 0.6, 0.2, 0.2, 0.25, 0.25, 0.5];
    let stats: Vec<PageStats> = [&head0, &head1]
        .iter()
        .enumerate()
        .map(|(h, w)| PageStats {
            layer: "encoder.layers.0.self_attn".into(),
            head: h,
            stats: head_stats(w, 3, 3, 3).unwrap(),
        })
        .collect();
    let data = PageData {
        model: "tiny".into(),
        input: "</script> cat".into(),
        layers: vec![PageLayer {
            name: "encoder.layers.0.self_attn".into(),
            queries: tokens.clone(),
            keys: tokens,
            heads: vec![head0.clone(), head1],
        }],
        stats: stats.clone(),
        images: vec![PageImage::new("overview.png", "every layer")],
    };
    let dir = tempfile::tempdir().unwrap();
    let page = dir.path().join("index.html");
    std::fs::write(&page, attention_page(&data)).unwrap();
    let (dom, log) = dump_dom(&page);

    assert_eq!(pre(&dom, "errors"), "", "script errors: {dom}");
    assert!(!log.contains("Uncaught"), "console: {log}");
    let got: serde_json::Value = serde_json::from_str(&pre(&dom, "selftest")).expect(&dom);
    let numbers = |v: &serde_json::Value| -> Vec<f64> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_f64().unwrap())
            .collect()
    };
    // hovering query 0 shades each key j by head 0's weight[0][j] ...
    let from_query0 = numbers(&got["fromQuery0"]);
    for (g, w) in from_query0.iter().zip(&head0[..3]) {
        assert!((g - f64::from(*w)).abs() < 1e-6, "{from_query0:?}");
    }
    // ... and hovering key 0 shades each query i by weight[i][0]
    let to_key0 = numbers(&got["toKey0"]);
    for (g, w) in to_key0.iter().zip([head0[0], head0[3], head0[6]]) {
        assert!((g - f64::from(w)).abs() < 1e-6, "{to_key0:?}");
    }
    // a click on the entropy column sorts the heads by it, largest first
    let mut want: Vec<f64> = stats.iter().map(|s| s.stats.entropy).collect();
    want.sort_by(|a, b| b.total_cmp(a));
    let entropies = numbers(&got["entropies"]);
    for (g, w) in entropies.iter().zip(&want) {
        assert!((g - w).abs() < 1e-3, "{entropies:?} vs {want:?}");
    }
    assert_eq!(entropies.len(), 2);
    // the token that looks like a closing tag is shown as text
    assert!(dom.contains("&lt;/script&gt;"), "{dom}");
}
