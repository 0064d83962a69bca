//! `config.json` of a Hugging Face checkpoint, normalised across BERT, DistilBERT and RoBERTa.

use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::{ModelError, Result};

/// The encoder families goemo implements.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Architecture {
    /// BERT (and MiniLM).
    Bert,
    /// DistilBERT.
    DistilBert,
    /// RoBERTa.
    Roberta,
}

impl Architecture {
    /// The weight-key prefix of the encoder in `...ForSequenceClassification` checkpoints.
    pub fn prefix(self) -> &'static str {
        match self {
            Architecture::Bert => "bert",
            Architecture::DistilBert => "distilbert",
            Architecture::Roberta => "roberta",
        }
    }

    /// The `modeling_goemo.py` class of goemo's own heads on this encoder.
    pub fn goemo_class(self) -> &'static str {
        match self {
            Architecture::Bert => "GoemoBertForSequenceClassification",
            Architecture::DistilBert => "GoemoDistilBertForSequenceClassification",
            Architecture::Roberta => "GoemoRobertaForSequenceClassification",
        }
    }

    /// The `modeling_goemo.py` configuration class of goemo's own heads on this encoder.
    pub fn goemo_config_class(self) -> &'static str {
        match self {
            Architecture::Bert => "GoemoBertConfig",
            Architecture::DistilBert => "GoemoDistilBertConfig",
            Architecture::Roberta => "GoemoRobertaConfig",
        }
    }

    /// Hugging Face's class name of the sequence-classification model.
    pub fn classification_class(self) -> &'static str {
        match self {
            Architecture::Bert => "BertForSequenceClassification",
            Architecture::DistilBert => "DistilBertForSequenceClassification",
            Architecture::Roberta => "RobertaForSequenceClassification",
        }
    }
}

/// The classification head on top of the encoder.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HeadKind {
    /// Hugging Face's head for the architecture: BERT pooler + tanh, DistilBERT pre-classifier +
    /// ReLU, RoBERTa dense + tanh; checkpoints load in `transformers` unchanged.
    Standard,
    /// The first token's hidden state, dropout, one linear layer.
    FirstToken,
    /// goemo's head: mean of the last hidden state over real tokens, dropout, one linear layer
    /// (what sentence-transformer encoders such as all-MiniLM-L6-v2 were trained for).
    MeanPooling,
}

impl HeadKind {
    /// Every head, by name.
    pub const ALL: [HeadKind; 3] = [HeadKind::Standard, HeadKind::FirstToken, HeadKind::MeanPooling];

    /// The head's name in flags, configs and `config.json` (`goemo_head`).
    pub fn name(self) -> &'static str {
        match self {
            HeadKind::Standard => "standard",
            HeadKind::FirstToken => "first_token",
            HeadKind::MeanPooling => "mean_pooling",
        }
    }
}

impl std::fmt::Display for HeadKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for HeadKind {
    type Err = ModelError;

    fn from_str(s: &str) -> Result<Self> {
        HeadKind::ALL.into_iter().find(|h| h.name() == s.trim()).ok_or_else(|| {
            ModelError::InvalidConfig(format!("unknown head {s:?} (standard, first_token, mean_pooling)"))
        })
    }
}

/// Activation functions named in configs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Activation {
    /// Exact GELU (erf).
    Gelu,
    /// GELU's tanh approximation.
    GeluNew,
    /// ReLU.
    Relu,
}

impl Activation {
    fn parse(name: &str) -> Option<Self> {
        match name {
            "gelu" => Some(Activation::Gelu),
            "gelu_new" | "gelu_pytorch_tanh" => Some(Activation::GeluNew),
            "relu" => Some(Activation::Relu),
            _ => None,
        }
    }

    pub(crate) fn apply(self, xs: &tch::Tensor) -> tch::Tensor {
        match self {
            Activation::Gelu => xs.gelu("none"),
            Activation::GeluNew => xs.gelu("tanh"),
            Activation::Relu => xs.relu(),
        }
    }
}

