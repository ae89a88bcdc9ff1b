//! The conformance suite against the file-backed store of the embedded deployment, and
//! what it adds: entries outlive the process.

#![allow(clippy::unwrap_used)] // tests fail loudly by design

use std::time::Duration;

use bytes::Bytes;
use portcullis_ephemeral::{EphemeralStore, FileStore};

async fn file_store() -> (tempfile::TempDir, Box<dyn EphemeralStore>) {
    let dir = tempfile::tempdir().unwrap();
    let store = FileStore::open(&dir.path().join("ephemeral.redb"))
        .await
        .unwrap();
    (dir, Box::new(store))
}

portcullis_ephemeral::conformance_tests!(file_store);

#[tokio::test]
async fn entries_survive_reopening_and_expired_ones_do_not() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ephemeral.redb");
    {
        let store = FileStore::open(&path).await.unwrap();
        let minute = Duration::from_secs(60);
        store
            .put("kept", Bytes::from_static(b"v"), minute)
            .await
            .unwrap();
        store
            .put("brief", Bytes::from_static(b"v"), Duration::from_millis(1))
            .await
            .unwrap();
        assert_eq!(store.incr("count", minute).await.unwrap(), 1);
    }
    tokio::time::sleep(Duration::from_millis(5)).await;
    let store = FileStore::open(&path).await.unwrap();
    assert_eq!(store.get("kept").await.unwrap().as_deref(), Some(&b"v"[..]));
    assert_eq!(store.get("brief").await.unwrap(), None);
    assert_eq!(
        store.incr("count", Duration::from_secs(60)).await.unwrap(),
        2
    );
}
