//! AWS WAF's IP sets and web ACLs (account resources of a region) and the association of
//! a user pool with a web ACL. Names are unique per region and kind, checked against the
//! read model (two creates of one name racing on two replicas may both succeed).

use portcullis_errors::ApiError;
use portcullis_proto::directory::v1 as pb;
use portcullis_proto::events::v1::WebAclAssociationSet;

use super::{AggregateStore, CommandMeta, Directory};
use crate::domain::waf::{
    self, IP_SET, WEB_ACL, WafCommand, WafResource, WafState, WebAclAssociation,
};
use crate::projections::WafEntry;

fn check_kind(kind: &str) -> Result<(), ApiError> {
    if matches!(kind, IP_SET | WEB_ACL) {
        return Ok(());
    }
    Err(ApiError::invalid_parameter(format!(
        "Unknown WAF resource kind {kind}."
    )))
}

fn out(state: WafState) -> pb::WafResource {
    pb::WafResource {
        region: state.region,
        kind: state.kind,
        id: state.id,
        name: state.name,
        description: state.description,
        document: state.document,
        lock_token: state.lock_token,
    }
}

impl Directory {
    fn waf_stream(
        region: &str,
        kind: &str,
        id: &str,
    ) -> Result<portcullis_eventlog::StreamId, ApiError> {
        AggregateStore::stream::<WafResource>(region, &format!("{kind}-{id}"))
            .map_err(|_| waf::nonexistent())
    }

    async fn waf_state(&self, region: &str, kind: &str, id: &str) -> Result<WafState, ApiError> {
        let stream = Self::waf_stream(region, kind, id)?;
        let loaded = self.store.load::<WafResource>(&stream).await?;
        loaded.aggregate.state.ok_or_else(waf::nonexistent)
    }

    /// Every resource of `kind` in `region` (a handful per account).
    async fn all_waf(&self, region: &str, kind: &str) -> Result<Vec<WafEntry>, ApiError> {
        self.projection
            .waf_resources(region, kind, None, usize::MAX)
            .await
    }

    /// CreateIPSet / CreateWebACL (no id) and UpdateIPSet / UpdateWebACL.
    pub async fn put_waf_resource(
        &self,
        req: &pb::PutWafResourceRequest,
        meta: &CommandMeta,
    ) -> Result<pb::WafResource, ApiError> {
        check_kind(&req.kind)?;
        for ip_set in &req.ip_set_ids {
            self.waf_state(&req.region, IP_SET, ip_set).await?;
        }
        let creating = req.id.is_empty();
        let id = if creating {
            self.wait_for_log().await?;
            let taken = self
                .all_waf(&req.region, &req.kind)
                .await?
                .iter()
                .any(|e| e.name == req.name);
            if taken {
                return Err(waf::duplicate());
            }
            uuid::Uuid::new_v4().to_string()
        } else {
            req.id.clone()
        };
        let next = WafState {
            region: req.region.clone(),
            kind: req.kind.clone(),
            id: id.clone(),
            name: req.name.clone(),
            description: req.description.clone(),
            document: req.document.clone(),
            lock_token: uuid::Uuid::new_v4().to_string(),
            ip_set_ids: req.ip_set_ids.clone(),
        };
        let command = WafCommand::Write {
            next,
            expected_lock: (!creating).then(|| req.lock_token.clone()),
        };
        let stream = Self::waf_stream(&req.region, &req.kind, &id)?;
        let done = self
            .store
            .execute::<WafResource>(&stream, &command, meta)
            .await?;
        done.aggregate.state.map(out).ok_or_else(ApiError::internal)
    }

    /// GetIPSet / GetWebACL: the name must be the resource's.
    pub async fn get_waf_resource(
        &self,
        r: &pb::WafResourceRef,
    ) -> Result<pb::WafResource, ApiError> {
        check_kind(&r.kind)?;
        let state = self.waf_state(&r.region, &r.kind, &r.id).await?;
        if !r.name.is_empty() && state.name != r.name {
            return Err(waf::nonexistent());
        }
        Ok(out(state))
    }

