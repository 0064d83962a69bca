//! A sequence classifier: an encoder and a head, in one `VarStore`, loaded from and saved to
//! Hugging Face checkpoint folders.

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use tch::nn::{self, Module};
use tch::{Device, Kind, Tensor};

use crate::config::{Architecture, HeadKind, ModelConfig};
use crate::encoder::{Encoder, WeightInit};
use crate::error::{ModelError, Result};
use crate::precision::{with_precision, Precision, Quantization};
use crate::trainable::{TensorBatch, TrainableModel};

#[derive(Debug)]
enum Head {
    /// BERT: pooler dense + tanh on the first token, dropout, classifier.
    BertPooler { pooler: nn::Linear, classifier: nn::Linear },
    /// DistilBERT: pre_classifier + ReLU on the first token, dropout, classifier.
    DistilBert {
        pre_classifier: nn::Linear,
        classifier: nn::Linear,
    },
    /// RoBERTa: dropout, dense + tanh on the first token, dropout, out_proj.
    Roberta { dense: nn::Linear, out_proj: nn::Linear },
    /// The first token, dropout, classifier.
    FirstToken { classifier: nn::Linear },
    /// The masked mean of the last hidden state, dropout, classifier.
    MeanPooling { classifier: nn::Linear },
}

impl Head {
    fn new(root: &nn::Path<'_>, c: &ModelConfig, kind: HeadKind, labels: i64) -> Self {
        let h = c.hidden_size;
        let lin = |p: nn::Path<'_>, o: i64| nn::linear(p, h, o, Default::default());
        match (kind, c.architecture) {
            (HeadKind::Standard, Architecture::Bert) => Head::BertPooler {
                pooler: lin(root / "bert" / "pooler" / "dense", h),
                classifier: lin(root / "classifier", labels),
            },
            (HeadKind::Standard, Architecture::DistilBert) => Head::DistilBert {
                pre_classifier: lin(root / "pre_classifier", h),
                classifier: lin(root / "classifier", labels),
            },
            (HeadKind::Standard, Architecture::Roberta) => Head::Roberta {
                dense: lin(root / "classifier" / "dense", h),
                out_proj: lin(root / "classifier" / "out_proj", labels),
            },
            (HeadKind::FirstToken, _) => Head::FirstToken {
                classifier: lin(root / "classifier", labels),
            },
            (HeadKind::MeanPooling, _) => Head::MeanPooling {
                classifier: lin(root / "classifier", labels),
            },
        }
    }

    /// The output layer, whose bias sets every label's prior.
    fn output(&self) -> &nn::Linear {
        match self {
            Head::BertPooler { classifier, .. }
            | Head::DistilBert { classifier, .. }
            | Head::FirstToken { classifier }
            | Head::MeanPooling { classifier } => classifier,
            Head::Roberta { out_proj, .. } => out_proj,
        }
    }

    /// The checkpoint key of the output layer's weight.
    fn output_key(&self) -> &'static str {
        match self {
            Head::Roberta { .. } => "classifier.out_proj.weight",
            _ => "classifier.weight",
        }
    }

    fn forward(&self, hidden: &Tensor, attention_mask: &Tensor, dropout: f64, train: bool) -> Tensor {
        let first = || hidden.select(1, 0);
        match self {
            Head::BertPooler { pooler, classifier } => {
                classifier.forward(&pooler.forward(&first()).tanh().dropout(dropout, train))
            }
            Head::DistilBert {
                pre_classifier,
                classifier,
            } => classifier.forward(&pre_classifier.forward(&first()).relu().dropout(dropout, train)),
            Head::Roberta { dense, out_proj } => {
                let xs = dense.forward(&first().dropout(dropout, train)).tanh();
                out_proj.forward(&xs.dropout(dropout, train))
            }
            Head::FirstToken { classifier } => classifier.forward(&first().dropout(dropout, train)),
            Head::MeanPooling { classifier } => {
                let mask = attention_mask.to_kind(Kind::Float).unsqueeze(-1);
                let summed = (hidden * &mask).sum_dim_intlist(1, false, Kind::Float);
                let counts = mask.sum_dim_intlist(1, false, Kind::Float).clamp_min(1e-9);
                classifier.forward(&(summed / counts).dropout(dropout, train))
            }
        }
    }
}

