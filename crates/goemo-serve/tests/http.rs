//! The HTTP router on loopback with a stand-in model: answers, limits, errors, metrics and a
//! graceful shutdown.

use std::time::Duration;

use goemo_model::{ModelError, Prediction};
use goemo_serve::{serve, BatchPredictor, EmotionService, Limits, ServiceOptions};
use serde_json::{json, Value};

/// "joy" when a text has an exclamation mark; sleeps `delay` per batch.
struct Fake {
    labels: Vec<String>,
    delay: Duration,
}

impl BatchPredictor for Fake {
    fn labels(&self) -> &[String] {
        &self.labels
    }

    fn predict(&self, texts: &[&str]) -> Result<Vec<Prediction>, ModelError> {
        std::thread::sleep(self.delay);
        Ok(texts
            .iter()
            .map(|t| {
                let joy = if t.contains('!') { 0.9 } else { 0.1 };
                Prediction {
                    scores: vec![("joy".into(), joy), ("anger".into(), 0.2)],
                    labels: if joy > 0.5 { vec!["joy".into()] } else { vec![] },
                }
            })
            .collect())
    }
}

struct Server {
    base: String,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    done: tokio::task::JoinHandle<std::io::Result<()>>,
}

async fn start(delay_ms: u64, options: ServiceOptions, limits: Limits) -> Server {
    let service = EmotionService::start(
        move |_| {
            Ok(Fake {
                labels: vec!["joy".into(), "anger".into()],
                delay: Duration::from_millis(delay_ms),
            })
        },
        options,
    )
    .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let done = tokio::spawn(serve(listener, service, limits, async {
        let _ = stopped.await;
    }));
    Server {
        base,
        stop: Some(stop),
        done,
    }
}

async fn post(base: &str, body: impl Into<reqwest::Body>) -> (u16, Option<String>, Value) {
    let response = reqwest::Client::new()
        .post(format!("{base}/predict"))
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let retry = response
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().to_string());
    (status, retry, response.json().await.unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn predictions_labels_health_and_metrics() {
    let server = start(0, ServiceOptions::default(), Limits::default()).await;
    let (status, _, body) = post(&server.base, json!({"texts": ["yay!", "meh"]}).to_string()).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["predictions"][0]["labels"], json!(["joy"]));
    assert_eq!(body["predictions"][1]["labels"], json!([]));
    assert_eq!(
        body["calibrated"],
        json!(false),
        "a predictor is uncalibrated unless it says so"
    );
    assert_eq!(
        body["predictions"][1]["scores"]["anger"].as_f64().unwrap(),
        f64::from(0.2f32)
    );
    let (status, _, body) = post(&server.base, json!({"text": "one!"}).to_string()).await;
    assert_eq!((status, body["predictions"].as_array().unwrap().len()), (200, 1));

    let get = |path: &str| reqwest::get(format!("{}{path}", server.base));
    let labels: Value = get("/labels").await.unwrap().json().await.unwrap();
    assert_eq!(labels["labels"], json!(["joy", "anger"]));
    let health: Value = get("/health").await.unwrap().json().await.unwrap();
    assert_eq!(health["status"], "ok");
    let metrics = get("/metrics").await.unwrap().text().await.unwrap();
    for line in [
        "goemo_http_requests_total{status=\"200\"} 4",
        "goemo_batch_size_texts_count 2",
        "goemo_queue_depth_texts 0",
        "# TYPE goemo_http_request_duration_seconds histogram",
    ] {
        assert!(metrics.contains(line), "{line} not in\n{metrics}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_requests_get_json_errors_that_say_what_is_wrong() {
    let limits = Limits {
        max_texts: 3,
        max_text_bytes: 10,
        max_body_bytes: 200,
        ..Limits::default()
    };
    let server = start(0, ServiceOptions::default(), limits).await;
    let cases: [(String, u16, &str); 6] = [
        ("{\"texts\": [\"a\"".into(), 400, "EOF"),
        (json!({"texts": 3}).to_string(), 400, "invalid type: integer `3`"),
        (json!({"txt": "a"}).to_string(), 400, "unknown field `txt`"),
        (
            json!({"texts": ["a", "b", "c", "d"]}).to_string(),
            413,
            "4 texts, at most 3",
        ),
        (
            json!({"text": "a much longer text"}).to_string(),
            413,
            "18 bytes, at most 10",
        ),
        (json!({"text": "x".repeat(300)}).to_string(), 413, "over 200 bytes"),
    ];
    for (body, want_status, want_message) in cases {
        let (status, _, answer) = post(&server.base, body.clone()).await;
        let message = answer["error"].as_str().unwrap_or_default();
        assert_eq!(status, want_status, "{body}: {answer}");
        assert!(message.contains(want_message), "{body}: {message}");
    }
    let (status, _, _) = post(&server.base, vec![0xffu8, 0xfe]).await;
    assert_eq!(status, 400, "invalid UTF-8 is a bad request");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn overload_is_503_with_retry_after_and_a_slow_answer_is_504() {
    let options = ServiceOptions {
        max_batch: 1,
        max_queue: 1,
        max_wait: Duration::ZERO,
        ..ServiceOptions::default()
    };
    let limits = Limits {
        timeout: Duration::from_millis(400),
        ..Limits::default()
    };
    let server = start(300, options, limits).await;
    let base = server.base.clone();
    // The first request occupies the worker; of the next three, one waits in the queue and two
    // are refused.
    let first = {
        let base = base.clone();
        tokio::spawn(async move { post(&base, json!({"text": "first"}).to_string()).await })
    };
    tokio::time::sleep(Duration::from_millis(100)).await;
    let requests: Vec<_> = (0..3)
        .map(|i| {
            let base = base.clone();
            tokio::spawn(async move { post(&base, json!({"text": format!("t{i}")}).to_string()).await })
        })
        .collect();
    let mut statuses = vec![first.await.unwrap().0];
    for r in requests {
        let (status, retry, body) = r.await.unwrap();
        if status == 503 {
            assert_eq!(retry.as_deref(), Some("1"), "{body}");
            assert!(body["error"].as_str().unwrap().contains("overloaded"), "{body}");
        }
        statuses.push(status);
    }
    statuses.sort_unstable();
    // The queued one waits for the first (300 ms), then runs past the 400 ms timeout.
    assert_eq!(statuses, [200, 503, 503, 504], "{statuses:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn shutdown_answers_the_requests_in_flight() {
    let options = ServiceOptions {
        max_batch: 2,
        max_wait: Duration::ZERO,
        ..ServiceOptions::default()
    };
    let mut server = start(100, options, Limits::default()).await;
    let requests: Vec<_> = (0..6)
        .map(|i| {
            let base = server.base.clone();
            tokio::spawn(async move { post(&base, json!({"text": format!("t{i}!")}).to_string()).await.0 })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(150)).await;
    let _ = server.stop.take().unwrap().send(());
    for r in requests {
        assert_eq!(r.await.unwrap(), 200);
    }
    server.done.await.unwrap().unwrap();
    assert!(
        reqwest::get(format!("{}/health", server.base)).await.is_err(),
        "stopped listening"
    );
}
