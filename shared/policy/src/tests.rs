#![allow(clippy::unwrap_used)] // tests fail loudly by design

use super::*;

fn policy(text: &str) -> Policy {
    Policy::parse(text).unwrap()
}

const ABAC: &str = r#"{
  "Version": "2012-10-17",
  "Statement": [
    {"Sid": "OwnDepartment", "Effect": "Allow", "Action": ["s3:Get*", "s3:List*"],
     "Resource": "arn:aws:s3:::data/${aws:PrincipalTag/department}/*"},
    {"Sid": "OwnFolder", "Effect": "Allow", "Action": "s3:PutObject",
     "Resource": "arn:aws:s3:::home/${cognito-identity.amazonaws.com:sub}/*"},
    {"Sid": "NoSecrets", "Effect": "Deny", "Action": "*",
     "Resource": "arn:aws:s3:::data/*/secret*"}
  ]
}"#;

#[test]
fn abac_allows_the_own_department_only() {
    let role = policy(ABAC);
    let tagged = |resource: &str| {
        Request::new("s3:GetObject", resource).with("aws:PrincipalTag/department", "a")
    };
    assert_eq!(
        evaluate(&[&role], &tagged("arn:aws:s3:::data/a/report.csv")),
        Decision::Allow {
            policy: 0,
            sid: "OwnDepartment".into()
        }
    );
    assert_eq!(
        evaluate(&[&role], &tagged("arn:aws:s3:::data/b/report.csv")),
        Decision::ImplicitDeny
    );
    // No tag: the variable has no value, so the statement does not apply.
    let untagged = Request::new("s3:GetObject", "arn:aws:s3:::data/a/report.csv");
    assert_eq!(evaluate(&[&role], &untagged), Decision::ImplicitDeny);
    // Explicit deny wins over the allow.
    assert_eq!(
        evaluate(&[&role], &tagged("arn:aws:s3:::data/a/secret.txt")),
        Decision::ExplicitDeny {
            policy: 0,
            sid: "NoSecrets".into()
        }
    );
}

#[test]
fn the_identity_variable_scopes_a_folder() {
    let role = policy(ABAC);
    let sub = "us-east-1:1111-2222";
    let put = |resource: &str| {
        Request::new("s3:PutObject", resource).with("cognito-identity.amazonaws.com:sub", sub)
    };
    assert!(evaluate(&[&role], &put(&format!("arn:aws:s3:::home/{sub}/x"))).allowed());
    assert!(!evaluate(&[&role], &put("arn:aws:s3:::home/us-east-1:other/x")).allowed());
}

#[test]
fn actions_are_case_insensitive_and_resources_are_not() {
    let role = policy(
        r#"{"Statement": {"Effect": "Allow", "Action": "S3:getobject", "Resource": "arn:aws:s3:::Bucket/*"}}"#,
    );
    assert!(
        evaluate(
            &[&role],
            &Request::new("s3:GetObject", "arn:aws:s3:::Bucket/k")
        )
        .allowed()
    );
    assert!(
        !evaluate(
            &[&role],
            &Request::new("s3:GetObject", "arn:aws:s3:::bucket/k")
        )
        .allowed()
    );
}

#[test]
fn not_action_and_not_resource_invert_the_match() {
    let role = policy(
        r#"{"Statement": [
            {"Sid": "AllButIam", "Effect": "Allow", "NotAction": "iam:*", "Resource": "*"},
            {"Sid": "NotPublic", "Effect": "Deny", "Action": "s3:*", "NotResource": "arn:aws:s3:::public/*"}
        ]}"#,
    );
    assert!(!evaluate(&[&role], &Request::new("iam:CreateUser", "*")).allowed());
    assert!(
        evaluate(
            &[&role],
            &Request::new("s3:GetObject", "arn:aws:s3:::public/a")
        )
        .allowed()
    );
    assert_eq!(
        evaluate(
            &[&role],
            &Request::new("s3:GetObject", "arn:aws:s3:::private/a")
        ),
        Decision::ExplicitDeny {
            policy: 0,
            sid: "NotPublic".into()
        }
    );
}

#[test]
fn wildcards_match_runs_and_single_characters() {
    assert!(wildcard("a*c", "abbbc"));
    assert!(wildcard("a*c", "ac"));
    assert!(wildcard("a?c", "abc"));
    assert!(!wildcard("a?c", "ac"));
    assert!(wildcard("*", ""));
    assert!(wildcard("arn:*:s3:::b/*", "arn:aws:s3:::b/x/y"));
    assert!(!wildcard("arn:aws:s3:::b", "arn:aws:s3:::b/x"));
    assert!(wildcard("**a", "xa"));
}

