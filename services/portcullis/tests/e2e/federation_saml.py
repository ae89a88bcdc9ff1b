"""Signing in to a user pool through a SAML 2.0 identity provider (`saml_idp.py`, whose
responses signxml signs): the AuthnRequest by the HTTP-Redirect binding (the pool's
entity id, the assertion consumer service, RelayState), the signed response posted to
`/saml2/idpresponse`, the federated user and the pool's tokens; and the answers the
consumer service refuses: a replay, a response to another request, for another
audience, unsigned, altered after signing, and a response nobody asked for.

Usage: federation_saml.py URL"""

import base64
import http.server
import threading
import time
import urllib.parse
import uuid
import zlib

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from lxml import etree

from browser import Browser, claims, pkce, query_of
from e2e_common import URL, check, idp
from saml_idp import ENTITY, IdentityProvider

CALLBACK = "https://app.example.com/callback"
SIGNED_OUT = "https://app.example.com/signed-out"
SSO = "https://idp.corp.example"


class Pool:
    def __init__(self, admin, identity):
        suffix = uuid.uuid4().hex[:8]
        self.admin = admin
        self.id = admin.create_user_pool(PoolName=f"saml-{suffix}")["UserPool"]["Id"]
        self.prefix = f"saml-{suffix}"
        admin.create_user_pool_domain(Domain=self.prefix, UserPoolId=self.id)
        self.base = f"{URL}/domain/{self.prefix}"
        admin.create_identity_provider(
            UserPoolId=self.id, ProviderName="CorpSAML", ProviderType="SAML",
            ProviderDetails={"MetadataFile": identity.metadata(redirect=SSO)},
            AttributeMapping={"email": "email", "name": "displayName"})
        self.client = admin.create_user_pool_client(
            UserPoolId=self.id, ClientName="web", SupportedIdentityProviders=["CorpSAML"],
            CallbackURLs=[CALLBACK], LogoutURLs=[SIGNED_OUT], AllowedOAuthFlows=["code"],
            AllowedOAuthScopes=["openid", "email"],
            AllowedOAuthFlowsUserPoolClient=True)["UserPoolClient"]["ClientId"]

    def start(self, browser):
        """Starts a sign-in; returns the AuthnRequest (parsed) and the RelayState."""
        verifier, challenge = pkce()
        query = {"client_id": self.client, "response_type": "code", "redirect_uri": CALLBACK,
                 "scope": "openid email", "state": "app-state", "code_challenge": challenge,
                 "code_challenge_method": "S256", "identity_provider": "CorpSAML"}
        answer = browser.request(f"{self.base}/oauth2/authorize?{urllib.parse.urlencode(query)}")
        assert answer.status == 302 and answer.location.startswith(f"{SSO}/sso?"), answer.location
        params, _ = query_of(answer.location)
        request = etree.fromstring(zlib.decompress(base64.b64decode(params["SAMLRequest"]), -15))
        return request, params["RelayState"], verifier

    def post(self, browser, response, relay_state):
        return browser.request(f"{self.base}/saml2/idpresponse",
                               {"SAMLResponse": response, "RelayState": relay_state})


def sign_in(pool, identity):
    browser = Browser()
    request, relay_state, verifier = pool.start(browser)
    # In a cluster every gateway answers for the public URL (gateway 1's).
    acs = request.get("AssertionConsumerServiceURL")
    assert acs.endswith(f"/domain/{pool.prefix}/saml2/idpresponse"), acs
    issuer = request.find("{urn:oasis:names:tc:SAML:2.0:assertion}Issuer").text
    assert issuer == f"urn:amazon:cognito:sp:{pool.id}", issuer
    assert request.get("Destination") == f"{SSO}/sso", request.attrib
    check("the AuthnRequest names the pool's entity id and consumer service")

    response = identity.response(
        "corp-user-1", {"email": ["pat@corp.example"], "displayName": ["Pat"]},
        audience=issuer, destination=acs, in_response_to=request.get("ID"))
    answer = pool.post(browser, response, relay_state)
    assert answer.status == 303, (answer.status, answer.body)
    query, _ = query_of(answer.location)
    assert answer.location.startswith(CALLBACK) and "code" in query, answer.location
    token = Browser().request(f"{pool.base}/oauth2/token", {
        "grant_type": "authorization_code", "client_id": pool.client, "code": query["code"],
        "redirect_uri": CALLBACK, "code_verifier": verifier})
    assert token.status == 200, token.body
    id_claims = claims(token.json()["id_token"])
    assert id_claims["cognito:username"] == "CorpSAML_corp-user-1", id_claims
    assert id_claims["email"] == "pat@corp.example" and id_claims["name"] == "Pat", id_claims
    identity_claim = id_claims["identities"][0]
    assert identity_claim["providerType"] == "SAML" and identity_claim["issuer"] == ENTITY
    check("a signed response signs the user in as CorpSAML_<NameID> with mapped attributes")

    replay = pool.post(browser, response, relay_state)
    assert replay.status == 400, replay.status
    check("the same response is not taken twice")


