//! The one error type of the API. Every failure a handler can have becomes an `ApiError`, whose
//! body keeps DRF's shapes: `{"detail": "..."}` for request-level errors, `{"field": ["msg"]}` for
//! validation, or an upstream-specific body where the frontend reads one (`{"error": ...}`).

use std::collections::BTreeMap;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub body: Value,
    /// Seconds for `Retry-After` (429, 503).
    pub retry_after: Option<u64>,
    /// Kept for the log of a 500; never sent to the client.
    pub source: Option<anyhow::Error>,
}

pub type ApiResult<T> = Result<T, ApiError>;

/// Field-level validation errors, DRF style: `{"field": ["message", ...]}`.
#[derive(Debug, Default)]
pub struct FieldErrors(pub BTreeMap<String, Vec<String>>);

impl FieldErrors {
    pub fn new() -> Self {
        Self::default()
    }
    pub fn add(&mut self, field: &str, msg: impl Into<String>) {
        self.0
            .entry(field.to_string())
            .or_default()
            .push(msg.into());
    }
    pub fn has(&self, field: &str) -> bool {
        self.0.contains_key(field)
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
    /// `Err(400 {field: [...]})` when any error was recorded.
    pub fn into_result(self) -> ApiResult<()> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(ApiError::fields(self))
        }
    }
    pub fn to_value(&self) -> Value {
        serde_json::to_value(&self.0).unwrap_or(Value::Null)
    }
}

impl ApiError {
    pub fn new(status: StatusCode, body: Value) -> Self {
        ApiError {
            status,
            body,
            retry_after: None,
            source: None,
        }
    }
    pub fn detail(status: StatusCode, msg: impl Into<String>) -> Self {
        Self::new(status, json!({ "detail": msg.into() }))
    }
    pub fn bad_request(msg: impl Into<String>) -> Self {
        Self::detail(StatusCode::BAD_REQUEST, msg)
    }
    /// A missing row, or one in another org: the two are indistinguishable on purpose.
    pub fn not_found() -> Self {
        Self::detail(StatusCode::NOT_FOUND, "Not found.")
    }
    pub fn forbidden(msg: impl Into<String>) -> Self {
        Self::detail(StatusCode::FORBIDDEN, msg)
    }
    pub fn permission_denied() -> Self {
        Self::forbidden("You do not have permission to perform this action.")
    }
    pub fn unauthenticated() -> Self {
        Self::detail(
            StatusCode::UNAUTHORIZED,
            "Authentication credentials were not provided.",
        )
    }
    /// simplejwt's body for a token that does not validate.
    pub fn token_not_valid(message: &str) -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            json!({
                "detail": "Given token not valid for any token type",
                "code": "token_not_valid",
                "messages": [{"token_class": "AccessToken", "token_type": "access", "message": message}],
            }),
        )
    }
    pub fn org_required() -> Self {
        Self::forbidden("Organization context is required. Please login again.")
    }
    pub fn fields(errors: FieldErrors) -> Self {
        Self::new(StatusCode::BAD_REQUEST, errors.to_value())
    }
    pub fn field(field: &str, msg: impl Into<String>) -> Self {
        let mut e = FieldErrors::new();
        e.add(field, msg);
        Self::fields(e)
    }
    pub fn too_many(retry_after: u64, msg: impl Into<String>) -> Self {
        let mut e = Self::detail(StatusCode::TOO_MANY_REQUESTS, msg);
        e.retry_after = Some(retry_after.max(1));
        e
    }
    pub fn method_not_allowed(method: &str) -> Self {
        Self::detail(
            StatusCode::METHOD_NOT_ALLOWED,
            format!("Method \"{method}\" not allowed."),
        )
    }
    pub fn internal(err: impl Into<anyhow::Error>) -> Self {
        let mut e = Self::detail(
            StatusCode::INTERNAL_SERVER_ERROR,
            "A server error occurred.",
        );
        e.source = Some(err.into());
        e
    }
    pub fn unavailable(msg: impl Into<String>) -> Self {
        Self::detail(StatusCode::SERVICE_UNAVAILABLE, msg)
    }
    /// Every database connection is in use: the client should come back shortly.
    pub fn busy() -> Self {
        let mut e = Self::unavailable("The server is busy. Please retry shortly.");
        e.retry_after = Some(1);
        e
    }
}

impl From<sqlx::Error> for ApiError {
    /// Constraint violations that slip past validation become 400s on the field they concern;
    /// anything else is a 500 (and a bug to fix).
    fn from(err: sqlx::Error) -> Self {
        match err {
            sqlx::Error::RowNotFound => return ApiError::not_found(),
            // No pooled connection freed up in time: overload, not a bug.
            sqlx::Error::PoolTimedOut => {
                tracing::warn!("no database connection available: answered 503");
                return ApiError::busy();
            }
            _ => {}
        }
        if let Some(db) = err.as_database_error() {
            let code = db.code().unwrap_or_default();
            let constraint = db.constraint().unwrap_or_default().to_string();
            match code.as_ref() {
                // unique_violation
                "23505" => {
                    return ApiError::field(
                        field_of_constraint(&constraint),
                        "An object with this value already exists.",
                    );
                }
                // check_violation, string too long, invalid text representation, numeric out of range
                "23514" | "22001" | "22P02" | "22003" | "22007" | "22008" => {
                    return ApiError::bad_request(format!("Invalid value: {}", db.message()));
                }
                // foreign_key_violation (an id that does not exist, or not in this org)
                "23503" => {
                    return ApiError::field(
                        field_of_constraint(&constraint),
                        "Object does not exist.",
                    );
                }
                // RLS WITH CHECK failure: the row would belong to another org
                "42501" => return ApiError::not_found(),
                // query_canceled: the serving pool's statement_timeout (DB_STATEMENT_TIMEOUT)
                "57014" => {
                    tracing::warn!(error = %db.message(), "statement timed out: answered 503");
                    return ApiError::unavailable("The request took too long.");
                }
                _ => {}
            }
        }
        ApiError::internal(err)
    }
}

/// Best-effort column name from a Django-style constraint name (`lead_email_org_uniq` -> `email`).
fn field_of_constraint(constraint: &str) -> &str {
    constraint
        .split('_')
        .nth(1)
        .filter(|s| !s.is_empty())
        .unwrap_or("non_field_errors")
}

impl From<anyhow::Error> for ApiError {
    fn from(err: anyhow::Error) -> Self {
        if let Some(sqlx::Error::PoolTimedOut) = err.downcast_ref::<sqlx::Error>() {
            return ApiError::busy();
        }
        ApiError::internal(err)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if self.status.is_server_error() {
            match &self.source {
                Some(src) => tracing::error!(error = ?src, status = %self.status, "request failed"),
                None => tracing::error!(status = %self.status, body = %self.body, "request failed"),
            }
        }
        let mut res = (self.status, axum::Json(self.body)).into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            res.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"api\""),
            );
        }
        if let Some(secs) = self.retry_after {
            res.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        res
    }
}
