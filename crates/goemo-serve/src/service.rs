//! [`EmotionService`]: a cheap, cloneable handle over worker threads that own the model. Callers
//! from any thread queue texts; each worker gathers queued requests into one batch (up to
//! `max_batch` texts, waiting at most `max_wait` after the first), runs it, and answers every
//! caller with its own rows in order. The queue is bounded: a full one is an immediate
//! [`ServiceError::Overloaded`], never unbounded memory.

use std::collections::VecDeque;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use futures::channel::oneshot;
use goemo_model::{EmotionClassifier, ModelError, Prediction};

use crate::metrics::Histogram;

/// What a worker runs batches through: goemo's [`EmotionClassifier`], or any other model.
pub trait BatchPredictor {
    /// Label names in output order.
    fn labels(&self) -> &[String];
    /// One prediction per text, in input order.
    fn predict(&self, texts: &[&str]) -> Result<Vec<Prediction>, ModelError>;
    /// Whether the scores are calibrated probabilities (false unless the model says so).
    fn calibrated(&self) -> bool {
        false
    }
}

impl BatchPredictor for EmotionClassifier {
    fn labels(&self) -> &[String] {
        EmotionClassifier::labels(self)
    }

    fn calibrated(&self) -> bool {
        self.is_calibrated()
    }

    fn predict(&self, texts: &[&str]) -> Result<Vec<Prediction>, ModelError> {
        EmotionClassifier::predict(self, texts)
    }
}

/// How the service batches and bounds its work.
#[derive(Debug, Clone, PartialEq)]
pub struct ServiceOptions {
    /// Texts per batch at most (a single larger request runs as one batch).
    pub max_batch: usize,
    /// How long a worker waits for more requests after the first of a batch.
    pub max_wait: Duration,
    /// Texts waiting in the queue at most; beyond, requests are refused at once.
    pub max_queue: usize,
    /// Worker threads, each with its own copy of the model.
    pub workers: usize,
    /// A request not started within this time is answered with [`ServiceError::DeadlineExceeded`].
    pub timeout: Duration,
}

impl Default for ServiceOptions {
    fn default() -> Self {
        ServiceOptions {
            max_batch: 32,
            max_wait: Duration::from_millis(3),
            max_queue: 1024,
            workers: 1,
            timeout: Duration::from_secs(10),
        }
    }
}

/// Why a request got no predictions. Cloneable: one batch's failure answers all its callers.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum ServiceError {
    /// The queue is full.
    #[error("overloaded: {queued} texts are queued and at most {max_queue} may be; retry later")]
    Overloaded {
        /// Texts queued.
        queued: usize,
        /// The queue's limit.
        max_queue: usize,
    },
    /// The request waited past its deadline.
    #[error("the request's deadline passed before it was run")]
    DeadlineExceeded,
    /// The service is stopping and takes no more requests.
    #[error("the service is shutting down")]
    ShuttingDown,
    /// The model failed on the batch holding the request.
    #[error("the model failed on this batch: {0}")]
    Model(Arc<ModelError>),
    /// The model panicked on the batch holding the request; the worker goes on.
    #[error("the model panicked on this batch: {0}")]
    Panicked(String),
    /// A worker could not load the model.
    #[error("worker {worker} could not load the model: {source}")]
    Start {
        /// The worker's index.
        worker: usize,
        /// Why.
        source: Arc<ModelError>,
    },
}

type Reply = Result<Vec<Prediction>, ServiceError>;

struct Job {
    texts: Vec<String>,
    deadline: Instant,
    reply: oneshot::Sender<Reply>,
}

struct Queue {
    jobs: VecDeque<Job>,
    /// Texts in `jobs`.
    texts: usize,
    accepting: bool,
}

