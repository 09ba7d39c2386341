//! A managed 3-node nats-server cluster with real processes: JetStream assets at 3 replicas
//! keep taking writes through a client with the seed list when the meta leader's node is
//! killed, a new meta leader is elected among the survivors, the node rejoins after a restart,
//! and shutdown leaves no process and no directory behind. A link proxy in front of the
//! cluster holds a cut only for clients that ignore the servers the cluster gossips.

use std::time::{Duration, Instant};

use async_nats::jetstream::{self, stream};
use bytes::Bytes;
use futures::StreamExt;
use parti_top::nats::cluster::{ClusterOptions, ManagedCluster};
use parti_top::netfault::{LinkProxy, socket_addr_of_url};
use parti_top::parti::kv::{Bucket, BucketSpec, Store};
use parti_top::parti::nats_kv::NatsStore;
use parti_top::testkit::{descendants, server_binary, still_alive_after, wait_until};

/// One write to the KV bucket and one to the stream, each bounded, both acknowledged.
async fn write_both(bucket: &dyn Bucket, js: &jetstream::Context, n: u32) -> bool {
    let attempt = async {
        let key = format!("k{n}");
        bucket.put(&key, Bytes::from(n.to_string())).await.ok()?;
        let read = bucket.get(&key).await.ok()??;
        js.publish(format!("work.{n}"), Bytes::from(n.to_string()))
            .await
            .ok()?
            .await
            .ok()?;
        (read.value == n.to_string().as_bytes()).then_some(())
    };
    matches!(
        tokio::time::timeout(Duration::from_secs(2), attempt).await,
        Ok(Some(()))
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_survive_a_meta_leader_kill_and_the_node_rejoins() {
    let binary = server_binary().await;
    let started = Instant::now();
    let mut cluster = ManagedCluster::start(&binary, 3, ClusterOptions::default())
        .await
        .expect("start a 3-node cluster");
    let first_leader = cluster.wait_ready().await.expect("the cluster forms");
    eprintln!("cluster formed in {:?}", started.elapsed());
    assert_eq!(cluster.node_count(), 3);
    let seeds = cluster.seed_urls();
    assert_eq!(seeds.len(), 3);
    let mut pids = cluster.pids();
    let dirs = cluster.temp_dirs();
    assert_eq!((pids.len(), dirs.len()), (3, 3));

    let creds = cluster.credentials().clone();
    let client = async_nats::ConnectOptions::new()
        .user_and_password(creds.user.clone(), creds.password.clone())
        .connect(seeds.clone())
        .await
        .expect("connect with the seed list");
    let store = NatsStore::new(client.clone()).with_replicas(3);
    let spec = BucketSpec {
        name: "cluster-test".into(),
        ttl: Duration::ZERO,
    };
    let bucket = store.ensure_bucket(&spec).await.expect("bucket");
    let js = jetstream::new(client.clone());
    let mut work = js
        .create_stream(stream::Config {
            name: "WORK".into(),
            subjects: vec!["work.>".into()],
            num_replicas: 3,
            ..Default::default()
        })
        .await
        .expect("stream");
    let mut kv_stream = js.get_stream("KV_cluster-test").await.expect("kv stream");
    for info in [
        kv_stream.info().await.expect("info"),
        work.info().await.expect("info"),
    ] {
        assert_eq!(info.config.num_replicas, 3, "{}", info.config.name);
        let replicas = info.cluster.as_ref().map_or(0, |c| c.replicas.len());
        assert_eq!(
            replicas, 2,
            "a leader and two followers: {}",
            info.config.name
        );
    }
    assert!(
        write_both(bucket.as_ref(), &js, 0).await,
        "writes before the kill"
    );

    let killed_at = Instant::now();
    cluster
        .kill_node(first_leader)
        .await
        .expect("kill the meta leader's node");
    let mut n = 1;
    let resumed = wait_until(Duration::from_secs(20), || {
        n += 1;
        let (bucket, js) = (bucket.as_ref(), &js);
        async move { write_both(bucket, js, n).await }
    })
    .await;
    let writes_after = killed_at.elapsed();
    assert!(resumed, "no write succeeded within 20 s of the kill");
    let new_leader = std::cell::Cell::new(None);
    let elected = wait_until(Duration::from_secs(20), || async {
        new_leader.set(cluster.meta_leader().await.ok());
        new_leader.get().is_some()
    })
    .await;
    let new_leader = new_leader.get();
    let election_after = killed_at.elapsed();
    assert!(elected, "no meta leader among the survivors");
    assert_ne!(
        new_leader,
        Some(first_leader),
        "the killed node cannot lead"
    );
    eprintln!(
        "meta leader n{first_leader} killed: writes resumed after {writes_after:?}, \
         new meta leader n{} seen after {election_after:?}",
        new_leader.unwrap_or_default()
    );

    let restarted_at = Instant::now();
    cluster
        .restart_node(first_leader)
        .await
        .expect("restart the killed node");
    assert_eq!(cluster.seed_urls(), seeds, "a restart keeps the node's URL");
    pids.extend(cluster.pids());
    cluster
        .wait_ready()
        .await
        .expect("3 meta peers current again");
    let stream_current = wait_until(Duration::from_secs(20), || async {
        let Ok(work) = js.get_stream("WORK").await else {
            return false;
        };
        work.cached_info()
            .cluster
            .as_ref()
            .is_some_and(|c| c.replicas.len() == 2 && c.replicas.iter().all(|p| p.current))
    })
    .await;
    assert!(stream_current, "the stream's replicas did not catch up");
    eprintln!(
        "node n{first_leader} rejoined in {:?}",
        restarted_at.elapsed()
    );
    let kept = bucket.get("k0").await.expect("read").expect("k0 kept");
    assert_eq!(kept.value, Bytes::from("0"));
    assert!(write_both(bucket.as_ref(), &js, 1000).await);

    drop(client);
    cluster.shutdown().await.expect("shutdown");
    pids.sort_unstable();
    pids.dedup();
    assert!(
        still_alive_after(&pids, Duration::from_secs(5)).is_empty(),
        "nodes still running: {pids:?}"
    );
    let ours = descendants(std::process::id());
    assert!(pids.iter().all(|p| !ours.contains(p)), "{ours:?}");
    for dir in dirs {
        assert!(!dir.exists(), "{} left behind", dir.display());
    }
}

/// A client of `seeds` with the cluster's credentials, a short request timeout and a fast
/// reconnect; `stay_behind` keeps it from using the servers the cluster gossips.
async fn client_of(
    cluster: &ManagedCluster,
    seeds: Vec<String>,
    stay_behind: bool,
) -> async_nats::Client {
    let creds = cluster.credentials();
    let mut options = async_nats::ConnectOptions::new()
        .user_and_password(creds.user.clone(), creds.password.clone())
        .request_timeout(Some(Duration::from_millis(200)))
        .reconnect_delay_callback(|_| Duration::from_millis(50));
    if stay_behind {
        options = options.ignore_discovered_servers();
    }
    options.connect(seeds).await.expect("connect")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cut_proxy_in_front_of_a_cluster_holds_only_clients_that_ignore_gossip() {
    let binary = server_binary().await;
    let cluster = ManagedCluster::start(&binary, 3, ClusterOptions::default())
        .await
        .expect("start a 3-node cluster");
    cluster.wait_ready().await.expect("the cluster forms");
    let upstreams = cluster
        .seed_urls()
        .iter()
        .map(|url| socket_addr_of_url(url).expect("node address"))
        .collect();
    let proxy = LinkProxy::start_multi(upstreams).await.expect("proxy");
    let direct = client_of(&cluster, cluster.seed_urls(), false).await;
    let mut requests = direct.subscribe("svc.echo").await.expect("subscribe");
    let responder = direct.clone();
    tokio::spawn(async move {
        while let Some(request) = requests.next().await {
            if let Some(reply) = request.reply {
                let _ = responder.publish(reply, request.payload).await;
            }
        }
    });
    let behind = client_of(&cluster, vec![proxy.url()], true).await;
    let gossiping = client_of(&cluster, vec![proxy.url()], false).await;
    for client in [&behind, &gossiping] {
        let works = wait_until(Duration::from_secs(5), || async {
            client.request("svc.echo", "x".into()).await.is_ok()
        })
        .await;
        assert!(works, "requests through the proxy work before the cut");
    }

    proxy.control().cut();
    // The gossiping client reconnects straight to a node the cluster told it about.
    let escaped = wait_until(Duration::from_secs(10), || async {
        gossiping.request("svc.echo", "x".into()).await.is_ok()
    })
    .await;
    assert!(
        escaped,
        "a client that uses gossiped URLs goes around the cut"
    );
    let held = behind.request("svc.echo", "x".into()).await;
    assert!(
        held.is_err(),
        "the client that ignores gossip stays cut off"
    );
    assert!(proxy.control().stats().connections_refused >= 1);

    proxy.control().restore();
    let back = wait_until(Duration::from_secs(10), || async {
        behind.request("svc.echo", "x".into()).await.is_ok()
    })
    .await;
    assert!(back, "it reconnects through the proxy after the restore");
    drop((behind, gossiping, direct));
    proxy.shutdown().await;
    cluster.shutdown().await.expect("shutdown");
}
