//! Validation and defaults of a pool's settings, shared by CreateUserPool and
//! UpdateUserPool: what Cognito checks (enums, lengths, ranges, message templates) with
//! its validation messages, and the defaults it records for members left out.

use std::fmt::Display;

use portcullis_proto::events::v1::{
    AccountRecoverySetting, EmailConfiguration, LambdaConfig, LambdaVersionConfig,
    LogConfiguration, MessageTemplate, PasswordPolicy, RecoveryOption, SchemaAttribute,
    SignInPolicy, SmsConfiguration, StringConstraints, Tag, UserAttributeUpdateSettings,
    UserPoolSettings,
};

use super::ApiError;

const ARN_PATTERN: &str = "arn:[\\w+=/,.@-]+:[\\w+=/,.@-]+:([\\w+=/,.@-]*)?:[0-9]+:[\\w+=/,.@-]+(:[\\w+=/,.@-]+)?(:[\\w+=/,.@-]+)?";
const SMS_PATTERN: &str = ".*\\{####\\}.*";
const EMAIL_PATTERN: &str =
    "[\\p{L}\\p{M}\\p{S}\\p{N}\\p{P}\\s*]*\\{####\\}[\\p{L}\\p{M}\\p{S}\\p{N}\\p{P}\\s*]*";
const LINK_PATTERN: &str = "[\\p{L}\\p{M}\\p{S}\\p{N}\\p{P}\\s*]*\\{##[\\p{L}\\p{M}\\p{S}\\p{N}\\p{P}\\s*]*##\\}[\\p{L}\\p{M}\\p{S}\\p{N}\\p{P}\\s*]*";
/// Cognito's cap on a pool's custom attributes.
pub const MAX_CUSTOM_ATTRIBUTES: usize = 50;
/// Cognito's cap on a pool's tags.
const MAX_TAGS: usize = 50;

/// AWS's validation error for one member.
pub fn invalid(value: impl Display, member: &str, constraint: &str) -> ApiError {
    let value = value.to_string();
    ApiError::invalid_parameter(portcullis_types::constraint_error(member, &value, constraint).0)
}

pub(crate) fn check_enum(value: &str, allowed: &[&str], member: &str) -> Result<(), ApiError> {
    if allowed.contains(&value) {
        return Ok(());
    }
    Err(invalid(
        value,
        member,
        &format!(
            "Member must satisfy enum value set: [{}]",
            allowed.join(", ")
        ),
    ))
}

pub(crate) fn check_list_enum(
    values: &[String],
    allowed: &[&str],
    member: &str,
) -> Result<(), ApiError> {
    match values.iter().find(|v| !allowed.contains(&v.as_str())) {
        None => Ok(()),
        Some(_) => Err(invalid(
            format!("[{}]", values.join(", ")),
            member,
            &format!(
                "Member must satisfy constraint: [Member must satisfy enum value set: [{}]]",
                allowed.join(", ")
            ),
        )),
    }
}

fn check_range(value: u32, min: u32, max: u32, member: &str) -> Result<(), ApiError> {
    if value < min {
        return Err(invalid(
            value,
            member,
            &format!("Member must have value greater than or equal to {min}"),
        ));
    }
    if value > max {
        return Err(invalid(
            value,
            member,
            &format!("Member must have value less than or equal to {max}"),
        ));
    }
    Ok(())
}

/// Checks the length of a set string; an empty string is a member not given.
pub(crate) fn check_length(
    value: &str,
    min: usize,
    max: usize,
    member: &str,
) -> Result<(), ApiError> {
    match portcullis_types::length_constraint(value, min, max) {
        Some(failed) if !value.is_empty() => Err(invalid(value, member, &failed)),
        _ => Ok(()),
    }
}

fn check_pattern(ok: bool, value: &str, member: &str, pattern: &str) -> Result<(), ApiError> {
    if ok {
        Ok(())
    } else {
        Err(invalid(
            value,
            member,
            &format!("Member must satisfy regular expression pattern: {pattern}"),
        ))
    }
}