/// Every number the encoders need, read from `config.json` (keys differ between families).
#[derive(Debug, Clone, PartialEq)]
pub struct ModelConfig {
    /// Which encoder family.
    pub architecture: Architecture,
    /// Token embeddings.
    pub vocab_size: i64,
    /// Width of the hidden states.
    pub hidden_size: i64,
    /// Encoder layers.
    pub num_layers: i64,
    /// Attention heads per layer.
    pub num_heads: i64,
    /// Width of the feed-forward layer.
    pub intermediate_size: i64,
    /// The feed-forward activation.
    pub activation: Activation,
    /// Dropout on hidden states.
    pub hidden_dropout: f64,
    /// Dropout on attention probabilities.
    pub attention_dropout: f64,
    /// Dropout before the classifier (`classifier_dropout`, `seq_classif_dropout`, else hidden).
    pub classifier_dropout: f64,
    /// Position embeddings.
    pub max_position_embeddings: i64,
    /// Token-type embeddings (0 for DistilBERT).
    pub type_vocab_size: i64,
    /// LayerNorm epsilon.
    pub layer_norm_eps: f64,
    /// The padding token's id.
    pub pad_token_id: i64,
    /// Standard deviation of the initial weights.
    pub initializer_range: f64,
    /// Label names by id, when the checkpoint has a classification head.
    pub labels: Option<Vec<String>>,
    /// `multi_label_classification` for goemo's checkpoints, as `transformers` names it.
    pub problem_type: Option<String>,
    /// The head recorded by goemo (`goemo_head`), if any.
    pub head: Option<HeadKind>,
    /// The file as read, so that saving keeps every key goemo does not interpret.
    pub raw: serde_json::Map<String, Value>,
}

/// Label names in id order from an `id2label` object, whose ids must be 0..n.
fn id2label(value: &Value) -> std::result::Result<Vec<String>, String> {
    let map = value.as_object().ok_or("id2label is not an object")?;
    let mut pairs: Vec<(usize, String)> = map
        .iter()
        .map(|(k, v)| {
            let id = k
                .parse::<usize>()
                .map_err(|_| format!("id2label key {k:?} is not an integer"))?;
            let name = v.as_str().ok_or(format!("id2label[{k}] is not a string"))?;
            Ok((id, name.to_string()))
        })
        .collect::<std::result::Result<_, String>>()?;
    pairs.sort();
    if pairs.iter().enumerate().any(|(i, (id, _))| i != *id) {
        return Err("id2label ids must be 0..n".into());
    }
    Ok(pairs.into_iter().map(|(_, l)| l).collect())
}

fn get<'a>(raw: &'a serde_json::Map<String, Value>, keys: &[&str]) -> Option<&'a Value> {
    keys.iter().find_map(|k| raw.get(*k).filter(|v| !v.is_null()))
}

impl ModelConfig {
    /// Checks that every token id of `ids` (one list per text) has an embedding: a tokenizer
    /// that does not match the model is an error naming the text, not an indexing failure in
    /// libtorch.
    pub fn check_token_ids(&self, ids: &[Vec<u32>]) -> Result<()> {
        for (text, tokens) in ids.iter().enumerate() {
            if let Some(&id) = tokens.iter().find(|&&id| i64::from(id) >= self.vocab_size) {
                return Err(ModelError::TokenId {
                    text,
                    id,
                    vocab_size: self.vocab_size,
                });
            }
        }
        Ok(())
    }

