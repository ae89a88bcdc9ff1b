"""Setup for federation_browser.mjs: a pool with a domain, an OIDC identity provider
that is oidc-provider on `http://localhost:<IDP_PORT>` (its endpoints given, so the
provider need not run yet), and a public code-flow client whose only provider it is.
Prints, as JSON: {"issuer", "client_id", "callback", "idp_response",
"upstream_client_id", "upstream_client_secret"}.

Usage: federation_node_setup.py URL CALLBACK_URL IDP_PORT"""

import json
import sys
import uuid

import boto3
from botocore.config import Config

url, callback, idp_port = sys.argv[1], sys.argv[2], sys.argv[3]
admin = boto3.client("cognito-idp", endpoint_url=url, region_name="us-east-1",
                     config=Config(retries={"max_attempts": 1}))
suffix = uuid.uuid4().hex[:8]
pool_id = admin.create_user_pool(PoolName=f"node-federation-{suffix}")["UserPool"]["Id"]
admin.create_user_pool_domain(Domain=f"nodefed-{suffix}", UserPoolId=pool_id)
upstream = f"http://localhost:{idp_port}"
secret = uuid.uuid4().hex
admin.create_identity_provider(
    UserPoolId=pool_id, ProviderName="Upstream", ProviderType="OIDC",
    ProviderDetails={"client_id": "portcullis", "client_secret": secret,
                     "authorize_scopes": "openid email profile", "oidc_issuer": upstream,
                     "attributes_request_method": "GET",
                     "authorize_url": f"{upstream}/auth", "token_url": f"{upstream}/token",
                     "attributes_url": f"{upstream}/me", "jwks_uri": f"{upstream}/jwks"},
    AttributeMapping={"email": "email", "email_verified": "email_verified", "name": "name"})
client_id = admin.create_user_pool_client(
    UserPoolId=pool_id, ClientName="spa", SupportedIdentityProviders=["Upstream"],
    CallbackURLs=[callback], AllowedOAuthFlows=["code"], AllowedOAuthScopes=["openid", "email"],
    AllowedOAuthFlowsUserPoolClient=True)["UserPoolClient"]["ClientId"]
print(json.dumps({
    "issuer": f"{url}/{pool_id}", "client_id": client_id, "callback": callback,
    "idp_response": f"{url}/domain/nodefed-{suffix}/oauth2/idpresponse",
    "upstream_client_id": "portcullis", "upstream_client_secret": secret,
}))
