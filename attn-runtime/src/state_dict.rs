//! Named tensors read from a safetensors file, e.g. a PyTorch `state_dict()` saved with
//! `safetensors.torch.save_file`, and copied into dfdx tensors with shape checks.

use std::collections::BTreeMap;
use std::ops::Range;
use std::path::Path;

use ::safetensors::{Dtype as StDtype, SafeTensors};
use dfdx::prelude::*;
use sha2::{Digest, Sha256};

use crate::error::AttnError;
use crate::param::Param;

/// One named tensor: its shape and values (held as `f64`, exact for f32 and f64 files).
#[derive(Clone, Debug, PartialEq)]
pub struct NamedTensor {
    /// The shape, outermost first.
    pub shape: Vec<usize>,
    /// The values, row-major.
    pub values: Vec<f64>,
}

/// The metadata key of the SHA-256 checksum attn stores with the tensors it writes.
pub const CHECKSUM_KEY: &str = "attn.sha256";

/// The SHA-256 of tensors, in name order: each one's name, dtype, shape and raw bytes.
fn checksum<'a>(
    tensors: impl Iterator<Item = (&'a str, StDtype, &'a [usize], &'a [u8])>,
) -> String {
    let mut h = Sha256::new();
    for (name, dtype, shape, bytes) in tensors {
        h.update((name.len() as u64).to_le_bytes());
        h.update(name.as_bytes());
        h.update(format!("{dtype:?}").as_bytes());
        h.update((shape.len() as u64).to_le_bytes());
        for &d in shape {
            h.update((d as u64).to_le_bytes());
        }
        h.update((bytes.len() as u64).to_le_bytes());
        h.update(bytes);
    }
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// A set of named tensors and the file's string metadata.
///
/// Files attn writes carry a SHA-256 of their tensors ([`CHECKSUM_KEY`] in the metadata);
/// reading such a file checks it, so damaged bytes are an error, never silently wrong weights.
/// Files without it (PyTorch's, or older ones) load unchecked.
///
/// **PyTorch equivalent**: the dict returned by `safetensors.torch.load_file`.
#[derive(Clone, Debug, Default)]
pub struct StateDict {
    tensors: BTreeMap<String, NamedTensor>,
    metadata: BTreeMap<String, String>,
    /// Tensors to be written as F64 rather than F32.
    wide: std::collections::BTreeSet<String>,
}

impl StateDict {
    /// Reads a safetensors file.
    pub fn read(path: impl AsRef<Path>) -> Result<Self, AttnError> {
        let path = path.as_ref();
        let bytes = std::fs::read(path).map_err(|source| AttnError::Io {
            path: path.display().to_string(),
            source,
        })?;
        Self::from_bytes(&bytes).map_err(|e| match e {
            AttnError::StateDict { reason } => AttnError::StateDict {
                reason: format!("{}: {reason}", path.display()),
            },
            other => other,
        })
    }

    /// Parses safetensors bytes. F32 and F64 tensors are supported.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, AttnError> {
        let bad = |reason: String| AttnError::StateDict { reason };
        let (_, header) = SafeTensors::read_metadata(bytes)
            .map_err(|e| bad(format!("not a safetensors file ({e:?})")))?;
        let metadata = header
            .metadata()
            .clone()
            .unwrap_or_default()
            .into_iter()
            .collect();
        let st = SafeTensors::deserialize(bytes)
            .map_err(|e| bad(format!("not a safetensors file ({e:?})")))?;
        if let Some(stored) = header.metadata().as_ref().and_then(|m| m.get(CHECKSUM_KEY)) {
            let mut views = st.tensors();
            views.sort_by(|a, b| a.0.cmp(&b.0));
            let actual = checksum(
                views
                    .iter()
                    .map(|(n, v)| (n.as_str(), v.dtype(), v.shape(), v.data())),
            );
            if &actual != stored {
                return Err(bad(format!(
                    "damaged: the tensors' bytes do not match the checksum stored with them \
                     ({CHECKSUM_KEY} {stored}, the bytes give {actual}); restore the file from a \
                     copy or train again"
                )));
            }
        }
        let mut tensors = BTreeMap::new();
        let mut wide = std::collections::BTreeSet::new();
        for (name, view) in st.tensors() {
            if view.dtype() == StDtype::F64 {
                wide.insert(name.clone());
            }
            let data = view.data();
            let values: Vec<f64> = match view.dtype() {
                StDtype::F32 => data
                    .chunks_exact(4)
                    .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]) as f64)
                    .collect(),
                StDtype::F64 => data
                    .chunks_exact(8)
                    .map(|c| f64::from_le_bytes(c.try_into().unwrap_or([0; 8])))
                    .collect(),
                other => {
                    return Err(bad(format!(
                        "tensor `{name}` has dtype {other:?}; only F32 and F64 are supported"
                    )))
                }
            };
            let shape = view.shape().to_vec();
            tensors.insert(name, NamedTensor { shape, values });
        }
        Ok(StateDict {
            tensors,
            metadata,
            wide,
        })
    }

    /// The tensor called `name`, or an error listing what the file has.
    pub fn get(&self, name: &str) -> Result<&NamedTensor, AttnError> {
        self.tensors.get(name).ok_or_else(|| AttnError::StateDict {
            reason: format!(
                "no tensor named `{name}`; the file has: {}",
                self.tensors.keys().cloned().collect::<Vec<_>>().join(", ")
            ),
        })
    }

    /// Whether a tensor called `name` exists.
    pub fn contains(&self, name: &str) -> bool {
        self.tensors.contains_key(name)
    }

    /// The names of all tensors, sorted.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.tensors.keys().map(String::as_str)
    }

    /// The file's string metadata (`__metadata__`).
    pub fn metadata(&self) -> &BTreeMap<String, String> {
        &self.metadata
    }

    /// Adds (or replaces) a tensor; `wide` ones are written as F64, the others as F32.
    pub fn insert(
        &mut self,
        name: impl Into<String>,
        shape: Vec<usize>,
        values: Vec<f64>,
        wide: bool,
    ) {
        let name = name.into();
        if wide {
            self.wide.insert(name.clone());
        } else {
            self.wide.remove(&name);
        }
        self.tensors.insert(name, NamedTensor { shape, values });
    }

    /// Sets a metadata entry.
    pub fn set_metadata(&mut self, key: impl Into<String>, value: impl Into<String>) {
        self.metadata.insert(key.into(), value.into());
    }

    /// Serialises to safetensors bytes.
    pub fn to_bytes(&self) -> Result<Vec<u8>, AttnError> {
        let mut buffers: Vec<(String, StDtype, Vec<usize>, Vec<u8>)> = Vec::new();
        for (name, t) in &self.tensors {
            let (dtype, bytes) = if self.wide.contains(name) {
                (
                    StDtype::F64,
                    t.values.iter().flat_map(|v| v.to_le_bytes()).collect(),
                )
            } else {
                (
                    StDtype::F32,
                    t.values
                        .iter()
                        .flat_map(|v| (*v as f32).to_le_bytes())
                        .collect(),
                )
            };
            buffers.push((name.clone(), dtype, t.shape.clone(), bytes));
        }
        let mut views = Vec::new();
        for (name, dtype, shape, bytes) in &buffers {
            let view = ::safetensors::tensor::TensorView::new(*dtype, shape.clone(), bytes)
                .map_err(|e| AttnError::StateDict {
                    reason: format!("`{name}`: {e:?}"),
                })?;
            views.push((name.clone(), view));
        }
        let mut metadata: std::collections::HashMap<String, String> = self
            .metadata
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        // `buffers` is in name order (a BTreeMap's)
        metadata.insert(
            CHECKSUM_KEY.into(),
            checksum(
                buffers
                    .iter()
                    .map(|(n, d, s, b)| (n.as_str(), *d, s.as_slice(), b.as_slice())),
            ),
        );
        let metadata = (!metadata.is_empty()).then_some(metadata);
        ::safetensors::tensor::serialize(views.iter().map(|(n, v)| (n.as_str(), v)), &metadata)
            .map_err(|e| AttnError::StateDict {
                reason: format!("cannot serialise: {e:?}"),
            })
    }

    /// Copies tensor `name` into `dst`, whose shape must match exactly.
    pub fn load_into<S: Shape, E: Dtype, D: Device<E>>(
        &self,
        name: &str,
        dst: &mut Tensor<S, E, D>,
    ) -> Result<(), AttnError> {
        self.load_param(name, dst)
    }

    /// [`load_into`](Self::load_into) for a tensor of any shape (the form the model-wide
    /// loader calls, compiled once per dtype and device rather than once per shape).
    pub fn load_param<E: Dtype, D: Device<E>>(
        &self,
        name: &str,
        dst: &mut dyn Param<E, D>,
    ) -> Result<(), AttnError> {
        let src = self.get(name)?;
        let rows = src.shape.first().copied().unwrap_or(1);
        self.load_rows_into_param(name, 0..rows, dst)
    }

    fn copy_values<E: Dtype, D: Device<E>>(
        &self,
        name: &str,
        slice: &[f64],
        dst: &mut dyn Param<E, D>,
    ) -> Result<(), AttnError> {
        let mut values = Vec::with_capacity(slice.len());
        for &v in slice {
            values.push(E::from_f64(v).ok_or_else(|| AttnError::StateDict {
                reason: format!("`{name}` holds {v}, which the model's dtype cannot represent"),
            })?);
        }
        dst.set_values(&values);
        Ok(())
    }

    fn load_rows_into_param<E: Dtype, D: Device<E>>(
        &self,
        name: &str,
        rows: Range<usize>,
        dst: &mut dyn Param<E, D>,
    ) -> Result<(), AttnError> {
        let src = self.get(name)?;
        let mut want = src.shape.clone();
        let total_rows = want.first().copied().unwrap_or(1);
        if rows.end > total_rows || rows.start > rows.end {
            return Err(AttnError::StateDict {
                reason: format!("`{name}` has {total_rows} rows, rows {rows:?} were asked for"),
            });
        }
        if let Some(first) = want.first_mut() {
            *first = rows.len();
        }
        let got = dst.dims();
        if want != got {
            return Err(AttnError::StateDict {
                reason: format!(
                    "`{name}` (rows {rows:?}) has shape {want:?}, the model expects {got:?}"
                ),
            });
        }
        let row_len: usize = src.shape.iter().skip(1).product();
        let slice = &src.values[rows.start * row_len..rows.end * row_len];
        self.copy_values(name, slice, dst)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> StateDict {
        let mut sd = StateDict::default();
        sd.insert("b", vec![2], vec![0.5, -1.0], false);
        sd.insert("a", vec![2, 2], vec![1.0, 2.0, 3.0, 4.0], true);
        sd.set_metadata("step", "7");
        sd
    }

    #[test]
    fn written_files_carry_a_checksum_that_reading_checks() {
        let bytes = sample().to_bytes().unwrap();
        let back = StateDict::from_bytes(&bytes).unwrap();
        assert_eq!(back.get("a").unwrap().values, [1.0, 2.0, 3.0, 4.0]);
        assert_eq!(back.metadata()["step"], "7");
        assert_eq!(back.metadata()[CHECKSUM_KEY].len(), 64);
        // the same tensors give the same checksum, whatever the metadata order
        let again = StateDict::from_bytes(&back.to_bytes().unwrap()).unwrap();
        assert_eq!(
            again.metadata()[CHECKSUM_KEY],
            back.metadata()[CHECKSUM_KEY]
        );
    }

    #[test]
    fn random_tensor_bytes_under_an_intact_header_are_an_error() {
        let mut bytes = sample().to_bytes().unwrap();
        let header = 8 + u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
        let n = bytes.len();
        // every data byte replaced, the header left as it was
        let mut x = 0x2545_f491u32;
        for b in &mut bytes[header..n] {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            *b = x as u8;
        }
        let err = StateDict::from_bytes(&bytes).unwrap_err();
        assert!(
            matches!(&err, AttnError::StateDict { reason } if reason.contains("damaged")),
            "{err:?}"
        );
        // one flipped bit is enough
        let mut bytes = sample().to_bytes().unwrap();
        bytes[header + 3] ^= 1;
        assert!(StateDict::from_bytes(&bytes).is_err());
    }

    #[test]
    fn files_without_a_checksum_load_unchecked() {
        // what safetensors.torch.save_file writes: no attn metadata
        let data: Vec<u8> = [1.0f32, 2.0].iter().flat_map(|v| v.to_le_bytes()).collect();
        let view = ::safetensors::tensor::TensorView::new(StDtype::F32, vec![2], &data).unwrap();
        let bytes = ::safetensors::tensor::serialize([("w", &view)], &None).unwrap();
        let sd = StateDict::from_bytes(&bytes).unwrap();
        assert_eq!(sd.get("w").unwrap().values, [1.0, 2.0]);
    }
}
