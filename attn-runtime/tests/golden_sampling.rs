//! Sampling against the reference: temperature, top-k and top-p filtering of fixed logits equal
//! Hugging Face's logits warpers (fixtures from `tools/gen_sampling_fixtures.py`), and draws that
//! follow the warped distribution, the same for the same seed.

use attn_runtime::infer::{softmax, Decoding, Sampler, Sampling};
use attn_runtime::prelude::AttnError;
use serde_json::Value;

fn cases() -> Vec<Value> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/sampling/warpers.json"
    );
    let json: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    json["cases"].as_array().unwrap().clone()
}

fn sampling(case: &Value) -> Sampling {
    Sampling {
        temperature: case["temperature"].as_f64().unwrap_or(1.0),
        top_k: case["top_k"].as_u64().map(|k| k as usize),
        top_p: case["top_p"].as_f64(),
        seed: 0,
    }
}

#[test]
fn warped_logits_equal_the_reference_warpers() {
    let cases = cases();
    assert!(cases.len() > 200, "{}", cases.len());
    let mut filtered = 0;
    for case in &cases {
        let name = case["name"].as_str().unwrap();
        let logits: Vec<f32> = case["logits"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap() as f32)
            .collect();
        let got = sampling(case).warp(&logits);
        let want = case["warped"].as_array().unwrap();
        assert_eq!(got.len(), want.len(), "{name}");
        for (i, (g, w)) in got.iter().zip(want).enumerate() {
            match w.as_f64() {
                // removed by the reference: removed here
                None => assert_eq!(*g, f32::NEG_INFINITY, "{name}: token {i} should be removed"),
                Some(w) => assert!(
                    (f64::from(*g) - w).abs() <= 1e-6 * w.abs().max(1.0),
                    "{name}: token {i}: {g} vs {w}"
                ),
            }
        }
        filtered += usize::from(want.iter().any(Value::is_null));
        let probs = softmax(&got);
        for (p, w) in probs.iter().zip(case["probs"].as_array().unwrap()) {
            assert!((p - w.as_f64().unwrap()).abs() < 1e-6, "{name}: {p} vs {w}");
        }
    }
    assert!(filtered > 100, "the cases filter tokens: {filtered}");
}

#[test]
fn draws_follow_the_warped_distribution_and_repeat_with_the_seed() {
    let logits = [2.0f32, 1.0, 0.5, 0.0, -1.0, -3.0];
    let s = Sampling {
        temperature: 0.8,
        top_k: Some(4),
        top_p: Some(0.9),
        seed: 11,
    };
    let probs = softmax(&s.warp(&logits));
    let n = 40_000;
    let draw = |seed| {
        let mut sampler = Sampler::new(Decoding::Sample(Sampling { seed, ..s })).unwrap();
        (0..n)
            .map(|_| sampler.next(&logits).unwrap())
            .collect::<Vec<_>>()
    };
    let a = draw(11);
    assert_eq!(a, draw(11), "the same seed gives the same draws");
    assert_ne!(a, draw(12));
    let mut counts = vec![0usize; logits.len()];
    for &t in &a {
        counts[t] += 1;
    }
    for (i, (&c, &p)) in counts.iter().zip(&probs).enumerate() {
        let expected = p * n as f64;
        // five standard deviations of a binomial count
        let sd = (n as f64 * p * (1.0 - p)).sqrt();
        assert!(
            (c as f64 - expected).abs() <= 5.0 * sd + 1e-9,
            "token {i}: {c} draws, {expected:.0} expected"
        );
        if p == 0.0 {
            assert_eq!(c, 0, "token {i} was filtered out");
        }
    }
    assert!(probs.iter().filter(|&&p| p == 0.0).count() >= 2);
}

#[test]
fn greedy_is_the_arg_max_and_bad_settings_or_logits_are_refused() {
    let mut greedy = Sampler::new(Decoding::Greedy).unwrap();
    assert_eq!(greedy.next(&[0.1, 3.0, 3.0, -1.0]).unwrap(), 1);
    for bad in [
        Sampling {
            temperature: 0.0,
            ..Sampling::default()
        },
        Sampling {
            temperature: f64::NAN,
            ..Sampling::default()
        },
        Sampling {
            top_k: Some(0),
            ..Sampling::default()
        },
        Sampling {
            top_p: Some(0.0),
            ..Sampling::default()
        },
        Sampling {
            top_p: Some(1.5),
            ..Sampling::default()
        },
    ] {
        assert!(
            matches!(
                Sampler::new(Decoding::Sample(bad)),
                Err(AttnError::InvalidHyperParameter { .. })
            ),
            "{bad:?}"
        );
    }
    let mut s = Sampler::new(Decoding::Sample(Sampling::default())).unwrap();
    assert!(matches!(
        s.next(&[0.0, f32::NAN]),
        Err(AttnError::NonFinite { .. })
    ));
}
