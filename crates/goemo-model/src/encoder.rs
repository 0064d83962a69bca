//! The encoders: BERT and RoBERTa (one implementation, RoBERTa's positions differ) and DistilBERT.
//! Module paths mirror the Hugging Face weight keys, so a checkpoint maps one to one.

use tch::nn::{self, Module};
use tch::{Kind, Tensor};

use crate::config::{Activation, Architecture, ModelConfig};
use crate::error::{ModelError, Result};

fn layer_norm(p: nn::Path<'_>, size: i64, eps: f64) -> nn::LayerNorm {
    nn::layer_norm(
        p,
        vec![size],
        nn::LayerNormConfig {
            eps,
            ..Default::default()
        },
    )
}

/// How the encoder's variables start: libtorch's random initialisation (training from scratch,
/// tests), or allocated and left unwritten when a checkpoint sets every one of them at load,
/// which skips drawing or writing some 12 million numbers for BERT-sized vocabularies (the
/// checkpoint's tensors then replace the variables' storage without a copy).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum WeightInit {
    /// libtorch's defaults: Kaiming-uniform Linear weights, normal embeddings.
    Random,
    /// Unwritten, for variables a checkpoint sets next (a load fails unless it holds them all).
    #[default]
    Checkpoint,
}

/// A trainable float variable `name` of `dims` under `p`, unwritten (see [`WeightInit::Checkpoint`]).
fn unwritten(p: &nn::Path<'_>, name: &str, dims: &[i64]) -> Tensor {
    p.add(name, Tensor::empty(dims, (Kind::Float, p.device())), true)
}

fn linear(p: nn::Path<'_>, input: i64, output: i64, init: WeightInit) -> Dense {
    Dense::Float(match init {
        WeightInit::Random => nn::linear(p, input, output, nn::LinearConfig::default()),
        WeightInit::Checkpoint => nn::Linear {
            ws: unwritten(&p, "weight", &[output, input]),
            bs: Some(unwritten(&p, "bias", &[output])),
        },
    })
}

/// A Linear layer of the encoder: float (trainable); float with a copy packed for oneDNN after
/// [`Encoder::pack_fp32`]; or int8 after [`Encoder::quantize_int8`]. The last two run inference
/// on the CPU only.
#[derive(Debug)]
enum Dense {
    Float(nn::Linear),
    /// The layer and its packed copy, which float32 inference runs.
    Packed(nn::Linear, goemo_torch::PackedLinear),
    Int8(goemo_torch::Int8Linear),
}

impl Dense {
    fn forward(&self, xs: &Tensor) -> Result<Tensor> {
        match self {
            Dense::Float(linear) => Ok(linear.forward(xs)),
            Dense::Packed(_, packed) => Ok(packed.forward(xs)?),
            Dense::Int8(linear) => Ok(linear.forward(xs)?),
        }
    }

    /// `activation(dense(xs))`; a packed layer applies the activation as its product is written.
    fn forward_activation(&self, xs: &Tensor, activation: Activation) -> Result<Tensor> {
        match self {
            Dense::Packed(_, packed) => Ok(packed.forward_activation(xs, kernel_activation(activation))?),
            other => Ok(activation.apply(&other.forward(xs)?)),
        }
    }

    /// The float layer, unless quantized.
    fn float(&self) -> Option<&nn::Linear> {
        match self {
            Dense::Float(linear) | Dense::Packed(linear, _) => Some(linear),
            Dense::Int8(_) => None,
        }
    }

    fn quantize_int8(&mut self) -> Result<()> {
        if let Some(linear) = self.float() {
            *self = Dense::Int8(tch::no_grad(|| {
                goemo_torch::Int8Linear::new(&linear.ws, linear.bs.as_ref())
            })?);
        }
        Ok(())
    }

    fn pack_fp32(&mut self) -> Result<()> {
        if let Dense::Float(linear) = self {
            let packed = tch::no_grad(|| goemo_torch::PackedLinear::new(&linear.ws, linear.bs.as_ref()))?;
            *self = Dense::Packed(shallow_linear(linear), packed);
        }
        Ok(())
    }

    fn unpack(&mut self) {
        if let Dense::Packed(linear, _) = self {
            *self = Dense::Float(shallow_linear(linear));
        }
    }
}

