//! Cognito's JSON shapes of user pools (CreateUserPool, UpdateUserPool, UserPoolType,
//! custom attributes, tags, log delivery) and their protobuf counterparts. Members a
//! request leaves out become empty proto fields; the directory applies the defaults.

use std::collections::BTreeMap;

use portcullis_errors::ApiError;
use portcullis_proto::directory::v1 as dir;
use portcullis_proto::events::v1::{
    AccountRecoverySetting, CloudWatchLogsConfiguration, DeviceConfiguration, EmailConfiguration,
    EumsSmsConfiguration, FirehoseConfiguration, KeyConfiguration, LambdaConfig,
    LambdaVersionConfig, LogConfiguration, MessageTemplate, NumberConstraints, PasswordPolicy,
    RecoveryOption, S3Configuration, SchemaAttribute, SignInPolicy, SmsConfiguration,
    StringConstraints, Tag, UserAttributeUpdateSettings, UserPoolAddOns, UserPoolSettings,
    VerificationMessageTemplate,
};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::shapes::{non_empty, required};

/// A string member as Cognito returns it: left out when not set.
fn opt(value: &str) -> Value {
    if value.is_empty() {
        Value::Null
    } else {
        json!(value)
    }
}

/// Drops `null` members at every depth, the way Cognito leaves absent members out.
pub(super) fn deep_compact(value: Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.into_iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k, deep_compact(v)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.into_iter().map(deep_compact).collect()),
        other => other,
    }
}

