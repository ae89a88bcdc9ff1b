//! Group commit: every write of the embedded store (log appends and key/value writes)
//! goes to one writer thread, which runs the writes waiting at that moment in one
//! redb transaction, in the order they arrived, and commits (fsyncs) once for all of
//! them. Under one writer nothing changes: a write sees every write before it, in its
//! batch or an earlier one, exactly as if each had its own transaction. Under many,
//! the fsync that bounded the store to one write per disk flush is shared.
//!
//! The ephemeral store of `portcullis up` (`portcullis_ephemeral::FileStore`) writes
//! through a writer of its own, on its own file.
//!
//! A write that refuses (a conflict, a key that exists) writes nothing and is answered
//! with its refusal; the batch goes on. A storage failure part way through a write
//! may leave half of it in the transaction, so the whole batch is abandoned and every
//! write in it is answered `Unavailable` (it did not happen; retrying is safe); so is
//! a write that panics, and the writer goes on with the next batch. A write is
//! answered only after its batch's commit returned.

use std::sync::Arc;
use std::sync::mpsc;
use std::thread::JoinHandle;

use redb::{Database, WriteTransaction};
use tokio::sync::oneshot;

use super::begin_write;

/// Writes one transaction takes at most.
const MAX_BATCH: usize = 256;

/// An error a write can answer: some are refusals (nothing written), others storage
/// failures that abandon the batch.
pub trait WriteError: Send + 'static {
    /// Whether the write may have left part of itself in the transaction.
    fn is_failure(&self) -> bool;
    /// The answer for a write whose batch was abandoned or did not commit.
    fn abandoned(reason: &str) -> Self;
}

/// What the writer thread does with one write: run it in the batch's transaction (or,
/// given `None`, not at all), then learn whether the batch committed.
type Job = Box<dyn FnOnce(Option<&WriteTransaction>) -> Ran + Send>;

/// How a write is answered once its batch's outcome is known (`Err`: why the batch
/// did not commit).
type Answer = Box<dyn FnOnce(Result<(), &str>) + Send>;

/// A write that ran: whether it failed the batch, and how to answer it.
struct Ran {
    failed: bool,
    answer: Answer,
}

pub struct Writer {
    jobs: Option<mpsc::Sender<Job>>,
    thread: Option<JoinHandle<()>>,
}

impl Writer {
    /// Starts the writer thread of `db`.
    ///
    /// # Errors
    /// When the thread cannot be started.
    pub fn start(db: Arc<Database>) -> std::io::Result<Self> {
        let (jobs, queue) = mpsc::channel::<Job>();
        let thread = std::thread::Builder::new()
            .name("portcullis-redb-writer".into())
            .spawn(move || run(&db, &queue))?;
        Ok(Self {
            jobs: Some(jobs),
            thread: Some(thread),
        })
    }

    /// Runs `write` in the next batch and answers what it answered, once its batch
    /// committed. `then` runs on the writer thread after the commit, before the answer
    /// (to publish what the write made visible).
    ///
    /// # Errors
    /// What `write` answered, or `E::abandoned` when its batch did not commit.
    pub async fn write<T, E, F>(
        &self,
        write: F,
        then: impl FnOnce(&T) + Send + 'static,
    ) -> Result<T, E>
    where
        T: Send + 'static,
        E: WriteError,
        F: FnOnce(&WriteTransaction) -> Result<T, E> + Send + 'static,
    {
        let (tx, rx) = oneshot::channel::<Result<T, E>>();
        let job: Job = Box::new(move |txn| {
            let Some(txn) = txn else {
                let answer = move |_: Result<(), &str>| {
                    let _ = tx.send(Err(E::abandoned("an earlier write of its batch failed")));
                };
                return Ran {
                    failed: false,
                    answer: Box::new(answer),
                };
            };
            let result = write(txn);
            let failed = matches!(&result, Err(e) if e.is_failure());
            let answer = move |committed: Result<(), &str>| {
                let answer = match committed {
                    Ok(()) => {
                        if let Ok(value) = &result {
                            then(value);
                        }
                        result
                    }
                    Err(_) if failed => result,
                    Err(reason) => Err(E::abandoned(reason)),
                };
                let _ = tx.send(answer);
            };
            Ran {
                failed,
                answer: Box::new(answer),
            }
        });
        let Some(jobs) = &self.jobs else {
            return Err(E::abandoned("the store is closing"));
        };
        if jobs.send(job).is_err() {
            return Err(E::abandoned("the writer thread stopped"));
        }
        // No answer: the write panicked (its batch was abandoned) or the thread is gone.
        rx.await
            .unwrap_or_else(|_| Err(E::abandoned("the write was not carried out")))
    }
}