/// The model's ARN pattern, checked structurally: `arn:<partition>:<service>:<region>:
/// <account digits>:<resource>`.
pub fn is_arn(value: &str) -> bool {
    let parts: Vec<&str> = value.splitn(6, ':').collect();
    let word = |s: &str| {
        !s.is_empty()
            && s.chars()
                .all(|c| c.is_alphanumeric() || "_+=/,.@-:".contains(c))
    };
    parts.len() == 6
        && parts[0] == "arn"
        && word(parts[1])
        && word(parts[2])
        && (parts[3].is_empty() || word(parts[3]))
        && !parts[4].is_empty()
        && parts[4].chars().all(|c| c.is_ascii_digit())
        && word(parts[5])
}

/// An optional ARN member: empty is not given.
pub(crate) fn check_arn(value: &str, member: &str) -> Result<(), ApiError> {
    if value.is_empty() {
        return Ok(());
    }
    check_length(value, 20, 2048, member)?;
    check_pattern(is_arn(value), value, member, ARN_PATTERN)
}

pub(crate) fn check_sms_message(value: &str, member: &str) -> Result<(), ApiError> {
    check_length(value, 6, 140, member)?;
    check_pattern(
        value.is_empty() || value.contains("{####}"),
        value,
        member,
        SMS_PATTERN,
    )
}

fn check_email_message(value: &str, member: &str) -> Result<(), ApiError> {
    check_length(value, 6, 20_000, member)?;
    check_pattern(
        value.is_empty() || value.contains("{####}"),
        value,
        member,
        EMAIL_PATTERN,
    )
}

fn has_link_placeholder(value: &str) -> bool {
    value
        .find("{##")
        .is_some_and(|start| value[start + 3..].contains("##}"))
}

/// Cognito's defaults when a policy is not given at all.
pub fn default_password_policy() -> PasswordPolicy {
    PasswordPolicy {
        minimum_length: 8,
        require_uppercase: true,
        require_lowercase: true,
        require_numbers: true,
        require_symbols: true,
        temporary_password_validity_days: 7,
        password_history_size: 0,
    }
}

/// Without a setting Cognito keeps its legacy choice: SMS before email.
fn default_account_recovery() -> AccountRecoverySetting {
    AccountRecoverySetting {
        recovery_mechanisms: vec![
            RecoveryOption {
                priority: 1,
                name: "verified_phone_number".into(),
            },
            RecoveryOption {
                priority: 2,
                name: "verified_email".into(),
            },
        ],
    }
}

