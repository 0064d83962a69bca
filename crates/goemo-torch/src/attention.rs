//! Attention over short sequences for CPU inference (csrc/attention.cpp): one task per text and
//! head, softmax(q kᵀ / √d) v in AVX-512 registers, reading the projections in place and writing
//! the context in the layout the output projection reads. Used by the encoders where
//! [`short_attention_fits`]; libtorch's `scaled_dot_product_attention` elsewhere.

use std::ffi::{c_char, c_int};

use tch::{Device, Kind, Tensor};

use crate::{shim_tensor, Result};

extern "C" {
    fn goemo_short_attention_fits(tokens: i64, head_dim: i64) -> c_int;
    fn goemo_short_attention(
        q: *const torch_sys::C_tensor,
        k: *const torch_sys::C_tensor,
        v: *const torch_sys::C_tensor,
        key_mask: *const torch_sys::C_tensor,
        heads: i64,
        error: *mut c_char,
        error_len: usize,
    ) -> *mut torch_sys::C_tensor;
}

/// Whether [`short_attention`] runs on this CPU for `tokens` keys and heads `head_dim` wide:
/// AVX-512, at most 128 tokens, heads a multiple of 16 and at most 128 wide.
pub fn short_attention_fits(tokens: i64, head_dim: i64) -> bool {
    // SAFETY: a pure function of its two integers and the CPU's features.
    unsafe { goemo_short_attention_fits(tokens, head_dim) == 1 }
}

/// Whether the encoder can take [`short_attention`] for these projections: float32 on the CPU,
/// nothing to differentiate, and a shape that [`short_attention_fits`].
pub fn short_attention_applies(q: &Tensor, heads: i64) -> bool {
    let size = q.size();
    size.len() == 3
        && q.kind() == Kind::Float
        && q.device() == Device::Cpu
        && !q.requires_grad()
        && heads > 0
        && size[2] % heads == 0
        && short_attention_fits(size[1], size[2] / heads)
}

/// `softmax(q kᵀ / √d) v` for each of `heads` heads of (batch, tokens, heads × d) float32 CPU
/// tensors (rows contiguous: views of one fused projection are fine), keys masked where
/// `key_mask` (batch, tokens) is false. A query with no key to attend to gets zeros. Returns a
/// contiguous (batch, tokens, heads × d) tensor; an error naming the shape where the kernel does
/// not fit (see [`short_attention_fits`]).
pub fn short_attention(q: &Tensor, k: &Tensor, v: &Tensor, key_mask: &Tensor, heads: i64) -> Result<Tensor> {
    let mut error = [0 as c_char; 1024];
    // SAFETY: live tensors borrowed for the call; the shim catches every C++ exception and
    // returns null or a new tensor whose ownership passes to us.
    let output = unsafe {
        goemo_short_attention(
            q.as_ptr(),
            k.as_ptr(),
            v.as_ptr(),
            key_mask.as_ptr(),
            heads,
            error.as_mut_ptr(),
            error.len(),
        )
    };
    shim_tensor(output, "short attention", &error)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// libtorch's attention over the same projections, as the encoder calls it.
    fn sdpa(q: &Tensor, k: &Tensor, v: &Tensor, mask: &Tensor, heads: i64) -> Tensor {
        let (b, t, w) = q.size3().unwrap();
        let split = |x: &Tensor| x.view([b, t, heads, w / heads]).transpose(1, 2);
        let keys = mask.to_kind(Kind::Bool).view([b, 1, 1, t]);
        Tensor::scaled_dot_product_attention(&split(q), &split(k), &split(v), Some(&keys), 0.0, false, None, false)
            .transpose(1, 2)
            .contiguous()
            .view([b, t, w])
    }

    #[test]
    fn equals_libtorchs_attention() {
        if !short_attention_fits(20, 32) {
            eprintln!("skipped: this CPU has no AVX-512");
            return;
        }
        tch::manual_seed(11);
        for (batch, tokens, heads, dim) in [
            (3, 1, 2, 16),
            (4, 20, 12, 32),
            (2, 16, 3, 64),
            (2, 17, 2, 32),
            (1, 128, 4, 128),
        ] {
            let width = heads * dim;
            // One fused projection split three ways, as the int8 encoder makes them.
            let qkv = Tensor::randn([batch, tokens, 3 * width], (Kind::Float, Device::Cpu)) * 2.0;
            let parts = qkv.split(width, -1);
            let lengths = Tensor::randint_low(1, tokens + 1, [batch, 1], (Kind::Int64, Device::Cpu));
            let mask = Tensor::arange(tokens, (Kind::Int64, Device::Cpu))
                .unsqueeze(0)
                .lt_tensor(&lengths);
            let ours = short_attention(&parts[0], &parts[1], &parts[2], &mask, heads).unwrap();
            let theirs = sdpa(&parts[0], &parts[1], &parts[2], &mask, heads);
            // Relative to the largest output (measured up to 3.2e-6 at 128 tokens): the sums run
            // in another order, and exp is Cephes'.
            let worst = (&ours - &theirs).abs().max().double_value(&[]) / theirs.abs().max().double_value(&[]);
            assert!(
                worst < 1e-5,
                "{batch}x{tokens}, {heads} heads of {dim}: differs by {worst} of the largest output"
            );
        }
        // A query with every key masked gets zeros, not NaN.
        let x = Tensor::randn([2, 5, 32], (Kind::Float, Device::Cpu));
        let mask = Tensor::from_slice(&[1i64, 1, 0, 0, 0, 0, 0, 0, 0, 0]).view([2, 5]);
        let out = short_attention(&x, &x, &x, &mask, 1).unwrap();
        assert_eq!(out.get(1).abs().sum(Kind::Float).double_value(&[]), 0.0);
        assert!(out.get(0).abs().sum(Kind::Float).double_value(&[]) > 0.0);
    }

    #[test]
    fn refuses_what_does_not_fit() {
        let x = Tensor::zeros([1, 4, 24], (Kind::Float, Device::Cpu));
        let mask = Tensor::ones([1, 4], (Kind::Int64, Device::Cpu));
        // Heads of 8 are not a multiple of 16 wide.
        assert!(!short_attention_fits(4, 8));
        assert!(!short_attention_applies(&x, 3));
        let err = short_attention(&x, &x, &x, &mask, 3).unwrap_err().to_string();
        assert!(err.contains("does not fit"), "{err}");
        assert!(!short_attention_fits(129, 32) && !short_attention_fits(0, 32));
        let long = Tensor::zeros([1, 200, 32], (Kind::Float, Device::Cpu));
        assert!(!short_attention_applies(&long, 1));
        let wanting_grad = Tensor::zeros([1, 4, 32], (Kind::Float, Device::Cpu)).set_requires_grad(true);
        assert!(!short_attention_applies(&wanting_grad, 1));
    }
}
