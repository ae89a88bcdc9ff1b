"""Writes the signed SAML documents the crate's tests verify, signed by two
implementations independent of ours: xmlsec1 (the C library most SAML software signs
with; here for exclusive canonicalization with an InclusiveNamespaces prefix list, as
identity providers write it) and signxml (lxml's canonicalization and the cryptography
package).

Run once, by hand: `apt-get install xmlsec1; pip install signxml; python3 generate.py`
(in this folder). The keys are made afresh each run, so every file changes together."""

import base64
import datetime
import pathlib
import subprocess
import tempfile

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID
from lxml import etree
from signxml import XMLSigner

HERE = pathlib.Path(__file__).parent
ENTITY = "https://idp.example.com/saml"
EXC = "http://www.w3.org/2001/10/xml-exc-c14n#"
C14N10 = "http://www.w3.org/TR/2001/REC-xml-c14n-20010315"
C14N11 = "http://www.w3.org/2006/12/xml-c14n11"


def certificate(key, name):
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    start = datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc)
    return (x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(start).not_valid_after(start + datetime.timedelta(days=3650))
            .sign(key, hashes.SHA256()))


def pem(key):
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def metadata(certs):
    descriptors = "".join(
        '<md:KeyDescriptor use="signing"><ds:KeyInfo xmlns:ds="http://www.w3.org/2000/09/xmldsig#">'
        "<ds:X509Data><ds:X509Certificate>"
        + base64.b64encode(c.public_bytes(serialization.Encoding.DER)).decode()
        + "</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>"
        for c in certs)
    return (f'<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="{ENTITY}">'
            '<md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol" '
            'WantAuthnRequestsSigned="false">' + descriptors
            + '<md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" '
            'Location="https://idp.example.com/sso"/>'
            "</md:IDPSSODescriptor></md:EntityDescriptor>")


def response(name_id="alice@example.com", audience="urn:amazon:webservices"):
    # Namespaces declared on the response, used in the assertion, and one (xs) used only
    # inside attribute values: what exclusive canonicalization and PrefixList are for.
    return f"""<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" xmlns:xs="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" ID="_r1" Version="2.0" IssueInstant="2026-03-01T10:00:00Z" Destination="https://signin.aws.amazon.com/saml">
  <saml:Issuer>{ENTITY}</saml:Issuer>
  <samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"/></samlp:Status>
  <saml:Assertion ID="_a1" Version="2.0" IssueInstant="2026-03-01T10:00:00Z">
    <saml:Issuer>{ENTITY}</saml:Issuer>
    <ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#" Id="placeholder"/>
    <saml:Subject>
      <saml:NameID Format="urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress">{name_id}</saml:NameID>
      <saml:SubjectConfirmation Method="urn:oasis:names:tc:SAML:2.0:cm:bearer">
        <saml:SubjectConfirmationData NotOnOrAfter="2026-03-01T10:05:00Z" Recipient="https://signin.aws.amazon.com/saml"/>
      </saml:SubjectConfirmation>
    </saml:Subject>
    <saml:Conditions NotBefore="2026-03-01T09:59:00Z" NotOnOrAfter="2026-03-01T10:05:00Z">
      <saml:AudienceRestriction><saml:Audience>{audience}</saml:Audience></saml:AudienceRestriction>
    </saml:Conditions>
    <saml:AuthnStatement AuthnInstant="2026-03-01T10:00:00Z" SessionIndex="_s1"/>
    <saml:AttributeStatement>
      <saml:Attribute Name="https://aws.amazon.com/SAML/Attributes/Role">
        <saml:AttributeValue xsi:type="xs:string">arn:aws:iam::000000000000:role/reader,arn:aws:iam::000000000000:saml-provider/corp</saml:AttributeValue>
      </saml:Attribute>
      <saml:Attribute Name="department"><saml:AttributeValue xsi:type="xs:string">a &amp; b</saml:AttributeValue></saml:Attribute>
      <saml:Attribute Name="groups"><saml:AttributeValue>x</saml:AttributeValue><saml:AttributeValue>y</saml:AttributeValue></saml:Attribute>
    </saml:AttributeStatement>
  </saml:Assertion>
</samlp:Response>"""