    /// Reads and interprets a `config.json`.
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|e| ModelError::io(path, e))?;
        let raw: serde_json::Map<String, Value> = serde_json::from_str(&text).map_err(|e| ModelError::Config {
            path: path.into(),
            message: format!("not a JSON object: {e}"),
        })?;
        Self::interpret(raw).map_err(|message| ModelError::Config {
            path: path.into(),
            message,
        })
    }

    /// Interprets a parsed `config.json`.
    pub fn from_json(raw: serde_json::Map<String, Value>) -> Result<Self> {
        Self::interpret(raw).map_err(ModelError::InvalidConfig)
    }

    fn interpret(raw: serde_json::Map<String, Value>) -> std::result::Result<Self, String> {
        let model_type = raw.get("model_type").and_then(Value::as_str).unwrap_or_default();
        // goemo's own heads are saved as `goemo_<family>` (see `save`).
        let architecture = match model_type.strip_prefix("goemo_").unwrap_or(model_type) {
            "bert" => Architecture::Bert,
            "distilbert" => Architecture::DistilBert,
            "roberta" => Architecture::Roberta,
            other => {
                return Err(format!(
                    "model_type {other:?} is not supported (bert, distilbert, roberta)"
                ))
            }
        };
        let int = |keys: &[&str]| -> std::result::Result<i64, String> {
            get(&raw, keys)
                .and_then(Value::as_i64)
                .ok_or_else(|| format!("missing integer {}", keys.join(" or ")))
        };
        let float = |keys: &[&str], default: f64| get(&raw, keys).and_then(Value::as_f64).unwrap_or(default);
        let distil = architecture == Architecture::DistilBert;
        let activation_name = get(&raw, &["hidden_act", "activation"])
            .and_then(Value::as_str)
            .unwrap_or("gelu");
        let activation = Activation::parse(activation_name)
            .ok_or_else(|| format!("activation {activation_name:?} is not supported"))?;
        let hidden_dropout = float(&["hidden_dropout_prob", "dropout"], 0.1);
        let labels = raw.get("id2label").map(id2label).transpose()?;
        let head = match raw.get("goemo_head") {
            Some(v) => Some(serde_json::from_value(v.clone()).map_err(|e| format!("goemo_head: {e}"))?),
            None => None,
        };
        Ok(ModelConfig {
            architecture,
            vocab_size: int(&["vocab_size"])?,
            hidden_size: int(&["hidden_size", "dim"])?,
            num_layers: int(&["num_hidden_layers", "n_layers"])?,
            num_heads: int(&["num_attention_heads", "n_heads"])?,
            intermediate_size: int(&["intermediate_size", "hidden_dim"])?,
            activation,
            hidden_dropout,
            attention_dropout: float(&["attention_probs_dropout_prob", "attention_dropout"], 0.1),
            classifier_dropout: float(
                &["classifier_dropout", "seq_classif_dropout"],
                if distil { 0.2 } else { hidden_dropout },
            ),
            max_position_embeddings: int(&["max_position_embeddings"])?,
            type_vocab_size: if distil {
                0
            } else {
                int(&["type_vocab_size"]).unwrap_or(2)
            },
            // DistilBERT's LayerNorms use a fixed 1e-12 that its config does not carry.
            layer_norm_eps: if distil {
                1e-12
            } else {
                float(&["layer_norm_eps"], 1e-12)
            },
            pad_token_id: get(&raw, &["pad_token_id"])
                .and_then(Value::as_i64)
                .unwrap_or(if architecture == Architecture::Roberta { 1 } else { 0 }),
            initializer_range: float(&["initializer_range"], 0.02),
            labels,
            problem_type: raw.get("problem_type").and_then(Value::as_str).map(String::from),
            head,
            raw,
        })
        .and_then(ModelConfig::check_sizes)
    }

    /// Sizes a model can be built with: positive, within what any encoder uses (so that a
    /// corrupted file is an error, not an attempt to allocate terabytes), heads dividing the
    /// hidden size, dropout rates within [0, 1).
    fn check_sizes(self) -> std::result::Result<Self, String> {
        let bounds = [
            ("vocab_size", self.vocab_size, 1 << 22),
            ("hidden_size", self.hidden_size, 1 << 16),
            ("num_hidden_layers", self.num_layers, 1 << 10),
            ("num_attention_heads", self.num_heads, 1 << 10),
            ("intermediate_size", self.intermediate_size, 1 << 18),
            ("max_position_embeddings", self.max_position_embeddings, 1 << 20),
        ];
        for (name, value, most) in bounds {
            if !(1..=most).contains(&value) {
                return Err(format!("{name} is {value}, expected 1 to {most}"));
            }
        }
        if !(0..=1 << 10).contains(&self.type_vocab_size) {
            return Err(format!(
                "type_vocab_size is {}, expected 0 to 1024",
                self.type_vocab_size
            ));
        }
        if !(0..self.vocab_size).contains(&self.pad_token_id) {
            return Err(format!("pad_token_id {} is not a token id", self.pad_token_id));
        }
        if self.hidden_size % self.num_heads != 0 {
            return Err(format!(
                "hidden size {} is not a multiple of {} heads",
                self.hidden_size, self.num_heads
            ));
        }
        let rates = [
            ("hidden dropout", self.hidden_dropout),
            ("attention dropout", self.attention_dropout),
            ("classifier dropout", self.classifier_dropout),
        ];
        if let Some((name, p)) = rates.iter().find(|(_, p)| !(0.0..1.0).contains(p)) {
            return Err(format!("{name} is {p}, expected within [0, 1)"));
        }
        if !(self.layer_norm_eps > 0.0 && self.initializer_range >= 0.0) {
            return Err("layer_norm_eps must be positive and initializer_range non-negative".into());
        }
        Ok(self)
    }
}
