#!/usr/bin/env python3
"""The other side of `differential.rs`: SAML documents signed and judged by xmlsec1.

Reads `{"seed": N, "documents": N, "alterations": N, "c14n_only": bool}` on stdin and
writes one JSON object on stdout: the library versions, the two signing certificates
(DER, base64) and a list of cases. Each case is a document (signed by xmlsec1 through
python-xmlsec, then perhaps altered) with:

- for every `Response` and `Assertion` element in it: whether it carries a signature,
  whether xmlsec1 verifies that signature with the identity provider's key (with every
  algorithm it knows, and with those the crate accepts), which rules of the SAML
  profile the crate implements it breaks (see `profile`), and whether xmlsec1
  canonicalizes it otherwise than the crate by design;
- whether a relying party accepts the response as a whole (its signatures combined as
  `read_response` combines them), and then the subject and attributes it reads;
- or, with `c14n_only`, exclusive canonical forms of some of its elements by libxml2
  (see `c14n_probes`) instead.

The documents come from a seeded generator, each document and each alteration from a
generator of its own, so a failure replays with the same seed and versions (only the
keys, and so the signature values, are new in each run): namespace prefixes and where
they are declared, attribute order and quoting, white space, comments and processing
instructions, character references, CDATA, where the signature sits, which algorithms
it uses and which element it signs. Every signed document is then altered in ways that
must break the signature (changed text, a moved signature, signature wrapping,
duplicated IDs, a changed digest) and in ways that must not (attribute order, quoting,
references, comments, redundant namespace declarations).

Needs `lxml` and `xmlsec` from PyPI (their wheels must carry the same libxml2) and
`cryptography`.
"""

import base64
import datetime
import hashlib
import json
import random
import re
import sys

import xmlsec
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import NameOID
from lxml import etree

SAMLP = "urn:oasis:names:tc:SAML:2.0:protocol"
SAML = "urn:oasis:names:tc:SAML:2.0:assertion"
DS = "http://www.w3.org/2000/09/xmldsig#"
EC = "http://www.w3.org/2001/10/xml-exc-c14n#"
XS = "http://www.w3.org/2001/XMLSchema"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
EXT = "urn:example:extension"
UNUSED = "urn:example:unused"
XML = "http://www.w3.org/XML/1998/namespace"

ENTITY = "https://idp.example.com/saml"
ACS = "https://signin.aws.amazon.com/saml"
AUDIENCE = "urn:amazon:webservices"

ENVELOPED = DS + "enveloped-signature"
EXC = EC
EXC_COMMENTS = EC + "WithComments"
C14N10 = "http://www.w3.org/TR/2001/REC-xml-c14n-20010315"
C14N10_COMMENTS = C14N10 + "#WithComments"
C14N11 = "http://www.w3.org/2006/12/xml-c14n11"
C14N11_COMMENTS = C14N11 + "#WithComments"
C14NS = {EXC, EXC_COMMENTS, C14N10, C14N10_COMMENTS, C14N11, C14N11_COMMENTS}

RSA_SHA1 = DS + "rsa-sha1"
RSA_SHA256 = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"
RSA_SHA384 = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha384"
RSA_SHA512 = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha512"
ECDSA_SHA256 = "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256"
SHA1 = DS + "sha1"
SHA256 = "http://www.w3.org/2001/04/xmlenc#sha256"
SHA384 = "http://www.w3.org/2001/04/xmldsig-more#sha384"
SHA512 = "http://www.w3.org/2001/04/xmlenc#sha512"
HASHES = {SHA1: hashlib.sha1, SHA256: hashlib.sha256, SHA384: hashlib.sha384, SHA512: hashlib.sha512}

T = xmlsec.constants
# The algorithms the crate accepts; xmlsec1 verifies once with these only ("policy") and
# once with everything it knows ("raw", which takes SHA-1 too).
POLICY_SIGNATURE = [T.TransformExclC14N, T.TransformExclC14NWithComments, T.TransformInclC14N,
                    T.TransformInclC14NWithComments, T.TransformInclC14N11,
                    T.TransformInclC14N11WithComments, T.TransformRsaSha256, T.TransformRsaSha384,
                    T.TransformRsaSha512, T.TransformEcdsaSha256, T.TransformEcdsaSha384]
POLICY_REFERENCE = [T.TransformEnveloped, T.TransformExclC14N, T.TransformExclC14NWithComments,
                    T.TransformInclC14N, T.TransformInclC14NWithComments, T.TransformInclC14N11,
                    T.TransformInclC14N11WithComments, T.TransformSha256, T.TransformSha384,
                    T.TransformSha512]


def q(ns, name):
    return "{%s}%s" % (ns, name)


# ---------------------------------------------------------------------------------------
# Keys

def certificate(key, name):
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    start = datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc)
    return (x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
            .public_key(key.public_key()).serial_number(1)
            .not_valid_before(start).not_valid_after(start + datetime.timedelta(days=3650))
            .sign(key, hashes.SHA256()))


class Keys:
    def __init__(self):
        self.rsa = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.ec = ec.generate_private_key(ec.SECP256R1())
        self.other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.certs = {"rsa": certificate(self.rsa, "idp"), "ec": certificate(self.ec, "idp-ec")}

    @staticmethod
    def private(key):
        pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
        return xmlsec.Key.from_memory(pem, xmlsec.KeyFormat.PEM)

    def public(self, which):
        key = {"rsa": self.rsa, "ec": self.ec}[which].public_key()
        pem = key.public_bytes(serialization.Encoding.PEM,
                               serialization.PublicFormat.SubjectPublicKeyInfo)
        return xmlsec.Key.from_memory(pem, xmlsec.KeyFormat.PEM)

    def der(self, which):
        return base64.b64encode(self.certs[which].public_bytes(serialization.Encoding.DER)).decode()


# ---------------------------------------------------------------------------------------
# A document model, and a writer that varies everything canonicalization must undo

class E:
    def __init__(self, ns, name, attrs=(), children=(), decls=()):
        self.ns, self.name = ns, name
        self.attrs = list(attrs)  # (namespace or None, local name, value)
        self.children = list(children)  # E, Text, Comment, Raw
        self.decls = list(decls)  # (prefix, uri) declared here whether used or not


class Text(str):
    pass


class Comment(str):
    pass


class Raw(str):
    """Written as it is (placeholders for signature values)."""


