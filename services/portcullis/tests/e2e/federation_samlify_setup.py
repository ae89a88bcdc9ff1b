"""Setup for federation_samlify.mjs: a SAML identity provider's key and certificate (made
here with `cryptography`, since Node cannot make certificates), a pool with a domain, that
provider (its metadata written here: signing certificate, redirect sign-on service), the
same provider again as "Sealed" with encrypted responses and as "Full" with signed
requests, IdP-initiated sign-in and single logout, and a code-flow client of the three.
Prints, as JSON: {"base", "pool_id", "client_id", "callback", "signed_out", "idp_entity",
"idp_key", "idp_cert", "sso", "encrypt_cert"} (the last: Sealed's encryption certificate,
PEM).

Usage: federation_samlify_setup.py URL"""

import datetime
import json
import sys
import uuid

import boto3
from botocore.config import Config
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

url = sys.argv[1]
admin = boto3.client("cognito-idp", endpoint_url=url, region_name="us-east-1",
                     config=Config(retries={"max_attempts": 1}))
key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "samlify-idp")])
now = datetime.datetime.now(datetime.timezone.utc)
cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30)).sign(key, hashes.SHA256()))
cert_pem = cert.public_bytes(serialization.Encoding.PEM).decode()
body = "".join(cert_pem.strip().splitlines()[1:-1])
entity = "https://samlify.idp.example/metadata"
sso = "https://samlify.idp.example/sso"
metadata = (
    f'<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="{entity}">'
    '<md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">'
    '<md:KeyDescriptor use="signing"><ds:KeyInfo xmlns:ds="http://www.w3.org/2000/09/xmldsig#">'
    f"<ds:X509Data><ds:X509Certificate>{body}</ds:X509Certificate></ds:X509Data>"
    "</ds:KeyInfo></md:KeyDescriptor>"
    '<md:SingleLogoutService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" '
    f'Location="{sso}/logout"/>'
    '<md:NameIDFormat>urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress</md:NameIDFormat>'
    '<md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" '
    f'Location="{sso}"/></md:IDPSSODescriptor></md:EntityDescriptor>')
suffix = uuid.uuid4().hex[:8]
pool_id = admin.create_user_pool(PoolName=f"samlify-{suffix}")["UserPool"]["Id"]
admin.create_user_pool_domain(Domain=f"samlify-{suffix}", UserPoolId=pool_id)
admin.create_identity_provider(
    UserPoolId=pool_id, ProviderName="Samlify", ProviderType="SAML",
    ProviderDetails={"MetadataFile": metadata}, AttributeMapping={"email": "email"})
# The same identity provider again, encrypting its assertions to this provider's key.
sealed = admin.create_identity_provider(
    UserPoolId=pool_id, ProviderName="Sealed", ProviderType="SAML",
    ProviderDetails={"MetadataFile": metadata, "EncryptedResponses": "true"},
    AttributeMapping={"email": "email"})["IdentityProvider"]["ProviderDetails"]
# And with everything else on: signed requests, sign-in and logout started at the provider.
admin.create_identity_provider(
    UserPoolId=pool_id, ProviderName="Full", ProviderType="SAML",
    ProviderDetails={"MetadataFile": metadata, "RequestSigningAlgorithm": "rsa-sha256",
                     "IDPInit": "true", "IDPSignout": "true"},
    AttributeMapping={"email": "email"})
encrypt_cert = ("-----BEGIN CERTIFICATE-----\n" + sealed["ActiveEncryptionCertificate"]
                + "\n-----END CERTIFICATE-----\n")
callback = "https://app.example.com/callback"
signed_out = "https://app.example.com/signed-out"
client_id = admin.create_user_pool_client(
    UserPoolId=pool_id, ClientName="web",
    SupportedIdentityProviders=["Samlify", "Sealed", "Full"], CallbackURLs=[callback],
    LogoutURLs=[signed_out], AllowedOAuthFlows=["code"], AllowedOAuthScopes=["openid", "email"],
    AllowedOAuthFlowsUserPoolClient=True)["UserPoolClient"]["ClientId"]
print(json.dumps({
    "base": f"{url}/domain/samlify-{suffix}", "pool_id": pool_id, "client_id": client_id,
    "callback": callback, "signed_out": signed_out, "idp_entity": entity, "sso": sso,
    "idp_key": key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                 serialization.NoEncryption()).decode(),
    "idp_cert": cert_pem, "encrypt_cert": encrypt_cert,
}))
