//! `Condition` blocks: the operators of the IAM grammar, their `...IfExists` forms and the
//! `ForAnyValue:` / `ForAllValues:` set qualifiers, evaluated against a request's [`Context`].

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::net::IpAddr;

use serde_json::Value;

use crate::PolicyError;
use crate::document::{malformed, strings};
use crate::wildcard;

/// The request's condition keys (`aws:SourceIp`, `s3:prefix`, ...) and their values. Keys
/// compare without case, as in IAM.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Context {
    values: BTreeMap<String, Vec<String>>,
}

impl Context {
    /// An empty context.
    pub fn new() -> Context {
        Context::default()
    }

    /// Sets `key` to one value.
    pub fn set(&mut self, key: &str, value: impl Into<String>) -> &mut Context {
        self.values
            .insert(key.to_ascii_lowercase(), vec![value.into()]);
        self
    }

    /// Sets `key` to several values (a multivalued key such as `aws:TagKeys`).
    pub fn set_all(&mut self, key: &str, values: Vec<String>) -> &mut Context {
        self.values.insert(key.to_ascii_lowercase(), values);
        self
    }

    /// The values of `key`, if the request has it.
    pub fn get(&self, key: &str) -> Option<&[String]> {
        if !key.bytes().any(|b| b.is_ascii_uppercase()) {
            return self.values.get(key).map(Vec::as_slice);
        }
        // Lower-case a short key on the stack: lookups happen for every condition and variable.
        let mut buffer = [0u8; 128];
        let lowered = buffer.get_mut(..key.len()).and_then(|slot| {
            slot.copy_from_slice(key.as_bytes());
            slot.make_ascii_lowercase();
            std::str::from_utf8(slot).ok()
        });
        let values = match lowered {
            Some(lowered) => self.values.get(lowered),
            None => self.values.get(&key.to_ascii_lowercase()),
        };
        values.map(Vec::as_slice)
    }
}

/// Expands policy variables in a text, borrowing it when there is nothing to expand.
pub(crate) type Expand<'e> = dyn for<'t> Fn(&'t str) -> Cow<'t, str> + 'e;

/// What a condition compares with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[allow(missing_docs)]
pub enum Operator {
    StringEquals,
    StringNotEquals,
    StringEqualsIgnoreCase,
    StringNotEqualsIgnoreCase,
    StringLike,
    StringNotLike,
    NumericEquals,
    NumericNotEquals,
    NumericLessThan,
    NumericLessThanEquals,
    NumericGreaterThan,
    NumericGreaterThanEquals,
    DateEquals,
    DateNotEquals,
    DateLessThan,
    DateLessThanEquals,
    DateGreaterThan,
    DateGreaterThanEquals,
    Bool,
    IpAddress,
    NotIpAddress,
    ArnEquals,
    ArnNotEquals,
    ArnLike,
    ArnNotLike,
    Null,
}

/// How a multivalued key is compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SetQualifier {
    /// A single-valued key: any of its values matching any policy value is a match.
    Single,
    /// `ForAnyValue:`: at least one request value must match.
    ForAnyValue,
    /// `ForAllValues:`: every request value must match (an absent key matches).
    ForAllValues,
}

/// One key of one operator block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Condition {
    /// The operator.
    pub operator: Operator,
    /// The set qualifier.
    pub set: SetQualifier,
    /// `...IfExists`: an absent key matches.
    pub if_exists: bool,
    /// The condition key.
    pub key: String,
    /// The policy's values (policy variables not yet expanded).
    pub values: Vec<String>,
}

/// Parses a `Condition` member: `{operator: {key: value or values}}`.
pub(crate) fn parse(value: &Value) -> Result<Vec<Condition>, PolicyError> {
    let blocks = value
        .as_object()
        .ok_or_else(|| malformed("Condition is an object of operators".into()))?;
    let mut out = Vec::new();
    for (name, keys) in blocks {
        let (set, rest) = match name.split_once(':') {
            Some(("ForAnyValue", rest)) => (SetQualifier::ForAnyValue, rest),
            Some(("ForAllValues", rest)) => (SetQualifier::ForAllValues, rest),
            Some(_) => return Err(malformed(format!("unknown set qualifier in {name}"))),
            None => (SetQualifier::Single, name.as_str()),
        };
        let (base, if_exists) = match rest.strip_suffix("IfExists") {
            Some(base) if base != "Null" => (base, true),
            _ => (rest, false),
        };
        let operator = operator(base)
            .ok_or_else(|| malformed(format!("unknown condition operator {name}")))?;
        let keys = keys
            .as_object()
            .ok_or_else(|| malformed(format!("{name} is an object of condition keys")))?;
        for (key, values) in keys {
            let values = scalar_strings(values, key)?;
            check_values(operator, &values, key)?;
            out.push(Condition {
                operator,
                set,
                if_exists,
                key: key.clone(),
                values,
            });
        }
    }
    Ok(out)
}