class Style:
    def __init__(self, rng):
        self.rng = rng
        self.prefix = {
            SAMLP: rng.choice(["samlp", "saml2p", "p", ""]),
            SAML: rng.choice(["saml", "saml2", "a", "", "saml"]),
            DS: rng.choice(["ds", "ds", "dsig", ""]),
            EC: rng.choice(["ec", "exc", ""]),
            XS: "xs", XSI: "xsi", EXT: "ext", UNUSED: "u",
        }
        self.pretty = rng.random() < 0.6
        self.crlf = rng.random() < 0.15
        self.indent = rng.choice(["  ", "    ", "\t", " "])
        self.charref = rng.choice([0.0, 0.0, 0.02, 0.1])
        self.cdata = rng.choice([0.0, 0.1, 0.3])
        self.comments = rng.choice([0.0, 0.0, 0.05, 0.15])
        self.pis = rng.choice([0.0, 0.0, 0.03])
        self.redundant = rng.choice([0.0, 0.05, 0.2])
        self.self_closing = rng.choice([0.0, 0.5, 1.0])
        self.quote = rng.choice(['"', "'", None])
        self.attr_space = rng.choice([[" "], [" ", "  ", "\n" + " " * 6, "\t"]])
        self.close_space = rng.choice([0.0, 0.2])

    def sep(self):
        return self.rng.choice(self.attr_space)

    def newline(self):
        return "\r\n" if self.crlf else "\n"


def char_ref(c, rng):
    return rng.choice(["&#%d;" % ord(c), "&#x%X;" % ord(c), "&#x%x;" % ord(c)])


def escape_text(s, st):
    rng = st.rng
    if s and rng.random() < st.cdata and "]]>" not in s and "\r" not in s:
        return "<![CDATA[" + s + "]]>"
    out = []
    for i, c in enumerate(s):
        if c == "&":
            out.append(rng.choice(["&amp;", "&#38;", "&#x26;"]))
        elif c == "<":
            out.append(rng.choice(["&lt;", "&#60;", "&#x3C;"]))
        elif c == ">":
            # Literal only where it cannot end "]]>".
            out.append(rng.choice(["&gt;", "&#62;"] + ([">"] if not s[:i].endswith("]]") else [])))
        elif c == "\r":
            out.append(rng.choice(["&#13;", "&#xD;", "&#xd;"]))
        elif c == "\n":
            out.append(rng.choice([st.newline(), "\n", "&#10;"]) if st.charref else st.newline())
        elif rng.random() < st.charref:
            out.append(char_ref(c, rng))
        else:
            out.append(c)
    return "".join(out)


def escape_attr(s, quote, st):
    rng = st.rng
    out = []
    for c in s:
        if c == "&":
            out.append(rng.choice(["&amp;", "&#38;"]))
        elif c == "<":
            out.append(rng.choice(["&lt;", "&#60;"]))
        elif c == quote:
            out.append({'"': "&quot;", "'": "&apos;"}[c] if rng.random() < 0.5 else char_ref(c, rng))
        elif c in "\t\n\r":
            out.append(char_ref(c, rng))  # a literal one would read as a space
        elif c == ">" and rng.random() < 0.5:
            out.append("&gt;")
        elif rng.random() < st.charref:
            out.append(char_ref(c, rng))
        else:
            out.append(c)
    return "".join(out)


def render(node, scope, st, depth=0):
    """The text of `node`, with `scope` the prefixes bound at its parent."""
    rng = st.rng
    if isinstance(node, Raw):
        return str(node)
    if isinstance(node, Comment):
        return "<!--" + node + "-->"
    if isinstance(node, Text):
        return escape_text(node, st)
    scope = dict(scope)
    decls = []

    def bind(prefix, uri):
        if scope.get(prefix, "") != uri:
            decls.append((prefix, uri))
            scope[prefix] = uri

    for prefix, uri in node.decls:
        bind(prefix, uri)
    prefix = "" if node.ns is None else st.prefix[node.ns]
    bind(prefix, node.ns or "")
    attrs = []
    for ns, name, value in node.attrs:
        if ns is None:
            attrs.append((name, value))
        elif ns == XML:
            attrs.append(("xml:" + name, value))
        else:
            p = st.prefix[ns] or "x" + st.prefix[SAMLP]
            bind(p, ns)
            attrs.append((p + ":" + name, value))
    if rng.random() < st.redundant:
        for p, uri in list(scope.items()):
            if uri and (p, uri) not in decls and rng.random() < 0.5:
                decls.append((p, uri))
    items = [("xmlns" if not p else "xmlns:" + p, uri) for p, uri in decls] + attrs
    rng.shuffle(items)
    qname = prefix + ":" + node.name if prefix else node.name
    out = ["<" + qname]
    for name, value in items:
        quote = st.quote or rng.choice('"\'')
        out.append(st.sep() + name + rng.choice(["=", "=", " = "]) + quote
                   + escape_attr(value, quote, st) + quote)
    if rng.random() < st.close_space:
        out.append(st.sep())
    if not node.children and rng.random() < st.self_closing:
        out.append("/>")
        return "".join(out)
    out.append(">")
    elements_only = all(isinstance(c, E) or isinstance(c, Raw) and not c for c in node.children)
    for child in node.children:
        if isinstance(child, E) and elements_only and st.pretty:
            out.append(st.newline() + st.indent * (depth + 1))
        if isinstance(child, E) and rng.random() < st.comments:
            out.append("<!-- %s -->" % rng.choice(["note", "a -&gt; b", "", "ds:Signature"]))
        if isinstance(child, E) and rng.random() < st.pis:
            out.append("<?note keep this?>")
        out.append(render(child, scope, st, depth + 1))
    if elements_only and st.pretty and node.children:
        out.append(st.newline() + st.indent * depth)
    out.append("</" + qname + (st.sep() if rng.random() < st.close_space else "") + ">")
    return "".join(out)


# ---------------------------------------------------------------------------------------
# SAML documents with signature templates

NAME_IDS = ["alice@example.com", "bob+tag@example.com", "O'Brien & Sons <sales>",
            "\u00e9l\u00e8ve@\u00fc.example", "tab\there", "line\rbreak", "  padded  ",
            "quote\"d", "]]>", "a\u4e2d\u6587b", "\U0001F511key"]
VALUES = ["x", "y", "a & b", "<admin>", "\"quoted\"", "it's", "multi\nline", "cr\r\nlf",
          "  spaced  ", "\u00fcber", "tab\tbed", "", "arn:aws:iam::000000000000:role/reader,"
          "arn:aws:iam::000000000000:saml-provider/corp"]
ATTRIBUTE_NAMES = ["department", "groups", "email", "https://aws.amazon.com/SAML/Attributes/Role",
                   "custom:tier"]


class Counter:
    def __init__(self):
        self.n = 0

    def next(self, what):
        self.n += 1
        return "PLACEHOLDER-%s-%d" % (what, self.n)


