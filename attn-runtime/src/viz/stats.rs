//! Per-head interpretation statistics of attention matrices.
//!
//! A head's weights are a `[queries, keys]` row-major matrix `w`. Every statistic first turns
//! each query row `i` into a distribution `p[i][j] = w[i][j] / Σ_j w[i][j]` (softmax rows already
//! sum to 1, so this changes nothing for them), computes a per-row value, and averages it over
//! all `queries` rows with equal weight. Weights must be finite and non-negative, and every row
//! must have a positive sum ([`VizError::ZeroRow`] otherwise). Indices are token positions:
//! query `i` and key `j` are compared as numbers, so for cross-attention the "diagonal" is simply
//! `j == i`.

use serde::{Deserialize, Serialize};

use super::error::{check_len, check_weights, VizError};

/// Interpretation statistics of one attention head, each averaged over query rows.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct HeadStats {
    /// Mean over rows of the entropy in nats `-Σ_j p[i][j] ln p[i][j]`, over all keys, with
    /// `0 ln 0 = 0`: 0 for one-hot rows, `ln(keys)` for uniform ones.
    pub entropy: f64,
    /// Mean over rows of the attention-weighted distance `Σ_j p[i][j] |i - j|`, in tokens.
    pub mean_distance: f64,
    /// Mean over rows of `p[i][i]`: the share of attention a token pays itself (rows with
    /// `i >= keys` contribute 0).
    pub diagonal: f64,
    /// Mean over rows of `p[i][i - 1]`: the share on the previous token. Row 0 has none and
    /// contributes 0, so a perfect previous-token head scores `(queries - 1) / queries`.
    pub previous_token: f64,
    /// Mean over rows of `p[i][0]`: the share on the first token (often a "sink" such as BOS).
    pub first_token: f64,
    /// Mean over rows of `Σ_{j >= valid_keys} p[i][j]`: the share on padding keys.
    pub padding: f64,
}

/// Statistics of one head's `[queries, keys]` row-major `weights`, where keys `valid_keys..keys`
/// are padding.
///
/// Each query row `i` is first normalised to a distribution `p[i][j] = w[i][j] / Σ_j w[i][j]`
/// (a no-op for softmax rows); each statistic of [`HeadStats`] is a per-row value averaged over
/// all `queries` rows with equal weight. Query `i` and key `j` are compared as token positions,
/// so for cross-attention the "diagonal" is simply `j == i`. Weights must be finite and
/// non-negative and every row must have a positive sum ([`VizError::ZeroRow`] otherwise);
/// `valid_keys <= keys`.
pub fn head_stats(
    weights: &[f32],
    queries: usize,
    keys: usize,
    valid_keys: usize,
) -> Result<HeadStats, VizError> {
    let rows = rows(weights, queries, keys, "weights")?;
    if valid_keys > keys {
        return Err(VizError::InvalidArgument {
            name: "valid_keys",
            value: valid_keys.to_string(),
            requirement: "must be at most the number of keys",
        });
    }
    let mut sum = [0.0f64; 6];
    for (i, p) in rows.iter().enumerate() {
        let entropy: f64 = p.iter().filter(|&&x| x > 0.0).map(|&x| -x * x.ln()).sum();
        let distance: f64 = p
            .iter()
            .enumerate()
            .map(|(j, &x)| x * i.abs_diff(j) as f64)
            .sum();
        let diagonal = p.get(i).copied().unwrap_or(0.0);
        let previous = i
            .checked_sub(1)
            .and_then(|k| p.get(k))
            .copied()
            .unwrap_or(0.0);
        let padding: f64 = p[valid_keys..].iter().sum();
        for (s, v) in sum
            .iter_mut()
            .zip([entropy, distance, diagonal, previous, p[0], padding])
        {
            *s += v;
        }
    }
    let n = queries as f64;
    Ok(HeadStats {
        entropy: sum[0] / n,
        mean_distance: sum[1] / n,
        diagonal: sum[2] / n,
        previous_token: sum[3] / n,
        first_token: sum[4] / n,
        padding: sum[5] / n,
    })
}

/// How alike two heads attend: the mean over query rows of `1 - JSD(p_a[i], p_b[i])`, where JSD
/// is the Jensen–Shannon divergence in bits, `JSD(P, Q) = ½ KL(P ‖ M) + ½ KL(Q ‖ M)` with
/// `M = (P + Q) / 2` and `KL` using `log2` (`0 log 0 = 0`).
///
/// Rows are normalised as in [`head_stats`]. JSD in bits lies in `[0, 1]`, so the result does
/// too: 1 for heads with identical row distributions, 0 for heads whose rows share no key. It is
/// symmetric. `a` and `b` are `[queries, keys]` row-major with the same shape; `keys` (which the
/// flat slices cannot tell) gives the row length.
pub fn head_similarity(a: &[f32], b: &[f32], keys: usize) -> Result<f64, VizError> {
    check_len("b", a.len(), b.len())?;
    if keys == 0 {
        return Err(VizError::Empty {
            what: "keys".into(),
        });
    }
    if !a.len().is_multiple_of(keys) {
        return Err(VizError::SizeMismatch {
            what: "a (not a whole number of rows of `keys`)".into(),
            expected: (a.len() / keys + 1) * keys,
            got: a.len(),
        });
    }
    let queries = a.len() / keys;
    let (pa, pb) = (rows(a, queries, keys, "a")?, rows(b, queries, keys, "b")?);
    let total: f64 = pa.iter().zip(&pb).map(|(p, q)| 1.0 - jsd_bits(p, q)).sum();
    Ok(total / queries as f64)
}

