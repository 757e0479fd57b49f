//! The write operations a dispatch turns into, and their encoding as arguments of the
//! projection script (`apply.lua`), which runs them atomically behind the sequence guard.

/// One write of a projected dispatch. Keys are full Redis keys; ids are decimal snowflakes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    /// `SET key value`.
    Set(String, String),
    /// `DEL key`.
    Del(String),
    /// `HSET key field value …` (sent in chunks of 500 pairs).
    HSet(String, Vec<(String, String)>),
    /// `MSET key value …` (sent in chunks of 500 pairs).
    MSet(Vec<(String, String)>),
    /// `HDEL key field …`.
    HDel(String, Vec<String>),
    /// `HINCRBY key field by`, only when the field exists.
    HIncrIfExists(String, String, i64),
    /// Replaces a cached member (only when it is cached), keeping `deaf`/`mute` from the
    /// cached value when the update lacks them, and sets its user.
    MemberUpdate {
        /// `guild:<g>:members`.
        key: String,
        /// User id.
        field: String,
        /// The member without `user`, and without `deaf`/`mute` when unknown.
        json: String,
        /// `deaf` is not in `json`.
        keep_deaf: bool,
        /// `mute` is not in `json`.
        keep_mute: bool,
        /// `user:<u>`.
        user_key: String,
        /// The user.
        user_json: String,
    },
    /// Deletes a guild and everything under it, optionally keeping its channels' messages.
    DelGuild {
        /// Guild id.
        guild: u64,
        /// Keep the message caches (a GUILD_CREATE replacing the guild).
        keep_messages: bool,
    },
    /// Deletes a channel or thread, its index entry, thread members and messages.
    DelChannel {
        /// Guild id.
        guild: u64,
        /// Channel id.
        channel: u64,
    },
    /// Registers the guild on the op's shard in the shard's current generation.
    Register(u64),
    /// Removes the guild from the op's shard's guild list.
    Unregister(u64),
    /// READY of a new session: retire the shard's guilds not listed, mark the listed ones as
    /// refilling.
    Ready(Vec<u64>),
    /// Caches a new message, keeping at most `limit` per channel.
    MessageAdd {
        /// Channel id.
        channel: u64,
        /// Message id.
        message: u64,
        /// The message.
        json: String,
        /// Messages kept per channel (> 0).
        limit: usize,
    },
    /// Replaces a cached message (only when cached).
    MessageSet {
        /// Channel id.
        channel: u64,
        /// Message id.
        message: u64,
        /// The message.
        json: String,
    },
    /// Removes cached messages.
    MessageDel {
        /// Channel id.
        channel: u64,
        /// Message ids.
        messages: Vec<u64>,
    },
}

impl Op {
    /// Appends the op's script arguments to `out`.
    pub fn encode(&self, out: &mut Vec<String>) {
        match self {
            Op::Set(k, v) => out.extend(["S".into(), k.clone(), v.clone()]),
            Op::Del(k) => out.extend(["D".into(), k.clone()]),
            Op::HSet(k, pairs) => {
                out.extend(["H".into(), k.clone(), pairs.len().to_string()]);
                for (f, v) in pairs {
                    out.push(f.clone());
                    out.push(v.clone());
                }
            }
            Op::MSet(pairs) => {
                out.extend(["M".into(), pairs.len().to_string()]);
                for (k, v) in pairs {
                    out.push(k.clone());
                    out.push(v.clone());
                }
            }
            Op::HDel(k, fields) => {
                out.extend(["HD".into(), k.clone(), fields.len().to_string()]);
                out.extend(fields.iter().cloned());
            }
            Op::HIncrIfExists(k, f, by) => {
                out.extend(["HIX".into(), k.clone(), f.clone(), by.to_string()]);
            }
            Op::MemberUpdate {
                key,
                field,
                json,
                keep_deaf,
                keep_mute,
                user_key,
                user_json,
            } => {
                let mut need = String::new();
                if *keep_deaf {
                    need.push('d');
                }
                if *keep_mute {
                    need.push('m');
                }
                out.extend([
                    "MU".into(),
                    key.clone(),
                    field.clone(),
                    json.clone(),
                    need,
                    user_key.clone(),
                    user_json.clone(),
                ]);
            }
            Op::DelGuild {
                guild,
                keep_messages,
            } => out.extend([
                "DG".into(),
                guild.to_string(),
                if *keep_messages { "1" } else { "0" }.into(),
            ]),
            Op::DelChannel { guild, channel } => {
                out.extend(["DC".into(), guild.to_string(), channel.to_string()]);
            }
            Op::Register(g) => out.extend(["REG".into(), g.to_string()]),
            Op::Unregister(g) => out.extend(["UNREG".into(), g.to_string()]),
            Op::Ready(guilds) => {
                out.extend(["READY".into(), guilds.len().to_string()]);
                out.extend(guilds.iter().map(u64::to_string));
            }
            Op::MessageAdd {
                channel,
                message,
                json,
                limit,
            } => out.extend([
                "MA".into(),
                channel.to_string(),
                message.to_string(),
                json.clone(),
                limit.to_string(),
            ]),
            Op::MessageSet {
                channel,
                message,
                json,
            } => out.extend([
                "MS".into(),
                channel.to_string(),
                message.to_string(),
                json.clone(),
            ]),
            Op::MessageDel { channel, messages } => {
                out.extend(["MD".into(), channel.to_string(), messages.len().to_string()]);
                out.extend(messages.iter().map(u64::to_string));
            }
        }
    }

    /// How many single-key Redis writes the op stands for (a hash field or a string key each),
    /// for the throughput figures.
    pub fn writes(&self) -> usize {
        match self {
            Op::HSet(_, p) | Op::MSet(p) => p.len(),
            Op::HDel(_, f) => f.len(),
            Op::Ready(g) => g.len() + 1,
            Op::MessageDel { messages, .. } => messages.len() * 2,
            Op::MemberUpdate { .. } | Op::MessageAdd { .. } => 2,
            _ => 1,
        }
    }
}