/// Validates the members CreateUserPool and UpdateUserPool share and fills in Cognito's
/// defaults, so that the event records the settings the pool actually has. The schema
/// and sign-in attributes are the caller's business (they differ between the two).
pub fn resolve(mut s: UserPoolSettings) -> Result<UserPoolSettings, ApiError> {
    validate_name(&s.pool_name)?;
    s.password_policy = Some(resolve_password_policy(s.password_policy.take())?);
    s.sign_in_policy = Some(resolve_sign_in_policy(s.sign_in_policy.take())?);
    let lambda = s.lambda_config.take().unwrap_or_default();
    validate_lambda_config(&lambda)?;
    s.lambda_config = Some(lambda);
    check_list_enum(
        &s.auto_verified_attributes,
        &["phone_number", "email"],
        "autoVerifiedAttributes",
    )?;
    resolve_messages(&mut s)?;
    let update = s.user_attribute_update_settings.take().unwrap_or_default();
    validate_update_settings(&update, &s.auto_verified_attributes)?;
    s.user_attribute_update_settings = Some(update);
    s.email_configuration = Some(resolve_email_configuration(
        s.email_configuration.take().unwrap_or_default(),
    )?);
    if let Some(sms) = &s.sms_configuration {
        validate_sms_configuration(sms)?;
    }
    if let Some(invite) = &s.invite_message_template {
        validate_invite_template(invite)?;
    }
    check_range(
        s.unused_account_validity_days,
        0,
        365,
        "adminCreateUserConfig.unusedAccountValidityDays",
    )?;
    if let Some(add_ons) = &s.user_pool_add_ons {
        check_enum(
            &add_ons.advanced_security_mode,
            &["OFF", "AUDIT", "ENFORCED"],
            "userPoolAddOns.advancedSecurityMode",
        )?;
        if !add_ons.custom_auth_mode.is_empty() {
            check_enum(
                &add_ons.custom_auth_mode,
                &["AUDIT", "ENFORCED"],
                "userPoolAddOns.advancedSecurityAdditionalFlows.customAuthMode",
            )?;
        }
    }
    let recovery = s
        .account_recovery_setting
        .take()
        .unwrap_or_else(default_account_recovery);
    validate_account_recovery(&recovery)?;
    s.account_recovery_setting = Some(recovery);
    if let Some(key) = &s.key_configuration {
        check_enum(
            &key.key_type,
            &["AWS_OWNED_KEY", "CUSTOMER_MANAGED_KEY"],
            "keyConfiguration.keyType",
        )?;
        check_arn(&key.kms_key_arn, "keyConfiguration.kmsKeyArn")?;
    }
    if !s.issuer_type.is_empty() {
        check_enum(
            &s.issuer_type,
            &["ORIGINAL", "UPDATED"],
            "issuerConfiguration.type",
        )?;
    }
    validate_tags(&s.user_pool_tags, "userPoolTags")?;
    default_enum(
        &mut s.deletion_protection,
        "INACTIVE",
        &["ACTIVE", "INACTIVE"],
        "deletionProtection",
    )?;
    default_enum(
        &mut s.mfa_configuration,
        "OFF",
        &["OFF", "ON", "OPTIONAL"],
        "mfaConfiguration",
    )?;
    default_enum(
        &mut s.user_pool_tier,
        "ESSENTIALS",
        &["LITE", "ESSENTIALS", "PLUS"],
        "userPoolTier",
    )?;
    // Threat protection is a feature of the Plus plan.
    let protected = s.user_pool_add_ons.as_ref().is_some_and(|a| {
        matches!(a.advanced_security_mode.as_str(), "AUDIT" | "ENFORCED")
            || !a.custom_auth_mode.is_empty()
    });
    if protected && s.user_pool_tier != "PLUS" {
        return Err(ApiError::new(
            portcullis_errors::ErrorCode::FeatureUnavailableInTierException,
            format!(
                "Threat protection is not available in the {} tier. Upgrade the user pool to the PLUS tier.",
                s.user_pool_tier
            ),
        ));
    }
    Ok(s)
}

pub fn validate_name(name: &str) -> Result<(), ApiError> {
    let len = name.chars().count();
    let valid = (1..=128).contains(&len)
        && name
            .chars()
            .all(|c| c.is_alphanumeric() || c.is_whitespace() || "+=,.@-_".contains(c));
    check_pattern(valid, name, "poolName", "[\\w\\s+=,.@-]+")
}

fn resolve_password_policy(policy: Option<PasswordPolicy>) -> Result<PasswordPolicy, ApiError> {
    let mut policy = policy.unwrap_or_else(default_password_policy);
    if policy.minimum_length == 0 {
        policy.minimum_length = 8;
    }
    check_range(
        policy.minimum_length,
        6,
        99,
        "policies.passwordPolicy.minimumLength",
    )?;
    check_range(
        policy.password_history_size,
        0,
        24,
        "policies.passwordPolicy.passwordHistorySize",
    )?;
    check_range(
        policy.temporary_password_validity_days,
        0,
        365,
        "policies.passwordPolicy.temporaryPasswordValidityDays",
    )?;
    // Cognito treats 0 as not given.
    if policy.temporary_password_validity_days == 0 {
        policy.temporary_password_validity_days = 7;
    }
    Ok(policy)
}