/// The Jensen–Shannon divergence in bits of two distributions over the same support.
fn jsd_bits(p: &[f64], q: &[f64]) -> f64 {
    let half_kl = |x: f64, m: f64| {
        if x > 0.0 {
            0.5 * x * (x / m).log2()
        } else {
            0.0
        }
    };
    let d: f64 = p
        .iter()
        .zip(q)
        .map(|(&x, &y)| {
            let m = 0.5 * (x + y);
            half_kl(x, m) + half_kl(y, m)
        })
        .sum();
    d.clamp(0.0, 1.0)
}

/// The rows of `weights` as distributions, after checking shape and values.
fn rows(
    weights: &[f32],
    queries: usize,
    keys: usize,
    what: &str,
) -> Result<Vec<Vec<f64>>, VizError> {
    if queries == 0 || keys == 0 {
        return Err(VizError::Empty {
            what: format!("{what} (queries x keys)"),
        });
    }
    let expected = queries
        .checked_mul(keys)
        .ok_or_else(|| VizError::InvalidArgument {
            name: "queries * keys",
            value: format!("{queries} * {keys}"),
            requirement: "must fit in usize",
        })?;
    check_len(what, expected, weights.len())?;
    check_weights(weights, what)?;
    weights
        .chunks(keys)
        .enumerate()
        .map(|(row, w)| {
            let sum: f64 = w.iter().map(|&x| f64::from(x)).sum();
            if sum > 0.0 {
                Ok(w.iter().map(|&x| f64::from(x) / sum).collect())
            } else {
                Err(VizError::ZeroRow {
                    what: what.to_string(),
                    row,
                })
            }
        })
        .collect()
}

/// A fixed-width text table of named head statistics, one head per line under a header, numbers
/// with four decimals, e.g.
///
/// ```text
/// head      entropy  distance  diagonal  previous     first   padding
/// L0.H0      1.3863    1.2500    0.2500    0.1875    0.2500    0.0000
/// ```
pub fn stats_table(stats: &[(String, HeadStats)]) -> String {
    let clean = |s: &str| -> String {
        s.chars()
            .map(|c| if c.is_control() { '?' } else { c })
            .collect()
    };
    let names: Vec<String> = stats.iter().map(|(n, _)| clean(n)).collect();
    let w = names
        .iter()
        .map(|n| n.chars().count())
        .max()
        .unwrap_or(0)
        .max(4);
    let mut out = format!(
        "{:<w$} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9}\n",
        "head", "entropy", "distance", "diagonal", "previous", "first", "padding"
    );
    for (name, (_, s)) in names.iter().zip(stats) {
        out.push_str(&format!(
            "{name:<w$} {:>9.4} {:>9.4} {:>9.4} {:>9.4} {:>9.4} {:>9.4}\n",
            s.entropy, s.mean_distance, s.diagonal, s.previous_token, s.first_token, s.padding
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_are_normalised_and_checked() {
        // Unnormalised rows give the same statistics as normalised ones.
        let a = head_stats(&[2.0, 2.0, 1.0, 3.0], 2, 2, 2).unwrap();
        let b = head_stats(&[0.5, 0.5, 0.25, 0.75], 2, 2, 2).unwrap();
        assert!((a.entropy - b.entropy).abs() < 1e-12 && (a.diagonal - b.diagonal).abs() < 1e-12);
        let err = head_stats(&[1.0, 0.0, 0.0, 0.0], 2, 2, 2).unwrap_err();
        assert!(matches!(err, VizError::ZeroRow { row: 1, .. }));
        assert!(matches!(
            head_stats(&[1.0, -1.0], 1, 2, 2),
            Err(VizError::Negative { .. })
        ));
        assert!(matches!(
            head_stats(&[1.0], 1, 1, 2),
            Err(VizError::InvalidArgument { .. })
        ));
        assert!(matches!(
            head_stats(&[], 0, 1, 0),
            Err(VizError::Empty { .. })
        ));
    }

    #[test]
    fn disjoint_rows_have_similarity_zero() {
        let s = head_similarity(&[1.0, 0.0], &[0.0, 1.0], 2).unwrap();
        assert!(s.abs() < 1e-12, "{s}");
        assert!(head_similarity(&[1.0, 0.0, 1.0], &[1.0, 0.0, 1.0], 2).is_err());
        assert!(head_similarity(&[1.0, 0.0], &[1.0], 2).is_err());
    }

    #[test]
    fn table_is_aligned() {
        let s = head_stats(&[1.0, 0.0, 0.0, 1.0], 2, 2, 2).unwrap();
        let t = stats_table(&[("a".into(), s), ("long-name\n".into(), s)]);
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(lines.len(), 3);
        assert!(lines
            .iter()
            .all(|l| l.chars().count() == lines[0].chars().count()));
        assert!(lines[2].starts_with("long-name?"));
    }
}
