//! Querying: streams the events that match a [`Filter`] out of the audit directory, file by
//! file, and formats them as table rows for the gateway's CLI.
//!
//! Query does not verify (run [`verify`](crate::verify) for that); it skips seal lines and a torn
//! last line, and yields an error for a complete line that does not decode, then goes on.

use std::path::Path;
use std::vec;

use time::OffsetDateTime;

use crate::file::{self, Lines, Listed};
use crate::line::{self, Kind};
use crate::{Decision, Error, Event};

/// Which events a [`query`] yields. Every field set must match; `Default` matches everything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filter {
    /// Events at or after this time.
    pub since: Option<OffsetDateTime>,
    /// Events before this time (exclusive).
    pub until: Option<OffsetDateTime>,
    /// The principal's ARN, exactly.
    pub principal: Option<String>,
    /// The action; `*` matches any run of characters, and case is ignored ("s3:Get*").
    pub action: Option<String>,
    /// A substring of the bucket, of `bucket/key`, of any resource ARN, or of the key id.
    pub resource: Option<String>,
    /// The master key id, exactly.
    pub key_id: Option<String>,
    /// How the request ended.
    pub result: Option<ResultFilter>,
}

/// How a request ended, for [`Filter::result`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResultFilter {
    /// Authorization allowed it.
    Allowed,
    /// Authorization denied it.
    Denied,
    /// It failed: status 400 or above.
    Error,
    /// It succeeded: status below 400.
    Ok,
}

impl Filter {
    /// Whether `event` passes this filter.
    pub fn matches(&self, event: &Event) -> bool {
        self.since.is_none_or(|since| event.time >= since)
            && self.until.is_none_or(|until| event.time < until)
            && self
                .principal
                .as_ref()
                .is_none_or(|p| *p == event.principal)
            && self.action.as_ref().is_none_or(|a| glob(a, &event.action))
            && self
                .resource
                .as_ref()
                .is_none_or(|r| names_resource(event, r))
            && self
                .key_id
                .as_ref()
                .is_none_or(|k| event.key_id.as_ref() == Some(k))
            && self.result.is_none_or(|r| result_matches(r, event))
    }
}

fn result_matches(result: ResultFilter, event: &Event) -> bool {
    match result {
        ResultFilter::Allowed => event.decision == Decision::Allow,
        ResultFilter::Denied => event.decision == Decision::Deny,
        ResultFilter::Error => event.status >= 400,
        ResultFilter::Ok => event.status < 400,
    }
}

fn names_resource(event: &Event, needle: &str) -> bool {
    let object = match (&event.bucket, &event.key) {
        (Some(bucket), Some(key)) => Some(format!("{bucket}/{key}")),
        _ => None,
    };
    let fields = [
        event.bucket.as_ref(),
        object.as_ref(),
        event.key_id.as_ref(),
    ]
    .into_iter();
    fields.flatten().any(|field| field.contains(needle))
        || event.resources.iter().any(|arn| arn.contains(needle))
}

/// Matches `text` against `pattern`, where `*` stands for any run of characters; ASCII case is
/// ignored.
fn glob(pattern: &str, text: &str) -> bool {
    let (pattern, text) = (pattern.to_ascii_lowercase(), text.to_ascii_lowercase());
    let mut parts: Vec<&str> = pattern.split('*').collect();
    let last = parts.pop().unwrap_or_default();
    let mut parts = parts.into_iter();
    let Some(first) = parts.next() else {
        return text == last;
    };
    let Some(mut rest) = text.strip_prefix(first) else {
        return false;
    };
    for part in parts {
        let Some(at) = rest.find(part) else {
            return false;
        };
        rest = rest.get(at + part.len()..).unwrap_or_default();
    }
    rest.ends_with(last)
}

/// Streams the events in `dir` that match `filter`, oldest first, one file open at a time.
///
/// # Errors
/// [`Error::Io`] if the directory cannot be listed; the iterator then yields [`Error::Io`] for a
/// file that cannot be read and [`Error::Parse`] for a line that does not decode.
pub fn query(dir: &Path, filter: &Filter) -> Result<Query, Error> {
    let files = file::list(dir)?.into_iter();
    Ok(Query {
        files,
        current: None,
        filter: filter.clone(),
    })
}

