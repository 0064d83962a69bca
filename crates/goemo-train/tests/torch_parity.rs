//! AdamW, schedules, clipping and losses equal PyTorch's and `transformers`' (fixture made by
//! `scripts/make_train_fixtures.py`).

use goemo_train::{clip_grad_norm, AdamW, AdamWConfig, Loss, LrSchedule, Optimizer, Schedule, ScheduleKind};
use serde_json::Value;
use tch::{Kind, Tensor};

fn reference() -> Value {
    serde_json::from_str(include_str!("fixtures/torch_reference.json")).unwrap()
}

/// A tensor of any shape from nested JSON arrays, in f64.
fn tensor(v: &Value) -> Tensor {
    fn flatten(v: &Value, out: &mut Vec<f64>, shape: &mut Vec<i64>, depth: usize) {
        match v {
            Value::Array(items) => {
                if shape.len() == depth {
                    shape.push(items.len() as i64);
                }
                for item in items {
                    flatten(item, out, shape, depth + 1);
                }
            }
            other => out.push(other.as_f64().unwrap()),
        }
    }
    let (mut values, mut shape) = (Vec::new(), Vec::new());
    flatten(v, &mut values, &mut shape, 0);
    Tensor::from_slice(&values).view(shape.as_slice())
}

fn max_diff(a: &Tensor, b: &Tensor) -> f64 {
    (a - b).abs().max().double_value(&[])
}

/// Sets `param.grad` to `g` through a backward pass of `(param · g).sum()`.
fn set_grad(param: &Tensor, g: &Tensor) {
    (param * g).sum(Kind::Double).backward();
}

#[test]
fn adamw_with_decay_groups_and_linear_warmup_equals_pytorch() {
    let r = &reference()["adamw"];
    let names: Vec<String> = serde_json::from_value(r["names"].clone()).unwrap();
    let params: Vec<Tensor> = r["initial"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| tensor(v).set_requires_grad(true))
        .collect();
    let config = AdamWConfig {
        weight_decay: r["weight_decay"].as_f64().unwrap(),
        ..AdamWConfig::default()
    };
    let mut optimizer = AdamW::new(
        names
            .iter()
            .cloned()
            .zip(params.iter().map(Tensor::shallow_clone))
            .collect(),
        config,
    );
    let schedule = Schedule {
        peak_lr: r["lr"].as_f64().unwrap(),
        warmup_steps: r["warmup"].as_u64().unwrap(),
        total_steps: r["total"].as_u64().unwrap(),
        kind: ScheduleKind::Linear,
    };
    for (k, step) in r["steps"].as_array().unwrap().iter().enumerate() {
        let lr = schedule.lr(k as u64);
        assert!((lr - step["lr"].as_f64().unwrap()).abs() < 1e-15, "step {k}: lr {lr}");
        optimizer.zero_grad();
        for (p, g) in params.iter().zip(step["grads"].as_array().unwrap()) {
            set_grad(p, &tensor(g));
        }
        optimizer.set_learning_rate(lr);
        optimizer.step().unwrap();
        for (i, (p, want)) in params.iter().zip(step["params"].as_array().unwrap()).enumerate() {
            let diff = max_diff(p, &tensor(want));
            assert!(diff < 1e-12, "step {k}, {}: {diff}", names[i]);
        }
    }
    assert_eq!(optimizer.updates(), 6);
}

