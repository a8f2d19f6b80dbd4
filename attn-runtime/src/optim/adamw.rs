//! Adam and AdamW with named, saveable state, global-norm gradient clipping, and a learning rate
//! set per step (see [`super::LrSchedule`]).

use std::collections::BTreeMap;

use dfdx::nn::tensor_collection::TensorCollection;
use dfdx::prelude::*;
use num_traits::Float;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::AttnError;
use crate::kernels::simd::{simd_dispatch, Arith};
use crate::kernels::tuning::{Isa, KernelConfig};
use crate::param::{for_each_param, for_each_param_mut, sum_sq_f32, CpuF32};

/// Parameter values per parallel task of an update: below this a hand-off costs more than the
/// arithmetic.
const ELEMENTS_PER_TASK: usize = 1 << 14;

/// Adam's hyper-parameters. `weight_decay` is decoupled (AdamW, Loshchilov & Hutter) when
/// `decoupled`, else added to the gradient (classic Adam's L2).
///
/// **PyTorch equivalent**: `torch.optim.AdamW(lr, betas, eps, weight_decay)` or
/// `torch.optim.Adam(..., weight_decay)`.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct AdamConfig {
    /// Learning rate (the schedule overrides it per step).
    pub lr: f64,
    /// First-moment decay.
    pub beta1: f64,
    /// Second-moment decay.
    pub beta2: f64,
    /// Denominator epsilon.
    pub eps: f64,
    /// Weight decay.
    pub weight_decay: f64,
    /// Decoupled weight decay (AdamW).
    pub decoupled: bool,
}

impl Default for AdamConfig {
    fn default() -> Self {
        AdamConfig {
            lr: 1e-3,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay: 0.0,
            decoupled: true,
        }
    }
}

/// The optimizer state: step count and both moments of every parameter, by parameter name.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct AdamState {
    /// Steps taken.
    pub step: u64,
    /// First moments.
    pub m: BTreeMap<String, Vec<f64>>,
    /// Second moments.
    pub v: BTreeMap<String, Vec<f64>>,
}

/// Adam / AdamW over a dfdx model's parameters.
#[derive(Clone, Debug, Default)]
pub struct Adam {
    /// Hyper-parameters.
    pub cfg: AdamConfig,
    /// State (saved with checkpoints).
    pub state: AdamState,
}

impl Adam {
    /// A fresh optimizer.
    pub fn new(cfg: AdamConfig) -> Self {
        Adam {
            cfg,
            state: AdamState::default(),
        }
    }

    /// One update of parameter `name` from its gradient, in place, at the current step
    /// (call [`Adam::begin_step`] first). Pure arithmetic, the same as PyTorch's, element by
    /// element in parallel (the result is the same on any number of threads).
    ///
    /// # Panics
    /// When `grads` or the parameter's saved moments are not as long as `params`.
    pub fn update_values(
        &mut self,
        name: &str,
        params: &mut [f64],
        grads: &[f64],
        grad_scale: f64,
    ) {
        self.update_in_place(name, params, Some(grads), grad_scale);
    }

    /// [`Adam::update_values`] on values and gradients of any float type, each read as `f64`,
    /// updated in `f64` and rounded back; no gradient (`None`) counts as zeros.
    fn update_in_place<P: Float + Send + Sync, G: Float + Send + Sync>(
        &mut self,
        name: &str,
        params: &mut [P],
        grads: Option<&[G]>,
        grad_scale: f64,
    ) {
        let cfg = self.cfg;
        let t = self.state.step.max(1) as i32;
        let n = params.len();
        let (m, v) = self.moments(name, n, grads.map_or(n, <[G]>::len));
        let k = StepConsts::new(cfg, t, grad_scale);
        // each element on its own, with the same arithmetic in the same order wherever it runs:
        // the result does not depend on the thread count
        let step = |(p, g): (&mut P, f64), (m, v): (&mut f64, &mut f64)| {
            let p64 = k.element(p.to_f64().unwrap_or(f64::NAN), g, m, v);
            *p = P::from(p64).unwrap_or_else(P::nan);
        };
        let moments = m.par_iter_mut().zip(v.par_iter_mut());
        match grads {
            Some(grads) => params
                .par_iter_mut()
                .zip(grads.par_iter())
                .zip(moments)
                .with_min_len(ELEMENTS_PER_TASK)
                .for_each(|((p, g), mv)| step((p, g.to_f64().unwrap_or(f64::NAN)), mv)),
            None => params
                .par_iter_mut()
                .zip(moments)
                .with_min_len(ELEMENTS_PER_TASK)
                .for_each(|(p, mv)| step((p, 0.0), mv)),
        }
    }

