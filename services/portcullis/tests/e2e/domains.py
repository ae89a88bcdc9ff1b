"""User pool domains, resource servers, UI customization and managed login branding
through boto3, with Cognito's errors.

Usage: domains.py URL
Admin credentials come from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY. Exits non-zero
on the first failed check.
"""

import struct
import urllib.error
import urllib.request
import uuid
import zlib

import contract
from e2e_common import REGION, URL, check, expect_error, idp, raw

CERT = "arn:aws:acm:us-east-1:123456789012:certificate/0f1e2d3c-aaaa-bbbb-cccc-123456789012"


def png(width=2, height=2):
    """A real, tiny PNG."""
    def chunk(kind, data):
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))
    rows = b"".join(b"\x00" + b"\xff\x00\x00" * width for _ in range(height))
    return (b"\x89PNG\r\n\x1a\n"
            + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


def domains(admin, suffix):
    pool = admin.create_user_pool(PoolName=f"domains-{suffix}")["UserPool"]["Id"]
    other = admin.create_user_pool(PoolName=f"domains-other-{suffix}")["UserPool"]["Id"]
    prefix = f"login-{suffix}"
    custom = f"auth-{suffix}.example.com"

    created = admin.create_user_pool_domain(Domain=prefix, UserPoolId=pool)
    assert created["ManagedLoginVersion"] == 1, created
    created = admin.create_user_pool_domain(Domain=custom, UserPoolId=pool, ManagedLoginVersion=2,
                                            CustomDomainConfig={"CertificateArn": CERT})
    assert created["ManagedLoginVersion"] == 2 and created["CloudFrontDomain"], created
    described = admin.describe_user_pool(UserPoolId=pool)["UserPool"]
    assert described["Domain"] == prefix and described["CustomDomain"] == custom, described
    assert "Domain" not in admin.describe_user_pool(UserPoolId=other)["UserPool"]
    check("CreateUserPoolDomain: a prefix and a custom domain, shown by DescribeUserPool")

    d = admin.describe_user_pool_domain(Domain=prefix)["DomainDescription"]
    assert d["UserPoolId"] == pool and d["Domain"] == prefix and d["Status"] == "ACTIVE", d
    assert d["AWSAccountId"] == "000000000000" and d["Version"] == "1", d
    assert d["CloudFrontDistribution"] and d["ManagedLoginVersion"] == 1, d
    assert "CustomDomainConfig" not in d, d
    d = admin.describe_user_pool_domain(Domain=custom)["DomainDescription"]
    assert d["CustomDomainConfig"] == {"CertificateArn": CERT}, d
    assert d["ManagedLoginVersion"] == 2, d
    assert admin.describe_user_pool_domain(Domain=f"nobody-{suffix}")["DomainDescription"] == {}
    check("DescribeUserPoolDomain, and an empty description for an unknown domain")

    message = expect_error("InvalidParameterException", admin.create_user_pool_domain,
                           Domain=f"second-{suffix}", UserPoolId=pool)
    assert message == "User pool already has a domain configured.", message
    message = expect_error("InvalidParameterException", admin.create_user_pool_domain,
                           Domain=prefix, UserPoolId=other)
    assert message == "Domain already associated with another user pool.", message
    message = expect_error("InvalidParameterException", admin.create_user_pool_domain,
                           Domain=custom, UserPoolId=other, CustomDomainConfig={"CertificateArn": CERT})
    assert message == "Domain already associated with another user pool.", message
    message = expect_error("InvalidParameterException", admin.create_user_pool_domain,
                           Domain=f"my-aws-{suffix}", UserPoolId=other)
    assert message == "Domain cannot contain reserved word: aws", message
    for bad in ["Upper", "-dash", "dash-", "has.dot", "x" * 64]:
        message = expect_error("InvalidParameterException", admin.create_user_pool_domain,
                               Domain=bad, UserPoolId=other)
        assert message.startswith("The domain name contains an invalid character."), message
    expect_error("InvalidParameterException", admin.create_user_pool_domain, Domain="nodot", UserPoolId=other,
                 CustomDomainConfig={"CertificateArn": CERT})
    expect_error("InvalidParameterException", admin.create_user_pool_domain, Domain="a.example.org",
                 UserPoolId=other, CustomDomainConfig={"CertificateArn": "not-an-arn-at-all-really"})
    status, payload = raw("CreateUserPoolDomain", {"Domain": "a.example.org", "UserPoolId": other,
                                                   "CustomDomainConfig": {}})
    assert payload["__type"] == "InvalidParameterException" and "certificateArn" in payload["message"], payload
    expect_error("ResourceNotFoundException", admin.create_user_pool_domain,
                 Domain=f"free-{suffix}", UserPoolId=f"{REGION}_doesNotExist")
    check("domain errors: one of each kind per pool, unique across pools, Cognito's name rules")

    updated = admin.update_user_pool_domain(Domain=prefix, UserPoolId=pool, ManagedLoginVersion=2)
    assert updated["ManagedLoginVersion"] == 2, updated
    d = admin.describe_user_pool_domain(Domain=prefix)["DomainDescription"]
    assert d["ManagedLoginVersion"] == 2 and d["Version"] == "2", d
    new_cert = CERT.replace("0f1e2d3c", "99999999")
    admin.update_user_pool_domain(Domain=custom, UserPoolId=pool,
                                  CustomDomainConfig={"CertificateArn": new_cert})
    d = admin.describe_user_pool_domain(Domain=custom)["DomainDescription"]
    assert d["CustomDomainConfig"]["CertificateArn"] == new_cert and d["ManagedLoginVersion"] == 2, d
    expect_error("InvalidParameterException", admin.update_user_pool_domain, Domain=prefix, UserPoolId=other,
                 ManagedLoginVersion=1)
    expect_error("InvalidParameterException", admin.update_user_pool_domain, Domain=prefix, UserPoolId=pool,
                 ManagedLoginVersion=7)
    check("UpdateUserPoolDomain keeps what is not given")

    message = expect_error("InvalidParameterException", admin.delete_user_pool, UserPoolId=pool)
    assert message == "User pool cannot be deleted. It has a domain configured that should be deleted first.", message
    message = expect_error("InvalidParameterException", admin.delete_user_pool_domain, Domain=prefix,
                           UserPoolId=other)
    assert message == "No such domain or user pool exists.", message
    admin.delete_user_pool_domain(Domain=prefix, UserPoolId=pool)
    assert admin.describe_user_pool_domain(Domain=prefix)["DomainDescription"] == {}
    assert "Domain" not in admin.describe_user_pool(UserPoolId=pool)["UserPool"]
    # The freed name can go to another pool at once.
    admin.create_user_pool_domain(Domain=prefix, UserPoolId=other)
    assert admin.describe_user_pool_domain(Domain=prefix)["DomainDescription"]["UserPoolId"] == other
    expect_error("InvalidParameterException", admin.delete_user_pool, UserPoolId=pool)
    admin.delete_user_pool_domain(Domain=custom, UserPoolId=pool)
    admin.delete_user_pool(UserPoolId=pool)
    check("DeleteUserPoolDomain frees the name; DeleteUserPool waits for its domains to go")
    return other, prefix


def resource_servers(admin, suffix):
    pool = admin.create_user_pool(PoolName=f"servers-{suffix}")["UserPool"]["Id"]
    api = "https://api.example.com"
    oauth = dict(AllowedOAuthFlows=["code"], AllowedOAuthFlowsUserPoolClient=True,
                 CallbackURLs=["https://app.example.com/cb"], SupportedIdentityProviders=["COGNITO"])

    message = expect_error("ScopeDoesNotExistException", admin.create_user_pool_client, UserPoolId=pool,
                           ClientName="app", AllowedOAuthScopes=["openid", f"{api}/read"], **oauth)
    assert message == f"Invalid scope requested: {api}/read", message
    check("a custom scope is refused before its resource server exists")

    scopes = [{"ScopeName": "read", "ScopeDescription": "Read things"},
              {"ScopeName": "write", "ScopeDescription": "Write things"}]
    server = admin.create_resource_server(UserPoolId=pool, Identifier=api, Name="My API",
                                          Scopes=scopes)["ResourceServer"]
    assert server == {"UserPoolId": pool, "Identifier": api, "Name": "My API", "Scopes": scopes}, server
    assert admin.describe_resource_server(UserPoolId=pool, Identifier=api)["ResourceServer"] == server
    bare = admin.create_resource_server(UserPoolId=pool, Identifier="orders", Name="Orders")["ResourceServer"]
    assert bare["Scopes"] == [], bare
    check("CreateResourceServer / DescribeResourceServer")

    client = admin.create_user_pool_client(UserPoolId=pool, ClientName="app",
                                           AllowedOAuthScopes=["openid", f"{api}/read"],
                                           **oauth)["UserPoolClient"]
    assert f"{api}/read" in client["AllowedOAuthScopes"], client
    client_id = client["ClientId"]
    updated = admin.update_user_pool_client(UserPoolId=pool, ClientId=client_id,
                                            AllowedOAuthScopes=[f"{api}/write"], **oauth)["UserPoolClient"]
    assert updated["AllowedOAuthScopes"] == [f"{api}/write"], updated
    expect_error("ScopeDoesNotExistException", admin.update_user_pool_client, UserPoolId=pool,
                 ClientId=client_id, AllowedOAuthScopes=["orders/read"], **oauth)
    check("CreateUserPoolClient / UpdateUserPoolClient accept the pool's custom scopes")

    message = expect_error("InvalidParameterException", admin.create_resource_server, UserPoolId=pool,
                           Identifier=api, Name="Again")
    assert message == f"{api} already exists in user pool {pool}.", message
    expect_error("ResourceNotFoundException", admin.describe_resource_server, UserPoolId=pool, Identifier="none")
    expect_error("ResourceNotFoundException", admin.create_resource_server, UserPoolId=f"{REGION}_doesNotExist",
                 Identifier="x", Name="x")
    expect_error("InvalidParameterException", admin.create_resource_server, UserPoolId=pool,
                 Identifier="has space", Name="x")
    expect_error("InvalidParameterException", admin.create_resource_server, UserPoolId=pool,
                 Identifier="x", Name="bad/name")
    expect_error("InvalidParameterException", admin.create_resource_server, UserPoolId=pool, Identifier="x",
                 Name="x", Scopes=[{"ScopeName": "a/b", "ScopeDescription": "d"}])
    expect_error("InvalidParameterException", admin.create_resource_server, UserPoolId=pool, Identifier="x",
                 Name="x", Scopes=[{"ScopeName": f"s{i}", "ScopeDescription": "d"} for i in range(101)])
    status, payload = raw("CreateResourceServer", {"UserPoolId": pool, "Identifier": "x", "Name": "x",
                                                   "Scopes": [{"ScopeName": "a", "ScopeDescription": ""}]})
    assert payload["__type"] == "InvalidParameterException", payload
    check("resource server errors: duplicate, not found, Cognito's patterns and limits")

    renamed = admin.update_resource_server(UserPoolId=pool, Identifier=api, Name="Renamed",
                                           Scopes=scopes[:1])["ResourceServer"]
    assert renamed["Name"] == "Renamed" and renamed["Scopes"] == scopes[:1], renamed
    expect_error("ResourceNotFoundException", admin.update_resource_server, UserPoolId=pool,
                 Identifier="none", Name="x")
    check("UpdateResourceServer replaces name and scopes")

    for i in range(3):
        admin.create_resource_server(UserPoolId=pool, Identifier=f"extra-{i}", Name=f"Extra {i}")
    seen, token, pages = [], None, 0
    while True:
        kwargs = {"NextToken": token} if token else {}
        page = admin.list_resource_servers(UserPoolId=pool, MaxResults=2, **kwargs)
        seen += [s["Identifier"] for s in page["ResourceServers"]]
        pages += 1
        token = page.get("NextToken")
        if not token:
            break
    assert sorted(seen) == sorted([api, "orders", "extra-0", "extra-1", "extra-2"]), seen
    assert pages == 3, pages
    everything = admin.list_resource_servers(UserPoolId=pool, MaxResults=50)["ResourceServers"]
    assert {s["Identifier"]: s for s in everything}[api] == renamed
    for bad in (0, 51):
        status, payload = raw("ListResourceServers", {"UserPoolId": pool, "MaxResults": bad})
        assert payload["__type"] == "InvalidParameterException", payload
    expect_error("ResourceNotFoundException", admin.list_resource_servers,
                 UserPoolId=f"{REGION}_doesNotExist", MaxResults=10)
    check("ListResourceServers pages through a pool's servers")

    admin.delete_resource_server(UserPoolId=pool, Identifier="orders")
    expect_error("ResourceNotFoundException", admin.describe_resource_server, UserPoolId=pool,
                 Identifier="orders")
    expect_error("ResourceNotFoundException", admin.delete_resource_server, UserPoolId=pool,
                 Identifier="orders")
    assert "orders" not in [s["Identifier"] for s in
                            admin.list_resource_servers(UserPoolId=pool, MaxResults=50)["ResourceServers"]]
    check("DeleteResourceServer")


def ui_customization(admin, pool, suffix):
    bare_pool = admin.create_user_pool(PoolName=f"ui-bare-{suffix}")["UserPool"]["Id"]
    message = expect_error("InvalidParameterException", admin.set_ui_customization, UserPoolId=bare_pool,
                           CSS=".label-customizable { font-weight: 400; }")
    assert message == "A domain must be associated with this user pool.", message
    client_id = admin.create_user_pool_client(UserPoolId=pool, ClientName="web")["UserPoolClient"]["ClientId"]
    empty = admin.get_ui_customization(UserPoolId=pool)["UICustomization"]
    assert empty == {"UserPoolId": pool, "ClientId": "ALL"}, empty
    check("SetUICustomization needs a domain; nothing set reads as empty")

    logo = png()
    css = ".label-customizable { font-weight: 400; }\n.submitButton-customizable:hover { color: red; }"
    ui = admin.set_ui_customization(UserPoolId=pool, CSS=css, ImageFile=logo)["UICustomization"]
    assert ui["UserPoolId"] == pool and ui["ClientId"] == "ALL" and ui["CSS"] == css, ui
    assert ui["CSSVersion"] and ui["ImageUrl"] and ui["CreationDate"] and ui["LastModifiedDate"], ui
    got = admin.get_ui_customization(UserPoolId=pool)["UICustomization"]
    assert got == ui, (got, ui)
    assert admin.get_ui_customization(UserPoolId=pool, ClientId="ALL")["UICustomization"] == ui
    fallback = admin.get_ui_customization(UserPoolId=pool, ClientId=client_id)["UICustomization"]
    assert fallback["ClientId"] == "ALL" and fallback["CSS"] == css, fallback
    with urllib.request.urlopen(ui["ImageUrl"]) as response:
        assert response.headers["Content-Type"] == "image/png", response.headers
        assert response.read() == logo
    check("pool-wide customization round trip; the logo URL serves the image; clients fall back to it")

    client_css = ".banner-customizable { background-color: black; }"
    mine = admin.set_ui_customization(UserPoolId=pool, ClientId=client_id, CSS=client_css)["UICustomization"]
    assert mine["ClientId"] == client_id and mine["CSS"] == client_css and "ImageUrl" not in mine, mine
    assert admin.get_ui_customization(UserPoolId=pool, ClientId=client_id)["UICustomization"] == mine
    assert admin.get_ui_customization(UserPoolId=pool)["UICustomization"] == ui
    second = admin.set_ui_customization(UserPoolId=pool, CSS=css)["UICustomization"]
    assert second["CSSVersion"] != ui["CSSVersion"] and "ImageUrl" not in second, second
    assert second["CreationDate"] == ui["CreationDate"], second
    try:
        urllib.request.urlopen(f"{URL}/uicustomization/{pool}/ALL/logo")
        raise AssertionError("a replaced logo is still served")
    except urllib.error.HTTPError as err:
        assert err.code == 404, err.code
    check("a client's own customization; each set replaces CSS and logo")

    message = expect_error("InvalidParameterException", admin.set_ui_customization, UserPoolId=pool,
                           CSS=".label-customizable { } body { color: red; }")
    assert "body" in message, message
    expect_error("InvalidParameterException", admin.set_ui_customization, UserPoolId=pool,
                 ImageFile=b"GIF89a" + b"\x00" * 20)
    expect_error("InvalidParameterException", admin.set_ui_customization, UserPoolId=pool,
                 ImageFile=logo + b"\x00" * (100 * 1024))
    expect_error("ResourceNotFoundException", admin.set_ui_customization, UserPoolId=pool,
                 ClientId="nosuchclient0000000000000", CSS="")
    expect_error("ResourceNotFoundException", admin.get_ui_customization, UserPoolId=f"{REGION}_doesNotExist")
    status, payload = raw("SetUICustomization", {"UserPoolId": pool, "ImageFile": "***not base64***"})
    assert payload["__type"] in ("InvalidParameterException", "SerializationException"), payload
    check("UI customization errors: disallowed classes, image type and size, unknown client or pool")


def branding(admin, pool):
    client_id = admin.create_user_pool_client(UserPoolId=pool, ClientName="styled")["UserPoolClient"]["ClientId"]
    settings = {"components": {"primaryButton": {"lightMode": {"defaults": {"backgroundColor": "0972d3ff"}}}}}
    logo = png()
    assets = [{"Category": "FORM_LOGO", "ColorMode": "LIGHT", "Extension": "PNG", "Bytes": logo}]
    created = admin.create_managed_login_branding(UserPoolId=pool, ClientId=client_id, Settings=settings,
                                                  Assets=assets)["ManagedLoginBranding"]
    branding_id = created["ManagedLoginBrandingId"]
    assert str(uuid.UUID(branding_id)) == branding_id and created["UserPoolId"] == pool, created
    assert created["Settings"] == settings and created["UseCognitoProvidedValues"] is False, created
    assert created["Assets"] == assets and created["CreationDate"] and created["LastModifiedDate"], created
    by_id = admin.describe_managed_login_branding(UserPoolId=pool, ManagedLoginBrandingId=branding_id)
    by_client = admin.describe_managed_login_branding_by_client(UserPoolId=pool, ClientId=client_id)
    assert by_id["ManagedLoginBranding"] == created == by_client["ManagedLoginBranding"], by_id
    expect_error("ManagedLoginBrandingExistsException", admin.create_managed_login_branding,
                 UserPoolId=pool, ClientId=client_id, UseCognitoProvidedValues=True)
    check("CreateManagedLoginBranding / Describe by id and by client; one per client")

    changed = {"categories": {"global": {"colorSchemeMode": "DARK"}}}
    updated = admin.update_managed_login_branding(UserPoolId=pool, ManagedLoginBrandingId=branding_id,
                                                  Settings=changed)["ManagedLoginBranding"]
    assert updated["Settings"] == changed and updated["Assets"] == assets, updated
    plain = admin.update_managed_login_branding(UserPoolId=pool, ManagedLoginBrandingId=branding_id,
                                                UseCognitoProvidedValues=True)["ManagedLoginBranding"]
    assert plain["UseCognitoProvidedValues"] is True and "Settings" not in plain and plain["Assets"] == [], plain
    check("UpdateManagedLoginBranding keeps what is not given; Cognito's values clear the style")

    expect_error("InvalidParameterException", admin.update_managed_login_branding, UserPoolId=pool,
                 ManagedLoginBrandingId=branding_id, UseCognitoProvidedValues=True, Settings=changed)
    other_client = admin.create_user_pool_client(UserPoolId=pool, ClientName="other")["UserPoolClient"]["ClientId"]
    for bad in [{"Category": "NOT_A_CATEGORY", "ColorMode": "LIGHT", "Extension": "PNG", "Bytes": logo},
                {"Category": "FORM_LOGO", "ColorMode": "LIGHT", "Extension": "PNG", "Bytes": b"x" * 600_000}]:
        expect_error("InvalidParameterException", admin.create_managed_login_branding, UserPoolId=pool,
                     ClientId=other_client, Assets=[bad])
    expect_error("ResourceNotFoundException", admin.create_managed_login_branding, UserPoolId=pool,
                 ClientId="nosuchclient0000000000000", UseCognitoProvidedValues=True)
    expect_error("ResourceNotFoundException", admin.describe_managed_login_branding_by_client,
                 UserPoolId=pool, ClientId=other_client)
    admin.delete_managed_login_branding(UserPoolId=pool, ManagedLoginBrandingId=branding_id)
    expect_error("ResourceNotFoundException", admin.describe_managed_login_branding, UserPoolId=pool,
                 ManagedLoginBrandingId=branding_id)
    expect_error("ResourceNotFoundException", admin.delete_managed_login_branding, UserPoolId=pool,
                 ManagedLoginBrandingId=branding_id)
    admin.create_managed_login_branding(UserPoolId=pool, ClientId=client_id, UseCognitoProvidedValues=True)
    check("managed login branding errors, and DeleteManagedLoginBranding")


def main():
    suffix = uuid.uuid4().hex[:8]
    admin = idp()
    pool, _ = domains(admin, suffix)
    resource_servers(admin, suffix)
    ui_customization(admin, pool, suffix)
    branding(admin, pool)
    contract.assert_returned("DomainDescriptionType", absent_ok=(
        "S3Bucket",  # no S3 bucket serves anything here
        "Routing",  # no multi-region routing
    ))
    contract.assert_returned("ResourceServerType")
    contract.assert_returned("UICustomizationType")
    contract.assert_returned("ManagedLoginBrandingType")
    check("every member of the domain, resource server and UI customization shapes is returned")


if __name__ == "__main__":
    main()
