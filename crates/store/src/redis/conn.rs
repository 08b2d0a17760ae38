//! The connection: one server through a [`ConnectionManager`] (multiplexed, reconnects on
//! its own), or a Redis Cluster through a [`ClusterConnection`]; and the rule that bounds
//! every call.
//!
//! Failure policy: a call never waits longer than `store.timeout`. The connection's own
//! response timeout is the same, reconnection is tried once per call that finds the link
//! down (not in a long backoff loop a caller would wait behind), and each attempt is
//! bounded by `store.connect_timeout` and by the call's timeout. So with the server gone a
//! call fails at once (refused) or after the timeout (unreachable), and once the server is
//! back the next calls reconnect without the store being opened again.

use std::future::Future;
use std::time::Duration;

use ::redis::aio::{ConnectionLike, ConnectionManager, ConnectionManagerConfig};
use ::redis::cluster::ClusterClientBuilder;
use ::redis::cluster_async::ClusterConnection;
use ::redis::cluster_routing::{Route, RoutingInfo, SingleNodeRoutingInfo, SlotAddr};
use ::redis::{Client, Cmd, FromRedisValue, Pipeline, RedisError, RedisFuture, Value};

use super::url::Target;
use crate::{Result, StoreError};

/// Reconnection attempts per call that finds the link down: one, so a down server fails
/// calls quickly and the next call tries again.
const RECONNECT_RETRIES: usize = 1;

/// Shortest wait before that attempt.
const RECONNECT_DELAY: Duration = Duration::from_millis(20);

#[derive(Clone)]
pub(crate) enum Conn {
    Single(ConnectionManager),
    Cluster(ClusterConnection),
}

impl Conn {
    /// Connects to `target`, failing after `connect_timeout`; calls then time out after
    /// `timeout`.
    pub(crate) async fn open(
        target: Target,
        timeout: Duration,
        connect_timeout: Duration,
    ) -> std::result::Result<Conn, RedisError> {
        let connecting = async {
            match target {
                Target::Single(info) => {
                    let client = Client::open(info.clone())?;
                    let config = ConnectionManagerConfig::new()
                        .set_connection_timeout(Some(connect_timeout))
                        .set_response_timeout(Some(timeout))
                        .set_number_of_retries(RECONNECT_RETRIES)
                        .set_min_delay(RECONNECT_DELAY)
                        .set_max_delay(timeout);
                    let mut single = ConnectionManager::new_with_config(client, config).await?;
                    // A node of a cluster named alone is a seed of the cluster: talked to as
                    // a single server it would answer MOVED for most prefixes.
                    // Asked again when it times out: a server slow to answer its first
                    // command (a machine busy at boot) has until `connect_timeout`, which
                    // bounds this whole opening, not just one `timeout`.
                    let info_cluster: String = loop {
                        match ::redis::cmd("INFO")
                            .arg("cluster")
                            .query_async(&mut single)
                            .await
                        {
                            Ok(text) => break text,
                            Err(e) if e.is_timeout() => continue,
                            Err(e) => return Err(e),
                        }
                    };
                    if info_cluster.contains("cluster_enabled:1") {
                        Conn::cluster(vec![info], timeout, connect_timeout).await
                    } else {
                        Ok(Conn::Single(single))
                    }
                }
                Target::Cluster(nodes) => Conn::cluster(nodes, timeout, connect_timeout).await,
            }
        };
        match tokio::time::timeout(connect_timeout, connecting).await {
            Ok(conn) => conn,
            Err(_) => Err(RedisError::from(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                format!("no answer within {} ms", connect_timeout.as_millis()),
            ))),
        }
    }

    async fn cluster(
        nodes: Vec<::redis::ConnectionInfo>,
        timeout: Duration,
        connect_timeout: Duration,
    ) -> std::result::Result<Conn, RedisError> {
        let client = ClusterClientBuilder::new(nodes)
            .connection_timeout(connect_timeout)
            .response_timeout(timeout)
            .retries(RECONNECT_RETRIES as u32)
            .min_retry_wait(RECONNECT_DELAY.as_millis() as u64)
            .build()?;
        Ok(Conn::Cluster(client.get_async_connection().await?))
    }

    /// Sends a keyless command (SCAN, INFO) to the node that holds `key`'s slot: on a
    /// cluster that is where all of kanmon's keys are (they share one hash tag); on a single
    /// server it is the server.
    pub(crate) async fn on_node_of<T: FromRedisValue>(
        &mut self,
        key: &[u8],
        cmd: Cmd,
    ) -> std::result::Result<T, RedisError> {
        match self {
            Conn::Single(conn) => cmd.query_async(conn).await,
            Conn::Cluster(conn) => {
                let route = Route::with_key(key, SlotAddr::Master);
                let routing = RoutingInfo::SingleNode(SingleNodeRoutingInfo::SpecificNode(route));
                let value = conn.route_command(cmd, routing).await?;
                T::from_redis_value(value).map_err(RedisError::from)
            }
        }
    }
}

impl ConnectionLike for Conn {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match self {
            Conn::Single(conn) => conn.req_packed_command(cmd),
            Conn::Cluster(conn) => conn.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match self {
            Conn::Single(conn) => conn.req_packed_commands(pipeline, offset, count),
            Conn::Cluster(conn) => conn.req_packed_commands(pipeline, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Conn::Single(conn) => conn.get_db(),
            Conn::Cluster(conn) => conn.get_db(),
        }
    }
}

/// Runs one store call's Redis work, bounded by `timeout`.
pub(crate) async fn bounded<T>(
    timeout: Duration,
    work: impl Future<Output = std::result::Result<T, RedisError>>,
) -> Result<T> {
    match tokio::time::timeout(timeout, work).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(e)) => Err(store_error(&e, timeout)),
        Err(_) => Err(StoreError::Timeout(timeout)),
    }
}

/// A Redis error as the store reports it. redis-rs errors carry no URL or password.
pub(crate) fn store_error(e: &RedisError, timeout: Duration) -> StoreError {
    if e.is_timeout() {
        StoreError::Timeout(timeout)
    } else if e.kind() == ::redis::ErrorKind::UnexpectedReturnType {
        StoreError::Corrupt(format!("redis answered something else: {e}"))
    } else {
        StoreError::Unavailable(format!("redis: {e}"))
    }
}
