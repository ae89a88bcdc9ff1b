"""A user pool's identity providers through boto3: the six operations, each provider
type's details, Cognito's errors, app clients naming providers, and outbound fetches
(SAML metadata by URL, OpenID Connect discovery) that reach a local server only because
the server was started with `outbound.allow` = 127.0.0.0/8.

Usage: identity_providers.py URL
Admin credentials come from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY. Exits non-zero
on the first failed check.
"""

import base64
import http.server
import json
import threading
import uuid

from cryptography import x509
from e2e_common import check, expect_error, idp
from saml_idp import IdentityProvider

GOOGLE = {"client_id": "google-client", "client_secret": "google-secret",
          "authorize_scopes": "openid email profile"}
APPLE_KEY = """-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgevZzL1gdAFr88hb2
OF/2NxApJCzGCEDdfSp6VQO30hyhRANCAAQRWz+jn65BtOMvdyHKcvjBeBSDZH2r
1RTwjmYSi9R/zpBnuQ4EiMnCqfMPWiZqB4QdbAd0E7oH50VpuZ1P087G
-----END PRIVATE KEY-----"""


class Upstream:
    """A local server answering an issuer's discovery document and a SAML metadata
    document (`metadata(url)` of the server's own URL), and noting what it was asked."""

    def __init__(self, metadata):
        upstream = self
        self.asked = []

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 (http.server's name)
                upstream.asked.append(self.path)
                if self.path == "/.well-known/openid-configuration":
                    body = json.dumps({
                        "issuer": upstream.url,
                        "authorization_endpoint": f"{upstream.url}/authorize",
                        "token_endpoint": f"{upstream.url}/token",
                        "userinfo_endpoint": f"{upstream.url}/userinfo",
                        "jwks_uri": f"{upstream.url}/jwks",
                    }).encode()
                elif self.path == "/metadata":
                    body = metadata(upstream.url).encode()
                else:
                    self.send_response(404)
                    self.end_headers()
                    return
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


def social(admin, pool):
    created = admin.create_identity_provider(
        UserPoolId=pool, ProviderName="Google", ProviderType="Google",
        ProviderDetails=GOOGLE)["IdentityProvider"]
    details = created["ProviderDetails"]
    assert details["client_secret"] == "google-secret", details
    assert details["authorize_url"] == "https://accounts.google.com/o/oauth2/v2/auth", details
    assert details["oidc_issuer"] == "https://accounts.google.com", details
    assert details["attributes_url_add_attributes"] == "true", details
    assert len(details) == 9, details
    assert created["AttributeMapping"] == {"username": "sub"}, created
    assert created["CreationDate"] and created["LastModifiedDate"], created
    described = admin.describe_identity_provider(UserPoolId=pool, ProviderName="Google")
    assert described["IdentityProvider"]["ProviderDetails"] == details, described
    check("Google: Cognito's endpoints filled in, the secret shown, username mapped from sub")

    message = expect_error("InvalidParameterException", admin.create_identity_provider,
                           UserPoolId=pool, ProviderName="MyFacebook", ProviderType="Facebook",
                           ProviderDetails=GOOGLE)
    assert message == "Provider MyFacebook cannot be of type Facebook.", message
    message = expect_error("InvalidParameterException", admin.create_identity_provider,
                           UserPoolId=pool, ProviderName="Facebook", ProviderType="Facebook",
                           ProviderDetails={"client_id": "x"})
    assert message == ("client_id, client_secret and authorize_scopes are all required "
                       "idp details"), message
    facebook = admin.create_identity_provider(
        UserPoolId=pool, ProviderName="Facebook", ProviderType="Facebook",
        ProviderDetails={**GOOGLE, "api_version": "v19.0"})["IdentityProvider"]
    assert facebook["ProviderDetails"]["token_url"] == \
        "https://graph.facebook.com/v19.0/oauth/access_token", facebook
    assert facebook["AttributeMapping"] == {"username": "id"}, facebook
    amazon = admin.create_identity_provider(
        UserPoolId=pool, ProviderName="LoginWithAmazon", ProviderType="LoginWithAmazon",
        ProviderDetails=GOOGLE, AttributeMapping={"email": "email"})["IdentityProvider"]
    assert amazon["AttributeMapping"] == {"email": "email"}, amazon
    assert amazon["ProviderDetails"]["authorize_url"] == "https://www.amazon.com/ap/oa", amazon
    check("social providers carry their type's name, need their three details, map their subject")

    apple = admin.create_identity_provider(
        UserPoolId=pool, ProviderName="SignInWithApple", ProviderType="SignInWithApple",
        ProviderDetails={"client_id": "com.example.app", "team_id": "TEAM123456",
                         "key_id": "KEY1234567", "private_key": APPLE_KEY,
                         "authorize_scopes": "email name"})["IdentityProvider"]
    assert "private_key" not in apple["ProviderDetails"], apple
    assert apple["ProviderDetails"]["key_id"] == "KEY1234567", apple
    # An update without the key keeps it (Describe never shows it).
    admin.update_identity_provider(
        UserPoolId=pool, ProviderName="SignInWithApple",
        ProviderDetails={k: v for k, v in apple["ProviderDetails"].items()
                         if k != "attributes_url_add_attributes"} | {"team_id": "TEAM654321"})
    message = expect_error("InvalidParameterException", admin.update_identity_provider,
                           UserPoolId=pool, ProviderName="SignInWithApple",
                           ProviderDetails={"client_id": "a", "team_id": "b", "key_id": "c",
                                            "private_key": "not a key",
                                            "authorize_scopes": "email"})
    assert "private_key" in message, message
    check("Sign in with Apple: the private key is checked, kept sealed and never shown")


def saml_and_oidc(admin, pool, upstream, identity):
    saml = admin.create_identity_provider(
        UserPoolId=pool, ProviderName="CorpSAML", ProviderType="SAML",
        ProviderDetails={"MetadataFile": identity.metadata(redirect="https://idp.corp.example"),
                         "IDPSignout": "true"},
        AttributeMapping={"email": "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress"},
        IdpIdentifiers=["corp.example", "corp"])["IdentityProvider"]
    details = saml["ProviderDetails"]
    assert details["SSORedirectBindingURI"] == "https://idp.corp.example/sso", details
    assert details["SLORedirectBindingURI"] == "https://idp.corp.example/slo", details
    assert details["IDPSignout"] == "true", details
    assert saml["IdpIdentifiers"] == ["corp.example", "corp"], saml
    check("SAML by metadata file: sign-on and logout locations read from it")

    # Encrypted responses: the provider's own key pair, its certificate shown while on.
    sealed = admin.create_identity_provider(
        UserPoolId=pool, ProviderName="Sealed", ProviderType="SAML",
        ProviderDetails={"MetadataFile": identity.metadata(redirect="https://idp.corp.example"),
                         "EncryptedResponses": "true"})["IdentityProvider"]["ProviderDetails"]
    certificate = x509.load_der_x509_certificate(
        base64.b64decode(sealed["ActiveEncryptionCertificate"]))
    assert certificate.public_key().key_size == 2048, certificate
    assert not any(k.startswith("portcullis:") for k in sealed), sealed
    assert "ActiveEncryptionCertificate" not in details, "a clear provider has no certificate"

    def sealed_details(**given):
        return admin.update_identity_provider(
            UserPoolId=pool, ProviderName="Sealed",
            ProviderDetails=given)["IdentityProvider"]["ProviderDetails"]

    metadata = {"MetadataFile": identity.metadata(redirect="https://idp.corp.example")}
    off = sealed_details(**metadata, EncryptedResponses="false")
    assert "ActiveEncryptionCertificate" not in off, off
    # Sent back as Describe showed it (as Terraform does), the certificate is ignored.
    on = sealed_details(**metadata, EncryptedResponses="true",
                        ActiveEncryptionCertificate="not a certificate")
    assert on["ActiveEncryptionCertificate"] == sealed["ActiveEncryptionCertificate"], \
        "turning encryption off and on changed the certificate"
    other = admin.create_identity_provider(
        UserPoolId=pool, ProviderName="Sealed2", ProviderType="SAML",
        ProviderDetails={**metadata, "EncryptedResponses": "true"})["IdentityProvider"]
    assert (other["ProviderDetails"]["ActiveEncryptionCertificate"]
            != sealed["ActiveEncryptionCertificate"]), "two providers share a key"
    admin.delete_identity_provider(UserPoolId=pool, ProviderName="Sealed2")
    message = expect_error("InvalidParameterException", sealed_details, **metadata,
                           **{"portcullis:encryption_key": "MIIB"})
    assert message == ("portcullis:encryption_key is not a valid provider detail for "
                       "provider type SAML."), message
    admin.delete_identity_provider(UserPoolId=pool, ProviderName="Sealed")
    check("SAML encrypted responses: a key pair per provider, its certificate shown while on "
          "and kept when turned off and on")

    message = expect_error("InvalidParameterException", admin.create_identity_provider,
                           UserPoolId=pool, ProviderName="Bad", ProviderType="SAML",
                           ProviderDetails={"MetadataFile": identity.metadata()})
    assert "HTTP-Redirect" in message, message
    expect_error("InvalidParameterException", admin.create_identity_provider,
                 UserPoolId=pool, ProviderName="Bad", ProviderType="SAML",
                 ProviderDetails={"MetadataFile": "<not metadata/>"})
    expect_error("InvalidParameterException", admin.create_identity_provider,
                 UserPoolId=pool, ProviderName="Bad", ProviderType="SAML",
                 ProviderDetails={"MetadataFile": "x", "MetadataURL": "https://x.example"})
    check("SAML metadata without redirect sign-on, unreadable, or given twice is refused")

    # Fetched from the local upstream: allowed by outbound.allow.
    fetched = admin.create_identity_provider(
        UserPoolId=pool, ProviderName="CorpByURL", ProviderType="SAML",
        ProviderDetails={"MetadataURL": f"{upstream.url}/metadata"})["IdentityProvider"]
    assert fetched["ProviderDetails"]["MetadataURL"] == f"{upstream.url}/metadata", fetched
    assert fetched["ProviderDetails"]["SSORedirectBindingURI"] == \
        f"{upstream.url}/sso", fetched
    assert set(fetched["ProviderDetails"]) == {"MetadataURL", "SSORedirectBindingURI",
                                               "SLORedirectBindingURI"}, fetched
    assert fetched["AttributeMapping"] == {}, fetched
    assert "/metadata" in upstream.asked
    # Never fetched: the instance metadata service and a private network.
    for url in ["https://169.254.169.254/latest/meta-data", "https://10.1.2.3/metadata"]:
        message = expect_error("InvalidParameterException", admin.create_identity_provider,
                               UserPoolId=pool, ProviderName="Internal", ProviderType="SAML",
                               ProviderDetails={"MetadataURL": url})
        assert message == f"Error retrieving metadata from {url}", message
    message = expect_error("InvalidParameterException", admin.create_identity_provider,
                           UserPoolId=pool, ProviderName="Internal", ProviderType="SAML",
                           ProviderDetails={"MetadataURL": "http://metadata.example/md"})
    assert "https" in message, message
    check("SAML by metadata URL: fetched from an allowed network only, over https or loopback")

    oidc = admin.create_identity_provider(
        UserPoolId=pool, ProviderName="Upstream", ProviderType="OIDC",
        ProviderDetails={"client_id": "portcullis", "client_secret": "s3cret",
                         "authorize_scopes": "openid email", "oidc_issuer": upstream.url,
                         "attributes_request_method": "GET"})["IdentityProvider"]
    details = oidc["ProviderDetails"]
    assert details["authorize_url"] == f"{upstream.url}/authorize", details
    assert details["jwks_uri"] == f"{upstream.url}/jwks", details
    assert details["attributes_url"] == f"{upstream.url}/userinfo", details
    assert details["attributes_url_add_attributes"] == "false", details
    assert details["client_secret"] == "s3cret", details
    assert oidc["AttributeMapping"] == {"username": "sub"}, oidc
    assert "/.well-known/openid-configuration" in upstream.asked
    message = expect_error("InvalidParameterException", admin.create_identity_provider,
                           UserPoolId=pool, ProviderName="Nowhere", ProviderType="OIDC",
                           ProviderDetails={"client_id": "c", "authorize_scopes": "openid",
                                            "oidc_issuer": f"{upstream.url}/nowhere",
                                            "attributes_request_method": "GET"})
    assert "well-known" in message, message
    check("OIDC: endpoints discovered from the issuer, an issuer without discovery refused")


def errors_and_listing(admin, pool, metadata):
    message = expect_error("DuplicateProviderException", admin.create_identity_provider,
                           UserPoolId=pool, ProviderName="Google", ProviderType="Google",
                           ProviderDetails=GOOGLE)
    assert message == f"Google already exists in user pool {pool}.", message
    message = expect_error("DuplicateProviderException", admin.create_identity_provider,
                           UserPoolId=pool, ProviderName="OtherCorp", ProviderType="SAML",
                           ProviderDetails={"MetadataFile": metadata},
                           IdpIdentifiers=["CORP.example"])
    assert message == "Duplicate identifier: CORP.example", message
    message = expect_error("InvalidParameterException", admin.create_identity_provider,
                           UserPoolId=pool, ProviderName="Twitter", ProviderType="Twitter",
                           ProviderDetails=GOOGLE)
    assert "providerType" in message, message
    # Each refusal names its own reason (the details are incomplete too, and must not
    # be what is refused).
    message = expect_error("InvalidParameterException", admin.create_identity_provider,
                           UserPoolId=pool, ProviderName="Corp", ProviderType="SAML",
                           ProviderDetails={"MetadataFile": "x"}, IdpIdentifiers=["not/allowed"])
    assert "idpIdentifiers" in message, message
    message = expect_error("InvalidParameterException", admin.create_identity_provider,
                           UserPoolId=pool, ProviderName="Mapped", ProviderType="OIDC",
                           ProviderDetails={}, AttributeMapping={"shoe_size": "x"})
    assert "shoe_size" in message, message
    missing = "us-east-1_NoSuchPoo"
    expect_error("ResourceNotFoundException", admin.create_identity_provider,
                 UserPoolId=missing, ProviderName="Google", ProviderType="Google",
                 ProviderDetails=GOOGLE)
    expect_error("ResourceNotFoundException", admin.list_identity_providers, UserPoolId=missing)
    message = expect_error("ResourceNotFoundException", admin.describe_identity_provider,
                           UserPoolId=pool, ProviderName="Nobody")
    assert message == f"Identity provider Nobody for tenantId {pool} does not exist.", message
    message = expect_error("ResourceNotFoundException", admin.update_identity_provider,
                           UserPoolId=pool, ProviderName="Nobody", AttributeMapping={})
    assert message == f"Identity provider Nobody in User Pool {pool} does not exist.", message
    expect_error("ResourceNotFoundException", admin.delete_identity_provider,
                 UserPoolId=pool, ProviderName="Nobody")
    check("duplicates, unknown types, bad identifiers and mappings, missing pools and providers")

    found = admin.get_identity_provider_by_identifier(UserPoolId=pool, IdpIdentifier="Corp.Example")
    assert found["IdentityProvider"]["ProviderName"] == "CorpSAML", found
    expect_error("ResourceNotFoundException", admin.get_identity_provider_by_identifier,
                 UserPoolId=pool, IdpIdentifier="elsewhere.example")
    updated = admin.update_identity_provider(
        UserPoolId=pool, ProviderName="CorpSAML",
        IdpIdentifiers=["corp.example", "corp.example.org"],
        AttributeMapping={"email": "mail", "name": "displayName"})["IdentityProvider"]
    assert updated["IdpIdentifiers"] == ["corp.example", "corp.example.org"], updated
    assert updated["AttributeMapping"] == {"email": "mail", "name": "displayName"}, updated
    assert updated["ProviderDetails"]["IDPSignout"] == "true", updated
    assert updated["CreationDate"] <= updated["LastModifiedDate"], updated
    check("GetIdentityProviderByIdentifier, and updates that keep what they do not name")

    names = []
    token = None
    while True:
        page = admin.list_identity_providers(
            UserPoolId=pool, MaxResults=3, **({"NextToken": token} if token else {}))
        assert len(page["Providers"]) <= 3, page
        for provider in page["Providers"]:
            assert set(provider) == {"ProviderName", "ProviderType", "LastModifiedDate",
                                     "CreationDate"}, provider
        names += [p["ProviderName"] for p in page["Providers"]]
        token = page.get("NextToken")
        if not token:
            break
    assert names == sorted(["CorpByURL", "CorpSAML", "Facebook", "Google", "LoginWithAmazon",
                            "SignInWithApple", "Upstream"]), names
    expect_error("InvalidParameterException", admin.list_identity_providers,
                 UserPoolId=pool, NextToken="not-a-token")
    check("ListIdentityProviders pages through every provider by name")


def clients(admin, pool):
    client = admin.create_user_pool_client(
        UserPoolId=pool, ClientName="web", SupportedIdentityProviders=["COGNITO", "Google", "CorpSAML"],
        CallbackURLs=["https://app.example/cb"], AllowedOAuthFlows=["code"],
        AllowedOAuthScopes=["openid"], AllowedOAuthFlowsUserPoolClient=True)["UserPoolClient"]
    assert client["SupportedIdentityProviders"] == ["COGNITO", "Google", "CorpSAML"], client
    message = expect_error("InvalidParameterException", admin.create_user_pool_client,
                           UserPoolId=pool, ClientName="web",
                           SupportedIdentityProviders=["Nobody"])
    assert message == f"The provider Nobody does not exist for User Pool {pool}.", message
    check("app clients may name the pool's providers and no others")

    admin.delete_identity_provider(UserPoolId=pool, ProviderName="LoginWithAmazon")
    expect_error("ResourceNotFoundException", admin.describe_identity_provider,
                 UserPoolId=pool, ProviderName="LoginWithAmazon")
    expect_error("InvalidParameterException", admin.update_user_pool_client,
                 UserPoolId=pool, ClientId=client["ClientId"],
                 SupportedIdentityProviders=["LoginWithAmazon"])
    # The name is free again.
    admin.create_identity_provider(UserPoolId=pool, ProviderName="LoginWithAmazon",
                                   ProviderType="LoginWithAmazon", ProviderDetails=GOOGLE)
    check("a deleted provider is gone and its name free again")


def main():
    admin = idp()
    suffix = uuid.uuid4().hex[:8]
    pool = admin.create_user_pool(PoolName=f"idps-{suffix}")["UserPool"]["Id"]
    identity = IdentityProvider("corp")
    upstream = Upstream(lambda url: identity.metadata(redirect=url))
    social(admin, pool)
    saml_and_oidc(admin, pool, upstream, identity)
    errors_and_listing(admin, pool, identity.metadata(redirect="https://idp.corp.example"))
    clients(admin, pool)


if __name__ == "__main__":
    main()