/// The same layer, sharing its tensors.
fn shallow_linear(linear: &nn::Linear) -> nn::Linear {
    nn::Linear {
        ws: linear.ws.shallow_clone(),
        bs: linear.bs.as_ref().map(Tensor::shallow_clone),
    }
}

/// goemo-torch's name for a config's activation.
fn kernel_activation(activation: Activation) -> goemo_torch::Activation {
    match activation {
        Activation::Gelu => goemo_torch::Activation::GeluErf,
        Activation::GeluNew => goemo_torch::Activation::GeluTanh,
        Activation::Relu => goemo_torch::Activation::Relu,
    }
}

/// Which keys each query may attend to, `true` for real tokens, broadcast over heads and
/// queries: (B, 1, 1, T). A boolean mask serves any dtype of queries (bf16 under autocast).
fn key_mask(attention_mask: &Tensor) -> Result<Tensor> {
    Ok(attention_mask.f_to_kind(Kind::Bool)?.f_unsqueeze(1)?.f_unsqueeze(2)?)
}

/// The query, key and value projections of one attention layer. Quantized or packed, they
/// become one layer over the concatenated weights: the input is read (and quantized) once and
/// multiplied once, where three layers would do so three times.
#[derive(Debug)]
struct Projections {
    query: Dense,
    key: Dense,
    value: Dense,
    /// One int8 or packed layer over the three, when made.
    fused: Option<Dense>,
}

impl Projections {
    fn new(query: Dense, key: Dense, value: Dense) -> Self {
        Projections {
            query,
            key,
            value,
            fused: None,
        }
    }

    fn forward(&self, xs: &Tensor) -> Result<(Tensor, Tensor, Tensor)> {
        match &self.fused {
            Some(fused) => {
                let all = fused.forward(xs)?;
                let parts = all.f_split(all.size()[all.dim() - 1] / 3, -1)?;
                let [q, k, v]: [Tensor; 3] = parts.try_into().map_err(|_| ModelError::InputShape {
                    tensor: "fused query/key/value projection".into(),
                    found: all.size(),
                    expected: "a last dimension of 3 × hidden size".into(),
                })?;
                Ok((q, k, v))
            }
            None => Ok((self.query.forward(xs)?, self.key.forward(xs)?, self.value.forward(xs)?)),
        }
    }

    /// The three float layers as one (weights and biases concatenated), unless quantized.
    fn concatenated(&self) -> Result<Option<nn::Linear>> {
        let (Some(q), Some(k), Some(v)) = (self.query.float(), self.key.float(), self.value.float()) else {
            return Ok(None);
        };
        let ws = tch::no_grad(|| Tensor::f_cat(&[&q.ws, &k.ws, &v.ws], 0))?;
        let bs = match (&q.bs, &k.bs, &v.bs) {
            (Some(bq), Some(bk), Some(bv)) => Some(tch::no_grad(|| Tensor::f_cat(&[bq, bk, bv], 0))?),
            _ => None,
        };
        Ok(Some(nn::Linear { ws, bs }))
    }

    fn quantize_int8(&mut self) -> Result<()> {
        if let Some(all) = self.concatenated()? {
            let mut fused = Dense::Float(all);
            fused.quantize_int8()?;
            self.fused = Some(fused);
        }
        Ok(())
    }

    fn pack_fp32(&mut self) -> Result<()> {
        if self.fused.is_none() {
            if let Some(all) = self.concatenated()? {
                let mut fused = Dense::Float(all);
                fused.pack_fp32()?;
                self.fused = Some(fused);
            }
        }
        Ok(())
    }

    fn unpack(&mut self) {
        if matches!(self.fused, Some(Dense::Packed(..))) {
            self.fused = None;
        }
    }
}

