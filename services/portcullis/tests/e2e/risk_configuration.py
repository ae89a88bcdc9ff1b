"""Threat protection's risk configuration through boto3: SetRiskConfiguration and
DescribeRiskConfiguration for a pool and its app clients (a client's own, or the pool's
inherited), resets, the members Cognito checks, and the feature plan rules (threat
protection needs the Plus plan and the add-on on). With BREACHED_PASSWORD set (a
password the server's breached-password corpus holds), also the compromised-credentials
check of new passwords.

Usage: risk_configuration.py URL
Admin credentials come from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY."""

import os
import uuid

from e2e_common import check, expect_error, idp

SES = "arn:aws:ses:us-east-1:123456789012:identity/example.com"
POOL_CONFIGURATION = {
    "CompromisedCredentialsRiskConfiguration": {
        "EventFilter": ["SIGN_IN", "SIGN_UP"],
        "Actions": {"EventAction": "BLOCK"},
    },
    "AccountTakeoverRiskConfiguration": {
        "NotifyConfiguration": {
            "From": "security@example.com",
            "ReplyTo": "help@example.com",
            "SourceArn": SES,
            "BlockEmail": {"Subject": "Sign-in blocked",
                           "HtmlBody": "<p>We blocked a sign-in to your account.</p>",
                           "TextBody": "We blocked a sign-in to your account."},
            "MfaEmail": {"Subject": "Sign-in checked",
                         "TextBody": "We asked for a second factor."},
        },
        "Actions": {
            "LowAction": {"Notify": False, "EventAction": "NO_ACTION"},
            "MediumAction": {"Notify": True, "EventAction": "MFA_IF_CONFIGURED"},
            "HighAction": {"Notify": True, "EventAction": "BLOCK"},
        },
    },
    "RiskExceptionConfiguration": {
        "BlockedIPRangeList": ["192.0.2.0/24"],
        "SkippedIPRangeList": ["10.0.0.0/8", "2001:db8::/32"],
    },
}


def described(admin, pool, client=None):
    args = {"UserPoolId": pool}
    if client:
        args["ClientId"] = client
    return admin.describe_risk_configuration(**args)["RiskConfiguration"]


def without_date(configuration):
    return {k: v for k, v in configuration.items() if k != "LastModifiedDate"}


def main():
    admin = idp()
    suffix = uuid.uuid4().hex[:8]
    pool = admin.create_user_pool(
        PoolName=f"risk-{suffix}", UserPoolTier="PLUS",
        UserPoolAddOns={"AdvancedSecurityMode": "ENFORCED"})["UserPool"]["Id"]
    client = admin.create_user_pool_client(UserPoolId=pool, ClientName="web")[
        "UserPoolClient"]["ClientId"]

    assert described(admin, pool) == {"UserPoolId": pool}, described(admin, pool)
    assert described(admin, pool, client) == {"UserPoolId": pool}
    set_answer = admin.set_risk_configuration(UserPoolId=pool, **POOL_CONFIGURATION)
    configuration = set_answer["RiskConfiguration"]
    assert "LastModifiedDate" in configuration, configuration
    assert without_date(configuration) == {"UserPoolId": pool, **POOL_CONFIGURATION}, configuration
    assert without_date(described(admin, pool)) == without_date(configuration)
    check("a pool's risk configuration is stored and described as it was set")

    # A client without its own has the pool's; with its own, only that.
    assert without_date(described(admin, pool, client)) == without_date(configuration)
    own = {"RiskExceptionConfiguration": {"BlockedIPRangeList": ["198.51.100.0/24"],
                                          "SkippedIPRangeList": []}}
    admin.set_risk_configuration(UserPoolId=pool, ClientId=client, **own)
    assert without_date(described(admin, pool, client)) == {
        "UserPoolId": pool, "ClientId": client, **own}
    assert without_date(described(admin, pool)) == without_date(configuration)
    # Only the ids: the client inherits again, then the pool is back to its defaults.
    admin.set_risk_configuration(UserPoolId=pool, ClientId=client)
    assert without_date(described(admin, pool, client)) == without_date(configuration)
    admin.set_risk_configuration(UserPoolId=pool)
    assert described(admin, pool) == {"UserPoolId": pool}
    check("a client's own configuration, inherited from the pool without one; resets")

    expect_error("ResourceNotFoundException", admin.describe_risk_configuration,
                 UserPoolId="us-east-1_nothere1")
    expect_error("ResourceNotFoundException", admin.set_risk_configuration,
                 UserPoolId=pool, ClientId="nosuchclient1234567890abcd")
    refusals = [
        ({"CompromisedCredentialsRiskConfiguration": {"Actions": {"EventAction": "WARN"}}},
         "Member must satisfy enum value set: [BLOCK, NO_ACTION]"),
        ({"CompromisedCredentialsRiskConfiguration": {"EventFilter": ["LOG_IN"],
                                                      "Actions": {"EventAction": "BLOCK"}}},
         "eventFilter"),
        ({"AccountTakeoverRiskConfiguration": {"Actions": {
            "HighAction": {"Notify": True, "EventAction": "BLOCK"}}}},
         "NotifyConfiguration is required"),
        ({"AccountTakeoverRiskConfiguration": {"Actions": {
            "HighAction": {"Notify": False, "EventAction": "LOCK"}}}},
         "accountTakeoverRiskConfiguration.actions.highAction.eventAction"),
        ({"AccountTakeoverRiskConfiguration": {
            "NotifyConfiguration": {"SourceArn": "not-an-arn-but-long-enough"},
            "Actions": {"LowAction": {"Notify": True, "EventAction": "NO_ACTION"}}}},
         "sourceArn"),
        ({"RiskExceptionConfiguration": {"BlockedIPRangeList": ["192.0.2.1"]}},
         "192.0.2.1 in blockedIPRangeList is not a valid CIDR block."),
        ({"RiskExceptionConfiguration": {
            "SkippedIPRangeList": [f"10.0.{i // 256}.{i % 256}/32" for i in range(201)]}},
         "Member must have length less than or equal to 200"),
    ]
    for given, expected in refusals:
        message = expect_error("InvalidParameterException", admin.set_risk_configuration,
                               UserPoolId=pool, **given)
        assert expected in message, (given, message)
    assert described(admin, pool) == {"UserPoolId": pool}, "a refused configuration was kept"
    check("unknown pools and clients, and each member Cognito checks, are refused")

    # The feature plan: threat protection is Plus's, and off means no risk configuration.
    essentials = admin.create_user_pool(PoolName=f"risk-off-{suffix}")["UserPool"]["Id"]
    expect_error("UserPoolAddOnNotEnabledException", admin.set_risk_configuration,
                 UserPoolId=essentials, **POOL_CONFIGURATION)
    expect_error("UserPoolAddOnNotEnabledException", admin.describe_risk_configuration,
                 UserPoolId=essentials)
    message = expect_error("FeatureUnavailableInTierException", admin.create_user_pool,
                           PoolName=f"risk-no-{suffix}",
                           UserPoolAddOns={"AdvancedSecurityMode": "AUDIT"})
    assert "PLUS" in message, message
    expect_error("FeatureUnavailableInTierException", admin.update_user_pool,
                 UserPoolId=essentials, UserPoolAddOns={"AdvancedSecurityMode": "ENFORCED"})
    admin.update_user_pool(UserPoolId=essentials, UserPoolTier="PLUS",
                           UserPoolAddOns={"AdvancedSecurityMode": "AUDIT"})
    admin.set_risk_configuration(UserPoolId=essentials, **POOL_CONFIGURATION)
    check("threat protection needs the Plus plan, and the add-on on for a risk configuration")


