"""A SAML identity provider for the e2e scripts: a signing key, its certificate, its
metadata, and responses whose assertion signxml signs (exclusive canonicalization,
RSA-SHA256), addressed to AWS as identity providers are set up for identity pools."""

import base64
import datetime
import uuid

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from lxml import etree
from signxml import XMLSigner

ENTITY = "https://idp.corp.example/saml"


class IdentityProvider:
    """A SAML identity provider: a signing key, its certificate and metadata."""

    def __init__(self, name):
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
        now = datetime.datetime.now(datetime.timezone.utc)
        self.cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
                     .public_key(self.key.public_key())
                     .serial_number(x509.random_serial_number())
                     .not_valid_before(now - datetime.timedelta(days=1))
                     .not_valid_after(now + datetime.timedelta(days=365))
                     .sign(self.key, hashes.SHA256()))

    def metadata(self, redirect=None):
        """The metadata; with `redirect`, also single sign-on and logout at that URL by
        the HTTP-Redirect binding, as user pools need."""
        der = self.cert.public_bytes(serialization.Encoding.DER)
        logout = sign_on = ""
        if redirect:
            binding = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect"
            logout = f'<md:SingleLogoutService Binding="{binding}" Location="{redirect}/slo"/>'
            sign_on = f'<md:SingleSignOnService Binding="{binding}" Location="{redirect}/sso"/>'
        return (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            f'<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="{ENTITY}">'
            '<md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">'
            '<md:KeyDescriptor use="signing"><ds:KeyInfo xmlns:ds="http://www.w3.org/2000/09/xmldsig#">'
            f"<ds:X509Data><ds:X509Certificate>{base64.b64encode(der).decode()}</ds:X509Certificate>"
            "</ds:X509Data></ds:KeyInfo></md:KeyDescriptor>"
            + logout +
            '<md:NameIDFormat>urn:oasis:names:tc:SAML:2.0:nameid-format:persistent</md:NameIDFormat>'
            + sign_on +
            '<md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" '
            'Location="https://idp.corp.example/sso"/>'
            "</md:IDPSSODescriptor></md:EntityDescriptor>")

    def response(self, name_id, attributes, audience="urn:amazon:webservices",
                 ttl=300, signed=True, alter=None,
                 destination="https://signin.aws.amazon.com/saml", in_response_to=None):
        """A base64 SAML response for `name_id`, its assertion signed; addressed to
        `destination` (and its subject confirmation's recipient), answering the request
        `in_response_to` when given."""
        answers = f' InResponseTo="{in_response_to}"' if in_response_to else ""
        now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
        stamp = lambda t: t.strftime("%Y-%m-%dT%H:%M:%SZ")  # noqa: E731
        issued, until = stamp(now), stamp(now + datetime.timedelta(seconds=ttl))
        assertion_id = f"_{uuid.uuid4().hex}"
        values = "".join(
            f'<saml:Attribute Name="{name}">'
            + "".join(f'<saml:AttributeValue xsi:type="xs:string">{v}</saml:AttributeValue>'
                      for v in vs)
            + "</saml:Attribute>"
            for name, vs in attributes.items())
        xml = f"""<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" xmlns:xs="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" ID="_{uuid.uuid4().hex}" Version="2.0" IssueInstant="{issued}" Destination="{destination}"{answers}>
<saml:Issuer>{ENTITY}</saml:Issuer>
<samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"/></samlp:Status>
<saml:Assertion ID="{assertion_id}" Version="2.0" IssueInstant="{issued}">
<saml:Issuer>{ENTITY}</saml:Issuer>
<ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#" Id="placeholder"/>
<saml:Subject>
<saml:NameID Format="urn:oasis:names:tc:SAML:2.0:nameid-format:persistent">{name_id}</saml:NameID>
<saml:SubjectConfirmation Method="urn:oasis:names:tc:SAML:2.0:cm:bearer"><saml:SubjectConfirmationData NotOnOrAfter="{until}" Recipient="{destination}"{answers}/></saml:SubjectConfirmation>
</saml:Subject>
<saml:Conditions NotBefore="{issued}" NotOnOrAfter="{until}"><saml:AudienceRestriction><saml:Audience>{audience}</saml:Audience></saml:AudienceRestriction></saml:Conditions>
<saml:AuthnStatement AuthnInstant="{issued}" SessionIndex="{assertion_id}"><saml:AuthnContext><saml:AuthnContextClassRef>urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport</saml:AuthnContextClassRef></saml:AuthnContext></saml:AuthnStatement>
<saml:AttributeStatement>{values}</saml:AttributeStatement>
</saml:Assertion>
</samlp:Response>"""
        root = etree.fromstring(xml.encode())
        if signed:
            key = self.key.private_bytes(serialization.Encoding.PEM,
                                         serialization.PrivateFormat.PKCS8,
                                         serialization.NoEncryption())
            root = XMLSigner(c14n_algorithm="http://www.w3.org/2001/10/xml-exc-c14n#").sign(
                root, key=key, cert=[self.cert], reference_uri=assertion_id)
        else:
            placeholder = root.find(".//{http://www.w3.org/2000/09/xmldsig#}Signature")
            placeholder.getparent().remove(placeholder)
        text = etree.tostring(root).decode()
        if alter:
            text = alter(text)
        return base64.b64encode(text.encode()).decode()
