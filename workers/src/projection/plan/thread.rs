//! Threads: THREAD_DELETE, THREAD_LIST_SYNC and the thread member events (THREAD_CREATE and
//! THREAD_UPDATE are cached as channels, [`Planner::channel_upsert`]).

use twilight_model::gateway::payload::incoming::{
    ThreadDelete, ThreadListSync, ThreadMemberUpdate, ThreadMembersUpdate,
};

use super::{Plan, Planner, id, json};
use crate::projection::{Op, ProjectionError};

impl Planner {
    /// THREAD_DELETE: the thread, as a channel, and its members.
    pub(super) fn thread_delete(&self, thread: &ThreadDelete) -> Plan {
        Plan::Ops(vec![Op::DelChannel {
            guild: thread.guild_id.get(),
            channel: thread.id.get(),
        }])
    }

    /// THREAD_LIST_SYNC: the active threads and the current user's thread memberships.
    pub(super) fn thread_list_sync(
        &self,
        name: &str,
        sync: ThreadListSync,
    ) -> Result<Plan, ProjectionError> {
        let mut ops = Vec::new();
        for thread in sync.threads {
            let mut thread = thread;
            thread.guild_id = Some(sync.guild_id);
            self.push_channel(name, thread, &mut ops)?;
        }
        for member in sync.members {
            if let (Some(thread), Some(user)) = (member.id, member.user_id) {
                self.thread_indexed(sync.guild_id.get(), thread.get(), &mut ops);
                ops.push(Op::HSet(
                    self.keys.thread_members(sync.guild_id.get(), thread.get()),
                    vec![(id(user), json(name, &member)?)],
                ));
            }
        }
        Ok(Plan::Ops(ops))
    }

    /// THREAD_MEMBER_UPDATE: the current user's membership of a thread.
    pub(super) fn thread_member_update(
        &self,
        name: &str,
        update: &ThreadMemberUpdate,
    ) -> Result<Plan, ProjectionError> {
        let mut ops = Vec::new();
        let member = &update.member;
        if let (Some(thread), Some(user)) = (member.id, member.user_id) {
            self.thread_indexed(update.guild_id.get(), thread.get(), &mut ops);
            ops.push(Op::HSet(
                self.keys
                    .thread_members(update.guild_id.get(), thread.get()),
                vec![(id(user), json(name, member)?)],
            ));
        }
        Ok(Plan::Ops(ops))
    }

    /// THREAD_MEMBERS_UPDATE: members added to and removed from a thread.
    pub(super) fn thread_members_update(
        &self,
        name: &str,
        update: &ThreadMembersUpdate,
    ) -> Result<Plan, ProjectionError> {
        let mut ops = Vec::new();
        let key = self
            .keys
            .thread_members(update.guild_id.get(), update.id.get());
        let mut added = Vec::new();
        for member in &update.added_members {
            if let Some(user) = member.user_id {
                added.push((id(user), json(name, member)?));
            }
        }
        if !added.is_empty() {
            self.thread_indexed(update.guild_id.get(), update.id.get(), &mut ops);
            ops.push(Op::HSet(key.clone(), added));
        }
        if !update.removed_member_ids.is_empty() {
            ops.push(Op::HDel(
                key,
                update.removed_member_ids.iter().map(|u| id(*u)).collect(),
            ));
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
