//! Concurrent exact queries answered together. One query streams every item row through
//! memory (26 MB for 100k items of width 66) to score them; the queries waiting at that moment
//! share one blocked matrix product instead, which reads the rows once for all of them. A
//! lone query goes at once: nothing waits for a batch to fill.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::Arc;

use netrex::retrieval::{Filter, Ranked};
use tokio::sync::oneshot;

use super::served::{Exact, Served};
use super::ApiError;

/// One query waiting for the shared search, with the model it started on.
struct Job {
    served: Arc<Served>,
    exact: Exact,
    reply: oneshot::Sender<Result<Vec<Ranked>, String>>,
}

/// The handle requests send their exact queries through.
pub(crate) struct Batcher {
    jobs: mpsc::Sender<Job>,
    /// Searches run, and the queries they held (their ratio is the mean batch).
    pub(crate) batches: Arc<AtomicU64>,
    pub(crate) batched: Arc<AtomicU64>,
}

impl Batcher {
    /// Starts the search thread; it takes up to `most` waiting queries a search.
    pub(crate) fn start(most: usize) -> std::io::Result<Batcher> {
        let (jobs, waiting) = mpsc::channel();
        let batches = Arc::new(AtomicU64::new(0));
        let batched = Arc::new(AtomicU64::new(0));
        let counts = (batches.clone(), batched.clone());
        std::thread::Builder::new()
            .name("netrex-search".into())
            .spawn(move || run(&waiting, most.max(1), &counts.0, &counts.1))?;
        Ok(Batcher {
            jobs,
            batches,
            batched,
        })
    }

    /// Queues `exact` on `served`'s index; the answer comes when its batch is searched.
    pub(crate) fn submit(
        &self,
        served: Arc<Served>,
        exact: Exact,
    ) -> oneshot::Receiver<Result<Vec<Ranked>, String>> {
        let (reply, answer) = oneshot::channel();
        // a stopped thread drops the job, and so its reply: the receiver then reports it
        let _ = self.jobs.send(Job {
            served,
            exact,
            reply,
        });
        answer
    }
}

/// What a submitted query's receiver yields, as the handler answers it.
pub(crate) async fn wait(
    answer: oneshot::Receiver<Result<Vec<Ranked>, String>>,
) -> Result<Vec<Ranked>, ApiError> {
    match answer.await {
        Ok(found) => found.map_err(ApiError::bad),
        Err(_) => Err(ApiError::unavailable("the search thread stopped")),
    }
}

fn run(waiting: &mpsc::Receiver<Job>, most: usize, batches: &AtomicU64, batched: &AtomicU64) {
    while let Ok(first) = waiting.recv() {
        let mut jobs = vec![first];
        while jobs.len() < most {
            match waiting.try_recv() {
                Ok(job) => jobs.push(job),
                Err(_) => break,
            }
        }
        // a reload mid-batch leaves queries on two models: each model's share goes apart
        while let Some(model) = jobs.first().map(|j| j.served.clone()) {
            let (now, later) = jobs
                .into_iter()
                .partition(|j| Arc::ptr_eq(&j.served, &model));
            jobs = later;
            batches.fetch_add(1, Ordering::Relaxed);
            batched.fetch_add(now.len() as u64, Ordering::Relaxed);
            search(&model, now);
        }
    }
}

/// Answers `jobs`, all on `served`, with one call to the index.
fn search(served: &Served, jobs: Vec<Job>) {
    let Some(index) = served.exact_index() else {
        for job in jobs {
            let _ = job.reply.send(Err("this model has no exact index".into()));
        }
        return;
    };
    let queries: Vec<f32> = jobs
        .iter()
        .flat_map(|j| j.exact.query.iter().copied())
        .collect();
    let seen: Vec<&[u32]> = jobs.iter().map(|j| j.exact.seen.as_slice()).collect();
    let k = jobs.iter().map(|j| j.exact.k).max().unwrap_or(1);
    let filter = Filter {
        seen: &seen,
        ..Filter::default()
    };
    match index.top_k(&queries, None, k, &filter) {
        Ok(found) => {
            for (job, mut best) in jobs.into_iter().zip(found) {
                best.truncate(job.exact.k);
                let _ = job.reply.send(Ok(best));
            }
        }
        Err(e) => {
            for job in jobs {
                let _ = job.reply.send(Err(e.to_string()));
            }
        }
    }
}
