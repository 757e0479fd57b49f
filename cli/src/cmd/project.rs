//! `ddiscord project [file]`: apply captured envelopes to the cache with the state worker's
//! projection.

use bytes::Bytes;
use clap::Args;
use ddiscord::Envelope;
use ddiscord::cache::Keys;
use ddiscord_workers::{Outcome, ProjectionConfig, Projector};
use tokio::io::{AsyncBufReadExt as _, AsyncRead, AsyncWriteExt as _, BufReader};

use super::error::{CliError, CliErrorKind};
use super::redis_args::RedisArgs;

/// Apply envelopes, one JSON per line as `ddiscord tail --json` prints them, to the Redis cache
/// with the state worker's projection, in order. Prints one outcome per line: `applied`,
/// `duplicate`, `skipped` (not cached), `rejected: <why>` (malformed for its event) or
/// `invalid: <why>` (not an envelope). Seeds or rebuilds a cache from a capture.
#[derive(Debug, Args)]
pub struct ProjectArgs {
    /// File of envelopes, or `-` for standard input.
    #[arg(default_value = "-")]
    pub file: String,
    /// Redis holding the cache.
    #[command(flatten)]
    pub redis: RedisArgs,
    /// Cache presences.
    #[arg(long, env = "DDISCORD_CACHE_PRESENCES", default_value_t = false)]
    pub cache_presences: bool,
    /// Messages cached per channel; 0 turns the message cache off.
    #[arg(long, env = "DDISCORD_MESSAGE_CACHE", default_value_t = 0)]
    pub message_cache: usize,
    /// Most envelopes applied in one Redis pipeline.
    #[arg(long, env = "DDISCORD_STATE_BATCH", default_value_t = 256)]
    pub batch: usize,
}

/// Runs `ddiscord project`.
///
/// # Errors
/// [`CliError`] for an unreadable file, an unreachable Redis, a failed projection, or lines
/// that are not envelopes (reported after every other line was applied).
pub async fn run(args: ProjectArgs) -> Result<(), CliError> {
    let input: Box<dyn AsyncRead + Unpin + Send> = if args.file == "-" {
        Box::new(tokio::io::stdin())
    } else {
        Box::new(
            tokio::fs::File::open(&args.file)
                .await
                .map_err(|source| CliError::read(args.file.clone(), source))?,
        )
    };
    let what = if args.file == "-" {
        "standard input".to_owned()
    } else {
        args.file.clone()
    };
    let conn = args.redis.connect().await?;
    let config = ProjectionConfig {
        cache_presences: args.cache_presences,
        message_cache: args.message_cache,
    };
    let mut projector = Projector::new(conn, Keys::new(args.redis.key_prefix), config);

    let mut lines = BufReader::new(input).lines();
    let mut out = tokio::io::BufWriter::new(tokio::io::stdout());
    // The envelopes of the pipeline in hand, and each line's place: `None` an envelope (in
    // order), `Some(why)` a line that is not one.
    let mut envelopes: Vec<Envelope> = Vec::new();
    let mut lines_in_hand: Vec<Option<String>> = Vec::new();
    let mut invalid = 0usize;
    loop {
        let line = lines
            .next_line()
            .await
            .map_err(|source| CliError::read(what.clone(), source))?;
        let end = line.is_none();
        if let Some(line) = line.filter(|l| !l.trim().is_empty()) {
            match Envelope::parse(Bytes::from(line)) {
                Ok(envelope) => {
                    envelopes.push(envelope);
                    lines_in_hand.push(None);
                }
                Err(e) => {
                    invalid += 1;
                    lines_in_hand.push(Some(e.to_string()));
                }
            }
        }
        if lines_in_hand.len() >= args.batch.max(1) || (end && !lines_in_hand.is_empty()) {
            let applied = projector.apply_batch(&envelopes).await?;
            envelopes.clear();
            for outcome in outcome_lines(applied, lines_in_hand.drain(..)) {
                out.write_all(outcome.as_bytes())
                    .await
                    .map_err(CliError::stdout)?;
                out.write_all(b"\n").await.map_err(CliError::stdout)?;
            }
        }
        if end {
            break;
        }
    }
    out.flush().await.map_err(CliError::stdout)?;
    if invalid > 0 {
        return Err(CliError::new(CliErrorKind::NotEnvelopes { lines: invalid }));
    }
    Ok(())
}

/// One line per input line, in order: the projection's outcome for an envelope, `invalid: …`
/// for a line that is not one.
fn outcome_lines(
    applied: Vec<Outcome>,
    lines: impl Iterator<Item = Option<String>>,
) -> Vec<String> {
    let mut applied = applied.into_iter();
    lines
        .map(|line| match line {
            Some(why) => format!("invalid: {why}"),
            None => match applied.next() {
                Some(Outcome::Applied { .. }) => "applied".to_owned(),
                Some(Outcome::Skipped(_)) => "skipped".to_owned(),
                Some(Outcome::Rejected(why)) => format!("rejected: {why}"),
                Some(Outcome::Gap) => "held: an earlier sequence is missing".to_owned(),
                Some(Outcome::Duplicate) | None => "duplicate".to_owned(),
            },
        })
        .collect()
}
