//! Just enough XML reading for S3 responses: the text of elements by name, in order.

/// The text of every `<tag>...</tag>`, unescaped, in document order.
pub fn values(xml: &str, tag: &str) -> Vec<String> {
    elements(xml, tag)
        .into_iter()
        .map(|raw| unescape(&raw))
        .collect()
}

/// The text of the first `<tag>...</tag>`, unescaped.
pub fn value(xml: &str, tag: &str) -> Option<String> {
    values(xml, tag).into_iter().next()
}

/// The raw inner text of every `<tag>...</tag>` (also `<tag/>` as empty), in document order.
pub fn elements(xml: &str, tag: &str) -> Vec<String> {
    let (open, empty, close) = (format!("<{tag}>"), format!("<{tag}/>"), format!("</{tag}>"));
    let mut found = Vec::new();
    let mut rest = xml;
    loop {
        let next_open = rest.find(&open).map(|i| (i, false));
        let next_empty = rest.find(&empty).map(|i| (i, true));
        let next = match (next_open, next_empty) {
            (Some(a), Some(b)) => Some(if a.0 < b.0 { a } else { b }),
            (a, b) => a.or(b),
        };
        let Some((at, is_empty)) = next else {
            return found;
        };
        if is_empty {
            found.push(String::new());
            rest = &rest[at + empty.len()..];
            continue;
        }
        let inner = &rest[at + open.len()..];
        let Some(end) = inner.find(&close) else {
            return found;
        };
        found.push(inner[..end].to_owned());
        rest = &inner[end + close.len()..];
    }
}

/// Replaces the five XML entities and numeric character references.
pub fn unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(at) = rest.find('&') {
        out.push_str(&rest[..at]);
        let tail = &rest[at..];
        let Some(end) = tail.find(';') else { break };
        out.push_str(&entity(&tail[1..end]).unwrap_or_else(|| tail[..=end].to_owned()));
        rest = &tail[end + 1..];
    }
    out.push_str(rest);
    out
}

fn entity(name: &str) -> Option<String> {
    let c = match name {
        "amp" => '&',
        "lt" => '<',
        "gt" => '>',
        "quot" => '"',
        "apos" => '\'',
        _ => {
            let code = match name.strip_prefix("#x").or_else(|| name.strip_prefix("#X")) {
                Some(hex) => u32::from_str_radix(hex, 16).ok()?,
                None => name.strip_prefix('#')?.parse().ok()?,
            };
            char::from_u32(code)?
        }
    };
    Some(c.to_string())
}

/// Escapes text for an XML element.
pub fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_values_and_entities() {
        let xml = "<a><Key>x&amp;y</Key><Key/><Key>&#x41;&#66;</Key></a>";
        assert_eq!(values(xml, "Key"), ["x&y", "", "AB"]);
        assert_eq!(value(xml, "Nope"), None);
    }
}
