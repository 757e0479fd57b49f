//! Members: GUILD_MEMBER_ADD, GUILD_MEMBER_REMOVE, GUILD_MEMBER_UPDATE and
//! GUILD_MEMBERS_CHUNK, and the stored shape of a member: the member object without `user`
//! (users are global, at `user:<u>`, kept while a guild holds them).

use ddiscord::cache::keys::state_field;

use super::presence::presence_pair;
use super::raw::{RawObject, Shape, objects};
use super::{Plan, Planner, fields_except};
use crate::projection::Op;
use crate::projection::ops::MemberWrite;

/// The key of the guild object's member count, as JSON text.
const MEMBER_COUNT: &str = "\"member_count\"";

impl Planner {
    /// GUILD_MEMBER_ADD: the member and its user; the guild's member count goes up, in the
    /// stored guild and in its state.
    pub(super) fn member_add(&self, mut d: RawObject<'_>) -> Result<Plan, Shape> {
        let g = d.id("guild_id", "d")?;
        d.take("guild_id");
        let mut ops = self.count(g, 1);
        ops.push(Op::MemberSet {
            guild: g,
            members: vec![member_write(d)?],
        });
        Ok(Plan::Ops(ops))
    }

    /// GUILD_MEMBER_REMOVE: the member and its presence go, and its user when no other guild
    /// holds it; the member count goes down.
    pub(super) fn member_remove(&self, d: &RawObject<'_>) -> Result<Plan, Shape> {
        let g = d.id("guild_id", "d")?;
        let user = d
            .child("user", "d")?
            .ok_or_else(|| Shape("d.user is missing".into()))?
            .id("id", "d.user")?;
        let mut ops = self.count(g, -1);
        ops.push(Op::MemberRemove {
            guild: g,
            user: user.to_string(),
        });
        Ok(Plan::Ops(ops))
    }

    /// The member count of guild `g` changed by `by`.
    fn count(&self, g: u64, by: i64) -> Vec<Op> {
        vec![
            Op::HIncrIfExists(
                self.keys.guild_state(g),
                state_field::MEMBER_COUNT.into(),
                by,
            ),
            Op::JsonIncr {
                key: self.keys.guild(g),
                field: MEMBER_COUNT.into(),
                by,
            },
        ]
    }

    /// GUILD_MEMBERS_CHUNK: the members, their presences when cached, and, with the last
    /// chunk of a request, the guild marked as fully chunked: always for a request without
    /// nonce (ingest's request for every member), and for one with a nonce (a script's) when
    /// the cache then holds the guild's `member_count` members.
    pub(super) fn member_chunk(&self, d: &RawObject<'_>) -> Result<Plan, Shape> {
        let g = d.id("guild_id", "d")?;
        let guild_id = d
            .get_borrowed("guild_id")
            .ok_or_else(|| Shape("d.guild_id is missing".into()))?;
        let mut ops = Vec::new();
        let members = objects(d, "members")?
            .into_iter()
            .map(member_write)
            .collect::<Result<Vec<_>, _>>()?;
        if !members.is_empty() {
            ops.push(Op::MemberSet { guild: g, members });
        }
        if self.config.cache_presences {
            let pairs = objects(d, "presences")?
                .into_iter()
                .map(|p| presence_pair(p, guild_id))
                .collect::<Result<Vec<_>, _>>()?;
            if !pairs.is_empty() {
                ops.push(Op::HSet(self.keys.guild_presences(g), pairs));
            }
        }
        let index = integer(d, "chunk_index")?;
        let count = integer(d, "chunk_count")?;
        if index + 1 >= count {
            if d.has("nonce") {
                // Any script's request (with a nonce): complete if the cache now holds every
                // member.
                ops.push(Op::MembersChunkedIfAll(g));
            } else {
                ops.push(Op::HSet(
                    self.keys.guild_state(g),
                    vec![(state_field::MEMBERS_CHUNKED.into(), "1".into())],
                ));
            }
        }
        Ok(Plan::Ops(ops))
    }

    /// GUILD_MEMBER_UPDATE: the fields it carries replace the cached member's (fields it
    /// lacks, such as `deaf` and `mute`, are kept), and its user is set; a member that is not
    /// cached is not created, as twilight-cache-inmemory.
    pub(super) fn member_update(&self, d: RawObject<'_>) -> Result<Plan, Shape> {
        let g = d.id("guild_id", "d")?;
        let user = d
            .get("user")
            .ok_or_else(|| Shape("d.user is missing".into()))?;
        let user_id = RawObject::of(user, "d.user")?.id("id", "d.user")?;
        Ok(Plan::Ops(vec![Op::MemberMerge {
            guild: g,
            user: user_id.to_string(),
            create: false,
            fields: fields_except(&d, &["guild_id", "user"]),
            user_json: Some(user.get().to_owned()),
        }]))
    }
}

/// A member object (with `user`) as stored: the member without `user`, and the user.
pub(super) fn member_write(mut member: RawObject<'_>) -> Result<MemberWrite, Shape> {
    let user = member
        .take("user")
        .ok_or_else(|| Shape("member.user is missing".into()))?;
    let id = RawObject::of(&user, "member.user")?.id("id", "member.user")?;
    Ok(MemberWrite {
        user: id.to_string(),
        member: member.to_json(),
        user_json: user.get().to_owned(),
    })
}

/// The non-negative integer `key` of `d`.
fn integer(d: &RawObject<'_>, key: &str) -> Result<u64, Shape> {
    d.get(key)
        .and_then(|v| v.get().parse().ok())
        .ok_or_else(|| Shape(format!("d.{key} is not a non-negative integer")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_member_is_member_without_user() {
        let text = r#"{"avatar":null,"deaf":false,"flags":2,"x_new":{"a":[1]},"user":{"id":"7","username":"u","x_user":1},"roles":["5"]}"#;
        let write = member_write(RawObject::parse(text, "m").unwrap()).unwrap();
        assert_eq!(write.user, "7");
        assert_eq!(
            write.member,
            r#"{"avatar":null,"deaf":false,"flags":2,"x_new":{"a":[1]},"roles":["5"]}"#
        );
        assert_eq!(write.user_json, r#"{"id":"7","username":"u","x_user":1}"#);
    }
}
