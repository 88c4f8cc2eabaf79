//! `identity_center` provider: IAM Identity Center's identity store.
//!
//! `GetUserId` by email (`emails.value`), `ListGroupMembershipsForMember` (paginated), then
//! `DescribeGroup` for each group's display name (names cached for the provider's lifetime,
//! groups rarely rename; names are only shown). Groups are keyed
//! `identity_center:<GroupId>`. Needs `identitystore:GetUserId`, `ListGroupMembershipsForMember`
//! and `DescribeGroup` on the identity store; endpoint override `AWS_ENDPOINT_URL_IDENTITYSTORE`.

use super::group::{Group, Kind};
use super::{GroupDirectory, IdentityError, Person};
use async_trait::async_trait;
use aws_sdk_identitystore::types::{AlternateIdentifier, MemberId, UniqueAttribute};
use aws_smithy_types::Document;
use std::collections::HashMap;
use std::sync::Mutex;

const PROVIDER: &str = Kind::IdentityCenter.provider();

/// Identity store group lookups.
pub struct IdentityCenter {
    client: aws_sdk_identitystore::Client,
    store_id: String,
    names: Mutex<HashMap<String, String>>,
}

fn fail(e: impl std::fmt::Display) -> IdentityError {
    IdentityError::Provider {
        provider: PROVIDER,
        detail: e.to_string(),
    }
}

impl IdentityCenter {
    /// A provider for identity store `store_id` (`d-...`).
    pub fn new(client: aws_sdk_identitystore::Client, store_id: &str) -> Self {
        Self {
            client,
            store_id: store_id.to_string(),
            names: Mutex::default(),
        }
    }

    /// Builds the client from the SDK's default chain in `region`.
    pub async fn client(region: &str) -> aws_sdk_identitystore::Client {
        let conf = crate::aws::sdk::loader(crate::aws::sdk::SdkUse::IdentityStore)
            .region(aws_config::Region::new(region.to_string()))
            .load()
            .await;
        aws_sdk_identitystore::Client::new(&conf)
    }

    async fn group_name(&self, id: &str) -> Result<String, IdentityError> {
        if let Some(n) = self.names.lock().unwrap_or_else(|e| e.into_inner()).get(id) {
            return Ok(n.clone());
        }
        let g = self
            .client
            .describe_group()
            .identity_store_id(&self.store_id)
            .group_id(id)
            .send()
            .await
            .map_err(|e| fail(aws_sdk_identitystore::error::DisplayErrorContext(e)))?;
        let name = g.display_name().unwrap_or(id).to_string();
        self.names
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(id.to_string(), name.clone());
        Ok(name)
    }
}

#[async_trait]
impl GroupDirectory for IdentityCenter {
    fn name(&self) -> &'static str {
        PROVIDER
    }

    async fn groups(&self, person: &Person) -> Result<Vec<Group>, IdentityError> {
        let Some(email) = person.email.as_deref() else {
            return Ok(Vec::new());
        };
        let attr = UniqueAttribute::builder()
            .attribute_path("emails.value")
            .attribute_value(Document::String(email.to_string()))
            .build()
            .map_err(fail)?;
        let user = match self
            .client
            .get_user_id()
            .identity_store_id(&self.store_id)
            .alternate_identifier(AlternateIdentifier::UniqueAttribute(attr))
            .send()
            .await
        {
            Ok(u) => u.user_id().to_string(),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_resource_not_found_exception()) =>
            {
                return Ok(Vec::new());
            }
            Err(e) => return Err(fail(aws_sdk_identitystore::error::DisplayErrorContext(e))),
        };
        let mut ids = Vec::new();
        let mut pages = self
            .client
            .list_group_memberships_for_member()
            .identity_store_id(&self.store_id)
            .member_id(MemberId::UserId(user))
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page =
                page.map_err(|e| fail(aws_sdk_identitystore::error::DisplayErrorContext(e)))?;
            ids.extend(
                page.group_memberships()
                    .iter()
                    .filter_map(|m| m.group_id().map(str::to_string)),
            );
        }
        let mut groups = Vec::new();
        for id in ids {
            let name = self.group_name(&id).await?;
            groups.push(Group::new(Kind::IdentityCenter, &id, name));
        }
        Ok(groups)
    }
}
