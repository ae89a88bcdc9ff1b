//! The IAM policy reader and evaluator: any JSON (an identity pool's role policy, a
//! session policy passed to `AssumeRole*`, a trust policy) is read, and a policy that
//! reads is evaluated, with tag values that look like wildcards and variables.
//!
//! Input: a policy document (the seeds are the shapes the unit tests use).

#![no_main]

use libfuzzer_sys::fuzz_target;
use portcullis_policy::{Policy, Request, evaluate, evaluate_with_session, wildcard};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    assert!(wildcard(text, text), "a pattern matches its own text");
    let Ok(policy) = Policy::parse(text) else {
        return;
    };
    let requests = [
        Request::new("s3:GetObject", "arn:aws:s3:::data/a/report.csv")
            .with("aws:PrincipalTag/department", "a")
            .with("cognito-identity.amazonaws.com:sub", "us-east-1:1234")
            .with("aws:SourceIp", "203.0.113.7")
            .with("aws:CurrentTime", "2026-03-01T10:00:00Z")
            .with_values("aws:TagKeys", vec!["a".into(), "b".into()]),
        Request::new("sts:AssumeRoleWithWebIdentity", "*")
            .by("Federated", "cognito-identity.amazonaws.com")
            .with("cognito-identity.amazonaws.com:aud", "us-east-1:pool")
            .with("cognito-identity.amazonaws.com:amr", "authenticated"),
        Request::new("docs:Read", "arn:docs:::home/alice/doc")
            .with("aws:PrincipalTag/owner", "*")
            .with("aws:username", "${aws:username}")
            .with("aws:userid", "a?b"),
    ];
    for request in &requests {
        let alone = evaluate(&[&policy], request);
        let narrowed = evaluate_with_session(&[&policy], Some(&policy), request);
        assert_eq!(
            alone.allowed(),
            narrowed.allowed(),
            "a policy narrowed by itself decides the same"
        );
    }
});
