//! The range test's suggestions against fastai's own `minimum` and `valley` on the same
//! smoothed losses (fixture by tools/gen_lr_finder_fixtures.py).

use attn_runtime::train::{minimum, valley, LrPoint};
use serde_json::Value;

#[test]
fn the_suggestions_are_fastais() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/lr_finder/suggestions.json"
    );
    let fixture: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let curves = fixture["curves"].as_array().unwrap();
    assert_eq!(curves.len(), 3);
    let numbers = |v: &Value| -> Vec<f64> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_f64().unwrap())
            .collect()
    };
    for c in curves {
        let (lrs, losses, smoothed) = (
            numbers(&c["lrs"]),
            numbers(&c["losses"]),
            numbers(&c["smoothed"]),
        );
        let points: Vec<LrPoint> = (0..lrs.len())
            .map(|i| LrPoint {
                lr: lrs[i],
                loss: losses[i],
                smoothed: smoothed[i],
            })
            .collect();
        let steps = c["num_it"].as_u64().unwrap() as usize;
        for (rule, got) in [
            ("minimum", minimum(&points, steps)),
            ("valley", valley(&points, steps)),
        ] {
            let want = c[rule].as_f64().unwrap();
            let got = got.unwrap();
            // fastai hands the rates over as float32
            assert!(
                (got / want - 1.0).abs() < 1e-6,
                "{} {rule}: {got:e} vs fastai's {want:e}",
                c["name"]
            );
        }
    }
    // on the noisy curve the two rules differ: the test tells them apart
    assert_ne!(curves[1]["minimum"], curves[1]["valley"]);
    // nothing left once the ends are cut off
    let few: Vec<LrPoint> = (0..14)
        .map(|i| LrPoint {
            lr: f64::from(i),
            loss: 1.0,
            smoothed: 1.0,
        })
        .collect();
    assert_eq!(valley(&few, 100), None);
    assert_eq!(minimum(&few, 100), None);
}
