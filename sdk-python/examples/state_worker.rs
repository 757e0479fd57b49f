//! Test helper for the Python tests: the state worker of `ddiscord-workers` on the mesh, until
//! the `ddiscord state-worker` subcommand is on main.
//!
//! `state_worker <mesh-url> <redis-url> <shards>`; prints `ready` once it joined its consumer
//! group, and stops when stdin closes.

use bytes::Bytes;
use ddiscord::group::{Delivery, DurableSource, GroupError};
use ddiscord::mesh::{Delivery as MeshDelivery, Mesh, MeshConfig};
use ddiscord::{Topic, TopicPattern};
use ddiscord_workers::{StateWorker, StateWorkerConfig};
use futures::StreamExt as _;
use futures::future::BoxFuture;
use futures::stream::BoxStream;
use tokio::io::AsyncReadExt as _;

#[derive(Clone)]
struct MeshSource(Mesh);

fn err(e: impl std::error::Error + Send + Sync + 'static) -> GroupError {
    GroupError::Mesh(Box::new(e))
}

impl DurableSource for MeshSource {
    fn open(
        &self,
        name: &str,
        patterns: &[TopicPattern],
    ) -> BoxFuture<'static, Result<BoxStream<'static, Delivery>, GroupError>> {
        let (mesh, name, patterns) = (self.0.clone(), name.to_owned(), patterns.to_vec());
        Box::pin(async move {
            let sub = mesh.durable(&name, &patterns).await.map_err(err)?;
            Ok(sub
                .map(|d| Delivery {
                    topic: d.message.topic.clone(),
                    payload: d.message.payload.clone(),
                    redelivered: d.redelivered,
                    ack: Box::new(move || Box::pin(async move { d.ack().await.map_err(err) })),
                })
                .boxed())
        })
    }

    fn publish(&self, topic: &str, payload: Bytes) -> BoxFuture<'static, Result<(), GroupError>> {
        let (mesh, topic) = (self.0.clone(), Topic::new(topic));
        Box::pin(async move {
            mesh.publish(&topic.map_err(err)?, payload, MeshDelivery::Guaranteed)
                .await
                .map_err(err)
        })
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let usage = "usage: state_worker <mesh-url> <redis-url> <shards>";
    let mesh_url = args.next().ok_or(usage)?;
    let redis_url = args.next().ok_or(usage)?;
    let shards: u32 = args.next().ok_or(usage)?.parse()?;
    let mesh = Mesh::connect(MeshConfig::new(mesh_url.clone())).await?;
    let mut config = StateWorkerConfig::new(redis_url, mesh_url);
    config.shards = shards;
    let worker = StateWorker::start_with(MeshSource(mesh), config).await?;
    println!("ready");
    let mut sink = Vec::new();
    let _ = tokio::io::stdin().read_to_end(&mut sink).await;
    worker.shutdown().await?;
    Ok(())
}