#[test]
fn literal_variables_escape_wildcards() {
    let request = Request::new("a:b", "x");
    let escaped = substitute("${*}${?}${$}", &request).unwrap();
    assert_eq!(escaped.text(), "*?$");
    assert!(escaped.matches("*?$"));
    assert!(!escaped.matches("a?$") && !escaped.matches("*x$"));
    assert_eq!(substitute("${missing}", &request), None);
    assert_eq!(substitute("${unterminated", &request), None);
    let mixed = substitute("a*/${*}", &request).unwrap();
    assert!(mixed.matches("abc/*") && !mixed.matches("abc/d"));
}

const HOME: &str = r#"{"Statement": [
    {"Sid": "OwnHome", "Effect": "Allow", "Action": "docs:*",
     "Resource": "arn:docs:::home/${aws:PrincipalTag/owner}/*"}]}"#;

fn owner(name: &str, resource: &str) -> Request {
    Request::new("docs:Read", resource).with("aws:PrincipalTag/owner", name)
}

#[test]
fn a_substituted_value_is_never_a_wildcard_in_a_resource() {
    let role = policy(HOME);
    assert!(allowed(&role, owner("alice", "arn:docs:::home/alice/doc")));
    assert!(!allowed(&role, owner("*", "arn:docs:::home/alice/doc")));
    assert!(allowed(&role, owner("*", "arn:docs:::home/*/doc")));
    assert!(!allowed(&role, owner("?????", "arn:docs:::home/alice/doc")));
    assert!(allowed(&role, owner("?????", "arn:docs:::home/?????/doc")));
    assert!(!allowed(&role, owner("al*", "arn:docs:::home/alice/doc")));
    // The policy's own wildcard after the value still matches anything.
    assert!(allowed(&role, owner("al*", "arn:docs:::home/al*/x/y")));
    // A value that looks like a variable is not replaced again.
    let nested = owner("${aws:PrincipalTag/other}", "arn:docs:::home/b/doc")
        .with("aws:PrincipalTag/other", "b");
    assert!(!allowed(&role, nested));
}

#[test]
fn a_substituted_value_is_never_a_wildcard_in_not_resource() {
    let role = policy(
        r#"{"Statement": [
            {"Sid": "All", "Effect": "Allow", "Action": "docs:*", "Resource": "*"},
            {"Sid": "OnlyOwnHome", "Effect": "Deny", "Action": "docs:*",
             "NotResource": "arn:docs:::home/${aws:PrincipalTag/owner}/*"}]}"#,
    );
    assert!(allowed(&role, owner("alice", "arn:docs:::home/alice/doc")));
    assert_eq!(
        evaluate(&[&role], &owner("*", "arn:docs:::home/alice/doc")),
        Decision::ExplicitDeny {
            policy: 0,
            sid: "OnlyOwnHome".into()
        }
    );
}

