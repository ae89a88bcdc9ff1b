"""Passkeys through boto3 with a software authenticator written here (P-256 keys from
`cryptography`, CBOR and authenticator data built byte by byte, as a browser's
navigator.credentials would hand them over): registration, listing, USER_AUTH sign-in
with WEB_AUTHN, single-use ceremonies, origin and relying-party checks, replay and
unknown keys refused, deletion. Usage: passkeys.py URL"""

import base64
import hashlib
import json
import os
import struct
import sys
import uuid

import boto3
import contract  # noqa: F401  (checks every answer against the model)
import botocore
import jwt
from botocore.config import Config
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

url = sys.argv[1]
config = Config(retries={"max_attempts": 1})
admin = boto3.client("cognito-idp", endpoint_url=url, region_name="us-east-1", config=config)
public = boto3.client("cognito-idp", endpoint_url=url, region_name="us-east-1",
                      config=config.merge(Config(signature_version=botocore.UNSIGNED)))
ORIGIN = "http://localhost:3000"


def b64u(raw):
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def unb64u(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def cbor(value):
    def head(major, n):
        if n < 24:
            return bytes([major << 5 | n])
        for info, fmt in ((24, ">B"), (25, ">H"), (26, ">I"), (27, ">Q")):
            if n < 1 << (8 * struct.calcsize(fmt)):
                return bytes([major << 5 | info]) + struct.pack(fmt, n)
        raise ValueError(n)
    if isinstance(value, bool):
        return b"\xf5" if value else b"\xf4"
    if isinstance(value, int):
        return head(0, value) if value >= 0 else head(1, -1 - value)
    if isinstance(value, bytes):
        return head(2, len(value)) + value
    if isinstance(value, str):
        return head(3, len(value.encode())) + value.encode()
    if isinstance(value, list):
        return head(4, len(value)) + b"".join(cbor(v) for v in value)
    if isinstance(value, dict):
        return head(5, len(value)) + b"".join(cbor(k) + cbor(v) for k, v in value.items())
    raise TypeError(value)


class Authenticator:
    """A platform authenticator with user verification, holding one P-256 credential."""

    def __init__(self):
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.credential_id = os.urandom(32)
        self.counter = 0

    def cose_key(self):
        numbers = self.key.public_key().public_numbers()
        return cbor({1: 2, 3: -7, -1: 1, -2: numbers.x.to_bytes(32, "big"),
                     -3: numbers.y.to_bytes(32, "big")})

    def auth_data(self, rp_id, attested):
        flags = 0x01 | 0x04 | (0x40 if attested else 0)
        data = hashlib.sha256(rp_id.encode()).digest() + bytes([flags]) + struct.pack(">I", self.counter)
        if attested:
            data += bytes(16) + struct.pack(">H", len(self.credential_id)) + self.credential_id
            data += self.cose_key()
        return data

    @staticmethod
    def client_data(kind, challenge, origin):
        return json.dumps({"type": kind, "challenge": challenge, "origin": origin,
                           "crossOrigin": False}).encode()

    def create(self, options, origin=ORIGIN):
        assert {"type": "public-key", "alg": -7} in options["pubKeyCredParams"], options
        rp_id = options["rp"]["id"]
        client = self.client_data("webauthn.create", options["challenge"], origin)
        attestation = cbor({"fmt": "none", "attStmt": {}, "authData": self.auth_data(rp_id, True)})
        return {"id": b64u(self.credential_id), "rawId": b64u(self.credential_id),
                "type": "public-key", "authenticatorAttachment": "platform",
                "response": {"clientDataJSON": b64u(client),
                             "attestationObject": b64u(attestation),
                             "transports": ["internal"]},
                "clientExtensionResults": {}}

    def get(self, options, origin=ORIGIN):
        self.counter += 1
        data = self.auth_data(options["rpId"], False)
        client = self.client_data("webauthn.get", options["challenge"], origin)
        signature = self.key.sign(data + hashlib.sha256(client).digest(), ec.ECDSA(hashes.SHA256()))
        return {"id": b64u(self.credential_id), "rawId": b64u(self.credential_id),
                "type": "public-key",
                "response": {"clientDataJSON": b64u(client), "authenticatorData": b64u(data),
                             "signature": b64u(signature), "userHandle": None},
                "clientExtensionResults": {}}


def expect_error(code, call, **kwargs):
    try:
        call(**kwargs)
    except botocore.exceptions.ClientError as err:
        got = err.response["Error"]["Code"]
        assert got == code, f"expected {code}, got {got}: {err.response['Error'].get('Message')}"
        return err.response["Error"]["Message"]
    raise AssertionError(f"expected {code}, call succeeded")


suffix = uuid.uuid4().hex[:8]
pool_id = admin.create_user_pool(
    PoolName=f"passkeys-{suffix}", UserPoolTier="ESSENTIALS",
    Policies={"SignInPolicy": {"AllowedFirstAuthFactors": ["PASSWORD", "WEB_AUTHN"]}},
)["UserPool"]["Id"]
client_id = admin.create_user_pool_client(
    UserPoolId=pool_id, ClientName="app",
    ExplicitAuthFlows=["ALLOW_USER_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"])["UserPoolClient"]["ClientId"]
username, password = f"pat-{suffix}", "Corr3ct-Horse-Battery!"
admin.admin_create_user(UserPoolId=pool_id, Username=username, MessageAction="SUPPRESS",
                        UserAttributes=[{"Name": "name", "Value": "Pat Example"}])
admin.admin_set_user_password(UserPoolId=pool_id, Username=username, Password=password,
                              Permanent=True)


def start(**extra):
    return public.initiate_auth(ClientId=client_id, AuthFlow="USER_AUTH",
                                AuthParameters={"USERNAME": username, **extra})


access = start(PREFERRED_CHALLENGE="PASSWORD", PASSWORD=password)["AuthenticationResult"]["AccessToken"]

# --- no relying party yet --------------------------------------------------------------
expect_error("WebAuthnConfigurationMissingException", public.start_web_authn_registration,
             AccessToken=access)
admin.set_user_pool_mfa_config(
    UserPoolId=pool_id, MfaConfiguration="OFF",
    WebAuthnConfiguration={"RelyingPartyId": "localhost", "UserVerification": "required"})
assert start()["AvailableChallenges"] == ["PASSWORD", "PASSWORD_SRP"]
print("ok - passkeys need a relying party")

# --- registration ------------------------------------------------------------------------
device = Authenticator()
options = public.start_web_authn_registration(AccessToken=access)["CredentialCreationOptions"]
assert options["rp"]["id"] == "localhost", options
assert options["user"]["name"] == username and options["user"]["displayName"] == "Pat Example"
assert options["authenticatorSelection"]["userVerification"] == "required", options
assert len(unb64u(options["challenge"])) >= 16, options
credential = device.create(options)
public.complete_web_authn_registration(AccessToken=access, Credential=credential)
# The ceremony was single use.
expect_error("WebAuthnChallengeNotFoundException", public.complete_web_authn_registration,
             AccessToken=access, Credential=credential)
# Another origin, another relying party.
options = public.start_web_authn_registration(AccessToken=access)["CredentialCreationOptions"]
expect_error("WebAuthnOriginNotAllowedException", public.complete_web_authn_registration,
             AccessToken=access, Credential=Authenticator().create(options, "https://evil.example"))
options = public.start_web_authn_registration(AccessToken=access)["CredentialCreationOptions"]
expect_error("WebAuthnRelyingPartyMismatchException", public.complete_web_authn_registration,
             AccessToken=access,
             Credential=Authenticator().create({**options, "rp": {"id": "evil.example"}}))
listed = public.list_web_authn_credentials(AccessToken=access)["Credentials"]
assert len(listed) == 1, listed
assert listed[0]["CredentialId"] == b64u(device.credential_id), listed
assert listed[0]["RelyingPartyId"] == "localhost" and listed[0]["AuthenticatorTransports"] == ["internal"]
assert listed[0]["AuthenticatorAttachment"] == "platform" and listed[0]["FriendlyCredentialName"]
# The next registration excludes the passkey the user has.
options = public.start_web_authn_registration(AccessToken=access)["CredentialCreationOptions"]
assert [c["id"] for c in options["excludeCredentials"]] == [b64u(device.credential_id)], options
print("ok - a passkey registers once per ceremony, from the relying party's origin only")

# --- sign-in ------------------------------------------------------------------------------
choice = start()
assert choice["AvailableChallenges"] == ["PASSWORD", "PASSWORD_SRP", "WEB_AUTHN"], choice
challenge = start(PREFERRED_CHALLENGE="WEB_AUTHN")
assert challenge["ChallengeName"] == "WEB_AUTHN", challenge
request = json.loads(challenge["ChallengeParameters"]["CREDENTIAL_REQUEST_OPTIONS"])
assert request["rpId"] == "localhost", request
assert [c["id"] for c in request["allowCredentials"]] == [b64u(device.credential_id)], request
assertion = device.get(request)
tokens = public.respond_to_auth_challenge(
    ClientId=client_id, ChallengeName="WEB_AUTHN", Session=challenge["Session"],
    ChallengeResponses={"USERNAME": username, "CREDENTIAL": json.dumps(assertion)},
)["AuthenticationResult"]
assert jwt.decode(tokens["IdToken"], options={"verify_signature": False})["cognito:username"] == username
# Through SELECT_CHALLENGE too.
chosen = public.respond_to_auth_challenge(
    ClientId=client_id, ChallengeName="SELECT_CHALLENGE", Session=start()["Session"],
    ChallengeResponses={"USERNAME": username, "ANSWER": "WEB_AUTHN"})
assert chosen["ChallengeName"] == "WEB_AUTHN", chosen
request = json.loads(chosen["ChallengeParameters"]["CREDENTIAL_REQUEST_OPTIONS"])
public.respond_to_auth_challenge(
    ClientId=client_id, ChallengeName="WEB_AUTHN", Session=chosen["Session"],
    ChallengeResponses={"USERNAME": username, "CREDENTIAL": json.dumps(device.get(request))})
print("ok - WEB_AUTHN sign-in, chosen directly or from SELECT_CHALLENGE")

# The old assertion under a new challenge, and a key the pool never saw, are refused.
challenge = start(PREFERRED_CHALLENGE="WEB_AUTHN")
expect_error("NotAuthorizedException", public.respond_to_auth_challenge, ClientId=client_id,
             ChallengeName="WEB_AUTHN", Session=challenge["Session"],
             ChallengeResponses={"USERNAME": username, "CREDENTIAL": json.dumps(assertion)})
challenge = start(PREFERRED_CHALLENGE="WEB_AUTHN")
stranger = Authenticator()
stranger.credential_id = device.credential_id
request = json.loads(challenge["ChallengeParameters"]["CREDENTIAL_REQUEST_OPTIONS"])
expect_error("NotAuthorizedException", public.respond_to_auth_challenge, ClientId=client_id,
             ChallengeName="WEB_AUTHN", Session=challenge["Session"],
             ChallengeResponses={"USERNAME": username, "CREDENTIAL": json.dumps(stranger.get(request))})
print("ok - replayed assertions and unknown keys are refused")

# --- deletion -----------------------------------------------------------------------------
expect_error("ResourceNotFoundException", public.delete_web_authn_credential,
             AccessToken=access, CredentialId="bm90LWEta2V5")
public.delete_web_authn_credential(AccessToken=access, CredentialId=b64u(device.credential_id))
assert public.list_web_authn_credentials(AccessToken=access)["Credentials"] == []
assert start()["AvailableChallenges"] == ["PASSWORD", "PASSWORD_SRP"]
print("ok - a deleted passkey is no longer offered")

# --- a pool that does not allow passkeys ----------------------------------------------------
plain = admin.create_user_pool(PoolName=f"plain-{suffix}")["UserPool"]["Id"]
plain_client = admin.create_user_pool_client(
    UserPoolId=plain, ClientName="app", ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH"],
)["UserPoolClient"]["ClientId"]
admin.admin_create_user(UserPoolId=plain, Username=username, MessageAction="SUPPRESS")
admin.admin_set_user_password(UserPoolId=plain, Username=username, Password=password, Permanent=True)
plain_access = public.initiate_auth(
    ClientId=plain_client, AuthFlow="USER_PASSWORD_AUTH",
    AuthParameters={"USERNAME": username, "PASSWORD": password})["AuthenticationResult"]["AccessToken"]
expect_error("WebAuthnNotEnabledException", public.start_web_authn_registration,
             AccessToken=plain_access)
print("passkeys ok")