fn operator(name: &str) -> Option<Operator> {
    use Operator::*;
    Some(match name {
        "StringEquals" => StringEquals,
        "StringNotEquals" => StringNotEquals,
        "StringEqualsIgnoreCase" => StringEqualsIgnoreCase,
        "StringNotEqualsIgnoreCase" => StringNotEqualsIgnoreCase,
        "StringLike" => StringLike,
        "StringNotLike" => StringNotLike,
        "NumericEquals" => NumericEquals,
        "NumericNotEquals" => NumericNotEquals,
        "NumericLessThan" => NumericLessThan,
        "NumericLessThanEquals" => NumericLessThanEquals,
        "NumericGreaterThan" => NumericGreaterThan,
        "NumericGreaterThanEquals" => NumericGreaterThanEquals,
        "DateEquals" => DateEquals,
        "DateNotEquals" => DateNotEquals,
        "DateLessThan" => DateLessThan,
        "DateLessThanEquals" => DateLessThanEquals,
        "DateGreaterThan" => DateGreaterThan,
        "DateGreaterThanEquals" => DateGreaterThanEquals,
        "Bool" => Bool,
        "IpAddress" => IpAddress,
        "NotIpAddress" => NotIpAddress,
        "ArnEquals" => ArnEquals,
        "ArnNotEquals" => ArnNotEquals,
        "ArnLike" => ArnLike,
        "ArnNotLike" => ArnNotLike,
        "Null" => Null,
        _ => return None,
    })
}