def pick(rng, weighted):
    total = sum(w for _, w in weighted)
    x = rng.random() * total
    for value, w in weighted:
        x -= w
        if x < 0:
            return value
    return weighted[-1][0]


class SignatureSpec:
    def __init__(self, rng, st, target_id, counter):
        self.target_id = target_id
        self.key = pick(rng, [("rsa", 80), ("ec", 15), ("other", 5)])
        if self.key == "ec":
            self.method = ECDSA_SHA256
        else:
            self.method = pick(rng, [(RSA_SHA256, 70), (RSA_SHA1, 5), (RSA_SHA384, 10),
                                     (RSA_SHA512, 10)])
        self.digest = pick(rng, [(SHA256, 75), (SHA1, 5), (SHA384, 10), (SHA512, 10)])
        self.c14n = pick(rng, [(EXC, 60), (EXC_COMMENTS, 10), (C14N10, 10), (C14N10_COMMENTS, 5),
                               (C14N11, 10), (C14N11_COMMENTS, 5)])
        self.transforms = pick(rng, [(["exc"], 55), (["exc-comments"], 10), ([], 10),
                                     (["c14n10"], 10), (["c14n11"], 10), (["exc", "c14n10"], 3),
                                     (["enveloped", "exc"], 2)])
        prefixes = [st.prefix[XS], st.prefix[XSI], st.prefix[SAML], st.prefix[SAMLP], "#default",
                    st.prefix[DS], "nothere"]
        self.prefix_lists = [self.prefix_list(rng, prefixes) for _ in range(2)]
        self.key_info = rng.random() < 0.5
        self.summary = {"signs": target_id, "key": self.key, "method": self.method,
                        "digest": self.digest, "c14n": self.c14n, "transforms": self.transforms}
        self.dv = counter.next("DV")
        self.sv = counter.next("SV")

    @staticmethod
    def prefix_list(rng, prefixes):
        roll = rng.random()
        if roll < 0.4:
            return None
        chosen = [p for p in prefixes if p and rng.random() < 0.3]
        if roll < 0.5:
            chosen = []
        separator = pick(rng, [(" ", 85), ("  ", 5), ("\t", 5), (" \n ", 5)])
        return (" " if rng.random() < 0.05 else "") + separator.join(chosen)

    def c14n_element(self, uri, prefix_list):
        children = []
        if uri in (EXC, EXC_COMMENTS) and prefix_list is not None:
            children = [E(EC, "InclusiveNamespaces", [(None, "PrefixList", prefix_list)])]
        return children

    def element(self, keys):
        transforms = [E(DS, "Transform", [(None, "Algorithm", ENVELOPED)])]
        for t in self.transforms:
            uri = {"exc": EXC, "exc-comments": EXC_COMMENTS, "c14n10": C14N10, "c14n11": C14N11,
                   "enveloped": ENVELOPED}[t]
            transforms.append(E(DS, "Transform", [(None, "Algorithm", uri)],
                                self.c14n_element(uri, self.prefix_lists[1])))
        signed_info = E(DS, "SignedInfo", [], [
            E(DS, "CanonicalizationMethod", [(None, "Algorithm", self.c14n)],
              self.c14n_element(self.c14n, self.prefix_lists[0])),
            E(DS, "SignatureMethod", [(None, "Algorithm", self.method)]),
            E(DS, "Reference", [(None, "URI", "#" + self.target_id)], [
                E(DS, "Transforms", [], transforms),
                E(DS, "DigestMethod", [(None, "Algorithm", self.digest)]),
                E(DS, "DigestValue", [], [Raw(self.dv)]),
            ]),
        ])
        children = [signed_info, E(DS, "SignatureValue", [], [Raw(self.sv)])]
        if self.key_info:
            cert = keys.der("ec" if self.key == "ec" else "rsa")
            children.append(E(DS, "KeyInfo", [], [E(DS, "X509Data", [], [
                E(DS, "X509Certificate", [], [Raw(cert)])])]))
        return E(DS, "Signature", [], children)


def assertion(rng, st, assertion_id, name_id):
    attributes = []
    for _ in range(rng.randint(0, 4)):
        values = []
        for _ in range(rng.randint(1, 3)):
            value_attrs = []
            if rng.random() < 0.5:
                value_attrs.append((XSI, "type", "xs:string"))
            if rng.random() < 0.15:
                value_attrs.append((XML, "lang", rng.choice(["en", "fr-CA"])))
            values.append(E(SAML, "AttributeValue", value_attrs, [Text(rng.choice(VALUES))]))
        attr_attrs = [(None, "Name", rng.choice(ATTRIBUTE_NAMES))]
        if rng.random() < 0.3:
            attr_attrs.append((None, "NameFormat",
                               "urn:oasis:names:tc:SAML:2.0:attrname-format:basic"))
        if rng.random() < 0.15:
            attr_attrs.append((EXT, "flag", "1"))
        attributes.append(E(SAML, "Attribute", attr_attrs, values))
    children = [
        E(SAML, "Issuer", [], [Text(ENTITY)]),
        E(SAML, "Subject", [], [
            E(SAML, "NameID", [(None, "Format",
                                "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress")],
              [Text(name_id)]),
            E(SAML, "SubjectConfirmation", [(None, "Method", "urn:oasis:names:tc:SAML:2.0:cm:bearer")],
              [E(SAML, "SubjectConfirmationData", [(None, "NotOnOrAfter", "2026-03-01T10:05:00Z"),
                                                   (None, "Recipient", ACS)])]),
        ]),
        E(SAML, "Conditions", [(None, "NotBefore", "2026-03-01T09:59:00Z"),
                               (None, "NotOnOrAfter", "2026-03-01T10:05:00Z")],
          [E(SAML, "AudienceRestriction", [], [E(SAML, "Audience", [], [Text(AUDIENCE)])])]),
        E(SAML, "AuthnStatement", [(None, "AuthnInstant", "2026-03-01T10:00:00Z"),
                                   (None, "SessionIndex", "_s1")]),
    ]
    if attributes:
        children.append(E(SAML, "AttributeStatement", [], attributes))
    attrs = [(None, "ID", assertion_id), (None, "Version", "2.0"),
             (None, "IssueInstant", "2026-03-01T10:00:00Z")]
    decls = []
    if rng.random() < 0.3:
        decls.append((st.prefix[XS], XS))
    if rng.random() < 0.15:
        decls.append((st.prefix[UNUSED], UNUSED))
    return E(SAML, "Assertion", attrs, children, decls)


def place_signature(rng, element, signature):
    where = pick(rng, [("after-issuer", 60), ("first", 15), ("last", 15), ("middle", 10)])
    index = {"after-issuer": 1, "first": 0, "last": len(element.children),
             "middle": min(2, len(element.children))}[where]
    element.children.insert(index, signature)


