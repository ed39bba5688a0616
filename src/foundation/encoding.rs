//! Decoding shared by forms, HTTP Basic credentials and SMTP URLs.

/// `%XX` escapes decoded (a `+` stays a `+`); None for a bad escape or bytes that are not
/// UTF-8.
pub(crate) fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        if bytes[index] == b'%' {
            let hex = text.get(index + 1..index + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            index += 3;
        } else {
            out.push(bytes[index]);
            index += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncated_percent_escapes_are_refused() {
        assert_eq!(percent_decode("abc%4"), None);
        assert_eq!(percent_decode("a%41"), Some("aA".to_owned()));
    }
}