/// Condition values may be JSON strings, numbers or booleans; IAM compares their text.
fn scalar_strings(value: &Value, key: &str) -> Result<Vec<String>, PolicyError> {
    let as_text = |v: &Value| match v {
        Value::Bool(b) => Some(b.to_string()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    };
    match value {
        Value::Bool(_) | Value::Number(_) => Ok(as_text(value).into_iter().collect()),
        Value::Array(list) if list.iter().any(|v| !v.is_string()) => list
            .iter()
            .map(|v| {
                v.as_str()
                    .map(str::to_owned)
                    .or_else(|| as_text(v))
                    .ok_or_else(|| malformed(format!("a value of {key} is not a scalar")))
            })
            .collect(),
        _ => strings(value, key),
    }
}

/// Refuses values an operator can never compare with (a bad number, date, address).
fn check_values(operator: Operator, values: &[String], key: &str) -> Result<(), PolicyError> {
    use Operator::*;
    let bad = |what: &str| Err(malformed(format!("{key}: a value is not {what}")));
    match operator {
        NumericEquals
        | NumericNotEquals
        | NumericLessThan
        | NumericLessThanEquals
        | NumericGreaterThan
        | NumericGreaterThanEquals
            if values.iter().any(|v| v.parse::<f64>().is_err()) =>
        {
            bad("a number")
        }
        DateEquals
        | DateNotEquals
        | DateLessThan
        | DateLessThanEquals
        | DateGreaterThan
        | DateGreaterThanEquals
            if values.iter().any(|v| date(v).is_none()) =>
        {
            bad("a date")
        }
        IpAddress | NotIpAddress if values.iter().any(|v| Cidr::parse(v).is_none()) => {
            bad("an IP address or CIDR block")
        }
        Bool | Null if values.iter().any(|v| bool_value(v).is_none()) => bad("true or false"),
        _ => Ok(()),
    }
}

impl Condition {
    /// Whether the condition holds for `context`, with policy variables expanded by `expand`.
    pub fn holds(&self, context: &Context, expand: &dyn Fn(&str) -> String) -> bool {
        let values: Vec<String> = self.values.iter().map(|v| expand(v)).collect();
        self.holds_for(context, &values)
    }

    /// [`Condition::holds`] for an `expand` that leaves text without `${` as it is, so that
    /// values without a policy variable are used in place.
    pub(crate) fn holds_expanding(&self, context: &Context, expand: &Expand<'_>) -> bool {
        if !self.values.iter().any(|v| crate::evaluate::has_variable(v)) {
            return self.holds_for(context, &self.values);
        }
        let values: Vec<String> = self.values.iter().map(|v| expand(v).into_owned()).collect();
        self.holds_for(context, &values)
    }

    /// Whether the condition holds for `context`, given its values already expanded.
    fn holds_for(&self, context: &Context, values: &[String]) -> bool {
        let present = context.get(&self.key);
        if self.operator == Operator::Null {
            let absent = present.is_none_or(<[String]>::is_empty);
            return values.iter().any(|v| bool_value(v) == Some(absent));
        }
        let Some(present) = present.filter(|p| !p.is_empty()) else {
            return match self.set {
                SetQualifier::ForAllValues => true,
                SetQualifier::ForAnyValue => self.if_exists,
                SetQualifier::Single => self.if_exists || negated(self.operator),
            };
        };
        let one = |actual: &str| single(self.operator, actual, values);
        match self.set {
            SetQualifier::ForAllValues => present.iter().all(|a| one(a)),
            SetQualifier::ForAnyValue => present.iter().any(|a| one(a)),
            // A negated operator holds when no request value matches; the others when one does.
            SetQualifier::Single if negated(self.operator) => present.iter().all(|a| one(a)),
            SetQualifier::Single => present.iter().any(|a| one(a)),
        }
    }
}

fn negated(operator: Operator) -> bool {
    use Operator::*;
    matches!(
        operator,
        StringNotEquals
            | StringNotEqualsIgnoreCase
            | StringNotLike
            | NumericNotEquals
            | DateNotEquals
            | NotIpAddress
            | ArnNotEquals
            | ArnNotLike
    )
}

/// Whether one request value satisfies the operator against the policy's values.
fn single(operator: Operator, actual: &str, values: &[String]) -> bool {
    use Operator::*;
    let any = |f: &dyn Fn(&str) -> bool| values.iter().any(|v| f(v));
    let number = |f: &dyn Fn(f64, f64) -> bool| match actual.parse::<f64>() {
        Ok(a) => any(&|v| v.parse::<f64>().is_ok_and(|v| f(a, v))),
        Err(_) => false,
    };
    let when = |f: &dyn Fn(i128, i128) -> bool| match date(actual) {
        Some(a) => any(&|v| date(v).is_some_and(|v| f(a, v))),
        None => false,
    };
    match operator {
        StringEquals | ArnEquals => any(&|v| v == actual),
        StringNotEquals | ArnNotEquals => !any(&|v| v == actual),
        StringEqualsIgnoreCase => any(&|v| v.eq_ignore_ascii_case(actual)),
        StringNotEqualsIgnoreCase => !any(&|v| v.eq_ignore_ascii_case(actual)),
        StringLike | ArnLike => any(&|v| wildcard::matches(v, actual, false)),
        StringNotLike | ArnNotLike => !any(&|v| wildcard::matches(v, actual, false)),
        NumericEquals => number(&|a, v| a == v),
        NumericNotEquals => !number(&|a, v| a == v),
        NumericLessThan => number(&|a, v| a < v),
        NumericLessThanEquals => number(&|a, v| a <= v),
        NumericGreaterThan => number(&|a, v| a > v),
        NumericGreaterThanEquals => number(&|a, v| a >= v),
        DateEquals => when(&|a, v| a == v),
        DateNotEquals => !when(&|a, v| a == v),
        DateLessThan => when(&|a, v| a < v),
        DateLessThanEquals => when(&|a, v| a <= v),
        DateGreaterThan => when(&|a, v| a > v),
        DateGreaterThanEquals => when(&|a, v| a >= v),
        Bool => any(&|v| bool_value(v).is_some() && bool_value(v) == bool_value(actual)),
        IpAddress => in_any_block(actual, values),
        NotIpAddress => !in_any_block(actual, values),
        Null => false,
    }
}

fn bool_value(text: &str) -> Option<bool> {
    if text.eq_ignore_ascii_case("true") {
        Some(true)
    } else if text.eq_ignore_ascii_case("false") {
        Some(false)
    } else {
        None
    }
}

/// A date as nanoseconds since the epoch: RFC 3339, or whole seconds since the epoch.
fn date(text: &str) -> Option<i128> {
    if let Ok(seconds) = text.parse::<i64>() {
        return Some(i128::from(seconds) * 1_000_000_000);
    }
    let format = time::format_description::well_known::Rfc3339;
    time::OffsetDateTime::parse(text, &format)
        .ok()
        .map(time::OffsetDateTime::unix_timestamp_nanos)
}

fn in_any_block(actual: &str, blocks: &[String]) -> bool {
    let Ok(address) = actual.parse::<IpAddr>() else {
        return false;
    };
    blocks
        .iter()
        .filter_map(|b| Cidr::parse(b))
        .any(|block| block.contains(address))
}

/// An address block: an address and a prefix length.
struct Cidr {
    base: IpAddr,
    bits: u32,
}

impl Cidr {
    fn parse(text: &str) -> Option<Cidr> {
        let (address, bits) = match text.split_once('/') {
            Some((a, b)) => (a, Some(b.parse::<u32>().ok()?)),
            None => (text, None),
        };
        let base: IpAddr = address.parse().ok()?;
        let max = if base.is_ipv4() { 32 } else { 128 };
        let bits = bits.unwrap_or(max);
        (bits <= max).then_some(Cidr { base, bits })
    }

    fn contains(&self, address: IpAddr) -> bool {
        match (self.base, address) {
            (IpAddr::V4(base), IpAddr::V4(a)) => prefix_equal(
                u128::from(u32::from(base)),
                u128::from(u32::from(a)),
                32,
                self.bits,
            ),
            (IpAddr::V6(base), IpAddr::V6(a)) => {
                prefix_equal(u128::from(base), u128::from(a), 128, self.bits)
            }
            _ => false,
        }
    }
}

fn prefix_equal(a: u128, b: u128, width: u32, bits: u32) -> bool {
    let shift = width - bits;
    a.checked_shr(shift).unwrap_or(0) == b.checked_shr(shift).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conditions(json: &str) -> Vec<Condition> {
        parse(&serde_json::from_str(json).unwrap()).unwrap()
    }

    fn holds(json: &str, context: &Context) -> bool {
        conditions(json)
            .iter()
            .all(|c| c.holds(context, &|v| v.to_owned()))
    }

    #[test]
    fn operators_compare_as_iam_does() {
        let mut ctx = Context::new();
        ctx.set("aws:SourceIp", "10.1.2.3")
            .set("s3:max-keys", "50")
            .set("aws:CurrentTime", "2026-12-04T00:00:00Z")
            .set("aws:SecureTransport", "true")
            .set("s3:prefix", "home/alice/");
        for (json, want) in [
            (r#"{"StringEquals": {"s3:prefix": "home/alice/"}}"#, true),
            (r#"{"StringLike": {"S3:Prefix": "home/*"}}"#, true),
            (r#"{"StringNotLike": {"s3:prefix": "home/*"}}"#, false),
            (r#"{"NumericLessThanEquals": {"s3:max-keys": 100}}"#, true),
            (r#"{"NumericGreaterThan": {"s3:max-keys": "100"}}"#, false),
            (
                r#"{"DateLessThan": {"aws:CurrentTime": "2027-01-01T00:00:00Z"}}"#,
                true,
            ),
            (r#"{"Bool": {"aws:SecureTransport": false}}"#, false),
            (r#"{"IpAddress": {"aws:SourceIp": ["10.0.0.0/8"]}}"#, true),
            (
                r#"{"NotIpAddress": {"aws:SourceIp": "10.1.0.0/16"}}"#,
                false,
            ),
            (r#"{"IpAddress": {"aws:SourceIp": "::1/128"}}"#, false),
            (r#"{"Null": {"aws:username": "true"}}"#, true),
            (r#"{"Null": {"s3:prefix": "true"}}"#, false),
            (r#"{"StringEquals": {"aws:username": "bob"}}"#, false),
            (r#"{"StringEqualsIfExists": {"aws:username": "bob"}}"#, true),
            (r#"{"StringNotEquals": {"aws:username": "bob"}}"#, true),
        ] {
            assert_eq!(holds(json, &ctx), want, "{json}");
        }
    }

    #[test]
    fn set_qualifiers() {
        let mut ctx = Context::new();
        ctx.set_all("aws:TagKeys", vec!["team".into(), "cost".into()]);
        let any = r#"{"ForAnyValue:StringEquals": {"aws:TagKeys": ["team"]}}"#;
        let all = r#"{"ForAllValues:StringEquals": {"aws:TagKeys": ["team"]}}"#;
        let all_both = r#"{"ForAllValues:StringEquals": {"aws:TagKeys": ["team", "cost"]}}"#;
        assert!(holds(any, &ctx));
        assert!(!holds(all, &ctx));
        assert!(holds(all_both, &ctx));
        assert!(holds(all, &Context::new()), "an absent key is in every set");
        assert!(!holds(any, &Context::new()));
    }

    #[test]
    fn bad_values_are_refused() {
        for json in [
            r#"{"NumericEquals": {"k": "ten"}}"#,
            r#"{"DateEquals": {"k": "yesterday"}}"#,
            r#"{"IpAddress": {"k": "10.0.0.0/33"}}"#,
            r#"{"Bool": {"k": "maybe"}}"#,
            r#"{"StringMatches": {"k": "x"}}"#,
            r#"{"ForSomeValues:StringEquals": {"k": "x"}}"#,
        ] {
            assert!(
                parse(&serde_json::from_str(json).unwrap()).is_err(),
                "{json}"
            );
        }
    }
}
