//! Threads: THREAD_DELETE, THREAD_LIST_SYNC and the thread member events (THREAD_CREATE and
//! THREAD_UPDATE are cached as channels, [`Planner::channel_upsert`]).

use std::borrow::Cow;

use super::raw::{RawObject, Shape, ids, objects};
use super::{Plan, Planner};
use crate::projection::Op;

impl Planner {
    /// THREAD_DELETE: the thread, as a channel, and its members.
    pub(super) fn thread_delete(&self, d: &RawObject<'_>) -> Result<Plan, Shape> {
        Ok(Plan::Ops(vec![Op::DelChannel {
            guild: d.id("guild_id", "d")?,
            channel: d.id("id", "d")?,
        }]))
    }

    /// THREAD_LIST_SYNC: the active threads and the current user's thread memberships.
    pub(super) fn thread_list_sync(&self, d: &RawObject<'_>) -> Result<Plan, Shape> {
        let g = d.id("guild_id", "d")?;
        let guild_id = d
            .get_borrowed("guild_id")
            .ok_or_else(|| Shape("d.guild_id is missing".into()))?;
        let mut ops = Vec::new();
        for mut thread in objects(d, "threads")? {
            thread.set("guild_id", Cow::Borrowed(guild_id));
            self.push_channel(&thread, &mut ops)?;
        }
        for member in objects(d, "members")? {
            self.push_thread_member(g, &member, &mut ops)?;
        }
        Ok(Plan::Ops(ops))
    }

    /// THREAD_MEMBER_UPDATE: the current user's membership of a thread.
    pub(super) fn thread_member_update(&self, d: &RawObject<'_>) -> Result<Plan, Shape> {
        let g = d.id("guild_id", "d")?;
        let mut ops = Vec::new();
        self.push_thread_member(g, d, &mut ops)?;
        Ok(Plan::Ops(ops))
    }

    /// A thread member (`id` is the thread, `user_id` the user; both may be absent in some
    /// payloads, which are then not cached).
    fn push_thread_member(
        &self,
        g: u64,
        member: &RawObject<'_>,
        ops: &mut Vec<Op>,
    ) -> Result<(), Shape> {
        let thread = member.opt_id("id", "thread member")?;
        let user = member.opt_id("user_id", "thread member")?;
        if let (Some(thread), Some(user)) = (thread, user) {
            self.thread_indexed(g, thread, ops);
            ops.push(Op::HSet(
                self.keys.thread_members(g, thread),
                vec![(user.to_string(), member.to_json())],
            ));
        }
        Ok(())
    }

    /// THREAD_MEMBERS_UPDATE: members added to and removed from a thread.
    pub(super) fn thread_members_update(&self, d: &RawObject<'_>) -> Result<Plan, Shape> {
        let g = d.id("guild_id", "d")?;
        let thread = d.id("id", "d")?;
        let key = self.keys.thread_members(g, thread);
        let mut ops = Vec::new();
        let mut added = Vec::new();
        for member in objects(d, "added_members")? {
            if let Some(user) = member.opt_id("user_id", "added_members[]")? {
                added.push((user.to_string(), member.to_json()));
            }
        }
        if !added.is_empty() {
            self.thread_indexed(g, thread, &mut ops);
            ops.push(Op::HSet(key.clone(), added));
        }
        let removed: Vec<String> = ids(d, "removed_member_ids")?
            .iter()
            .map(u64::to_string)
            .collect();
        if !removed.is_empty() {
            ops.push(Op::HDel(key, removed));
        }
        Ok(Plan::Ops(ops))
    }

    /// Records that the thread has a members hash, so deleting the guild finds it.
    fn thread_indexed(&self, guild: u64, thread: u64, ops: &mut Vec<Op>) {
        ops.push(Op::HSet(
            self.keys.guild_thread_index(guild),
            vec![(thread.to_string(), "1".to_owned())],
        ));
    }
}
