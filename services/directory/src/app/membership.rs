//! Group membership. It belongs to the user aggregate (a user's groups travel with the
//! user into tokens); the users read model indexes it for `ListUsersInGroup`.

use portcullis_errors::ApiError;

use super::groups::name_token;
use super::{CommandMeta, Directory, check_limit, user_not_found};
use crate::domain::group::GroupState;
use crate::domain::user::{UserCommand, UserState};
use crate::projections::{UserFilter, UserPage};

impl Directory {
    pub async fn add_user_to_group(
        &self,
        pool_id: &str,
        sub: &str,
        group_name: &str,
        meta: &CommandMeta,
    ) -> Result<UserState, ApiError> {
        let group = self.group(pool_id, group_name).await?;
        self.on_user(pool_id, sub, &UserCommand::AddToGroup(group.name), meta)
            .await
    }

    pub async fn remove_user_from_group(
        &self,
        pool_id: &str,
        sub: &str,
        group_name: &str,
        meta: &CommandMeta,
    ) -> Result<UserState, ApiError> {
        let group = self.group(pool_id, group_name).await?;
        self.on_user(
            pool_id,
            sub,
            &UserCommand::RemoveFromGroup(group.name),
            meta,
        )
        .await
    }

    /// The groups a user belongs to, by name; groups deleted meanwhile are left out.
    /// The token is the hex of the last name returned.
    pub async fn groups_for_user(
        &self,
        pool_id: &str,
        sub: &str,
        limit: u32,
        token: Option<String>,
    ) -> Result<(Vec<GroupState>, Option<String>), ApiError> {
        check_limit(limit)?;
        let after = name_token(token)?;
        let user = self.user_by_sub(pool_id, sub).await?;
        let mut names = user.groups.clone();
        names.sort();
        let mut groups = Vec::new();
        for name in names
            .iter()
            .filter(|n| after.as_ref().is_none_or(|a| *n > a))
        {
            match self.group(pool_id, name).await {
                Ok(group) => groups.push(group),
                Err(err) if err.code == portcullis_errors::ErrorCode::ResourceNotFoundException => {
                }
                Err(err) => return Err(err),
            }
        }
        let limit = if limit == 0 {
            usize::MAX
        } else {
            limit as usize
        };
        let next =
            portcullis_types::cut_page(&mut groups, limit, |g| hex::encode(g.name.as_bytes()));
        Ok((groups, next))
    }

    /// A page of a group's members, from the read model.
    pub async fn users_in_group(
        &self,
        pool_id: &str,
        group_name: &str,
        limit: u32,
        token: Option<String>,
    ) -> Result<UserPage, ApiError> {
        let group = self.group(pool_id, group_name).await?;
        check_limit(limit)?;
        self.wait_for_log().await?;
        let limit = if limit == 0 { 60 } else { limit as usize };
        self.projection
            .users(pool_id, &UserFilter::group(&group.name), limit, token)
            .await
    }

    /// After a group is deleted, its members leave it. A crash part way leaves
    /// memberships of a group that no longer exists, which reads skip.
    pub(super) async fn remove_members(
        &self,
        pool_id: &str,
        group_name: &str,
        meta: &CommandMeta,
    ) -> Result<(), ApiError> {
        self.wait_for_log().await?;
        let mut done = std::collections::HashSet::new();
        loop {
            let page = self
                .projection
                .users(pool_id, &UserFilter::group(group_name), 60, None)
                .await?;
            // Members already handled that are still listed would loop forever.
            let users: Vec<_> = page
                .users
                .into_iter()
                .filter(|u| done.insert(u.sub.clone()))
                .collect();
            if users.is_empty() {
                return Ok(());
            }
            for user in users {
                let command = UserCommand::RemoveFromGroup(group_name.to_owned());
                match self
                    .on_user(pool_id, &user.sub, &command, &meta.follow_up())
                    .await
                {
                    Ok(_) => {}
                    Err(err) if err == user_not_found() => {}
                    Err(err) => return Err(err),
                }
            }
            self.wait_for_log().await?;
        }
    }
}