def base_document(rng, keys, counter, number):
    st = Style(rng)
    response_id = "_r%d%s" % (number, "".join(rng.choice("0123456789abcdef") for _ in range(8)))
    assertion_id = "_a%d%s" % (number, "".join(rng.choice("0123456789abcdef") for _ in range(8)))
    name_id = rng.choice(NAME_IDS)
    target = pick(rng, [("assertion", 50), ("response", 30), ("both", 20)])
    a = assertion(rng, st, assertion_id, name_id)
    root_attrs = [(None, "ID", response_id), (None, "Version", "2.0"),
                  (None, "IssueInstant", "2026-03-01T10:00:00Z"), (None, "Destination", ACS)]
    if rng.random() < 0.2:
        root_attrs.append((XML, "lang", "en"))
    if rng.random() < 0.1:
        root_attrs.append((XML, "base", "https://idp.example.com/saml/"))
    if rng.random() < 0.2:
        root_attrs.append((None, "InResponseTo", "_request"))
    root_decls = []
    for ns in (SAML, XS, XSI, EXT, UNUSED, DS):
        if st.prefix[ns] and rng.random() < 0.5:
            root_decls.append((st.prefix[ns], ns))
    root = E(SAMLP, "Response", root_attrs, [
        E(SAML, "Issuer", [], [Text(ENTITY)]),
        E(SAMLP, "Status", [], [E(SAMLP, "StatusCode", [
            (None, "Value", "urn:oasis:names:tc:SAML:2.0:status:Success")])]),
        a,
    ], root_decls)
    specs = []
    if target in ("assertion", "both"):
        spec = SignatureSpec(rng, st, assertion_id, counter)
        place_signature(rng, a, spec.element(keys))
        specs.append(spec)
    if target in ("response", "both"):
        spec = SignatureSpec(rng, st, response_id, counter)
        place_signature(rng, root, spec.element(keys))
        specs.append(spec)
    declaration = rng.choice(["", '<?xml version="1.0" encoding="UTF-8"?>\n', "<?xml version='1.0'?>"])
    prolog = rng.choice(["", "", "<!-- from the identity provider -->\n"])
    text = declaration + prolog + render(root, {}, st)
    return text, specs, st


def sign(text, specs, keys):
    """Signs the templates in `text` in order (inner first), and returns the text with
    the values in place: only the placeholders change, so every reference and white
    space stays as written."""
    root = etree.fromstring(text.encode())
    xmlsec.tree.add_ids(root, ["ID"])
    placeholders = {}
    for el in root.iter(q(DS, "DigestValue"), q(DS, "SignatureValue")):
        if el.text and el.text.startswith("PLACEHOLDER-"):
            placeholders[el.text] = el
            el.text = None
    for spec in specs:
        target = root.xpath("//*[@ID=$id]", id=spec.target_id)[0]
        signature = next(c for c in target if c.tag == q(DS, "Signature"))
        ctx = xmlsec.SignatureContext()
        ctx.key = Keys.private({"rsa": keys.rsa, "ec": keys.ec, "other": keys.other}[spec.key])
        ctx.sign(signature)
    for placeholder, el in placeholders.items():
        text = text.replace(placeholder, el.text or "")
    return text


# ---------------------------------------------------------------------------------------
# The judge: xmlsec1 for the cryptography, digests and canonicalization; the profile
# rules of `dsig::verify_enveloped` for the rest

def parse(text):
    parser = etree.XMLParser(remove_blank_text=False, resolve_entities=True, huge_tree=False)
    return etree.fromstring(text.encode(), parser)


def path_of(el):
    path = []
    while el.getparent() is not None:
        parent = el.getparent()
        path.append([c for c in parent if isinstance(c.tag, str)].index(el))
        el = parent
    return list(reversed(path))


def at_path(root, path):
    el = root
    for i in path:
        el = [c for c in el if isinstance(c.tag, str)][i]
    return el


def xmlsec_verifies(text, path, key, policy):
    root = parse(text)
    xmlsec.tree.add_ids(root, ["ID"])
    signature = [c for c in at_path(root, path) if c.tag == q(DS, "Signature")][0]
    ctx = xmlsec.SignatureContext()
    ctx.key = key
    if policy:
        for t in POLICY_SIGNATURE:
            ctx.enable_signature_transform(t)
        for t in POLICY_REFERENCE:
            ctx.enable_reference_transform(t)
    try:
        ctx.verify(signature)
        return True
    except xmlsec.Error:
        return False


def profile(root, el):
    """What `verify_enveloped` asks beyond a valid signature (SAML core 5.4, and this
    crate's narrowing of it): one signature, one reference, to the element that
    carries the signature by its ID, unique in the document; the enveloped-signature
    transform first, then at most one canonicalization."""
    problems = []
    signatures = [c for c in el if c.tag == q(DS, "Signature")]
    if len(signatures) != 1:
        return ["more than one signature"]
    ids = [e.get("ID") for e in root.iter() if isinstance(e.tag, str) and e.get("ID") is not None]
    if len(ids) != len(set(ids)):
        problems.append("duplicate IDs")
    signed_info = signatures[0].findall(q(DS, "SignedInfo"))
    references = signed_info[0].findall(q(DS, "Reference")) if len(signed_info) == 1 else []
    if len(references) != 1:
        return problems + ["not exactly one reference"]
    if not el.get("ID") or references[0].get("URI") != "#" + el.get("ID"):
        problems.append("the reference is not to the element carrying the signature")
    transforms = [t.get("Algorithm") for t in references[0].iterfind(
        q(DS, "Transforms") + "/" + q(DS, "Transform"))]
    if not transforms or transforms[0] != ENVELOPED:
        problems.append("the enveloped-signature transform is not first")
    elif len(transforms) > 2 or any(t not in C14NS for t in transforms[1:]):
        problems.append("transforms beyond one canonicalization")
    return problems


