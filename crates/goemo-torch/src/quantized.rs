//! int8 Linear layers for CPU inference (csrc/quantized_linear.cpp): weights symmetric int8 per
//! output channel, each input row (token) quantized with its own scale, products in int8 through
//! libtorch's `_int_mm` (oneDNN's VNNI kernels on x86). A row's output depends on that row
//! alone, never on the rows batched with it, unlike per-batch dynamic quantization.

use std::ffi::c_char;

use tch::Tensor;

use crate::{cpu_linear_shape, shim_error, shim_tensor, Activation, LayerNormParams, Result, TorchError};

#[repr(C)]
struct RowwiseInt8Linear {
    _private: [u8; 0],
}

extern "C" {
    fn goemo_int8_linear_pack(
        weight: *const torch_sys::C_tensor,
        bias: *const torch_sys::C_tensor,
        error: *mut c_char,
        error_len: usize,
    ) -> *mut RowwiseInt8Linear;
    fn goemo_int8_linear_forward(
        layer: *mut RowwiseInt8Linear,
        input: *const torch_sys::C_tensor,
        error: *mut c_char,
        error_len: usize,
    ) -> *mut torch_sys::C_tensor;
    fn goemo_int8_linear_add_norm(
        layer: *mut RowwiseInt8Linear,
        input: *const torch_sys::C_tensor,
        residual: *const torch_sys::C_tensor,
        gamma: *const torch_sys::C_tensor,
        beta: *const torch_sys::C_tensor,
        eps: f64,
        error: *mut c_char,
        error_len: usize,
    ) -> *mut torch_sys::C_tensor;
    fn goemo_int8_feed_forward(
        first: *mut RowwiseInt8Linear,
        second: *mut RowwiseInt8Linear,
        activation: i32,
        input: *const torch_sys::C_tensor,
        gamma: *const torch_sys::C_tensor,
        beta: *const torch_sys::C_tensor,
        eps: f64,
        error: *mut c_char,
        error_len: usize,
    ) -> *mut torch_sys::C_tensor;
    fn goemo_int8_attention_block(
        projections: *mut RowwiseInt8Linear,
        output: *mut RowwiseInt8Linear,
        heads: i64,
        input: *const torch_sys::C_tensor,
        key_mask: *const torch_sys::C_tensor,
        gamma: *const torch_sys::C_tensor,
        beta: *const torch_sys::C_tensor,
        eps: f64,
        error: *mut c_char,
        error_len: usize,
    ) -> *mut torch_sys::C_tensor;
    fn goemo_int8_linear_free(layer: *mut RowwiseInt8Linear);
}

/// A transformer's attention block in int8, `LayerNorm(x + W_o attention(W_qkv x + b_qkv) + b_o)`,
/// in one shim call. `projections` is the query, key and value layers as one (`width → 3 ×
/// width`, in that order), `output` the output projection; `key_mask` holds `batch × tokens`
/// elements, true (non-zero) where a key may be attended to. Text by text, the projections are
/// turned into floats, attended over while still in cache ([`short_attention`]'s kernel) and the
/// context quantized for the output projection; the norm runs in the pass after it. Needs an
/// input of shape (batch, tokens, width) where [`short_attention_applies`] (an error otherwise).
/// Each text's result depends on that text alone.
///
/// [`short_attention`]: crate::short_attention
/// [`short_attention_applies`]: crate::short_attention_applies
pub fn int8_attention_block(
    projections: &Int8Linear,
    output: &Int8Linear,
    heads: i64,
    input: &Tensor,
    key_mask: &Tensor,
    norm: LayerNormParams<'_>,
) -> Result<Tensor> {
    let mut error = [0 as c_char; 1024];
    // SAFETY: live layers and tensors borrowed for the call; the shim catches every C++
    // exception and returns null or a new tensor.
    let result = unsafe {
        goemo_int8_attention_block(
            projections.layer,
            output.layer,
            heads,
            input.as_ptr(),
            key_mask.as_ptr(),
            norm.weight.as_ptr(),
            norm.bias.as_ptr(),
            norm.eps,
            error.as_mut_ptr(),
            error.len(),
        )
    };
    shim_tensor(result, "int8 attention block", &error)
}

/// A transformer's feed-forward block in int8, `LayerNorm(x + W₂ act(W₁ x + b₁) + b₂)`, in one
/// shim call: the activation runs in the pass that turns the first product into floats and
/// quantizes the rows for the second, and the norm in the pass after the second. Each row's
/// result depends on that row alone, as with [`Int8Linear`].
#[derive(Debug)]
pub struct Int8FeedForward {
    first: Int8Linear,
    second: Int8Linear,
    activation: Activation,
}

impl Int8FeedForward {
    /// The block from its two layers; fails unless they map `d → inner → d`.
    pub fn new(first: Int8Linear, second: Int8Linear, activation: Activation) -> Result<Self> {
        if second.in_features != first.out_features || second.out_features != first.in_features {
            return Err(TorchError::Unsupported(format!(
                "a feed-forward block maps d → inner → d; these layers map {} → {} and {} → {}",
                first.in_features, first.out_features, second.in_features, second.out_features
            )));
        }
        Ok(Int8FeedForward {
            first,
            second,
            activation,
        })
    }

    /// `LayerNorm(x + W₂ act(W₁ x + b₁) + b₂)` over the last dimension of a float32 CPU tensor.
    pub fn forward(&self, input: &Tensor, norm: LayerNormParams<'_>) -> Result<Tensor> {
        let mut error = [0 as c_char; 1024];
        // SAFETY: live layers and tensors borrowed for the call; the shim catches every C++
        // exception and returns null or a new tensor.
        let output = unsafe {
            goemo_int8_feed_forward(
                self.first.layer,
                self.second.layer,
                self.activation.code(),
                input.as_ptr(),
                norm.weight.as_ptr(),
                norm.bias.as_ptr(),
                norm.eps,
                error.as_mut_ptr(),
                error.len(),
            )
        };
        shim_tensor(output, "int8 feed-forward block", &error)
    }
}

/// A Linear layer with its weight in int8 (symmetric, one scale per output channel); each row of
/// its input is quantized to int8 with the row's own scale. CPU only.
pub struct Int8Linear {
    layer: *mut RowwiseInt8Linear,
    in_features: i64,
    out_features: i64,
}

// SAFETY: the quantized weight, scales and bias are immutable after packing, and `forward` only
// reads them (libtorch's `_int_mm` reads its operands), from any thread.
unsafe impl Send for Int8Linear {}
// SAFETY: as above; `forward` takes `&self` and writes only its new output.
unsafe impl Sync for Int8Linear {}

impl std::fmt::Debug for Int8Linear {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Int8Linear({} -> {})", self.in_features, self.out_features)
    }
}

impl Int8Linear {
    /// Quantizes `weight` (out × in, on the CPU) and keeps `bias` in float32. Fails with the
    /// reason when the weight is not a CPU matrix or the bias does not match it.
    pub fn new(weight: &Tensor, bias: Option<&Tensor>) -> Result<Self> {
        let (out_features, in_features) = cpu_linear_shape(weight, "int8 quantization")?;
        let mut error = [0 as c_char; 1024];
        let bias_ptr = bias.map_or(std::ptr::null(), tch::Tensor::as_ptr);
        // SAFETY: live tensors (or null for no bias) borrowed for the call; the shim catches
        // every C++ exception and returns null or a layer this value owns.
        let layer = unsafe { goemo_int8_linear_pack(weight.as_ptr(), bias_ptr, error.as_mut_ptr(), error.len()) };
        if layer.is_null() {
            return Err(shim_error("int8 weight quantization", &error));
        }
        Ok(Int8Linear {
            layer,
            in_features,
            out_features,
        })
    }

    /// Width of the input.
    pub fn in_features(&self) -> i64 {
        self.in_features
    }

    /// Width of the output.
    pub fn out_features(&self) -> i64 {
        self.out_features
    }

    /// `x Wᵀ + b` over the last dimension of a float32 CPU tensor.
    pub fn forward(&self, input: &Tensor) -> Result<Tensor> {
        let mut error = [0 as c_char; 1024];
        // SAFETY: a live layer and input tensor; the shim catches every C++ exception
        // and returns null or a new tensor whose ownership passes to us.
        let output = unsafe { goemo_int8_linear_forward(self.layer, input.as_ptr(), error.as_mut_ptr(), error.len()) };
        shim_tensor(output, "int8 linear", &error)
    }

