//! The write operations a dispatch turns into, and their encoding as arguments of the
//! projection script (`apply.lua`), which runs them atomically behind the sequence guard.
//!
//! Values are JSON text as Discord sent it. Partial updates are [`Op::Merge`]s: the script
//! splits the cached object into its top-level fields without decoding them and replaces or
//! adds the fields the event carries, so the text of every other field stays as it was.

/// A top-level field of a JSON object: the key as JSON text (`"nick"`, quotes included) and
/// the value's JSON text.
pub type Field = (String, String);

/// Where a [`Op::Merge`] finds the object it merges into.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// A string key.
    Key(String),
    /// A field of a hash.
    HashField(String, String),
}

/// A member written with its user (ids are decimal snowflakes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberWrite {
    /// The member's user id.
    pub user: String,
    /// The member object without `user`.
    pub member: String,
    /// The user object.
    pub user_json: String,
}

/// One write of a projected dispatch. Keys are full Redis keys; ids are decimal snowflakes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    /// `SET key value`.
    Set(String, String),
    /// `DEL key`.
    Del(String),
    /// `HSET key field value …` (sent in chunks of 500 pairs).
    HSet(String, Vec<(String, String)>),
    /// `HDEL key field …`.
    HDel(String, Vec<String>),
    /// `HINCRBY key field by`, only when the field exists.
    HIncrIfExists(String, String, i64),
    /// Replaces the fields `fields` carries in the cached object, adding the ones it lacks;
    /// when the object is not cached, creates it from `fields` if `create`, else does nothing.
    Merge {
        /// The object.
        target: Target,
        /// The fields to set.
        fields: Vec<Field>,
        /// Create the object when it is not cached.
        create: bool,
    },
    /// As [`Op::Merge`] into a channel or thread of a guild, the guild found through
    /// `channel-guild` when not given.
    ChannelMerge {
        /// Channel id.
        channel: u64,
        /// Guild id, when the event carries it.
        guild: Option<u64>,
        /// The fields to set.
        fields: Vec<Field>,
    },
    /// Adds `by` to the integer field `field` (JSON text of the key) of the JSON object at
    /// `key`, when both exist.
    JsonIncr {
        /// The string key holding the object.
        key: String,
        /// The key as JSON text, e.g. `"member_count"`.
        field: String,
        /// The increment.
        by: i64,
    },
    /// Sets members of a guild (replacing cached ones) and their users; a member new to the
    /// guild adds a reference to its user (`user-refs`).
    MemberSet {
        /// Guild id.
        guild: u64,
        /// The members.
        members: Vec<MemberWrite>,
    },
    /// Marks the guild `members_chunked` when its members hash holds at least the
    /// `member_count` of its state (a member request answered in full, whoever sent it).
    MembersChunkedIfAll(u64),
    /// Merges fields into a cached member and sets its user; when the member is not cached,
    /// creates it from `fields` if `create`, else does nothing.
    MemberMerge {
        /// Guild id.
        guild: u64,
        /// The member's user id.
        user: String,
        /// Create the member when it is not cached.
        create: bool,
        /// The member's fields (without `user`).
        fields: Vec<Field>,
        /// The user object to set with it, if any.
        user_json: Option<String>,
    },
    /// Removes a member (and its presence); the last guild to drop a user removes the user.
    MemberRemove {
        /// Guild id.
        guild: u64,
        /// The member's user id.
        user: String,
    },
    /// Sets a user only while some guild holds it as a member (message authors outside a
    /// guild, webhooks): users are kept only while referenced.
    UserIfHeld {
        /// User id.
        user: String,
        /// The user object.
        json: String,
    },
    /// Deletes a guild and everything under it (dropping its members' references to their
    /// users), optionally keeping its channels' messages.
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
    /// Removes cached messages.
    MessageDel {
        /// Channel id.
        channel: u64,
        /// Message ids.
        messages: Vec<u64>,
    },
}

fn push_fields(out: &mut Vec<String>, fields: Vec<Field>) {
    out.push(fields.len().to_string());
    for (k, v) in fields {
        out.push(k);
        out.push(v);
    }
}

impl Op {
    /// Appends the op's script arguments to `out`, moving its strings there.
    pub fn encode(self, out: &mut Vec<String>) {
        match self {
            Op::Set(k, v) => out.extend(["S".into(), k, v]),
            Op::Del(k) => out.extend(["D".into(), k]),
            Op::HSet(k, pairs) => {
                out.extend(["H".into(), k]);
                push_fields(out, pairs);
            }
            Op::HDel(k, fields) => {
                out.extend(["HD".into(), k, fields.len().to_string()]);
                out.extend(fields);
            }
            Op::HIncrIfExists(k, f, by) => {
                out.extend(["HIX".into(), k, f, by.to_string()]);
            }
            Op::Merge {
                target,
                fields,
                create,
            } => {
                let op = if create { "JC" } else { "J" };
                match target {
                    Target::Key(k) => out.extend([op.into(), k, String::new()]),
                    Target::HashField(k, f) => out.extend([op.into(), k, f]),
                }
                push_fields(out, fields);
            }
            Op::ChannelMerge {
                channel,
                guild,
                fields,
            } => {
                out.extend([
                    "CJ".into(),
                    channel.to_string(),
                    guild.map(|g| g.to_string()).unwrap_or_default(),
                ]);
                push_fields(out, fields);
            }
            Op::JsonIncr { key, field, by } => {
                out.extend(["JI".into(), key, field, by.to_string()]);
            }
            Op::MemberSet { guild, members } => {
                out.extend(["MS".into(), guild.to_string(), members.len().to_string()]);
                for m in members {
                    out.extend([m.user, m.member, m.user_json]);
                }
            }
            Op::MembersChunkedIfAll(g) => out.extend(["MC".into(), g.to_string()]),
            Op::MemberMerge {
                guild,
                user,
                create,
                fields,
                user_json,
            } => {
                out.extend([
                    "MJ".into(),
                    guild.to_string(),
                    user,
                    if create { "1" } else { "0" }.into(),
                    user_json.unwrap_or_default(),
                ]);
                push_fields(out, fields);
            }
            Op::MemberRemove { guild, user } => {
                out.extend(["MR".into(), guild.to_string(), user]);
            }
            Op::UserIfHeld { user, json } => {
                out.extend(["US".into(), user, json]);
            }
            Op::DelGuild {
                guild,
                keep_messages,
            } => out.extend([
                "DG".into(),
                guild.to_string(),
                if keep_messages { "1" } else { "0" }.into(),
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
                json,
                limit.to_string(),
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
            Op::HSet(_, p) => p.len(),
            Op::HDel(_, f) => f.len(),
            Op::Ready(g) => g.len() + 1,
            Op::MessageDel { messages, .. } => messages.len() * 2,
            Op::MemberSet { members, .. } => members.len() * 2,
            Op::MemberMerge { .. } | Op::MessageAdd { .. } => 2,
            _ => 1,
        }
    }
}
