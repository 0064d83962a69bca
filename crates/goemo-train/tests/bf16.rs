//! bf16 autocast in the loop, on the CPU (libtorch's CPU autocast uses bfloat16 too): the
//! model still learns, logits come back float32 and weights stay float32. (One test per file:
//! libtorch's random generator is process-global.)

mod common;

use common::{config, synthetic, tiny_model};
use goemo_model::Precision;
use goemo_train::{train, EncodedSplit, TrainConfig};
use tch::{Kind, Tensor};

#[test]
fn bf16_autocast_learns_and_keeps_float32_weights() {
    let (train_ids, train_targets) = synthetic(480, 31);
    let (dev_ids, dev_targets) = synthetic(160, 32);
    let mut model = tiny_model();
    model.set_precision(Precision::Bf16).unwrap();
    let config = TrainConfig { epochs: 8, ..config() };
    let outcome = train(
        &mut model,
        EncodedSplit {
            ids: &train_ids,
            targets: train_targets.view(),
        },
        EncodedSplit {
            ids: &dev_ids,
            targets: dev_targets.view(),
        },
        0,
        &config,
    )
    .unwrap();
    let auc = outcome.history[outcome.best_epoch].dev.auc_micro.unwrap();
    assert!(auc > 0.9, "dev micro AUC {auc}");
    assert!(model.var_store().variables().values().all(|t| t.kind() == Kind::Float));

    // The forward pass really ran in bfloat16: its logits differ from fp32's, slightly.
    let ids = Tensor::from_slice(&[1i64, 30, 7, 31, 2]).view([1, 5]);
    let mask = Tensor::ones([1, 5], (Kind::Int64, tch::Device::Cpu));
    let bf16 = tch::no_grad(|| model.forward(&ids, &mask, None, false).unwrap());
    model.set_precision(Precision::Fp32).unwrap();
    let fp32 = tch::no_grad(|| model.forward(&ids, &mask, None, false).unwrap());
    assert_eq!(bf16.kind(), Kind::Float);
    let gap = f64::try_from((&bf16 - &fp32).abs().max()).unwrap();
    assert!(gap > 0.0 && gap < 0.1, "bf16 vs fp32 logits differ by {gap}");
}
