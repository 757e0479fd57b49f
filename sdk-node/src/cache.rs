//! Cache reads (`client.cache.*` in JavaScript): one native entry point over the core's
//! [`CacheQuery`] (`ddiscord::cache`, key layout in `docs/cache.md`); the typed methods of the
//! JS entry name the read.
//!
//! The core answers with the stored JSON as text (checked, never decoded and encoded again),
//! which the JS entry parses once with `JSON.parse`. Answers come back through one completion
//! channel per client (a threadsafe function registered once with [`Client::set_cache_completions`])
//! instead of a promise per call: a napi-rs async method creates and tears down a threadsafe
//! function for every call, which cost more than the Redis round trip it waited for. The JS
//! entry keeps the pending promises by read id and settles them as answers arrive; answers that
//! arrive together are delivered in one wake-up of the JS thread.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use ddiscord::cache::CacheQuery;
use ddiscord::client::ClientError;
use napi::Env;
use napi::threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode};
use napi_derive::napi;

use crate::client::Client;
use crate::error::NodeError;

/// What the completion callback receives, as one array: the read id, then the JSON answer, or
/// an error code and message (the others `null`).
type Completion = (u32, Option<String>, Option<String>, Option<String>);

/// The completion callback, created unreferenced (`Weak`): it keeps the event loop alive only
/// while reads are pending.
type CompletionFn = ThreadsafeFunction<Completion, (), Completion, napi::Status, false, true>;

/// A client's completion channel and its count of pending reads.
#[derive(Default)]
pub(crate) struct Completions {
    callback: Mutex<Option<Arc<Mutex<CompletionFn>>>>,
    pending: Arc<AtomicUsize>,
}

impl Completions {
    fn callback(&self) -> Option<Arc<Mutex<CompletionFn>>> {
        self.callback
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Drops the callback (on close): nothing keeps the event loop alive afterwards.
    pub(crate) fn clear(&self) {
        self.callback
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
    }
}

/// Keeps the event loop alive (`true`) or lets it exit (`false`); napi-rs deprecates its
/// wrappers of `napi_ref/unref_threadsafe_function` in favour of cloning, which a weak
/// function cannot use to be referenced.
#[allow(deprecated)]
fn set_referenced(callback: &Mutex<CompletionFn>, env: &Env, referenced: bool) {
    let mut f = callback.lock().unwrap_or_else(PoisonError::into_inner);
    // Fails only while the environment is being torn down, when nothing is left to keep alive.
    let _ = if referenced {
        f.refer(env)
    } else {
        f.unref(env)
    };
}

fn settle(answer: std::result::Result<String, ClientError>, id: u32) -> Completion {
    match answer {
        Ok(json) => (id, Some(json), None, None),
        Err(e) => {
            let e = NodeError::from(e);
            (id, None, Some(e.code()), Some(e.message().to_owned()))
        }
    }
}

#[napi]
impl Client {
    /// Registers the function that receives every answer of [`Client::cache_query_start`]:
    /// `callback([id, json, code, message])` (one array), on the JS thread; `json` is the
    /// answer's text, or `code` and `message` say why the read failed. Replaces an earlier
    /// callback.
    #[napi(
        ts_args_type = "callback: (answer: [id: number, json: string | null, code: string | null, message: string | null]) => void"
    )]
    pub fn set_cache_completions(&self, callback: CompletionFn) {
        *self
            .completions()
            .callback
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(Arc::new(Mutex::new(callback)));
    }

    /// Starts the cache read `read` (`guild`, `guild_with_collections`, `guild_state`,
    /// `channel`, `channels`, `role`, `roles`, `member`, `members`, `member_ids`, `user`,
    /// `current_user`, `presence`, `voice_state`, `voice_states`, `recent_messages`) for `ids`
    /// (snowflake strings, in the read's order; `members` takes the guild, then any number of
    /// users); its answer reaches the completion callback with `id`: JSON text, `null` when not
    /// cached, an array for the reads of several values. `limit` is the most messages of
    /// `recent_messages` (default 50).
    ///
    /// Errors, thrown at once: `DDISCORD_INVALID_ID`, `DDISCORD_INVALID_ARGUMENT` (unknown
    /// read, wrong number of ids, no completion callback), `DDISCORD_CLOSED`. Through the
    /// callback: `DDISCORD_CACHE` (Redis unreachable or failing), `DDISCORD_CORRUPT_CACHE`.
    #[napi]
    pub fn cache_query_start(
        &self,
        env: Env,
        id: u32,
        read: String,
        ids: Vec<String>,
        limit: Option<u32>,
    ) -> napi::Result<(), String> {
        self.check_open()?;
        let limit = limit.map(|l| l as usize);
        let query = CacheQuery::parse(&read, &ids, limit)
            .map_err(ClientError::from)
            .map_err(NodeError::from)?;
        let Some(callback) = self.completions().callback() else {
            return Err(NodeError::new(
                ddiscord::ErrorKind::InvalidArgument,
                "no completion callback: call setCacheCompletions first (the JS entry does)",
            )
            .into());
        };
        let pending = self.completions().pending.clone();
        if pending.fetch_add(1, Ordering::AcqRel) == 0 {
            set_referenced(&callback, &env, true);
        }
        let core = self.core().clone();
        self.spawn(async move {
            let done = settle(core.query_cache(&query).await, id);
            let f = callback.lock().unwrap_or_else(PoisonError::into_inner);
            let after = callback.clone();
            // Runs on the JS thread once the callback returned: the last answer out lets the
            // event loop exit again.
            f.call_with_return_value(
                done,
                ThreadsafeFunctionCallMode::NonBlocking,
                move |_, env| {
                    if pending.fetch_sub(1, Ordering::AcqRel) == 1 {
                        set_referenced(&after, &env, false);
                    }
                    Ok(())
                },
            );
        });
        Ok(())
    }
}
