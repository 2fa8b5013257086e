//! Parsed policy documents, keyed by their text: a document is parsed once however many
//! requests it decides, and since the key is the text itself the cache can never be stale.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use policy::{Policy, PolicyError};

/// How many distinct documents are kept; past it the cache starts over.
const CAPACITY: usize = 4096;

/// Parsed documents by text.
#[derive(Default)]
pub struct PolicyCache {
    parsed: Mutex<HashMap<String, Arc<Policy>>>,
}

impl PolicyCache {
    /// The parsed form of `document`, parsing it on first sight.
    pub fn get_or_parse(&self, document: &str) -> Result<Arc<Policy>, PolicyError> {
        if let Some(policy) = self.lock().get(document) {
            return Ok(Arc::clone(policy));
        }
        let policy = Arc::new(Policy::parse(document)?);
        let mut parsed = self.lock();
        if parsed.len() >= CAPACITY {
            parsed.clear();
        }
        parsed.insert(document.to_owned(), Arc::clone(&policy));
        Ok(policy)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<Policy>>> {
        // A panic while holding the lock cannot leave the map half-changed.
        self.parsed.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &str = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:*",
        "Resource":"*"}}"#;

    #[test]
    fn parses_once_and_refuses_malformed() {
        let cache = PolicyCache::default();
        let first = cache.get_or_parse(DOC).unwrap();
        let second = cache.get_or_parse(DOC).unwrap();
        assert!(Arc::ptr_eq(&first, &second));
        assert!(cache.get_or_parse("{").is_err());
    }
}
