//! Building SDK clients once, from the standard AWS configuration.
//!
//! Everything comes from where every AWS tool looks: the default credential chain
//! (environment, shared config and credentials files including SSO and `credential_process`,
//! web identity, ECS and EC2 instance roles), the region (`AWS_REGION`, the profile), and the
//! endpoint (`AWS_ENDPOINT_URL`, `AWS_ENDPOINT_URL_S3`, `endpoint_url` in the profile or its
//! `services` section). Pointing `AWS_ENDPOINT_URL` at moto server points the whole program
//! at it.
//!
//! S3 addressing: virtual-hosted style (`bucket.s3.region.amazonaws.com`) is what AWS wants;
//! emulators and most S3-compatible stores on a custom endpoint want path style
//! (`endpoint/bucket/key`). [`PathStyle::Auto`] picks path style exactly when a custom S3
//! endpoint is configured; `DRIFTWATCH_S3_PATH_STYLE=true|false` forces either way.

use aws_config::{BehaviorVersion, SdkConfig};
use aws_types::service_config::ServiceConfigKey;

/// The environment variable that forces S3 path-style addressing on (`true`) or off (`false`).
pub const PATH_STYLE_ENV: &str = "DRIFTWATCH_S3_PATH_STYLE";

/// A malformed environment variable of the adapters, naming what to fix.
#[derive(Debug, thiserror::Error)]
pub enum EnvVarError {
    #[error("{var}={value:?}: {expected}")]
    BadVar { var: &'static str, value: String, expected: &'static str },
}

/// How the S3 client addresses buckets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PathStyle {
    /// Path style when a custom S3 endpoint is configured, virtual-hosted style on AWS.
    #[default]
    Auto,
    Always,
    Never,
}

impl PathStyle {
    /// Parse the value of [`PATH_STYLE_ENV`]: `true`/`1`/`yes`, `false`/`0`/`no`, or `auto`
    /// (also when unset or empty).
    pub fn parse(value: Option<&str>) -> Result<Self, EnvVarError> {
        match value.map(|v| v.trim().to_ascii_lowercase()).as_deref() {
            None | Some("") | Some("auto") => Ok(PathStyle::Auto),
            Some("true" | "1" | "yes") => Ok(PathStyle::Always),
            Some("false" | "0" | "no") => Ok(PathStyle::Never),
            Some(_) => Err(EnvVarError::BadVar {
                var: PATH_STYLE_ENV,
                value: value.unwrap_or_default().to_string(),
                expected: "expected true, false or auto",
            }),
        }
    }

    /// From the process environment ([`PATH_STYLE_ENV`]).
    pub fn from_env() -> Result<Self, EnvVarError> {
        Self::parse(std::env::var(PATH_STYLE_ENV).ok().as_deref())
    }
}

/// Load the shared SDK configuration (credentials, region, endpoint, retries) the standard
/// way. Call once per process and build every client from the result.
pub async fn load_sdk_config() -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest()).load().await
}

/// `sdk` with the credentials of `role_arn` (`sts:AssumeRole`, with `external_id` when the
/// role's trust asks for one), refreshed before they expire: for reading what another account
/// keeps (its Terraform state). Nothing is called until a client built from it first signs a
/// request.
pub async fn assume_role_config(sdk: &SdkConfig, role_arn: &str, external_id: Option<&str>) -> SdkConfig {
    // The provider refreshes by the clock and retries with a sleep: a configuration built by
    // hand (not by `load_sdk_config`) may have neither.
    let mut base = sdk.to_builder();
    if sdk.time_source().is_none() {
        base = base.time_source(aws_smithy_async::time::SystemTimeSource::new());
    }
    if sdk.sleep_impl().is_none() {
        if let Some(sleep) = aws_smithy_async::rt::sleep::default_async_sleep() {
            base = base.sleep_impl(sleep);
        }
    }
    let sdk = &base.build();
    let mut builder = aws_config::sts::AssumeRoleProvider::builder(role_arn).session_name("driftwatch").configure(sdk);
    if let Some(id) = external_id {
        builder = builder.external_id(id);
    }
    let provider = builder.build().await;
    sdk.to_builder().credentials_provider(aws_sdk_s3::config::SharedCredentialsProvider::new(provider)).build()
}

/// The S3 endpoint configured for this SDK configuration, if it is not AWS's own: the
/// S3-specific setting (`AWS_ENDPOINT_URL_S3`, the profile's `services` section) wins over the
/// global one, as in the SDK itself.
pub fn custom_s3_endpoint(sdk: &SdkConfig) -> Option<String> {
    let key = ServiceConfigKey::builder().service_id("S3").env("AWS_ENDPOINT_URL").profile("endpoint_url").build().ok()?;
    sdk.service_config().and_then(|c| c.load_config(key)).or_else(|| sdk.endpoint_url().map(str::to_string))
}

/// Build the S3 client. Clients are cheap to clone (they share one connection pool): build
/// one per process and clone it.
pub fn s3_client(sdk: &SdkConfig, path_style: PathStyle) -> aws_sdk_s3::Client {
    let force = match path_style {
        PathStyle::Always => true,
        PathStyle::Never => false,
        PathStyle::Auto => custom_s3_endpoint(sdk).is_some(),
    };
    let conf = aws_sdk_s3::config::Builder::from(sdk).force_path_style(force).build();
    aws_sdk_s3::Client::from_conf(conf)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_style_values() {
        assert_eq!(PathStyle::parse(None).unwrap(), PathStyle::Auto);
        assert_eq!(PathStyle::parse(Some("TRUE")).unwrap(), PathStyle::Always);
        assert_eq!(PathStyle::parse(Some("0")).unwrap(), PathStyle::Never);
        let e = PathStyle::parse(Some("sometimes")).unwrap_err().to_string();
        assert!(e.starts_with("DRIFTWATCH_S3_PATH_STYLE=\"sometimes\""), "{e}");
    }

    #[test]
    fn custom_endpoint_means_path_style() {
        let aws = SdkConfig::builder().behavior_version(BehaviorVersion::latest()).build();
        assert_eq!(custom_s3_endpoint(&aws), None);
        let moto = SdkConfig::builder().behavior_version(BehaviorVersion::latest()).endpoint_url("http://127.0.0.1:5000").build();
        assert_eq!(custom_s3_endpoint(&moto).as_deref(), Some("http://127.0.0.1:5000"));
    }
}
