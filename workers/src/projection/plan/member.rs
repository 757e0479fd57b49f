//! Members: GUILD_MEMBER_ADD, GUILD_MEMBER_REMOVE, GUILD_MEMBER_UPDATE and
//! GUILD_MEMBERS_CHUNK, and the stored shape of a member (without its user, which is global).

use ddiscord::cache::keys::state_field;
use serde::Serialize;
use serde_json::Value;
use twilight_model::gateway::payload::incoming::{
    MemberAdd, MemberChunk, MemberRemove, MemberUpdate,
};
use twilight_model::guild::{Member, PartialMember};
use twilight_model::user::User;

use super::{Plan, Planner, encode_error, id, json};
use crate::projection::{Op, ProjectionError};

impl Planner {
    /// GUILD_MEMBER_ADD: the member and its user; the guild's member count goes up.
    pub(super) fn member_add(&self, name: &str, add: &MemberAdd) -> Result<Plan, ProjectionError> {
        let g = add.guild_id.get();
        let mut ops = vec![Op::HIncrIfExists(
            self.keys.guild_state(g),
            state_field::MEMBER_COUNT.into(),
            1,
        )];
        self.members(name, g, std::slice::from_ref(&add.member), &mut ops)?;
        Ok(Plan::Ops(ops))
    }

    /// GUILD_MEMBER_REMOVE: the member goes (its user stays); the member count goes down.
    pub(super) fn member_remove(&self, remove: &MemberRemove) -> Plan {
        let g = remove.guild_id.get();
        Plan::Ops(vec![
            Op::HIncrIfExists(
                self.keys.guild_state(g),
                state_field::MEMBER_COUNT.into(),
                -1,
            ),
            Op::HDel(self.keys.guild_members(g), vec![id(remove.user.id)]),
        ])
    }

    /// GUILD_MEMBERS_CHUNK: the members, their presences when cached, and, with the last
    /// chunk of a request without nonce, the guild marked as fully chunked.
    pub(super) fn member_chunk(
        &self,
        name: &str,
        chunk: &MemberChunk,
    ) -> Result<Plan, ProjectionError> {
        let mut ops = Vec::new();
        let g = chunk.guild_id.get();
        self.members(name, g, &chunk.members, &mut ops)?;
        if self.config.cache_presences && !chunk.presences.is_empty() {
            let mut pairs = Vec::with_capacity(chunk.presences.len());
            for p in &chunk.presences {
                pairs.push((id(p.user.id()), json(name, p)?));
            }
            ops.push(Op::HSet(self.keys.guild_presences(g), pairs));
        }
        if chunk.nonce.is_none() && chunk.chunk_index + 1 >= chunk.chunk_count {
            ops.push(Op::HSet(
                self.keys.guild_state(g),
                vec![(state_field::MEMBERS_CHUNKED.into(), "1".into())],
            ));
        }
        Ok(Plan::Ops(ops))
    }

    /// Appends the writes of `members` of `guild` to `ops`: the members, and their users.
    pub(super) fn members(
        &self,
        name: &str,
        guild: u64,
        members: &[Member],
        ops: &mut Vec<Op>,
    ) -> Result<(), ProjectionError> {
        if members.is_empty() {
            return Ok(());
        }
        let mut pairs = Vec::with_capacity(members.len());
        let mut users = Vec::with_capacity(members.len());
        for member in members {
            pairs.push((id(member.user.id), member_json(name, member)?));
            users.push((
                self.keys.user(member.user.id.get()),
                json(name, &member.user)?,
            ));
        }
        ops.push(Op::HSet(self.keys.guild_members(guild), pairs));
        ops.push(Op::MSet(users));
        Ok(())
    }