    /// [`Adam::update_in_place`] for `f32` values and gradients (the `Cpu`'s parameters), its
    /// elements compiled for the instruction set `isa`: the same `f64` arithmetic as every
    /// other path (no fused multiply-adds, so the same bits), in vectors of eight instead of
    /// one value at a time.
    fn update_f32_in_place(
        &mut self,
        isa: Isa,
        name: &str,
        params: &mut [f32],
        grads: Option<&[f32]>,
        grad_scale: f64,
    ) {
        let t = self.state.step.max(1) as i32;
        let n = params.len();
        let k = StepConsts::new(self.cfg, t, grad_scale);
        let (m, v) = self.moments(name, n, grads.map_or(n, <[f32]>::len));
        params
            .par_chunks_mut(ELEMENTS_PER_TASK)
            .zip(m.par_chunks_mut(ELEMENTS_PER_TASK))
            .zip(v.par_chunks_mut(ELEMENTS_PER_TASK))
            .enumerate()
            .for_each(|(c, ((p, m), v))| {
                // empty: no gradient, zeros
                let g = grads.map_or(&[][..], |g| &g[c * ELEMENTS_PER_TASK..][..p.len()]);
                dispatch_update_f32(isa, &k, p, g, m, v);
            });
    }

    /// Parameter `name`'s two moments, zeros when it has none yet.
    ///
    /// # Panics
    /// When they, or its `n_grads` gradients, are not `n` long.
    fn moments(&mut self, name: &str, n: usize, n_grads: usize) -> (&mut [f64], &mut [f64]) {
        let m = self
            .state
            .m
            .entry(name.to_string())
            .or_insert_with(|| vec![0.0; n]);
        let v = self
            .state
            .v
            .entry(name.to_string())
            .or_insert_with(|| vec![0.0; n]);
        assert!(
            n_grads == n && m.len() == n && v.len() == n,
            "Adam update of `{name}`: {n} values, {n_grads} gradients, moments of {} and {}",
            m.len(),
            v.len()
        );
        (m, v)
    }

    /// Starts a step: counts it.
    pub fn begin_step(&mut self) {
        self.state.step += 1;
    }

    /// Updates every trainable parameter of `model` from `grads`, clipping their global L2 norm
    /// to `clip_norm` first when given. Returns the gradient norm before clipping.
    ///
    /// `grads` must hold every parameter's gradient, as `model.alloc_grads()` followed by a
    /// traced forward and backward pass gives (unused parameters then have zero gradients).
    ///
    /// # Errors
    /// [`AttnError::NonFinite`] when the gradient norm is not finite (nothing is updated);
    /// [`AttnError::InvalidInput`] when [`crate::tuning::ENV_VAR`] is set wrong (it picks the
    /// instruction set of the `f32` update; nothing is updated);
    /// [`AttnError::Device`] when a device operation fails.
    pub fn update<M: TensorCollection<E, D> + Clone, E: Dtype, D: Device<E>>(
        &mut self,
        model: &mut M,
        grads: &Gradients<E, D>,
        clip_norm: Option<f64>,
    ) -> Result<f64, AttnError> {
        let norm = grad_norm(model, grads)?;
        self.step_from(model, grads, None, norm, clip_norm)
    }

    /// [`Adam::update`] from `shared`, every trainable parameter's gradient in the model's walk
    /// order as one buffer (what data-parallel ranks sum: the same on every rank), in place of
    /// the gradients in `grads`.
    ///
    /// # Errors
    /// As [`Adam::update`].
    ///
    /// # Panics
    /// When `shared` is shorter than the model's trainable parameters.
    pub fn update_shared<M: TensorCollection<E, D> + Clone, E: Dtype, D: Device<E>>(
        &mut self,
        model: &mut M,
        grads: &Gradients<E, D>,
        shared: &[f32],
        clip_norm: Option<f64>,
    ) -> Result<f64, AttnError> {
        let norm = shared_grad_norm(model, shared)?;
        self.step_from(model, grads, Some(shared), norm, clip_norm)
    }

