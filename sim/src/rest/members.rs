//! Guild, member, role and ban routes (<https://discord.com/developers/docs/resources/guild>):
//!
//! | route | answer | dispatch |
//! |---|---|---|
//! | `GET /users/@me/guilds` | the bot's guilds as partial guilds (`id`, `name`, `icon`, `owner`, `permissions`, `features`) | |
//! | `GET /guilds/{g}` | the guild with its roles | |
//! | `GET /guilds/{g}/channels` | the guild's channels | |
//! | `GET /guilds/{g}/members?limit=N&after=U` | members by user id after `after`, at most `limit` (1 to 1000, default 1) | |
//! | `GET /guilds/{g}/members/{u}` | the member | |
//! | `PATCH /guilds/{g}/members/{u}` | the member after `nick`, `roles`, `mute`, `deaf`, `communication_disabled_until` (a timeout) | GUILD_MEMBER_UPDATE |
//! | `DELETE /guilds/{g}/members/{u}` | 204 (a kick) | GUILD_MEMBER_REMOVE |
//! | `PUT /guilds/{g}/members/{u}/roles/{r}` | 204 | GUILD_MEMBER_UPDATE |
//! | `DELETE /guilds/{g}/members/{u}/roles/{r}` | 204 | GUILD_MEMBER_UPDATE |
//! | `GET /guilds/{g}/bans/{u}` | the ban `{reason, user}` | |
//! | `PUT /guilds/{g}/bans/{u}` | 204; the member is removed | GUILD_BAN_ADD, GUILD_MEMBER_REMOVE |
//! | `DELETE /guilds/{g}/bans/{u}` | 204 | GUILD_BAN_REMOVE |
//!
//! Errors: 10004 Unknown Guild, 10007 Unknown Member, 10011 Unknown Role, 10013 Unknown User
//! (a ban of someone who is not a member), 10026 Unknown Ban, and 403 50013 Missing
//! Permissions for kicking or banning the owner or the bot itself.

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::{get, put};
use serde_json::{Value, json};

use super::limits::RouteKey;
use super::{dispatch, error, invalid_form, json_body, no_content, ok, path_id, serve};
use crate::state::{Shared, lock};
use crate::world::{Guild, World, id_of};

pub(crate) fn routes() -> Router<Arc<Shared>> {
    Router::new()
        .route("/api/v10/users/@me/guilds", get(current_user_guilds))
        .route("/api/v10/guilds/{guild}", get(get_guild))
        .route("/api/v10/guilds/{guild}/channels", get(get_channels))
        .route("/api/v10/guilds/{guild}/members", get(list_members))
        .route(
            "/api/v10/guilds/{guild}/members/{user}",
            get(get_member).patch(modify_member).delete(kick),
        )
        .route(
            "/api/v10/guilds/{guild}/members/{user}/roles/{role}",
            put(add_role).delete(remove_role),
        )
        .route(
            "/api/v10/guilds/{guild}/bans/{user}",
            get(get_ban).put(ban).delete(unban),
        )
}

fn key(bucket: &'static str, major: &str) -> RouteKey {
    RouteKey {
        bucket,
        major: major.parse().unwrap_or(0),
        global: true,
    }
}

fn unknown_guild() -> Response {
    error(StatusCode::NOT_FOUND, 10004, "Unknown Guild")
}

fn unknown_member() -> Response {
    error(StatusCode::NOT_FOUND, 10007, "Unknown Member")
}

fn missing_permissions() -> Response {
    error(StatusCode::FORBIDDEN, 50013, "Missing Permissions")
}

/// The guild `g` of the world, or Discord's 404.
fn guild_mut(world: &mut World, g: u64) -> Result<&mut Guild, Response> {
    world.guild_mut(g).ok_or_else(unknown_guild)
}

/// The guild and user ids of a `/guilds/{g}/…/{u}` path.
fn ids(guild: &str, user: &str) -> Result<(u64, u64), Response> {
    Ok((path_id(guild)?, path_id(user)?))
}

/// GUILD_MEMBER_UPDATE's `d`: the member with `guild_id`.
fn member_update(gid: u64, member: &Value) -> Value {
    let mut d = member.clone();
    d["guild_id"] = json!(gid.to_string());
    d
}