def judge_element(text, root, el, keys):
    signatures = [c for c in el if c.tag == q(DS, "Signature")]
    result = {"path": path_of(el), "name": etree.QName(el).localname}
    if not signatures:
        result["state"] = "absent"
        return result
    problems = profile(root, el)
    raw = policy = False
    if len(signatures) == 1:
        method = signatures[0].find(q(DS, "SignedInfo") + "/" + q(DS, "SignatureMethod"))
        which = "ec" if method is not None and "ecdsa" in (method.get("Algorithm") or "") else "rsa"
        key = keys.public(which)
        raw = xmlsec_verifies(text, result["path"], key, False)
        policy = raw and xmlsec_verifies(text, result["path"], key, True)
    result["xmlsec"] = raw
    result["xmlsec_policy"] = policy
    # xmlsec1 splits a PrefixList at each single space, so a run of spaces, or one in
    # front, gives it an empty prefix, which libxml2 takes for the default namespace;
    # and a tab or line break separates nothing for it. The list is white-space
    # separated (XML Schema NMTOKENS), as the crate reads it. Where the two readings
    # differ, xmlsec1 is no judge of the crate's verdict.
    lists = [e.get("PrefixList") or "" for e in signatures[0].iter(q(EC, "InclusiveNamespaces"))
             if e.getparent() is not None and e.getparent().getparent() is not None
             and e.getparent().getparent().tag in (q(DS, "SignedInfo"), q(DS, "Transforms"))]
    if any(v.split(" ") != v.split() for v in lists):
        result["known_difference"] = "prefix list"
    # Canonical XML 1.1 gives the top element of a subset the xml:base its omitted
    # ancestors make up; the crate does not, so such a signature does not verify here.
    c14n11 = any(e.get("Algorithm") in (C14N11, C14N11_COMMENTS) for e in signatures[0].iter()
                 if isinstance(e.tag, str))
    if c14n11 and any(a.get(q(XML, "base")) is not None for a in [el] + list(el.iterancestors())):
        result["known_difference"] = "xml:base"
    result["profile"] = problems
    result["state"] = "valid" if policy and not problems else "invalid"
    return result


def direct_text(el):
    return "".join(el.xpath("text()"))


def judge_response(root, elements):
    """`read_response`'s combination of the signatures (everything else about the
    generated responses is right), and then what the assertion says."""
    if root.tag != q(SAMLP, "Response"):
        return {"accepted": False}
    assertions = [c for c in root if c.tag == q(SAML, "Assertion")]
    if len(assertions) != 1:
        return {"accepted": False}
    state = {tuple(e["path"]): e["state"] for e in elements}
    mine, theirs = state[()], state[tuple(path_of(assertions[0]))]
    if "invalid" in (mine, theirs) or "valid" not in (mine, theirs):
        return {"accepted": False}
    a = assertions[0]
    attributes = []
    for statement in a.findall(q(SAML, "AttributeStatement")):
        for attribute in statement.findall(q(SAML, "Attribute")):
            name = attribute.get("Name") or ""
            if not name:
                continue
            values = [direct_text(v) for v in attribute.findall(q(SAML, "AttributeValue"))]
            for entry in attributes:
                if entry[0] == name:
                    entry[1].extend(values)
                    break
            else:
                attributes.append([name, values])
    name_id = direct_text(a.find(q(SAML, "Subject") + "/" + q(SAML, "NameID")))
    return {"accepted": True, "name_id": name_id, "attributes": attributes}


FILTER2 = "http://www.w3.org/2002/06/xmldsig-filter2"
PROBE = "difftest-probe"


def c14n_probes(text, root, rng, st):
    """Exclusive canonical forms of some elements, with and without comments and
    inclusive prefixes, of whole subtrees and of subtrees without their signature.

    libxml2 canonicalizes the very node set here: a signature added to the document
    references the whole document, narrows it to the node set with XPath Filter 2.0
    (the element's subtree, less its signature's), canonicalizes it, and xmlsec1
    digests the result (SHA-256). lxml's own `tostring(method="c14n", exclusive=True)`
    of the element is compared too and given where it differs: it canonicalizes a copy
    of the element as a document of its own, which is not the same node set (an
    in-scope default namespace that `#default` names is not rendered)."""
    elements = [e for e in root.iter() if isinstance(e.tag, str)]
    chosen = rng.sample(elements, min(len(elements), 4))
    chosen += [e for e in elements if e.tag in (q(SAMLP, "Response"), q(SAML, "Assertion"),
                                                 q(DS, "SignedInfo"))]
    prefixes = [p for p in (st.prefix[XS], st.prefix[XSI], st.prefix[SAML], st.prefix[SAMLP],
                            st.prefix[DS], "nothere") if p] + ["#default"]
    probes = []
    for el in chosen:
        probes.append({
            "path": path_of(el),
            "comments": rng.random() < 0.3,
            "prefixes": rng.sample(prefixes, rng.randint(0, 2)) if rng.random() < 0.5 else [],
            "omit": any(c.tag == q(DS, "Signature") for c in el) and rng.random() < 0.6,
        })

    fresh = parse(text)
    signature = etree.SubElement(fresh, q(DS, "Signature"), nsmap={"ds": DS})
    signature.set("Id", PROBE)
    signed_info = etree.SubElement(signature, q(DS, "SignedInfo"))
    etree.SubElement(signed_info, q(DS, "CanonicalizationMethod"), Algorithm=EXC)
    etree.SubElement(signed_info, q(DS, "SignatureMethod"), Algorithm=DS + "hmac-sha1")
    for probe in probes:
        apex = "/*" + "".join("/*[%d]" % (i + 1) for i in probe["path"])
        filters = [("intersect", apex)]
        if probe["omit"]:
            filters.append(("subtract", apex + "/*[local-name()='Signature' and "
                                               "namespace-uri()='%s'][1]" % DS))
        filters.append(("subtract", "//*[@Id='%s']" % PROBE))
        # A same-document reference to the whole document: "" leaves comments out,
        # "#xpointer(/)" keeps them.
        reference = etree.SubElement(signed_info, q(DS, "Reference"),
                                     URI="#xpointer(/)" if probe["comments"] else "")
        transforms = etree.SubElement(reference, q(DS, "Transforms"))
        narrow = etree.SubElement(transforms, q(DS, "Transform"), Algorithm=FILTER2)
        for kind, expression in filters:
            etree.SubElement(narrow, q(FILTER2, "XPath"), nsmap={"f": FILTER2},
                             Filter=kind).text = expression
        c14n = etree.SubElement(transforms, q(DS, "Transform"),
                                Algorithm=EXC_COMMENTS if probe["comments"] else EXC)
        if probe["prefixes"]:
            etree.SubElement(c14n, q(EC, "InclusiveNamespaces"), nsmap={"ec": EC},
                             PrefixList=" ".join(probe["prefixes"]))
        etree.SubElement(reference, q(DS, "DigestMethod"), Algorithm=SHA256)
        etree.SubElement(reference, q(DS, "DigestValue"))
    etree.SubElement(signature, q(DS, "SignatureValue"))
    ctx = xmlsec.SignatureContext()
    ctx.key = xmlsec.Key.from_binary_data(xmlsec.KeyData.HMAC, b"probe")
    ctx.sign(signature)
    for probe, digest in zip(probes, signed_info.iter(q(DS, "DigestValue"))):
        probe["sha256"] = digest.text
        target = at_path(parse(text), probe["path"])
        if probe["omit"]:
            remove_keeping_tail([c for c in target if c.tag == q(DS, "Signature")][0])
        alone = etree.tostring(target, method="c14n", exclusive=True,
                               with_comments=probe["comments"],
                               inclusive_ns_prefixes=probe["prefixes"] or None)
        if base64.b64encode(hashlib.sha256(alone).digest()).decode() != probe["sha256"]:
            probe["lxml"] = alone.decode()
    return probes


