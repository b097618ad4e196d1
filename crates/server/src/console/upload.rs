//! Reading a `multipart/form-data` form (the CSV import's file and CSRF token) without a
//! multipart library: the browser's encoding is simple, and the body is bounded before parsing.

/// One part of a form: its field name and its bytes.
#[derive(Debug, PartialEq, Eq)]
pub struct Part {
    pub name: String,
    pub data: Vec<u8>,
}

/// The boundary of a `multipart/form-data` content type.
pub fn boundary(content_type: &str) -> Option<String> {
    let (kind, params) = content_type.split_once(';')?;
    if !kind.trim().eq_ignore_ascii_case("multipart/form-data") {
        return None;
    }
    params.split(';').find_map(|param| {
        let (key, value) = param.trim().split_once('=')?;
        key.eq_ignore_ascii_case("boundary")
            .then(|| value.trim_matches('"').to_string())
            .filter(|b| !b.is_empty() && b.len() <= 70)
    })
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack
        .windows(needle.len())
        .position(|window| window == needle)
}

/// The `name` of a part from its `Content-Disposition` header.
fn part_name(headers: &str) -> Option<String> {
    headers.lines().find_map(|line| {
        let (key, value) = line.split_once(':')?;
        if !key.trim().eq_ignore_ascii_case("content-disposition") {
            return None;
        }
        value.split(';').find_map(|param| {
            let (k, v) = param.trim().split_once('=')?;
            (k == "name").then(|| v.trim_matches('"').to_string())
        })
    })
}

/// Splits a body into its parts; `None` when it is not well formed.
pub fn parts(body: &[u8], boundary: &str) -> Option<Vec<Part>> {
    let delimiter = format!("--{boundary}");
    let mut rest = &body[find(body, delimiter.as_bytes())? + delimiter.len()..];
    let mut parts = Vec::new();
    loop {
        if rest.starts_with(b"--") {
            return Some(parts);
        }
        rest = rest.strip_prefix(b"\r\n")?;
        let header_end = find(rest, b"\r\n\r\n")?;
        let headers = std::str::from_utf8(&rest[..header_end]).ok()?;
        let content = &rest[header_end + 4..];
        let next = format!("\r\n{delimiter}");
        let end = find(content, next.as_bytes())?;
        parts.push(Part {
            name: part_name(headers)?,
            data: content[..end].to_vec(),
        });
        rest = &content[end + next.len()..];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_browser_form_splits_into_its_fields() {
        let ct = "multipart/form-data; boundary=----WebKitFormBoundaryX1";
        let b = boundary(ct).expect("boundary");
        assert_eq!(b, "----WebKitFormBoundaryX1");
        let body = b"------WebKitFormBoundaryX1\r\n\
Content-Disposition: form-data; name=\"_csrf\"\r\n\r\ntok\r\n\
------WebKitFormBoundaryX1\r\n\
Content-Disposition: form-data; name=\"file\"; filename=\"v.csv\"\r\n\
Content-Type: text/csv\r\n\r\na;b\r\nc;d\r\n\r\n\
------WebKitFormBoundaryX1--\r\n";
        let found = parts(body, &b).expect("parts");
        assert_eq!(found.len(), 2);
        assert_eq!(
            found[0],
            Part {
                name: "_csrf".into(),
                data: b"tok".to_vec()
            }
        );
        assert_eq!(found[1].name, "file");
        assert_eq!(found[1].data, b"a;b\r\nc;d\r\n".to_vec());
        assert!(boundary("application/x-www-form-urlencoded").is_none());
        assert!(parts(b"garbage", &b).is_none());
    }
}
