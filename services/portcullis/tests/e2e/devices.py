"""Remembered devices, black-box through boto3, with pycognito's device SRP: a pool with a
DeviceConfiguration issues NewDeviceMetadata, ConfirmDevice takes a verifier computed in
Python, the device then proves itself with DEVICE_SRP_AUTH / DEVICE_PASSWORD_VERIFIER
(after a password or SRP sign-in), its key is in the access token (also after a refresh),
and the device operations and their Admin forms read, update and forget it.
Usage: devices.py URL"""

import sys
import uuid

import boto3
import botocore
import contract  # checks every answer against the model
import jwt
from botocore.config import Config
from pycognito.aws_srp import AWSSRP, generate_hash_device

url = sys.argv[1]
config = Config(retries={"max_attempts": 1})
admin = boto3.client("cognito-idp", endpoint_url=url, region_name="us-east-1", config=config)
public = boto3.client("cognito-idp", endpoint_url=url, region_name="us-east-1",
                      config=config.merge(Config(signature_version=botocore.UNSIGNED)))


def expect_error(code, call, **kwargs):
    try:
        call(**kwargs)
    except botocore.exceptions.ClientError as err:
        got = err.response["Error"]["Code"]
        assert got == code, f"expected {code}, got {got}: {err.response['Error'].get('Message')}"
        assert err.response["ResponseMetadata"]["HTTPStatusCode"] < 500, err.response
        return err.response["Error"]["Message"]
    raise AssertionError(f"expected {code}, call succeeded")


def access_claims(auth):
    return jwt.decode(auth["AccessToken"], options={"verify_signature": False})


def attributes(device):
    return {a["Name"]: a["Value"] for a in device["DeviceAttributes"]}


suffix = uuid.uuid4().hex[:8]
pool_id = admin.create_user_pool(
    PoolName=f"devices-{suffix}",
    DeviceConfiguration={"ChallengeRequiredOnNewDevice": True,
                         "DeviceOnlyRememberedOnUserPrompt": True},
)["UserPool"]["Id"]
flows = ["ALLOW_USER_SRP_AUTH", "ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH",
         "ALLOW_ADMIN_USER_PASSWORD_AUTH"]
client_id = admin.create_user_pool_client(
    UserPoolId=pool_id, ClientName="app", ExplicitAuthFlows=flows)["UserPoolClient"]["ClientId"]
PASSWORD = "Corr3ct-Horse-Battery!"
public.sign_up(ClientId=client_id, Username="alice", Password=PASSWORD)
admin.admin_confirm_sign_up(UserPoolId=pool_id, Username="alice")


def password_sign_in(device_key=None):
    params = {"USERNAME": "alice", "PASSWORD": PASSWORD}
    if device_key:
        params["DEVICE_KEY"] = device_key
    return public.initiate_auth(ClientId=client_id, AuthFlow="USER_PASSWORD_AUTH",
                                AuthParameters=params)


class Device:
    """A device as a client keeps it: key, group key and the random device password."""

    def __init__(self, metadata, access_token, name):
        self.key = metadata["DeviceKey"]
        self.group = metadata["DeviceGroupKey"]
        self.password, verifier_config = generate_hash_device(self.group, self.key)
        answer = public.confirm_device(AccessToken=access_token, DeviceKey=self.key,
                                       DeviceSecretVerifierConfig=verifier_config,
                                       DeviceName=name)
        self.confirmation_necessary = answer["UserConfirmationNecessary"]

    def srp(self, password=None):
        return AWSSRP(username="alice", password=PASSWORD, pool_id=pool_id,
                      client_id=client_id, client=public, device_key=self.key,
                      device_group_key=self.group, device_password=password or self.password)

    def prove(self, challenge, password=None):
        """Answers DEVICE_SRP_AUTH (echoing Session) and DEVICE_PASSWORD_VERIFIER."""
        assert challenge["ChallengeName"] == "DEVICE_SRP_AUTH", challenge
        client = self.srp(password)
        verifier = public.respond_to_auth_challenge(
            ClientId=client_id, ChallengeName="DEVICE_SRP_AUTH", Session=challenge["Session"],
            ChallengeResponses={"USERNAME": "alice", "DEVICE_KEY": self.key,
                                "SRP_A": format(client.large_a_value, "x")})
        assert verifier["ChallengeName"] == "DEVICE_PASSWORD_VERIFIER", verifier
        params = verifier["ChallengeParameters"]
        assert set(params) == {"SALT", "SRP_B", "SECRET_BLOCK", "USERNAME", "DEVICE_KEY"}, params
        assert params["DEVICE_KEY"] == self.key, params
        answer = client.process_device_challenge(params)
        return public.respond_to_auth_challenge(
            ClientId=client_id, ChallengeName="DEVICE_PASSWORD_VERIFIER",
            Session=verifier["Session"], ChallengeResponses=answer)