def sign_assertion(xml, key, cert, algorithm, c14n):
    root = etree.fromstring(xml.encode())
    signer = XMLSigner(signature_algorithm=algorithm, c14n_algorithm=c14n)
    signed = signer.sign(root, key=pem(key), cert=[cert], reference_uri="_a1")
    return etree.tostring(signed).decode()


XMLSEC_TEMPLATE = """<ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:SignedInfo>\
<ds:CanonicalizationMethod Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/>\
<ds:SignatureMethod Algorithm="{algorithm}"/><ds:Reference URI="#_a1"><ds:Transforms>\
<ds:Transform Algorithm="http://www.w3.org/2000/09/xmldsig#enveloped-signature"/>\
<ds:Transform Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#">\
<ec:InclusiveNamespaces xmlns:ec="http://www.w3.org/2001/10/xml-exc-c14n#" PrefixList="xs"/>\
</ds:Transform></ds:Transforms><ds:DigestMethod Algorithm="http://www.w3.org/2001/04/xmlenc#sha256"/>\
<ds:DigestValue/></ds:Reference></ds:SignedInfo><ds:SignatureValue/></ds:Signature>"""


def sign_assertion_xmlsec(xml, key, cert, algorithm):
    """The assertion signed by xmlsec1 from a template, as identity providers do."""
    template = xml.replace(
        '<ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#" Id="placeholder"/>',
        XMLSEC_TEMPLATE.format(algorithm=algorithm))
    with tempfile.TemporaryDirectory() as tmp:
        tmp = pathlib.Path(tmp)
        (tmp / "key.pem").write_bytes(pem(key))
        (tmp / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        (tmp / "in.xml").write_text(template)
        subprocess.run(
            ["xmlsec1", "--sign", "--privkey-pem", f"{tmp / 'key.pem'},{tmp / 'cert.pem'}",
             "--id-attr:ID", "urn:oasis:names:tc:SAML:2.0:assertion:Assertion",
             "--output", str(tmp / "out.xml"), str(tmp / "in.xml")], check=True)
        return (tmp / "out.xml").read_text()


def sign_response(xml, key, cert, algorithm, c14n):
    xml = xml.replace('<ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#" Id="placeholder"/>', "")
    root = etree.fromstring(xml.encode())
    signed = XMLSigner(signature_algorithm=algorithm, c14n_algorithm=c14n).sign(
        root, key=pem(key), cert=[cert], reference_uri="_r1")
    return etree.tostring(signed).decode()


def main():
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    rsa_cert = certificate(rsa_key, "idp")
    ec_key = ec.generate_private_key(ec.SECP256R1())
    ec_cert = certificate(ec_key, "idp-ec")
    other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    other_cert = certificate(other_key, "someone-else")

    files = {
        "metadata.xml": metadata([rsa_cert, ec_cert]),
        "metadata-other.xml": metadata([other_cert]),
        "assertion-exc.xml": sign_assertion_xmlsec(
            response(), rsa_key, rsa_cert, "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"),
        "assertion-ecdsa.xml": sign_assertion_xmlsec(
            response(), ec_key, ec_cert, "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256"),
        # signxml, without a prefix list: it digests with the list but leaves it out of
        # the reference's transform, which no verifier can follow.
        "assertion-exc-signxml.xml": sign_assertion(response(), rsa_key, rsa_cert, "rsa-sha256",
                                                    EXC),
        "assertion-c14n10.xml": sign_assertion(response(), rsa_key, rsa_cert, "rsa-sha256", C14N10),
        "response-c14n11.xml": sign_response(response(), rsa_key, rsa_cert, "rsa-sha512", C14N11),
        "response-exc.xml": sign_response(response(), rsa_key, rsa_cert, "rsa-sha256", EXC),
    }
    for name, text in files.items():
        (HERE / name).write_text(text)


if __name__ == "__main__":
    main()