    /// The step of [`Adam::update`] once the gradient's norm is known, from `grads` or from
    /// `shared` when given.
    fn step_from<M: TensorCollection<E, D> + Clone, E: Dtype, D: Device<E>>(
        &mut self,
        model: &mut M,
        grads: &Gradients<E, D>,
        shared: Option<&[f32]>,
        norm: f64,
        clip_norm: Option<f64>,
    ) -> Result<f64, AttnError> {
        if !norm.is_finite() {
            return Err(AttnError::NonFinite {
                what: "gradient norm",
                value: norm,
            });
        }
        let scale = match clip_norm {
            Some(c) if norm > c => c / (norm + 1e-6),
            _ => 1.0,
        };
        let isa = KernelConfig::current()?.isa();
        self.begin_step();
        let mut offset = 0;
        for_each_param_mut(model, |(name, trainable, p)| {
            if trainable {
                let own = shared.map(|flat| {
                    let n: usize = p.dims().iter().product();
                    offset += n;
                    &flat[offset - n..offset]
                });
                // f32 on the Cpu: in place, no copy of the values or the gradient
                if let Some(CpuF32 { values, grad }) = p.cpu_f32_mut(grads) {
                    self.update_f32_in_place(isa, name, values, own.or(grad), scale);
                } else {
                    let grads = match own {
                        Some(g) => g.iter().map(|&g| f64::from(g)).collect(),
                        None => p.grad_values_f64(grads),
                    };
                    let mut values = p.values_f64();
                    self.update_values(name, &mut values, &grads, scale);
                    p.set_values_f64(&values);
                }
            }
            Ok(())
        })?;
        Ok(norm)
    }
}

/// What one step's update of every element shares.
struct StepConsts {
    cfg: AdamConfig,
    /// `1 − β₁ᵗ` and `1 − β₂ᵗ`, the moments' bias corrections.
    bc1: f64,
    bc2: f64,
    /// The clipping factor of the gradients (1 when not clipped).
    grad_scale: f64,
}

impl StepConsts {
    fn new(cfg: AdamConfig, t: i32, grad_scale: f64) -> Self {
        StepConsts {
            cfg,
            bc1: 1.0 - cfg.beta1.powi(t),
            bc2: 1.0 - cfg.beta2.powi(t),
            grad_scale,
        }
    }

    /// One value's update from its gradient `g`, its moments updated in place: the new value.
    /// The update `torch.optim.Adam`/`AdamW` defines, in `f64`.
    #[inline(always)]
    fn element(&self, mut p: f64, g: f64, m: &mut f64, v: &mut f64) -> f64 {
        let cfg = &self.cfg;
        let mut g = g * self.grad_scale;
        if cfg.weight_decay != 0.0 {
            if cfg.decoupled {
                p *= 1.0 - cfg.lr * cfg.weight_decay;
            } else {
                g += cfg.weight_decay * p;
            }
        }
        *m = cfg.beta1 * *m + (1.0 - cfg.beta1) * g;
        *v = cfg.beta2 * *v + (1.0 - cfg.beta2) * g * g;
        let m_hat = *m / self.bc1;
        let v_hat = *v / self.bc2;
        p - cfg.lr * m_hat / (v_hat.sqrt() + cfg.eps)
    }
}

/// [`StepConsts::element`] over a chunk of `f32` values, `grads` empty for zeros. `A` only
/// picks the instruction set the loop is compiled for ([`simd_dispatch`]); no multiply-add is
/// fused, so every instruction set gives the same bits.
fn update_f32_chunk<A: Arith>(
    k: &StepConsts,
    params: &mut [f32],
    grads: &[f32],
    m: &mut [f64],
    v: &mut [f64],
) {
    let moments = m.iter_mut().zip(v.iter_mut());
    if grads.is_empty() {
        for (p, (m, v)) in params.iter_mut().zip(moments) {
            *p = k.element(f64::from(*p), 0.0, m, v) as f32;
        }
    } else {
        for ((p, &g), (m, v)) in params.iter_mut().zip(grads).zip(moments) {
            *p = k.element(f64::from(*p), f64::from(g), m, v) as f32;
        }
    }
}

simd_dispatch!(
    /// [`update_f32_chunk`] compiled for the instruction set asked for.
    fn dispatch_update_f32 => update_f32_chunk(
        k: &StepConsts,
        params: &mut [f32],
        grads: &[f32],
        m: &mut [f64],
        v: &mut [f64],
    )
);

/// The global L2 norm of every trainable parameter's gradient.
pub fn grad_norm<M: TensorCollection<E, D> + Clone, E: Dtype, D: Device<E>>(
    model: &M,
    grads: &Gradients<E, D>,
) -> Result<f64, AttnError> {
    let mut sum_sq = 0.0;
    for_each_param(model, |(_, trainable, p)| {
        if trainable {
            sum_sq += p.grad_sum_sq(grads);
        }
        Ok(())
    })?;
    Ok(sum_sq.sqrt())
}

