//! The reference projection: twilight-cache-inmemory fed the dispatches the simulator sent, in
//! sequence order, compared entity by entity (guilds, channels, roles, members, users) with
//! what `ddiscord::cache::CacheReader` reads from Redis. Adapted from
//! `workers/tests/reference.rs`, but every difference is collected instead of panicking on
//! the first, so a failure lists counts and examples.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;

use ddiscord::cache::{CacheReader, Keys};
use redis::aio::ConnectionManager;
use serde::de::DeserializeSeed;
use twilight_cache_inmemory::DefaultInMemoryCache;
use twilight_model::gateway::event::{Event, GatewayEventDeserializer};
use twilight_model::id::Id;
use twilight_model::user::User;

use super::delivery::EXAMPLES;
use super::first;

/// Events the state worker leaves out of the cache on purpose (interactions carry partial
/// members and resolved data that twilight caches; scripts handle them).
const NOT_PROJECTED: &[&str] = &["INTERACTION_CREATE"];

/// Per user, the newest user object each shard's stream carries. Users are global and
/// Discord defines no order across shards, so a cached user may be any shard's last word.
pub type NewestUsers = HashMap<u64, HashMap<u32, User>>;

/// twilight's cache fed `frames` (envelopes) in order, and the newest user object of each
/// user in each shard's stream.
pub fn reference(frames: &[bytes::Bytes]) -> (DefaultInMemoryCache, NewestUsers) {
    let cache = DefaultInMemoryCache::new();
    let mut users = NewestUsers::new();
    for env in frames {
        let text = std::str::from_utf8(env).unwrap();
        let Some(de) = GatewayEventDeserializer::from_json(text) else {
            continue;
        };
        if de.event_type().is_some_and(|t| NOT_PROJECTED.contains(&t)) {
            continue;
        }
        let ready = de.event_type() == Some("READY");
        let mut json = serde_json::Deserializer::from_str(text);
        if let Ok(event) = de.deserialize(&mut json) {
            cache.update(&Event::from(event));
        }
        if !ready {
            let v: serde_json::Value = serde_json::from_str(text).unwrap();
            let shard = v["shard"].as_u64().unwrap_or(0) as u32;
            newest_users(&v["d"], shard, &mut users);
        }
    }
    (cache, users)
}

fn newest_users(v: &serde_json::Value, shard: u32, out: &mut NewestUsers) {
    match v {
        serde_json::Value::Object(map) => {
            if map.contains_key("username")
                && let Ok(user) = serde_json::from_value::<User>(v.clone())
            {
                out.entry(user.id.get()).or_default().insert(shard, user);
            }
            map.values().for_each(|x| newest_users(x, shard, out));
        }
        serde_json::Value::Array(items) => {
            items.iter().for_each(|x| newest_users(x, shard, out));
        }
        _ => {}
    }
}

/// Differences between the Redis cache and the reference, per entity kind.
#[derive(Debug, Default)]
pub struct CacheDiff {
    /// Entities compared, per kind.
    pub checked: BTreeMap<&'static str, usize>,
    /// Differences per kind: missing, extra or unequal entities.
    pub diffs: BTreeMap<&'static str, Vec<String>>,
}

impl CacheDiff {
    fn check(&mut self, kind: &'static str) {
        *self.checked.entry(kind).or_default() += 1;
    }

    fn differ(&mut self, kind: &'static str, what: String) {
        self.diffs.entry(kind).or_default().push(what);
    }

    /// No difference at all.
    pub fn is_empty(&self) -> bool {
        self.diffs.values().all(Vec::is_empty)
    }

    /// Differences in total.
    pub fn count(&self) -> usize {
        self.diffs.values().map(Vec::len).sum()
    }
}

impl fmt::Display for CacheDiff {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "compared {:?}", self.checked)?;
        if self.is_empty() {
            return write!(f, ", no difference");
        }
        for (kind, diffs) in &self.diffs {
            write!(
                f,
                "\n  {kind}: {} differ (first: {})",
                diffs.len(),
                first(diffs, EXAMPLES)
            )?;
        }
        Ok(())
    }
}

/// The guild ids that have a guild object in Redis under `prefix`.
/// How many guilds the cache under `prefix` holds.
pub async fn cached_guild_count(conn: &ConnectionManager, prefix: &str) -> usize {
    cached_guilds(&mut conn.clone(), prefix).await.len()
}