/// What to build when a folder holds a base encoder rather than a classifier.
#[derive(Debug, Clone, Default)]
pub struct LoadOptions {
    /// The head to use; `None`: the one `config.json` records, else the architecture's standard.
    pub head: Option<HeadKind>,
    /// Label names for a new head (a base encoder has none); `None`: the checkpoint's `id2label`,
    /// else the 28 GoEmotions labels. Labels other than a classification checkpoint's get a new
    /// output layer (the encoder and pooler are kept).
    pub labels: Option<Vec<String>>,
    /// One dropout rate for the hidden states, the attention weights and the classifier,
    /// instead of the config's.
    pub dropout: Option<f64>,
    /// How the encoder's variables start before the checkpoint sets them. `Checkpoint` (the
    /// default) loads faster; `Random` draws them as libtorch initialises a new model, so that
    /// the random numbers a seed gives afterwards (a new head, dropout) are the stream that the
    /// recorded training runs (docs/results.md) drew.
    pub encoder_init: WeightInit,
}

/// An encoder with a multi-label classification head.
#[derive(Debug)]
pub struct SequenceClassifier {
    /// Whether the head's output layer was initialised here rather than read from a checkpoint.
    new_head: bool,
    vs: nn::VarStore,
    encoder: Encoder,
    head: Head,
    head_kind: HeadKind,
    config: ModelConfig,
    labels: Vec<String>,
    precision: Precision,
}

/// Tensors of a checkpoint that no model here uses: buffers and pre-training heads.
fn ignored(name: &str) -> bool {
    name.ends_with(".position_ids")
        || name.starts_with("lm_head.")
        || name.starts_with("cls.")
        || name.starts_with("vocab_transform.")
        || name.starts_with("vocab_layer_norm.")
        || name.starts_with("vocab_projector.")
}

/// A checkpoint key in the form of this crate's variables: `gamma`/`beta` LayerNorm names, and
/// the architecture prefix that base-model files leave out.
fn normalise(name: &str, arch: Architecture) -> String {
    let mut name = name
        .replace("LayerNorm.gamma", "LayerNorm.weight")
        .replace("LayerNorm.beta", "LayerNorm.bias");
    let prefix = arch.prefix();
    let encoder_part = ["embeddings.", "encoder.", "pooler.", "transformer."];
    if encoder_part.iter().any(|p| name.starts_with(p)) {
        name = format!("{prefix}.{name}");
    }
    name
}

/// The checkpoint's tensors by goemo's names, as float32 views of the mapped file
/// (goemo_torch::map_safetensors; other float types converted), and the names skipped.
fn read_weights(path: &Path, arch: Architecture) -> Result<(HashMap<String, Tensor>, Vec<String>)> {
    let tensors = goemo_torch::map_safetensors(path).map_err(|e| ModelError::Safetensors {
        path: path.to_path_buf(),
        message: match e {
            goemo_torch::TorchError::File { message, .. } => message,
            other => other.to_string(),
        },
    })?;
    let mut out = HashMap::new();
    let mut skipped = Vec::new();
    for (name, tensor) in tensors {
        if ignored(&name) {
            skipped.push(name);
            continue;
        }
        if !matches!(tensor.kind(), Kind::Float | Kind::Half | Kind::BFloat16 | Kind::Double) {
            return Err(ModelError::Safetensors {
                path: path.to_path_buf(),
                message: format!("tensor {name} has dtype {:?}, expected a float type", tensor.kind()),
            });
        }
        out.insert(normalise(&name, arch), tensor.f_to_kind(Kind::Float)?);
    }
    Ok((out, skipped))
}