def refusals(pool, identity):
    entity = f"urn:amazon:cognito:sp:{pool.id}"
    acs = pool.start(Browser())[0].get("AssertionConsumerServiceURL")

    def attempt(**kwargs):
        browser = Browser()
        request, relay_state, _ = pool.start(browser)
        options = {"audience": entity, "destination": acs,
                   "in_response_to": request.get("ID"), **kwargs}
        answer = pool.post(browser, identity.response("corp-user-2", {}, **options), relay_state)
        return answer

    assert attempt().status == 303
    cases = {
        "another request": {"in_response_to": "_someone-elses-request"},
        "another audience": {"audience": "urn:amazon:cognito:sp:us-east-1_Other"},
        "another consumer service": {"destination": "https://elsewhere.example/acs"},
        "no signature": {"signed": False},
        "a NameID changed after signing": {
            "alter": lambda text: text.replace("corp-user-2", "admin")},
        "an expired assertion": {"ttl": -600},
    }
    for label, kwargs in cases.items():
        answer = attempt(**kwargs)
        assert answer.status == 400 and "invalid answer" in answer.body, (label, answer.status)
    stranger = IdentityProvider("stranger")
    browser = Browser()
    request, relay_state, _ = pool.start(browser)
    forged = stranger.response("corp-user-2", {}, audience=entity, destination=acs,
                               in_response_to=request.get("ID"))
    assert pool.post(browser, forged, relay_state).status == 400
    unsolicited = Browser().request(f"{pool.base}/saml2/idpresponse", {
        "SAMLResponse": identity.response("corp-user-2", {}, audience=entity,
                                          destination=acs)})
    assert unsolicited.status == 400, unsolicited.status
    check("responses to other requests, audiences or services, unsigned, altered, expired, "
          "signed by another key, or unasked for are refused")


def idp_initiated(pool, identity):
    """A response the provider posts unasked, with the authorization request as
    `RelayState`: only when the provider's IDPInit is on, and each assertion once."""
    entity = f"urn:amazon:cognito:sp:{pool.id}"
    acs = pool.start(Browser())[0].get("AssertionConsumerServiceURL")
    relay = urllib.parse.urlencode({
        "client_id": pool.client, "redirect_uri": CALLBACK, "response_type": "code",
        "scope": "openid email", "identity_provider": "CorpSAML"})

    def post(response):
        return Browser().request(f"{pool.base}/saml2/idpresponse",
                                 {"SAMLResponse": response, "RelayState": relay})

    response = identity.response("corp-user-3", {"email": ["lee@corp.example"]},
                                 audience=entity, destination=acs)
    refused = post(response)
    assert refused.status == 400 and "not allowed" in refused.body, refused.status
    pool.admin.update_identity_provider(
        UserPoolId=pool.id, ProviderName="CorpSAML",
        ProviderDetails={"MetadataFile": identity.metadata(redirect=SSO), "IDPInit": "true"})
    response = identity.response("corp-user-3", {"email": ["lee@corp.example"]},
                                 audience=entity, destination=acs)
    answer = post(response)
    assert answer.status == 303 and answer.location.startswith(CALLBACK), answer.status
    query, _ = query_of(answer.location)
    token = Browser().request(f"{pool.base}/oauth2/token", {
        "grant_type": "authorization_code", "client_id": pool.client, "code": query["code"],
        "redirect_uri": CALLBACK})
    assert token.status == 200, token.body
    assert claims(token.json()["id_token"])["cognito:username"] == "CorpSAML_corp-user-3"
    replay = post(response)
    assert replay.status == 400, replay.status
    check("IdP-initiated sign-in: refused until IDPInit is on, then once per assertion")