/// `norm(dense(input) + residual)`, with `dropout` on the projection in training. Float32 CPU
/// inference adds and normalises in place in one pass (goemo_torch::add_layer_norm_); an int8
/// projection does so in the pass that turns its product into floats.
fn project_add_norm(
    dense: &Dense,
    input: &Tensor,
    residual: &Tensor,
    norm: &nn::LayerNorm,
    c: &ModelConfig,
    (dropout, train): (f64, bool),
) -> Result<Tensor> {
    match dense {
        Dense::Float(linear) => {
            let mut projected = linear.forward(input);
            if !train && goemo_torch::add_layer_norm_applies(&projected) {
                goemo_torch::add_layer_norm_(&mut projected, residual, norm_params(norm, c)?)?;
                return Ok(projected);
            }
            Ok(norm.forward(&(projected.dropout(dropout, train) + residual)))
        }
        Dense::Packed(_, packed) => {
            let mut projected = packed.forward(input)?;
            goemo_torch::add_layer_norm_(&mut projected, residual, norm_params(norm, c)?)?;
            Ok(projected)
        }
        Dense::Int8(linear) => Ok(linear.forward_add_norm(input, residual, norm_params(norm, c)?)?),
    }
}

/// A LayerNorm's parameters for goemo-torch's fused kernels.
fn norm_params<'a>(norm: &'a nn::LayerNorm, c: &ModelConfig) -> Result<goemo_torch::LayerNormParams<'a>> {
    match (&norm.ws, &norm.bs) {
        (Some(weight), Some(bias)) => Ok(goemo_torch::LayerNormParams {
            weight,
            bias,
            eps: c.layer_norm_eps,
        }),
        _ => Err(ModelError::Device(
            "the fused inference kernels need a LayerNorm with weight and bias".into(),
        )),
    }
}

/// A layer's feed-forward block and the norm after it: `norm(x + W₂ act(W₁ x))`. Quantized, it
/// becomes one int8 block (goemo_torch::Int8FeedForward): the activation, the second layer's
/// quantization and the norm run in the passes over the products, not as separate operations.
#[derive(Debug)]
struct FeedForward {
    inner: Dense,
    outer: Dense,
    norm: nn::LayerNorm,
    fused: Option<goemo_torch::Int8FeedForward>,
}

impl FeedForward {
    fn new(inner: Dense, outer: Dense, norm: nn::LayerNorm) -> Self {
        FeedForward {
            inner,
            outer,
            norm,
            fused: None,
        }
    }

    fn forward(&self, xs: &Tensor, c: &ModelConfig, train: bool) -> Result<Tensor> {
        if let Some(fused) = &self.fused {
            return Ok(fused.forward(xs, norm_params(&self.norm, c)?)?);
        }
        let hidden = self.inner.forward_activation(xs, c.activation)?;
        project_add_norm(&self.outer, &hidden, xs, &self.norm, c, (c.hidden_dropout, train))
    }

    fn quantize_int8(&mut self, activation: Activation) -> Result<()> {
        let (Some(inner), Some(outer)) = (self.inner.float(), self.outer.float()) else {
            return Ok(());
        };
        let quantize =
            |linear: &nn::Linear| tch::no_grad(|| goemo_torch::Int8Linear::new(&linear.ws, linear.bs.as_ref()));
        self.fused = Some(goemo_torch::Int8FeedForward::new(
            quantize(inner)?,
            quantize(outer)?,
            kernel_activation(activation),
        )?);
        Ok(())
    }

    fn pack_fp32(&mut self) -> Result<()> {
        self.inner.pack_fp32()?;
        self.outer.pack_fp32()
    }

    fn unpack(&mut self) {
        self.inner.unpack();
        self.outer.unpack();
    }
}

/// Splits (B, T, H) into (B, heads, T, H / heads).
fn split_heads(xs: &Tensor, heads: i64) -> Result<Tensor> {
    let (b, t, h) = xs.size3()?;
    Ok(xs.f_view([b, t, heads, h / heads])?.transpose(1, 2))
}

/// Attention over already projected queries, keys and values. CPU inference over short
/// sequences takes goemo's kernel (`goemo_torch::short_attention`: one AVX-512 task per text and
/// head, no layout copies); everything else libtorch's `scaled_dot_product_attention` (what
/// `transformers` runs with `attn_implementation="sdpa"`): a fused kernel on the CPU, flash or
/// memory-efficient kernels on CUDA, dropout on the attention weights in training.
fn attend(q: &Tensor, k: &Tensor, v: &Tensor, mask: &Tensor, heads: i64, dropout: f64, train: bool) -> Result<Tensor> {
    if !train && goemo_torch::short_attention_applies(q, heads) {
        return Ok(goemo_torch::short_attention(q, k, v, mask, heads)?);
    }
    let (b, t, h) = q.size3()?;
    let (q, k, v) = (split_heads(q, heads)?, split_heads(k, heads)?, split_heads(v, heads)?);
    let dropout = if train { dropout } else { 0.0 };
    let context = Tensor::f_scaled_dot_product_attention(&q, &k, &v, Some(mask), dropout, false, None, false)?;
    Ok(context.transpose(1, 2).contiguous().f_view([b, t, h])?)
}

