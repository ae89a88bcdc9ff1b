"""Groups through boto3: create, get, update, delete, list, with Cognito's errors.

Usage: groups.py URL
Admin credentials come from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY. Exits non-zero
on the first failed check.
"""

import uuid

import contract
from e2e_common import REGION, check, expect_error, idp, raw

ROLE = "arn:aws:iam::123456789012:role/GroupRole"


def main():
    suffix = uuid.uuid4().hex[:8]
    admin = idp()
    pool_id = admin.create_user_pool(PoolName=f"groups-{suffix}")["UserPool"]["Id"]
    other_pool = admin.create_user_pool(PoolName=f"groups-other-{suffix}")["UserPool"]["Id"]
    missing_pool = f"{REGION}_doesNotExist"

    # --- create and get ------------------------------------------------------------------
    group = admin.create_group(GroupName="admins", UserPoolId=pool_id, Description="The admins",
                               RoleArn=ROLE, Precedence=1)["Group"]
    assert group["GroupName"] == "admins" and group["UserPoolId"] == pool_id
    assert group["Description"] == "The admins" and group["RoleArn"] == ROLE and group["Precedence"] == 1
    assert group["CreationDate"] and group["LastModifiedDate"]
    got = admin.get_group(GroupName="admins", UserPoolId=pool_id)["Group"]
    assert got == group, (got, group)
    bare = admin.create_group(GroupName="readers", UserPoolId=pool_id)["Group"]
    assert set(bare) == {"GroupName", "UserPoolId", "LastModifiedDate", "CreationDate"}, bare
    unicode_name = "Équipe/ventes:é.ü@+"
    fancy = admin.create_group(GroupName=unicode_name, UserPoolId=pool_id, Precedence=0)["Group"]
    assert fancy["GroupName"] == unicode_name and fancy["Precedence"] == 0
    assert admin.get_group(GroupName=unicode_name, UserPoolId=pool_id)["Group"]["GroupName"] == unicode_name
    # Names are case sensitive, and the same name lives apart in another pool.
    admin.create_group(GroupName="Admins", UserPoolId=pool_id)
    admin.create_group(GroupName="admins", UserPoolId=other_pool)
    check("CreateGroup / GetGroup")

    message = expect_error("GroupExistsException", admin.create_group, GroupName="admins", UserPoolId=pool_id)
    assert message == "A group with the name admins already exists.", message
    message = expect_error("ResourceNotFoundException", admin.get_group, GroupName="nobody", UserPoolId=pool_id)
    assert message == "Group not found.", message
    message = expect_error("ResourceNotFoundException", admin.create_group, GroupName="g", UserPoolId=missing_pool)
    assert message == f"User pool {missing_pool} does not exist.", message
    expect_error("ResourceNotFoundException", admin.get_group, GroupName="admins", UserPoolId=missing_pool)
    expect_error("InvalidParameterException", admin.create_group, GroupName="has space", UserPoolId=pool_id)
    expect_error("InvalidParameterException", admin.create_group, GroupName="x" * 129, UserPoolId=pool_id)
    expect_error("InvalidParameterException", admin.create_group, GroupName="g", UserPoolId=pool_id,
                 RoleArn="not-a-role-arn-at-all-really")
    expect_error("InvalidParameterException", admin.create_group, GroupName="g", UserPoolId=pool_id,
                 Description="d" * 2049)
    status, payload = raw("CreateGroup", {"GroupName": "g", "UserPoolId": pool_id, "Precedence": -1})
    assert payload["__type"] == "InvalidParameterException" and "precedence" in payload["message"], payload
    status, payload = raw("CreateGroup", {"GroupName": "g", "UserPoolId": pool_id, "Precedence": "high"})
    assert payload["__type"] == "SerializationException", payload
    status, payload = raw("CreateGroup", {"UserPoolId": pool_id})
    assert payload["__type"] == "InvalidParameterException" and "groupName" in payload["message"], payload
    status, payload = raw("GetGroup", {"GroupName": "admins"})
    assert payload["__type"] == "InvalidParameterException" and "userPoolId" in payload["message"], payload
    check("group errors: exists, not found, unknown pool, bad members")

    # --- update: given members change, others stay ------------------------------------------
    updated = admin.update_group(GroupName="admins", UserPoolId=pool_id, Description="Admins, updated")["Group"]
    assert updated["Description"] == "Admins, updated"
    assert updated["RoleArn"] == ROLE and updated["Precedence"] == 1
    assert updated["CreationDate"] == group["CreationDate"]
    assert updated["LastModifiedDate"] >= group["LastModifiedDate"]
    updated = admin.update_group(GroupName="admins", UserPoolId=pool_id, Precedence=5)["Group"]
    assert updated["Precedence"] == 5 and updated["Description"] == "Admins, updated"
    assert admin.get_group(GroupName="admins", UserPoolId=pool_id)["Group"] == updated
    expect_error("ResourceNotFoundException", admin.update_group, GroupName="nobody", UserPoolId=pool_id)
    expect_error("ResourceNotFoundException", admin.update_group, GroupName="admins", UserPoolId=missing_pool)
    expect_error("InvalidParameterException", admin.update_group, GroupName="admins", UserPoolId=pool_id,
                 RoleArn="arn:bad-role-arn-without-parts")
    check("UpdateGroup")

    # --- list, with pagination -----------------------------------------------------------------
    for i in range(5):
        admin.create_group(GroupName=f"team-{i}", UserPoolId=pool_id, Precedence=i)
    expected = {"admins", "readers", unicode_name, "Admins"} | {f"team-{i}" for i in range(5)}
    seen, token, pages = [], None, 0
    while True:
        kwargs = {"UserPoolId": pool_id, "Limit": 4}
        if token:
            kwargs["NextToken"] = token
        page = admin.list_groups(**kwargs)
        pages += 1
        assert len(page["Groups"]) <= 4
        for g in page["Groups"]:
            assert g["UserPoolId"] == pool_id and "CreationDate" in g
        seen.extend(g["GroupName"] for g in page["Groups"])
        token = page.get("NextToken")
        if not token:
            break
    assert sorted(seen) == sorted(expected) and len(seen) == len(set(seen)), seen
    assert pages == 3, pages
    listed = {g["GroupName"]: g for g in admin.list_groups(UserPoolId=pool_id)["Groups"]}
    assert set(listed) == expected and listed["admins"] == updated, listed.get("admins")
    assert [g["GroupName"] for g in admin.list_groups(UserPoolId=other_pool)["Groups"]] == ["admins"]
    status, payload = raw("ListGroups", {"UserPoolId": pool_id, "Limit": 61})
    assert payload["__type"] == "InvalidParameterException", payload
    expect_error("ResourceNotFoundException", admin.list_groups, UserPoolId=missing_pool)
    check("ListGroups pages through a pool's groups")

    # --- delete -------------------------------------------------------------------------------------
    admin.delete_group(GroupName="admins", UserPoolId=pool_id)
    expect_error("ResourceNotFoundException", admin.get_group, GroupName="admins", UserPoolId=pool_id)
    expect_error("ResourceNotFoundException", admin.delete_group, GroupName="admins", UserPoolId=pool_id)
    assert "admins" not in [g["GroupName"] for g in admin.list_groups(UserPoolId=pool_id)["Groups"]]
    assert admin.get_group(GroupName="admins", UserPoolId=other_pool)["Group"]["GroupName"] == "admins"
    admin.delete_group(GroupName=unicode_name, UserPoolId=pool_id)
    expect_error("ResourceNotFoundException", admin.delete_group, GroupName="admins", UserPoolId=missing_pool)
    recreated = admin.create_group(GroupName="admins", UserPoolId=pool_id)["Group"]
    assert "Description" not in recreated and "Precedence" not in recreated, recreated
    check("DeleteGroup, and a deleted group's name can be used again")

    contract.assert_returned("GroupType")
    check("every member of GroupType is returned")


if __name__ == "__main__":
    main()
