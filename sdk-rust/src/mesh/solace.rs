//! Solace PubSub+ native (SMF) backend (cargo feature `solace`). Work in progress.

use std::sync::Arc;

use bytes::Bytes;
use tokio::sync::broadcast;

use super::error::{MeshError, MeshErrorKind};
use super::router::Router;
use super::subscription::DurableSubscription;
use super::{Delivery, MeshEvent};
use crate::topic::TopicPattern;

pub(crate) struct SolaceBackend;

fn unsupported() -> MeshError {
    MeshError::new(MeshErrorKind::Unsupported {
        what: "the Solace backend is not implemented yet".to_owned(),
    })
}

impl SolaceBackend {
    pub(crate) async fn connect(
        _host: &str,
        _port: u16,
        _client_id: String,
        _max_payload: usize,
        _router: Arc<Router>,
        _events: broadcast::Sender<MeshEvent>,
    ) -> Result<Self, MeshError> {
        Err(unsupported())
    }
    pub(crate) async fn publish(&self, _: &str, _: Bytes, _: Delivery) -> Result<(), MeshError> {
        Err(unsupported())
    }
    pub(crate) async fn add_subscription(&self, _: &TopicPattern) -> Result<(), MeshError> {
        Err(unsupported())
    }
    pub(crate) fn release_subscription(&self, _: &TopicPattern) {}
    pub(crate) async fn durable(
        &self,
        _: &str,
        _: &[TopicPattern],
    ) -> Result<DurableSubscription, MeshError> {
        Err(unsupported())
    }
    pub(crate) async fn close(&self) {}
}
