#![allow(clippy::unwrap_used)] // a store call that fails fails the test

//! Two MX hosts, one Redis: two stores opened independently (their own connections) with
//! the same prefix share everything; another prefix on the same server sees none of it.

use kanmon_testredis as redis_server;

use std::time::Duration;

use kanmon_store::{BackendKind, Class, ClassTotals, Store, StoreSettings, TokenCounts};
use redis_server::{RedisCluster, RedisServer};

async fn host(server: &RedisServer, prefix: &str) -> Store {
    open(server.url(), prefix).await
}

async fn open(url: String, prefix: &str) -> Store {
    Store::open(&StoreSettings {
        backend: BackendKind::Redis,
        url,
        prefix: prefix.to_owned(),
        ..Default::default()
    })
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hosts_share_one_redis() {
    let server = RedisServer::tcp();
    let a = host(&server, "mx").await;
    let b = host(&server, "mx").await;
    let ttl = Duration::from_secs(3600);

    // A greylist sighting on A counts on B.
    assert_eq!(a.greylist_touch(b"triplet", ttl).await.unwrap().count, 1);
    let on_b = b.greylist_touch(b"triplet", ttl).await.unwrap();
    assert_eq!(on_b.count, 2);
    assert_eq!(a.greylist_get(b"triplet").await.unwrap(), Some(on_b));

    // Learned (and relearned) on A, read on B; a relearn on B of the same message
    // changes nothing.
    a.relabel(b"msg", Some(Class::Ham), &[1, 2]).await.unwrap();
    a.relabel(b"msg", Some(Class::Spam), &[1, 2]).await.unwrap();
    assert_eq!(
        b.relabel(b"msg", Some(Class::Spam), &[1, 2]).await.unwrap(),
        Some(Class::Spam)
    );
    let read = b.token_counts(&[1, 2, 3]).await.unwrap();
    assert_eq!(read.totals, ClassTotals { spam: 1, ham: 0 });
    let spam_once = TokenCounts { spam: 1, ham: 0 };
    assert_eq!(
        read.counts,
        vec![spam_once, spam_once, TokenCounts::default()]
    );

    // Stats added by both sum.
    a.stats_add(&[("messages", 2)], ttl).await.unwrap();
    b.stats_add(&[("messages", 3)], ttl).await.unwrap();
    let now = a.clock().now();
    let stats = b.stats_read(now, now).await.unwrap();
    assert_eq!(stats.len(), 1);
    assert_eq!(stats[0].value, 5);

    // Records and values written on one are read on the other.
    a.append_record("dmarc", b"from a", ttl).await.unwrap();
    b.append_record("dmarc", b"from b", ttl).await.unwrap();
    let data: Vec<Vec<u8>> = a
        .records("dmarc", 0, u64::MAX)
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.data)
        .collect();
    assert_eq!(data, [b"from a".to_vec(), b"from b".to_vec()]);
    b.set("k", b"v", None).await.unwrap();
    assert_eq!(a.get("k").await.unwrap(), Some(b"v".to_vec()));

    // Another prefix on the same server is another store.
    let other = host(&server, "elsewhere").await;
    assert_eq!(other.greylist_get(b"triplet").await.unwrap(), None);
    assert_eq!(
        other.greylist_touch(b"triplet", ttl).await.unwrap().count,
        1
    );
    let read = other.token_counts(&[1, 2]).await.unwrap();
    assert_eq!(read.totals, ClassTotals::default());
    assert_eq!(read.counts, vec![TokenCounts::default(); 2]);
    assert_eq!(other.label(b"msg").await.unwrap(), None);
    assert_eq!(other.stats_read(0, u64::MAX).await.unwrap(), vec![]);
    assert_eq!(other.records("dmarc", 0, u64::MAX).await.unwrap(), vec![]);
    assert_eq!(other.get("k").await.unwrap(), None);
    let summary = other.summary().await.unwrap();
    assert_eq!(
        (
            summary.tokens,
            summary.digests,
            summary.greylist,
            summary.values
        ),
        (0, 0, 1, 0)
    );
    let summary = a.summary().await.unwrap();
    assert_eq!(
        (
            summary.tokens,
            summary.digests,
            summary.greylist,
            summary.values,
            summary.records,
            summary.stat_counters
        ),
        (2, 1, 1, 1, 2, 1)
    );
}

/// On a Redis Cluster: one host lists every node, the other names a single node (a seed);
/// both find the node that holds the prefix's slot and share its entries.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hosts_share_one_redis_cluster() {
    let cluster = RedisCluster::start(3);
    let ttl = Duration::from_secs(3600);
    for prefix in ["mx", "kanmon", "site-b"] {
        let a = open(cluster.url(), prefix).await;
        for seed in cluster.nodes() {
            let b = open(seed.url(), prefix).await;
            b.greylist_touch(b"triplet", ttl).await.unwrap();
            b.relabel(seed.url().as_bytes(), Some(Class::Spam), &[1])
                .await
                .unwrap();
        }
        let sighting = a.greylist_touch(b"triplet", ttl).await.unwrap();
        assert_eq!(sighting.count, 4, "{prefix}");
        let read = a.token_counts(&[1]).await.unwrap();
        assert_eq!(
            read.counts,
            vec![TokenCounts { spam: 3, ham: 0 }],
            "{prefix}"
        );
        let summary = a.summary().await.unwrap();
        assert_eq!((summary.greylist, summary.digests), (1, 3), "{prefix}");
    }
}