async fn cached_guilds(conn: &mut ConnectionManager, prefix: &str) -> BTreeSet<u64> {
    let pattern = format!("{prefix}guild:*");
    let mut out = BTreeSet::new();
    let mut cursor: u64 = 0;
    loop {
        let (next, keys): (u64, Vec<String>) = redis::cmd("SCAN")
            .arg(cursor)
            .arg("MATCH")
            .arg(&pattern)
            .arg("COUNT")
            .arg(1000)
            .query_async(conn)
            .await
            .unwrap();
        for k in keys {
            if let Ok(id) = k[pattern.len() - 1..].parse::<u64>() {
                out.insert(id);
            }
        }
        if next == 0 {
            return out;
        }
        cursor = next;
    }
}

/// Compares the Redis cache under `prefix` with the reference of `frames`.
pub async fn compare(frames: &[bytes::Bytes], conn: &ConnectionManager, prefix: &str) -> CacheDiff {
    let (cache, newest) = reference(frames);
    let reader = CacheReader::new(conn.clone(), Keys::new(prefix));
    let mut d = CacheDiff::default();

    let expected: BTreeSet<u64> = cache.iter().guilds().map(|g| g.id().get()).collect();
    let ours = cached_guilds(&mut conn.clone(), prefix).await;
    for g in ours.difference(&expected) {
        d.differ(
            "guilds",
            format!("guild {g} cached but not in the stream's final state"),
        );
    }
    for guild in cache.iter().guilds() {
        let gid = guild.id().get();
        d.check("guilds");
        let Some(ours) = reader.guild(gid).await.unwrap() else {
            d.differ("guilds", format!("guild {gid} missing"));
            continue;
        };
        let mut fields: Vec<String> = Vec::new();
        macro_rules! field {
            ($to:ident, $name:literal, $ours:expr, $theirs:expr) => {
                if $ours != $theirs {
                    $to.push(format!("{} {:?} != {:?}", $name, $ours, $theirs));
                }
            };
        }
        field!(fields, "name", ours.name.as_str(), guild.name());
        field!(fields, "owner_id", ours.owner_id, guild.owner_id());
        field!(
            fields,
            "member_count",
            ours.member_count,
            guild.member_count()
        );
        field!(fields, "icon", ours.icon.as_ref(), guild.icon());
        field!(
            fields,
            "features",
            ours.features.clone(),
            guild.features().cloned().collect::<Vec<_>>()
        );
        field!(
            fields,
            "verification_level",
            ours.verification_level,
            guild.verification_level()
        );
        field!(
            fields,
            "system_channel_id",
            ours.system_channel_id,
            guild.system_channel_id()
        );
        field!(fields, "afk_timeout", ours.afk_timeout, guild.afk_timeout());
        field!(
            fields,
            "premium_tier",
            ours.premium_tier,
            guild.premium_tier()
        );
        field!(
            fields,
            "description",
            ours.description.as_deref(),
            guild.description()
        );
        if !fields.is_empty() {
            d.differ("guilds", format!("guild {gid}: {}", fields.join(", ")));
        }

        // Channels (threads included), by id then whole.
        let theirs: BTreeMap<u64, _> = cache
            .guild_channels(guild.id())
            .map(|ids| {
                ids.iter()
                    .filter_map(|id| cache.channel(*id).map(|c| (id.get(), c.value().clone())))
                    .collect()
            })
            .unwrap_or_default();
        let ours: BTreeMap<u64, _> = reader
            .channels(gid)
            .await
            .unwrap()
            .into_iter()
            .map(|c| (c.id.get(), c))
            .collect();
        for (id, theirs) in &theirs {
            d.check("channels");
            match ours.get(id) {
                None => d.differ("channels", format!("channel {gid}/{id} missing")),
                Some(o) if o != theirs => d.differ(
                    "channels",
                    format!("channel {gid}/{id} differs: ours name {:?} position {:?}, reference name {:?} position {:?}", o.name, o.position, theirs.name, theirs.position),
                ),
                Some(_) => {}
            }
        }
        for id in ours.keys().filter(|id| !theirs.contains_key(id)) {
            d.differ(
                "channels",
                format!("channel {gid}/{id} cached but deleted or never sent"),
            );
        }

        // Roles.
        let theirs: BTreeMap<u64, _> = cache
            .guild_roles(guild.id())
            .map(|ids| {
                ids.iter()
                    .filter_map(|id| cache.role(*id).map(|r| (id.get(), r.resource().clone())))
                    .collect()
            })
            .unwrap_or_default();
        let ours: BTreeMap<u64, _> = reader
            .roles(gid)
            .await
            .unwrap()
            .into_iter()
            .map(|r| (r.id.get(), r))
            .collect();
        for (id, theirs) in &theirs {
            d.check("roles");
            match ours.get(id) {
                None => d.differ("roles", format!("role {gid}/{id} missing")),
                Some(o) if o != theirs => d.differ(
                    "roles",
                    format!("role {gid}/{id} differs: ours {:?} position {}, reference {:?} position {}", o.name, o.position, theirs.name, theirs.position),
                ),
                Some(_) => {}
            }
        }
        for id in ours.keys().filter(|id| !theirs.contains_key(id)) {
            d.differ(
                "roles",
                format!("role {gid}/{id} cached but deleted or never sent"),
            );
        }

        // Members.
        let theirs: BTreeSet<u64> = cache
            .guild_members(guild.id())
            .map(|ids| ids.iter().map(|id| id.get()).collect())
            .unwrap_or_default();
        let ours: BTreeSet<u64> = reader.member_ids(gid).await.unwrap().into_iter().collect();
        for id in ours.difference(&theirs) {
            d.differ(
                "members",
                format!("member {gid}/{id} cached but removed or never sent"),
            );
        }
        let users: Vec<u64> = theirs.iter().copied().collect();
        for chunk in users.chunks(1000) {
            let cached = reader.members(gid, chunk).await.unwrap();
            for (user, ours) in chunk.iter().zip(cached) {
                d.check("members");
                let Some(ours) = ours else {
                    d.differ("members", format!("member {gid}/{user} missing"));
                    continue;
                };
                let theirs = cache.member(Id::new(gid), Id::new(*user)).unwrap();
                let mut fields: Vec<String> = Vec::new();
                field!(fields, "user", ours.user.id, theirs.user_id());
                field!(fields, "roles", ours.roles.as_slice(), theirs.roles());
                field!(fields, "nick", ours.nick.as_deref(), theirs.nick());
                field!(fields, "joined_at", ours.joined_at, theirs.joined_at());
                field!(fields, "avatar", ours.avatar, theirs.avatar());
                field!(
                    fields,
                    "premium_since",
                    ours.premium_since,
                    theirs.premium_since()
                );
                field!(fields, "pending", ours.pending, theirs.pending());
                field!(
                    fields,
                    "communication_disabled_until",
                    ours.communication_disabled_until,
                    theirs.communication_disabled_until()
                );
                field!(
                    fields,
                    "deaf",
                    Some(ours.deaf),
                    theirs.deaf().or(Some(ours.deaf))
                );
                field!(
                    fields,
                    "mute",
                    Some(ours.mute),
                    theirs.mute().or(Some(ours.mute))
                );
                if !fields.is_empty() {
                    d.differ(
                        "members",
                        format!("member {gid}/{user}: {}", fields.join(", ")),
                    );
                }
            }
        }
    }

    for user in cache.iter().users() {
        d.check("users");
        let id = user.id.get();
        match reader.user(id).await.unwrap() {
            // Known difference: the projection keeps a user only while a cached guild holds
            // it as a member; twilight also keeps authors of direct messages and webhooks.
            None if cache.user_guilds(user.id).is_none_or(|g| g.is_empty()) => {}
            None => d.differ("users", format!("user {id} missing")),
            // Known differences: twilight keeps a stale user when a member object arrives
            // unchanged with a changed user, and the reference applies shards one after the
            // other; the projection keeps the newest user object some shard sent last.
            Some(ours)
                if &ours != user.value()
                    && !newest
                        .get(&id)
                        .is_some_and(|by_shard| by_shard.values().any(|u| *u == ours)) =>
            {
                d.differ(
                    "users",
                    format!(
                        "user {id}: ours {:?}, reference {:?}",
                        ours.name,
                        user.value().name
                    ),
                )
            }
            Some(_) => {}
        }
    }
    d
}