/// [`grad_norm`] of the gradients in `shared` (every trainable parameter's, in the model's walk
/// order, as [`Adam::update_shared`] takes them): each parameter's sum of squares on its own,
/// added in the same order, so that equal gradients give the same bits on either path.
///
/// # Panics
/// When `shared` is shorter than the model's trainable parameters.
fn shared_grad_norm<M: TensorCollection<E, D> + Clone, E: Dtype, D: Device<E>>(
    model: &M,
    shared: &[f32],
) -> Result<f64, AttnError> {
    let (mut sum_sq, mut offset) = (0.0, 0);
    for_each_param(model, |(_, trainable, p)| {
        if trainable {
            let n: usize = p.dims().iter().product();
            sum_sq += sum_sq_f32(&shared[offset..offset + n]);
            offset += n;
        }
        Ok(())
    })?;
    Ok(sum_sq.sqrt())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The `f32` path compiled for every instruction set gives the bits of the generic `f64`
    /// path (which the PyTorch goldens check), with and without gradients, weight decay coupled
    /// and decoupled, over several steps, at a length with a partial last task.
    #[test]
    fn the_vectorised_f32_update_gives_the_generic_bits_on_every_instruction_set() {
        let n = ELEMENTS_PER_TASK + 37;
        let values: Vec<f32> = (0..n)
            .map(|i| ((i * 37 % 101) as f32 - 50.0) / 70.0)
            .collect();
        let grads: Vec<f32> = (0..n)
            .map(|i| ((i * 53 % 97) as f32 - 48.0) / 30.0)
            .collect();
        for (weight_decay, decoupled) in [(0.0, true), (0.01, true), (0.01, false)] {
            let cfg = AdamConfig {
                lr: 3e-3,
                weight_decay,
                decoupled,
                ..AdamConfig::default()
            };
            let run = |isa: Option<Isa>| {
                let mut adam = Adam::new(cfg);
                let mut p = values.clone();
                for step in 0..3 {
                    adam.begin_step();
                    let g = (step != 1).then_some(&grads[..]);
                    match isa {
                        Some(isa) => adam.update_f32_in_place(isa, "w", &mut p, g, 0.5),
                        None => adam.update_in_place("w", &mut p, g, 0.5),
                    }
                }
                (p, adam.state)
            };
            let want = run(None);
            for isa in Isa::ALL {
                let got = run(Some(isa));
                assert!(
                    got.0 == want.0 && got.1 == want.1,
                    "{isa:?}, weight decay {weight_decay} (decoupled: {decoupled})"
                );
            }
        }
    }

    /// Data-parallel ranks step from the shared buffer of every gradient; with one rank's
    /// gradients in it, the step is the single process's bit for bit: the same gradient norm
    /// (each parameter's sum of squares added in the model's order) and so the same clipping
    /// and the same values.
    #[test]
    fn a_step_from_the_shared_buffer_is_the_single_process_step_bit_for_bit() {
        use crate::distributed::flatten_gradients;
        type Net = (Linear<64, 48>, Tanh, Linear<48, 33>);
        let dev = Cpu::seed_from_u64(7);
        let model = dev.build_module::<Net, f32>();
        let x: Tensor<Rank2<9, 64>, f32, _> = dev.sample_normal();
        let grads = crate::param::try_alloc_grads(&model).expect("gradients");
        let loss = model.forward(x.trace(grads)).square().mean();
        let grads = loss.backward();
        let shared = flatten_gradients(&model, &grads).expect("flat gradients");
        for clip in [None, Some(1e-3)] {
            let (mut one, mut ranks) = (model.clone(), model.clone());
            let (mut a, mut b) = (
                Adam::new(AdamConfig::default()),
                Adam::new(AdamConfig::default()),
            );
            let norm = a.update(&mut one, &grads, clip).expect("update");
            let shared_norm = b
                .update_shared(&mut ranks, &grads, &shared, clip)
                .expect("update from the shared buffer");
            assert_eq!(
                norm.to_bits(),
                shared_norm.to_bits(),
                "{norm} vs {shared_norm}"
            );
            assert!(norm > 1e-2, "{norm}: the clipping at 1e-3 must act");
            assert_eq!(one.0.weight.as_vec(), ranks.0.weight.as_vec());
            assert_eq!(one.2.bias.as_vec(), ranks.2.bias.as_vec());
        }
    }
}