// ----- request shapes -----

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
pub struct PasswordPolicyType {
    pub minimum_length: Option<u32>,
    pub require_uppercase: Option<bool>,
    pub require_lowercase: Option<bool>,
    pub require_numbers: Option<bool>,
    pub require_symbols: Option<bool>,
    pub password_history_size: Option<u32>,
    pub temporary_password_validity_days: Option<u32>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
pub struct SignInPolicyType {
    pub allowed_first_auth_factors: Option<Vec<String>>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
pub struct PoliciesType {
    pub password_policy: Option<PasswordPolicyType>,
    pub sign_in_policy: Option<SignInPolicyType>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
pub struct LambdaVersionType {
    pub lambda_version: Option<String>,
    pub lambda_arn: Option<String>,
}

impl LambdaVersionType {
    fn into_proto(self) -> LambdaVersionConfig {
        LambdaVersionConfig {
            lambda_version: self.lambda_version.unwrap_or_default(),
            lambda_arn: self.lambda_arn.unwrap_or_default(),
        }
    }
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
pub struct LambdaConfigType {
    pub pre_sign_up: Option<String>,
    pub custom_message: Option<String>,
    pub post_confirmation: Option<String>,
    pub pre_authentication: Option<String>,
    pub post_authentication: Option<String>,
    pub define_auth_challenge: Option<String>,
    pub create_auth_challenge: Option<String>,
    pub verify_auth_challenge_response: Option<String>,
    pub pre_token_generation: Option<String>,
    pub user_migration: Option<String>,
    pub pre_token_generation_config: Option<LambdaVersionType>,
    #[serde(rename = "CustomSMSSender")]
    pub custom_sms_sender: Option<LambdaVersionType>,
    pub custom_email_sender: Option<LambdaVersionType>,
    #[serde(rename = "KMSKeyID")]
    pub kms_key_id: Option<String>,
    pub inbound_federation: Option<LambdaVersionType>,
}

impl LambdaConfigType {
    fn into_proto(self) -> LambdaConfig {
        LambdaConfig {
            pre_sign_up: self.pre_sign_up.unwrap_or_default(),
            custom_message: self.custom_message.unwrap_or_default(),
            post_confirmation: self.post_confirmation.unwrap_or_default(),
            pre_authentication: self.pre_authentication.unwrap_or_default(),
            post_authentication: self.post_authentication.unwrap_or_default(),
            define_auth_challenge: self.define_auth_challenge.unwrap_or_default(),
            create_auth_challenge: self.create_auth_challenge.unwrap_or_default(),
            verify_auth_challenge_response: self.verify_auth_challenge_response.unwrap_or_default(),
            pre_token_generation: self.pre_token_generation.unwrap_or_default(),
            user_migration: self.user_migration.unwrap_or_default(),
            pre_token_generation_config: self
                .pre_token_generation_config
                .map(LambdaVersionType::into_proto),
            custom_sms_sender: self.custom_sms_sender.map(LambdaVersionType::into_proto),
            custom_email_sender: self.custom_email_sender.map(LambdaVersionType::into_proto),
            kms_key_id: self.kms_key_id.unwrap_or_default(),
            inbound_federation: self.inbound_federation.map(LambdaVersionType::into_proto),
        }
    }
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
pub struct VerificationMessageTemplateType {
    pub sms_message: Option<String>,
    pub email_message: Option<String>,
    pub email_subject: Option<String>,
    pub email_message_by_link: Option<String>,
    pub email_subject_by_link: Option<String>,
    pub default_email_option: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
pub struct UserAttributeUpdateSettingsType {
    pub attributes_require_verification_before_update: Option<Vec<String>>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
pub struct DeviceConfigurationType {
    pub challenge_required_on_new_device: Option<bool>,
    pub device_only_remembered_on_user_prompt: Option<bool>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
pub struct EmailConfigurationType {
    pub source_arn: Option<String>,
    pub reply_to_email_address: Option<String>,
    pub email_sending_account: Option<String>,
    pub from: Option<String>,
    pub configuration_set: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
pub struct EumsSmsConfigurationType {
    pub caller_arn: Option<String>,
    pub external_id: Option<String>,
    pub origination_identity: Option<String>,
    pub configuration_set_name: Option<String>,
    pub in_entity_id: Option<String>,
    pub in_template_id: Option<String>,
    pub region: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
pub struct SmsConfigurationType {
    pub sns_caller_arn: Option<String>,
    pub external_id: Option<String>,
    pub sns_region: Option<String>,
    pub eums_sms: Option<EumsSmsConfigurationType>,
}

impl SmsConfigurationType {
    pub fn into_proto(self) -> SmsConfiguration {
        SmsConfiguration {
            sns_caller_arn: self.sns_caller_arn.unwrap_or_default(),
            external_id: self.external_id.unwrap_or_default(),
            sns_region: self.sns_region.unwrap_or_default(),
            eums_sms: self.eums_sms.map(|e| EumsSmsConfiguration {
                caller_arn: e.caller_arn.unwrap_or_default(),
                external_id: e.external_id.unwrap_or_default(),
                origination_identity: e.origination_identity.unwrap_or_default(),
                configuration_set_name: e.configuration_set_name.unwrap_or_default(),
                in_entity_id: e.in_entity_id.unwrap_or_default(),
                in_template_id: e.in_template_id.unwrap_or_default(),
                region: e.region.unwrap_or_default(),
            }),
        }
    }
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
pub struct MessageTemplateType {
    #[serde(rename = "SMSMessage")]
    pub sms_message: Option<String>,
    pub email_message: Option<String>,
    pub email_subject: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
pub struct AdminCreateUserConfigType {
    pub allow_admin_create_user_only: Option<bool>,
    pub unused_account_validity_days: Option<u32>,
    pub invite_message_template: Option<MessageTemplateType>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
pub struct AdditionalFlowsType {
    pub custom_auth_mode: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
pub struct UserPoolAddOnsType {
    pub advanced_security_mode: Option<String>,
    pub advanced_security_additional_flows: Option<AdditionalFlowsType>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
pub struct RecoveryOptionType {
    pub priority: Option<u32>,
    pub name: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
pub struct AccountRecoverySettingType {
    pub recovery_mechanisms: Option<Vec<RecoveryOptionType>>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
pub struct KeyConfigurationType {
    pub key_type: Option<String>,
    pub kms_key_arn: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
pub struct IssuerConfigurationType {
    #[serde(rename = "Type")]
    pub issuer_type: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
pub struct NumberConstraintsType {
    pub min_value: Option<String>,
    pub max_value: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
pub struct StringConstraintsType {
    pub min_length: Option<String>,
    pub max_length: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
pub struct SchemaAttributeType {
    pub name: Option<String>,
    pub attribute_data_type: Option<String>,
    pub developer_only_attribute: Option<bool>,
    pub mutable: Option<bool>,
    pub required: Option<bool>,
    pub number_attribute_constraints: Option<NumberConstraintsType>,
    pub string_attribute_constraints: Option<StringConstraintsType>,
}

impl SchemaAttributeType {
    fn into_proto(self, member: &str) -> Result<SchemaAttribute, ApiError> {
        Ok(SchemaAttribute {
            name: required(self.name, &format!("{member}.member.name"))?,
            attribute_data_type: self.attribute_data_type.unwrap_or_else(|| "String".into()),
            developer_only_attribute: self.developer_only_attribute.unwrap_or(false),
            // Cognito's default for an attribute given without `Mutable`.
            mutable: self.mutable.unwrap_or(true),
            required: self.required.unwrap_or(false),
            number_attribute_constraints: self.number_attribute_constraints.map(|n| {
                NumberConstraints {
                    min_value: n.min_value,
                    max_value: n.max_value,
                }
            }),
            string_attribute_constraints: self.string_attribute_constraints.map(|n| {
                StringConstraints {
                    min_length: n.min_length,
                    max_length: n.max_length,
                }
            }),
        })
    }
}

pub fn schema_in(
    list: Option<Vec<SchemaAttributeType>>,
    member: &str,
) -> Result<Vec<SchemaAttribute>, ApiError> {
    list.unwrap_or_default()
        .into_iter()
        .map(|a| a.into_proto(member))
        .collect()
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
pub struct UsernameConfigurationType {
    pub case_sensitive: Option<bool>,
}

/// The members CreateUserPool and UpdateUserPool share.
#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
pub struct PoolMembers {
    pub pool_name: Option<String>,
    pub policies: Option<PoliciesType>,
    pub deletion_protection: Option<String>,
    pub lambda_config: Option<LambdaConfigType>,
    pub auto_verified_attributes: Option<Vec<String>>,
    pub sms_verification_message: Option<String>,
    pub email_verification_message: Option<String>,
    pub email_verification_subject: Option<String>,
    pub verification_message_template: Option<VerificationMessageTemplateType>,
    pub sms_authentication_message: Option<String>,
    pub mfa_configuration: Option<String>,
    pub user_attribute_update_settings: Option<UserAttributeUpdateSettingsType>,
    pub device_configuration: Option<DeviceConfigurationType>,
    pub email_configuration: Option<EmailConfigurationType>,
    pub sms_configuration: Option<SmsConfigurationType>,
    pub user_pool_tags: Option<BTreeMap<String, String>>,
    pub admin_create_user_config: Option<AdminCreateUserConfigType>,
    pub user_pool_add_ons: Option<UserPoolAddOnsType>,
    pub account_recovery_setting: Option<AccountRecoverySettingType>,
    pub user_pool_tier: Option<String>,
    pub key_configuration: Option<KeyConfigurationType>,
    pub issuer_configuration: Option<IssuerConfigurationType>,
}

impl PoolMembers {
    /// The settings the request gives; members left out are empty, for the directory to
    /// default (or, on update, keep).
    pub fn into_settings(self) -> Result<UserPoolSettings, ApiError> {
        let policies = self.policies.unwrap_or_default();
        let password_policy = policies.password_policy.map(|p| PasswordPolicy {
            minimum_length: p.minimum_length.unwrap_or(8),
            require_uppercase: p.require_uppercase.unwrap_or(false),
            require_lowercase: p.require_lowercase.unwrap_or(false),
            require_numbers: p.require_numbers.unwrap_or(false),
            require_symbols: p.require_symbols.unwrap_or(false),
            temporary_password_validity_days: p.temporary_password_validity_days.unwrap_or(7),
            password_history_size: p.password_history_size.unwrap_or(0),
        });
        let admin = self.admin_create_user_config.unwrap_or_default();
        let template = self
            .verification_message_template
            .map(|t| VerificationMessageTemplate {
                sms_message: t.sms_message.unwrap_or_default(),
                email_message: t.email_message.unwrap_or_default(),
                email_subject: t.email_subject.unwrap_or_default(),
                email_message_by_link: t.email_message_by_link.unwrap_or_default(),
                email_subject_by_link: t.email_subject_by_link.unwrap_or_default(),
                default_email_option: t.default_email_option.unwrap_or_default(),
            });
        let recovery = self
            .account_recovery_setting
            .map(|r| {
                let mechanisms = r
                    .recovery_mechanisms
                    .unwrap_or_default()
                    .into_iter()
                    .map(|o| {
                        let member = "accountRecoverySetting.recoveryMechanisms.member";
                        Ok(RecoveryOption {
                            priority: required(o.priority, &format!("{member}.priority"))?,
                            name: required(o.name, &format!("{member}.name"))?,
                        })
                    })
                    .collect::<Result<_, ApiError>>()?;
                Ok::<_, ApiError>(AccountRecoverySetting {
                    recovery_mechanisms: mechanisms,
                })
            })
            .transpose()?;
        let add_ons = self
            .user_pool_add_ons
            .map(|a| {
                Ok::<_, ApiError>(UserPoolAddOns {
                    advanced_security_mode: required(
                        a.advanced_security_mode,
                        "userPoolAddOns.advancedSecurityMode",
                    )?,
                    custom_auth_mode: a
                        .advanced_security_additional_flows
                        .and_then(|f| f.custom_auth_mode)
                        .unwrap_or_default(),
                })
            })
            .transpose()?;
        Ok(UserPoolSettings {
            pool_name: self.pool_name.unwrap_or_default(),
            password_policy,
            sign_in_policy: policies.sign_in_policy.map(|p| SignInPolicy {
                allowed_first_auth_factors: p.allowed_first_auth_factors.unwrap_or_default(),
            }),
            deletion_protection: self.deletion_protection.unwrap_or_default(),
            lambda_config: self.lambda_config.map(LambdaConfigType::into_proto),
            auto_verified_attributes: self.auto_verified_attributes.unwrap_or_default(),
            sms_verification_message: self.sms_verification_message.unwrap_or_default(),
            email_verification_message: self.email_verification_message.unwrap_or_default(),
            email_verification_subject: self.email_verification_subject.unwrap_or_default(),
            verification_message_template: template,
            sms_authentication_message: self.sms_authentication_message.unwrap_or_default(),
            mfa_configuration: self.mfa_configuration.unwrap_or_default(),
            user_attribute_update_settings: self.user_attribute_update_settings.map(|u| {
                UserAttributeUpdateSettings {
                    attributes_require_verification_before_update: u
                        .attributes_require_verification_before_update
                        .unwrap_or_default(),
                }
            }),
            device_configuration: self.device_configuration.map(|d| DeviceConfiguration {
                challenge_required_on_new_device: d
                    .challenge_required_on_new_device
                    .unwrap_or(false),
                device_only_remembered_on_user_prompt: d
                    .device_only_remembered_on_user_prompt
                    .unwrap_or(false),
            }),
            email_configuration: self.email_configuration.map(|e| EmailConfiguration {
                source_arn: e.source_arn.unwrap_or_default(),
                reply_to_email_address: e.reply_to_email_address.unwrap_or_default(),
                email_sending_account: e.email_sending_account.unwrap_or_default(),
                from: e.from.unwrap_or_default(),
                configuration_set: e.configuration_set.unwrap_or_default(),
            }),
            sms_configuration: self.sms_configuration.map(SmsConfigurationType::into_proto),
            user_pool_tags: tags_in(self.user_pool_tags.unwrap_or_default()),
            allow_admin_create_user_only: admin.allow_admin_create_user_only.unwrap_or(false),
            unused_account_validity_days: admin.unused_account_validity_days.unwrap_or(7),
            invite_message_template: admin.invite_message_template.map(|t| MessageTemplate {
                sms_message: t.sms_message.unwrap_or_default(),
                email_message: t.email_message.unwrap_or_default(),
                email_subject: t.email_subject.unwrap_or_default(),
            }),
            user_pool_add_ons: add_ons,
            account_recovery_setting: recovery,
            user_pool_tier: self.user_pool_tier.unwrap_or_default(),
            key_configuration: self.key_configuration.map(|k| KeyConfiguration {
                key_type: k.key_type.unwrap_or_default(),
                kms_key_arn: k.kms_key_arn.unwrap_or_default(),
            }),
            issuer_type: self
                .issuer_configuration
                .and_then(|i| i.issuer_type)
                .unwrap_or_default(),
            ..Default::default()
        })
    }
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
pub struct CreateUserPoolRequest {
    #[serde(flatten)]
    pub members: PoolMembers,
    pub alias_attributes: Option<Vec<String>>,
    pub username_attributes: Option<Vec<String>>,
    pub schema: Option<Vec<SchemaAttributeType>>,
    pub username_configuration: Option<UsernameConfigurationType>,
}

impl CreateUserPoolRequest {
    pub fn into_settings(self) -> Result<UserPoolSettings, ApiError> {
        let pool_name = required(self.members.pool_name.clone(), "poolName")?;
        Ok(UserPoolSettings {
            pool_name,
            username_attributes: self.username_attributes.unwrap_or_default(),
            alias_attributes: self.alias_attributes.unwrap_or_default(),
            // Pools created through the API without a configuration are case sensitive.
            username_case_sensitive: self
                .username_configuration
                .and_then(|c| c.case_sensitive)
                .unwrap_or(true),
            schema: schema_in(self.schema, "schema")?,
            ..self.members.into_settings()?
        })
    }
}

/// UpdateUserPool's body. Members it does not have (Schema, UsernameAttributes...)
/// are ignored, as AWS ignores unknown members: they cannot be updated.
#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
pub struct UpdateUserPoolRequest {
    pub user_pool_id: Option<String>,
    #[serde(flatten)]
    pub members: PoolMembers,
}

impl UpdateUserPoolRequest {
    /// The pool id, the settings, and whether the request replaces the tags.
    pub fn into_parts(self) -> Result<(String, UserPoolSettings, bool), ApiError> {
        let pool_id = required(self.user_pool_id, "userPoolId")?;
        let replace_tags = self.members.user_pool_tags.is_some();
        Ok((pool_id, self.members.into_settings()?, replace_tags))
    }
}

pub fn tags_in(map: BTreeMap<String, String>) -> Vec<Tag> {
    map.into_iter()
        .map(|(key, value)| Tag { key, value })
        .collect()
}

pub fn tags_out(tags: &[Tag]) -> Value {
    let map: Map<String, Value> = tags
        .iter()
        .map(|t| (t.key.clone(), json!(t.value)))
        .collect();
    Value::Object(map)
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
pub struct CloudWatchLogsConfigurationType {
    pub log_group_arn: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
pub struct S3ConfigurationType {
    pub bucket_arn: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
pub struct FirehoseConfigurationType {
    pub stream_arn: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
pub struct LogConfigurationType {
    pub log_level: Option<String>,
    pub event_source: Option<String>,
    pub cloud_watch_logs_configuration: Option<CloudWatchLogsConfigurationType>,
    pub s3_configuration: Option<S3ConfigurationType>,
    pub firehose_configuration: Option<FirehoseConfigurationType>,
}

pub fn log_configurations_in(
    list: Vec<LogConfigurationType>,
) -> Result<Vec<LogConfiguration>, ApiError> {
    list.into_iter()
        .map(|c| {
            Ok(LogConfiguration {
                log_level: required(c.log_level, "logConfigurations.member.logLevel")?,
                event_source: required(c.event_source, "logConfigurations.member.eventSource")?,
                cloud_watch_logs_configuration: c.cloud_watch_logs_configuration.map(|w| {
                    CloudWatchLogsConfiguration {
                        log_group_arn: w.log_group_arn.unwrap_or_default(),
                    }
                }),
                s3_configuration: c.s3_configuration.map(|s| S3Configuration {
                    bucket_arn: s.bucket_arn.unwrap_or_default(),
                }),
                firehose_configuration: c.firehose_configuration.map(|f| FirehoseConfiguration {
                    stream_arn: f.stream_arn.unwrap_or_default(),
                }),
            })
        })
        .collect()
}

pub fn log_delivery_out(config: &dir::LogDeliveryConfiguration) -> Value {
    let configurations: Vec<Value> = config
        .log_configurations
        .iter()
        .map(|c| {
            deep_compact(json!({
                "LogLevel": c.log_level,
                "EventSource": c.event_source,
                "CloudWatchLogsConfiguration": c.cloud_watch_logs_configuration.as_ref()
                    .map(|w| json!({"LogGroupArn": opt(&w.log_group_arn)})),
                "S3Configuration": c.s3_configuration.as_ref()
                    .map(|s| json!({"BucketArn": opt(&s.bucket_arn)})),
                "FirehoseConfiguration": c.firehose_configuration.as_ref()
                    .map(|f| json!({"StreamArn": opt(&f.stream_arn)})),
            }))
        })
        .collect();
    json!({"UserPoolId": config.pool_id, "LogConfigurations": configurations})
}

// ----- response shapes -----

pub fn schema_out(attr: &SchemaAttribute) -> Value {
    let mut out = json!({
        "Name": attr.name,
        "AttributeDataType": attr.attribute_data_type,
        "DeveloperOnlyAttribute": attr.developer_only_attribute,
        "Mutable": attr.mutable,
        "Required": attr.required,
    });
    if let Some(n) = &attr.number_attribute_constraints {
        out["NumberAttributeConstraints"] =
            deep_compact(json!({"MinValue": n.min_value, "MaxValue": n.max_value}));
    }
    if let Some(s) = &attr.string_attribute_constraints {
        out["StringAttributeConstraints"] =
            deep_compact(json!({"MinLength": s.min_length, "MaxLength": s.max_length}));
    }
    out
}

fn lambda_version_out(config: &Option<LambdaVersionConfig>) -> Value {
    config.as_ref().map_or(
        Value::Null,
        |c| json!({"LambdaVersion": c.lambda_version, "LambdaArn": c.lambda_arn}),
    )
}

fn lambda_config_out(l: &LambdaConfig) -> Value {
    json!({
        "PreSignUp": opt(&l.pre_sign_up),
        "CustomMessage": opt(&l.custom_message),
        "PostConfirmation": opt(&l.post_confirmation),
        "PreAuthentication": opt(&l.pre_authentication),
        "PostAuthentication": opt(&l.post_authentication),
        "DefineAuthChallenge": opt(&l.define_auth_challenge),
        "CreateAuthChallenge": opt(&l.create_auth_challenge),
        "VerifyAuthChallengeResponse": opt(&l.verify_auth_challenge_response),
        "PreTokenGeneration": opt(&l.pre_token_generation),
        "UserMigration": opt(&l.user_migration),
        "PreTokenGenerationConfig": lambda_version_out(&l.pre_token_generation_config),
        "CustomSMSSender": lambda_version_out(&l.custom_sms_sender),
        "CustomEmailSender": lambda_version_out(&l.custom_email_sender),
        "KMSKeyID": opt(&l.kms_key_id),
        "InboundFederation": lambda_version_out(&l.inbound_federation),
    })
}

fn template_out(t: &VerificationMessageTemplate) -> Value {
    json!({
        "SmsMessage": opt(&t.sms_message),
        "EmailMessage": opt(&t.email_message),
        "EmailSubject": opt(&t.email_subject),
        "EmailMessageByLink": opt(&t.email_message_by_link),
        "EmailSubjectByLink": opt(&t.email_subject_by_link),
        "DefaultEmailOption": opt(&t.default_email_option),
    })
}

fn email_configuration_out(e: &EmailConfiguration) -> Value {
    json!({
        "SourceArn": opt(&e.source_arn),
        "ReplyToEmailAddress": opt(&e.reply_to_email_address),
        "EmailSendingAccount": opt(&e.email_sending_account),
        "From": opt(&e.from),
        "ConfigurationSet": opt(&e.configuration_set),
    })
}

pub(super) fn sms_configuration_out(s: &SmsConfiguration) -> Value {
    json!({
        "SnsCallerArn": opt(&s.sns_caller_arn),
        "ExternalId": opt(&s.external_id),
        "SnsRegion": opt(&s.sns_region),
        "EumsSms": s.eums_sms.as_ref().map(|e| json!({
            "CallerArn": opt(&e.caller_arn),
            "ExternalId": opt(&e.external_id),
            "OriginationIdentity": opt(&e.origination_identity),
            "ConfigurationSetName": opt(&e.configuration_set_name),
            "InEntityId": opt(&e.in_entity_id),
            "InTemplateId": opt(&e.in_template_id),
            "Region": opt(&e.region),
        })),
    })
}

fn admin_create_user_config_out(s: &UserPoolSettings) -> Value {
    json!({
        "AllowAdminCreateUserOnly": s.allow_admin_create_user_only,
        "UnusedAccountValidityDays": s.unused_account_validity_days,
        "InviteMessageTemplate": s.invite_message_template.as_ref().map(|t| json!({
            "SMSMessage": opt(&t.sms_message),
            "EmailMessage": opt(&t.email_message),
            "EmailSubject": opt(&t.email_subject),
        })),
    })
}

fn add_ons_out(a: &UserPoolAddOns) -> Value {
    json!({
        "AdvancedSecurityMode": a.advanced_security_mode,
        "AdvancedSecurityAdditionalFlows": (!a.custom_auth_mode.is_empty())
            .then(|| json!({"CustomAuthMode": a.custom_auth_mode})),
    })
}

/// DescribeUserPool's `UserPoolType`, every member Cognito returns.
pub fn user_pool_out(pool: &dir::UserPool) -> Value {
    let s = pool.settings.clone().unwrap_or_default();
    let p = s.password_policy.unwrap_or_default();
    let sign_in = s.sign_in_policy.clone().unwrap_or_default();
    deep_compact(json!({
        "Id": pool.id,
        "Name": s.pool_name,
        "Policies": {
            "PasswordPolicy": {
                "MinimumLength": p.minimum_length,
                "RequireUppercase": p.require_uppercase,
                "RequireLowercase": p.require_lowercase,
                "RequireNumbers": p.require_numbers,
                "RequireSymbols": p.require_symbols,
                "PasswordHistorySize": p.password_history_size,
                "TemporaryPasswordValidityDays": p.temporary_password_validity_days,
            },
            "SignInPolicy": {"AllowedFirstAuthFactors": sign_in.allowed_first_auth_factors},
        },
        "DeletionProtection": s.deletion_protection,
        "LambdaConfig": lambda_config_out(&s.lambda_config.clone().unwrap_or_default()),
        "Status": "Enabled",
        "LastModifiedDate": pool.last_modified_date,
        "CreationDate": pool.creation_date,
        "SchemaAttributes": s.schema.iter().map(schema_out).collect::<Vec<_>>(),
        "AutoVerifiedAttributes": non_empty(&s.auto_verified_attributes),
        "AliasAttributes": non_empty(&s.alias_attributes),
        "UsernameAttributes": non_empty(&s.username_attributes),
        "SmsVerificationMessage": opt(&s.sms_verification_message),
        "EmailVerificationMessage": opt(&s.email_verification_message),
        "EmailVerificationSubject": opt(&s.email_verification_subject),
        "VerificationMessageTemplate": template_out(
            &s.verification_message_template.clone().unwrap_or_default()
        ),
        "SmsAuthenticationMessage": opt(&s.sms_authentication_message),
        "UserAttributeUpdateSettings": {
            "AttributesRequireVerificationBeforeUpdate": s.user_attribute_update_settings
                .as_ref()
                .map(|u| u.attributes_require_verification_before_update.clone())
                .unwrap_or_default(),
        },
        "MfaConfiguration": s.mfa_configuration,
        "DeviceConfiguration": s.device_configuration.as_ref().map(|d| json!({
            "ChallengeRequiredOnNewDevice": d.challenge_required_on_new_device,
            "DeviceOnlyRememberedOnUserPrompt": d.device_only_remembered_on_user_prompt,
        })),
        "EstimatedNumberOfUsers": pool.estimated_number_of_users,
        "EmailConfiguration": email_configuration_out(
            &s.email_configuration.clone().unwrap_or_default()
        ),
        "SmsConfiguration": s.sms_configuration.as_ref().map(sms_configuration_out),
        "UserPoolTags": tags_out(&s.user_pool_tags),
        "Domain": Some(&pool.domain).filter(|d| !d.is_empty()),
        "CustomDomain": Some(&pool.custom_domain).filter(|d| !d.is_empty()),
        "AdminCreateUserConfig": admin_create_user_config_out(&s),
        "UserPoolAddOns": s.user_pool_add_ons.as_ref().map(add_ons_out),
        "UsernameConfiguration": {"CaseSensitive": s.username_case_sensitive},
        "Arn": pool.arn,
        "AccountRecoverySetting": s.account_recovery_setting.as_ref().map(|r| json!({
            "RecoveryMechanisms": r.recovery_mechanisms.iter()
                .map(|o| json!({"Priority": o.priority, "Name": o.name}))
                .collect::<Vec<_>>(),
        })),
        "UserPoolTier": s.user_pool_tier,
        "KeyConfiguration": s.key_configuration.as_ref().map(|k| json!({
            "KeyType": opt(&k.key_type),
            "KmsKeyArn": opt(&k.kms_key_arn),
        })),
        "IssuerConfiguration": (!s.issuer_type.is_empty()).then(|| json!({"Type": s.issuer_type})),
    }))
}

pub fn user_pool_summary_out(pool: &dir::UserPool) -> Value {
    json!({
        "Id": pool.id,
        "Name": pool.settings.as_ref().map(|s| s.pool_name.clone()).unwrap_or_default(),
        "LambdaConfig": {},
        "Status": "Enabled",
        "LastModifiedDate": pool.last_modified_date,
        "CreationDate": pool.creation_date,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn update_requests_reset_what_they_leave_out_and_say_whether_tags_were_given() {
        let body = json!({
            "UserPoolId": "us-east-1_abc",
            "LambdaConfig": {"KMSKeyID": "arn:aws:kms:us-east-1:123456789012:key/k",
                              "CustomSMSSender": {"LambdaVersion": "V1_0", "LambdaArn": "arn:aws:lambda:us-east-1:123456789012:function:f"}},
            "AdminCreateUserConfig": {"InviteMessageTemplate": {"SMSMessage": "Hi {username} {####}"}},
            "Schema": [{"Name": "ignored"}],
        });
        let request: UpdateUserPoolRequest = super::super::shapes::parse(body).unwrap();
        let (pool_id, settings, replace_tags) = request.into_parts().unwrap();
        assert_eq!(pool_id, "us-east-1_abc");
        assert!(!replace_tags);
        assert!(settings.schema.is_empty());
        let lambda = settings.lambda_config.unwrap();
        assert_eq!(
            lambda.kms_key_id,
            "arn:aws:kms:us-east-1:123456789012:key/k"
        );
        assert_eq!(lambda.custom_sms_sender.unwrap().lambda_version, "V1_0");
        assert_eq!(
            settings.invite_message_template.unwrap().sms_message,
            "Hi {username} {####}"
        );
    }

    #[test]
    fn wrong_json_types_are_serialization_errors() {
        let body = json!({"PoolName": "p", "LambdaConfig": {"PreSignUp": 5}});
        let err = super::super::shapes::parse::<CreateUserPoolRequest>(body)
            .err()
            .unwrap();
        assert_eq!(
            err.code,
            portcullis_errors::ErrorCode::SerializationException
        );
    }

    #[test]
    fn described_pools_leave_unset_members_out() {
        let pool = dir::UserPool {
            id: "us-east-1_abc".into(),
            settings: Some(UserPoolSettings {
                pool_name: "p".into(),
                ..Default::default()
            }),
            ..Default::default()
        };
        let out = user_pool_out(&pool);
        assert_eq!(out["LambdaConfig"], json!({}));
        assert!(out.get("SmsConfiguration").is_none());
        assert!(out.get("Domain").is_none());
        assert_eq!(out["Status"], "Enabled");
        assert_eq!(out["UserPoolTags"], json!({}));
    }
}