impl SequenceClassifier {
    /// Loads a folder with `config.json` and `model.safetensors`: a classification checkpoint
    /// (labels from `id2label`) or a base encoder (a new head, whose tensors must be exactly the
    /// ones missing). Anything else missing or unexpected is an error naming the tensors.
    pub fn load(dir: impl AsRef<Path>, device: Device, options: &LoadOptions) -> Result<Self> {
        if device.is_cuda() {
            crate::load_cuda()?;
        }
        let dir = dir.as_ref();
        let mut config = ModelConfig::from_file(dir.join("config.json"))?;
        if let Some(p) = options.dropout {
            (
                config.hidden_dropout,
                config.attention_dropout,
                config.classifier_dropout,
            ) = (p, p, p);
        }
        let weights_path = dir.join("model.safetensors");
        if !weights_path.is_file() {
            return Err(ModelError::Config {
                path: dir.to_path_buf(),
                message: "no model.safetensors (pickled pytorch_model.bin files are not loaded)".into(),
            });
        }
        let (mut weights, _) = read_weights(&weights_path, config.architecture)?;
        let head_kind = options.head.or(config.head).unwrap_or(HeadKind::Standard);
        // A classifier fine-tuned again for other labels keeps its encoder (and pooler) but not
        // its output layer, which predicts the old labels.
        let relabelled = matches!((&config.labels, &options.labels), (Some(old), Some(new)) if old != new);
        let labels = match (&config.labels, &options.labels) {
            (_, Some(given)) => given.clone(),
            (Some(from_config), None) => from_config.clone(),
            (None, None) => goemo_data::GOEMOTIONS_LABELS
                .iter()
                .map(std::string::ToString::to_string)
                .collect(),
        };
        let mut model = Self::build(config, head_kind, labels, device, options.encoder_init);
        if relabelled {
            let output = model.head.output_key();
            weights.remove(output);
            weights.remove(&output.replace(".weight", ".bias"));
        }
        model.check_tensors(&weights, &weights_path)?;
        model.copy_weights(&weights, &weights_path)?;
        model.new_head = !weights.contains_key(model.head.output_key());
        Ok(model)
    }

    /// Every encoder tensor must be in the checkpoint, and the checkpoint may hold nothing else
    /// than this model's tensors and a standard head or pooler it does not use; only a new
    /// head's tensors may be missing.
    fn check_tensors(&self, weights: &HashMap<String, Tensor>, weights_path: &Path) -> Result<()> {
        let variables = self.vs.variables();
        let encoder_prefix = format!("{}.", self.config.architecture.prefix());
        let head_names: BTreeSet<&String> = variables
            .keys()
            .filter(|k| !k.starts_with(&encoder_prefix) || k.contains(".pooler."))
            .collect();
        let mut unexpected: Vec<String> = weights
            .keys()
            .filter(|k| !variables.contains_key(*k))
            // A standard pooler or head the chosen head does not use is not an error.
            .filter(|k| !(k.contains(".pooler.") || k.starts_with("classifier.") || k.starts_with("pre_classifier.")))
            .cloned()
            .collect();
        if !unexpected.is_empty() {
            unexpected.sort();
            return Err(ModelError::UnexpectedTensors {
                path: weights_path.to_path_buf(),
                names: unexpected,
            });
        }
        let mut missing_encoder: Vec<String> = variables
            .keys()
            .filter(|k| !weights.contains_key(*k) && !head_names.contains(k))
            .cloned()
            .collect();
        if !missing_encoder.is_empty() {
            missing_encoder.sort();
            return Err(ModelError::MissingTensors {
                path: weights_path.to_path_buf(),
                names: missing_encoder,
            });
        }
        Ok(())
    }

    /// Sets the variables to the checkpoint's tensors (shapes checked; on the CPU by sharing
    /// their storage, elsewhere by a copy); a new head gets
    /// normal(0, initializer_range) weights and zero biases, as `transformers` initialises it.
    /// Variables go in name order, so that a seed gives the same new head in every process.
    fn copy_weights(&self, weights: &HashMap<String, Tensor>, weights_path: &Path) -> Result<()> {
        let device = self.device();
        let variables: std::collections::BTreeMap<String, Tensor> = self.vs.variables().into_iter().collect();
        tch::no_grad(|| -> Result<()> {
            for (name, var) in &variables {
                match weights.get(name) {
                    Some(w) => {
                        if w.size() != var.size() {
                            return Err(ModelError::ShapeMismatch {
                                path: weights_path.to_path_buf(),
                                name: name.clone(),
                                expected: var.size(),
                                found: w.size(),
                            });
                        }
                        if device == Device::Cpu {
                            // The variable takes the checkpoint tensor's storage (a view of the
                            // mapped file): no copy, and model copies share the pages.
                            var.shallow_clone().f_set_data(w)?;
                        } else {
                            var.shallow_clone().f_copy_(&w.f_to_device(device)?)?;
                        }
                    }
                    None if name.ends_with(".bias") => {
                        let _ = var.shallow_clone().f_zero_()?;
                    }
                    None => {
                        let _ = var.shallow_clone().f_normal_(0.0, self.config.initializer_range)?;
                    }
                }
            }
            Ok(())
        })
    }

