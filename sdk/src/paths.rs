//! Building request paths: names in path segments and filters in query strings are
//! percent-encoded, so whatever a user types reaches the server as typed.

/// Percent-encodes everything but RFC 3986's unreserved characters.
pub(crate) fn enc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(byte as char)
            }
            _ => out.push_str(&format!("%{byte:02X}")),
        }
    }
    out
}

/// `base?limit=…&cursor=…&key=value…`, leaving out absent and empty filters.
pub(crate) fn list(
    base: &str,
    filters: &[(&str, Option<&str>)],
    limit: u32,
    cursor: Option<&str>,
) -> String {
    let mut path = format!("{base}?limit={limit}");
    let cursor = ("cursor", cursor);
    for (key, value) in filters.iter().chain(std::iter::once(&cursor)) {
        if let Some(value) = value.filter(|v| !v.is_empty()) {
            path.push_str(&format!("&{key}={}", enc(value)));
        }
    }
    path
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_filters_are_encoded() {
        assert_eq!(enc("s3-prod_1.x~"), "s3-prod_1.x~");
        assert_eq!(enc("a/b c?&é"), "a%2Fb%20c%3F%26%C3%A9");
        assert_eq!(
            list(
                "/api/v1/components",
                &[
                    ("type", Some("artifact_store")),
                    ("flavor", None),
                    ("name", Some(""))
                ],
                20,
                Some("abc=")
            ),
            "/api/v1/components?limit=20&type=artifact_store&cursor=abc%3D"
        );
    }
}