#[test]
fn a_substituted_value_is_never_a_wildcard_in_like_conditions() {
    let base = |name: &str, key: &str, value: &str| {
        Request::new("docs:List", "r")
            .with("aws:PrincipalTag/owner", name)
            .with(key, value)
    };
    for operator in [
        "StringLike",
        "ArnLike",
        "ForAnyValue:StringLike",
        "ForAllValues:StringLike",
    ] {
        let role = conditional(&format!(
            r#"{{"{operator}": {{"docs:prefix": "home/${{aws:PrincipalTag/owner}}/*"}}}}"#
        ));
        assert!(
            allowed(&role, base("alice", "docs:prefix", "home/alice/x")),
            "{operator}"
        );
        assert!(
            !allowed(&role, base("*", "docs:prefix", "home/alice/x")),
            "{operator}"
        );
        assert!(
            allowed(&role, base("*", "docs:prefix", "home/*/x")),
            "{operator}"
        );
    }
    for operator in [
        "StringNotLike",
        "ArnNotLike",
        "ForAnyValue:StringNotLike",
        "ForAllValues:StringNotLike",
    ] {
        let role = conditional(&format!(
            r#"{{"{operator}": {{"docs:prefix": "home/${{aws:PrincipalTag/owner}}/*"}}}}"#
        ));
        assert!(
            !allowed(&role, base("alice", "docs:prefix", "home/alice/x")),
            "{operator}"
        );
        assert!(
            allowed(&role, base("*", "docs:prefix", "home/alice/x")),
            "{operator}: a value unlike the literal tag"
        );
    }
    let role = conditional(r#"{"StringEquals": {"docs:prefix": "${aws:PrincipalTag/owner}"}}"#);
    assert!(allowed(&role, base("*", "docs:prefix", "*")));
    assert!(!allowed(&role, base("*", "docs:prefix", "alice")));
}

/// Every negated operator, with a context value it matches and one it does not.
const NEGATED: &[(&str, &str, &str, &str)] = &[
    ("StringNotEquals", "a", "a", "b"),
    ("StringNotEqualsIgnoreCase", "A", "a", "b"),
    ("StringNotLike", "a*", "ab", "b"),
    ("ArnNotLike", "arn:x:*", "arn:x:1", "arn:y:1"),
    ("ArnNotEquals", "arn:x:*", "arn:x:1", "arn:y:1"),
    ("NumericNotEquals", "5", "5", "6"),
    (
        "DateNotEquals",
        "2030-01-01T00:00:00Z",
        "1893456000",
        "2029-01-01T00:00:00Z",
    ),
    ("NotIpAddress", "10.0.0.0/8", "10.1.2.3", "192.168.0.1"),
];

#[test]
fn negated_operators_under_set_operators_follow_iam() {
    let ask = |role: &Policy, values: &[&str]| {
        let request = Request::new("x:y", "r");
        let request = if values.is_empty() {
            request
        } else {
            request.with_values("ctx:k", values.iter().map(|v| (*v).to_owned()).collect())
        };
        allowed(role, request)
    };
    for (operator, value, matching, other) in NEGATED {
        let any = conditional(&format!(
            r#"{{"ForAnyValue:{operator}": {{"ctx:k": "{value}"}}}}"#
        ));
        let all = conditional(&format!(
            r#"{{"ForAllValues:{operator}": {{"ctx:k": "{value}"}}}}"#
        ));
        // (context values, ForAnyValue holds, ForAllValues holds)
        let table: [(&[&str], bool, bool); 4] = [
            (&[matching, other], true, false),
            (&[matching], false, false),
            (&[other], true, true),
            (&[], false, true),
        ];
        for (values, any_holds, all_holds) in table {
            assert_eq!(
                ask(&any, values),
                any_holds,
                "ForAnyValue:{operator} {values:?}"
            );
            assert_eq!(
                ask(&all, values),
                all_holds,
                "ForAllValues:{operator} {values:?}"
            );
        }
        let single = conditional(&format!(r#"{{"{operator}": {{"ctx:k": "{value}"}}}}"#));
        assert!(!ask(&single, &[matching]), "{operator}");
        assert!(ask(&single, &[other]), "{operator}");
        assert!(ask(&single, &[]), "{operator}: a missing key passes");
    }
    let any_if_exists = conditional(r#"{"ForAnyValue:StringNotEqualsIfExists": {"ctx:k": "a"}}"#);
    assert!(ask(&any_if_exists, &[]), "IfExists passes a missing key");
    let any_positive = conditional(r#"{"ForAnyValue:StringEquals": {"ctx:k": "a"}}"#);
    assert!(!ask(&any_positive, &[]), "a missing key fails ForAnyValue");
}

fn conditional(block: &str) -> Policy {
    policy(&format!(
        r#"{{"Statement": {{"Sid": "C", "Effect": "Allow", "Action": "*", "Resource": "*", "Condition": {block}}}}}"#
    ))
}

fn allowed(role: &Policy, request: Request) -> bool {
    evaluate(&[role], &request).allowed()
}

#[test]
fn string_conditions_and_their_negations() {
    let role = conditional(r#"{"StringEquals": {"aws:PrincipalTag/team": ["red", "blue"]}}"#);
    let base = || Request::new("x:y", "r");
    assert!(allowed(&role, base().with("aws:principaltag/team", "blue")));
    assert!(!allowed(
        &role,
        base().with("aws:PrincipalTag/team", "green")
    ));
    assert!(
        !allowed(&role, base()),
        "a missing key fails a positive operator"
    );

    let role = conditional(r#"{"StringNotEquals": {"aws:PrincipalTag/team": "red"}}"#);
    assert!(allowed(&role, base().with("aws:PrincipalTag/team", "blue")));
    assert!(!allowed(&role, base().with("aws:PrincipalTag/team", "red")));
    assert!(
        allowed(&role, base()),
        "a missing key passes a negated operator"
    );

    let role = conditional(r#"{"StringLikeIfExists": {"ctx:env": "prod-*"}}"#);
    assert!(allowed(&role, base()));
    assert!(allowed(&role, base().with("ctx:env", "prod-eu")));
    assert!(!allowed(&role, base().with("ctx:env", "dev")));

    let role = conditional(r#"{"StringEqualsIgnoreCase": {"ctx:env": "PROD"}}"#);
    assert!(allowed(&role, base().with("ctx:env", "prod")));
}

#[test]
fn every_operator_and_key_must_hold() {
    let role = conditional(
        r#"{"StringEquals": {"cognito-identity.amazonaws.com:aud": "us-east-1:pool", "cognito-identity.amazonaws.com:amr": "authenticated"},
            "Bool": {"aws:SecureTransport": true}}"#,
    );
    let full = Request::new("x:y", "r")
        .with("cognito-identity.amazonaws.com:aud", "us-east-1:pool")
        .with("cognito-identity.amazonaws.com:amr", "authenticated")
        .with("aws:SecureTransport", "true");
    assert!(allowed(&role, full.clone()));
    let unauthenticated = Request::new("x:y", "r")
        .with("cognito-identity.amazonaws.com:aud", "us-east-1:pool")
        .with("cognito-identity.amazonaws.com:amr", "unauthenticated")
        .with("aws:SecureTransport", "true");
    assert!(!allowed(&role, unauthenticated));
}

#[test]
fn set_operators_compare_multi_valued_keys() {
    let any = conditional(
        r#"{"ForAnyValue:StringLike": {"cognito-identity.amazonaws.com:amr": "graph.facebook.com"}}"#,
    );
    let amr = |values: &[&str]| {
        Request::new("x:y", "r").with_values(
            "cognito-identity.amazonaws.com:amr",
            values.iter().map(|v| (*v).to_owned()).collect(),
        )
    };
    assert!(allowed(&any, amr(&["authenticated", "graph.facebook.com"])));
    assert!(!allowed(&any, amr(&["authenticated"])));

    let all = conditional(r#"{"ForAllValues:StringEquals": {"ctx:tags": ["a", "b"]}}"#);
    let tags = |values: &[&str]| {
        Request::new("x:y", "r")
            .with_values("ctx:tags", values.iter().map(|v| (*v).to_owned()).collect())
    };
    assert!(allowed(&all, tags(&["a", "b"])));
    assert!(!allowed(&all, tags(&["a", "c"])));
    assert!(allowed(&all, Request::new("x:y", "r")), "vacuously true");
}

#[test]
fn numeric_date_ip_and_null_conditions() {
    let base = || Request::new("x:y", "r");
    let role = conditional(r#"{"NumericLessThanEquals": {"ctx:size": 10}}"#);
    assert!(allowed(&role, base().with("ctx:size", "10")));
    assert!(!allowed(&role, base().with("ctx:size", "11")));
    assert!(!allowed(&role, base().with("ctx:size", "ten")));

    let role = conditional(r#"{"DateLessThan": {"aws:CurrentTime": "2030-01-01T00:00:00Z"}}"#);
    assert!(allowed(
        &role,
        base().with("aws:CurrentTime", "2029-12-31T23:59:59Z")
    ));
    assert!(!allowed(
        &role,
        base().with("aws:CurrentTime", "2030-01-01T00:00:01Z")
    ));
    assert!(allowed(&role, base().with("aws:CurrentTime", "1893455999")));

    let role = conditional(r#"{"IpAddress": {"aws:SourceIp": ["10.0.0.0/8", "2001:db8::/32"]}}"#);
    assert!(allowed(&role, base().with("aws:SourceIp", "10.1.2.3")));
    assert!(allowed(&role, base().with("aws:SourceIp", "2001:db8::1")));
    assert!(!allowed(&role, base().with("aws:SourceIp", "192.168.0.1")));
    let role = conditional(r#"{"NotIpAddress": {"aws:SourceIp": "10.0.0.0/8"}}"#);
    assert!(allowed(&role, base().with("aws:SourceIp", "192.168.0.1")));

    let role = conditional(r#"{"Null": {"aws:PrincipalTag/department": "false"}}"#);
    assert!(allowed(
        &role,
        base().with("aws:PrincipalTag/department", "a")
    ));
    assert!(!allowed(&role, base()));
}

#[test]
fn condition_values_take_policy_variables() {
    let role = conditional(
        r#"{"StringEquals": {"s3:prefix": "home/${cognito-identity.amazonaws.com:sub}"}}"#,
    );
    let request = Request::new("s3:ListBucket", "arn:aws:s3:::b")
        .with("cognito-identity.amazonaws.com:sub", "id-1")
        .with("s3:prefix", "home/id-1");
    assert!(allowed(&role, request));
    let other = Request::new("s3:ListBucket", "arn:aws:s3:::b")
        .with("cognito-identity.amazonaws.com:sub", "id-1")
        .with("s3:prefix", "home/id-2");
    assert!(!allowed(&role, other));
}

#[test]
fn a_session_policy_narrows_and_never_widens() {
    let role = policy(
        r#"{"Statement": {"Sid": "All", "Effect": "Allow", "Action": "s3:*", "Resource": "*"}}"#,
    );
    let session = policy(
        r#"{"Statement": {"Sid": "ReadOnly", "Effect": "Allow", "Action": "s3:Get*", "Resource": "*"}}"#,
    );
    let get = Request::new("s3:GetObject", "arn:aws:s3:::b/k");
    let put = Request::new("s3:PutObject", "arn:aws:s3:::b/k");
    assert!(evaluate_with_session(&[&role], Some(&session), &get).allowed());
    assert_eq!(
        evaluate_with_session(&[&role], Some(&session), &put),
        Decision::ImplicitDeny
    );
    let wide = policy(r#"{"Statement": {"Effect": "Allow", "Action": "*", "Resource": "*"}}"#);
    let iam = Request::new("iam:CreateUser", "*");
    assert!(!evaluate_with_session(&[&role], Some(&wide), &iam).allowed());
    let deny = policy(
        r#"{"Statement": {"Sid": "D", "Effect": "Deny", "Action": "s3:GetObject", "Resource": "*"}}"#,
    );
    assert_eq!(
        evaluate_with_session(&[&role], Some(&deny), &get),
        Decision::ExplicitDeny {
            policy: 1,
            sid: "D".into()
        }
    );
}

#[test]
fn malformed_policies_are_refused() {
    let refused = |text: &str| Policy::parse(text).is_err();
    assert!(refused("not json"));
    assert!(refused("[]"));
    assert!(!refused(r#"{"Statement": []}"#));
    assert!(refused(r#"{"Version": "2020-01-01", "Statement": []}"#));
    assert!(refused(
        r#"{"Statement": {"Effect": "Maybe", "Action": "*", "Resource": "*"}}"#
    ));
    assert!(refused(
        r#"{"Statement": {"Effect": "Allow", "Resource": "*"}}"#
    ));
    assert!(refused(
        r#"{"Statement": {"Effect": "Allow", "Action": "*", "NotAction": "x", "Resource": "*"}}"#
    ));
    assert!(refused(
        r#"{"Statement": {"Effect": "Allow", "Action": "*", "Resource": "*", "Condition": {"StringSortOf": {"k": "v"}}}}"#
    ));
    assert!(refused(
        r#"{"Statement": {"Effect": "Allow", "Action": 5, "Resource": "*"}}"#
    ));
}

#[test]
fn a_trust_policy_names_its_principal_and_its_conditions_decide() {
    let trust = Policy::parse(
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow",
            "Principal":{"Federated":"cognito-identity.amazonaws.com"},
            "Action":"sts:AssumeRoleWithWebIdentity",
            "Condition":{
              "StringEquals":{"cognito-identity.amazonaws.com:aud":"us-east-1:pool"},
              "ForAnyValue:StringLike":{"cognito-identity.amazonaws.com:amr":"authenticated"}}}]}"#,
    )
    .unwrap();
    let ask = |aud: &str, amr: &str, by: &str| {
        let request = Request::new("sts:AssumeRoleWithWebIdentity", "*")
            .by("Federated", by)
            .with("cognito-identity.amazonaws.com:aud", aud)
            .with_values(
                "cognito-identity.amazonaws.com:amr",
                vec![amr.to_owned(), "provider".to_owned()],
            );
        evaluate(&[&trust], &request).allowed()
    };
    assert!(ask(
        "us-east-1:pool",
        "authenticated",
        "cognito-identity.amazonaws.com"
    ));
    assert!(!ask(
        "us-east-1:other",
        "authenticated",
        "cognito-identity.amazonaws.com"
    ));
    assert!(!ask(
        "us-east-1:pool",
        "unauthenticated",
        "cognito-identity.amazonaws.com"
    ));
    assert!(!ask(
        "us-east-1:pool",
        "authenticated",
        "accounts.google.com"
    ));
    let no_principal = Request::new("sts:AssumeRoleWithWebIdentity", "*")
        .with("cognito-identity.amazonaws.com:aud", "us-east-1:pool")
        .with("cognito-identity.amazonaws.com:amr", "authenticated");
    assert!(!evaluate(&[&trust], &no_principal).allowed());
    assert!(
        Policy::parse(
            r#"{"Statement":[{"Effect":"Allow","Principal":{"Nobody":"x"},"Action":"*"}]}"#
        )
        .is_err()
    );
}
