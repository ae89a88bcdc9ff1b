"""A scripted browser for the e2e scripts: urllib with a cookie jar that shows each
answer and follows no redirect, the forms of a page, and the OAuth helpers the code
flow needs (query and fragment parameters, unverified claims, a PKCE pair)."""

import base64
import hashlib
import html.parser
import http.cookiejar
import json
import secrets
import urllib.error
import urllib.parse
import urllib.request

import jwt


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


class Answer:
    def __init__(self, status, headers, body):
        self.status, self.headers, self.body = status, headers, body

    @property
    def location(self):
        return self.headers.get("Location", "")

    def json(self):
        return json.loads(self.body)


class Browser:
    """A browser without JavaScript: keeps cookies, shows each answer, follows nothing."""

    def __init__(self):
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(self.jar), NoRedirect)

    def request(self, target, data=None, headers=None):
        body = urllib.parse.urlencode(data).encode() if isinstance(data, dict) else data
        req = urllib.request.Request(target, data=body, headers=headers or {})
        try:
            with self.opener.open(req, timeout=30) as res:
                return Answer(res.status, res.headers, res.read().decode(errors="replace"))
        except urllib.error.HTTPError as err:
            return Answer(err.code, err.headers, err.read().decode(errors="replace"))

    def cookie(self, name):
        return next((c.value for c in self.jar if c.name == name), None)


class Forms(html.parser.HTMLParser):
    """The forms of a page: action and input values."""

    def __init__(self, text):
        super().__init__()
        self.forms = []
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form":
            self.forms.append({"action": attrs.get("action"), "fields": {}})
        elif tag == "input" and self.forms:
            if attrs.get("type") == "radio" and "checked" not in attrs:
                return
            self.forms[-1]["fields"][attrs.get("name")] = attrs.get("value") or ""


def query_of(location):
    parsed = urllib.parse.urlsplit(location)
    return dict(urllib.parse.parse_qsl(parsed.query)), parsed


def fragment_of(location):
    return dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(location).fragment))


def claims(token):
    return jwt.decode(token, options={"verify_signature": False})


def pkce():
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge
