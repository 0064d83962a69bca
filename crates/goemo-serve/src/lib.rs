//! Serving goemo under load.
//!
//! [`EmotionService`] is a thread-safe handle over worker threads that own the model: requests
//! from many callers are queued (bounded), gathered into batches within a few milliseconds, run,
//! and answered each with its own rows. [`router`] and [`serve`] put it behind HTTP (axum), with
//! limits, JSON errors, Prometheus metrics and a graceful shutdown; the `serve` example is the
//! server binary.

mod http;
pub mod metrics;
mod service;

pub use http::{router, serve, shutdown_signal, Limits};
pub use service::{BatchPredictor, EmotionService, ServiceError, ServiceOptions};