# ---------------------------------------------------------------------------------------
# Alterations of a signed document. Each returns the new text, or None where it does
# not apply. Those named "keeps_..." are meant to leave the signatures valid, the
# others to break one; either way the judge, not the name, decides what is expected.

NAME_ID_RE = re.compile(r"(<(?:[\w.-]+:)?NameID\b[^>]*>)([^<&]*)(</)")
ROOT_TAG_RE = re.compile(r"<(?!\?|!)[^>]*>")


def tree_edit(edit):
    def alteration(text, case, rng):
        if "<!DOCTYPE" in text:
            return None
        root = parse(text)
        if edit(root, case, rng) is False:
            return None
        return etree.tostring(root, encoding="unicode")
    alteration.__name__ = edit.__name__
    return alteration


def signed_elements(root):
    return [e for e in root.iter(q(SAMLP, "Response"), q(SAML, "Assertion"))
            if any(c.tag == q(DS, "Signature") for c in e)]


def signature_of(el):
    return [c for c in el if c.tag == q(DS, "Signature")][0]


def remove_keeping_tail(el):
    parent, previous = el.getparent(), el.getprevious()
    if previous is not None:
        previous.tail = (previous.tail or "") + (el.tail or "")
    else:
        parent.text = (parent.text or "") + (el.tail or "")
    parent.remove(el)


def name_id_element(root):
    return root.find(".//" + q(SAML, "NameID"))


@tree_edit
def alter_name_id(root, case, rng):
    n = name_id_element(root)
    n.text = (n.text or "") + rng.choice(["x", ".evil", " "])


@tree_edit
def alter_attribute_value(root, case, rng):
    values = list(root.iter(q(SAML, "AttributeValue")))
    if not values:
        return False
    rng.choice(values).text = "admins"


@tree_edit
def alter_audience(root, case, rng):
    root.find(".//" + q(SAML, "Audience")).text = "urn:amazon:webservices "


@tree_edit
def keeps_alter_unsigned(root, case, rng):
    if signed_elements(root) == [root] or root in signed_elements(root):
        return False
    root.set("IssueInstant", "2026-03-01T10:00:01Z")


@tree_edit
def add_white_space_node(root, case, rng):
    subject = root.find(".//" + q(SAML, "Subject"))
    subject.tail = (subject.tail or "") + " "


@tree_edit
def keeps_move_signature_within(root, case, rng):
    el = rng.choice(signed_elements(root))
    signature = signature_of(el)
    remove_keeping_tail(signature)
    signature.tail = None
    el.append(signature)


@tree_edit
def move_signature_out_of_assertion(root, case, rng):
    a = root.find(q(SAML, "Assertion"))
    if a is None or not any(c.tag == q(DS, "Signature") for c in a):
        return False
    signature = signature_of(a)
    remove_keeping_tail(signature)
    signature.tail = None
    root.insert(1, signature)


@tree_edit
def move_signature_into_assertion(root, case, rng):
    a = root.find(q(SAML, "Assertion"))
    if a is None or not any(c.tag == q(DS, "Signature") for c in root):
        return False
    signature = signature_of(root)
    remove_keeping_tail(signature)
    signature.tail = None
    a.insert(1, signature)


def forged_copy(a, new_id):
    forged = etree.fromstring(etree.tostring(a))
    for s in [c for c in forged if c.tag == q(DS, "Signature")]:
        remove_keeping_tail(s)
    forged.find(".//" + q(SAML, "NameID")).text = "mallory@example.com"
    if new_id is not None:
        forged.set("ID", new_id)
    forged.tail = None
    return forged


def extensions(root):
    """An `Extensions` element that declares nothing new (a declaration would change
    what inclusive canonicalization makes of the elements moved into it)."""
    return etree.SubElement(root, q(SAMLP, "Extensions"))


@tree_edit
def wrap_in_extensions_beside_forgery(root, case, rng):
    a = root.find(q(SAML, "Assertion"))
    forged = forged_copy(a, "_evil")
    ext = extensions(root)
    root.replace(a, ext)
    ext.append(a)
    ext.addnext(forged)


@tree_edit
def wrap_forgery_with_same_id_after(root, case, rng):
    a = root.find(q(SAML, "Assertion"))
    forged = forged_copy(a, None)
    ext = extensions(root)
    root.replace(a, ext)
    ext.append(a)
    ext.addnext(forged)


@tree_edit
def wrap_forgery_with_same_id_before(root, case, rng):
    a = root.find(q(SAML, "Assertion"))
    forged = forged_copy(a, None)
    ext = extensions(root)
    root.replace(a, forged)
    forged.addnext(ext)
    ext.append(a)


@tree_edit
def wrap_inside_forgery(root, case, rng):
    a = root.find(q(SAML, "Assertion"))
    forged = forged_copy(a, "_evil")
    root.replace(a, forged)
    advice = etree.SubElement(forged, q(SAML, "Advice"))
    advice.append(a)


@tree_edit
def wrap_response(root, case, rng):
    if not any(c.tag == q(DS, "Signature") for c in root):
        return False
    original = etree.fromstring(etree.tostring(root))
    for s in [c for c in root if c.tag == q(DS, "Signature")]:
        remove_keeping_tail(s)
    root.set("ID", "_outer")
    a = root.find(q(SAML, "Assertion"))
    root.replace(a, forged_copy(a, "_evil"))
    ext = extensions(root)
    root.insert(1, ext)
    ext.append(original)


@tree_edit
def duplicate_id_after(root, case, rng):
    el = rng.choice(signed_elements(root))
    extra = etree.SubElement(root, q(EXT, "x"))
    extra.set("ID", el.get("ID"))


@tree_edit
def duplicate_id_before(root, case, rng):
    el = rng.choice(signed_elements(root))
    extra = etree.Element(q(EXT, "x"))
    extra.set("ID", el.get("ID"))
    root.insert(0, extra)


@tree_edit
def second_signature(root, case, rng):
    el = rng.choice(signed_elements(root))
    signature = signature_of(el)
    signature.addnext(etree.fromstring(etree.tostring(signature, with_tail=False)))


@tree_edit
def remove_signature(root, case, rng):
    remove_keeping_tail(signature_of(rng.choice(signed_elements(root))))


