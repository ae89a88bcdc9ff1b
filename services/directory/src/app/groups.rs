//! Groups: create, read, update, delete, list. Membership is the user aggregate's.

use portcullis_errors::ApiError;

use super::{AggregateStore, CommandMeta, Directory, check_limit};
use crate::domain::group::{self, Group, GroupCommand, GroupState, group_not_found};
use crate::projections::GroupSummary;

/// A group's settings as CreateGroup takes them.
pub struct NewGroup {
    pub name: String,
    pub description: String,
    pub role_arn: String,
    pub precedence: Option<u32>,
}

/// UpdateGroup's members; `None` keeps the current value.
pub struct GroupChanges {
    pub description: Option<String>,
    pub role_arn: Option<String>,
    pub precedence: Option<u32>,
}

fn group_stream(pool_id: &str, name: &str) -> Result<portcullis_eventlog::StreamId, ApiError> {
    group::validate_name(name)?;
    AggregateStore::stream::<Group>(pool_id, &group::stream_key(name))
}

/// A group-name pagination token (the hex of the last name returned) read back.
pub(super) fn name_token(token: Option<String>) -> Result<Option<String>, ApiError> {
    let invalid = || ApiError::invalid_parameter("Invalid pagination token.");
    token
        .map(|token| {
            let bytes = hex::decode(token).map_err(|_| invalid())?;
            String::from_utf8(bytes).map_err(|_| invalid())
        })
        .transpose()
}

/// Cognito's quota of groups per user pool.
pub const MAX_GROUPS_PER_POOL: usize = 10_000;

impl Directory {
    async fn execute_group(
        &self,
        pool_id: &str,
        name: &str,
        command: GroupCommand,
        meta: &CommandMeta,
    ) -> Result<Option<GroupState>, ApiError> {
        self.pool(pool_id).await?;
        let stream = group_stream(pool_id, name)?;
        let done = self.store.execute::<Group>(&stream, &command, meta).await?;
        self.projection.wait_for(done.position).await?;
        Ok(done.aggregate.state)
    }

    pub async fn create_group(
        &self,
        pool_id: &str,
        new: NewGroup,
        meta: &CommandMeta,
    ) -> Result<GroupState, ApiError> {
        let name = new.name.clone();
        self.pool(pool_id).await?;
        self.wait_for_log().await?;
        if self
            .projection
            .groups(pool_id, None, MAX_GROUPS_PER_POOL)
            .await?
            .len()
            >= MAX_GROUPS_PER_POOL
        {
            return Err(ApiError::new(
                portcullis_errors::ErrorCode::LimitExceededException,
                format!("A user pool can have at most {MAX_GROUPS_PER_POOL} groups."),
            ));
        }
        let command = GroupCommand::Create {
            pool_id: pool_id.to_owned(),
            name: new.name,
            description: new.description,
            role_arn: new.role_arn,
            precedence: new.precedence,
        };
        self.execute_group(pool_id, &name, command, meta)
            .await?
            .ok_or_else(ApiError::internal)
    }

    pub async fn group(&self, pool_id: &str, name: &str) -> Result<GroupState, ApiError> {
        self.pool(pool_id).await?;
        let stream = group_stream(pool_id, name)?;
        let loaded = self.store.load::<Group>(&stream).await?;
        loaded.aggregate.state.ok_or_else(group_not_found)
    }

    pub async fn update_group(
        &self,
        pool_id: &str,
        name: &str,
        changes: GroupChanges,
        meta: &CommandMeta,
    ) -> Result<GroupState, ApiError> {
        let command = GroupCommand::Update {
            description: changes.description,
            role_arn: changes.role_arn,
            precedence: changes.precedence,
        };
        self.execute_group(pool_id, name, command, meta)
            .await?
            .ok_or_else(ApiError::internal)
    }

    pub async fn delete_group(
        &self,
        pool_id: &str,
        name: &str,
        meta: &CommandMeta,
    ) -> Result<(), ApiError> {
        self.execute_group(pool_id, name, GroupCommand::Delete, meta)
            .await?;
        self.remove_members(pool_id, name, meta).await
    }

    /// A pool's groups by name; sees every write acknowledged anywhere before the call.
    /// The token is the hex of the last name returned.
    pub async fn list_groups(
        &self,
        pool_id: &str,
        limit: u32,
        next_token: Option<String>,
    ) -> Result<(Vec<GroupSummary>, Option<String>), ApiError> {
        check_limit(limit)?;
        // Cognito answers a limit of 0 (or none) with its default page size.
        let limit = if limit == 0 { 60 } else { limit as usize };
        let after = name_token(next_token)?;
        self.pool(pool_id).await?;
        self.wait_for_log().await?;
        let mut groups = self.projection.groups(pool_id, after, limit + 1).await?;
        let next =
            portcullis_types::cut_page(&mut groups, limit, |g| hex::encode(g.name.as_bytes()));
        Ok((groups, next))
    }
}