/// The iterator that [`query`] returns.
pub struct Query {
    files: vec::IntoIter<Listed>,
    current: Option<(Listed, Lines)>,
    filter: Filter,
}

impl Iterator for Query {
    type Item = Result<Event, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let Some((listed, lines)) = self.current.as_mut() else {
                let listed = self.files.next()?;
                match Lines::open(&listed.path) {
                    Ok(lines) => self.current = Some((listed, lines)),
                    Err(e) => return Some(Err(e)),
                }
                continue;
            };
            match next_event(listed, lines) {
                Ok(Some(Some(event))) if self.filter.matches(&event) => return Some(Ok(event)),
                Ok(Some(_)) => {}
                Ok(None) => self.current = None,
                Err(e) => return Some(Err(e)),
            }
        }
    }
}

/// The next line as an event: `None` at the end of the file, `Some(None)` for a line that is
/// not an event (a seal, a torn last line).
fn next_event(listed: &Listed, lines: &mut Lines) -> Result<Option<Option<Event>>, Error> {
    let Some(line) = lines.next_line()? else {
        return Ok(None);
    };
    if !line.complete {
        return Ok(Some(None));
    }
    let parse = |source| Error::Parse {
        file: listed.name.clone(),
        line: line.number,
        source,
    };
    let head = line::decode_head(line.bytes).map_err(parse)?;
    if head.kind != Kind::Event {
        return Ok(Some(None));
    }
    serde_json::from_slice(line.bytes)
        .map(Some)
        .map(Some)
        .map_err(parse)
}

const COLUMNS: [usize; 7] = [24, 6, 24, 40, 40, 5, 6];

/// The header line for [`format_table_row`].
pub fn table_header() -> String {
    let names = [
        "TIME",
        "SVC",
        "ACTION",
        "PRINCIPAL",
        "RESOURCE",
        "DEC",
        "STATUS",
    ];
    row(names.map(str::to_owned), "REQUEST ID")
}

/// One event as a fixed-width table row: time, service, action, principal, resource, decision,
/// status (with the error code), request id. Long cells are cut with `…`.
pub fn format_table_row(event: &Event) -> String {
    let time = event
        .time
        .format(&time::format_description::well_known::Rfc3339);
    let status = match &event.error_code {
        Some(code) => format!("{} {code}", event.status),
        None => event.status.to_string(),
    };
    let cells = [
        time.unwrap_or_default(),
        event.service.as_str().to_owned(),
        event.action.clone(),
        event.principal.clone(),
        resource_cell(event),
        event.decision.as_str().to_owned(),
        status,
    ];
    row(cells, &event.request_id)
}

fn resource_cell(event: &Event) -> String {
    if let Some(key_id) = &event.key_id {
        return match event.key_version {
            Some(version) => format!("{key_id} v{version}"),
            None => key_id.clone(),
        };
    }
    match (&event.bucket, &event.key, event.resources.first()) {
        (Some(bucket), Some(key), _) => format!("{bucket}/{key}"),
        (Some(bucket), None, _) => bucket.clone(),
        (None, _, Some(arn)) => arn.clone(),
        (None, _, None) => "-".to_owned(),
    }
}

fn row(cells: [String; 7], last: &str) -> String {
    let mut out = String::new();
    for (cell, width) in cells.iter().zip(COLUMNS) {
        out.push_str(&fit(cell, width));
        out.push(' ');
    }
    out.push_str(last);
    out
}

fn fit(cell: &str, width: usize) -> String {
    if cell.chars().count() <= width {
        return format!("{cell:<width$}");
    }
    let kept: String = cell.chars().take(width.saturating_sub(1)).collect();
    format!("{kept}…")
}

#[cfg(test)]
mod tests {
    use super::glob;

    #[test]
    fn glob_matches_wildcards() {
        assert!(glob("s3:Get*", "s3:GetObject"));
        assert!(glob("S3:*object", "s3:GetObject"));
        assert!(glob("*", "anything"));
        assert!(glob("kms:Decrypt", "kms:decrypt"));
        assert!(glob("s3:*Object*", "s3:PutObjectTagging"));
        assert!(!glob("s3:Get*", "kms:Get"));
        assert!(!glob("a*a", "a"));
        assert!(!glob("kms:Decrypt", "kms:DecryptX"));
    }
}