def signed_requests(pool, identity):
    """With RequestSigningAlgorithm, the redirect carries SigAlg and a Signature over the
    query, by the key of the pool's signing certificate (GetSigningCertificate)."""
    pool.admin.update_identity_provider(
        UserPoolId=pool.id, ProviderName="CorpSAML",
        ProviderDetails={"MetadataFile": identity.metadata(redirect=SSO),
                         "RequestSigningAlgorithm": "rsa-sha256"})
    browser = Browser()
    query = {"client_id": pool.client, "response_type": "code", "redirect_uri": CALLBACK,
             "scope": "openid", "state": "s", "identity_provider": "CorpSAML"}
    answer = browser.request(f"{pool.base}/oauth2/authorize?{urllib.parse.urlencode(query)}")
    raw = urllib.parse.urlsplit(answer.location).query
    signed, _, signature = raw.rpartition("&Signature=")
    assert signed.endswith("&SigAlg=" + urllib.parse.quote_plus(
        "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256")), signed
    der = base64.b64decode(pool.admin.get_signing_certificate(UserPoolId=pool.id)["Certificate"])
    public = x509.load_der_x509_certificate(der).public_key()
    public.verify(base64.b64decode(urllib.parse.unquote_plus(signature)), signed.encode(),
                  padding.PKCS1v15(), hashes.SHA256())
    check("signed requests: the redirect's signature verifies with the pool's certificate")


def verify_redirect_signature(pool, location):
    raw = urllib.parse.urlsplit(location).query
    signed, _, signature = raw.rpartition("&Signature=")
    der = base64.b64decode(pool.admin.get_signing_certificate(UserPoolId=pool.id)["Certificate"])
    public = x509.load_der_x509_certificate(der).public_key()
    public.verify(base64.b64decode(urllib.parse.unquote_plus(signature)), signed.encode(),
                  padding.PKCS1v15(), hashes.SHA256())


def single_logout(pool, identity):
    """With IDPSignout, /logout sends the browser to the provider's logout with a signed
    LogoutRequest for the user's NameID and session; its LogoutResponse at
    /saml2/logout goes on to the app's sign-out URL."""
    pool.admin.update_identity_provider(
        UserPoolId=pool.id, ProviderName="CorpSAML",
        ProviderDetails={"MetadataFile": identity.metadata(redirect=SSO), "IDPSignout": "true"})
    browser = Browser()
    request, relay_state, _ = pool.start(browser)
    acs = request.get("AssertionConsumerServiceURL")
    entity = f"urn:amazon:cognito:sp:{pool.id}"
    answer = pool.post(browser, identity.response(
        "corp-user-4", {}, audience=entity, destination=acs,
        in_response_to=request.get("ID")), relay_state)
    assert answer.status == 303, answer.status

    answer = browser.request(f"{pool.base}/logout?" + urllib.parse.urlencode(
        {"client_id": pool.client, "logout_uri": SIGNED_OUT}))
    assert answer.status == 302 and answer.location.startswith(f"{SSO}/slo?"), answer.location
    verify_redirect_signature(pool, answer.location)
    params, _ = query_of(answer.location)
    logout = etree.fromstring(zlib.decompress(base64.b64decode(params["SAMLRequest"]), -15))
    ns = {"samlp": "urn:oasis:names:tc:SAML:2.0:protocol",
          "saml": "urn:oasis:names:tc:SAML:2.0:assertion"}
    assert logout.find("saml:NameID", ns).text == "corp-user-4", etree.tostring(logout)
    assert logout.find("samlp:SessionIndex", ns).text, etree.tostring(logout)
    assert logout.find("saml:Issuer", ns).text == entity

    def logout_response(in_response_to):
        xml = (f'<samlp:LogoutResponse xmlns:samlp="{ns["samlp"]}" xmlns:saml="{ns["saml"]}" '
               f'ID="_{uuid.uuid4().hex}" Version="2.0" InResponseTo="{in_response_to}">'
               f"<saml:Issuer>{ENTITY}</saml:Issuer><samlp:Status><samlp:StatusCode "
               'Value="urn:oasis:names:tc:SAML:2.0:status:Success"/></samlp:Status>'
               "</samlp:LogoutResponse>")
        deflate = zlib.compressobj(9, zlib.DEFLATED, -15)
        data = deflate.compress(xml.encode()) + deflate.flush()
        return base64.b64encode(data).decode()

    wrong = browser.request(f"{pool.base}/saml2/logout?" + urllib.parse.urlencode(
        {"SAMLResponse": logout_response("_another"), "RelayState": params["RelayState"]}))
    assert wrong.status == 400, wrong.status
    # The refused answer spent the state: the provider's real answer is refused too, and
    # the sign-out itself already happened.
    done = browser.request(f"{pool.base}/saml2/logout?" + urllib.parse.urlencode(
        {"SAMLResponse": logout_response(logout.get("ID")), "RelayState": params["RelayState"]}))
    assert done.status == 400, done.status

    # Once more, answered properly.
    browser = Browser()
    request, relay_state, _ = pool.start(browser)
    pool.post(browser, identity.response("corp-user-4", {}, audience=entity, destination=acs,
                                         in_response_to=request.get("ID")), relay_state)
    answer = browser.request(f"{pool.base}/logout?" + urllib.parse.urlencode(
        {"client_id": pool.client, "logout_uri": SIGNED_OUT}))
    params, _ = query_of(answer.location)
    logout = etree.fromstring(zlib.decompress(base64.b64decode(params["SAMLRequest"]), -15))
    done = browser.request(f"{pool.base}/saml2/logout?" + urllib.parse.urlencode(
        {"SAMLResponse": logout_response(logout.get("ID")), "RelayState": params["RelayState"]}))
    assert done.status == 302 and done.location == SIGNED_OUT, (done.status, done.location)
    again, _, _ = pool.start(browser)  # no session: the provider is asked again
    check("single logout: a signed LogoutRequest, and its answer leads to the sign-out URL")


