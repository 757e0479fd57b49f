//! [`DurableSource`] over the event mesh ([`Mesh::durable`], [`Mesh::publish`]).

use bytes::Bytes;
use futures::future::BoxFuture;
use futures::stream::BoxStream;
use futures::{FutureExt, StreamExt};

use super::error::{GroupError, GroupErrorKind};
use super::transport::{Delivery, DurableSource};
use ddiscord_mesh::{Delivered, Delivery as Qos, Mesh};
use ddiscord_model::topic::{Topic, TopicPattern};

fn mesh_error(e: impl std::error::Error + Send + Sync + 'static) -> GroupError {
    GroupError::with_source(GroupErrorKind::Mesh, e)
}

fn delivery(d: Delivered) -> Delivery {
    let topic = d.message.topic.clone();
    let payload = d.message.payload.clone();
    let redelivered = d.redelivered;
    Delivery {
        topic,
        payload,
        redelivered,
        ack: Box::new(move || async move { d.ack().await.map_err(mesh_error) }.boxed()),
    }
}

impl DurableSource for Mesh {
    fn open(
        &self,
        name: &str,
        patterns: &[TopicPattern],
    ) -> BoxFuture<'static, Result<BoxStream<'static, Delivery>, GroupError>> {
        let mesh = self.clone();
        let name = name.to_owned();
        let patterns = patterns.to_vec();
        async move {
            let sub = mesh.durable(&name, &patterns).await.map_err(mesh_error)?;
            Ok(sub.map(delivery).boxed())
        }
        .boxed()
    }

    fn create(
        &self,
        name: &str,
        patterns: &[TopicPattern],
    ) -> BoxFuture<'static, Result<(), GroupError>> {
        let mesh = self.clone();
        let name = name.to_owned();
        let patterns = patterns.to_vec();
        async move {
            let sub = mesh.durable(&name, &patterns).await.map_err(mesh_error)?;
            sub.close().await;
            Ok(())
        }
        .boxed()
    }

    fn is_connected(&self) -> bool {
        Mesh::is_connected(self)
    }

    fn publish_in_order(
        &self,
        messages: Vec<(Topic, Bytes)>,
    ) -> BoxFuture<'static, Vec<Result<(), GroupError>>> {
        let mesh = self.clone();
        async move {
            // Queue every message in order first; the acknowledgements then come together.
            let mut acks = Vec::with_capacity(messages.len());
            for (topic, body) in messages {
                acks.push(
                    mesh.publish_queued(&topic, body, Qos::Guaranteed)
                        .await
                        .map_err(mesh_error),
                );
            }
            let mut results = Vec::with_capacity(acks.len());
            for ack in acks {
                results.push(match ack {
                    Ok(ack) => ack.await.map_err(mesh_error),
                    Err(e) => Err(e),
                });
            }
            results
        }
        .boxed()
    }

    fn publish(&self, topic: &str, payload: Bytes) -> BoxFuture<'static, Result<(), GroupError>> {
        let mesh = self.clone();
        let topic = Topic::new(topic);
        async move {
            let topic = topic.map_err(mesh_error)?;
            mesh.publish(&topic, payload, Qos::Guaranteed)
                .await
                .map_err(mesh_error)
        }
        .boxed()
    }
}
