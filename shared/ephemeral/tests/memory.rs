//! The conformance suite against the in-process store.

#![allow(clippy::unwrap_used)] // tests fail loudly by design

use portcullis_ephemeral::{EphemeralStore, MemoryStore};

async fn memory_store() -> ((), Box<dyn EphemeralStore>) {
    ((), Box::new(MemoryStore::new()))
}

portcullis_ephemeral::conformance_tests!(memory_store);