/// One transformer layer: attention, its output projection with residual and norm, and the
/// feed-forward block. BERT/RoBERTa and DistilBERT differ only in their weight names and in
/// DistilBERT's attention output having no dropout.
#[derive(Debug)]
struct EncoderLayer {
    projections: Projections,
    attention_output: Dense,
    attention_norm: nn::LayerNorm,
    /// Whether training drops out the attention output (BERT) or not (DistilBERT, which drops
    /// out only the attention weights).
    attention_output_dropout: bool,
    feed_forward: FeedForward,
}

impl EncoderLayer {
    fn bert(p: nn::Path<'_>, c: &ModelConfig, init: WeightInit) -> Self {
        let (h, i) = (c.hidden_size, c.intermediate_size);
        let attention = &p / "attention";
        EncoderLayer {
            projections: Projections::new(
                linear(&attention / "self" / "query", h, h, init),
                linear(&attention / "self" / "key", h, h, init),
                linear(&attention / "self" / "value", h, h, init),
            ),
            attention_output: linear(&attention / "output" / "dense", h, h, init),
            attention_norm: layer_norm(&attention / "output" / "LayerNorm", h, c.layer_norm_eps),
            attention_output_dropout: true,
            feed_forward: FeedForward::new(
                linear(&p / "intermediate" / "dense", h, i, init),
                linear(&p / "output" / "dense", i, h, init),
                layer_norm(&p / "output" / "LayerNorm", h, c.layer_norm_eps),
            ),
        }
    }

    fn distilbert(p: nn::Path<'_>, c: &ModelConfig, init: WeightInit) -> Self {
        let (h, i) = (c.hidden_size, c.intermediate_size);
        let attention = &p / "attention";
        EncoderLayer {
            projections: Projections::new(
                linear(&attention / "q_lin", h, h, init),
                linear(&attention / "k_lin", h, h, init),
                linear(&attention / "v_lin", h, h, init),
            ),
            attention_output: linear(&attention / "out_lin", h, h, init),
            attention_norm: layer_norm(&p / "sa_layer_norm", h, c.layer_norm_eps),
            attention_output_dropout: false,
            feed_forward: FeedForward::new(
                linear(&p / "ffn" / "lin1", h, i, init),
                linear(&p / "ffn" / "lin2", i, h, init),
                layer_norm(&p / "output_layer_norm", h, c.layer_norm_eps),
            ),
        }
    }

    fn forward(&self, xs: &Tensor, mask: &Tensor, c: &ModelConfig, train: bool) -> Result<Tensor> {
        if let (Some(Dense::Int8(projections)), Dense::Int8(output)) = (&self.projections.fused, &self.attention_output)
        {
            if goemo_torch::short_attention_applies(xs, c.num_heads) {
                let norm = norm_params(&self.attention_norm, c)?;
                let attended = goemo_torch::int8_attention_block(projections, output, c.num_heads, xs, mask, norm)?;
                return self.feed_forward.forward(&attended, c, train);
            }
        }
        let (q, k, v) = self.projections.forward(xs)?;
        let context = attend(&q, &k, &v, mask, c.num_heads, c.attention_dropout, train)?;
        let dropout = if self.attention_output_dropout {
            c.hidden_dropout
        } else {
            0.0
        };
        let attended = project_add_norm(
            &self.attention_output,
            &context,
            xs,
            &self.attention_norm,
            c,
            (dropout, train),
        )?;
        self.feed_forward.forward(&attended, c, train)
    }

    fn quantize_int8(&mut self, activation: Activation) -> Result<()> {
        self.projections.quantize_int8()?;
        self.attention_output.quantize_int8()?;
        self.feed_forward.quantize_int8(activation)
    }

