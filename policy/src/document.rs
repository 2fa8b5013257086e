//! Policy documents: the IAM grammar parsed into [`Policy`], refusing malformed documents with a
//! message that points at the problem.

use std::fmt;

use serde_json::{Map, Value};

use crate::PolicyError;
use crate::condition::Condition;

/// The policy language versions IAM knows.
const VERSIONS: &[&str] = &["2012-10-17", "2008-10-17"];

/// A parsed policy document.
#[derive(Debug, Clone, PartialEq)]
pub struct Policy {
    /// `Version`; policy variables are expanded only under `2012-10-17`, as in IAM.
    pub version: String,
    /// The statements, in order.
    pub statements: Vec<Statement>,
}

/// Allow or Deny.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    /// Grants what the statement matches.
    Allow,
    /// Refuses it, whatever else allows it.
    Deny,
}

/// A list of patterns, or its negation (`NotAction`, `NotResource`, `NotPrincipal`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Patterns {
    /// Matches what any pattern matches.
    Any(Vec<Pattern>),
    /// Matches what no pattern matches.
    Not(Vec<Pattern>),
}

/// One action, resource or principal pattern as written (wildcards `*` and `?`, policy variables
/// `${...}`), with what evaluation needs to know about it worked out once, when it is parsed.
///
/// ```
/// let pattern = policy::Pattern::from("arn:aws:s3:::home/${aws:username}/*");
/// assert_eq!(pattern.as_str(), "arn:aws:s3:::home/${aws:username}/*");
/// assert!(pattern.has_variable());
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct Pattern {
    text: String,
    /// The length of the literal text before the first `*`, `?` or `$`.
    pub(crate) head: usize,
    variable: bool,
}

impl Pattern {
    /// The pattern as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Whether the pattern holds a policy variable (`${`).
    pub fn has_variable(&self) -> bool {
        self.variable
    }
}

impl From<String> for Pattern {
    fn from(text: String) -> Pattern {
        let head = text
            .bytes()
            .position(|b| matches!(b, b'*' | b'?' | b'$'))
            .unwrap_or(text.len());
        let variable = crate::evaluate::has_variable(&text);
        Pattern {
            text,
            head,
            variable,
        }
    }
}

impl From<&str> for Pattern {
    fn from(text: &str) -> Pattern {
        Pattern::from(text.to_owned())
    }
}

impl fmt::Debug for Pattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.text, f)
    }
}

impl fmt::Display for Pattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// One statement.
#[derive(Debug, Clone, PartialEq)]
pub struct Statement {
    /// `Sid`, if any.
    pub sid: Option<String>,
    /// `Effect`.
    pub effect: Effect,
    /// `Action` or `NotAction`.
    pub actions: Patterns,
    /// `Resource` or `NotResource`; `None` where a resource policy leaves it out.
    pub resources: Option<Patterns>,
    /// `Principal` or `NotPrincipal` (resource policies): principal ARNs or ids, `*` for anyone.
    pub principals: Option<Patterns>,
    /// `Condition` blocks, all of which must hold.
    pub conditions: Vec<Condition>,
}

impl Policy {
    /// Parses a policy document.
    ///
    /// ```
    /// let doc = r#"{"Version": "2012-10-17", "Statement": {"Effect": "Allow",
    ///     "Action": "s3:GetObject", "Resource": "arn:aws:s3:::photos/*"}}"#;
    /// let policy = policy::Policy::parse(doc)?;
    /// assert_eq!(policy.statements.len(), 1);
    /// assert!(policy::Policy::parse(r#"{"Statement": []}"#).is_err());
    /// # Ok::<(), policy::PolicyError>(())
    /// ```
    ///
    /// # Errors
    /// [`PolicyError::Malformed`], naming the problem, for anything IAM would refuse.
    pub fn parse(document: &str) -> Result<Policy, PolicyError> {
        let value: Value =
            serde_json::from_str(document).map_err(|e| malformed(format!("not JSON: {e}")))?;
        let object = value
            .as_object()
            .ok_or_else(|| malformed("a policy is a JSON object".into()))?;
        known_members(object, &["Version", "Id", "Statement"], "the policy")?;
        let version = match object.get("Version") {
            None => "2008-10-17".to_owned(),
            Some(Value::String(v)) if VERSIONS.contains(&v.as_str()) => v.clone(),
            Some(other) => return Err(malformed(format!("unknown Version {other}"))),
        };
        let statements = match object.get("Statement") {
            Some(Value::Array(list)) if !list.is_empty() => list.iter().collect(),
            Some(one @ Value::Object(_)) => vec![one],
            Some(_) => return Err(malformed("Statement is empty or not a list".into())),
            None => return Err(malformed("Statement is missing".into())),
        };
        let statements = statements
            .into_iter()
            .enumerate()
            .map(|(i, s)| statement(s).map_err(|e| e.at(&format!("Statement {}", i + 1))))
            .collect::<Result<_, _>>()?;
        Ok(Policy {
            version,
            statements,
        })
    }
}

fn statement(value: &Value) -> Result<Statement, PolicyError> {
    let object = value
        .as_object()
        .ok_or_else(|| malformed("a statement is a JSON object".into()))?;
    known_members(
        object,
        &[
            "Sid",
            "Effect",
            "Action",
            "NotAction",
            "Resource",
            "NotResource",
            "Principal",
            "NotPrincipal",
            "Condition",
        ],
        "a statement",
    )?;
    let effect = match object.get("Effect").and_then(Value::as_str) {
        Some("Allow") => Effect::Allow,
        Some("Deny") => Effect::Deny,
        _ => return Err(malformed("Effect must be Allow or Deny".into())),
    };
    let actions = either(object, "Action", "NotAction")?
        .ok_or_else(|| malformed("a statement needs Action or NotAction".into()))?;
    Ok(Statement {
        sid: object.get("Sid").and_then(Value::as_str).map(str::to_owned),
        effect,
        actions,
        resources: either(object, "Resource", "NotResource")?,
        principals: principals(object)?,
        conditions: match object.get("Condition") {
            None => Vec::new(),
            Some(value) => crate::condition::parse(value)?,
        },
    })
}

