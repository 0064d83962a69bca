"""goemo's own classification heads for Python `transformers`, shipped inside each goemo
checkpoint whose head `transformers` does not have (`goemo_head` in config.json).

    AutoModelForSequenceClassification.from_pretrained(CHECKPOINT, trust_remote_code=True)

gives the probabilities goemo computes. Without `trust_remote_code=True`, `transformers` refuses
to load the checkpoint, because its `model_type` (`goemo_bert`, `goemo_distilbert`,
`goemo_roberta`) is not one of its own: a goemo head never loads silently as another head.

Heads (the encoder's last hidden state in, logits out):
- `mean_pooling`: the mean over real tokens (attention mask), dropout, `classifier`;
- `first_token`: the first token's hidden state, dropout, `classifier`.

Probabilities: `torch.sigmoid(logits)` are the model's raw probabilities, as trained. goemo
calibrates them per label on dev and stores the maps in the checkpoint's `calibration.json`;
`model.calibrated_probabilities(logits)` (or `calibrate(torch.sigmoid(logits), path)`) applies
them and gives the same calibrated probabilities as goemo's `predict` and `serve`. A checkpoint
without `calibration.json` has only raw probabilities.
"""
import json
import os

import torch
from torch import nn
from transformers import BertConfig, DistilBertConfig, RobertaConfig
from transformers.modeling_outputs import SequenceClassifierOutput
from transformers.models.bert.modeling_bert import BertModel, BertPreTrainedModel
from transformers.models.distilbert.modeling_distilbert import DistilBertModel, DistilBertPreTrainedModel
from transformers.models.roberta.modeling_roberta import RobertaModel, RobertaPreTrainedModel


class GoemoBertConfig(BertConfig):
    model_type = "goemo_bert"


class GoemoDistilBertConfig(DistilBertConfig):
    model_type = "goemo_distilbert"


class GoemoRobertaConfig(RobertaConfig):
    model_type = "goemo_roberta"


def _dropout_rate(config):
    for key in ("classifier_dropout", "seq_classif_dropout", "hidden_dropout_prob", "dropout"):
        value = getattr(config, key, None)
        if value is not None:
            return value
    return 0.1


CALIBRATION_FILE = "calibration.json"


def _logit(p):
    p = p.clamp(1e-15, 1 - 1e-15)
    return torch.log(p) - torch.log1p(-p)


def _interp(x, knots_x, knots_y):
    """scipy's interp1d(kind="linear") on inputs clipped to the knots, as goemo and scikit-learn."""
    if len(knots_x) == 1:
        return torch.full_like(x, knots_y[0])
    x = x.clamp(knots_x[0].item(), knots_x[-1].item())
    hi = torch.searchsorted(knots_x, x, side="left").clamp(1, len(knots_x) - 1)
    lo = hi - 1
    slope = (knots_y[hi] - knots_y[lo]) / (knots_x[hi] - knots_x[lo])
    return slope * (x - knots_x[lo]) + knots_y[lo]


def calibrate(probabilities, calibration_json):
    """goemo's calibrated probabilities from raw ones (N × labels), with a calibration.json."""
    with open(calibration_json) as f:
        labels = json.load(f)["labels"]
    p = probabilities.to(torch.float64)
    if p.shape[-1] != len(labels):
        raise ValueError(f"{calibration_json} calibrates {len(labels)} labels, the scores have {p.shape[-1]}")
    columns = []
    for j, entry in enumerate(labels):
        column, method = p[..., j], entry["method"]
        if method == "identity":
            columns.append(column)
        elif method == "temperature":
            columns.append(torch.sigmoid(entry["inverse_temperature"] * _logit(column)))
        elif method == "platt":
            columns.append(torch.sigmoid(entry["slope"] * _logit(column) + entry["intercept"]))
        elif method == "isotonic":
            knots_x = torch.tensor(entry["x"], dtype=torch.float64)
            knots_y = torch.tensor(entry["y"], dtype=torch.float64)
            columns.append(_interp(column, knots_x, knots_y).clamp(entry["min"], entry["max"]))
        else:
            raise ValueError(f"{calibration_json}: label {entry['label']!r} has unknown method {method!r}")
    return torch.stack(columns, dim=-1)


class _GoemoHead:
    """The pooling, dropout and linear classifier shared by the three architectures."""

    def calibrated_probabilities(self, logits):
        """The probabilities goemo serves: sigmoids calibrated by the checkpoint's calibration.json.
        Raises FileNotFoundError when the checkpoint has none (its sigmoids are raw)."""
        path = os.path.join(self.config.name_or_path, CALIBRATION_FILE)
        if not os.path.isfile(path):
            raise FileNotFoundError(f"{path}: this checkpoint is not calibrated; torch.sigmoid(logits) are raw")
        return calibrate(torch.sigmoid(logits), path)

    def _init_head(self, config):
        self.head = getattr(config, "goemo_head", "mean_pooling")
        if self.head not in ("mean_pooling", "first_token"):
            raise ValueError(f"goemo_head {self.head!r} is not a goemo head (mean_pooling, first_token)")
        self.dropout = nn.Dropout(_dropout_rate(config))
        self.classifier = nn.Linear(config.hidden_size, config.num_labels)

    def _classify(self, hidden, attention_mask, labels):
        if self.head == "mean_pooling":
            if attention_mask is None:
                attention_mask = torch.ones(hidden.shape[:2], device=hidden.device)
            mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
        else:
            pooled = hidden[:, 0]
        logits = self.classifier(self.dropout(pooled))
        loss = None
        if labels is not None:
            loss = nn.functional.binary_cross_entropy_with_logits(logits, labels.to(logits.dtype))
        return SequenceClassifierOutput(loss=loss, logits=logits)


class GoemoBertForSequenceClassification(_GoemoHead, BertPreTrainedModel):
    config_class = GoemoBertConfig

    def __init__(self, config):
        super().__init__(config)
        self.bert = BertModel(config, add_pooling_layer=False)
        self._init_head(config)
        self.post_init()

    def forward(self, input_ids=None, attention_mask=None, token_type_ids=None, labels=None, **kwargs):
        hidden = self.bert(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids)[0]
        return self._classify(hidden, attention_mask, labels)


class GoemoDistilBertForSequenceClassification(_GoemoHead, DistilBertPreTrainedModel):
    config_class = GoemoDistilBertConfig

    def __init__(self, config):
        super().__init__(config)
        self.distilbert = DistilBertModel(config)
        self._init_head(config)
        self.post_init()

    def forward(self, input_ids=None, attention_mask=None, labels=None, **kwargs):
        hidden = self.distilbert(input_ids=input_ids, attention_mask=attention_mask)[0]
        return self._classify(hidden, attention_mask, labels)


class GoemoRobertaForSequenceClassification(_GoemoHead, RobertaPreTrainedModel):
    config_class = GoemoRobertaConfig

    def __init__(self, config):
        super().__init__(config)
        self.roberta = RobertaModel(config, add_pooling_layer=False)
        self._init_head(config)
        self.post_init()

    def forward(self, input_ids=None, attention_mask=None, token_type_ids=None, labels=None, **kwargs):
        hidden = self.roberta(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids)[0]
        return self._classify(hidden, attention_mask, labels)
