"""USER_SRP_AUTH with an unmodified client library: pycognito's AWSSRP signs in through a
boto3 client pointed at Portcullis, with and without a client secret, for users made by
sign-up and by AdminCreateUser, with a non-ASCII password; wrong passwords, replayed
answers, A = N and unknown users are refused as Cognito refuses them.
Usage: srp.py URL"""

import sys
import uuid

import boto3
import contract  # checks every answer against the model
import botocore
import jwt
from botocore.config import Config
from pycognito.aws_srp import AWSSRP

url = sys.argv[1]
config = Config(retries={"max_attempts": 1})
admin = boto3.client("cognito-idp", endpoint_url=url, region_name="us-east-1", config=config)
public = boto3.client("cognito-idp", endpoint_url=url, region_name="us-east-1",
                      config=config.merge(Config(signature_version=botocore.UNSIGNED)))

N_HEX = (
    "FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74"
    "020BBEA63B139B22514A08798E3404DDEF9519B3CD3A431B302B0A6DF25F1437"
    "4FE1356D6D51C245E485B576625E7EC6F44C42E9A637ED6B0BFF5CB6F406B7ED"
    "EE386BFB5A899FA5AE9F24117C4B1FE649286651ECE45B3DC2007CB8A163BF05"
    "98DA48361C55D39A69163FA8FD24CF5F83655D23DCA3AD961C62F356208552BB"
    "9ED529077096966D670C354E4ABC9804F1746C08CA18217C32905E462E36CE3B"
    "E39E772C180E86039B2783A2EC07A28FB5C55DF06F4C52C9DE2BCBF695581718"
    "3995497CEA956AE515D2261898FA051015728E5A8AAAC42DAD33170D04507A33"
    "A85521ABDF1CBA64ECFB850458DBEF0A8AEA71575D060C7DB3970F85A6E1E4C7"
    "ABF5AE8CDB0933D71E8C94E04A25619DCEE3D2261AD2EE6BF12FFA06D98A0864"
    "D87602733EC86A64521F2B18177B200CBBE117577A615D6C770988C0BAD946E2"
    "08E24FA074E5AB3143DB5BFCE0FD108E4B82D120A93AD2CAFFFFFFFFFFFFFFFF"
)


def expect_error(code, call, **kwargs):
    try:
        call(**kwargs)
    except botocore.exceptions.ClientError as err:
        got = err.response["Error"]["Code"]
        assert got == code, f"expected {code}, got {got}: {err.response['Error'].get('Message')}"
        assert err.response["ResponseMetadata"]["HTTPStatusCode"] < 500, err.response
        return err.response["Error"]["Message"]
    raise AssertionError(f"expected {code}, call succeeded")


def srp(username, password, client, secret=None):
    return AWSSRP(username=username, password=password, pool_id=pool_id, client_id=client,
                  client=public, client_secret=secret)


def check_tokens(result, username, client):
    auth = result["AuthenticationResult"]
    assert auth["TokenType"] == "Bearer" and auth["RefreshToken"], auth
    claims = jwt.decode(auth["IdToken"], options={"verify_signature": False})
    assert claims["cognito:username"] == username and claims["aud"] == client, claims
    access = jwt.decode(auth["AccessToken"], options={"verify_signature": False})
    assert access["client_id"] == client and access["token_use"] == "access", access
    return auth


suffix = uuid.uuid4().hex[:8]
pool_id = admin.create_user_pool(PoolName=f"srp-{suffix}")["UserPool"]["Id"]
flows = ["ALLOW_USER_SRP_AUTH", "ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"]
client_id = admin.create_user_pool_client(
    UserPoolId=pool_id, ClientName="app", ExplicitAuthFlows=flows,
    PreventUserExistenceErrors="ENABLED")["UserPoolClient"]["ClientId"]
