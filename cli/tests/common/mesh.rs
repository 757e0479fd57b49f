//! A plain MQTT subscriber (rumqttc, QoS 1, clean session) on a bot's dispatch and state trees,
//! recording every envelope's (shard, session, sequence) in arrival order.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};

/// One envelope as it arrived.
#[derive(Debug, Clone)]
pub struct Arrival {
    /// Shard of the envelope.
    pub shard: u32,
    /// Gateway session.
    pub session: String,
    /// Sequence.
    pub seq: u64,
    /// Event name.
    pub event: String,
    /// The MQTT DUP flag (a retransmission by the broker).
    pub dup: bool,
    /// When it arrived.
    pub at: Instant,
}

/// What arrived on the two trees.
#[derive(Debug, Default)]
pub struct Seen {
    /// `<root>/…`: what ingest published.
    pub dispatch: Vec<Arrival>,
    /// `<root>-state/…`: what the state worker republished after applying it.
    pub state: Vec<Arrival>,
    /// Envelopes that did not parse (topic and error).
    pub malformed: Vec<String>,
    /// When anything last arrived.
    pub last: Option<Instant>,
}

/// The subscriber; its event loop runs until it is dropped.
#[derive(Debug)]
pub struct MeshObserver {
    /// What arrived so far.
    pub seen: Arc<Mutex<Seen>>,
    task: tokio::task::JoinHandle<()>,
    _client: AsyncClient,
}

impl Drop for MeshObserver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl MeshObserver {
    /// Subscribes to `<root>/#` and `<root>-state/#` on the broker at `port` and returns once
    /// both subscriptions are acknowledged.
    pub async fn start(port: u16, root: &str) -> Self {
        let id = format!("observer-{root}-{}", std::process::id());
        let mut opts = MqttOptions::new(id, "127.0.0.1", port);
        opts.set_keep_alive(Duration::from_secs(30));
        opts.set_clean_session(true);
        opts.set_max_packet_size(64 << 20, 64 << 20);
        let (client, mut events) = AsyncClient::new(opts, 100_000);
        client
            .subscribe(format!("{root}/#"), QoS::AtLeastOnce)
            .await
            .unwrap();
        client
            .subscribe(format!("{root}-state/#"), QoS::AtLeastOnce)
            .await
            .unwrap();
        let mut acks = 0;
        while acks < 2 {
            match tokio::time::timeout(Duration::from_secs(10), events.poll()).await {
                Ok(Ok(Event::Incoming(Packet::SubAck(_)))) => acks += 1,
                Ok(Ok(_)) => {}
                Ok(Err(e)) => panic!("observer on {root}: {e}"),
                Err(_) => panic!("observer on {root}: no SUBACK within 10 s"),
            }
        }
        let seen = Arc::new(Mutex::new(Seen::default()));
        let state_prefix = format!("{root}-state/");
        let shared = Arc::clone(&seen);
        let task = tokio::spawn(async move {
            loop {
                match events.poll().await {
                    Ok(Event::Incoming(Packet::Publish(p))) => {
                        let at = Instant::now();
                        let state = p.topic.starts_with(&state_prefix);
                        let parsed = ddiscord::Envelope::parse(p.payload.clone());
                        let mut seen = shared.lock().unwrap();
                        seen.last = Some(at);
                        match parsed {
                            Ok(env) => {
                                let arrival = Arrival {
                                    shard: env.shard(),
                                    session: env.session().unwrap_or_default().to_owned(),
                                    seq: env.sequence().unwrap_or(0),
                                    event: env.event().unwrap_or_default().to_owned(),
                                    dup: p.dup,
                                    at,
                                };
                                if state {
                                    seen.state.push(arrival);
                                } else {
                                    seen.dispatch.push(arrival);
                                }
                            }
                            Err(e) => seen.malformed.push(format!("{}: {e}", p.topic)),
                        }
                    }
                    Ok(_) => {}
                    Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
                }
            }
        });
        Self {
            seen,
            task,
            _client: client,
        }
    }

    /// Arrivals on the state tree so far.
    pub fn state_count(&self) -> usize {
        self.seen.lock().unwrap().state.len()
    }

    /// How long since anything arrived (or since `since` when nothing has).
    pub fn quiet_for(&self, since: Instant) -> Duration {
        self.seen.lock().unwrap().last.unwrap_or(since).elapsed()
    }
}