struct Shared {
    queue: Mutex<Queue>,
    wakeup: Condvar,
    options: ServiceOptions,
    /// Set by the first worker that loads its model.
    labels: OnceLock<Vec<String>>,
    /// Whether the first worker's model gives calibrated probabilities.
    calibrated: OnceLock<bool>,
    batch_sizes: Histogram,
    failed_batches: AtomicU64,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Queue> {
        // A worker that panicked while holding the lock left the queue consistent (every
        // mutation is a single push or pop), so a poisoned lock is still usable.
        self.queue.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// A thread-safe batching front of one or more models: `Clone + Send + Sync`, cheap to clone.
///
/// ```no_run
/// use goemo_model::EmotionClassifier;
/// use goemo_serve::{EmotionService, ServiceOptions};
///
/// let service = EmotionService::start(|_| EmotionClassifier::load("runs/minilm-cpu/checkpoint"), ServiceOptions::default())?;
/// let handles: Vec<_> = (0..4)
///     .map(|i| {
///         let service = service.clone();
///         std::thread::spawn(move || service.predict(vec![format!("thanks, friend {i}!")]))
///     })
///     .collect();
/// for h in handles {
///     println!("{:?}", h.join().unwrap()?[0].labels);
/// }
/// service.shutdown();
/// # Ok::<(), goemo_serve::ServiceError>(())
/// ```
#[derive(Clone)]
pub struct EmotionService {
    shared: Arc<Shared>,
    workers: Arc<Mutex<Vec<JoinHandle<()>>>>,
}

impl EmotionService {
    /// Starts `options.workers` threads, each building its model with `load(worker_index)`
    /// (so models never cross threads); returns once every worker has loaded, or with the first
    /// worker's error.
    pub fn start<P, F>(load: F, options: ServiceOptions) -> Result<Self, ServiceError>
    where
        P: BatchPredictor + 'static,
        F: Fn(usize) -> Result<P, ModelError> + Send + Sync + 'static,
    {
        let shared = Arc::new(Shared {
            queue: Mutex::new(Queue {
                jobs: VecDeque::new(),
                texts: 0,
                accepting: true,
            }),
            wakeup: Condvar::new(),
            options,
            labels: OnceLock::new(),
            calibrated: OnceLock::new(),
            batch_sizes: Histogram::new(&[1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0]),
            failed_batches: AtomicU64::new(0),
        });
        let load = Arc::new(load);
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let workers = shared.options.workers.max(1);
        let handles = (0..workers)
            .map(|worker| {
                let (load, ready_tx, shared) = (load.clone(), ready_tx.clone(), shared.clone());
                std::thread::spawn(move || match load(worker) {
                    Ok(predictor) => {
                        shared.labels.get_or_init(|| predictor.labels().to_vec());
                        shared.calibrated.get_or_init(|| predictor.calibrated());
                        let _ = ready_tx.send(Ok(()));
                        work(&shared, &predictor);
                    }
                    Err(e) => {
                        let source = Arc::new(e);
                        let _ = ready_tx.send(Err(ServiceError::Start { worker, source }));
                    }
                })
            })
            .collect();
        let service = EmotionService {
            shared,
            workers: Arc::new(Mutex::new(handles)),
        };
        // Nothing is submitted before every worker has answered; a failed start stops the rest.
        let failure = (0..workers).find_map(|_| match ready_rx.recv() {
            Ok(Ok(())) => None,
            Ok(Err(e)) => Some(e),
            Err(_) => Some(ServiceError::ShuttingDown),
        });
        match failure {
            Some(e) => {
                service.shutdown();
                Err(e)
            }
            None => Ok(service),
        }
    }

    /// Label names in output order.
    pub fn labels(&self) -> &[String] {
        self.shared.labels.get().map_or(&[], Vec::as_slice)
    }

    /// Whether the scores are calibrated probabilities.
    pub fn calibrated(&self) -> bool {
        self.shared.calibrated.get().copied().unwrap_or(false)
    }

    /// The options the service runs with.
    pub fn options(&self) -> &ServiceOptions {
        &self.shared.options
    }

    /// Texts waiting in the queue now.
    pub fn queue_depth(&self) -> usize {
        self.shared.lock().texts
    }

    /// Sizes of the batches run so far.
    pub fn batch_sizes(&self) -> &Histogram {
        &self.shared.batch_sizes
    }

    /// Batches that failed or panicked (their requests got errors; the workers went on).
    pub fn failed_batches(&self) -> u64 {
        self.shared.failed_batches.load(Ordering::Relaxed)
    }

    /// Queues texts and returns the channel their predictions will come on; refused at once
    /// when the queue is full or the service is shutting down.
    pub fn submit(&self, texts: Vec<String>, deadline: Instant) -> Result<oneshot::Receiver<Reply>, ServiceError> {
        let (reply, answer) = oneshot::channel();
        if texts.is_empty() {
            let _ = reply.send(Ok(Vec::new()));
            return Ok(answer);
        }
        let max_queue = self.shared.options.max_queue;
        let mut queue = self.shared.lock();
        if !queue.accepting {
            return Err(ServiceError::ShuttingDown);
        }
        if queue.texts + texts.len() > max_queue {
            return Err(ServiceError::Overloaded {
                queued: queue.texts,
                max_queue,
            });
        }
        queue.texts += texts.len();
        queue.jobs.push_back(Job { texts, deadline, reply });
        drop(queue);
        self.shared.wakeup.notify_one();
        Ok(answer)
    }

    /// Predictions for `texts` in order, blocking the calling thread.
    pub fn predict(&self, texts: Vec<String>) -> Reply {
        let deadline = Instant::now() + self.shared.options.timeout;
        let answer = self.submit(texts, deadline)?;
        futures::executor::block_on(answer).unwrap_or(Err(ServiceError::ShuttingDown))
    }

    /// Predictions for `texts` in order, without blocking an async runtime's thread.
    pub async fn predict_async(&self, texts: Vec<String>) -> Reply {
        let deadline = Instant::now() + self.shared.options.timeout;
        let answer = self.submit(texts, deadline)?;
        answer.await.unwrap_or(Err(ServiceError::ShuttingDown))
    }

    /// Stops accepting requests, answers every request already accepted, and waits for the
    /// workers to finish. Later calls return at once.
    pub fn shutdown(&self) {
        self.shared.lock().accepting = false;
        self.shared.wakeup.notify_all();
        let handles: Vec<JoinHandle<()>> =
            std::mem::take(&mut *self.workers.lock().unwrap_or_else(std::sync::PoisonError::into_inner));
        for h in handles {
            let _ = h.join();
        }
    }
}

/// A worker's loop: take a batch, run it, answer its callers; until shut down and drained.
fn work<P: BatchPredictor>(shared: &Shared, predictor: &P) {
    while let Some(jobs) = next_batch(shared) {
        let now = Instant::now();
        let (live, expired): (Vec<Job>, Vec<Job>) = jobs
            .into_iter()
            .filter(|job| !job.reply.is_canceled())
            .partition(|job| job.deadline > now);
        for job in expired {
            let _ = job.reply.send(Err(ServiceError::DeadlineExceeded));
        }
        if live.is_empty() {
            continue;
        }
        let texts: Vec<&str> = live.iter().flat_map(|j| j.texts.iter().map(String::as_str)).collect();
        shared.batch_sizes.observe(texts.len() as f64);
        let outcome = catch_unwind(AssertUnwindSafe(|| predictor.predict(&texts)));
        let result = match outcome {
            Ok(Ok(predictions)) if predictions.len() == texts.len() => Ok(predictions),
            Ok(Ok(predictions)) => Err(ServiceError::Panicked(format!(
                "{} predictions for {} texts",
                predictions.len(),
                texts.len()
            ))),
            Ok(Err(e)) => Err(ServiceError::Model(Arc::new(e))),
            Err(panic) => Err(ServiceError::Panicked(panic_message(&panic))),
        };
        answer(live, result, shared);
    }
}

/// Sends each job its own rows, or the batch's error.
fn answer(jobs: Vec<Job>, result: Result<Vec<Prediction>, ServiceError>, shared: &Shared) {
    match result {
        Ok(predictions) => {
            let mut rows = predictions.into_iter();
            for job in jobs {
                let own: Vec<Prediction> = rows.by_ref().take(job.texts.len()).collect();
                let _ = job.reply.send(Ok(own));
            }
        }
        Err(e) => {
            shared.failed_batches.fetch_add(1, Ordering::Relaxed);
            for job in jobs {
                let _ = job.reply.send(Err(e.clone()));
            }
        }
    }
}

fn panic_message(panic: &Box<dyn std::any::Any + Send>) -> String {
    panic
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| panic.downcast_ref::<&str>().map(std::string::ToString::to_string))
        .unwrap_or_else(|| "a panic without a message".into())
}

/// The next batch: the oldest request, then more as they come, up to `max_batch` texts or
/// `max_wait` after the first; `None` once the service is shut down and the queue is empty.
fn next_batch(shared: &Shared) -> Option<Vec<Job>> {
    let options = &shared.options;
    let mut queue = shared.lock();
    while queue.jobs.is_empty() {
        if !queue.accepting {
            return None;
        }
        queue = shared
            .wakeup
            .wait(queue)
            .unwrap_or_else(std::sync::PoisonError::into_inner);
    }
    let first = queue.jobs.pop_front().expect("a job is queued");
    queue.texts -= first.texts.len();
    let mut total = first.texts.len();
    let mut batch = vec![first];
    let until = Instant::now() + options.max_wait;
    while total < options.max_batch {
        match queue.jobs.front() {
            Some(job) if total + job.texts.len() <= options.max_batch => {
                let job = queue.jobs.pop_front().expect("a job is queued");
                queue.texts -= job.texts.len();
                total += job.texts.len();
                batch.push(job);
            }
            // The next request does not fit: it starts the next batch.
            Some(_) => break,
            None => {
                let left = until.saturating_duration_since(Instant::now());
                if left.is_zero() || !queue.accepting {
                    break;
                }
                queue = shared
                    .wakeup
                    .wait_timeout(queue, left)
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .0;
            }
        }
    }
    Some(batch)
}
