//! Reading request bodies and query strings field by field, so every refusal names the field
//! it is about: JSON that does not parse is a 400, a field of the wrong type or form a 422
//! naming it. Unknown fields are ignored, so callers may send more than this version reads.

use std::collections::HashMap;

use actix_web::http::StatusCode;
use actix_web::web::Bytes;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use crate::foundation::time::rfc3339;
use crate::web::admin_api::error::ApiError;

/// A JSON object body's fields.
pub(crate) struct Fields(Map<String, Value>);

impl Fields {
    /// Parses the body of a request as a JSON object.
    pub(crate) fn parse(body: Result<Bytes, actix_web::Error>) -> Result<Self, ApiError> {
        let body = body.map_err(|error| {
            if error.as_response_error().status_code() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::payload_too_large()
            } else {
                ApiError::bad_request(format!("the request body could not be read: {error}"))
            }
        })?;
        match serde_json::from_slice(&body) {
            Ok(Value::Object(fields)) => {
                // PostgreSQL refuses NUL in text: the field is named here instead of failing there.
                if let Some((field, _)) = fields.iter().find(|(_, value)| contains_nul(value)) {
                    return Err(ApiError::invalid(field, "must not contain NUL characters"));
                }
                Ok(Self(fields))
            }
            Ok(_) => Err(ApiError::bad_request("the request body must be a JSON object")),
            Err(error) => Err(ApiError::bad_request(format!(
                "the request body is not valid JSON: {error}"
            ))),
        }
    }

    /// A field that may be absent or `null`.
    pub(crate) fn optional<T: DeserializeOwned>(
        &self,
        field: &str,
        expected: &str,
    ) -> Result<Option<T>, ApiError> {
        match self.0.get(field) {
            None | Some(Value::Null) => Ok(None),
            Some(value) => T::deserialize(value)
                .map(Some)
                .map_err(|_| ApiError::invalid(field, format_args!("must be {expected}"))),
        }
    }

    /// Whether the body names `field` at all, `null` included: for write-only fields where
    /// `null` clears and absence keeps.
    pub(crate) fn names(&self, field: &str) -> bool {
        self.0.contains_key(field)
    }

    pub(crate) fn required<T: DeserializeOwned>(&self, field: &str, expected: &str) -> Result<T, ApiError> {
        self.optional(field, expected)?
            .ok_or_else(|| ApiError::invalid(field, "is required"))
    }

    /// An RFC 3339 timestamp as Unix seconds, or `None` when absent or `null`.
    pub(crate) fn optional_time(&self, field: &str) -> Result<Option<i64>, ApiError> {
        self.optional::<String>(field, "an RFC 3339 timestamp")?
            .map(|text| rfc3339::parse(&text).ok_or_else(|| not_a_timestamp(field)))
            .transpose()
    }

    pub(crate) fn required_time(&self, field: &str) -> Result<i64, ApiError> {
        self.optional_time(field)?
            .ok_or_else(|| ApiError::invalid(field, "is required"))
    }
}

fn contains_nul(value: &Value) -> bool {
    match value {
        Value::String(text) => text.contains('\0'),
        Value::Array(items) => items.iter().any(contains_nul),
        Value::Object(fields) => fields
            .iter()
            .any(|(name, value)| name.contains('\0') || contains_nul(value)),
        _ => false,
    }
}

fn not_a_timestamp(field: &str) -> ApiError {
    ApiError::invalid(
        field,
        "must be an RFC 3339 timestamp such as 2026-07-01T20:00:00Z",
    )
}

/// A query string's parameters; a parameter given twice is refused rather than guessed at.
pub(crate) struct Query(HashMap<String, String>);

impl Query {
    pub(crate) fn parse(query_string: &str) -> Result<Self, ApiError> {
        let mut parameters = HashMap::new();
        for (name, value) in url::form_urlencoded::parse(query_string.as_bytes()) {
            let name = name.into_owned();
            if parameters.contains_key(&name) {
                return Err(ApiError::bad_request(format!(
                    "parameter {name} is given more than once"
                )));
            }
            parameters.insert(name, value.into_owned());
        }
        Ok(Self(parameters))
    }

    /// A parameter's value; an empty one counts as absent (`?actor=` filters nothing).
    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.0
            .get(name)
            .map(String::as_str)
            .filter(|value| !value.is_empty())
    }

    pub(crate) fn time(&self, name: &str) -> Result<Option<i64>, ApiError> {
        self.get(name)
            .map(|text| rfc3339::parse(text).ok_or_else(|| not_a_timestamp(name)))
            .transpose()
    }

    pub(crate) fn integer(&self, name: &str) -> Result<Option<i64>, ApiError> {
        self.get(name)
            .map(|text| {
                text.parse::<i64>()
                    .map_err(|_| ApiError::invalid(name, "must be an integer"))
            })
            .transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(json: &str) -> Fields {
        match Fields::parse(Ok(Bytes::from(json.to_owned()))) {
            Ok(fields) => fields,
            Err(error) => panic!("{error}"),
        }
    }

    fn message(error: ApiError) -> String {
        error.to_string()
    }

    #[test]
    fn a_field_of_the_wrong_type_is_named() {
        let body = fields(r#"{"rank": "high", "extra": 1}"#);
        let refused = body.required::<i32>("rank", "an integer").err().map(message);
        assert_eq!(
            refused.as_deref(),
            Some("invalid_field: rank: must be an integer")
        );
        let missing = body.required::<String>("name", "a string").err().map(message);
        assert_eq!(missing.as_deref(), Some("invalid_field: name: is required"));
    }

    #[test]
    fn null_is_absent_and_timestamps_are_checked() {
        let body = fields(r#"{"ends_at": null, "starts_at": "tomorrow", "at": "1970-01-01T00:01:00Z"}"#);
        assert!(matches!(body.optional_time("ends_at"), Ok(None)));
        assert_eq!(body.required_time("at").ok(), Some(60));
        let refused = body.optional_time("starts_at").err().map(message);
        assert!(refused.is_some_and(|text| text.starts_with("invalid_field: starts_at: ")));
    }

    #[test]
    fn only_a_json_object_is_a_body() {
        for body in ["", "[]", "{\"a\":", "nonsense"] {
            let refused = Fields::parse(Ok(Bytes::from(body))).err().map(message);
            assert!(
                refused.is_some_and(|text| text.starts_with("invalid_request")),
                "{body}"
            );
        }
    }

    #[test]
    fn a_repeated_query_parameter_is_refused() {
        assert!(Query::parse("limit=1&limit=2").is_err());
        let query = Query::parse("actor=client%3Aabc&user_id=").ok();
        assert_eq!(
            query.as_ref().and_then(|query| query.get("actor")),
            Some("client:abc")
        );
        assert_eq!(query.as_ref().and_then(|query| query.get("user_id")), None);
    }
}