impl Drop for Writer {
    /// Lets the writer finish what it holds and waits for it, so the database file is
    /// closed when the store is dropped (it can be opened again at once).
    fn drop(&mut self) {
        drop(self.jobs.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn run(db: &Database, queue: &mpsc::Receiver<Job>) {
    while let Ok(first) = queue.recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match queue.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        let txn = match begin_write(db) {
            Ok(txn) => txn,
            Err(err) => {
                let reason = err.to_string();
                for job in batch {
                    (job(None).answer)(Err(&reason));
                }
                continue;
            }
        };
        let mut answers = Vec::with_capacity(batch.len());
        let mut failed = false;
        for job in batch {
            let run = std::panic::AssertUnwindSafe(|| job((!failed).then_some(&txn)));
            match std::panic::catch_unwind(run) {
                Ok(ran) => {
                    failed |= ran.failed;
                    answers.push(ran.answer);
                }
                Err(_) => {
                    tracing::error!(
                        "a write of the embedded store panicked; its batch is abandoned"
                    );
                    failed = true;
                }
            }
        }
        let outcome = if failed {
            drop(txn); // abandoned: nothing of the batch is written
            Err("an earlier write of its batch failed".to_owned())
        } else {
            txn.commit().map_err(|e| e.to_string())
        };
        for answer in answers {
            answer(outcome.as_ref().copied().map_err(String::as_str));
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::panic)] // tests fail loudly by design
mod tests {
    use redb::TableDefinition;

    use super::*;
    use crate::LogError;

    const T: TableDefinition<u64, u64> = TableDefinition::new("t");

    fn put(key: u64) -> impl FnOnce(&WriteTransaction) -> Result<u64, LogError> + Send {
        move |txn| {
            let mut table = txn.open_table(T).map_err(super::super::unavailable)?;
            table.insert(key, key).map_err(super::super::unavailable)?;
            Ok(key)
        }
    }

    fn stored(db: &Database, key: u64) -> Option<u64> {
        use redb::ReadableDatabase;
        let txn = db.begin_read().unwrap();
        let table = txn.open_table(T).ok()?;
        table.get(key).unwrap().map(|v| v.value())
    }

    /// A write that panics is answered `Unavailable`, nothing of it is stored, and the
    /// writer carries on with the writes after it.
    #[tokio::test]
    async fn a_panicking_write_fails_alone_and_the_writer_goes_on() {
        let dir = tempfile::tempdir().unwrap();
        let db = Arc::new(Database::create(dir.path().join("w.redb")).unwrap());
        let writer = Writer::start(db.clone()).unwrap();
        let panics = writer.write(
            |txn: &WriteTransaction| -> Result<u64, LogError> {
                put(1)(txn)?;
                panic!("a write that panics half way")
            },
            |_| {},
        );
        assert!(matches!(panics.await, Err(LogError::Unavailable(_))));
        assert_eq!(writer.write(put(2), |_| {}).await.unwrap(), 2);
        assert_eq!((stored(&db, 1), stored(&db, 2)), (None, Some(2)));
    }
}
