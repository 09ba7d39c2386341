//! The KV semantics parti relies on (parti-protocol.md §1.3), checked on both implementations
//! of the `Bucket` interface: JetStream KV on a real nats-server, and the in-memory model used
//! by the deterministic tests. If the two disagree, one of them is wrong.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt;
use parti_top::parti::kv::{Bucket, BucketSpec, KvError, KvOp, Store};
use parti_top::parti::mem_kv::MemStore;
use parti_top::parti::nats_kv::NatsStore;
use parti_top::testkit::TestServer;

async fn semantics(store: &dyn Store) {
    let bucket: Arc<dyn Bucket> = store
        .ensure_bucket(&BucketSpec {
            name: "semantics".into(),
            ttl: Duration::ZERO,
        })
        .await
        .expect("bucket");
    // Ensuring again opens the same bucket.
    store
        .ensure_bucket(&BucketSpec {
            name: "semantics".into(),
            ttl: Duration::ZERO,
        })
        .await
        .expect("again");

    let first = bucket.create("k", Bytes::from("a")).await.expect("create");
    assert_eq!(
        bucket.create("k", Bytes::from("b")).await,
        Err(KvError::AlreadyExists)
    );
    let second = bucket
        .update("k", Bytes::from("c"), first)
        .await
        .expect("update");
    assert!(second > first);
    assert_eq!(
        bucket.update("k", Bytes::from("d"), first).await,
        Err(KvError::WrongRevision)
    );
    assert_eq!(
        bucket.update("missing", Bytes::from("d"), 7).await,
        Err(KvError::WrongRevision)
    );
    let got = bucket.get("k").await.expect("get").expect("value");
    assert_eq!(
        (got.value, got.revision, got.op),
        (Bytes::from("c"), second, KvOp::Put)
    );

    bucket.delete("k").await.expect("delete");
    assert_eq!(
        bucket.get("k").await.expect("get"),
        None,
        "a deleted key reads as missing"
    );
    assert_eq!(
        bucket.entry("k").await.expect("entry").map(|e| e.op),
        Some(KvOp::Delete)
    );
    assert_eq!(bucket.get("never").await.expect("get"), None);
    assert_eq!(bucket.entry("never").await.expect("entry"), None);
    let again = bucket
        .create("k", Bytes::from("e"))
        .await
        .expect("create over a delete marker");
    assert!(again > second);

    for key in ["x", "y", "z"] {
        bucket.put(key, Bytes::from("v")).await.expect("put");
    }
    bucket.put("x", Bytes::from("w")).await.expect("put");
    bucket.delete("y").await.expect("delete");
    assert_eq!(
        bucket.keys().await.expect("keys"),
        vec!["k", "z", "x"],
        "least recently written first, deletes skipped"
    );

    let mut watch = bucket.watch("x").await.expect("watch");
    let initial = watch.next().await.expect("initial").expect("entry");
    assert_eq!(
        (initial.key.as_str(), initial.value.as_ref()),
        ("x", b"w".as_ref())
    );
    bucket.delete("x").await.expect("delete");
    let deleted = watch.next().await.expect("live").expect("entry");
    assert_eq!(
        (deleted.key.as_str(), deleted.op),
        ("x", KvOp::Delete),
        "watches deliver delete markers"
    );
    let mut all = bucket.watch(">").await.expect("watch all");
    let mut replayed = Vec::new();
    for _ in 0..4 {
        let entry = all.next().await.expect("replay").expect("entry");
        replayed.push((entry.key, entry.op));
    }
    replayed.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(
        replayed,
        vec![
            ("k".to_string(), KvOp::Put),
            ("x".to_string(), KvOp::Delete),
            ("y".to_string(), KvOp::Delete),
            ("z".to_string(), KvOp::Put)
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jetstream_kv_has_the_semantics_parti_needs() {
    let server = TestServer::start().await;
    semantics(&NatsStore::new(server.client().await)).await;
}

#[tokio::test]
async fn the_in_memory_model_has_the_same_semantics() {
    semantics(&MemStore::new()).await;
}
