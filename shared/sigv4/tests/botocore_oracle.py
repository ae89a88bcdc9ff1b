#!/usr/bin/env python3
"""The other side of `differential.rs`: botocore signs the requests the test made up.

Reads `{"requests": [...]}` on stdin, each request a method, host, raw path, raw query
(or null), headers (name and value, in order, names repeated for repeated headers),
hex body, credentials, service, region, signing time and whether to sign it with
query parameters (a presigned URL) instead of the `Authorization` header. Writes
`{"botocore": version, "signed": [...]}`: for each request, in order, the URL and the
headers botocore leaves on it (with the `Host` header the HTTP client sends), and the
canonical request and string to sign it computed.

The clock is pinned by patching `botocore.auth.get_current_datetime`, which is what
`add_auth` stamps the request with.
"""

import datetime
import json
import sys
from unittest import mock

import botocore
import botocore.auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials


def capturing(signer):
    class Capturing(signer):
        def canonical_request(self, request):
            self.captured_canonical = super().canonical_request(request)
            return self.captured_canonical

        def string_to_sign(self, request, canonical_request):
            self.captured_to_sign = super().string_to_sign(request, canonical_request)
            return self.captured_to_sign

    return Capturing


HEADER_AUTH = capturing(botocore.auth.SigV4Auth)
QUERY_AUTH = capturing(botocore.auth.SigV4QueryAuth)


def sign(spec):
    url = "http://" + spec["host"] + spec["path"]
    if spec["query"] is not None:
        url += "?" + spec["query"]
    request = AWSRequest(method=spec["method"], url=url, data=bytes.fromhex(spec["body"]))
    for name, value in spec["headers"]:
        request.headers[name] = value  # appends: a repeated name stays repeated
    credentials = Credentials(spec["access_key_id"], spec["secret"], spec["token"])
    if spec["presign"]:
        auth = QUERY_AUTH(credentials, spec["service"], spec["region"], expires=300)
    else:
        auth = HEADER_AUTH(credentials, spec["service"], spec["region"])
    when = datetime.datetime.strptime(spec["timestamp"], "%Y%m%dT%H%M%SZ")
    with mock.patch.object(botocore.auth, "get_current_datetime", return_value=when):
        auth.add_auth(request)
    headers = [[k, v if isinstance(v, str) else v.decode()] for k, v in request.headers.items()]
    if not any(k.lower() == "host" for k, _ in headers):
        headers.append(["Host", botocore.auth._host_from_url(request.url)])
    return {"url": request.url, "headers": headers,
            "canonical_request": auth.captured_canonical,
            "string_to_sign": auth.captured_to_sign}


def main():
    requests = json.load(sys.stdin)["requests"]
    json.dump({"botocore": botocore.__version__, "signed": [sign(r) for r in requests]},
              sys.stdout)


if __name__ == "__main__":
    main()