    /// DeleteIPSet / DeleteWebACL: not while a web ACL uses the IP set, or a pool the
    /// web ACL.
    pub async fn delete_waf_resource(
        &self,
        req: &pb::DeleteWafResourceRequest,
        meta: &CommandMeta,
    ) -> Result<(), ApiError> {
        let r = req.resource.clone().unwrap_or_default();
        check_kind(&r.kind)?;
        self.wait_for_log().await?;
        let in_use = if r.kind == IP_SET {
            self.all_waf(&r.region, WEB_ACL)
                .await?
                .iter()
                .any(|acl| acl.ip_set_ids.contains(&r.id))
        } else {
            self.projection.web_acl_in_use(&r.id).await?
        };
        let stream = Self::waf_stream(&r.region, &r.kind, &r.id)?;
        let command = WafCommand::Delete {
            name: r.name.clone(),
            expected_lock: req.lock_token.clone(),
        };
        if in_use {
            // Only a resource that exists under that name is "in use".
            self.get_waf_resource(&r).await?;
            return Err(waf::associated());
        }
        self.store
            .execute::<WafResource>(&stream, &command, meta)
            .await?;
        Ok(())
    }

    /// ListIPSets / ListWebACLs: by name, `limit` at a time.
    pub async fn list_waf_resources(
        &self,
        req: &pb::ListWafResourcesRequest,
    ) -> Result<pb::ListWafResourcesResponse, ApiError> {
        check_kind(&req.kind)?;
        self.wait_for_log().await?;
        let limit = match req.limit {
            0 => 100,
            n => n as usize,
        };
        let after = Some(req.next_marker.clone()).filter(|m| !m.is_empty());
        let mut entries = self
            .projection
            .waf_resources(&req.region, &req.kind, after, limit + 1)
            .await?;
        let next_marker = if entries.len() > limit {
            entries.truncate(limit);
            entries.last().map(|e| e.name.clone()).unwrap_or_default()
        } else {
            String::new()
        };
        let resources = entries
            .into_iter()
            .map(|e| pb::WafResource {
                region: req.region.clone(),
                kind: req.kind.clone(),
                id: e.id,
                name: e.name,
                description: e.description,
                document: String::new(),
                lock_token: e.lock_token,
            })
            .collect();
        Ok(pb::ListWafResourcesResponse {
            resources,
            next_marker,
        })
    }

    /// AssociateWebACL (a web ACL that exists) / DisassociateWebACL (none).
    pub async fn set_web_acl_association(
        &self,
        req: &pb::SetWebAclAssociationRequest,
        meta: &CommandMeta,
    ) -> Result<pb::WebAclAssociation, ApiError> {
        self.pool(&req.pool_id)
            .await
            .map_err(|_| waf::nonexistent())?;
        let mut name = String::new();
        if !req.web_acl_id.is_empty() {
            name = self
                .waf_state(&req.web_acl_region, WEB_ACL, &req.web_acl_id)
                .await?
                .name;
        }
        let stream = AggregateStore::stream::<WebAclAssociation>(&req.pool_id, &req.pool_id)?;
        let command = WebAclAssociationSet {
            pool_id: req.pool_id.clone(),
            web_acl_id: req.web_acl_id.clone(),
            web_acl_region: req.web_acl_region.clone(),
            web_acl_name: name,
        };
        self.store
            .execute::<WebAclAssociation>(&stream, &command, meta)
            .await?;
        Ok(pb::WebAclAssociation {
            pool_id: req.pool_id.clone(),
            web_acl_id: req.web_acl_id.clone(),
            web_acl_region: req.web_acl_region.clone(),
        })
    }

    /// The web ACL a pool is associated with, if any.
    pub async fn web_acl_association(
        &self,
        pool_id: &str,
    ) -> Result<pb::WebAclAssociation, ApiError> {
        let stream = AggregateStore::stream::<WebAclAssociation>(pool_id, pool_id)
            .map_err(|_| waf::nonexistent())?;
        let loaded = self.store.load::<WebAclAssociation>(&stream).await?;
        let association = loaded.aggregate.association.unwrap_or_default();
        Ok(pb::WebAclAssociation {
            pool_id: pool_id.to_owned(),
            web_acl_id: association.web_acl_id,
            web_acl_region: association.web_acl_region,
        })
    }
}