def compromised_credentials(admin, breached):
    """New passwords against the corpus: sign-up and the password changes."""
    suffix = uuid.uuid4().hex[:8]
    fine = "Fine!Passw0rd-" + suffix

    def pool_with(mode, tier="PLUS"):
        add_ons = {"AdvancedSecurityMode": mode}
        pool = admin.create_user_pool(PoolName=f"breach-{mode}-{suffix}", UserPoolTier=tier,
                                      UserPoolAddOns=add_ons)["UserPool"]["Id"]
        client = admin.create_user_pool_client(
            UserPoolId=pool, ClientName="web",
            ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"])[
            "UserPoolClient"]["ClientId"]
        return pool, client

    def sign_up(client, name, password):
        return admin.sign_up(ClientId=client, Username=name, Password=password)

    refused = "Provided password cannot be used for security reasons."
    pool, client = pool_with("ENFORCED")
    # Without a configuration of its own, ENFORCED blocks at every event.
    message = expect_error("InvalidPasswordException", sign_up, client, "ann", breached)
    assert message == refused, message
    sign_up(client, "ann", fine)
    admin.admin_confirm_sign_up(UserPoolId=pool, Username="ann")
    message = expect_error("InvalidPasswordException", admin.admin_set_user_password,
                           UserPoolId=pool, Username="ann", Password=breached, Permanent=True)
    assert message == refused, message
    tokens = admin.initiate_auth(ClientId=client, AuthFlow="USER_PASSWORD_AUTH", AuthParameters={
        "USERNAME": "ann", "PASSWORD": fine})["AuthenticationResult"]
    expect_error("InvalidPasswordException", admin.change_password,
                 AccessToken=tokens["AccessToken"], PreviousPassword=fine,
                 ProposedPassword=breached)
    check("a breached password is refused at sign-up and every password change")

    # The configuration's filter and action.
    admin.set_risk_configuration(UserPoolId=pool, CompromisedCredentialsRiskConfiguration={
        "EventFilter": ["PASSWORD_CHANGE"], "Actions": {"EventAction": "BLOCK"}})
    sign_up(client, "bob", breached)
    expect_error("InvalidPasswordException", admin.admin_set_user_password,
                 UserPoolId=pool, Username="ann", Password=breached, Permanent=True)
    admin.set_risk_configuration(UserPoolId=pool, ClientId=client,
                                 CompromisedCredentialsRiskConfiguration={
                                     "Actions": {"EventAction": "NO_ACTION"}})
    sign_up(client, "cat", breached)
    check("the event filter and the action decide, a client's own configuration first")

    # AUDIT only notes it; with threat protection off nothing is looked up.
    _, audit_client = pool_with("AUDIT")
    sign_up(audit_client, "dan", breached)
    _, off_client = pool_with("OFF", tier="ESSENTIALS")
    sign_up(off_client, "eve", breached)
    check("AUDIT and OFF do not block a breached password")


if __name__ == "__main__":
    main()
    breached_password = os.environ.get("BREACHED_PASSWORD")
    if breached_password:
        compromised_credentials(idp(), breached_password)
    else:
        print("# compromised credentials: skipped, the server has no corpus here")
