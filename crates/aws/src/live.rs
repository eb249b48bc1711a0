//! The live reader: current configuration items from AWS Config, as the core's
//! [`ConfigItem`]s.
//!
//! * [`ConfigReader::batch_get`] — `BatchGetResourceConfig` of known identities (AWS Config
//!   type, resource id), in chunks of [`BATCH_GET_SIZE`] (the API's limit).
//!   `UnprocessedResourceKeys` are retried with bounded exponential backoff; what is still
//!   unprocessed after the last attempt is an error naming every such key
//!   ([`LiveReadError::Unprocessed`]): nothing is dropped silently. A resource AWS Config does
//!   not know (deleted, never recorded) is simply absent from the answer — the caller treats
//!   absent as deleted.
//! * [`ConfigReader::select`] — `SelectResourceConfig` (advanced query) of every recorded
//!   resource of some types, every page (`NextToken`): the inventory in which unmanaged
//!   resources are found.
//! * [`ConfigReader::aggregate`] — every resource of some types in every account and region
//!   of a Config aggregator (`ListAggregateDiscoveredResources` of each type, every page, then
//!   `BatchGetAggregateResourceConfig` 100 at a time, unprocessed identifiers retried): an
//!   Organization's inventory, read in the watcher's account. A type that cannot be listed or
//!   read is reported with the items of the others ([`Aggregated::failed`]).
//! * [`ConfigReader::oversized`] — an oversized configuration item, which AWS Config
//!   delivers to S3 instead of the event (`GetObject`, gunzipped when gzip).
//!
//! `BatchGetResourceConfig` answers `configuration` and each `supplementaryConfiguration`
//! value as JSON *strings*; they are turned into the JSON item the core's
//! [`item_from_value`] takes, which decodes them and digests secret-looking values, so
//! nothing secret is held in clear past this module. Its items carry no `tags`: for S3
//! buckets the tags are taken from `supplementaryConfiguration.BucketTaggingConfiguration`
//! (`{"tagSets": [{"tags": {...}}]}`), where AWS Config puts them.
//!
//! Throttling and transient failures are the SDK's standard retry; a failed call is one
//! line ([`LiveReadError`]) naming the operation.

use crate::iam::Action;
use crate::sdk_error::{describe, is_permanent, one_line};
use aws_config::SdkConfig;
use aws_sdk_config::primitives::{DateTime, DateTimeFormat};
use aws_sdk_config::types::{BaseConfigurationItem, ResourceKey, ResourceType};
use driftwatch_core::live::{item_from_value, parse_document, ConfigItem};
use driftwatch_core::signal::OversizedRef;
use driftwatch_core::Redactor;
use serde_json::{Map, Value};
use std::io::Read;
use std::time::Duration;

/// Most resource keys one `BatchGetResourceConfig` call takes.
pub const BATCH_GET_SIZE: usize = 100;

/// Largest oversized configuration item read (after decompression).
pub const MAX_OVERSIZED_BYTES: u64 = 256 * 1024 * 1024;

/// The fields [`ConfigReader::select`] selects: everything [`ConfigItem`] and the catalog's
/// `live` paths use.
pub const SELECT_FIELDS: &str = "resourceId, resourceType, resourceName, arn, accountId, awsRegion, configuration, \
supplementaryConfiguration, tags, configurationItemStatus, configurationItemCaptureTime, configurationStateId";

