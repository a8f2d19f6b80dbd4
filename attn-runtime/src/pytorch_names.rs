//! attn's parameter names and layouts ↔ those of the layers' PyTorch twins, both ways, from one
//! rule per layer kind: what `export --format pytorch` writes, what a twin trained in PyTorch
//! loads back through, and what [`LoadPytorch`] reads into any module built from our layers.
//!
//! | attn (dfdx names)                                   | PyTorch                                  |
//! |-----------------------------------------------------|------------------------------------------|
//! | `….q_proj.weight`, `k_proj`, `v_proj` (all `[M, M]`) | `….in_proj_weight` `[3M, M]`, rows q, k, v |
//! | the same with a key or value width ≠ `M`             | `….q_proj_weight`, `k_proj_weight`, `v_proj_weight` |
//! | `….q_proj.bias`, `k_proj.bias`, `v_proj.bias`        | `….in_proj_bias` `[3M]`                  |
//! | `….cross_attn.…` (decoder blocks)                    | `….multihead_attn.…`                     |
//! | `….ffn.linear1.…`, `….ffn.linear2.…` (blocks)        | `….linear1.…`, `….linear2.…`             |
//! | `….gamma`, `….beta` (layer norms)                    | `….weight`, `….bias`                     |
//! | `….weight_ih_l0` `[G, H, I]`, `bias_ih_l0` `[G, H]`  | `….weight_ih_l0` `[G·H, I]`, `[G·H]` (LSTM, GRU) |
//! | anything else (embeddings, linear layers, …)         | the same name and shape                  |
//!
//! **PyTorch equivalent**: the keys of `model.state_dict()` for `nn.MultiheadAttention`,
//! `nn.TransformerEncoderLayer`/`DecoderLayer`, `nn.TransformerEncoder`/`Decoder`,
//! `nn.LayerNorm`, `nn.LSTM`/`nn.GRU`, `nn.Embedding` and `nn.Linear` held under the same module
//! names as ours (`tools/attn_torch.py` builds such modules).

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;

use dfdx::nn::tensor_collection::TensorCollection;
use dfdx::prelude::{Device, Dtype};

use crate::error::AttnError;
use crate::state_dict::StateDict;
use crate::zoo::{load_params, param_shapes};

/// Where one of our tensors lives in the PyTorch state dict: rows `rows` (along the first axis)
/// of tensor `name`, whose whole shape is `shape`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PytorchPlace {
    /// The PyTorch name.
    pub name: String,
    /// Our tensor's rows within it.
    pub rows: Range<usize>,
    /// The PyTorch tensor's shape.
    pub shape: Vec<usize>,
}

/// The attention projections PyTorch fuses, in the order of their rows in `in_proj_*`.
const QKV: [&str; 3] = ["q_proj", "k_proj", "v_proj"];

/// Where our tensor `name` of shape `shape` goes; `shapes` holds every tensor of the model (for
/// the attention projections, fused only when all three are square).
pub fn pytorch_place(
    name: &str,
    shape: &[usize],
    shapes: &BTreeMap<String, Vec<usize>>,
) -> PytorchPlace {
    let mut parts: Vec<&str> = name.split('.').collect();
    let whole = |name: String, shape: Vec<usize>| PytorchPlace {
        name,
        rows: 0..shape.first().copied().unwrap_or(1),
        shape,
    };
    // decoder blocks' cross attention and the blocks' feed-forward layers
    for part in parts.iter_mut() {
        if *part == "cross_attn" {
            *part = "multihead_attn";
        }
    }
    if let Some(i) = parts
        .windows(2)
        .position(|w| w[0] == "ffn" && matches!(w[1], "linear1" | "linear2"))
    {
        parts.remove(i);
    }
    let n = parts.len();
    if n >= 2 {
        if let Some(k) = QKV.iter().position(|p| *p == parts[n - 2]) {
            let prefix = name
                .rsplitn(3, '.')
                .nth(2)
                .map(|p| format!("{p}."))
                .unwrap_or_default();
            let pt_prefix = parts[..n - 2]
                .iter()
                .map(|p| format!("{p}."))
                .collect::<String>();
            let rows = shape.first().copied().unwrap_or(1);
            let fused = QKV.iter().all(|p| {
                shapes
                    .get(&format!("{prefix}{p}.weight"))
                    .is_some_and(|s| s.len() == 2 && s[0] == s[1] && s[0] == rows)
            });
            match (parts[n - 1], fused) {
                ("weight", true) => {
                    return PytorchPlace {
                        name: format!("{pt_prefix}in_proj_weight"),
                        rows: k * rows..(k + 1) * rows,
                        shape: vec![3 * rows, shape.get(1).copied().unwrap_or(1)],
                    }
                }
                ("weight", false) => {
                    return whole(format!("{pt_prefix}{}_weight", QKV[k]), shape.to_vec())
                }
                ("bias", _) => {
                    return PytorchPlace {
                        name: format!("{pt_prefix}in_proj_bias"),
                        rows: k * rows..(k + 1) * rows,
                        shape: vec![3 * rows],
                    }
                }
                _ => {}
            }
        }
    }
    let last = parts[n - 1];
    let renamed = match last {
        "gamma" => Some("weight"),
        "beta" => Some("bias"),
        _ => None,
    };
    if let (Some(to), 1) = (renamed, shape.len()) {
        parts[n - 1] = to;
        return whole(parts.join("."), shape.to_vec());
    }
    // recurrent stacks: gates stacked along the first axis, as PyTorch fuses them
    if is_rnn_param(last) && shape.len() >= 2 {
        let mut flat = vec![shape[0] * shape[1]];
        flat.extend_from_slice(&shape[2..]);
        return whole(parts.join("."), flat);
    }
    whole(parts.join("."), shape.to_vec())
}

