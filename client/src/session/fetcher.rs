//! Documents the server sends whole (`crmBatch` `doc` items, a restore) are loaded and read for
//! the read model on worker threads, while the session goes on receiving the next ones and
//! writes what the workers read into the store ([`crate::Store::store_fetched`]).
//!
//! The session hands documents over in jobs of a few dozen ([`Fetcher::queue`], [`Fetcher::send`])
//! and collects what came back ([`Fetcher::results`]); nothing is stored by a worker, so the
//! session's transaction and its durability rule stay where they were.

use crate::store::FetchedDocument;
use crm_shared::DocumentId;
use std::sync::{mpsc, Arc, Mutex};
use std::thread::JoinHandle;
use tokio::sync::mpsc as tokio_mpsc;

/// What one job brings back: each document read, or why it does not load.
pub type Done = Vec<(DocumentId, Result<FetchedDocument, String>)>;

type Job = Vec<(DocumentId, Vec<u8>)>;

/// Documents per job: small enough that every worker has work, large enough to be cheap to pass.
const JOB_DOCUMENTS: usize = 64;

/// Worker threads reading fetched documents (ends them when dropped).
pub struct Fetcher {
    jobs: Option<mpsc::Sender<Job>>,
    results: tokio_mpsc::UnboundedReceiver<Done>,
    workers: Vec<JoinHandle<()>>,
    queued: Job,
    /// Jobs read on this thread (no worker took them).
    pending_here: Vec<Done>,
    /// Documents handed to the workers (or read here) and not collected yet.
    in_flight: usize,
}

impl Fetcher {
    /// One worker per core, at most four (at least one).
    pub fn new() -> Fetcher {
        let n = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
            .clamp(1, 4);
        let (jobs, rx) = mpsc::channel::<Job>();
        let rx = Arc::new(Mutex::new(rx));
        let (done, results) = tokio_mpsc::unbounded_channel::<Done>();
        let workers = (0..n)
            .filter_map(|i| {
                let rx = Arc::clone(&rx);
                let done = done.clone();
                std::thread::Builder::new()
                    .name(format!("crm-fetch-{i}"))
                    .spawn(move || work(&rx, &done))
                    .ok()
            })
            .collect();
        Fetcher {
            jobs: Some(jobs),
            results,
            workers,
            queued: Vec::new(),
            pending_here: Vec::new(),
            in_flight: 0,
        }
    }

    /// Queues a document for the workers (sent by [`Fetcher::send`]).
    pub fn queue(&mut self, id: DocumentId, bytes: Vec<u8>) {
        self.queued.push((id, bytes));
    }

    /// Hands the queued documents to the workers. Without workers (none could be started) they
    /// are read here, on the calling thread.
    pub fn send(&mut self) {
        while !self.queued.is_empty() {
            let rest = self.queued.split_off(self.queued.len().min(JOB_DOCUMENTS));
            let job = std::mem::replace(&mut self.queued, rest);
            self.in_flight += job.len();
            let job = match &self.jobs {
                Some(jobs) if !self.workers.is_empty() => match jobs.send(job) {
                    Ok(()) => continue,
                    Err(mpsc::SendError(job)) => job,
                },
                _ => job,
            };
            // No worker to take it (none started, or all gone): read it here.
            self.pending_here.push(read(job));
        }
    }

    /// True while documents are with the workers.
    pub fn busy(&self) -> bool {
        self.in_flight > 0
    }

    /// Waits for the next job's documents (`None` when nothing is in flight).
    pub async fn next(&mut self) -> Option<Done> {
        if self.in_flight == 0 {
            return None;
        }
        let done = match self.pending_here.pop() {
            Some(d) => d,
            None => self.results.recv().await?,
        };
        self.in_flight = self.in_flight.saturating_sub(done.len());
        Some(done)
    }

    /// Whatever else is back already, without waiting.
    pub fn ready(&mut self) -> Vec<Done> {
        let mut out = std::mem::take(&mut self.pending_here);
        while let Ok(d) = self.results.try_recv() {
            out.push(d);
        }
        for d in &out {
            self.in_flight = self.in_flight.saturating_sub(d.len());
        }
        out
    }
}

impl Drop for Fetcher {
    fn drop(&mut self) {
        self.jobs = None;
        for w in self.workers.drain(..) {
            let _ = w.join();
        }
    }
}

fn work(jobs: &Mutex<mpsc::Receiver<Job>>, done: &tokio_mpsc::UnboundedSender<Done>) {
    loop {
        let job = match jobs.lock() {
            Ok(rx) => rx.recv(),
            Err(_) => return,
        };
        let Ok(job) = job else {
            return; // the session is over
        };
        if done.send(read(job)).is_err() {
            return; // nobody collects them any more
        }
    }
}

/// Reads each document of a job. A document that makes the reading panic (a bug in reading
/// hostile bytes) fails alone, like one that does not load: were its job lost, the session
/// would wait for it until `--timeout`.
fn read(job: Job) -> Done {
    job.into_iter()
        .map(|(id, bytes)| {
            let read = std::panic::catch_unwind(move || FetchedDocument::read(id, bytes))
                .unwrap_or_else(
                    |_| Err("reading the document failed (see the panic above)".into()),
                );
            (id, read)
        })
        .collect()
}