/// Errors of the live reader, one line each.
#[derive(Debug, thiserror::Error)]
pub enum LiveReadError {
    #[error("AWS Config {op}: {message}")]
    Request { op: &'static str, message: String },
    #[error("AWS Config {op} left {} resource(s) unprocessed after {attempts} attempt(s): {}", keys.len(), keys.join(", "))]
    Unprocessed { op: &'static str, attempts: u32, keys: Vec<String> },
    #[error("AWS Config {op}: configuration item {what}: {message}")]
    Item { op: &'static str, what: String, message: String },
    #[error("bad resource key {key}: {message}")]
    Key { key: String, message: String },
    #[error("oversized configuration item s3://{bucket}/{key}: {message}")]
    Oversized {
        bucket: String,
        key: String,
        message: String,
        /// Retrying cannot help: the object or its bucket is not there, this role may not read
        /// it, or it holds no such configuration item.
        permanent: bool,
    },
}

impl LiveReadError {
    /// Will it fail the same way however often it is retried?
    pub fn is_permanent(&self) -> bool {
        match self {
            LiveReadError::Oversized { permanent, .. } => *permanent,
            LiveReadError::Key { .. } | LiveReadError::Item { .. } => true,
            LiveReadError::Request { .. } | LiveReadError::Unprocessed { .. } => false,
        }
    }
}

/// Retries of `UnprocessedResourceKeys`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryOptions {
    /// Calls per chunk, the first included.
    pub attempts: u32,
    /// First backoff; doubled after each attempt.
    pub base_delay: Duration,
    /// Upper bound of one backoff.
    pub max_delay: Duration,
}

impl Default for RetryOptions {
    fn default() -> Self {
        RetryOptions { attempts: 6, base_delay: Duration::from_millis(100), max_delay: Duration::from_secs(5) }
    }
}

/// Build the AWS Config client from the shared SDK configuration (endpoint, region,
/// credentials, retries). Cheap to clone: build one per process.
pub fn config_client(sdk: &SdkConfig) -> aws_sdk_config::Client {
    aws_sdk_config::Client::new(sdk)
}

/// The async live reader. Cheap to clone; build one per process.
#[derive(Debug, Clone)]
pub struct ConfigReader {
    config: aws_sdk_config::Client,
    s3: aws_sdk_s3::Client,
    retry: RetryOptions,
}

/// `account/region/type/id`, how aggregate identifiers are named in errors.
fn aggregate_key_text(k: &aws_sdk_config::types::AggregateResourceIdentifier) -> String {
    format!("{}/{}/{}", k.source_account_id(), k.source_region(), key_text(k.resource_type().as_str(), k.resource_id()))
}

/// `type/id`, how keys are named in errors.
fn key_text(resource_type: &str, resource_id: &str) -> String {
    format!("{resource_type}/{resource_id}")
}

fn time_text(t: Option<&DateTime>) -> Option<Value> {
    t.and_then(|t| t.fmt(DateTimeFormat::DateTime).ok()).map(Value::String)
}

/// A JSON string holding an object or array, parsed; anything else as it is.
fn parse_json_string(s: &str) -> Value {
    let t = s.trim_start();
    if t.starts_with('{') || t.starts_with('[') {
        if let Ok(v) = serde_json::from_str(s) {
            return v;
        }
    }
    Value::String(s.to_string())
}

/// A `BatchGetResourceConfig` item as the JSON configuration item the core reads.
pub fn base_item_json(it: &BaseConfigurationItem) -> Value {
    let mut m = Map::new();
    let mut put = |k: &str, v: Option<Value>| {
        if let Some(v) = v {
            m.insert(k.to_string(), v);
        }
    };
    let text = |s: Option<&str>| s.map(|s| Value::String(s.to_string()));
    put("version", text(it.version()));
    put("accountId", text(it.account_id()));
    put("configurationItemCaptureTime", time_text(it.configuration_item_capture_time()));
    put("configurationItemStatus", text(it.configuration_item_status().map(|s| s.as_str())));
    put("configurationStateId", text(it.configuration_state_id()));
    put("arn", text(it.arn()));
    put("resourceType", text(it.resource_type().map(|t| t.as_str())));
    put("resourceId", text(it.resource_id()));
    put("resourceName", text(it.resource_name()));
    put("awsRegion", text(it.aws_region()));
    put("availabilityZone", text(it.availability_zone()));
    put("resourceCreationTime", time_text(it.resource_creation_time()));
    put("configuration", it.configuration().map(parse_json_string));
    let supplementary: Option<Map<String, Value>> =
        it.supplementary_configuration().map(|s| s.iter().map(|(k, v)| (k.clone(), parse_json_string(v))).collect());
    // S3 buckets: the tags are in the tagging configuration, not in the item.
    let tags = supplementary
        .as_ref()
        .and_then(|s| s.get("BucketTaggingConfiguration"))
        .and_then(|t| t.get("tagSets"))
        .and_then(Value::as_array)
        .map(|sets| {
            let mut all = Map::new();
            for set in sets {
                if let Some(Value::Object(tags)) = set.get("tags") {
                    all.extend(tags.clone());
                }
            }
            Value::Object(all)
        });
    put("supplementaryConfiguration", supplementary.map(Value::Object));
    put("tags", tags);
    put("recordingFrequency", text(it.recording_frequency().map(|f| f.as_str())));
    put("configurationItemDeliveryTime", time_text(it.configuration_item_delivery_time()));
    Value::Object(m)
}

/// The JSON of a delivered object: gunzipped when it starts with the gzip magic (AWS Config
/// delivers `.json.gz`), at most [`MAX_OVERSIZED_BYTES`].
fn object_json(body: &[u8]) -> Result<Vec<u8>, String> {
    if !body.starts_with(&[0x1f, 0x8b]) {
        return Ok(body.to_vec());
    }
    let mut buf = Vec::new();
    flate2::read::GzDecoder::new(body).take(MAX_OVERSIZED_BYTES + 1).read_to_end(&mut buf).map_err(|e| format!("not valid gzip: {e}"))?;
    if buf.len() as u64 > MAX_OVERSIZED_BYTES {
        return Err(format!("decompresses to more than {MAX_OVERSIZED_BYTES} bytes"));
    }
    Ok(buf)
}

/// A resource to read through a Config aggregator: its AWS Config type and id, and where it is
/// when known (an ARN without an account or region leaves the aggregator to find it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AggregateIdentity {
    pub resource_type: String,
    pub resource_id: String,
    pub account: Option<String>,
    pub region: Option<String>,
}

/// What a Config aggregator answered: the items of every type it could read, and the types it
/// could not (their resources were not read: compare none of them).
#[derive(Debug, Default)]
pub struct Aggregated {
    pub items: Vec<ConfigItem>,
    pub failed: Vec<(String, LiveReadError)>,
}

/// The `SelectResourceConfig` expression selecting [`SELECT_FIELDS`] of every resource of
/// these types.
pub fn select_expression(resource_types: &[&str]) -> String {
    let types: Vec<String> = resource_types.iter().map(|t| format!("'{}'", t.replace('\'', "''"))).collect();
    format!("SELECT {SELECT_FIELDS} WHERE resourceType IN ({})", types.join(", "))
}

impl ConfigReader {
    /// [`batch_get`](Self::batch_get), [`select`](Self::select): AWS Config has no
    /// resource-level permissions for these.
    pub const READ: &'static [Action] = &[
        Action::new("config:BatchGetResourceConfig", "batch_get_resource_config"),
        Action::new("config:SelectResourceConfig", "select_resource_config"),
    ];
    /// [`aggregate`](Self::aggregate).
    pub const AGGREGATE: &'static [Action] = &[
        Action::new("config:ListAggregateDiscoveredResources", "list_aggregate_discovered_resources"),
        Action::new("config:BatchGetAggregateResourceConfig", "batch_get_aggregate_resource_config"),
    ];
    /// [`oversized`](Self::oversized): the item from the Config delivery bucket.
    pub const OVERSIZED: &'static [Action] = &[Action::new("s3:GetObject", "get_object")];

    /// A reader over existing clients (the S3 client reads oversized items).
    pub fn new(config: aws_sdk_config::Client, s3: aws_sdk_s3::Client) -> Self {
        ConfigReader { config, s3, retry: RetryOptions::default() }
    }

    /// How `UnprocessedResourceKeys` are retried.
    pub fn with_retry(mut self, retry: RetryOptions) -> Self {
        self.retry = retry;
        self
    }

    pub fn config_client(&self) -> &aws_sdk_config::Client {
        &self.config
    }

    /// Current configuration items of these (AWS Config type, resource id) identities.
    /// Resources AWS Config does not have are absent from the answer; keys still unprocessed
    /// after the retries are an error naming each.
    pub async fn batch_get(&self, keys: &[(String, String)], redactor: &Redactor) -> Result<Vec<ConfigItem>, LiveReadError> {
        const OP: &str = "BatchGetResourceConfig";
        let mut out = Vec::new();
        let mut unprocessed: Vec<String> = Vec::new();
        for chunk in keys.chunks(BATCH_GET_SIZE) {
            let pending = chunk
                .iter()
                .map(|(t, id)| {
                    ResourceKey::builder()
                        .resource_type(ResourceType::from(t.as_str()))
                        .resource_id(id)
                        .build()
                        .map_err(|e| LiveReadError::Key { key: key_text(t, id), message: one_line(&e) })
                })
                .collect::<Result<Vec<_>, _>>()?;
            let (items, left) = self
                .until_processed(OP, pending, redactor, |keys| async move {
                    let resp = self
                        .config
                        .batch_get_resource_config()
                        .set_resource_keys(Some(keys))
                        .send()
                        .await
                        .map_err(|e| LiveReadError::Request { op: OP, message: describe(&e) })?;
                    Ok((resp.base_configuration_items().to_vec(), resp.unprocessed_resource_keys().to_vec()))
                })
                .await?;
            out.extend(items);
            unprocessed.extend(left.iter().map(|k| key_text(k.resource_type().as_str(), k.resource_id())));
        }
        if !unprocessed.is_empty() {
            return Err(LiveReadError::Unprocessed { op: OP, attempts: self.retry.attempts.max(1), keys: unprocessed });
        }
        Ok(out)
    }

    /// Every recorded resource of these AWS Config types (`SelectResourceConfig`, every
    /// page). No types, no call.
    pub async fn select(&self, resource_types: &[&str], redactor: &Redactor) -> Result<Vec<ConfigItem>, LiveReadError> {
        const OP: &str = "SelectResourceConfig";
        if resource_types.is_empty() {
            return Ok(Vec::new());
        }
        let expression = select_expression(resource_types);
        let mut out = Vec::new();
        let mut next: Option<String> = None;
        let mut seen_tokens = std::collections::HashSet::new();
        loop {
            let page = self
                .config
                .select_resource_config()
                .expression(&expression)
                .set_next_token(next.take())
                .send()
                .await
                .map_err(|e| LiveReadError::Request { op: OP, message: describe(&e) })?;
            for (n, result) in page.results().iter().enumerate() {
                let what = format!("result #{} of page {}", n + 1, seen_tokens.len() + 1);
                let value: Value = serde_json::from_str(result).map_err(|e| LiveReadError::Item {
                    op: OP,
                    what: what.clone(),
                    message: format!("not JSON: {e}"),
                })?;
                out.push(item_from_value(value, redactor).map_err(|message| LiveReadError::Item { op: OP, what, message })?);
            }
            match page.next_token().filter(|t| !t.is_empty()) {
                None => break,
                Some(t) => {
                    if !seen_tokens.insert(t.to_string()) {
                        return Err(LiveReadError::Request {
                            op: OP,
                            message: format!("NextToken {t:?} repeated: the listing does not end"),
                        });
                    }
                    next = Some(t.to_string());
                }
            }
        }
        Ok(out)
    }

    /// Every resource of these AWS Config types that the aggregator `aggregator` holds, in
    /// every account and region it aggregates. A type whose listing or reading fails is in
    /// [`Aggregated::failed`] and the others are still read; an aggregator that does not exist
    /// or may not be read is an error.
    pub async fn aggregate(&self, aggregator: &str, resource_types: &[&str], redactor: &Redactor) -> Result<Aggregated, LiveReadError> {
        let mut out = Aggregated::default();
        let mut listed = false;
        for t in resource_types {
            let ids = match self.aggregate_list(aggregator, t).await {
                Ok(ids) => {
                    listed = true;
                    ids
                }
                Err((e, whole)) if whole => return Err(e),
                Err((e, _)) => {
                    out.failed.push((t.to_string(), e));
                    continue;
                }
            };
            match self.aggregate_get(aggregator, ids, redactor).await {
                Ok(items) => out.items.extend(items),
                Err(e) => out.failed.push((t.to_string(), e)),
            }
        }
        // Not one type could be listed: the aggregator itself is not readable.
        if !listed && !out.failed.is_empty() {
            return Err(out.failed.swap_remove(0).1);
        }
        Ok(out)
    }

    /// The items of these identities (AWS Config type, id, and the account and region when
    /// known) in the aggregator `aggregator`: an identity whose account and region are known is
    /// asked for directly; the aggregator is asked where the others are
    /// (`ListAggregateDiscoveredResources` filtered by the id, and the account or region when
    /// one is known). Resources the aggregator does not have are absent from the answer.
    pub async fn aggregate_identities(
        &self,
        aggregator: &str,
        identities: &[AggregateIdentity],
        redactor: &Redactor,
    ) -> Result<Vec<ConfigItem>, LiveReadError> {
        use aws_sdk_config::types::{AggregateResourceIdentifier, ResourceFilters};
        const OP: &str = "ListAggregateDiscoveredResources";
        let mut ids = Vec::new();
        for i in identities {
            let bad = |e: aws_sdk_config::error::BuildError| LiveReadError::Key {
                key: key_text(&i.resource_type, &i.resource_id),
                message: one_line(&e),
            };
            if let (Some(account), Some(region)) = (&i.account, &i.region) {
                ids.push(
                    AggregateResourceIdentifier::builder()
                        .source_account_id(account)
                        .source_region(region)
                        .resource_id(&i.resource_id)
                        .resource_type(ResourceType::from(i.resource_type.as_str()))
                        .build()
                        .map_err(bad)?,
                );
                continue;
            }
            let filters = ResourceFilters::builder()
                .resource_id(&i.resource_id)
                .set_account_id(i.account.clone())
                .set_region(i.region.clone())
                .build();
            let page = self
                .config
                .list_aggregate_discovered_resources()
                .configuration_aggregator_name(aggregator)
                .resource_type(ResourceType::from(i.resource_type.as_str()))
                .filters(filters)
                .send()
                .await
                .map_err(|e| LiveReadError::Request {
                    op: OP,
                    message: format!("aggregator {aggregator}, {}: {}", key_text(&i.resource_type, &i.resource_id), describe(&e)),
                })?;
            // The filter is a prefix match in AWS: keep the exact id.
            ids.extend(page.resource_identifiers().iter().filter(|r| r.resource_id() == i.resource_id).cloned());
        }
        let (items, left) = self.aggregate_get_partial(aggregator, ids, redactor).await?;
        // A resource the aggregator does not have comes back unprocessed, as one it could not
        // read now does: ask where it is; one it does not list is gone (absent from the answer).
        let mut unprocessed = Vec::new();
        for k in left {
            let filters =
                ResourceFilters::builder().resource_id(k.resource_id()).account_id(k.source_account_id()).region(k.source_region()).build();
            let page = self
                .config
                .list_aggregate_discovered_resources()
                .configuration_aggregator_name(aggregator)
                .resource_type(k.resource_type().clone())
                .filters(filters)
                .send()
                .await
                .map_err(|e| LiveReadError::Request { op: OP, message: format!("aggregator {aggregator}: {}", describe(&e)) })?;
            if page.resource_identifiers().iter().any(|r| r.resource_id() == k.resource_id()) {
                unprocessed.push(aggregate_key_text(&k));
            }
        }
        if !unprocessed.is_empty() {
            return Err(LiveReadError::Unprocessed {
                op: "BatchGetAggregateResourceConfig",
                attempts: self.retry.attempts.max(1),
                keys: unprocessed,
            });
        }
        Ok(items)
    }

    /// Every identifier of one type; the error says whether it is the aggregator's (every type
    /// would fail alike).
    async fn aggregate_list(
        &self,
        aggregator: &str,
        resource_type: &str,
    ) -> Result<Vec<aws_sdk_config::types::AggregateResourceIdentifier>, (LiveReadError, bool)> {
        const OP: &str = "ListAggregateDiscoveredResources";
        let mut ids = Vec::new();
        let mut next: Option<String> = None;
        let mut seen_tokens = std::collections::HashSet::new();
        loop {
            let page = self
                .config
                .list_aggregate_discovered_resources()
                .configuration_aggregator_name(aggregator)
                .resource_type(ResourceType::from(resource_type))
                .limit(BATCH_GET_SIZE as i32)
                .set_next_token(next.take())
                .send()
                .await
                .map_err(|e| {
                    let whole = e.as_service_error().is_some_and(|s| s.is_no_such_configuration_aggregator_exception())
                        || is_permanent(&e) && describe(&e).contains("AccessDenied");
                    (
                        LiveReadError::Request { op: OP, message: format!("aggregator {aggregator}, {resource_type}: {}", describe(&e)) },
                        whole,
                    )
                })?;
            ids.extend(page.resource_identifiers().iter().cloned());
            match page.next_token().filter(|t| !t.is_empty()) {
                None => return Ok(ids),
                Some(t) if !seen_tokens.insert(t.to_string()) => {
                    let message = format!("aggregator {aggregator}, {resource_type}: NextToken {t:?} repeated: the listing does not end");
                    return Err((LiveReadError::Request { op: OP, message }, false));
                }
                Some(t) => next = Some(t.to_string()),
            }
        }
    }

    /// The items of these identifiers, [`BATCH_GET_SIZE`] at a time; unprocessed ones retried
    /// as [`batch_get`](Self::batch_get) retries, then an error naming each.
    async fn aggregate_get(
        &self,
        aggregator: &str,
        ids: Vec<aws_sdk_config::types::AggregateResourceIdentifier>,
        redactor: &Redactor,
    ) -> Result<Vec<ConfigItem>, LiveReadError> {
        let (items, left) = self.aggregate_get_partial(aggregator, ids, redactor).await?;
        if !left.is_empty() {
            let keys = left.iter().map(aggregate_key_text).collect();
            return Err(LiveReadError::Unprocessed { op: "BatchGetAggregateResourceConfig", attempts: self.retry.attempts.max(1), keys });
        }
        Ok(items)
    }

    /// [`aggregate_get`](Self::aggregate_get), with the identifiers still unprocessed after
    /// the retries.
    async fn aggregate_get_partial(
        &self,
        aggregator: &str,
        ids: Vec<aws_sdk_config::types::AggregateResourceIdentifier>,
        redactor: &Redactor,
    ) -> Result<(Vec<ConfigItem>, Vec<aws_sdk_config::types::AggregateResourceIdentifier>), LiveReadError> {
        const OP: &str = "BatchGetAggregateResourceConfig";
        let mut out = Vec::new();
        let mut unprocessed = Vec::new();
        for chunk in ids.chunks(BATCH_GET_SIZE) {
            let (items, left) = self
                .until_processed(OP, chunk.to_vec(), redactor, |pending| async move {
                    let resp = self
                        .config
                        .batch_get_aggregate_resource_config()
                        .configuration_aggregator_name(aggregator)
                        .set_resource_identifiers(Some(pending))
                        .send()
                        .await
                        .map_err(|e| LiveReadError::Request { op: OP, message: format!("aggregator {aggregator}: {}", describe(&e)) })?;
                    Ok((resp.base_configuration_items().to_vec(), resp.unprocessed_resource_identifiers().to_vec()))
                })
                .await?;
            out.extend(items);
            unprocessed.extend(left);
        }
        Ok((out, unprocessed))
    }

    /// Ask `call` for `pending` until it leaves nothing unprocessed or the attempts run out
    /// (bounded exponential backoff between them): the items read, and the keys still
    /// unprocessed.
    async fn until_processed<K, F, Fut>(
        &self,
        op: &'static str,
        mut pending: Vec<K>,
        redactor: &Redactor,
        mut call: F,
    ) -> Result<(Vec<ConfigItem>, Vec<K>), LiveReadError>
    where
        F: FnMut(Vec<K>) -> Fut,
        Fut: std::future::Future<Output = Result<(Vec<BaseConfigurationItem>, Vec<K>), LiveReadError>>,
    {
        let mut out = Vec::new();
        let mut delay = self.retry.base_delay;
        let attempts = self.retry.attempts.max(1);
        for attempt in 1..=attempts {
            let (items, left) = call(std::mem::take(&mut pending)).await?;
            for it in &items {
                let what = key_text(it.resource_type().map(|t| t.as_str()).unwrap_or("?"), it.resource_id().unwrap_or("?"));
                out.push(item_from_value(base_item_json(it), redactor).map_err(|message| LiveReadError::Item { op, what, message })?);
            }
            pending = left;
            if pending.is_empty() {
                break;
            }
            if attempt < attempts {
                tracing::debug!(attempt, unprocessed = pending.len(), "{op} left keys unprocessed; retrying");
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(self.retry.max_delay);
            }
        }
        Ok((out, pending))
    }

    /// The oversized configuration item AWS Config delivered to S3 (the item, or the change
    /// notification holding it; gzip or plain JSON). When the reference names the resource,
    /// the item must be that resource's.
    pub async fn oversized(&self, r: &OversizedRef, redactor: &Redactor) -> Result<ConfigItem, LiveReadError> {
        let failed = |message: String, permanent| LiveReadError::Oversized {
            bucket: r.s3_bucket.clone(),
            key: r.s3_key.clone(),
            message,
            permanent,
        };
        let bad = |message: String| failed(message, true);
        let out = self
            .s3
            .get_object()
            .bucket(&r.s3_bucket)
            .key(&r.s3_key)
            .send()
            .await
            .map_err(|e| failed(format!("S3 GetObject: {}", describe(&e)), is_permanent(&e)))?;
        let body = out.body.collect().await.map_err(|e| failed(format!("reading the body: {}", one_line(&e)), false))?.into_bytes();
        let bytes = object_json(&body).map_err(bad)?;
        let (items, errors) = parse_document(&bytes, redactor).map_err(|e| bad(e.to_string()))?;
        let wanted = |it: &ConfigItem| {
            r.resource_type.as_deref().is_none_or(|t| t == it.resource_type)
                && r.resource_id.as_deref().is_none_or(|id| id == it.resource_id)
        };
        if let Some(item) = items.into_iter().find(wanted) {
            return Ok(item);
        }
        Err(bad(match (errors.first(), &r.resource_type, &r.resource_id) {
            (Some(e), _, _) => e.to_string(),
            (None, Some(t), Some(id)) => format!("holds no configuration item of {}", key_text(t, id)),
            _ => "holds no configuration item".into(),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn select_expression_quotes_types() {
        assert_eq!(
            select_expression(&["AWS::S3::Bucket", "AWS::KMS::Key"]),
            format!("SELECT {SELECT_FIELDS} WHERE resourceType IN ('AWS::S3::Bucket', 'AWS::KMS::Key')")
        );
        assert!(select_expression(&["a'b"]).ends_with("IN ('a''b')"));
    }

    #[test]
    fn delivered_objects_are_gunzipped_when_gzip() {
        use std::io::Write;
        let json = br#"{"configurationItem":{"resourceType":"T","resourceId":"i"}}"#;
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(json).unwrap();
        let gz = gz.finish().unwrap();
        assert_eq!(object_json(&gz).unwrap(), json.to_vec());
        assert_eq!(object_json(json).unwrap(), json.to_vec());
        let e = object_json(&gz[..gz.len() / 2]).unwrap_err();
        assert!(e.starts_with("not valid gzip"), "{e}");
    }

    #[test]
    fn batch_items_become_core_items() {
        let item = BaseConfigurationItem::builder()
            .resource_type(ResourceType::from("AWS::S3::Bucket"))
            .resource_id("b")
            .arn("arn:aws:s3:::b")
            .configuration_state_id("17")
            .configuration("{\"name\":\"b\"}")
            .supplementary_configuration("BucketTaggingConfiguration", "{\"tagSets\":[{\"tags\":{\"env\":\"prod\"}}]}")
            .supplementary_configuration("IsRequesterPaysEnabled", "false")
            .build();
        let got = item_from_value(base_item_json(&item), &Redactor::new(b"t")).unwrap();
        assert_eq!((got.resource_type.as_str(), got.resource_id.as_str(), got.state_id), ("AWS::S3::Bucket", "b", Some(17)));
        assert_eq!(got.doc["configuration"]["name"], "b");
        assert_eq!(got.doc["tags"]["env"], "prod");
        assert_eq!(got.doc["supplementaryConfiguration"]["IsRequesterPaysEnabled"], "false");
        assert_eq!(got.arn.as_deref(), Some("arn:aws:s3:::b"));
    }
}
