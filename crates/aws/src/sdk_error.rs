//! One-line descriptions of AWS SDK errors, shared by every adapter.

// Every SDK crate re-exports the same smithy `SdkError` and `ProvideErrorMetadata`, so these
// helpers serve the S3, DynamoDB and SNS adapters alike.
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};

/// The HTTP status of a failed call, when the service answered.
pub(crate) fn status<E>(e: &SdkError<E>) -> Option<u16> {
    e.raw_response().map(|r| r.status().as_u16())
}

/// Will the same call fail the same way however often it is retried? The object, version or
/// bucket is not there (404, `NoSuchKey`, `NoSuchVersion`, `NoSuchBucket`), or this role may
/// not read it (403, `AccessDenied`), or it is archived (`InvalidObjectState`). Throttling, 5xx,
/// timeouts and connection failures are not: they are retried.
pub(crate) fn is_permanent<E>(e: &SdkError<E>) -> bool
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    matches!(e, SdkError::ServiceError(_))
        && (matches!(status(e), Some(403 | 404))
            || matches!(
                e.code(),
                Some("AccessDenied" | "NoSuchKey" | "NoSuchVersion" | "NoSuchBucket" | "InvalidObjectState" | "AllAccessDisabled")
            ))
}

/// An error and its sources on one line (`a: b: c`), multi-line messages folded.
pub(crate) fn one_line(e: &(dyn std::error::Error + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut next = Some(e);
    while let Some(err) = next {
        let text = err.to_string().lines().map(str::trim).filter(|l| !l.is_empty()).collect::<Vec<_>>().join("; ").replace(":;", ":");
        if !text.is_empty() && !parts.last().is_some_and(|p| p.contains(&text)) {
            parts.push(text);
        }
        next = err.source();
    }
    parts.join(": ")
}

/// One line describing a failed call: the service's code, HTTP status and message when it
/// answered, else the whole error chain (connection refused, timeout, credentials…).
pub(crate) fn describe<E>(e: &SdkError<E>) -> String
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    match e {
        SdkError::ServiceError(_) => {
            let code = e.code().unwrap_or("error");
            let http = status(e).map(|s| format!(" (HTTP {s})")).unwrap_or_default();
            match e.message() {
                Some(m) => format!("{code}{http}: {m}"),
                None => format!("{code}{http}"),
            }
        }
        _ => one_line(e),
    }
}