    /// `LayerNorm(x Wᵀ + b + residual)` over the last dimension (an attention block's output
    /// projection, residual and norm), the norm applied in the pass that turns the int32
    /// product into floats. `residual` has the output's shape.
    pub fn forward_add_norm(&self, input: &Tensor, residual: &Tensor, norm: LayerNormParams<'_>) -> Result<Tensor> {
        let mut error = [0 as c_char; 1024];
        // SAFETY: a live layer and tensors borrowed for the call; the shim catches every C++
        // exception and returns null or a new tensor.
        let output = unsafe {
            goemo_int8_linear_add_norm(
                self.layer,
                input.as_ptr(),
                residual.as_ptr(),
                norm.weight.as_ptr(),
                norm.bias.as_ptr(),
                norm.eps,
                error.as_mut_ptr(),
                error.len(),
            )
        };
        shim_tensor(output, "int8 linear with residual and layer norm", &error)
    }
}

impl Drop for Int8Linear {
    fn drop(&mut self) {
        // SAFETY: made by the shim, owned by this value, freed once.
        unsafe { goemo_int8_linear_free(self.layer) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::{Device, Kind};

    fn worst_relative(a: &Tensor, b: &Tensor) -> f64 {
        (a - b).abs().max().double_value(&[]) / b.abs().max().double_value(&[])
    }

    #[test]
    fn int8_linear_is_close_to_float() {
        tch::manual_seed(3);
        // Widths that are not multiples of the vector width exercise the scalar tails too.
        let w = Tensor::randn([61, 45], (Kind::Float, Device::Cpu)) * 0.1;
        let b = Tensor::randn([61], (Kind::Float, Device::Cpu));
        let x = Tensor::randn([5, 7, 45], (Kind::Float, Device::Cpu));
        let float = x.matmul(&w.tr()) + &b;
        let layer = Int8Linear::new(&w, Some(&b)).unwrap();
        let int8 = layer.forward(&x).unwrap();
        assert_eq!(int8.size(), [5, 7, 61]);
        // 8-bit weights per channel and 8-bit activations per row: under 1 % of the output's
        // scale (measured 0.54 %).
        let worst = worst_relative(&int8, &float);
        assert!(worst < 0.01, "int8 differs by {worst} of the output's scale");
        assert!(worst > 0.0, "the int8 path must not be the float one");
        let no_bias = Int8Linear::new(&w, None).unwrap().forward(&x).unwrap();
        let worst = worst_relative(&no_bias, &x.matmul(&w.tr()));
        assert!(worst < 0.01, "{worst}");
    }

    #[test]
    fn a_row_does_not_depend_on_its_batch() {
        tch::manual_seed(5);
        let w = Tensor::randn([96, 64], (Kind::Float, Device::Cpu));
        let layer = Int8Linear::new(&w, Some(&Tensor::randn([96], (Kind::Float, Device::Cpu)))).unwrap();
        let row = Tensor::randn([1, 64], (Kind::Float, Device::Cpu));
        // Beside rows a thousand times larger, which would take a shared range for themselves.
        let loud = Tensor::randn([40, 64], (Kind::Float, Device::Cpu)) * 1000.0;
        let alone = layer.forward(&row).unwrap();
        let batched = layer.forward(&Tensor::cat(&[&loud, &row], 0)).unwrap().narrow(0, 40, 1);
        assert!(alone.equal(&batched), "a row's output moved with its batch");
        // A row of zeros gives the bias, not NaN.
        let zeros = layer
            .forward(&Tensor::zeros([3, 64], (Kind::Float, Device::Cpu)))
            .unwrap();
        assert!(zeros.isfinite().all().int64_value(&[]) == 1);
        assert_eq!(
            layer
                .forward(&Tensor::zeros([0, 64], (Kind::Float, Device::Cpu)))
                .unwrap()
                .size(),
            [0, 96]
        );
    }

    #[test]
    fn bad_inputs_are_errors() {
        let w = Tensor::zeros([4, 3], (Kind::Float, Device::Cpu));
        let layer = Int8Linear::new(&w, None).unwrap();
        let err = layer
            .forward(&Tensor::zeros([2, 5], (Kind::Float, Device::Cpu)))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("int8 linear") && err.contains("last dimension of 3"),
            "{err}"
        );
        let err = Int8Linear::new(&Tensor::zeros([4], (Kind::Float, Device::Cpu)), None).unwrap_err();
        assert!(err.to_string().contains("2 dimensions"), "{err}");
        let err = Int8Linear::new(&w, Some(&Tensor::zeros([5], (Kind::Float, Device::Cpu)))).unwrap_err();
        assert!(err.to_string().contains("bias"), "{err}");
    }

    fn norm_params(width: i64) -> (Tensor, Tensor) {
        (
            Tensor::rand([width], (Kind::Float, Device::Cpu)) + 0.5,
            Tensor::randn([width], (Kind::Float, Device::Cpu)) * 0.1,
        )
    }

    fn layer_norm(xs: &Tensor, weight: &Tensor, bias: &Tensor, eps: f64) -> Tensor {
        xs.layer_norm([xs.size()[xs.dim() - 1]], Some(weight), Some(bias), eps, false)
    }

    #[test]
    fn add_norm_equals_the_unfused_ops() {
        tch::manual_seed(11);
        // 45 outputs: masked vector tails in the norm.
        let w = Tensor::randn([45, 38], (Kind::Float, Device::Cpu)) * 0.2;
        let b = Tensor::randn([45], (Kind::Float, Device::Cpu));
        let layer = Int8Linear::new(&w, Some(&b)).unwrap();
        let x = Tensor::randn([3, 5, 38], (Kind::Float, Device::Cpu));
        let residual = Tensor::randn([3, 5, 45], (Kind::Float, Device::Cpu)) * 3.0;
        let (gamma, beta) = norm_params(45);
        let norm = LayerNormParams {
            weight: &gamma,
            bias: &beta,
            eps: 1e-12,
        };
        let fused = layer.forward_add_norm(&x, &residual, norm).unwrap();
        let unfused = layer_norm(&(layer.forward(&x).unwrap() + &residual), &gamma, &beta, 1e-12);
        assert_eq!(fused.size(), [3, 5, 45]);
        let worst = worst_relative(&fused, &unfused);
        assert!(worst < 1e-5, "fused add + norm differs by {worst}");
        let err = layer
            .forward_add_norm(&x, &residual.narrow(2, 0, 44), norm)
            .unwrap_err()
            .to_string();
        assert!(err.contains("residual"), "{err}");
        let short = gamma.narrow(0, 0, 40);
        let err = layer
            .forward_add_norm(&x, &residual, LayerNormParams { weight: &short, ..norm })
            .unwrap_err()
            .to_string();
        assert!(err.contains("layer norm parameters"), "{err}");
    }

    #[test]
    fn attention_block_equals_the_unfused_ops() {
        if !crate::short_attention_fits(20, 32) {
            eprintln!("skipped: this CPU has no AVX-512");
            return;
        }
        tch::manual_seed(17);
        let (heads, width) = (3, 96);
        let projections = Int8Linear::new(
            &(Tensor::randn([3 * width, width], (Kind::Float, Device::Cpu)) * 0.2),
            Some(&Tensor::randn([3 * width], (Kind::Float, Device::Cpu))),
        )
        .unwrap();
        let output = Int8Linear::new(
            &(Tensor::randn([width, width], (Kind::Float, Device::Cpu)) * 0.1),
            Some(&Tensor::randn([width], (Kind::Float, Device::Cpu))),
        )
        .unwrap();
        let (gamma, beta) = norm_params(width);
        let norm = LayerNormParams {
            weight: &gamma,
            bias: &beta,
            eps: 1e-12,
        };
        for (batch, tokens) in [(1, 1), (3, 17), (2, 40)] {
            let x = Tensor::randn([batch, tokens, width], (Kind::Float, Device::Cpu));
            let lengths = Tensor::randint_low(1, tokens + 1, [batch, 1], (Kind::Int64, Device::Cpu));
            let mask = Tensor::arange(tokens, (Kind::Int64, Device::Cpu))
                .unsqueeze(0)
                .lt_tensor(&lengths);
            let qkv = projections.forward(&x).unwrap();
            let parts = qkv.split(width, -1);
            let context = crate::short_attention(&parts[0], &parts[1], &parts[2], &mask, heads).unwrap();
            let unfused = output.forward_add_norm(&context, &x, norm).unwrap();
            // The encoder's mask is (B, 1, 1, T).
            let fused = int8_attention_block(
                &projections,
                &output,
                heads,
                &x,
                &mask.view([batch, 1, 1, tokens]),
                norm,
            )
            .unwrap();
            assert_eq!(fused.size(), [batch, tokens, width]);
            // The same passes in the same order over the same rows.
            let worst = worst_relative(&fused, &unfused);
            assert!(
                worst < 1e-6,
                "{batch}x{tokens}: fused attention block differs by {worst}"
            );
        }
        let x = Tensor::randn([2, 5, width], (Kind::Float, Device::Cpu));
        let mask = Tensor::ones([2, 5], (Kind::Bool, Device::Cpu));
        let empty = Tensor::zeros([0, 5, width], (Kind::Float, Device::Cpu));
        let no_texts = int8_attention_block(&projections, &output, heads, &empty, &mask.narrow(0, 0, 0), norm).unwrap();
        assert_eq!(no_texts.size(), [0, 5, width]);
        for (what, result) in [
            (
                "multiple of 5 heads",
                int8_attention_block(&projections, &output, 5, &x, &mask, norm),
            ),
            (
                "key mask has 5",
                int8_attention_block(&projections, &output, heads, &x, &mask.narrow(0, 0, 1), norm),
            ),
            (
                "output projection maps",
                int8_attention_block(&projections, &projections, heads, &x, &mask, norm),
            ),
            (
                "query/key/value projection maps",
                int8_attention_block(&output, &output, heads, &x, &mask, norm),
            ),
            (
                "does not fit 200 tokens",
                int8_attention_block(
                    &projections,
                    &output,
                    heads,
                    &Tensor::zeros([1, 200, width], (Kind::Float, Device::Cpu)),
                    &Tensor::ones([1, 200], (Kind::Bool, Device::Cpu)),
                    norm,
                ),
            ),
        ] {
            let err = result.unwrap_err().to_string();
            assert!(
                err.contains("int8 attention block") && err.contains(what),
                "{what}: {err}"
            );
        }
    }

    #[test]
    fn feed_forward_equals_the_unfused_ops() {
        tch::manual_seed(13);
        let (width, inner) = (48, 200);
        let w1 = Tensor::randn([inner, width], (Kind::Float, Device::Cpu)) * 0.3;
        let b1 = Tensor::randn([inner], (Kind::Float, Device::Cpu));
        let w2 = Tensor::randn([width, inner], (Kind::Float, Device::Cpu)) * 0.1;
        let b2 = Tensor::randn([width], (Kind::Float, Device::Cpu));
        let (gamma, beta) = norm_params(width);
        let norm = LayerNormParams {
            weight: &gamma,
            bias: &beta,
            eps: 1e-5,
        };
        let x = Tensor::randn([2, 9, width], (Kind::Float, Device::Cpu));
        let first = Int8Linear::new(&w1, Some(&b1)).unwrap();
        let second = Int8Linear::new(&w2, Some(&b2)).unwrap();
        for (activation, apply) in [
            (
                Activation::GeluErf,
                (|t: &Tensor| t.gelu("none")) as fn(&Tensor) -> Tensor,
            ),
            (Activation::GeluTanh, |t: &Tensor| t.gelu("tanh")),
            (Activation::Relu, |t: &Tensor| t.relu()),
        ] {
            let hidden = apply(&first.forward(&x).unwrap());
            let unfused = layer_norm(&(second.forward(&hidden).unwrap() + &x), &gamma, &beta, 1e-5);
            let block = Int8FeedForward::new(
                Int8Linear::new(&w1, Some(&b1)).unwrap(),
                Int8Linear::new(&w2, Some(&b2)).unwrap(),
                activation,
            )
            .unwrap();
            let fused = block.forward(&x, norm).unwrap();
            assert_eq!(fused.size(), [2, 9, width]);
            // The activation agrees with libtorch's to float rounding; a value on a rounding
            // boundary of the second quantization may still move by one step.
            let worst = worst_relative(&fused, &unfused);
            assert!(worst < 2e-3, "{activation:?}: fused block differs by {worst}");
        }
        let block = Int8FeedForward::new(first, second, Activation::GeluErf).unwrap();
        let empty = block
            .forward(&Tensor::zeros([0, width], (Kind::Float, Device::Cpu)), norm)
            .unwrap();
        assert_eq!(empty.size(), [0, width]);
        let err = block
            .forward(&Tensor::zeros([2, width + 1], (Kind::Float, Device::Cpu)), norm)
            .unwrap_err()
            .to_string();
        assert!(err.contains("last dimension"), "{err}");
        let err = Int8FeedForward::new(
            Int8Linear::new(&w1, None).unwrap(),
            Int8Linear::new(&w1, None).unwrap(),
            Activation::Relu,
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("feed-forward"), "{err}");
    }
}
