//! How long one evaluation takes: a principal with 10 identity policies of 10 statements each,
//! against a baseline of one policy with one statement, measured in the same run.
//!
//! `cargo bench -p policy` prints nanoseconds per evaluation for both over a mix of allowed,
//! implicitly denied and explicitly denied requests (and for each kind on its own), their ratio,
//! and whether the 10×10 principal stays under the 5 µs target.

use std::hint::black_box;
use std::time::{Duration, Instant};

use policy::{Context, Decision, Policy, Request, decide};

const ALICE: &str = "arn:aws:iam::111122223333:user/alice";
const TARGET_NS: f64 = 5_000.0;

/// Statement `s` of policy `p`: a few actions with wildcards, resources with wildcards and a
/// policy variable, a condition or two; every fourth statement of the last policy denies.
fn statement(p: usize, s: usize) -> String {
    let effect = if p == 9 && s % 4 == 3 {
        "Deny"
    } else {
        "Allow"
    };
    let actions = match s % 3 {
        0 => r#"["s3:Get*", "s3:List*", "s3:PutObject"]"#,
        1 => r#"["s3:PutObject*", "s3:DeleteObject", "s3:AbortMultipartUpload"]"#,
        _ => r#"["kms:Decrypt", "kms:GenerateDataKey*", "kms:Describe?ey"]"#,
    };
    let condition = match s % 4 {
        0 => r#"{"IpAddress": {"aws:SourceIp": ["10.0.0.0/8", "192.168.0.0/16"]}}"#,
        1 => r#"{"Bool": {"aws:SecureTransport": "true"}}"#,
        2 => {
            r#"{"StringLike": {"s3:prefix": ["home/${aws:username}/*", "shared/*"]},
                 "NumericLessThanEquals": {"s3:max-keys": "1000"}}"#
        }
        _ => r#"{"StringEquals": {"aws:PrincipalTag/team": ["data", "ops"]}}"#,
    };
    format!(
        r#"{{"Sid": "P{p}S{s}", "Effect": "{effect}", "Action": {actions},
            "Resource": ["arn:aws:s3:::team{p}-bucket{s}/*", "arn:aws:s3:::team{p}-bucket{s}",
                         "arn:aws:s3:::home-{p}/${{aws:username}}/*",
                         "arn:aws:kms:us-east-1:111122223333:key/team{p}-?{s}*"],
            "Condition": {condition}}}"#
    )
}

fn principal() -> Vec<Policy> {
    (0..10)
        .map(|p| {
            let statements: Vec<String> = (0..10).map(|s| statement(p, s)).collect();
            let doc = format!(
                r#"{{"Version": "2012-10-17", "Statement": [{}]}}"#,
                statements.join(",")
            );
            Policy::parse(&doc).expect("the bench's policies parse")
        })
        .collect()
}

fn baseline() -> Policy {
    let doc = r#"{"Version": "2012-10-17", "Statement": {"Effect": "Allow", "Action": "s3:Get*",
        "Resource": "arn:aws:s3:::home-0/${aws:username}/*"}}"#;
    Policy::parse(doc).expect("the baseline policy parses")
}

fn context() -> Context {
    let mut context = Context::new();
    context
        .set("aws:username", "alice")
        .set("aws:SourceIp", "10.20.30.40")
        .set("aws:SecureTransport", "true")
        .set("aws:PrincipalTag/team", "data")
        .set("s3:prefix", "home/alice/photos/")
        .set("s3:max-keys", "100");
    context
}

/// (action, resource): allowed early and late, implicitly denied, explicitly denied.
const MIX: &[(&str, &str)] = &[
    ("s3:GetObject", "arn:aws:s3:::team0-bucket0/a.txt"),
    ("s3:GetObject", "arn:aws:s3:::home-5/alice/notes.txt"),
    (
        "kms:Decrypt",
        "arn:aws:kms:us-east-1:111122223333:key/team8-x8abc",
    ),
    ("s3:PutObject", "arn:aws:s3:::elsewhere/a.txt"),
    ("iam:CreateUser", "arn:aws:iam::111122223333:user/mallory"),
    ("s3:GetObject", "arn:aws:s3:::home-3/bob/notes.txt"),
    ("s3:DeleteObject", "arn:aws:s3:::team9-bucket7/a.txt"),
    ("s3:PutObject", "arn:aws:s3:::team9-bucket3/a.txt"),
];

/// The requests of the mix, with the decision `identity` gives each.
fn requests<'a>(identity: &[&Policy], context: &'a Context) -> Vec<(Request<'a>, Decision)> {
    MIX.iter()
        .map(|&(action, resource)| {
            let request = Request {
                principal: ALICE,
                action,
                resource,
                context,
            };
            (request, decide(identity, None, &request).decision)
        })
        .collect()
}

/// Nanoseconds per evaluation of `requests` against `identity`, over at least `budget`.
fn measure(identity: &[&Policy], requests: &[Request<'_>], budget: Duration) -> f64 {
    let mut evaluations = 0u64;
    let start = Instant::now();
    while start.elapsed() < budget {
        for _ in 0..1000 {
            for request in requests {
                black_box(decide(black_box(identity), None, black_box(request)));
            }
        }
        evaluations += 1000 * requests.len() as u64;
    }
    start.elapsed().as_nanos() as f64 / evaluations as f64
}

fn main() {
    let context = context();
    let policies = principal();
    let identity: Vec<&Policy> = policies.iter().collect();
    let one = baseline();
    let mix = requests(&identity, &context);
    let all: Vec<Request<'_>> = mix.iter().map(|(r, _)| *r).collect();
    let only = |d: Decision| -> Vec<Request<'_>> {
        mix.iter()
            .filter(|(_, x)| *x == d)
            .map(|(r, _)| *r)
            .collect()
    };
    let kinds = [
        ("allowed", only(Decision::Allow)),
        ("implicitly denied", only(Decision::ImplicitDeny)),
        ("explicitly denied", only(Decision::ExplicitDeny)),
    ];

    // Warm up, then measure everything in the same run.
    measure(&identity, &all, Duration::from_millis(300));
    let budget = Duration::from_secs(2);
    let base = measure(&[&one], &all, budget);
    let full = measure(&identity, &all, budget);
    println!("baseline, 1 policy x 1 statement:        {base:>7.0} ns/evaluation");
    println!(
        "principal, 10 policies x 10 statements:  {full:>7.0} ns/evaluation ({} requests: {})",
        all.len(),
        kinds
            .iter()
            .map(|(k, r)| format!("{} {k}", r.len()))
            .collect::<Vec<_>>()
            .join(", ")
    );
    for (kind, requests) in &kinds {
        let ns = measure(&identity, requests, budget / 2);
        println!("  of which {kind:<18} {ns:>7.0} ns/evaluation");
    }
    println!("ratio: {:.1}x", full / base);
    let verdict = if full < TARGET_NS { "met" } else { "missed" };
    println!("target < 5 µs: {verdict}");
}
