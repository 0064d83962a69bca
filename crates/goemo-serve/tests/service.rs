//! The batching service with a stand-in model (what it batches, refuses, times out and survives)
//! and with a real checkpoint.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use goemo_model::{EmotionClassifier, ModelError, Prediction};
use goemo_serve::{BatchPredictor, EmotionService, ServiceError, ServiceOptions};

/// Scores each text by its length; "panic" panics and "fail" fails the batch. Records the size
/// of every batch it runs.
struct Fake {
    labels: Vec<String>,
    delay: Duration,
    batches: Arc<Mutex<Vec<Vec<String>>>>,
}

impl BatchPredictor for Fake {
    fn labels(&self) -> &[String] {
        &self.labels
    }

    fn predict(&self, texts: &[&str]) -> Result<Vec<Prediction>, ModelError> {
        std::thread::sleep(self.delay);
        self.batches
            .lock()
            .unwrap()
            .push(texts.iter().map(std::string::ToString::to_string).collect());
        if texts.contains(&"panic") {
            panic!("a stand-in panic");
        }
        if texts.contains(&"fail") {
            return Err(ModelError::InvalidConfig("a stand-in failure".into()));
        }
        Ok(texts
            .iter()
            .map(|t| Prediction {
                scores: vec![("length".into(), t.len() as f32)],
                labels: vec![t.to_string()],
            })
            .collect())
    }
}

fn start(delay_ms: u64, options: ServiceOptions) -> (EmotionService, Arc<Mutex<Vec<Vec<String>>>>) {
    let batches = Arc::new(Mutex::new(Vec::new()));
    let seen = batches.clone();
    let service = EmotionService::start(
        move |_| {
            Ok(Fake {
                labels: vec!["length".into()],
                delay: Duration::from_millis(delay_ms),
                batches: seen.clone(),
            })
        },
        options,
    )
    .unwrap();
    (service, batches)
}

fn texts(t: &[&str]) -> Vec<String> {
    t.iter().map(std::string::ToString::to_string).collect()
}

#[test]
fn concurrent_callers_share_batches_and_get_their_own_rows() {
    let options = ServiceOptions {
        max_batch: 8,
        max_wait: Duration::from_millis(50),
        ..ServiceOptions::default()
    };
    let (service, batches) = start(20, options);
    let callers: Vec<_> = (0..16)
        .map(|i| {
            let service = service.clone();
            std::thread::spawn(move || (i, service.predict(vec!["x".repeat(i + 1), "yy".into()]).unwrap()))
        })
        .collect();
    for caller in callers {
        let (i, rows) = caller.join().unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(
            rows[0].labels,
            vec!["x".repeat(i + 1)],
            "caller {i} got another caller's rows"
        );
        assert_eq!(rows[1].scores[0].1, 2.0);
    }
    let sizes: Vec<usize> = batches.lock().unwrap().iter().map(Vec::len).collect();
    assert_eq!(sizes.iter().sum::<usize>(), 32);
    assert!(sizes.iter().all(|&n| n <= 8), "{sizes:?}");
    assert!(sizes.len() <= 8, "16 requests of 2 texts in batches of 8: {sizes:?}");
    assert_eq!(service.batch_sizes().count(), sizes.len() as u64);
    service.shutdown();
}

#[test]
fn a_full_queue_refuses_at_once_and_late_requests_time_out() {
    let options = ServiceOptions {
        max_batch: 1,
        max_queue: 3,
        max_wait: Duration::ZERO,
        timeout: Duration::from_millis(100),
        ..ServiceOptions::default()
    };
    let (service, batches) = start(300, options);
    let far = Instant::now() + Duration::from_secs(10);
    let busy = service.submit(texts(&["first"]), far).unwrap();
    while service.queue_depth() > 0 {
        std::thread::sleep(Duration::from_millis(1));
    }
    let waiting = service
        .submit(texts(&["a", "b"]), Instant::now() + Duration::from_millis(50))
        .unwrap();
    let asked = Instant::now();
    let err = service.submit(texts(&["c", "d"]), far).unwrap_err();
    assert!(asked.elapsed() < Duration::from_millis(50), "refused at once");
    assert!(
        matches!(
            err,
            ServiceError::Overloaded {
                queued: 2,
                max_queue: 3
            }
        ),
        "{err}"
    );
    assert!(futures::executor::block_on(busy).unwrap().is_ok());
    let late = futures::executor::block_on(waiting).unwrap().unwrap_err();
    assert!(matches!(late, ServiceError::DeadlineExceeded), "{late}");
    assert_eq!(batches.lock().unwrap().len(), 1, "the late request never ran");
    service.shutdown();
}