    fn pack_fp32(&mut self) -> Result<()> {
        self.projections.pack_fp32()?;
        self.attention_output.pack_fp32()?;
        self.feed_forward.pack_fp32()
    }

    fn unpack(&mut self) {
        self.projections.unpack();
        self.attention_output.unpack();
        self.feed_forward.unpack();
    }
}

/// A transformer encoder: embeddings and layers; `forward` gives the last hidden state.
#[derive(Debug)]
pub struct Encoder {
    config: ModelConfig,
    /// Embedding tables, (entries, hidden size).
    word_embeddings: Tensor,
    position_embeddings: Tensor,
    token_type_embeddings: Option<Tensor>,
    embeddings_norm: nn::LayerNorm,
    layers: Vec<EncoderLayer>,
    quantized: bool,
    packed: bool,
}

impl Encoder {
    /// Builds the encoder under `p` (the `bert`, `distilbert` or `roberta` prefix), its
    /// variables started as `init` says.
    pub fn new(p: nn::Path<'_>, config: &ModelConfig, init: WeightInit) -> Self {
        let c = config;
        let e = &p / "embeddings";
        let embedding = |name: &str, n: i64| match init {
            WeightInit::Random => nn::embedding(&e / name, n, c.hidden_size, nn::EmbeddingConfig::default()).ws,
            WeightInit::Checkpoint => unwritten(&(&e / name), "weight", &[n, c.hidden_size]),
        };
        let layers = match c.architecture {
            Architecture::Bert | Architecture::Roberta => {
                let l = &p / "encoder" / "layer";
                (0..c.num_layers).map(|i| EncoderLayer::bert(&l / i, c, init)).collect()
            }
            Architecture::DistilBert => {
                let l = &p / "transformer" / "layer";
                (0..c.num_layers)
                    .map(|i| EncoderLayer::distilbert(&l / i, c, init))
                    .collect()
            }
        };
        Encoder {
            config: c.clone(),
            word_embeddings: embedding("word_embeddings", c.vocab_size),
            position_embeddings: embedding("position_embeddings", c.max_position_embeddings),
            token_type_embeddings: (c.type_vocab_size > 0)
                .then(|| embedding("token_type_embeddings", c.type_vocab_size)),
            embeddings_norm: layer_norm(&e / "LayerNorm", c.hidden_size, c.layer_norm_eps),
            layers,
            quantized: false,
            packed: false,
        }
    }

    /// Replaces every Linear layer of the encoder's layers with an int8 one (weights quantized
    /// per output channel now, activations per token at run time), for inference on the CPU;
    /// the attention and feed-forward blocks, with their residuals and norms, run as fused int8
    /// kernels. Embeddings and layer norms stay float32. The variable store keeps the float weights
    /// (a checkpoint saved afterwards is the float model).
    pub fn quantize_int8(&mut self) -> Result<()> {
        let activation = self.config.activation;
        self.layers.iter_mut().try_for_each(|l| l.quantize_int8(activation))?;
        self.quantized = true;
        Ok(())
    }

    /// Whether [`Encoder::quantize_int8`] ran.
    pub fn is_quantized(&self) -> bool {
        self.quantized
    }

    /// Packs every float Linear layer of the encoder's layers for oneDNN's float32 CPU kernels
    /// (goemo_torch::PackedLinear, which packs at its first forward pass; the query, key and
    /// value projections as one layer, the feed-forward activation as the product's post-op),
    /// for float32 inference on the CPU: the same arithmetic up to rounding, faster than
    /// libtorch's `linear`. The packed copies do not follow later changes to the weights, so a
    /// packed encoder runs inference only until [`Encoder::unpack`]. Layers already quantized
    /// stay so.
    pub fn pack_fp32(&mut self) -> Result<()> {
        self.layers.iter_mut().try_for_each(EncoderLayer::pack_fp32)?;
        self.packed = true;
        Ok(())
    }

    /// Drops the packed copies of [`Encoder::pack_fp32`]: libtorch's `linear` again (for bf16
    /// autocast or training).
    pub fn unpack(&mut self) {
        self.layers.iter_mut().for_each(EncoderLayer::unpack);
        self.packed = false;
    }