# --- a sign-in without a device: a new one is issued -------------------------------------
first = password_sign_in()["AuthenticationResult"]
metadata = first["NewDeviceMetadata"]
assert metadata["DeviceKey"].startswith("us-east-1_") and metadata["DeviceGroupKey"], metadata
assert access_claims(first)["device_key"] == metadata["DeviceKey"]

# An unknown key cannot be confirmed.
_, config_for_nothing = generate_hash_device("-nogroup00", "us-east-1_nothing")
message = expect_error("ResourceNotFoundException", public.confirm_device,
                       AccessToken=first["AccessToken"], DeviceKey="us-east-1_nothing",
                       DeviceSecretVerifierConfig=config_for_nothing)
assert message == "Device does not exist.", message

phone = Device(metadata, first["AccessToken"], "phone")
# DeviceOnlyRememberedOnUserPrompt: the user is asked; until then it is not remembered.
assert phone.confirmation_necessary is True
listed = public.list_devices(AccessToken=first["AccessToken"])["Devices"]
assert [d["DeviceKey"] for d in listed] == [phone.key], listed
attrs = attributes(listed[0])
assert attrs["device_name"] == "phone", attrs
assert attrs["dev:device_remembered_status"] == "not_remembered", attrs
assert "PasswordVerifier" not in str(listed)

# --- a known device proves itself after the password ------------------------------------
challenge = password_sign_in(phone.key)
tokens = phone.prove(challenge)["AuthenticationResult"]
assert "NewDeviceMetadata" not in tokens, tokens
assert access_claims(tokens)["device_key"] == phone.key

# After SRP too (pycognito sends DEVICE_KEY with SRP_A and with the verifier answer).
srp_client = phone.srp()
auth_params = srp_client.get_auth_params()
assert auth_params["DEVICE_KEY"] == phone.key
start = public.initiate_auth(ClientId=client_id, AuthFlow="USER_SRP_AUTH",
                             AuthParameters=auth_params)
answer = srp_client.process_challenge(start["ChallengeParameters"], auth_params)
challenge = public.respond_to_auth_challenge(ClientId=client_id,
                                             ChallengeName="PASSWORD_VERIFIER",
                                             Session=start["Session"],
                                             ChallengeResponses=answer)
srp_tokens = phone.prove(challenge)["AuthenticationResult"]
assert access_claims(srp_tokens)["device_key"] == phone.key
# pycognito's own authenticate_user answers the device challenges without Session: the
# challenge its password step opened is found by user and device.
auto = phone.srp().authenticate_user()["AuthenticationResult"]
assert access_claims(auto)["device_key"] == phone.key

# A wrong device password is refused; the challenge's session is single-use.
challenge = password_sign_in(phone.key)
message = expect_error("NotAuthorizedException", phone.prove, challenge=challenge,
                       password="not-the-device-password")
assert message == "Incorrect username or password.", message
expect_error("NotAuthorizedException", phone.prove, challenge=challenge)
# Without Session, DEVICE_SRP_AUTH needs a challenge that a first factor opened.
expect_error("NotAuthorizedException", public.respond_to_auth_challenge, ClientId=client_id,
             ChallengeName="DEVICE_SRP_AUTH",
             ChallengeResponses={"USERNAME": "alice", "DEVICE_KEY": phone.key, "SRP_A": "2"})

# The challenge is for the device the sign-in named: an answer for another key is refused.
challenge = password_sign_in(phone.key)
expect_error("NotAuthorizedException", public.respond_to_auth_challenge, ClientId=client_id,
             ChallengeName="DEVICE_SRP_AUTH", Session=challenge["Session"],
             ChallengeResponses={"USERNAME": "alice", "DEVICE_KEY": "us-east-1_other",
                                 "SRP_A": format(phone.srp().large_a_value, "x")})

# Admin password sign-in with the device.
challenge = admin.admin_initiate_auth(UserPoolId=pool_id, ClientId=client_id,
                                      AuthFlow="ADMIN_USER_PASSWORD_AUTH",
                                      AuthParameters={"USERNAME": "alice", "PASSWORD": PASSWORD,
                                                      "DEVICE_KEY": phone.key})
assert challenge["ChallengeName"] == "DEVICE_SRP_AUTH", challenge

# --- refreshing keeps the device -----------------------------------------------------------
refreshed = public.initiate_auth(ClientId=client_id, AuthFlow="REFRESH_TOKEN_AUTH",
                                 AuthParameters={"REFRESH_TOKEN": tokens["RefreshToken"],
                                                 "DEVICE_KEY": phone.key})
assert access_claims(refreshed["AuthenticationResult"])["device_key"] == phone.key
refreshed = public.initiate_auth(ClientId=client_id, AuthFlow="REFRESH_TOKEN_AUTH",
                                 AuthParameters={"REFRESH_TOKEN": tokens["RefreshToken"]})
assert access_claims(refreshed["AuthenticationResult"])["device_key"] == phone.key
expect_error("NotAuthorizedException", public.initiate_auth, ClientId=client_id,
             AuthFlow="REFRESH_TOKEN_AUTH",
             AuthParameters={"REFRESH_TOKEN": tokens["RefreshToken"],
                             "DEVICE_KEY": "us-east-1_someone-else"})

