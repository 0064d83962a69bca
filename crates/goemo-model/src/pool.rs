//! Throughput over many texts: several copies of a classifier, each on a thread of its own with
//! its own libtorch threads, sharing the texts. With one libtorch thread per worker every
//! operator runs on one core, with no synchronisation between cores inside it
//! (`scripts/bench_cpu_inference.py` measures it against one classifier on all the threads).

use std::sync::mpsc;
use std::thread::JoinHandle;

use ndarray::Array2;

use crate::classifier::{EmotionClassifier, Prediction};
use crate::error::{ModelError, Result};
use crate::precision::InferenceMode;

/// Texts for a worker, and where its probabilities go.
type Job = (Vec<String>, mpsc::Sender<Result<Array2<f64>>>);

/// A worker thread with its own classifier.
struct Worker {
    jobs: Option<mpsc::Sender<Job>>,
    handle: Option<JoinHandle<()>>,
}

/// `workers` copies of one classifier: the first on the calling thread (whose labels,
/// thresholds and calibration [`ClassifierPool::front`] gives), the others on threads of their
/// own. Each text goes to one of them; the results come back in input order, equal to one
/// classifier's.
///
/// ```no_run
/// use goemo_model::{ClassifierPool, EmotionClassifier};
/// # fn demo() -> goemo_model::Result<()> {
/// let pool = ClassifierPool::start(2, 1, || EmotionClassifier::load("runs/minilm-cpu/checkpoint"))?;
/// let probabilities = pool.probabilities(&["thank you!", "this is awful"])?;
/// # Ok(()) }
/// ```
pub struct ClassifierPool {
    front: EmotionClassifier,
    workers: Vec<Worker>,
}

impl std::fmt::Debug for ClassifierPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClassifierPool")
            .field("front", &self.front)
            .field("workers", &(self.workers.len() + 1))
            .finish()
    }
}

impl ClassifierPool {
    /// `workers` classifiers made by `load` (once per worker, on the worker's thread, all at
    /// once), each running libtorch with `threads_per_worker` threads (0: libtorch's default).
    /// Fails with the calling thread's load error, else the first worker's.
    pub fn start<F>(workers: usize, threads_per_worker: usize, load: F) -> Result<Self>
    where
        F: Fn() -> Result<EmotionClassifier> + Send + Sync + 'static,
    {
        let set_threads = move || {
            if threads_per_worker > 0 {
                tch::set_num_threads(threads_per_worker as i32);
            }
        };
        let load = std::sync::Arc::new(load);
        let mut started = Vec::new();
        let mut ready = Vec::new();
        for i in 1..workers.max(1) {
            let (jobs, inbox) = mpsc::channel::<Job>();
            let (loaded, on_load) = mpsc::channel::<Result<()>>();
            let load = load.clone();
            let handle = std::thread::Builder::new()
                .name(format!("goemo-classifier-{i}"))
                .spawn(move || {
                    set_threads();
                    let classifier = match load() {
                        Ok(c) => {
                            let _ = loaded.send(Ok(()));
                            c
                        }
                        Err(e) => {
                            let _ = loaded.send(Err(e));
                            return;
                        }
                    };
                    for (texts, reply) in inbox {
                        let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
                        let _ = reply.send(classifier.probabilities_f64(&refs));
                    }
                })
                .map_err(|e| ModelError::Worker(format!("cannot start a classifier thread: {e}")))?;
            started.push(Worker {
                jobs: Some(jobs),
                handle: Some(handle),
            });
            ready.push(on_load);
        }
        // The front classifier loads while the workers load theirs.
        set_threads();
        let pool = ClassifierPool {
            front: load()?,
            workers: started,
        };
        for on_load in ready {
            on_load
                .recv()
                .map_err(|_| ModelError::Worker("a classifier thread ended while loading".into()))??;
        }
        Ok(pool)
    }

    /// [`EmotionClassifier::describe_mode`], with the number of workers when there are several.
    pub fn describe_mode(&self, requested: InferenceMode) -> String {
        let line = self.front.describe_mode(requested);
        match self.workers() {
            1 => line,
            n => format!("{line}; {n} workers"),
        }
    }

    /// The classifier on the calling thread: labels, thresholds, calibration and mode.
    pub fn front(&self) -> &EmotionClassifier {
        &self.front
    }

    /// Classifiers in the pool.
    pub fn workers(&self) -> usize {
        self.workers.len() + 1
    }

    /// [`EmotionClassifier::probabilities_f64`], the texts shared among the workers: ordered by
    /// length and dealt out in turn, so that each worker's batches are as long as the others'.
    pub fn probabilities_f64(&self, texts: &[&str]) -> Result<Array2<f64>> {
        let n = self.workers();
        if n == 1 || texts.len() < 2 {
            return self.front.probabilities_f64(texts);
        }
        let mut order: Vec<usize> = (0..texts.len()).collect();
        order.sort_by_key(|&i| texts[i].len());
        let shares: Vec<Vec<usize>> = (0..n)
            .map(|w| order.iter().copied().skip(w).step_by(n).collect())
            .collect();
        let mut replies = Vec::with_capacity(n - 1);
        for (worker, share) in self.workers.iter().zip(&shares[1..]) {
            let (reply, answer) = mpsc::channel();
            let texts = share.iter().map(|&i| texts[i].to_string()).collect();
            worker
                .jobs
                .as_ref()
                .and_then(|jobs| jobs.send((texts, reply)).ok())
                .ok_or_else(|| ModelError::Worker("a classifier thread has ended".into()))?;
            replies.push(answer);
        }
        let own: Vec<&str> = shares[0].iter().map(|&i| texts[i]).collect();
        let mut results = vec![self.front.probabilities_f64(&own)];
        for answer in replies {
            results.push(
                answer
                    .recv()
                    .map_err(|_| ModelError::Worker("a classifier thread ended while scoring".into()))?,
            );
        }
        let mut all = Array2::zeros((texts.len(), self.front.labels().len()));
        for (share, result) in shares.iter().zip(results) {
            for (row, &i) in result?.rows().into_iter().zip(share) {
                all.row_mut(i).assign(&row);
            }
        }
        Ok(all)
    }

    /// [`EmotionClassifier::probabilities`], shared among the workers.
    pub fn probabilities(&self, texts: &[&str]) -> Result<Array2<f32>> {
        Ok(self.probabilities_f64(texts)?.mapv(|p| p as f32))
    }

    /// [`EmotionClassifier::predict`], shared among the workers.
    pub fn predict(&self, texts: &[&str]) -> Result<Vec<Prediction>> {
        self.front.predictions(self.probabilities_f64(texts)?)
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        // Closing the channel ends the worker's loop.
        self.jobs.take();
        if let Some(handle) = self.handle.take() {
            let _ = handle.join();
        }
    }
}
