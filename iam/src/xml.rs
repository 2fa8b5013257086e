//! A small XML writer for IAM's query-protocol responses.
//!
//! Handlers build the inside of `<{Action}Result>` with [`Xml`]; [`response`] wraps it in the
//! `<{Action}Response>` envelope with the request id. All text is escaped; element names are
//! constants of this crate.

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

/// The XML namespace of every IAM response.
pub(crate) const NAMESPACE: &str = "https://iam.amazonaws.com/doc/2010-05-08/";

/// Everything but RFC 3986's unreserved characters is percent-encoded.
const NOT_UNRESERVED: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// An XML fragment being written.
#[derive(Debug, Default)]
pub(crate) struct Xml {
    out: String,
}

impl Xml {
    pub fn new() -> Xml {
        Xml::default()
    }

    /// `<tag>` (the opening may carry attributes; the caller closes with the bare name).
    pub fn open(&mut self, tag: &str) -> &mut Xml {
        self.out.push('<');
        self.out.push_str(tag);
        self.out.push('>');
        self
    }

    /// `</tag>`.
    pub fn close(&mut self, tag: &str) -> &mut Xml {
        self.out.push_str("</");
        self.out.push_str(tag);
        self.out.push('>');
        self
    }

    /// `<tag>escaped value</tag>`.
    pub fn text(&mut self, tag: &str, value: &str) -> &mut Xml {
        self.open(tag);
        escape_into(&mut self.out, value);
        self.close(tag)
    }

    /// Escaped text without an element (the text of a `member`).
    pub fn value(&mut self, value: &str) -> &mut Xml {
        escape_into(&mut self.out, value);
        self
    }

    /// `<tag>...</tag>` with `body` writing the inside.
    pub fn nest(&mut self, tag: &str, body: impl FnOnce(&mut Xml)) -> &mut Xml {
        self.open(tag);
        body(self);
        self.close(tag)
    }

    /// `<tag><member>...</member>...</tag>`, one member per item.
    pub fn list<T>(&mut self, tag: &str, items: &[T], each: impl Fn(&mut Xml, &T)) -> &mut Xml {
        self.nest(tag, |x| {
            for item in items {
                x.nest("member", |m| each(m, item));
            }
        })
    }

    /// A list followed by `<IsTruncated>false</IsTruncated>` (pagination is not implemented).
    pub fn full_list<T>(
        &mut self,
        tag: &str,
        items: &[T],
        each: impl Fn(&mut Xml, &T),
    ) -> &mut Xml {
        self.list(tag, items, each).text("IsTruncated", "false")
    }

    pub fn finish(self) -> String {
        self.out
    }
}

/// The full response body of `action`: its result (if any) and the request id.
pub(crate) fn response(action: &str, result: Option<Xml>, request_id: &str) -> String {
    let envelope = format!("{action}Response");
    let mut out = Xml::new();
    out.open(&format!(r#"{envelope} xmlns="{NAMESPACE}""#));
    if let Some(result) = result {
        let tag = format!("{action}Result");
        out.open(&tag);
        out.out.push_str(&result.out);
        out.close(&tag);
    }
    out.nest("ResponseMetadata", |m| {
        m.text("RequestId", request_id);
    });
    out.close(&envelope);
    out.finish()
}

/// A policy document as IAM returns it: RFC 3986 percent-encoded.
pub(crate) fn url_encode(document: &str) -> String {
    utf8_percent_encode(document, NOT_UNRESERVED).to_string()
}

fn escape_into(out: &mut String, value: &str) {
    for c in value.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\r' => out.push_str("&#13;"),
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn escapes_text() {
        let mut x = Xml::new();
        x.text("A", r#"<b>&"c'"#);
        assert_eq!(x.finish(), "<A>&lt;b&gt;&amp;&quot;c&apos;</A>");
    }

    #[test]
    fn wraps_a_result() {
        let mut result = Xml::new();
        result.text("X", "1");
        let body = response("GetUser", Some(result), "id<1>");
        assert_eq!(
            body,
            format!(
                r#"<GetUserResponse xmlns="{NAMESPACE}"><GetUserResult><X>1</X></GetUserResult>"#
            ) + "<ResponseMetadata><RequestId>id&lt;1&gt;</RequestId></ResponseMetadata>"
                + "</GetUserResponse>"
        );
        assert!(!response("DeleteUser", None, "r").contains("Result"));
    }

    #[test]
    fn url_encodes_like_rfc3986() {
        assert_eq!(
            url_encode(r#"{"a": "b~c-d_e.f/*"}"#),
            "%7B%22a%22%3A%20%22b~c-d_e.f%2F%2A%22%7D"
        );
    }

    proptest! {
        #[test]
        fn escaped_text_has_no_markup(s in ".*") {
            let mut x = Xml::new();
            x.text("T", &s);
            let out = x.finish();
            let inner = &out[3..out.len() - 4];
            prop_assert!(!inner.contains('<') && !inner.contains('>'));
        }

        #[test]
        fn url_encoding_is_reversible(s in ".*") {
            let encoded = url_encode(&s);
            let decoded = percent_encoding::percent_decode_str(&encoded).decode_utf8().unwrap();
            prop_assert_eq!(decoded, s);
        }
    }
}