def base64_alter(text, rng):
    chars = [c for c in text]
    positions = [i for i, c in enumerate(chars) if c.isalnum()]
    i = rng.choice(positions[:-2] or positions)
    chars[i] = "B" if chars[i] == "A" else "A"
    return "".join(chars)


@tree_edit
def alter_digest(root, case, rng):
    dv = signature_of(rng.choice(signed_elements(root))).find(".//" + q(DS, "DigestValue"))
    dv.text = base64_alter(dv.text, rng)


@tree_edit
def alter_signature_value(root, case, rng):
    sv = signature_of(rng.choice(signed_elements(root))).find(q(DS, "SignatureValue"))
    sv.text = base64_alter(sv.text, rng)


@tree_edit
def keeps_break_signature_value_lines(root, case, rng):
    outer = signed_elements(root)[0]
    sv = signature_of(outer).find(q(DS, "SignatureValue"))
    text = sv.text.replace("\n", "")
    sv.text = "\n" + "\n".join(text[i:i + 40] for i in range(0, len(text), 40)) + "\n"


@tree_edit
def alter_reference_uri(root, case, rng):
    reference = signature_of(rng.choice(signed_elements(root))).find(".//" + q(DS, "Reference"))
    reference.set("URI", "#" + ("_evil" if rng.random() < 0.5 else root.get("ID")))


@tree_edit
def alter_signed_id(root, case, rng):
    rng.choice(signed_elements(root)).set("ID", "_renamed")


@tree_edit
def comment_in_signed_info(root, case, rng):
    si = signature_of(rng.choice(signed_elements(root))).find(q(DS, "SignedInfo"))
    si.insert(1, etree.Comment(" added "))


@tree_edit
def drop_c14n_transform(root, case, rng):
    transforms = signature_of(rng.choice(signed_elements(root))).find(".//" + q(DS, "Transforms"))
    if len(transforms) < 2:
        return False
    transforms.remove(transforms[-1])


@tree_edit
def other_signature_namespace(root, case, rng):
    el = rng.choice(signed_elements(root))
    signature = signature_of(el)
    for e in signature.iter():
        if isinstance(e.tag, str) and e.tag.startswith("{%s}" % DS):
            e.tag = q(DS + "x", etree.QName(e).localname)


def c14n_before_enveloped(text, case, rng):
    """The reference's transforms in the other order, the signature made again over the
    changed SignedInfo here (xmlsec1 will not sign this order). The canonicalization
    then comes first and turns the element into octets, which the enveloped-signature
    transform cannot take: the signature never verifies."""
    if "<!DOCTYPE" in text:
        return None
    root = parse(text)
    el = signed_elements(root)[0]
    signature = signature_of(el)
    si = signature.find(q(DS, "SignedInfo"))
    method = si.find(q(DS, "SignatureMethod")).get("Algorithm")
    c14n = si.find(q(DS, "CanonicalizationMethod"))
    hashing = {RSA_SHA256: hashes.SHA256(), RSA_SHA384: hashes.SHA384(),
               RSA_SHA512: hashes.SHA512()}.get(method)
    transforms = si.find(".//" + q(DS, "Transforms"))
    key = case["keys"].rsa
    if hashing is None or c14n.get("Algorithm") not in (EXC, EXC_COMMENTS) or len(transforms) != 2:
        return None
    first = transforms[0]
    transforms.remove(first)
    transforms.append(first)
    inclusive = c14n.find(q(EC, "InclusiveNamespaces"))
    prefixes = (inclusive.get("PrefixList") or "").split() if inclusive is not None else None
    octets = etree.tostring(si, method="c14n", exclusive=True,
                            with_comments=c14n.get("Algorithm") == EXC_COMMENTS,
                            inclusive_ns_prefixes=prefixes or None)
    value = key.sign(octets, padding.PKCS1v15(), hashing)
    signature.find(q(DS, "SignatureValue")).text = base64.b64encode(value).decode()
    return etree.tostring(root, encoding="unicode")


def on_name_id(edit):
    def alteration(text, case, rng):
        m = NAME_ID_RE.search(text)
        if not m or not m.group(2) or "\r" in m.group(2):
            return None
        new = edit(m.group(2), rng)
        if new is None:
            return None
        return text[:m.start(2)] + new + text[m.end(2):]
    alteration.__name__ = edit.__name__
    return alteration


@on_name_id
def keeps_char_reference(content, rng):
    i = rng.randrange(len(content))
    return content[:i] + "&#x%X;" % ord(content[i]) + content[i + 1:]


@on_name_id
def keeps_cdata(content, rng):
    return "<![CDATA[" + content + "]]>" if "]]>" not in content else None


@on_name_id
def keeps_comment_in_value(content, rng):
    i = rng.randrange(len(content) + 1)
    return content[:i] + "<!-- -->" + content[i:]


@on_name_id
def comment_then_more_text(content, rng):
    return content + "<!---->.evil"


@on_name_id
def pi_in_value(content, rng):
    i = rng.randrange(len(content) + 1)
    return content[:i] + "<?x y?>" + content[i:]


def doctype_entity(text, case, rng):
    m = NAME_ID_RE.search(text)
    if not m or not m.group(2) or "\r" in m.group(2) or '"' in m.group(2) or "<!DOCTYPE" in text:
        return None
    body = text[:m.start(2)] + "&e;" + text[m.end(2):]
    if body.startswith("<?xml"):
        end = body.index("?>") + 2
        head, body = body[:end], body[end:]
    else:
        head = ""
    root_name = re.match(r"\s*(?:<!--.*?-->\s*)?<([^\s>/]+)", body, re.S).group(1)
    return head + '<!DOCTYPE %s [<!ENTITY e "%s">]>' % (root_name, m.group(2)) + body


def on_tag(local_names, edit):
    def alteration(text, case, rng):
        tags = [m for m in ROOT_TAG_RE.finditer(text)
                if re.match(r"<(?:[\w.-]+:)?(%s)[\s/>]" % "|".join(local_names), m.group(0))]
        if not tags:
            return None
        m = rng.choice(tags)
        new = edit(m.group(0), rng)
        if new is None:
            return None
        return text[:m.start()] + new + text[m.end():]
    alteration.__name__ = edit.__name__
    return alteration


ATTR_RE = re.compile(r"""(\s+)([^\s=/>]+)(\s*=\s*)("[^"]*"|'[^']*')""")


TAG_RE = re.compile(r"""<[^\s/>]+(?:\s+[^\s=/>]+\s*=\s*(?:"[^"]*"|'[^']*'))*\s*/?>""")


def split_tag(tag):
    if not TAG_RE.fullmatch(tag):
        raise ValueError("a tag with > in an attribute value")
    name = re.match(r"<[^\s/>]+", tag).group(0)
    end = "/>" if tag.endswith("/>") else ">"
    return name, ATTR_RE.findall(tag), end