/// `weight_ih_l3`, `bias_hh_l0_reverse`, … (the names `nn.LSTM` and `nn.GRU` give).
fn is_rnn_param(last: &str) -> bool {
    ["weight_ih_l", "weight_hh_l", "bias_ih_l", "bias_hh_l"]
        .iter()
        .filter_map(|p| last.strip_prefix(p))
        .any(|rest| {
            let layer = rest.strip_suffix("_reverse").unwrap_or(rest);
            !layer.is_empty() && layer.bytes().all(|b| b.is_ascii_digit())
        })
}

fn shapes_of(params: &StateDict) -> Result<BTreeMap<String, Vec<usize>>, AttnError> {
    params
        .names()
        .map(|n| Ok((n.to_string(), params.get(n)?.shape.clone())))
        .collect()
}

/// Values in one row of a tensor of `shape`.
fn row_len(shape: &[usize]) -> usize {
    shape.iter().skip(1).product()
}

/// A PyTorch tensor being filled from our tensors: its shape, values, and how many of ours
/// filled each row.
struct Filling {
    shape: Vec<usize>,
    values: Vec<f64>,
    filled: Vec<u32>,
}

/// Our parameters under PyTorch's names and layouts (see the module table); the metadata is
/// kept.
///
/// # Errors
/// [`AttnError::StateDict`] when two of our tensors would fill the same PyTorch rows, or leave
/// some unfilled (a model whose names do not follow our layers').
pub fn to_pytorch_names(params: &StateDict) -> Result<StateDict, AttnError> {
    let shapes = shapes_of(params)?;
    let mut out: BTreeMap<String, Filling> = BTreeMap::new();
    for (name, shape) in &shapes {
        let place = pytorch_place(name, shape, &shapes);
        let row = row_len(&place.shape);
        let entry = out.entry(place.name.clone()).or_insert_with(|| {
            let rows = place.shape.first().copied().unwrap_or(1);
            Filling {
                shape: place.shape.clone(),
                values: vec![0.0; rows * row],
                filled: vec![0; rows],
            }
        });
        if entry.shape != place.shape {
            return Err(AttnError::StateDict {
                reason: format!(
                    "`{name}` would go into `{}` as {:?}, which another tensor made {:?}",
                    place.name, place.shape, entry.shape
                ),
            });
        }
        let values = &params.get(name)?.values;
        entry.values[place.rows.start * row..place.rows.end * row].copy_from_slice(values);
        for filled in &mut entry.filled[place.rows.clone()] {
            *filled += 1;
        }
    }
    let mut sd = StateDict::default();
    for (
        name,
        Filling {
            shape,
            values,
            filled,
        },
    ) in out
    {
        if filled.iter().any(|&f| f != 1) {
            return Err(AttnError::StateDict {
                reason: format!(
                    "the rows of PyTorch's `{name}` are not each filled by exactly one of our \
                     tensors; the model's names do not follow attn's layers"
                ),
            });
        }
        sd.insert(name, shape, values, false);
    }
    for (k, v) in params.metadata() {
        if k != crate::state_dict::CHECKSUM_KEY {
            sd.set_metadata(k.clone(), v.clone());
        }
    }
    Ok(sd)
}