    /// A randomly initialised model (libtorch's default initialisation), for tests and for
    /// training from scratch. On a CUDA device without a loadable CUDA library, libtorch's own
    /// error surfaces as a panic when the first tensor is made: use [`crate::parse_device`].
    pub fn from_config(config: ModelConfig, head_kind: HeadKind, labels: Vec<String>, device: Device) -> Self {
        if device.is_cuda() {
            // The error, if any, is libtorch's at the first tensor below.
            let _ = crate::load_cuda();
        }
        Self::build(config, head_kind, labels, device, WeightInit::Random)
    }

    fn build(config: ModelConfig, head_kind: HeadKind, labels: Vec<String>, device: Device, init: WeightInit) -> Self {
        let vs = nn::VarStore::new(device);
        let root = vs.root();
        let encoder = Encoder::new(&root / config.architecture.prefix(), &config, init);
        let head = Head::new(&root, &config, head_kind, labels.len() as i64);
        SequenceClassifier {
            vs,
            encoder,
            head,
            head_kind,
            config,
            labels,
            precision: Precision::Fp32,
            new_head: true,
        }
    }

    /// Whether the head's output layer is new (initialised at load, not read from the checkpoint).
    pub fn head_is_new(&self) -> bool {
        self.new_head
    }

    /// Sets the output bias to the log-odds of each label's frequency, so that before any
    /// training every label's probability is about its frequency instead of 0.5 (the prior
    /// initialisation of Lin et al., 2017). Frequencies are clamped to [1e-6, 1 − 1e-6].
    pub fn set_label_prior(&mut self, frequencies: &[f64]) -> Result<()> {
        if frequencies.len() != self.labels.len() {
            return Err(ModelError::InputShape {
                tensor: "label frequencies".into(),
                found: vec![frequencies.len() as i64],
                expected: format!("one per label ({})", self.labels.len()),
            });
        }
        let log_odds: Vec<f32> = frequencies
            .iter()
            .map(|&p| {
                let p = p.clamp(1e-6, 1.0 - 1e-6);
                (p / (1.0 - p)).ln() as f32
            })
            .collect();
        let bias = self
            .head
            .output()
            .bs
            .as_ref()
            .ok_or_else(|| ModelError::InvalidConfig("the head has no output bias".into()))?;
        let values = Tensor::f_from_slice(&log_odds)?.f_to_device(self.device())?;
        tch::no_grad(|| bias.shallow_clone().f_copy_(&values))?;
        Ok(())
    }

    /// Runs later forward passes at `precision` (weights stay float32), `Auto` resolved for the
    /// model's device; an error where the device cannot.
    pub fn set_precision(&mut self, precision: Precision) -> Result<()> {
        let precision = precision.resolve(self.device());
        with_precision(precision, self.device(), || ())?;
        if precision != Precision::Fp32 {
            // Packed layers compute in float32; autocast needs libtorch's own.
            self.encoder.unpack();
        }
        self.precision = precision;
        Ok(())
    }

    /// Packs the encoder's float Linear layers for oneDNN's float32 CPU kernels
    /// ([`Encoder::pack_fp32`]): faster float32 inference, the same results up to rounding.
    /// Does nothing (and says `false`) off the CPU, at another precision, when quantized, or
    /// when libtorch lacks oneDNN. Training a packed model is an error; a later
    /// [`Self::set_precision`] to bf16 or [`Self::set_quantization`] undoes the packing.
    pub fn pack_fp32(&mut self) -> Result<bool> {
        if self.device() != Device::Cpu
            || self.precision != Precision::Fp32
            || self.encoder.is_quantized()
            || !goemo_torch::packed_linear_available()
        {
            return Ok(false);
        }
        self.encoder.pack_fp32()?;
        Ok(true)
    }

    /// Whether the encoder's float layers are packed for oneDNN ([`Self::pack_fp32`]).
    pub fn is_packed(&self) -> bool {
        self.encoder.is_packed()
    }

    /// The precision the encoder runs in.
    pub fn precision(&self) -> Precision {
        self.precision
    }

