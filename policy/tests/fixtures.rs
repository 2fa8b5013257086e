//! The evaluation table in `tests/fixtures/evaluate.json`, and malformed documents.
//!
//! A row holds `identity` (a list of policies; a policy written as a bare list is its
//! statements under Version 2012-10-17), an optional `resource_policy`, a `request` (`action`,
//! `resource`, optional `principal`, defaulting to alice, and `context`, whose values are a
//! string or a list for a multivalued key), the `expect`ed decision and, unless it is an
//! implicit deny, the deciding statement `by`: `{"identity": POLICY, "statement": N}` or
//! `{"resource": N}`, indexes from 0.

// Test helpers may fail loudly: a panic is a test failure.
#![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]

use std::collections::BTreeMap;

use policy::{Context, Decider, Decision, Policy, Request, Source, Verdict, decide, evaluate};
use serde::Deserialize;
use serde_json::Value;

const ALICE: &str = "arn:aws:iam::111122223333:user/alice";

#[derive(Deserialize)]
struct Table {
    rows: Vec<Row>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Row {
    name: String,
    identity: Vec<Value>,
    resource_policy: Option<Value>,
    request: Ask,
    expect: String,
    by: Option<By>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Ask {
    principal: Option<String>,
    action: String,
    resource: String,
    #[serde(default)]
    context: BTreeMap<String, Value>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct By {
    identity: Option<usize>,
    resource: Option<usize>,
    statement: Option<usize>,
}

fn table() -> Table {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/evaluate.json");
    let text = std::fs::read_to_string(path).expect("the fixture table is readable");
    serde_json::from_str(&text).expect("the fixture table has the documented shape")
}

/// A policy from its JSON; a bare list is the statements of a 2012-10-17 policy.
fn policy(value: &Value, row: &str) -> Policy {
    let document = match value {
        Value::Array(_) => serde_json::json!({"Version": "2012-10-17", "Statement": value}),
        _ => value.clone(),
    };
    Policy::parse(&document.to_string()).unwrap_or_else(|e| panic!("{row}: {e}"))
}

fn context(keys: &BTreeMap<String, Value>) -> Context {
    let mut context = Context::new();
    for (key, value) in keys {
        match value {
            Value::String(one) => context.set(key, one.as_str()),
            Value::Array(many) => context.set_all(key, many.iter().map(text).collect()),
            other => panic!("context value {other} is a string or a list"),
        };
    }
    context
}

fn text(value: &Value) -> String {
    value
        .as_str()
        .expect("context values are strings")
        .to_owned()
}

fn expected(row: &Row) -> Verdict {
    let decision = match row.expect.as_str() {
        "Allow" => Decision::Allow,
        "ExplicitDeny" => Decision::ExplicitDeny,
        "ImplicitDeny" => Decision::ImplicitDeny,
        other => panic!("{}: unknown decision {other}", row.name),
    };
    let by = row
        .by
        .as_ref()
        .map(|by| match (by.identity, by.resource, by.statement) {
            (Some(p), None, Some(statement)) => Decider {
                source: Source::Identity(p),
                statement,
            },
            (None, Some(statement), None) => Decider {
                source: Source::Resource,
                statement,
            },
            _ => panic!(
                "{}: by is {{identity, statement}} or {{resource}}",
                row.name
            ),
        });
    Verdict { decision, by }
}

#[test]
fn every_row_decides_as_expected() {
    let table = table();
    assert!(
        table.rows.len() >= 80,
        "the table has {} rows",
        table.rows.len()
    );
    let mut failures = Vec::new();
    for row in &table.rows {
        let identity: Vec<Policy> = row.identity.iter().map(|p| policy(p, &row.name)).collect();
        let identity: Vec<&Policy> = identity.iter().collect();
        let resource = row.resource_policy.as_ref().map(|p| policy(p, &row.name));
        let context = context(&row.request.context);
        let request = Request {
            principal: row.request.principal.as_deref().unwrap_or(ALICE),
            action: &row.request.action,
            resource: &row.request.resource,
            context: &context,
        };
        let verdict = decide(&identity, resource.as_ref(), &request);
        let want = expected(row);
        if verdict != want {
            failures.push(format!("{}: got {verdict:?}, want {want:?}", row.name));
        }
        assert_eq!(
            evaluate(&identity, resource.as_ref(), &request),
            verdict.decision,
            "{}: evaluate and decide agree",
            row.name
        );
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn names_are_unique() {
    let table = table();
    let mut names: Vec<&str> = table.rows.iter().map(|r| r.name.as_str()).collect();
    names.sort_unstable();
    let before = names.len();
    names.dedup();
    assert_eq!(names.len(), before, "two rows share a name");
}

#[test]
fn malformed_documents_point_at_the_problem() {
    let ok = r#"{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}"#;
    let cases: &[(String, &[&str])] = &[
        (
            format!(r#"{{"Statement": [{ok}, {{"Effect": "Permit", "Action": "*"}}]}}"#),
            &["Statement 2", "Effect"],
        ),
        (
            format!(r#"{{"Statement": [{ok}, {ok}, {{"Effect": "Allow", "Resource": "*"}}]}}"#),
            &["Statement 3", "Action or NotAction"],
        ),
        (
            format!(
                r#"{{"Statement": [{ok}, {{"Effect": "Allow", "Action": "*",
                "Condition": {{"StringMatches": {{"s3:prefix": "a"}}}}}}]}}"#
            ),
            &["Statement 2", "unknown condition operator StringMatches"],
        ),
        (
            r#"{"Statement": {"Effect": "Allow", "Action": "*",
                "Condition": {"NumericLessThan": {"s3:max-keys": "ten"}}}}"#
                .to_owned(),
            &["Statement 1", "s3:max-keys", "number"],
        ),
        (
            r#"{"Statement": {"Effect": "Allow", "Action": "*",
                "Condition": {"IpAddress": {"aws:SourceIp": "10.0.0.0/40"}}}}"#
                .to_owned(),
            &["Statement 1", "aws:SourceIp", "IP address"],
        ),
        (
            r#"{"Statement": {"Effect": "Allow", "Action": "*",
                "Condition": {"DateLessThan": {"aws:CurrentTime": "soon"}}}}"#
                .to_owned(),
            &["Statement 1", "aws:CurrentTime", "date"],
        ),
        (
            format!(r#"{{"Statement": [{ok}, {{"Effect": "Deny", "Action": ["s3:*", 7]}}]}}"#),
            &["Statement 2", "Action", "not a string"],
        ),
        (
            format!(
                r#"{{"Statement": [{ok}, {{"Effect": "Allow", "Action": "*",
                "Resource": "*", "NotResource": "*"}}]}}"#
            ),
            &["Statement 2", "Resource and NotResource"],
        ),
        (
            r#"{"Statement": {"Effect": "Allow", "Action": "*",
                "Principal": {"Service": "s3.amazonaws.com"}}}"#
                .to_owned(),
            &["Statement 1", "Principal", "Service"],
        ),
        (
            r#"{"Statement": {"Effect": "Allow", "Action": "*", "Resources": "*"}}"#.to_owned(),
            &["Statement 1", "unknown member Resources"],
        ),
        (
            r#"{"Version": "2012-10-17", "Statement": [], "Extra": 1}"#.to_owned(),
            &["the policy", "Extra"],
        ),
        (
            r#"{"Statement": {"Effect": "Allow", "Action": "*",
                "Condition": {"ForSomeValues:StringEquals": {"k": "v"}}}}"#
                .to_owned(),
            &["Statement 1", "set qualifier", "ForSomeValues"],
        ),
    ];
    for (document, hints) in cases {
        let error = Policy::parse(document).expect_err(document).to_string();
        assert!(
            error.starts_with("malformed policy document: "),
            "{document}: {error}"
        );
        for hint in *hints {
            assert!(error.contains(hint), "{document}: {error} lacks {hint:?}");
        }
    }
}