secret_client = admin.create_user_pool_client(
    UserPoolId=pool_id, ClientName="server", ExplicitAuthFlows=flows, GenerateSecret=True,
)["UserPoolClient"]
password_only = admin.create_user_pool_client(
    UserPoolId=pool_id, ClientName="password-only",
    ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH"])["UserPoolClient"]["ClientId"]

# --- sign-up, confirm, SRP sign-in ------------------------------------------------------
public.sign_up(ClientId=client_id, Username="alice", Password="Corr3ct-Horse-Battery!")
admin.admin_confirm_sign_up(UserPoolId=pool_id, Username="alice")
check_tokens(srp("alice", "Corr3ct-Horse-Battery!", client_id).authenticate_user(),
             "alice", client_id)

# The challenge as Cognito sends it.
start = public.initiate_auth(ClientId=client_id, AuthFlow="USER_SRP_AUTH",
                             AuthParameters=srp("alice", "x", client_id).get_auth_params())
assert start["ChallengeName"] == "PASSWORD_VERIFIER" and start["Session"], start
params = start["ChallengeParameters"]
assert set(params) == {"SALT", "SRP_B", "SECRET_BLOCK", "USER_ID_FOR_SRP", "USERNAME"}, params
assert params["USER_ID_FOR_SRP"] == "alice" == params["USERNAME"], params

# A wrong password fails at the verifier step.
message = expect_error("NotAuthorizedException",
                       srp("alice", "Wrong-Horse-Battery!", client_id).authenticate_user)
assert message == "Incorrect username or password.", message

# An answer that echoes Session works; the same answer again does not (single use).
client_srp = srp("alice", "Corr3ct-Horse-Battery!", client_id)
auth_params = client_srp.get_auth_params()
start = public.initiate_auth(ClientId=client_id, AuthFlow="USER_SRP_AUTH",
                             AuthParameters=auth_params)
answer = client_srp.process_challenge(start["ChallengeParameters"], auth_params)
check_tokens(public.respond_to_auth_challenge(
    ClientId=client_id, ChallengeName="PASSWORD_VERIFIER", Session=start["Session"],
    ChallengeResponses=answer), "alice", client_id)
expect_error("NotAuthorizedException", public.respond_to_auth_challenge, ClientId=client_id,
             ChallengeName="PASSWORD_VERIFIER", ChallengeResponses=answer)

# A = N (so A mod N == 0) is refused.
expect_error("NotAuthorizedException", public.initiate_auth, ClientId=client_id,
             AuthFlow="USER_SRP_AUTH", AuthParameters={"USERNAME": "alice", "SRP_A": N_HEX})

# A client without ALLOW_USER_SRP_AUTH cannot use the flow.
expect_error("InvalidParameterException", srp("alice", "x", password_only).authenticate_user)

# An unknown user gets a plausible challenge, stable salt, and fails like a wrong password.
first = public.initiate_auth(ClientId=client_id, AuthFlow="USER_SRP_AUTH",
                             AuthParameters=srp("nobody", "x", client_id).get_auth_params())
again = public.initiate_auth(ClientId=client_id, AuthFlow="USER_SRP_AUTH",
                             AuthParameters=srp("nobody", "x", client_id).get_auth_params())
assert first["ChallengeName"] == "PASSWORD_VERIFIER", first
assert first["ChallengeParameters"]["SALT"] == again["ChallengeParameters"]["SALT"]
message = expect_error("NotAuthorizedException",
                       srp("nobody", "Corr3ct-Horse-Battery!", client_id).authenticate_user)
assert message == "Incorrect username or password.", message

# --- a client with a secret ---------------------------------------------------------------
secret_id, secret = secret_client["ClientId"], secret_client["ClientSecret"]
check_tokens(srp("alice", "Corr3ct-Horse-Battery!", secret_id, secret).authenticate_user(),
             "alice", secret_id)
expect_error("NotAuthorizedException",
             srp("alice", "Corr3ct-Horse-Battery!", secret_id, "not-the-secret").authenticate_user)

# --- a non-ASCII password -------------------------------------------------------------------
unicode_password = "pässwörd ünïcode 🔑 Aa1!"
public.sign_up(ClientId=client_id, Username="bjørn", Password=unicode_password)
admin.admin_confirm_sign_up(UserPoolId=pool_id, Username="bjørn")
check_tokens(srp("bjørn", unicode_password, client_id).authenticate_user(), "bjørn", client_id)

# --- a user who first signed in with USER_PASSWORD_AUTH only ------------------------------
public.sign_up(ClientId=password_only, Username="carol", Password="Carol-Passw0rd!")
admin.admin_confirm_sign_up(UserPoolId=pool_id, Username="carol")
public.initiate_auth(ClientId=password_only, AuthFlow="USER_PASSWORD_AUTH",
                     AuthParameters={"USERNAME": "carol", "PASSWORD": "Carol-Passw0rd!"})
check_tokens(srp("carol", "Carol-Passw0rd!", client_id).authenticate_user(), "carol", client_id)

# --- admin-set passwords: temporary ones lead to NEW_PASSWORD_REQUIRED, permanent ones sign in
admin.admin_create_user(UserPoolId=pool_id, Username="dave", TemporaryPassword="Temp-Passw0rd!",
                        MessageAction="SUPPRESS")
client_srp = srp("dave", "Temp-Passw0rd!", client_id)
auth_params = client_srp.get_auth_params()
start = public.initiate_auth(ClientId=client_id, AuthFlow="USER_SRP_AUTH",
                             AuthParameters=auth_params)
answer = client_srp.process_challenge(start["ChallengeParameters"], auth_params)
challenge = public.respond_to_auth_challenge(ClientId=client_id,
                                             ChallengeName="PASSWORD_VERIFIER",
                                             ChallengeResponses=answer)
assert challenge["ChallengeName"] == "NEW_PASSWORD_REQUIRED", challenge
check_tokens(public.respond_to_auth_challenge(
    ClientId=client_id, ChallengeName="NEW_PASSWORD_REQUIRED", Session=challenge["Session"],
    ChallengeResponses={"USERNAME": "dave", "NEW_PASSWORD": "Dave-New-Passw0rd!"}),
    "dave", client_id)
check_tokens(srp("dave", "Dave-New-Passw0rd!", client_id).authenticate_user(), "dave", client_id)
admin.admin_set_user_password(UserPoolId=pool_id, Username="dave",
                              Password="Dave-Perm-Passw0rd!", Permanent=True)
check_tokens(srp("dave", "Dave-Perm-Passw0rd!", client_id).authenticate_user(), "dave", client_id)
expect_error("NotAuthorizedException",
             srp("dave", "Dave-New-Passw0rd!", client_id).authenticate_user)

# A disabled user is refused after the verifier step.
admin.admin_disable_user(UserPoolId=pool_id, Username="dave")
message = expect_error("NotAuthorizedException",
                       srp("dave", "Dave-Perm-Passw0rd!", client_id).authenticate_user)
assert message == "User is disabled.", message

print("srp ok")