fn resolve_sign_in_policy(policy: Option<SignInPolicy>) -> Result<SignInPolicy, ApiError> {
    let mut policy = policy.unwrap_or_default();
    if policy.allowed_first_auth_factors.is_empty() {
        policy.allowed_first_auth_factors = vec!["PASSWORD".into()];
    }
    let member = "policies.signInPolicy.allowedFirstAuthFactors";
    let factors = &policy.allowed_first_auth_factors;
    if factors.len() > 5 {
        return Err(invalid(
            format!("[{}]", factors.join(", ")),
            member,
            "Member must have length less than or equal to 5",
        ));
    }
    check_list_enum(
        factors,
        &[
            "PASSWORD",
            "EMAIL_OTP",
            "SMS_OTP",
            "WEB_AUTHN",
            "SOFTWARE_TOKEN",
        ],
        member,
    )?;
    if factors.iter().any(|f| f == "SOFTWARE_TOKEN") {
        return Err(ApiError::invalid_parameter(
            "SOFTWARE_TOKEN is not supported as a first authentication factor.",
        ));
    }
    Ok(policy)
}

fn validate_lambda_config(lambda: &LambdaConfig) -> Result<(), ApiError> {
    let arns = [
        (&lambda.pre_sign_up, "lambdaConfig.preSignUp"),
        (&lambda.custom_message, "lambdaConfig.customMessage"),
        (&lambda.post_confirmation, "lambdaConfig.postConfirmation"),
        (&lambda.pre_authentication, "lambdaConfig.preAuthentication"),
        (
            &lambda.post_authentication,
            "lambdaConfig.postAuthentication",
        ),
        (
            &lambda.define_auth_challenge,
            "lambdaConfig.defineAuthChallenge",
        ),
        (
            &lambda.create_auth_challenge,
            "lambdaConfig.createAuthChallenge",
        ),
        (
            &lambda.verify_auth_challenge_response,
            "lambdaConfig.verifyAuthChallengeResponse",
        ),
        (
            &lambda.pre_token_generation,
            "lambdaConfig.preTokenGeneration",
        ),
        (&lambda.user_migration, "lambdaConfig.userMigration"),
        (&lambda.kms_key_id, "lambdaConfig.kMSKeyID"),
    ];
    for (arn, member) in arns {
        check_arn(arn, member)?;
    }
    let versioned: [(&Option<LambdaVersionConfig>, &str, &[&str]); 4] = [
        (
            &lambda.pre_token_generation_config,
            "lambdaConfig.preTokenGenerationConfig",
            &["V1_0", "V2_0", "V3_0"],
        ),
        (
            &lambda.custom_sms_sender,
            "lambdaConfig.customSMSSender",
            &["V1_0"],
        ),
        (
            &lambda.custom_email_sender,
            "lambdaConfig.customEmailSender",
            &["V1_0"],
        ),
        (
            &lambda.inbound_federation,
            "lambdaConfig.inboundFederation",
            &["V1_0"],
        ),
    ];
    for (config, member, versions) in versioned {
        let Some(config) = config else { continue };
        check_enum(
            &config.lambda_version,
            versions,
            &format!("{member}.lambdaVersion"),
        )?;
        let arn_member = format!("{member}.lambdaArn");
        if config.lambda_arn.is_empty() {
            return Err(ApiError::invalid_parameter(format!(
                "1 validation error detected: Value null at '{arn_member}' failed to satisfy constraint: Member must not be null"
            )));
        }
        check_arn(&config.lambda_arn, &arn_member)?;
    }
    let senders = lambda.custom_sms_sender.is_some() || lambda.custom_email_sender.is_some();
    if senders && lambda.kms_key_id.is_empty() {
        return Err(ApiError::invalid_parameter(
            "KMSKeyID must be provided when a custom SMS or email sender is configured.",
        ));
    }
    Ok(())
}