/// A PyTorch state dict under our names and layouts, for a model whose parameters are `like`
/// (e.g. [`ZooModel::params`](crate::zoo::ZooModel::params)), ready for its `load`.
///
/// # Errors
/// [`AttnError::StateDict`] naming a tensor the model needs that `sd` lacks or has in another
/// shape, or a tensor of `sd` the model has no place for (as `load_state_dict(strict=True)`).
pub fn from_pytorch_names(sd: &StateDict, like: &StateDict) -> Result<StateDict, AttnError> {
    ours_from(sd, "", &shapes_of(like)?)
}

/// Our tensors named in `shapes`, from the tensors of `sd` named `prefix` + their PyTorch name;
/// every tensor of `sd` under `prefix` must be used.
fn ours_from(
    sd: &StateDict,
    prefix: &str,
    shapes: &BTreeMap<String, Vec<usize>>,
) -> Result<StateDict, AttnError> {
    let mut used = BTreeSet::new();
    let mut out = StateDict::default();
    for (name, shape) in shapes {
        let place = pytorch_place(name, shape, shapes);
        let pt_name = format!("{prefix}{}", place.name);
        let src = sd.get(&pt_name).map_err(|_| AttnError::StateDict {
            reason: format!("`{pt_name}` (the model's `{name}`) is missing"),
        })?;
        if src.shape != place.shape {
            return Err(AttnError::StateDict {
                reason: format!(
                    "`{pt_name}` has shape {:?}, the model's `{name}` needs {:?}",
                    src.shape, place.shape
                ),
            });
        }
        let row = row_len(&place.shape);
        let values = src.values[place.rows.start * row..place.rows.end * row].to_vec();
        out.insert(name.clone(), shape.clone(), values, false);
        used.insert(pt_name);
    }
    if let Some(extra) = sd
        .names()
        .find(|n| n.starts_with(prefix) && !used.contains(*n))
    {
        return Err(AttnError::StateDict {
            reason: format!(
                "`{extra}` is not a parameter of this model (its PyTorch names are those \
                 `export --format pytorch` writes for it)"
            ),
        });
    }
    Ok(out)
}

/// Loading any module built from attn's layers — an attention layer, a transformer block or
/// stack, a recurrent stack, a whole model — from a PyTorch state dict, through the names and
/// layouts of the module table (the same rules `export --format pytorch` writes by).
///
/// **PyTorch equivalent**: `module.load_state_dict({k[len(prefix):]: v for k, v in
/// sd.items() if k.startswith(prefix)})`, strict.
pub trait LoadPytorch<E: Dtype, D: Device<E>> {
    /// Loads every parameter of this module from the tensors of `sd` named `prefix` + their
    /// PyTorch name (`""` for a state dict of this module alone, `"layers.0."` for one block
    /// of a stack's); tensors outside `prefix` are not looked at.
    ///
    /// # Errors
    /// [`AttnError::StateDict`] naming a tensor the module needs that `sd` lacks or has in
    /// another shape, or a tensor under `prefix` the module has no place for (biases given to
    /// a module without them, say); the module is left as it was.
    fn load_pytorch_state_dict(&mut self, sd: &StateDict, prefix: &str) -> Result<(), AttnError>;
}

