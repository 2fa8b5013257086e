//! Listing: ListObjectsV2 and ListObjects (v1).
//!
//! Takes the backend's key stream (already in S3 order, already past the start key), folds keys
//! into common prefixes at the delimiter, stops at max-keys, and reports each object's plaintext
//! size and ETag from its sealed metadata (the backend knows neither: it holds ciphertext).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as TOKEN;
use futures::{StreamExt, TryStreamExt};
use http::Response;

use super::Call;
use super::bucket::xml_response;
use super::route;
use super::xml;
use crate::backend::{ListStream, StoredObject};
use crate::error::Error;
use crate::seal;
use crate::server::ResponseBody;

/// S3's default and largest page.
const MAX_KEYS: usize = 1000;
/// How many objects' metadata a page reads at once.
const METADATA_READS_IN_FLIGHT: usize = 16;

/// The query of a listing request, both versions.
pub struct Query {
    pub prefix: String,
    pub delimiter: Option<String>,
    pub max_keys: usize,
    pub encoding_url: bool,
    /// v1: marker; v2: start-after.
    pub start_after: Option<String>,
    /// v2 only.
    pub continuation_token: Option<String>,
    pub fetch_owner: bool,
}

impl Query {
    /// Reads the listing parameters from the request's query string.
    pub fn parse(params: &route::Query, v2: bool) -> Result<Query, Error> {
        let get = |name: &str| params.get(name).map(str::to_owned);
        let max_keys = match get("max-keys") {
            None => MAX_KEYS,
            Some(value) => value
                .parse::<i64>()
                .ok()
                .filter(|n| *n >= 0)
                .map(|n| usize::try_from(n).unwrap_or(MAX_KEYS).min(MAX_KEYS))
                .ok_or(Error::InvalidArgument {
                    name: "max-keys",
                    reason: "must be a non-negative integer",
                })?,
        };
        let encoding_url = match get("encoding-type").as_deref() {
            None => false,
            Some("url") => true,
            Some(_) => {
                return Err(Error::InvalidArgument {
                    name: "encoding-type",
                    reason: "must be url",
                });
            }
        };
        Ok(Query {
            prefix: get("prefix").unwrap_or_default(),
            delimiter: get("delimiter").filter(|d| !d.is_empty()),
            max_keys,
            encoding_url,
            start_after: if v2 {
                get("start-after")
            } else {
                get("marker")
            },
            continuation_token: if v2 { get("continuation-token") } else { None },
            fetch_owner: !v2 || get("fetch-owner").as_deref() == Some("true"),
        })
    }

    /// Where the listing resumes: the continuation token wins over start-after, as in S3.
    fn resume_after(&self) -> Result<Option<String>, Error> {
        match &self.continuation_token {
            Some(token) => decode_token(token).map(Some),
            None => Ok(self.start_after.clone().filter(|s| !s.is_empty())),
        }
    }

    /// The common prefix `key` falls under, if a delimiter folds it.
    fn common_prefix<'k>(&self, key: &'k str) -> Option<&'k str> {
        let delimiter = self.delimiter.as_deref()?;
        let rest = key.get(self.prefix.len()..)?;
        let at = rest.find(delimiter)?;
        key.get(..self.prefix.len() + at + delimiter.len())
    }
}

/// ListObjectsV2 (`v2`) or ListObjects.
pub async fn list(
    call: &Call<'_>,
    bucket: &str,
    v2: bool,
) -> Result<Response<ResponseBody>, Error> {
    let query = Query::parse(&call.route.query, v2)?;
    call.app.backend.head_bucket(bucket).await?;
    let resume = query.resume_after()?;
    let keys = call
        .app
        .backend
        .list(bucket, &query.prefix, resume.as_deref())
        .await?;
    let raw = collect_page(&query, keys, resume).await?;

    let next = raw.is_truncated.then(|| raw.last.clone()).flatten();
    let page = xml::ListPage {
        bucket: bucket.to_owned(),
        prefix: query.prefix.clone(),
        delimiter: query.delimiter.clone(),
        max_keys: query.max_keys,
        is_truncated: raw.is_truncated,
        url_encoded: query.encoding_url,
        objects: describe(call, bucket, raw.entries_raw).await,
        common_prefixes: raw.common_prefixes,
    };
    let owner = call.owner();
    let body = if v2 {
        let tokens = xml::ListV2Tokens {
            continuation_token: query.continuation_token.clone(),
            next_continuation_token: next.as_deref().map(encode_token),
            start_after: query.start_after.clone(),
        };
        xml::list_objects_v2(&page, &tokens, query.fetch_owner.then_some(&owner))
    } else {
        let marker = query.start_after.clone().unwrap_or_default();
        xml::list_objects_v1(&page, &marker, next.as_deref(), &owner)
    };
    Ok(xml_response(body))
}

/// A page before the objects' metadata was read.
struct RawPage {
    entries_raw: Vec<StoredObject>,
    common_prefixes: Vec<String>,
    is_truncated: bool,
    last: Option<String>,
}