/// Cognito keeps the legacy top-level messages and the template in step: a message given
/// in one place is returned in both.
fn resolve_messages(s: &mut UserPoolSettings) -> Result<(), ApiError> {
    check_sms_message(&s.sms_verification_message, "smsVerificationMessage")?;
    check_email_message(&s.email_verification_message, "emailVerificationMessage")?;
    check_length(
        &s.email_verification_subject,
        1,
        140,
        "emailVerificationSubject",
    )?;
    check_sms_message(&s.sms_authentication_message, "smsAuthenticationMessage")?;
    let mut t = s.verification_message_template.take().unwrap_or_default();
    check_sms_message(&t.sms_message, "verificationMessageTemplate.smsMessage")?;
    check_email_message(&t.email_message, "verificationMessageTemplate.emailMessage")?;
    check_length(
        &t.email_subject,
        1,
        140,
        "verificationMessageTemplate.emailSubject",
    )?;
    let by_link = "verificationMessageTemplate.emailMessageByLink";
    check_length(&t.email_message_by_link, 6, 20_000, by_link)?;
    check_pattern(
        t.email_message_by_link.is_empty() || has_link_placeholder(&t.email_message_by_link),
        &t.email_message_by_link,
        by_link,
        LINK_PATTERN,
    )?;
    check_length(
        &t.email_subject_by_link,
        1,
        140,
        "verificationMessageTemplate.emailSubjectByLink",
    )?;
    default_enum(
        &mut t.default_email_option,
        "CONFIRM_WITH_CODE",
        &["CONFIRM_WITH_LINK", "CONFIRM_WITH_CODE"],
        "verificationMessageTemplate.defaultEmailOption",
    )?;
    let pairs = [
        (&mut t.sms_message, &mut s.sms_verification_message),
        (&mut t.email_message, &mut s.email_verification_message),
        (&mut t.email_subject, &mut s.email_verification_subject),
    ];
    for (in_template, top_level) in pairs {
        if in_template.is_empty() {
            in_template.clone_from(top_level);
        } else {
            top_level.clone_from(in_template);
        }
    }
    s.verification_message_template = Some(t);
    Ok(())
}

fn validate_update_settings(
    settings: &UserAttributeUpdateSettings,
    auto_verified: &[String],
) -> Result<(), ApiError> {
    let attributes = &settings.attributes_require_verification_before_update;
    check_list_enum(
        attributes,
        &["phone_number", "email"],
        "userAttributeUpdateSettings.attributesRequireVerificationBeforeUpdate",
    )?;
    if attributes.iter().any(|a| !auto_verified.contains(a)) {
        return Err(ApiError::invalid_parameter(
            "All attributes in AttributesRequireVerificationBeforeUpdate must exist in AutoVerifiedAttributes",
        ));
    }
    Ok(())
}

fn resolve_email_configuration(
    mut email: EmailConfiguration,
) -> Result<EmailConfiguration, ApiError> {
    default_enum(
        &mut email.email_sending_account,
        "COGNITO_DEFAULT",
        &["COGNITO_DEFAULT", "DEVELOPER"],
        "emailConfiguration.emailSendingAccount",
    )?;
    check_arn(&email.source_arn, "emailConfiguration.sourceArn")?;
    let reply_to = &email.reply_to_email_address;
    check_pattern(
        reply_to.is_empty()
            || reply_to
                .split_once('@')
                .is_some_and(|(a, b)| !a.is_empty() && !b.is_empty()),
        reply_to,
        "emailConfiguration.replyToEmailAddress",
        "[\\p{L}\\p{M}\\p{S}\\p{N}\\p{P}]+@[\\p{L}\\p{M}\\p{S}\\p{N}\\p{P}]+",
    )?;
    let set = &email.configuration_set;
    check_length(set, 1, 64, "emailConfiguration.configurationSet")?;
    check_pattern(
        set.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-'),
        set,
        "emailConfiguration.configurationSet",
        "^[a-zA-Z0-9_-]+$",
    )?;
    if email.email_sending_account == "DEVELOPER" && email.source_arn.is_empty() {
        return Err(ApiError::invalid_parameter(
            "SourceArn is required when EmailSendingAccount is DEVELOPER.",
        ));
    }
    Ok(email)
}