    /// GUILD_MEMBER_UPDATE: replaces the cached member (only when cached), keeping `deaf` and
    /// `mute` when the update lacks them, and sets its user.
    pub(super) fn member_update(
        &self,
        name: &str,
        update: &MemberUpdate,
    ) -> Result<Plan, ProjectionError> {
        let member = Member {
            avatar: update.avatar,
            avatar_decoration_data: None,
            banner: None,
            communication_disabled_until: update.communication_disabled_until,
            deaf: update.deaf.unwrap_or_default(),
            flags: update
                .flags
                .unwrap_or(twilight_model::guild::MemberFlags::empty()),
            joined_at: update.joined_at,
            mute: update.mute.unwrap_or_default(),
            nick: update.nick.clone(),
            pending: update.pending,
            premium_since: update.premium_since,
            roles: update.roles.clone(),
            user: update.user.clone(),
        };
        let mut value =
            serde_json::to_value(&member).map_err(|source| encode_error(name, source))?;
        if let Value::Object(map) = &mut value {
            map.remove("user");
            if update.deaf.is_none() {
                map.remove("deaf");
            }
            if update.mute.is_none() {
                map.remove("mute");
            }
        }
        Ok(Plan::Ops(vec![Op::MemberUpdate {
            key: self.keys.guild_members(update.guild_id.get()),
            field: id(update.user.id),
            json: value.to_string(),
            keep_deaf: update.deaf.is_none(),
            keep_mute: update.mute.is_none(),
            user_key: self.keys.user(update.user.id.get()),
            user_json: json(name, &update.user)?,
        }]))
    }
}

/// A member as stored: the member object without `user` (users are global). Mirrors the
/// serialisation of twilight-model's `Member` field for field, borrowing instead of copying.
#[derive(Serialize)]
struct StoredMember<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    avatar: Option<&'a twilight_model::util::ImageHash>,
    #[serde(skip_serializing_if = "Option::is_none")]
    avatar_decoration_data: Option<&'a twilight_model::user::AvatarDecorationData>,
    #[serde(skip_serializing_if = "Option::is_none")]
    banner: Option<&'a twilight_model::util::ImageHash>,
    communication_disabled_until: Option<twilight_model::util::Timestamp>,
    deaf: bool,
    flags: twilight_model::guild::MemberFlags,
    joined_at: Option<twilight_model::util::Timestamp>,
    mute: bool,
    nick: Option<&'a str>,
    pending: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    premium_since: Option<twilight_model::util::Timestamp>,
    roles: &'a [twilight_model::id::Id<twilight_model::id::marker::RoleMarker>],
}

/// `member` as stored ([`StoredMember`]).
fn member_json(event: &str, member: &Member) -> Result<String, ProjectionError> {
    let stored = StoredMember {
        avatar: member.avatar.as_ref(),
        avatar_decoration_data: member.avatar_decoration_data.as_ref(),
        banner: member.banner.as_ref(),
        communication_disabled_until: member.communication_disabled_until,
        deaf: member.deaf,
        flags: member.flags,
        joined_at: member.joined_at,
        mute: member.mute,
        nick: member.nick.as_deref(),
        pending: member.pending,
        premium_since: member.premium_since,
        roles: &member.roles,
    };
    json(event, &stored)
}

/// A message's partial member, stored in the member shape (without `user`).
pub(super) fn partial_member_json(
    name: &str,
    member: &PartialMember,
    author: &User,
) -> Result<String, ProjectionError> {
    let full = Member {
        avatar: member.avatar,
        avatar_decoration_data: member.avatar_decoration_data.clone(),
        banner: member.banner,
        communication_disabled_until: member.communication_disabled_until,
        deaf: member.deaf,
        flags: member.flags,
        joined_at: member.joined_at,
        mute: member.mute,
        nick: member.nick.clone(),
        pending: false,
        premium_since: member.premium_since,
        roles: member.roles.clone(),
        user: author.clone(),
    };
    member_json(name, &full)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_member_is_member_without_user() {
        let text = r#"{"avatar":null,"communication_disabled_until":null,"deaf":false,"flags":2,"joined_at":"2021-01-01T00:00:00.000000+00:00","mute":true,"nick":"n","pending":false,"premium_since":"2022-01-01T00:00:00.000000+00:00","roles":["5","6"],"user":{"id":"7","username":"u","discriminator":"0","avatar":null,"global_name":null}}"#;
        let member: Member = serde_json::from_str(text).unwrap();
        let mut expected = serde_json::to_value(&member).unwrap();
        expected.as_object_mut().unwrap().remove("user");
        let ours: Value = serde_json::from_str(&member_json("T", &member).unwrap()).unwrap();
        assert_eq!(ours, expected);
    }
}