async fn current_user_guilds(State(s): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    serve(&s, &headers, key("user-guilds", "0"), |s| {
        let world = lock(&s.world);
        let guilds = world
            .guilds
            .iter()
            .map(|g| {
                json!({
                    "id": g.id.to_string(),
                    "name": g.base.get("name").cloned().unwrap_or(Value::Null),
                    "icon": g.base.get("icon").cloned().unwrap_or(Value::Null),
                    "owner": g.owner_id == world.bot_id,
                    "permissions": "2147483647",
                    "features": g.base.get("features").cloned().unwrap_or(json!([])),
                })
            })
            .collect();
        ok(Value::Array(guilds))
    })
}

async fn get_guild(
    State(s): State<Arc<Shared>>,
    Path(guild): Path<String>,
    headers: HeaderMap,
) -> Response {
    serve(&s, &headers, key("guild-get", &guild), |s| {
        let g = match path_id(&guild) {
            Ok(g) => g,
            Err(r) => return r,
        };
        let world = lock(&s.world);
        let Some(g) = world.guild(g) else {
            return unknown_guild();
        };
        let mut d = g.base.clone();
        for gateway_only in [
            "joined_at",
            "large",
            "unavailable",
            "member_count",
            "members",
            "channels",
            "threads",
            "presences",
            "voice_states",
            "stage_instances",
            "guild_scheduled_events",
            "soundboard_sounds",
        ] {
            d.remove(gateway_only);
        }
        d.insert("roles".into(), Value::Array(g.roles.clone()));
        ok(Value::Object(d))
    })
}

async fn get_channels(
    State(s): State<Arc<Shared>>,
    Path(guild): Path<String>,
    headers: HeaderMap,
) -> Response {
    serve(&s, &headers, key("guild-channels", &guild), |s| {
        let g = match path_id(&guild) {
            Ok(g) => g,
            Err(r) => return r,
        };
        let world = lock(&s.world);
        let Some(g) = world.guild(g) else {
            return unknown_guild();
        };
        let gid = json!(g.id.to_string());
        let channels = g
            .channels
            .iter()
            .map(|c| {
                let mut c = c.clone();
                c["guild_id"] = gid.clone();
                c
            })
            .collect();
        ok(Value::Array(channels))
    })
}

/// Query of List Guild Members.
#[derive(Debug, serde::Deserialize)]
struct ListQuery {
    limit: Option<usize>,
    after: Option<u64>,
}

async fn list_members(
    State(s): State<Arc<Shared>>,
    Path(guild): Path<String>,
    Query(q): Query<ListQuery>,
    headers: HeaderMap,
) -> Response {
    serve(&s, &headers, key("guild-members", &guild), |s| {
        let g = match path_id(&guild) {
            Ok(g) => g,
            Err(r) => return r,
        };
        let limit = q.limit.unwrap_or(1);
        if !(1..=1000).contains(&limit) {
            return invalid_form(
                "limit",
                "NUMBER_TYPE_MAX",
                "int value should be between 1 and 1000.",
            );
        }
        let world = lock(&s.world);
        let Some(g) = world.guild(g) else {
            return unknown_guild();
        };
        let after = q.after.unwrap_or(0);
        let mut ids: Vec<u64> = g
            .member_index
            .keys()
            .copied()
            .filter(|u| *u > after)
            .collect();
        ids.sort_unstable();
        let members = ids
            .iter()
            .take(limit)
            .filter_map(|u| g.member(*u).cloned())
            .collect();
        ok(Value::Array(members))
    })
}