def provider_logout(pool, identity):
    """The provider's own LogoutRequest at /saml2/logout (IDPSignout on): signed by the
    provider, it ends this browser's session of that user and gets a signed answer."""
    entity = f"urn:amazon:cognito:sp:{pool.id}"
    ns = "urn:oasis:names:tc:SAML:2.0:protocol"

    def signed_in(name_id):
        browser = Browser()
        request, relay_state, _ = pool.start(browser)
        answer = pool.post(browser, identity.response(
            name_id, {}, audience=entity, destination=request.get("AssertionConsumerServiceURL"),
            in_response_to=request.get("ID")), relay_state)
        assert answer.status == 303, answer.status
        return browser

    def logout_request(name_id, signer=identity, signed=True):
        xml = (f'<samlp:LogoutRequest xmlns:samlp="{ns}" '
               'xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_lr1" Version="2.0">'
               f"<saml:Issuer>{ENTITY}</saml:Issuer><saml:NameID>{name_id}</saml:NameID>"
               "</samlp:LogoutRequest>")
        deflate = zlib.compressobj(9, zlib.DEFLATED, -15)
        encoded = base64.b64encode(deflate.compress(xml.encode()) + deflate.flush()).decode()
        pairs = [("SAMLRequest", encoded), ("RelayState", "idp-relay")]
        if not signed:
            return urllib.parse.urlencode(pairs)
        pairs.append(("SigAlg", "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"))
        query = urllib.parse.urlencode(pairs)
        signature = signer.key.sign(query.encode(), padding.PKCS1v15(), hashes.SHA256())
        return query + "&" + urllib.parse.urlencode(
            {"Signature": base64.b64encode(signature).decode()})

    browser = signed_in("corp-user-5")
    answer = browser.request(f"{pool.base}/saml2/logout?{logout_request('corp-user-5')}")
    assert answer.status == 302 and answer.location.startswith(f"{SSO}/slo?"), answer.status
    verify_redirect_signature(pool, answer.location)
    params, _ = query_of(answer.location)
    assert params["RelayState"] == "idp-relay", params
    response = etree.fromstring(zlib.decompress(base64.b64decode(params["SAMLResponse"]), -15))
    assert response.get("InResponseTo") == "_lr1", etree.tostring(response)
    status = response.find(f"{{{ns}}}Status/{{{ns}}}StatusCode")
    assert status.get("Value") == "urn:oasis:names:tc:SAML:2.0:status:Success"
    pool.start(browser)  # the session ended: the provider is asked again
    check("a provider's signed LogoutRequest ends that user's session and gets a signed answer")

    other = signed_in("corp-user-6")
    answer = other.request(f"{pool.base}/saml2/logout?{logout_request('corp-user-5')}")
    assert answer.status == 302, answer.status
    query = {"client_id": pool.client, "response_type": "code", "redirect_uri": CALLBACK,
             "scope": "openid", "state": "s", "identity_provider": "CorpSAML"}
    still = other.request(f"{pool.base}/oauth2/authorize?{urllib.parse.urlencode(query)}")
    assert still.location.startswith(CALLBACK), still.location
    unsigned = Browser().request(
        f"{pool.base}/saml2/logout?{logout_request('corp-user-6', signed=False)}")
    assert unsigned.status == 400, unsigned.status
    forged = Browser().request(f"{pool.base}/saml2/logout?"
                               f"{logout_request('corp-user-6', signer=IdentityProvider('x'))}")
    assert forged.status == 400, forged.status
    check("another user's logout leaves this session; unsigned or forged requests are refused")