/// `name` or `not_name` (never both), as a list of strings.
fn either(
    object: &Map<String, Value>,
    name: &str,
    not_name: &str,
) -> Result<Option<Patterns>, PolicyError> {
    match (object.get(name), object.get(not_name)) {
        (Some(_), Some(_)) => Err(malformed(format!("{name} and {not_name} together"))),
        (Some(value), None) => Ok(Some(Patterns::Any(patterns(value, name)?))),
        (None, Some(value)) => Ok(Some(Patterns::Not(patterns(value, not_name)?))),
        (None, None) => Ok(None),
    }
}

/// `Principal`: `"*"`, or `{"AWS": ...}` (other kinds refused: Sealgate has no services).
fn principals(object: &Map<String, Value>) -> Result<Option<Patterns>, PolicyError> {
    let (value, negated) = match (object.get("Principal"), object.get("NotPrincipal")) {
        (Some(_), Some(_)) => return Err(malformed("Principal and NotPrincipal together".into())),
        (Some(v), None) => (v, false),
        (None, Some(v)) => (v, true),
        (None, None) => return Ok(None),
    };
    let list = match value {
        Value::String(s) if s == "*" => vec![Pattern::from("*")],
        Value::Object(map) => {
            known_members(map, &["AWS"], "a Principal")?;
            let aws = map
                .get("AWS")
                .ok_or_else(|| malformed("a Principal names AWS principals".into()))?;
            patterns(aws, "Principal")?
        }
        _ => return Err(malformed("Principal is \"*\" or {\"AWS\": ...}".into())),
    };
    Ok(Some(if negated {
        Patterns::Not(list)
    } else {
        Patterns::Any(list)
    }))
}

/// A string or a non-empty list of strings, as patterns.
fn patterns(value: &Value, what: &str) -> Result<Vec<Pattern>, PolicyError> {
    Ok(strings(value, what)?
        .into_iter()
        .map(Pattern::from)
        .collect())
}

/// A string or a non-empty list of strings.
pub(crate) fn strings(value: &Value, what: &str) -> Result<Vec<String>, PolicyError> {
    let list: Vec<&Value> = match value {
        Value::Array(list) if !list.is_empty() => list.iter().collect(),
        Value::String(_) => vec![value],
        _ => {
            return Err(malformed(format!(
                "{what} is a string or a list of strings"
            )));
        }
    };
    list.into_iter()
        .map(|v| {
            v.as_str()
                .map(str::to_owned)
                .ok_or_else(|| malformed(format!("{what} holds a value that is not a string")))
        })
        .collect()
}

fn known_members(
    object: &Map<String, Value>,
    known: &[&str],
    what: &str,
) -> Result<(), PolicyError> {
    match object.keys().find(|k| !known.contains(&k.as_str())) {
        Some(unknown) => Err(malformed(format!("{what} has an unknown member {unknown}"))),
        None => Ok(()),
    }
}

pub(crate) fn malformed(reason: String) -> PolicyError {
    PolicyError::Malformed { reason }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statements_in_every_shape() {
        let doc = r#"{"Version":"2012-10-17","Statement":[
            {"Sid":"a","Effect":"Allow","Action":["s3:Get*","s3:List*"],"Resource":"*"},
            {"Effect":"Deny","NotAction":"kms:*","NotResource":["arn:aws:s3:::x/*"],
             "Principal":{"AWS":["arn:aws:iam::1:user/bob"]}}]}"#;
        let policy = Policy::parse(doc).unwrap();
        let [allow, deny] = policy.statements.as_slice() else {
            panic!("two statements");
        };
        assert_eq!(allow.sid.as_deref(), Some("a"));
        assert_eq!(
            allow.actions,
            Patterns::Any(vec!["s3:Get*".into(), "s3:List*".into()])
        );
        assert_eq!(deny.effect, Effect::Deny);
        assert_eq!(deny.actions, Patterns::Not(vec!["kms:*".into()]));
        assert!(matches!(deny.principals, Some(Patterns::Any(_))));
    }

    #[test]
    fn malformed_documents_say_where() {
        for (doc, hint) in [
            ("not json", "not JSON"),
            (r#"{"Version":"2020-01-01","Statement":[]}"#, "Version"),
            (r#"{"Statement":[]}"#, "empty"),
            (
                r#"{"Statement":[{"Effect":"Maybe","Action":"*"}]}"#,
                "Statement 1",
            ),
            (r#"{"Statement":{"Effect":"Allow"}}"#, "Action or NotAction"),
            (
                r#"{"Statement":{"Effect":"Allow","Action":"*","Bogus":1}}"#,
                "Bogus",
            ),
            (
                r#"{"Statement":{"Effect":"Allow","Action":"*","NotAction":"*"}}"#,
                "together",
            ),
            (r#"{"Statement":{"Effect":"Allow","Action":[]}}"#, "Action"),
        ] {
            let error = Policy::parse(doc).unwrap_err().to_string();
            assert!(error.contains(hint), "{doc}: {error}");
        }
    }
}