#[test]
fn optimiser_state_round_trips() {
    let p = Tensor::from_slice(&[1.0f64, -2.0, 3.0]).set_requires_grad(true);
    let mut a = AdamW::new(vec![("w".into(), p.shallow_clone())], AdamWConfig::default());
    set_grad(&p, &Tensor::from_slice(&[0.5f64, 0.1, -0.3]));
    a.set_learning_rate(0.1);
    a.step().unwrap();
    let (state, step) = (a.state(), a.updates());
    let q = p.detach().copy().set_requires_grad(true);
    let mut b = AdamW::new(vec![("w".into(), q.shallow_clone())], AdamWConfig::default());
    b.load_state(&state, step).unwrap();
    for opt_and_param in [(&mut a, &p), (&mut b, &q)] {
        let (opt, param) = opt_and_param;
        opt.zero_grad();
        set_grad(param, &Tensor::from_slice(&[0.2f64, 0.2, 0.2]));
        opt.set_learning_rate(0.1);
        opt.step().unwrap();
    }
    assert_eq!(max_diff(&p, &q), 0.0, "same state, same update");
    let mut c = AdamW::new(vec![("other".into(), q.shallow_clone())], AdamWConfig::default());
    assert!(c
        .load_state(&state, step)
        .unwrap_err()
        .to_string()
        .contains("exp_avg.other"));
}

#[test]
fn cosine_schedule_equals_transformers() {
    let r = &reference()["cosine"];
    let schedule = Schedule {
        peak_lr: 1.0,
        warmup_steps: r["warmup"].as_u64().unwrap(),
        total_steps: r["total"].as_u64().unwrap(),
        kind: ScheduleKind::Cosine,
    };
    for (k, want) in r["lrs"].as_array().unwrap().iter().enumerate() {
        assert!(
            (schedule.lr(k as u64) - want.as_f64().unwrap()).abs() < 1e-12,
            "step {k}"
        );
    }
    let ratio = Schedule::with_warmup_ratio(1e-4, 0.1, 1357, ScheduleKind::Linear);
    assert_eq!(ratio.warmup_steps, 136);
}

#[test]
fn gradient_clipping_equals_clip_grad_norm() {
    let r = &reference()["clip"];
    let params: Vec<Tensor> = r["grads"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| {
            let p = tensor(g).zeros_like().set_requires_grad(true);
            set_grad(&p, &tensor(g));
            p
        })
        .collect();
    let norm = clip_grad_norm(&params, r["max_norm"].as_f64().unwrap())
        .unwrap()
        .double_value(&[]);
    assert!((norm - r["norm"].as_f64().unwrap()).abs() < 1e-12);
    for (p, want) in params.iter().zip(r["clipped"].as_array().unwrap()) {
        assert!(max_diff(&p.grad(), &tensor(want)) < 1e-12);
    }
}

#[test]
fn losses_equal_pytorch() {
    let r = &reference()["loss"];
    let (logits, targets) = (
        tensor(&r["logits"]).to_kind(Kind::Float),
        tensor(&r["targets"]).to_kind(Kind::Float),
    );
    let value = |loss: Loss| loss.compute(&logits, &targets).unwrap().double_value(&[]);
    assert!((value(Loss::Bce) - r["bce"].as_f64().unwrap()).abs() < 1e-6);
    let pos_weight = serde_json::from_value(r["pos_weight"].clone()).unwrap();
    assert!((value(Loss::WeightedBce { pos_weight }) - r["weighted_bce"].as_f64().unwrap()).abs() < 1e-6);
    let focal = Loss::Focal {
        alpha: r["alpha"].as_f64().unwrap(),
        gamma: r["gamma"].as_f64().unwrap(),
    };
    assert!((value(focal) - r["focal"].as_f64().unwrap()).abs() < 1e-6);
    let wrong = Loss::WeightedBce { pos_weight: vec![1.0] };
    assert!(wrong
        .compute(&logits, &targets)
        .unwrap_err()
        .to_string()
        .contains("1 positive weights for 3 labels"));
}

#[test]
fn no_decay_on_biases_and_layer_norms() {
    assert!(goemo_train::decays("bert.encoder.layer.0.output.dense.weight"));
    assert!(!goemo_train::decays("bert.encoder.layer.0.output.dense.bias"));
    assert!(!goemo_train::decays("bert.encoder.layer.0.output.LayerNorm.weight"));
    assert!(!goemo_train::decays(
        "distilbert.transformer.layer.0.sa_layer_norm.weight"
    ));
}