    /// Runs later forward passes with the encoder's Linear layers in int8 (`Quantization::Int8`:
    /// weights per output channel now, each token's activations with its own scale at run time,
    /// so a text's scores do not depend on its batch), for inference on the CPU at fp32
    /// precision. Training
    /// a quantized model is an error; saving it saves the float weights.
    pub fn set_quantization(&mut self, quantization: Quantization) -> Result<()> {
        match quantization {
            Quantization::None if self.encoder.is_quantized() => Err(ModelError::Device(
                "int8 quantization cannot be undone: load the model again".into(),
            )),
            Quantization::None => Ok(()),
            Quantization::Int8 => {
                if self.device() != Device::Cpu {
                    return Err(ModelError::Device(format!(
                        "int8 quantization runs on the CPU; this model is on {:?}",
                        self.device()
                    )));
                }
                if self.precision != Precision::Fp32 {
                    return Err(ModelError::Device(format!(
                        "int8 quantization replaces {} autocast: use fp32 precision with it",
                        self.precision
                    )));
                }
                self.encoder.unpack();
                self.encoder.quantize_int8()
            }
        }
    }

    /// The linear layers' quantization.
    pub fn quantization(&self) -> Quantization {
        if self.encoder.is_quantized() {
            Quantization::Int8
        } else {
            Quantization::None
        }
    }

    /// Logits (B, labels) in float32 whatever the precision; `train` switches dropout on. A
    /// batch of the wrong shape is an error naming the tensor.
    pub fn forward(
        &self,
        input_ids: &Tensor,
        attention_mask: &Tensor,
        token_type_ids: Option<&Tensor>,
        train: bool,
    ) -> Result<Tensor> {
        let run = || -> Result<Tensor> {
            let hidden = self.encoder.forward(input_ids, attention_mask, token_type_ids, train)?;
            Ok(self
                .head
                .forward(&hidden, attention_mask, self.config.classifier_dropout, train))
        };
        match self.precision {
            Precision::Fp32 => run(),
            _ => Ok(with_precision(self.precision, self.device(), run)??.f_to_kind(Kind::Float)?),
        }
    }

    /// The last hidden state (B, T, H).
    pub fn hidden_states(&self, input_ids: &Tensor, attention_mask: &Tensor, train: bool) -> Result<Tensor> {
        self.encoder.forward(input_ids, attention_mask, None, train)
    }

    /// Label names in output order.
    pub fn labels(&self) -> &[String] {
        &self.labels
    }

    /// The encoder's configuration.
    pub fn config(&self) -> &ModelConfig {
        &self.config
    }

    /// How the encoder's output becomes a text's vector.
    pub fn head_kind(&self) -> HeadKind {
        self.head_kind
    }

    /// The variables, for an optimiser.
    pub fn var_store(&self) -> &nn::VarStore {
        &self.vs
    }

    /// The variables, for loading and saving.
    pub fn var_store_mut(&mut self) -> &mut nn::VarStore {
        &mut self.vs
    }

    /// The device the weights live on.
    pub fn device(&self) -> Device {
        self.vs.device()
    }

    /// Whether batches should carry token type ids.
    pub fn uses_token_types(&self) -> bool {
        self.encoder.uses_token_types()
    }

    /// Number of parameters.
    pub fn parameter_count(&self) -> i64 {
        self.vs.trainable_variables().iter().map(Tensor::numel).sum::<usize>() as i64
    }

    /// The folder a checkpoint was saved to, written in Hugging Face format.
    pub fn save(&self, dir: impl AsRef<Path>) -> Result<PathBuf> {
        crate::save::save(self, dir.as_ref())
    }
}

impl TrainableModel for SequenceClassifier {
    fn forward_t(&self, batch: &TensorBatch, train: bool) -> Result<Tensor> {
        self.forward(
            &batch.input_ids,
            &batch.attention_mask,
            batch.token_type_ids.as_ref(),
            train,
        )
    }

    fn named_parameters(&self) -> Vec<(String, Tensor)> {
        let mut variables: Vec<(String, Tensor)> = self.vs.variables().into_iter().collect();
        variables.sort_by(|a, b| a.0.cmp(&b.0));
        variables
    }

    fn labels(&self) -> &[String] {
        &self.labels
    }

    fn device(&self) -> Device {
        self.vs.device()
    }

    fn uses_token_types(&self) -> bool {
        self.encoder.uses_token_types()
    }

    fn save(&self, dir: &Path) -> Result<PathBuf> {
        crate::save::save(self, dir)
    }
}