# --- status, reading, a second device and pages -------------------------------------------
access = tokens["AccessToken"]
public.update_device_status(AccessToken=access, DeviceKey=phone.key,
                            DeviceRememberedStatus="remembered")
device = public.get_device(AccessToken=access, DeviceKey=phone.key)["Device"]
assert attributes(device)["dev:device_remembered_status"] == "remembered", device
assert device["DeviceLastAuthenticatedDate"] >= device["DeviceCreateDate"], device
expect_error("InvalidParameterException", public.update_device_status, AccessToken=access,
             DeviceKey=phone.key, DeviceRememberedStatus="sometimes")
message = expect_error("ResourceNotFoundException", public.get_device, AccessToken=access,
                       DeviceKey="us-east-1_00000000-0000-0000-0000-000000000000")
assert message == "Device does not exist.", message

# A remembered device still proves itself (MFA, when the pool has it, is what it skips).
tokens = phone.prove(password_sign_in(phone.key))["AuthenticationResult"]
access = tokens["AccessToken"]

second = password_sign_in()["AuthenticationResult"]
laptop = Device(second["NewDeviceMetadata"], second["AccessToken"], "laptop")
page = public.list_devices(AccessToken=access, Limit=1)
assert len(page["Devices"]) == 1 and page["PaginationToken"], page
rest = public.list_devices(AccessToken=access, Limit=1, PaginationToken=page["PaginationToken"])
assert len(rest["Devices"]) == 1 and "PaginationToken" not in rest, rest
assert {page["Devices"][0]["DeviceKey"], rest["Devices"][0]["DeviceKey"]} == {phone.key,
                                                                                laptop.key}

# --- the administrator's forms ---------------------------------------------------------------
listed = admin.admin_list_devices(UserPoolId=pool_id, Username="alice")["Devices"]
assert {d["DeviceKey"] for d in listed} == {phone.key, laptop.key}, listed
admin.admin_update_device_status(UserPoolId=pool_id, Username="alice", DeviceKey=laptop.key,
                                 DeviceRememberedStatus="remembered")
device = admin.admin_get_device(UserPoolId=pool_id, Username="alice",
                                DeviceKey=laptop.key)["Device"]
assert attributes(device)["dev:device_remembered_status"] == "remembered", device
expect_error("ResourceNotFoundException", admin.admin_list_devices, UserPoolId=pool_id,
             Username="nobody")
expect_error("UserNotFoundException", admin.admin_forget_device, UserPoolId=pool_id,
             Username="nobody", DeviceKey=laptop.key)

# A global sign-out does not forget devices.
admin.admin_user_global_sign_out(UserPoolId=pool_id, Username="alice")
listed = admin.admin_list_devices(UserPoolId=pool_id, Username="alice")["Devices"]
assert len(listed) == 2, listed

# --- forgetting ---------------------------------------------------------------------------------
# A device forgotten while it is being proven cannot finish.
challenge = password_sign_in(laptop.key)
admin.admin_forget_device(UserPoolId=pool_id, Username="alice", DeviceKey=laptop.key)
message = expect_error("ResourceNotFoundException", laptop.prove, challenge=challenge)
assert message == "Device does not exist.", message
expect_error("ResourceNotFoundException", admin.admin_get_device, UserPoolId=pool_id,
             Username="alice", DeviceKey=laptop.key)

# The user forgets the phone: its key is then unknown, and a sign-in with it gets a new device.
tokens = phone.prove(password_sign_in(phone.key))["AuthenticationResult"]
public.forget_device(AccessToken=tokens["AccessToken"], DeviceKey=phone.key)
expect_error("ResourceNotFoundException", public.forget_device,
             AccessToken=tokens["AccessToken"], DeviceKey=phone.key)
again = password_sign_in(phone.key)["AuthenticationResult"]
assert again["NewDeviceMetadata"]["DeviceKey"] != phone.key, again
assert public.list_devices(AccessToken=again["AccessToken"])["Devices"] == []

# --- a pool that does not track devices issues none ------------------------------------------
plain_pool = admin.create_user_pool(PoolName=f"plain-{suffix}")["UserPool"]["Id"]
plain_client = admin.create_user_pool_client(
    UserPoolId=plain_pool, ClientName="app",
    ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH"])["UserPoolClient"]["ClientId"]
public.sign_up(ClientId=plain_client, Username="bob", Password=PASSWORD)
admin.admin_confirm_sign_up(UserPoolId=plain_pool, Username="bob")
plain = public.initiate_auth(ClientId=plain_client, AuthFlow="USER_PASSWORD_AUTH",
                             AuthParameters={"USERNAME": "bob", "PASSWORD": PASSWORD,
                                             "DEVICE_KEY": phone.key})["AuthenticationResult"]
assert "NewDeviceMetadata" not in plain and "device_key" not in access_claims(plain), plain

print("devices ok")
