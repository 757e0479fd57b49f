//! Logging of the `ddiscord` binary: `tracing` lines on standard error or in a file, coloured
//! only when they go to a terminal, without the embedded broker's reports of ordinary client
//! disconnects.

use std::fs::OpenOptions;
use std::io::IsTerminal as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::writer::BoxMakeWriter;
use tracing_subscriber::layer::{Context, Layer, SubscriberExt as _};
use tracing_subscriber::util::SubscriberInitExt as _;

use crate::cmd::error::CliError;

/// The filter when `DDISCORD_LOG` is unset.
const DEFAULT_FILTER: &str = "info,rumqttc=warn,rumqttd=warn";

/// Where log lines go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogTarget {
    /// Standard error, coloured when it is a terminal.
    Stderr,
    /// A file (appended to, created when missing), never coloured.
    File(PathBuf),
}

impl LogTarget {
    /// The file, when logs go to one.
    pub fn file(&self) -> Option<&Path> {
        match self {
            Self::Stderr => None,
            Self::File(p) => Some(p),
        }
    }
}

/// Installs the process-wide subscriber: the filter from `DDISCORD_LOG` (default
/// `info,rumqttc=warn,rumqttd=warn`), lines to `target`.
///
/// # Errors
/// [`CliErrorKind::Setup`](crate::cmd::error::CliErrorKind::Setup) when the log file cannot be opened.
pub fn init(target: &LogTarget) -> Result<(), CliError> {
    let filter =
        EnvFilter::try_from_env("DDISCORD_LOG").unwrap_or_else(|_| EnvFilter::new(DEFAULT_FILTER));
    let (writer, ansi) = match target {
        LogTarget::Stderr => (
            BoxMakeWriter::new(std::io::stderr),
            std::io::stderr().is_terminal(),
        ),
        LogTarget::File(path) => {
            let file = OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .map_err(|source| CliError::setup("the log file", source))?;
            (BoxMakeWriter::new(Arc::new(file)), false)
        }
    };
    let fmt = tracing_subscriber::fmt::layer()
        .with_writer(writer)
        .with_ansi(ansi);
    // A second initialisation (only possible in tests) keeps the first subscriber.
    let _ = tracing_subscriber::registry()
        .with(filter)
        .with(QuietDisconnects)
        .with(fmt)
        .try_init();
    Ok(())
}

/// Drops rumqttd's ERROR events that report an ordinary client disconnect.
///
/// rumqttd 0.20 logs every connection that ends at ERROR: `router-drop` with
/// `Recv(Disconnected)` after a client's clean DISCONNECT, `disconnected` when a client goes
/// away without one, `no-connection id N is already gone` when its router sees a connection end
/// twice (a DISCONNECT, then the socket closing), and `Error while handling MQTT connect packet`
/// for a TCP connection that closes before its CONNECT (a port probe). None of them is a fault of
/// the broker; every other rumqttd error still passes.
#[derive(Debug, Clone, Copy)]
struct QuietDisconnects;

impl<S: Subscriber> Layer<S> for QuietDisconnects {
    fn event_enabled(&self, event: &Event<'_>, _ctx: Context<'_, S>) -> bool {
        let meta = event.metadata();
        if *meta.level() != Level::ERROR || !meta.target().starts_with("rumqttd") {
            return true;
        }
        let mut fields = Fields::default();
        event.record(&mut fields);
        !is_ordinary_disconnect(&fields.message, &fields.error)
    }
}

/// Whether a rumqttd ERROR event (its message and `error` field) is an ordinary disconnect.
fn is_ordinary_disconnect(message: &str, error: &str) -> bool {
    const GONE: [&str; 5] = [
        "ConnectionAborted",
        "ConnectionReset",
        "BrokenPipe",
        "UnexpectedEof",
        "connection closed by peer",
    ];
    let peer_gone = GONE.iter().any(|g| error.contains(g));
    match message {
        "router-drop" => error.contains("Disconnected"),
        "connection-stop" | "Connection is already disconnected" => true,
        // A client's DISCONNECT and then its socket closing: the router sees it gone twice.
        m if m.starts_with("no-connection id ") && m.ends_with(" is already gone") => true,
        "disconnected" | "Error while handling MQTT connect packet" => peer_gone,
        _ => false,
    }
}

#[derive(Default)]
struct Fields {
    message: String,
    error: String,
}

impl Visit for Fields {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        match field.name() {
            "message" => self.message = format!("{value:?}"),
            "error" => self.error = format!("{value:?}"),
            _ => {}
        }
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        match field.name() {
            "message" => value.clone_into(&mut self.message),
            "error" => value.clone_into(&mut self.error),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::is_ordinary_disconnect;

    #[test]
    fn ordinary_disconnects_are_recognised() {
        assert!(is_ordinary_disconnect("router-drop", "Recv(Disconnected)"));
        assert!(is_ordinary_disconnect(
            "Error while handling MQTT connect packet",
            r#"Network(Io(Custom { kind: ConnectionAborted, error: "connection closed by peer" }))"#
        ));
        assert!(is_ordinary_disconnect(
            "disconnected",
            "Network(Io(Os { code: 104, kind: ConnectionReset, message: \"Connection reset by peer\" }))"
        ));
        assert!(!is_ordinary_disconnect(
            "Server error - V4",
            "Io(AddrInUse)"
        ));
        assert!(!is_ordinary_disconnect(
            "disconnected",
            "Network(PayloadSizeLimitExceeded(99999999))"
        ));
    }
}