async fn get_member(
    State(s): State<Arc<Shared>>,
    Path((guild, user)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    serve(&s, &headers, key("member-get", &guild), |s| {
        let (g, u) = match ids(&guild, &user) {
            Ok(ids) => ids,
            Err(r) => return r,
        };
        let mut world = lock(&s.world);
        let g = match guild_mut(&mut world, g) {
            Ok(g) => g,
            Err(r) => return r,
        };
        g.member(u).cloned().map_or_else(unknown_member, ok)
    })
}

/// Applies a Modify Guild Member body to `member`; `roles` are checked against `role_ids`.
fn apply_modify(member: &mut Value, body: &Value, role_ids: &[u64]) -> Result<(), Response> {
    if let Some(nick) = body.get("nick") {
        if !(nick.is_null() || nick.as_str().is_some_and(|n| n.chars().count() <= 32)) {
            return Err(invalid_form(
                "nick",
                "BASE_TYPE_MAX_LENGTH",
                "Must be 32 or fewer in length.",
            ));
        }
        member["nick"] = nick.clone();
    }
    if let Some(roles) = body.get("roles") {
        let Some(list) = roles.as_array() else {
            return Err(invalid_form(
                "roles",
                "LIST_TYPE_CONVERT",
                "Must be an array.",
            ));
        };
        for r in list {
            if !crate::world::snowflake(r).is_some_and(|id| role_ids.contains(&id)) {
                return Err(error(StatusCode::NOT_FOUND, 10011, "Unknown Role"));
            }
        }
        member["roles"] = roles.clone();
    }
    for flag in ["mute", "deaf"] {
        if let Some(v) = body.get(flag) {
            member[flag] = json!(v.as_bool().unwrap_or(false));
        }
    }
    if let Some(until) = body.get("communication_disabled_until") {
        if !(until.is_null() || until.is_string()) {
            return Err(invalid_form(
                "communication_disabled_until",
                "DATE_TIME_TYPE_PARSE",
                "Could not parse the value as an ISO8601 timestamp.",
            ));
        }
        member["communication_disabled_until"] = until.clone();
    }
    Ok(())
}

async fn modify_member(
    State(s): State<Arc<Shared>>,
    Path((guild, user)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    serve(&s, &headers, key("member-modify", &guild), |s| {
        let (g, u, body) = match (ids(&guild, &user), json_body(&body)) {
            (Ok((g, u)), Ok(b)) => (g, u, b),
            (Err(r), _) | (_, Err(r)) => return r,
        };
        let mut world = lock(&s.world);
        let g = match guild_mut(&mut world, g) {
            Ok(g) => g,
            Err(r) => return r,
        };
        let role_ids: Vec<u64> = g.roles.iter().filter_map(|r| id_of(r, "id")).collect();
        let Some(&idx) = g.member_index.get(&u) else {
            return unknown_member();
        };
        let mut member = g.members[idx].clone();
        if let Err(r) = apply_modify(&mut member, &body, &role_ids) {
            return r;
        }
        g.members[idx] = member.clone();
        let d = member_update(g.id, &member);
        let gid = g.id;
        drop(world);
        dispatch(s, gid, "GUILD_MEMBER_UPDATE", &d);
        ok(member)
    })
}

/// Adds (`add`) or removes role `role` of member `user` in `guild`.
fn change_role(s: &Shared, guild: &str, user: &str, role: &str, add: bool) -> Response {
    let (g, u, r) = match (ids(guild, user), path_id(role)) {
        (Ok((g, u)), Ok(r)) => (g, u, r),
        (Err(e), _) | (_, Err(e)) => return e,
    };
    let mut world = lock(&s.world);
    let g = match guild_mut(&mut world, g) {
        Ok(g) => g,
        Err(e) => return e,
    };
    if !g.roles.iter().any(|x| id_of(x, "id") == Some(r)) {
        return error(StatusCode::NOT_FOUND, 10011, "Unknown Role");
    }
    let Some(&idx) = g.member_index.get(&u) else {
        return unknown_member();
    };
    let member = &mut g.members[idx];
    let mut roles: Vec<Value> = member
        .get("roles")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let had = roles.iter().any(|x| crate::world::snowflake(x) == Some(r));
    if add && !had {
        roles.push(json!(r.to_string()));
    } else if !add && had {
        roles.retain(|x| crate::world::snowflake(x) != Some(r));
    } else {
        return no_content();
    }
    member["roles"] = Value::Array(roles);
    let d = member_update(g.id, member);
    let gid = g.id;
    drop(world);
    dispatch(s, gid, "GUILD_MEMBER_UPDATE", &d);
    no_content()
}

async fn add_role(
    State(s): State<Arc<Shared>>,
    Path((guild, user, role)): Path<(String, String, String)>,
    headers: HeaderMap,
) -> Response {
    serve(&s, &headers, key("member-role", &guild), |s| {
        change_role(s, &guild, &user, &role, true)
    })
}

async fn remove_role(
    State(s): State<Arc<Shared>>,
    Path((guild, user, role)): Path<(String, String, String)>,
    headers: HeaderMap,
) -> Response {
    serve(&s, &headers, key("member-role", &guild), |s| {
        change_role(s, &guild, &user, &role, false)
    })
}

/// Removes member `u` of `g` as a kick or ban does: their messages' reactions go with them,
/// as the traffic's GUILD_MEMBER_REMOVE does. Returns the user object, or Discord's error.
fn remove(world: &mut World, g: u64, u: u64) -> Result<Option<Value>, Response> {
    let bot = world.bot_id;
    let g = guild_mut(world, g)?;
    if u == g.owner_id || u == bot {
        return Err(missing_permissions());
    }
    let Some(member) = g.remove_member(u) else {
        return Ok(None);
    };
    for msg in &mut g.messages {
        msg.reactions.retain(|(_, x)| *x != u);
    }
    Ok(member.get("user").cloned())
}

async fn kick(
    State(s): State<Arc<Shared>>,
    Path((guild, user)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    serve(&s, &headers, key("member-remove", &guild), |s| {
        let (g, u) = match ids(&guild, &user) {
            Ok(ids) => ids,
            Err(r) => return r,
        };
        let removed = remove(&mut lock(&s.world), g, u);
        match removed {
            Ok(Some(user)) => {
                let d = json!({"guild_id": g.to_string(), "user": user});
                dispatch(s, g, "GUILD_MEMBER_REMOVE", &d);
                no_content()
            }
            Ok(None) => unknown_member(),
            Err(r) => r,
        }
    })
}

async fn get_ban(
    State(s): State<Arc<Shared>>,
    Path((guild, user)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    serve(&s, &headers, key("ban-get", &guild), |s| {
        let (g, u) = match ids(&guild, &user) {
            Ok(ids) => ids,
            Err(r) => return r,
        };
        if lock(&s.world).guild(g).is_none() {
            return unknown_guild();
        }
        let ban = lock(&s.rest).bans.get(&(g, u)).cloned();
        ban.map_or_else(|| error(StatusCode::NOT_FOUND, 10026, "Unknown Ban"), ok)
    })
}

async fn ban(
    State(s): State<Arc<Shared>>,
    Path((guild, user)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    let reason = headers
        .get("x-audit-log-reason")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    serve(&s, &headers, key("ban-create", &guild), |s| {
        let (g, u) = match ids(&guild, &user) {
            Ok(ids) => ids,
            Err(r) => return r,
        };
        let removed = remove(&mut lock(&s.world), g, u);
        let user = match removed {
            Ok(Some(user)) => user,
            Ok(None) if lock(&s.rest).bans.contains_key(&(g, u)) => return no_content(),
            Ok(None) => return error(StatusCode::NOT_FOUND, 10013, "Unknown User"),
            Err(r) => return r,
        };
        lock(&s.rest)
            .bans
            .insert((g, u), json!({"reason": reason, "user": user}));
        let d = json!({"guild_id": g.to_string(), "user": user});
        dispatch(s, g, "GUILD_BAN_ADD", &d);
        dispatch(s, g, "GUILD_MEMBER_REMOVE", &d);
        no_content()
    })
}

async fn unban(
    State(s): State<Arc<Shared>>,
    Path((guild, user)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    serve(&s, &headers, key("ban-remove", &guild), |s| {
        let (g, u) = match ids(&guild, &user) {
            Ok(ids) => ids,
            Err(r) => return r,
        };
        let removed = lock(&s.rest).bans.remove(&(g, u));
        match removed {
            Some(ban) => {
                let d = json!({"guild_id": g.to_string(), "user": ban["user"].clone()});
                dispatch(s, g, "GUILD_BAN_REMOVE", &d);
                no_content()
            }
            None => error(StatusCode::NOT_FOUND, 10026, "Unknown Ban"),
        }
    })
}