impl<M: TensorCollection<E, D> + Clone, E: Dtype, D: Device<E>> LoadPytorch<E, D> for M {
    fn load_pytorch_state_dict(&mut self, sd: &StateDict, prefix: &str) -> Result<(), AttnError> {
        let shapes = param_shapes(self)?.into_iter().collect();
        load_params(self, &ours_from(sd, prefix, &shapes)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shapes(list: &[(&str, &[usize])]) -> BTreeMap<String, Vec<usize>> {
        list.iter()
            .map(|(n, s)| (n.to_string(), s.to_vec()))
            .collect()
    }

    fn place(name: &str, shapes: &BTreeMap<String, Vec<usize>>) -> PytorchPlace {
        pytorch_place(name, &shapes[name], shapes)
    }

    #[test]
    fn square_projections_fuse_into_in_proj_and_the_others_keep_their_own_names() {
        let square = shapes(&[
            ("a.q_proj.weight", &[4, 4]),
            ("a.k_proj.weight", &[4, 4]),
            ("a.v_proj.weight", &[4, 4]),
            ("a.v_proj.bias", &[4]),
        ]);
        let v = place("a.v_proj.weight", &square);
        assert_eq!(
            (v.name.as_str(), v.rows, v.shape),
            ("a.in_proj_weight", 8..12, vec![12, 4])
        );
        let b = place("a.v_proj.bias", &square);
        assert_eq!(
            (b.name.as_str(), b.rows, b.shape),
            ("a.in_proj_bias", 8..12, vec![12])
        );
        let narrow = shapes(&[
            ("q_proj.weight", &[4, 4]),
            ("k_proj.weight", &[4, 2]),
            ("v_proj.weight", &[4, 2]),
            ("k_proj.bias", &[4]),
        ]);
        let k = place("k_proj.weight", &narrow);
        assert_eq!(
            (k.name.as_str(), k.rows, k.shape),
            ("k_proj_weight", 0..4, vec![4, 2])
        );
        let kb = place("k_proj.bias", &narrow);
        assert_eq!((kb.name.as_str(), kb.rows), ("in_proj_bias", 4..8));
    }

    #[test]
    fn blocks_norms_and_recurrent_gates_take_pytorch_names_and_layouts() {
        let s = shapes(&[
            ("decoder.layers.1.cross_attn.out_proj.weight", &[4, 4]),
            ("encoder.layers.0.ffn.linear2.bias", &[4]),
            ("encoder.norm.gamma", &[4]),
            ("encoder.norm.beta", &[4]),
            ("rnn.weight_hh_l1_reverse", &[4, 3, 3]),
            ("rnn.bias_ih_l0", &[4, 3]),
            ("my.gamma", &[2, 2]),
            ("weight_ih_lx", &[4, 3, 3]),
        ]);
        let name = |n: &str| {
            let p = place(n, &s);
            (p.name, p.shape)
        };
        assert_eq!(
            name("decoder.layers.1.cross_attn.out_proj.weight").0,
            "decoder.layers.1.multihead_attn.out_proj.weight"
        );
        assert_eq!(
            name("encoder.layers.0.ffn.linear2.bias").0,
            "encoder.layers.0.linear2.bias"
        );
        assert_eq!(name("encoder.norm.gamma").0, "encoder.norm.weight");
        assert_eq!(name("encoder.norm.beta").0, "encoder.norm.bias");
        assert_eq!(
            name("rnn.weight_hh_l1_reverse"),
            ("rnn.weight_hh_l1_reverse".into(), vec![12, 3])
        );
        assert_eq!(name("rnn.bias_ih_l0"), ("rnn.bias_ih_l0".into(), vec![12]));
        // not a layer norm's (rank 2), not a recurrent layer's (no layer number): unchanged
        assert_eq!(name("my.gamma"), ("my.gamma".into(), vec![2, 2]));
        assert_eq!(name("weight_ih_lx"), ("weight_ih_lx".into(), vec![4, 3, 3]));
    }

    #[test]
    fn export_then_import_gives_back_every_value_and_strictness_names_the_odd_tensor() {
        let mut ours = StateDict::default();
        let seq = |n: usize, from: f64| (0..n).map(|i| from + i as f64).collect::<Vec<_>>();
        for (k, p) in QKV.iter().enumerate() {
            let base = 100.0 * k as f64;
            ours.insert(format!("attn.{p}.weight"), vec![2, 2], seq(4, base), false);
            ours.insert(
                format!("attn.{p}.bias"),
                vec![2],
                seq(2, base + 50.0),
                false,
            );
        }
        ours.insert("norm.gamma", vec![2], seq(2, 7.0), false);
        ours.insert("lstm.weight_ih_l0", vec![4, 1, 2], seq(8, 9.0), false);
        let pt = to_pytorch_names(&ours).unwrap();
        let fused = pt.get("attn.in_proj_weight").unwrap();
        assert_eq!(fused.shape, vec![6, 2]);
        assert_eq!(
            fused.values,
            [seq(4, 0.0), seq(4, 100.0), seq(4, 200.0)].concat()
        );
        assert_eq!(
            pt.get("attn.in_proj_bias").unwrap().values,
            [seq(2, 50.0), seq(2, 150.0), seq(2, 250.0)].concat()
        );
        assert_eq!(pt.get("lstm.weight_ih_l0").unwrap().shape, vec![4, 2]);
        assert_eq!(pt.get("norm.weight").unwrap().values, seq(2, 7.0));

        let back = from_pytorch_names(&pt, &ours).unwrap();
        for n in ours.names() {
            assert_eq!(back.get(n).unwrap(), ours.get(n).unwrap(), "{n}");
        }

        let mut extra = pt.clone();
        extra.insert("head.weight", vec![1], vec![0.0], false);
        let err = from_pytorch_names(&extra, &ours).unwrap_err().to_string();
        assert!(err.contains("`head.weight` is not a parameter"), "{err}");
        let mut short = pt.clone();
        short.insert("attn.in_proj_weight", vec![4, 2], seq(8, 0.0), false);
        let err = from_pytorch_names(&short, &ours).unwrap_err().to_string();
        assert!(
            err.contains("`attn.in_proj_weight` has shape [4, 2]"),
            "{err}"
        );
    }
}