    /// Whether [`Encoder::pack_fp32`] ran (and no [`Encoder::unpack`] since).
    pub fn is_packed(&self) -> bool {
        self.packed
    }

    /// Position ids: 0.. for BERT and DistilBERT; for RoBERTa, `pad_token_id + 1` onwards over
    /// real tokens and `pad_token_id` on padding, as `create_position_ids_from_input_ids` does.
    fn position_ids(&self, input_ids: &Tensor) -> Result<Tensor> {
        let (_, t) = input_ids.size2()?;
        Ok(match self.config.architecture {
            Architecture::Roberta => {
                let pad = self.config.pad_token_id;
                let real = input_ids.ne(pad).to_kind(Kind::Int64);
                real.cumsum(1, Kind::Int64) * &real + pad
            }
            _ => Tensor::arange(t, (Kind::Int64, input_ids.device())).unsqueeze(0),
        })
    }

    /// Checks a batch's shapes against each other and the model, so that a bad batch is an
    /// error naming the tensor rather than an exception deep inside libtorch.
    fn check_inputs(&self, input_ids: &Tensor, attention_mask: &Tensor, token_type_ids: Option<&Tensor>) -> Result<()> {
        let shape_error = |tensor: &str, found: Vec<i64>, expected: String| ModelError::InputShape {
            tensor: tensor.to_string(),
            found,
            expected,
        };
        let ids = input_ids.size();
        if ids.len() != 2 {
            return Err(shape_error("input_ids", ids, "(batch, tokens)".into()));
        }
        let longest = match self.config.architecture {
            // Positions start after the padding id.
            Architecture::Roberta => self.config.max_position_embeddings - self.config.pad_token_id - 1,
            _ => self.config.max_position_embeddings,
        };
        if ids[1] > longest {
            return Err(shape_error(
                "input_ids",
                ids,
                format!("at most {longest} tokens per text"),
            ));
        }
        if attention_mask.size() != ids {
            return Err(shape_error(
                "attention_mask",
                attention_mask.size(),
                format!("{ids:?} as input_ids"),
            ));
        }
        if let Some(types) = token_type_ids {
            if types.size() != ids {
                return Err(shape_error(
                    "token_type_ids",
                    types.size(),
                    format!("{ids:?} as input_ids"),
                ));
            }
        }
        Ok(())
    }

    /// The last hidden state (B, T, H) of a batch; `train` switches dropout on.
    pub fn forward(
        &self,
        input_ids: &Tensor,
        attention_mask: &Tensor,
        token_type_ids: Option<&Tensor>,
        train: bool,
    ) -> Result<Tensor> {
        self.check_inputs(input_ids, attention_mask, token_type_ids)?;
        if train && self.quantized {
            return Err(ModelError::Device(
                "an int8-quantized encoder runs inference only: train the float model".into(),
            ));
        }
        if train && self.packed {
            return Err(ModelError::Device(
                "an encoder packed for float32 inference runs inference only: unpack it to train".into(),
            ));
        }
        let c = &self.config;
        // Fallible lookups: an id outside the vocabulary is an error, not an abort.
        let lookup = |table: &Tensor, ids: &Tensor, name: &str| {
            Tensor::f_embedding(table, ids, -1, false, false).map_err(|e| ModelError::InputShape {
                tensor: name.to_string(),
                found: ids.size(),
                expected: format!("ids below {} ({e})", table.size()[0]),
            })
        };
        let mut xs = lookup(&self.word_embeddings, input_ids, "input_ids")?
            + lookup(
                &self.position_embeddings,
                &self.position_ids(input_ids)?,
                "position ids",
            )?;
        if let Some(types) = &self.token_type_embeddings {
            let ids = token_type_ids.map_or_else(|| input_ids.zeros_like(), Tensor::shallow_clone);
            xs += lookup(types, &ids, "token_type_ids")?;
        }
        let mut xs = self.embeddings_norm.forward(&xs).dropout(c.hidden_dropout, train);
        let mask = key_mask(attention_mask)?;
        for layer in &self.layers {
            xs = layer.forward(&xs, &mask, c, train)?;
        }
        Ok(xs)
    }

    /// Whether the model takes token type ids.
    pub fn uses_token_types(&self) -> bool {
        self.token_type_embeddings.is_some()
    }
}