def keeps_reorder_attributes(tag, rng):
    name, attrs, end = split_tag(tag)
    if len(attrs) < 2:
        return None
    attrs = attrs[::-1] if rng.random() < 0.5 else attrs[1:] + attrs[:1]
    return name + "".join(" " + a[1] + "=" + a[3] for a in attrs) + end


def keeps_requote(tag, rng):
    name, attrs, end = split_tag(tag)
    out = []
    for _, n, _, v in attrs:
        inner = v[1:-1]
        if v[0] == '"' and "'" not in inner:
            v = "'" + inner + "'"
        elif v[0] == "'" and '"' not in inner:
            v = '"' + inner + '"'
        out.append("\n  " + n + " = " + v)
    return name + "".join(out) + " " + end


def prefix_of(tag):
    name = re.match(r"<([^\s/>]+)", tag).group(1)
    return name.split(":")[0] if ":" in name else ""


def declared(tag):
    return {n[6:] if n.startswith("xmlns:") else "": v[1:-1]
            for _, n, _, v in ATTR_RE.findall(tag) if n == "xmlns" or n.startswith("xmlns:")}


def insert_attribute(tag, attribute):
    name = re.match(r"<[^\s/>]+", tag).group(0)
    return name + " " + attribute + tag[len(name):]


def keeps_redundant_declaration(tag, rng):
    # The same binding again, on a tag whose own prefix is already bound that way.
    p = prefix_of(tag)
    if p in declared(tag):
        return None
    uri = SAML if "NameID" in tag or "Audience" in tag else None
    if uri is None:
        return None
    return insert_attribute(tag, ('xmlns:%s="%s"' % (p, uri)) if p else 'xmlns="%s"' % uri)


def rebind_prefix(tag, rng):
    p = prefix_of(tag)
    if p in declared(tag):
        return None
    return insert_attribute(tag, ('xmlns:%s="urn:other"' % p) if p else 'xmlns="urn:other"')


def unused_declaration(tag, rng):
    if "xmlns:zz=" in tag:
        return None
    return insert_attribute(tag, 'xmlns:zz="urn:zz"')


def xml_lang(tag, rng):
    if "xml:lang" in tag:
        return None
    return insert_attribute(tag, 'xml:lang="fr"')


def drop_unused_xs(tag, rng):
    # xs is only ever named inside attribute values (xsi:type="xs:string").
    new = re.sub(r"""\s+xmlns:xs\s*=\s*("[^"]*"|'[^']*')""", "", tag)
    return new if new != tag else None


def root_only(edit):
    def alteration(text, case, rng):
        m = re.search(r"<(?!\?|!)[^>]*>", text)
        new = edit(m.group(0), rng)
        if new is None:
            return None
        return text[:m.start()] + new + text[m.end():]
    alteration.__name__ = edit.__name__ + "_on_root"
    return alteration


ALTERATIONS = [
    alter_name_id, alter_attribute_value, alter_audience, keeps_alter_unsigned,
    add_white_space_node, keeps_move_signature_within, move_signature_out_of_assertion,
    move_signature_into_assertion, wrap_in_extensions_beside_forgery,
    wrap_forgery_with_same_id_after, wrap_forgery_with_same_id_before, wrap_inside_forgery,
    wrap_response, duplicate_id_after, duplicate_id_before, second_signature, remove_signature,
    alter_digest, alter_signature_value, keeps_break_signature_value_lines, alter_reference_uri,
    alter_signed_id, comment_in_signed_info, drop_c14n_transform, other_signature_namespace,
    c14n_before_enveloped,
    keeps_char_reference, keeps_cdata, keeps_comment_in_value, comment_then_more_text,
    pi_in_value, doctype_entity,
    on_tag(["NameID", "Assertion", "Response", "Subject", "Reference", "SignedInfo"],
           keeps_reorder_attributes),
    on_tag(["NameID", "Assertion", "Conditions", "Audience", "Transform"], keeps_requote),
    on_tag(["NameID", "Audience"], keeps_redundant_declaration),
    on_tag(["NameID", "Subject"], rebind_prefix),
    on_tag(["Assertion", "NameID"], unused_declaration),
    root_only(unused_declaration), root_only(xml_lang), root_only(drop_unused_xs),
]


# ---------------------------------------------------------------------------------------


def judge(text, keys, rng, st, c14n_only):
    case = {"xml": text}
    try:
        root = parse(text)
    except etree.XMLSyntaxError as e:
        case["parse_error"] = str(e)
        return case
    case["doctype"] = root.getroottree().docinfo.internalDTD is not None
    if c14n_only:
        if not case["doctype"]:
            case["c14n"] = c14n_probes(text, root, rng, st)
        return case
    elements = [judge_element(text, root, el, keys)
                for el in root.iter(q(SAMLP, "Response"), q(SAML, "Assertion"))]
    case["elements"] = elements
    case["response"] = judge_response(root, elements)
    return case


def main():
    request = json.load(sys.stdin)
    seed, c14n_only = request["seed"], request.get("c14n_only", False)
    keys = Keys()
    counter = Counter()
    cases = []
    for number in range(request["documents"]):
        # One generator for each document and for each alteration, seeded by name: the
        # keys are new in every run, and what is drawn after something derived from
        # them (a certificate, a signature value) must not change what comes next.
        def rng(*what):
            return random.Random("/".join(map(str, (seed, number) + what)))

        template, specs, st = base_document(rng(), keys, counter, number)
        signed = sign(template, specs, keys)
        base = judge(signed, keys, rng("judge"), st, c14n_only)
        base["name"] = "document %d" % number
        base["signatures"] = [spec.summary for spec in specs]
        cases.append(base)
        for alteration in rng("alterations").sample(ALTERATIONS, request["alterations"]):
            try:
                altered = alteration(signed, {"keys": keys}, rng(alteration.__name__))
            except (IndexError, AttributeError, ValueError):
                altered = None  # not applicable to this document
            if altered is None or altered == signed:
                continue
            case = judge(altered, keys, rng(alteration.__name__, "judge"), st, c14n_only)
            case["name"] = "document %d, %s" % (number, alteration.__name__)
            cases.append(case)
    versions = {"xmlsec": ".".join(map(str, xmlsec.get_libxmlsec_version())),
                "libxml2": ".".join(map(str, etree.LIBXML_VERSION)),
                "lxml": etree.__version__}
    json.dump({"versions": versions, "certificates": [keys.der("rsa"), keys.der("ec")],
               "cases": cases}, sys.stdout, ensure_ascii=False)


if __name__ == "__main__":
    main()