pub(crate) fn validate_sms_configuration(sms: &SmsConfiguration) -> Result<(), ApiError> {
    check_arn(&sms.sns_caller_arn, "smsConfiguration.snsCallerArn")?;
    check_length(&sms.sns_region, 5, 32, "smsConfiguration.snsRegion")?;
    if let Some(eums) = &sms.eums_sms {
        if eums.caller_arn.is_empty() {
            return Err(ApiError::invalid_parameter(
                "1 validation error detected: Value null at 'smsConfiguration.eumsSms.callerArn' failed to satisfy constraint: Member must not be null",
            ));
        }
        check_arn(&eums.caller_arn, "smsConfiguration.eumsSms.callerArn")?;
        check_length(&eums.region, 5, 32, "smsConfiguration.eumsSms.region")?;
    }
    Ok(())
}

fn validate_invite_template(t: &MessageTemplate) -> Result<(), ApiError> {
    let member = "adminCreateUserConfig.inviteMessageTemplate";
    check_length(&t.sms_message, 6, 140, &format!("{member}.sMSMessage"))?;
    check_length(
        &t.email_message,
        6,
        20_000,
        &format!("{member}.emailMessage"),
    )?;
    check_length(&t.email_subject, 1, 140, &format!("{member}.emailSubject"))
}

fn validate_account_recovery(setting: &AccountRecoverySetting) -> Result<(), ApiError> {
    let member = "accountRecoverySetting.recoveryMechanisms";
    let mechanisms = &setting.recovery_mechanisms;
    if mechanisms.is_empty() || mechanisms.len() > 2 {
        let constraint = if mechanisms.is_empty() {
            "Member must have length greater than or equal to 1"
        } else {
            "Member must have length less than or equal to 2"
        };
        return Err(invalid(mechanisms.len(), member, constraint));
    }
    for (i, option) in mechanisms.iter().enumerate() {
        let at = format!("{member}.{}", i + 1);
        check_range(option.priority, 1, 2, &format!("{at}.member.priority"))?;
        check_enum(
            &option.name,
            &["verified_email", "verified_phone_number", "admin_only"],
            &format!("{at}.member.name"),
        )?;
    }
    if mechanisms.len() == 2 {
        if mechanisms[0].priority == mechanisms[1].priority
            || mechanisms[0].name == mechanisms[1].name
        {
            return Err(ApiError::invalid_parameter(
                "Recovery mechanisms must have distinct names and priorities.",
            ));
        }
        if mechanisms.iter().any(|m| m.name == "admin_only") {
            return Err(ApiError::invalid_parameter(
                "admin_only cannot be combined with another recovery mechanism.",
            ));
        }
    }
    Ok(())
}

pub fn validate_tags(tags: &[Tag], member: &str) -> Result<(), ApiError> {
    if tags.len() > MAX_TAGS {
        return Err(ApiError::invalid_parameter(format!(
            "A user pool can have at most {MAX_TAGS} tags."
        )));
    }
    for tag in tags {
        check_length(&tag.key, 1, 128, &format!("{member}.key"))?;
        if tag.key.is_empty() {
            return Err(invalid(
                "",
                &format!("{member}.key"),
                "Member must have length greater than or equal to 1",
            ));
        }
        check_length(&tag.value, 0, 256, &format!("{member}.value"))?;
    }
    Ok(())
}

