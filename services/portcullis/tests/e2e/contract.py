"""Checks every answer boto3 receives against the Cognito models in
services/gateway/contracts (user pools and identity pools): each member of a response is one the operation's output
shape declares, with the declared type and enum value, and every required member is
present (lengths and ranges are input constraints: Cognito's own answers break some,
e.g. `phone_number_verified` is longer than a custom attribute name may be); each error's `__type` is one the operation declares (or a
protocol-level one). The e2e scripts call `install(client, ...)`; a violation fails the
call that received it, naming the path of the offending member."""

import json
import os

HERE = os.path.dirname(os.path.abspath(__file__))
CONTRACTS = os.path.join(HERE, "..", "..", "..", "gateway", "contracts")


def _load(name):
    with open(os.path.join(CONTRACTS, name)) as f:
        return json.load(f)


# By botocore service id (the event name's suffix) and by boto3 client name.
MODELS = {
    "cognito-identity-provider": _load("cognito-idp.service-2.json"),
    "cognito-identity": _load("cognito-identity.service-2.json"),
}
MODEL = MODELS["cognito-identity-provider"]
SHAPES = MODEL["shapes"]

# Errors any operation may answer: the protocol's own, and the service's generic ones.
GENERIC_ERRORS = {
    "SerializationException", "UnknownOperationException", "UnrecognizedClientException",
    "InvalidSignatureException", "IncompleteSignatureException",
    "MissingAuthenticationTokenException", "InternalErrorException",
    "UnsupportedOperationException",
    # HTTP 503 while a dependency is down; AWS front ends answer it for any operation
    # and every SDK retries it.
    "ServiceUnavailableException",
}

checked = {"responses": 0, "errors": 0}
# Member names seen in answers, by structure shape.
returned = {}


class ContractViolation(AssertionError):
    pass


def _fail(operation, path, problem):
    raise ContractViolation(f"{operation}: {path or '<response>'}: {problem}")


def validate(operation, shape_name, value, path="", shapes=None):
    shapes = shapes or SHAPES
    shape = shapes[shape_name]
    kind = shape["type"]
    if shape.get("document"):
        # A document member (e.g. WebAuthn options) holds any JSON value.
        return
    if kind == "structure":
        if not isinstance(value, dict):
            _fail(operation, path, f"expected an object for {shape_name}")
        members = shape.get("members", {})
        returned.setdefault(shape_name, set()).update(value)
        for name, member_value in value.items():
            if name not in members:
                _fail(operation, f"{path}.{name}".lstrip("."), f"not a member of {shape_name}")
            validate(operation, members[name]["shape"], member_value, f"{path}.{name}".lstrip("."), shapes)
        for name in shape.get("required", []):
            if name not in value:
                _fail(operation, f"{path}.{name}".lstrip("."), f"required by {shape_name}, missing")
    elif kind == "list":
        if not isinstance(value, list):
            _fail(operation, path, f"expected a list for {shape_name}")
        for i, item in enumerate(value):
            validate(operation, shape["member"]["shape"], item, f"{path}[{i}]", shapes)
    elif kind == "map":
        if not isinstance(value, dict):
            _fail(operation, path, f"expected a map for {shape_name}")
        for k, v in value.items():
            validate(operation, shape["key"]["shape"], k, f"{path}<key>", shapes)
            validate(operation, shape["value"]["shape"], v, f"{path}[{k}]", shapes)
    elif kind == "string":
        if not isinstance(value, str):
            _fail(operation, path, f"expected a string for {shape_name}, got {value!r}")
        if "enum" in shape and value not in shape["enum"]:
            _fail(operation, path, f"{value!r} is not one of {shape['enum']}")
    elif kind in ("integer", "long"):
        if isinstance(value, bool) or not isinstance(value, int):
            _fail(operation, path, f"expected an integer for {shape_name}, got {value!r}")
    elif kind == "boolean":
        if not isinstance(value, bool):
            _fail(operation, path, f"expected a boolean for {shape_name}, got {value!r}")
    elif kind == "timestamp":
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            _fail(operation, path, f"expected epoch seconds for {shape_name}, got {value!r}")
    elif kind == "blob":
        if not isinstance(value, str):
            _fail(operation, path, f"expected base64 for {shape_name}")
    elif kind in ("double", "float"):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            _fail(operation, path, f"expected a number for {shape_name}")


def check(operation, status, body, model=None):
    model = model or MODEL
    op = model["operations"][operation]
    if status >= 400:
        error = body.get("__type", "").split("#")[-1]
        declared = {e["shape"] for e in op.get("errors", [])}
        if error not in declared | GENERIC_ERRORS:
            _fail(operation, "__type", f"{error} is not an error {operation} declares")
        checked["errors"] += 1
        return
    output = op.get("output", {}).get("shape")
    if output is None:
        if body not in ({}, None):
            _fail(operation, "", f"no output declared, got {body!r}")
    else:
        validate(operation, output, body, shapes=model["shapes"])
    checked["responses"] += 1


def _after_call(http_response, model, event_name="", **_):
    raw = http_response.content
    body = json.loads(raw) if raw else {}
    service = event_name.split(".")[1] if event_name.count(".") >= 2 else "cognito-identity-provider"
    check(model.name, http_response.status_code, body, MODELS.get(service, MODEL))


def assert_returned(shape_name, absent_ok=(), service="cognito-identity-provider"):
    """Every member of `shape_name` appeared in some answer this script received, except
    the ones named in `absent_ok` (each with its reason in the caller)."""
    seen = returned.get(shape_name, set())
    members = set(MODELS[service]["shapes"][shape_name].get("members", {}))
    missing = members - seen - set(absent_ok)
    if missing:
        raise ContractViolation(f"{shape_name}: never returned: {sorted(missing)}")
    unexpected = set(absent_ok) & seen
    if unexpected:
        raise ContractViolation(f"{shape_name}: returned after all, drop from absent_ok: {sorted(unexpected)}")


def install(*clients):
    for client in clients:
        for service in MODELS:
            client.meta.events.register(f"after-call.{service}", _after_call)


def _install_on_every_client():
    """Every cognito-idp client the importing script makes is checked."""
    import boto3

    make = boto3.client

    def client(service, *args, **kwargs):
        made = make(service, *args, **kwargs)
        if service in ("cognito-idp", "cognito-identity"):
            install(made)
        return made

    boto3.client = client


_install_on_every_client()