#[test]
fn a_panic_or_an_error_fails_its_batch_and_the_worker_goes_on() {
    let options = ServiceOptions {
        max_wait: Duration::ZERO,
        ..ServiceOptions::default()
    };
    let (service, _) = start(0, options);
    let err = service.predict(texts(&["panic"])).unwrap_err();
    assert!(
        matches!(&err, ServiceError::Panicked(m) if m.contains("stand-in panic")),
        "{err}"
    );
    let err = service.predict(texts(&["fail"])).unwrap_err();
    assert!(err.to_string().contains("stand-in failure"), "{err}");
    assert_eq!(service.predict(texts(&["ok"])).unwrap()[0].labels, ["ok"]);
    assert_eq!(service.failed_batches(), 2);
    service.shutdown();
}

#[test]
fn shutdown_answers_every_accepted_request_then_refuses() {
    let options = ServiceOptions {
        max_batch: 2,
        max_wait: Duration::ZERO,
        ..ServiceOptions::default()
    };
    let (service, _) = start(30, options);
    let far = Instant::now() + Duration::from_secs(10);
    let answers: Vec<_> = (0..6)
        .map(|i| service.submit(vec![format!("t{i}")], far).unwrap())
        .collect();
    service.shutdown();
    for (i, answer) in answers.into_iter().enumerate() {
        let rows = futures::executor::block_on(answer).unwrap().unwrap();
        assert_eq!(rows[0].labels, [format!("t{i}")]);
    }
    assert!(matches!(
        service.predict(texts(&["late"])),
        Err(ServiceError::ShuttingDown)
    ));
    service.shutdown();
}

#[test]
fn a_caller_that_went_away_is_skipped_and_frees_its_place() {
    let options = ServiceOptions {
        max_batch: 1,
        max_wait: Duration::ZERO,
        ..ServiceOptions::default()
    };
    let (service, batches) = start(100, options);
    let far = Instant::now() + Duration::from_secs(10);
    let busy = service.submit(texts(&["busy"]), far).unwrap();
    while service.queue_depth() > 0 {
        std::thread::sleep(Duration::from_millis(1));
    }
    drop(service.submit(texts(&["gone"]), far).unwrap());
    assert_eq!(service.queue_depth(), 1);
    futures::executor::block_on(busy).unwrap().unwrap();
    assert_eq!(service.predict(texts(&["after"])).unwrap()[0].labels, ["after"]);
    assert_eq!(service.queue_depth(), 0);
    let ran: Vec<Vec<String>> = batches.lock().unwrap().clone();
    assert!(!ran.iter().flatten().any(|t| t == "gone"), "{ran:?}");
    service.shutdown();
}

#[test]
fn a_worker_that_cannot_load_fails_the_start() {
    let err = EmotionService::start(
        |_| EmotionClassifier::load("/nonexistent/checkpoint"),
        ServiceOptions::default(),
    )
    .err()
    .unwrap();
    assert!(matches!(err, ServiceError::Start { worker: 0, .. }), "{err}");
    assert!(err.to_string().contains("/nonexistent/checkpoint"), "{err}");
}

#[test]
fn a_real_checkpoint_gives_the_classifiers_predictions() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../goemo-model/tests/fixtures/tiny-bert");
    let service = EmotionService::start(
        move |_| EmotionClassifier::load(dir),
        ServiceOptions {
            workers: 2,
            ..ServiceOptions::default()
        },
    )
    .unwrap();
    let direct = EmotionClassifier::load(dir).unwrap();
    let input = ["I love this!", "meh", "why would you do that 😡"];
    let want = direct.predict(&input).unwrap();
    let callers: Vec<_> = input
        .iter()
        .map(|t| {
            let (service, t) = (service.clone(), t.to_string());
            std::thread::spawn(move || service.predict(vec![t]).unwrap())
        })
        .collect();
    for (caller, want) in callers.into_iter().zip(want) {
        let got = caller.join().unwrap().remove(0);
        assert_eq!(got.labels, want.labels);
        for ((l, a), (m, b)) in got.scores.iter().zip(&want.scores) {
            assert_eq!(l, m);
            assert!((a - b).abs() < 1e-5, "{l}: {a} vs {b}");
        }
    }
    assert_eq!(service.labels().len(), 28);
    service.shutdown();
}