def metadata_refresh(pool, identity):
    """A provider configured by MetadataURL (served here, on loopback) has its metadata
    fetched again by a sign-in once it is old: the server runs with
    outbound.metadata_refresh_secs = 1 and 127.0.0.0/8 allowed."""
    served = {"doc": identity.metadata(redirect="https://idp-a.example")}

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 (http.server's name)
            body = served["doc"].encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/samlmetadata+xml")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/metadata"
    pool.admin.create_identity_provider(
        UserPoolId=pool.id, ProviderName="Moving", ProviderType="SAML",
        ProviderDetails={"MetadataURL": url})
    client = pool.admin.create_user_pool_client(
        UserPoolId=pool.id, ClientName="moving", SupportedIdentityProviders=["Moving"],
        CallbackURLs=[CALLBACK], AllowedOAuthFlows=["code"], AllowedOAuthScopes=["openid"],
        AllowedOAuthFlowsUserPoolClient=True)["UserPoolClient"]["ClientId"]

    def sign_on_location():
        query = {"client_id": client, "response_type": "code", "redirect_uri": CALLBACK,
                 "scope": "openid", "identity_provider": "Moving"}
        answer = Browser().request(f"{pool.base}/oauth2/authorize?{urllib.parse.urlencode(query)}")
        assert answer.status == 302, (answer.status, answer.body)
        return answer.location.split("?")[0]

    def described():
        return pool.admin.describe_identity_provider(
            UserPoolId=pool.id, ProviderName="Moving")["IdentityProvider"]["ProviderDetails"]

    try:
        assert sign_on_location() == "https://idp-a.example/sso"
        served["doc"] = identity.metadata(redirect="https://idp-b.example")
        time.sleep(1.2)
        # The sign-in that finds the document old fetches it first, and goes to the new place.
        assert sign_on_location() == "https://idp-b.example/sso"
        details = described()
        assert details["SSORedirectBindingURI"] == "https://idp-b.example/sso", details
        assert details["SLORedirectBindingURI"] == "https://idp-b.example/slo", details
        assert details["MetadataURL"] == url, details
        assert not any(k.startswith("portcullis:") for k in details), details
        # Unusable metadata is not taken: the last good document stays.
        served["doc"] = "<not-metadata/>"
        time.sleep(1.2)
        assert sign_on_location() == "https://idp-b.example/sso"
        assert described()["SSORedirectBindingURI"] == "https://idp-b.example/sso"
    finally:
        server.shutdown()
    check("metadata from a MetadataURL is fetched again once old; unusable metadata is not taken")


def main():
    admin = idp()
    identity = IdentityProvider("corp")
    pool = Pool(admin, identity)
    sign_in(pool, identity)
    metadata_refresh(pool, identity)
    refusals(pool, identity)
    idp_initiated(pool, identity)
    signed_requests(pool, identity)
    single_logout(pool, identity)
    provider_logout(pool, identity)


if __name__ == "__main__":
    main()