pub fn validate_log_configurations(configs: &[LogConfiguration]) -> Result<(), ApiError> {
    if configs.len() > 2 {
        return Err(invalid(
            configs.len(),
            "logConfigurations",
            "Member must have length less than or equal to 2",
        ));
    }
    for (i, c) in configs.iter().enumerate() {
        let at = format!("logConfigurations.{}.member", i + 1);
        check_enum(&c.log_level, &["ERROR", "INFO"], &format!("{at}.logLevel"))?;
        check_enum(
            &c.event_source,
            &["userNotification", "userAuthEvents"],
            &format!("{at}.eventSource"),
        )?;
        if let Some(cw) = &c.cloud_watch_logs_configuration {
            check_arn(
                &cw.log_group_arn,
                &format!("{at}.cloudWatchLogsConfiguration.logGroupArn"),
            )?;
        }
        if let Some(s3) = &c.s3_configuration {
            let member = format!("{at}.s3Configuration.bucketArn");
            check_length(&s3.bucket_arn, 3, 1024, &member)?;
            check_pattern(
                s3.bucket_arn.is_empty()
                    || s3.bucket_arn.starts_with("arn:") && s3.bucket_arn.contains(":::"),
                &s3.bucket_arn,
                &member,
                "arn:[\\w+=/,.@-]+:[\\w+=/,.@-]+:::[\\w+=/,.@-]+(:[\\w+=/,.@-]+)?(:[\\w+=/,.@-]+)?",
            )?;
        }
        if let Some(firehose) = &c.firehose_configuration {
            check_arn(
                &firehose.stream_arn,
                &format!("{at}.firehoseConfiguration.streamArn"),
            )?;
        }
    }
    Ok(())
}

/// New custom attributes for AddCustomAttributes, named `custom:<name>` (Cognito adds
/// the prefix to whatever name it is given), checked against the current schema.
pub fn custom_attributes(
    schema: &[SchemaAttribute],
    requested: &[SchemaAttribute],
) -> Result<Vec<SchemaAttribute>, ApiError> {
    if requested.is_empty() || requested.len() > 25 {
        let constraint = if requested.is_empty() {
            "Member must have length greater than or equal to 1"
        } else {
            "Member must have length less than or equal to 25"
        };
        return Err(invalid(requested.len(), "customAttributes", constraint));
    }
    let existing_custom = schema
        .iter()
        .filter(|a| a.name.starts_with("custom:"))
        .count();
    if existing_custom + requested.len() > MAX_CUSTOM_ATTRIBUTES {
        return Err(ApiError::invalid_parameter(format!(
            "A user pool can have at most {MAX_CUSTOM_ATTRIBUTES} custom attributes; it has {existing_custom}."
        )));
    }
    let mut added: Vec<SchemaAttribute> = Vec::new();
    for attr in requested {
        let len = attr.name.chars().count();
        if !(1..=20).contains(&len) {
            return Err(ApiError::invalid_parameter(format!(
                "Invalid attribute name {}: length must be between 1 and 20.",
                attr.name
            )));
        }
        check_enum(
            &attr.attribute_data_type,
            &["String", "Number", "DateTime", "Boolean"],
            "customAttributes.member.attributeDataType",
        )?;
        if attr.required {
            return Err(ApiError::invalid_parameter(
                "Required custom attributes are not supported currently.",
            ));
        }
        let name = format!("custom:{}", attr.name);
        if schema.iter().chain(&added).any(|a| a.name == name) {
            return Err(ApiError::invalid_parameter(format!(
                "Existing attribute already has name {name}."
            )));
        }
        let mut custom = attr.clone();
        custom.name = name;
        if custom.attribute_data_type == "String" && custom.string_attribute_constraints.is_none() {
            custom.string_attribute_constraints = Some(StringConstraints::default());
        }
        added.push(custom);
    }
    Ok(added)
}

fn default_enum(
    value: &mut String,
    default: &str,
    allowed: &[&str],
    member: &str,
) -> Result<(), ApiError> {
    if value.is_empty() {
        *value = default.to_owned();
    }
    check_enum(value, allowed, member)
}
