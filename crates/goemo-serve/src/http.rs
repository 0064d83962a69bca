//! The HTTP face of an [`EmotionService`] (axum): `POST /predict`, `GET /health`,
//! `GET /labels`, `GET /metrics` (Prometheus text), request limits, JSON errors, and a
//! graceful shutdown that answers every accepted request.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::{from_fn_with_state, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Map, Value};

use crate::metrics::{Histogram, LabelledCounter};
use crate::{EmotionService, ServiceError};

/// What one request may hold.
#[derive(Debug, Clone, PartialEq)]
pub struct Limits {
    /// Texts per request.
    pub max_texts: usize,
    /// UTF-8 bytes per text (the model reads at most its maximum length in tokens anyway).
    pub max_text_bytes: usize,
    /// Bytes of a request body.
    pub max_body_bytes: usize,
    /// An answer not ready within this time is a 504.
    pub timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_texts: 64,
            max_text_bytes: 16 * 1024,
            max_body_bytes: 1024 * 1024,
            timeout: Duration::from_secs(10),
        }
    }
}

/// The request body of `POST /predict`: `{"texts": [...]}` or `{"text": "..."}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PredictRequest {
    texts: Option<Vec<String>>,
    text: Option<String>,
}

struct AppState {
    service: EmotionService,
    limits: Limits,
    requests: LabelledCounter,
    latency: Histogram,
}

fn error(status: StatusCode, message: impl Into<String>) -> Response {
    (status, Json(json!({ "error": message.into() }))).into_response()
}

/// The router over `service`; requests are checked against `limits`.
pub fn router(service: EmotionService, limits: Limits) -> Router {
    let state = Arc::new(AppState {
        service,
        requests: LabelledCounter::default(),
        latency: Histogram::new(&[0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0]),
        limits: limits.clone(),
    });
    Router::new()
        .route("/predict", post(predict))
        .route("/health", get(health))
        .route("/labels", get(labels))
        .route("/metrics", get(metrics))
        .layer(DefaultBodyLimit::max(limits.max_body_bytes))
        .layer(from_fn_with_state(state.clone(), track))
        .with_state(state)
}

/// Counts every response by status and times it.
async fn track(State(state): State<Arc<AppState>>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let response = next.run(request).await;
    state.latency.observe(started.elapsed().as_secs_f64());
    state.requests.increment(response.status().as_str());
    response
}

/// The texts of a request body, or the status and message that refuse it.
fn texts_of(body: Result<Bytes, BytesRejection>, limits: &Limits) -> Result<Vec<String>, (StatusCode, String)> {
    let body = body.map_err(|e| {
        let status = e.status();
        let message = if status == StatusCode::PAYLOAD_TOO_LARGE {
            format!("the body is over {} bytes", limits.max_body_bytes)
        } else {
            e.body_text()
        };
        (status, message)
    })?;
    let request: PredictRequest =
        serde_json::from_slice(&body).map_err(|e| (StatusCode::BAD_REQUEST, format!("invalid request body: {e}")))?;
    let texts = match (request.texts, request.text) {
        (Some(texts), None) => texts,
        (None, Some(text)) => vec![text],
        _ => {
            return Err((
                StatusCode::BAD_REQUEST,
                "give either \"texts\" (a list) or \"text\"".into(),
            ))
        }
    };
    if texts.len() > limits.max_texts {
        let message = format!("{} texts, at most {} per request", texts.len(), limits.max_texts);
        return Err((StatusCode::PAYLOAD_TOO_LARGE, message));
    }
    if let Some((i, t)) = texts.iter().enumerate().find(|(_, t)| t.len() > limits.max_text_bytes) {
        let message = format!("text {i} has {} bytes, at most {}", t.len(), limits.max_text_bytes);
        return Err((StatusCode::PAYLOAD_TOO_LARGE, message));
    }
    Ok(texts)
}

async fn predict(State(state): State<Arc<AppState>>, body: Result<Bytes, BytesRejection>) -> Response {
    let texts = match texts_of(body, &state.limits) {
        Ok(texts) => texts,
        Err((status, message)) => return error(status, message),
    };
    let answer = tokio::time::timeout(state.limits.timeout, state.service.predict_async(texts)).await;
    let predictions = match answer {
        Ok(Ok(p)) => p,
        Ok(Err(e @ (ServiceError::Overloaded { .. } | ServiceError::ShuttingDown))) => {
            let mut response = error(StatusCode::SERVICE_UNAVAILABLE, e.to_string());
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            return response;
        }
        Ok(Err(e @ ServiceError::DeadlineExceeded)) => return error(StatusCode::GATEWAY_TIMEOUT, e.to_string()),
        Ok(Err(e)) => return error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
        // Dropping the request's channel tells the worker to skip it.
        Err(_) => return error(StatusCode::GATEWAY_TIMEOUT, "no answer within the request timeout"),
    };
    let predictions: Vec<Value> = predictions
        .into_iter()
        .map(|p| {
            let scores: Map<String, Value> = p.scores.into_iter().map(|(l, s)| (l, json!(s))).collect();
            json!({ "labels": p.labels, "scores": scores })
        })
        .collect();
    // Whether "scores" are calibrated probabilities (a checkpoint without calibration.json gives
    // the model's raw sigmoids).
    Json(json!({ "predictions": predictions, "calibrated": state.service.calibrated() })).into_response()
}

async fn health(State(state): State<Arc<AppState>>) -> Response {
    let queued = state.service.queue_depth();
    Json(json!({
        "status": "ok",
        "labels": state.service.labels().len(),
        "calibrated": state.service.calibrated(),
        "queued_texts": queued,
    }))
    .into_response()
}

async fn labels(State(state): State<Arc<AppState>>) -> Response {
    Json(json!({ "labels": state.service.labels() })).into_response()
}

async fn metrics(State(state): State<Arc<AppState>>) -> Response {
    let mut out = String::new();
    state.requests.render(
        "goemo_http_requests_total",
        "HTTP responses by status",
        "status",
        &mut out,
    );
    state.latency.render(
        "goemo_http_request_duration_seconds",
        "time to answer a request",
        &mut out,
    );
    let service = &state.service;
    service
        .batch_sizes()
        .render("goemo_batch_size_texts", "texts per model batch", &mut out);
    out += &format!(
        "# HELP goemo_queue_depth_texts texts waiting for a worker\n# TYPE goemo_queue_depth_texts gauge\ngoemo_queue_depth_texts {}\n",
        service.queue_depth()
    );
    out += &format!(
        "# HELP goemo_failed_batches_total batches the model failed on\n# TYPE goemo_failed_batches_total counter\ngoemo_failed_batches_total {}\n",
        service.failed_batches()
    );
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], out).into_response()
}

/// Serves `service` on `listener` until `shutdown` resolves; then stops accepting connections,
/// lets in-flight requests finish, and answers every request the service accepted.
pub async fn serve(
    listener: tokio::net::TcpListener,
    service: EmotionService,
    limits: Limits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let app = router(service.clone(), limits);
    axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>())
        .with_graceful_shutdown(shutdown)
        .await?;
    tokio::task::spawn_blocking(move || service.shutdown())
        .await
        .map_err(std::io::Error::other)
}

/// Resolves on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let interrupt = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => {}
        () = terminate => {}
    }
}