async fn collect_page(
    query: &Query,
    mut keys: ListStream,
    resume: Option<String>,
) -> Result<RawPage, Error> {
    let mut page = RawPage {
        entries_raw: Vec::new(),
        common_prefixes: Vec::new(),
        is_truncated: false,
        last: None,
    };
    // Resuming after a common prefix: the keys under it were already reported.
    let mut folded: Option<String> = resume.filter(|r| query.common_prefix(r) == Some(r.as_str()));
    while let Some(object) = keys.try_next().await? {
        let prefix = query.common_prefix(&object.key).map(str::to_owned);
        if prefix.is_some() && prefix == folded {
            continue;
        }
        if page.entries_raw.len() + page.common_prefixes.len() >= query.max_keys {
            page.is_truncated = query.max_keys > 0;
            break;
        }
        match prefix {
            Some(prefix) => {
                page.last = Some(prefix.clone());
                page.common_prefixes.push(prefix.clone());
                folded = Some(prefix);
            }
            None => {
                page.last = Some(object.key.clone());
                page.entries_raw.push(object);
            }
        }
    }
    Ok(page)
}

/// Plaintext size and ETag of each listed object, read from their metadata a few at a time.
async fn describe(
    call: &Call<'_>,
    bucket: &str,
    objects: Vec<StoredObject>,
) -> Vec<xml::ObjectEntry> {
    let described: Vec<Option<xml::ObjectEntry>> = futures::stream::iter(objects)
        .map(|object| describe_one(call, bucket, object))
        .buffered(METADATA_READS_IN_FLIGHT)
        .collect()
        .await;
    described.into_iter().flatten().collect()
}

async fn describe_one(
    call: &Call<'_>,
    bucket: &str,
    object: StoredObject,
) -> Option<xml::ObjectEntry> {
    match super::object::open(call, bucket, &object.key).await {
        Ok(opened) => Some(xml::ObjectEntry {
            key: object.key,
            last_modified: opened.last_modified(),
            etag: opened.etag,
            size: opened.meta.size,
            storage_class: opened.headers.storage_class().to_owned(),
        }),
        // Deleted since the listing was read: S3 would not list it either.
        Err(Error::Backend(crate::backend::BackendError::NoSuchKey { .. })) => None,
        Err(error) => {
            tracing::warn!(bucket, key = %object.key, error = %error, "listed object unreadable");
            Some(xml::ObjectEntry {
                size: seal::plaintext_len(object.size).unwrap_or(0),
                key: object.key,
                last_modified: object.last_modified.into(),
                etag: "\"\"".to_owned(),
                storage_class: "STANDARD".to_owned(),
            })
        }
    }
}

fn encode_token(last: &str) -> String {
    TOKEN.encode(last.as_bytes())
}

fn decode_token(token: &str) -> Result<String, Error> {
    TOKEN
        .decode(token)
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .ok_or(Error::InvalidArgument {
            name: "continuation-token",
            reason: "the continuation token is not valid",
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(prefix: &str, delimiter: Option<&str>, max_keys: usize) -> Query {
        Query {
            prefix: prefix.to_owned(),
            delimiter: delimiter.map(str::to_owned),
            max_keys,
            encoding_url: false,
            start_after: None,
            continuation_token: None,
            fetch_owner: false,
        }
    }

    fn stream(keys: &[&str]) -> ListStream {
        let objects: Vec<Result<StoredObject, crate::backend::BackendError>> = keys
            .iter()
            .map(|key| {
                Ok(StoredObject {
                    key: (*key).to_owned(),
                    size: 56,
                    last_modified: time::OffsetDateTime::UNIX_EPOCH,
                    backend_etag: None,
                })
            })
            .collect();
        futures::stream::iter(objects).boxed()
    }

    fn names(page: &RawPage) -> (Vec<&str>, Vec<&str>) {
        (
            page.entries_raw.iter().map(|o| o.key.as_str()).collect(),
            page.common_prefixes.iter().map(String::as_str).collect(),
        )
    }

    #[tokio::test]
    async fn folds_keys_at_the_delimiter() {
        let keys = ["a", "b/1", "b/2", "c/x/1", "d"];
        let page = collect_page(&query("", Some("/"), 1000), stream(&keys), None)
            .await
            .unwrap();
        assert_eq!(names(&page), (vec!["a", "d"], vec!["b/", "c/"]));
        assert!(!page.is_truncated);
    }

    #[tokio::test]
    async fn a_common_prefix_counts_once_towards_max_keys() {
        let keys = ["b/1", "b/2", "b/3", "c"];
        let page = collect_page(&query("", Some("/"), 1), stream(&keys), None)
            .await
            .unwrap();
        assert_eq!(names(&page), (vec![], vec!["b/"]));
        assert!(page.is_truncated);
        assert_eq!(page.last.as_deref(), Some("b/"));
    }

    #[tokio::test]
    async fn resuming_after_a_common_prefix_skips_its_keys() {
        let keys = ["b/2", "b/3", "c"];
        let resume = Some("b/".to_owned());
        let page = collect_page(&query("", Some("/"), 10), stream(&keys), resume)
            .await
            .unwrap();
        assert_eq!(names(&page), (vec!["c"], vec![]));
    }

    #[tokio::test]
    async fn the_last_key_of_a_full_page_is_not_truncated() {
        let page = collect_page(&query("", None, 2), stream(&["a", "b"]), None)
            .await
            .unwrap();
        assert!(!page.is_truncated);
    }

    #[test]
    fn tokens_round_trip() {
        let key = "dir/ünïcode key+%";
        assert_eq!(decode_token(&encode_token(key)).unwrap(), key);
        assert!(decode_token("***").is_err());
    }

    #[test]
    fn delimiters_fold_after_the_prefix() {
        let q = query("photos/", Some("/"), 1000);
        assert_eq!(q.common_prefix("photos/2026/a.jpg"), Some("photos/2026/"));
        assert_eq!(q.common_prefix("photos/a.jpg"), None);
    }
}
