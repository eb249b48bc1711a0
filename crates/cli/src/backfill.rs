//! `driftwatch backfill`: replay a period of a trail's existing log files through the deployed
//! trail watcher. The files are listed (day folders of each account and region under
//! `AWSLogs/`), and each one's S3 notification is sent to the trail watcher's backfill queue,
//! whose event source mapping reads them in parallel exactly as it reads a file just delivered:
//! the same findings, evidence and alerts, no second engine.

use anyhow::{bail, Context, Result};
use chrono::Utc;
use driftwatch_aws::{load_sdk_config, s3_client, sqs_client, PathStyle, TrailBackfill};
use driftwatch_core::backfill::{is_account, notification, parse_time, LogFile, Period};
use std::collections::BTreeMap;
use tokio::task::JoinSet;

/// Send attempts for a message the queue did not take (throttled, or a transient error).
const ATTEMPTS: u32 = 4;

/// Replay a period of a CloudTrail trail's log files through the deployed trail-watcher.
///
/// Lists the log files the trail delivered between --from and --to (every account and region
/// under AWSLogs/, an organisation trail's too), then sends one S3 notification per file to the
/// trail-watcher's backfill queue (the `backfill_queue_url` output of infra/). The function
/// reads them in parallel (at most `backfill_concurrency` at once), as it reads a file just
/// delivered. Replaying a file twice changes nothing: findings, evidence and alerts are
/// idempotent, so a period can be run again after a failure.
///
/// Exit status: 0 every file enqueued (or listed, with --dry-run), 2 error (nothing listed, or
/// files the queue did not take, each named on stderr).
#[derive(Debug, clap::Args)]
pub struct BackfillArgs {
    /// The bucket the trail delivers log files to (driftwatch's own trail: the
    /// `trail_log_location` output of infra/)
    #[arg(long, value_name = "BUCKET")]
    trail_bucket: String,
    /// The trail's S3 key prefix, the part before `AWSLogs/` (driftwatch's own trail:
    /// `cloudtrail/`)
    #[arg(long, default_value = "")]
    prefix: String,
    /// Start of the period, inclusive: a date (midnight UTC) or an RFC 3339 time. Files are
    /// selected by when CloudTrail delivered them (the time in their name)
    #[arg(long, value_name = "TIME")]
    from: String,
    /// End of the period, exclusive [default: now]
    #[arg(long, value_name = "TIME")]
    to: Option<String>,
    /// Only these accounts (repeat, or comma-separate)
    #[arg(long = "account", value_name = "ID", value_delimiter = ',')]
    accounts: Vec<String>,
    /// Only these regions (repeat, or comma-separate)
    #[arg(long = "region", value_name = "REGION", value_delimiter = ',')]
    regions: Vec<String>,
    /// The trail-watcher's backfill queue (the `backfill_queue_url` output of infra/)
    #[arg(long, value_name = "URL", required_unless_present = "dry_run")]
    queue_url: Option<String>,
    /// List the files the period covers, per account and region; send nothing
    #[arg(long)]
    dry_run: bool,
    /// Calls in flight at once, listing and sending
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u16).range(1..=64))]
    parallel: u16,
}

/// A log file selected for the period.
#[derive(Debug, Clone)]
struct Selected {
    key: String,
    size: i64,
    modified: chrono::DateTime<Utc>,
    file: LogFile,
}

pub fn run(args: BackfillArgs) -> Result<bool> {
    let from = parse_time(&args.from).map_err(anyhow::Error::msg).context("--from")?;
    let to = match &args.to {
        Some(t) => parse_time(t).map_err(anyhow::Error::msg).context("--to")?,
        None => Utc::now(),
    };
    let period = Period::new(from, to).map_err(anyhow::Error::msg)?;
    if let Some(bad) = args.accounts.iter().find(|a| !is_account(a)) {
        bail!("--account {bad:?} is not an account id (twelve digits)");
    }
    let parallel = usize::from(args.parallel);
    let rt = driftwatch_aws::blocking_runtime().context("starting the AWS client runtime")?;
    let sdk = rt.block_on(load_sdk_config());
    let region = sdk.region().map(|r| r.to_string()).unwrap_or_default();
    let aws = TrailBackfill::new(s3_client(&sdk, PathStyle::from_env()?), sqs_client(&sdk));

    // The queue is checked before anything is listed: a wrong URL fails in one call.
    if let (false, Some(url)) = (args.dry_run, &args.queue_url) {
        let waiting = rt.block_on(aws.depth(url)).context("the backfill queue")?;
        if waiting > 0 {
            eprintln!("note: {waiting} message(s) already wait in the backfill queue");
        }
    }

    let files = rt.block_on(select(&aws, &args, &period, parallel))?;
    summarise(&files, &args, &period);
    if args.dry_run || files.is_empty() {
        return Ok(false);
    }
    let url = args.queue_url.as_deref().unwrap_or_default();
    let failed = rt.block_on(enqueue(&aws, url, &args.trail_bucket, &region, &files, parallel));
    if !failed.is_empty() {
        for (key, why) in &failed {
            eprintln!("not enqueued: s3://{}/{key}: {why}", args.trail_bucket);
        }
        bail!(
            "{} of {} log files were not enqueued (named above); run the same period again: a file replayed twice changes nothing",
            failed.len(),
            files.len()
        );
    }
    println!("enqueued {} log file(s) to {url}", files.len());
    Ok(false)
}

/// The trail's key prefix up to `AWSLogs/`.
fn logs_root(prefix: &str) -> String {
    let p = prefix.trim_start_matches('/');
    if p.is_empty() || p.ends_with('/') {
        format!("{p}AWSLogs/")
    } else {
        format!("{p}/AWSLogs/")
    }
}

/// The last path segment of a folder prefix (`…/111122223333/` → `111122223333`).
fn leaf(folder: &str) -> &str {
    folder.trim_end_matches('/').rsplit('/').next().unwrap_or_default()
}

/// List the period's log files: accounts (under organisation ids too), their regions, then
/// the day folders the period touches, `parallel` listings at a time.
async fn select(aws: &TrailBackfill, args: &BackfillArgs, period: &Period, parallel: usize) -> Result<Vec<Selected>> {
    let bucket = args.trail_bucket.as_str();
    let root = logs_root(&args.prefix);
    let top = aws.folders(bucket, &root).await?;
    if top.is_empty() {
        bail!("no CloudTrail log files under s3://{bucket}/{root}: is --prefix the trail's S3 key prefix (driftwatch's own trail: cloudtrail/)?");
    }
    let mut accounts = Vec::new();
    for folder in top {
        if leaf(&folder).starts_with("o-") {
            accounts.extend(aws.folders(bucket, &folder).await?);
        } else {
            accounts.push(folder);
        }
    }
    accounts.retain(|a| is_account(leaf(a)) && (args.accounts.is_empty() || args.accounts.iter().any(|x| x == leaf(a))));
    let spinner = crate::replay::spinner("folder(s) listed");
    spinner.set_message(format!("s3://{bucket}/{root}"));
    let mut regions = Vec::new();
    for a in &accounts {
        let found = aws.folders(bucket, &format!("{a}CloudTrail/")).await?;
        regions.extend(found.into_iter().filter(|r| args.regions.is_empty() || args.regions.iter().any(|x| x == leaf(r))));
        spinner.inc(1);
    }
    let days: Vec<String> = regions.iter().flat_map(|r| period.days().into_iter().map(move |d| format!("{r}{d}/"))).collect();
    let mut listings = Vec::new();
    in_parallel(
        days,
        parallel,
        |prefix| {
            let (aws, bucket) = (aws.clone(), bucket.to_string());
            async move { aws.objects(&bucket, &prefix).await }
        },
        |done| {
            listings.push(done);
            spinner.inc(1);
        },
    )
    .await;
    spinner.finish_and_clear();
    let mut listed = Vec::new();
    for done in listings {
        listed.extend(done.context("a listing task")??);
    }
    let mut files: Vec<Selected> = listed
        .into_iter()
        .filter_map(|o| {
            let file = LogFile::parse(&o.key)?;
            period.contains(file.delivered).then_some(Selected { key: o.key, size: o.size, modified: o.modified, file })
        })
        .collect();
    files.sort_by(|a, b| a.key.cmp(&b.key));
    Ok(files)
}

/// What the period covers, per account and region, on stdout.
fn summarise(files: &[Selected], args: &BackfillArgs, period: &Period) {
    let mut by: BTreeMap<(&str, &str), (usize, i64)> = BTreeMap::new();
    for f in files {
        let e = by.entry((f.file.account.as_str(), f.file.region.as_str())).or_default();
        e.0 += 1;
        e.1 += f.size;
    }
    println!(
        "backfill s3://{}/{} from {} to {}{}",
        args.trail_bucket,
        logs_root(&args.prefix),
        period.from.to_rfc3339(),
        period.to.to_rfc3339(),
        if args.dry_run { " (dry run: nothing sent)" } else { "" }
    );
    if by.is_empty() {
        println!("no log files were delivered in the period");
        return;
    }
    println!("{:<14} {:<16} {:>8} {:>14}", "account", "region", "files", "bytes");
    for ((account, region), (n, bytes)) in &by {
        println!("{account:<14} {region:<16} {n:>8} {bytes:>14}");
    }
    let bytes: i64 = files.iter().map(|f| f.size).sum();
    println!("{:<14} {:<16} {:>8} {:>14}", "total", "", files.len(), bytes);
}

/// Send every file's notification in batches of ten, `parallel` batches at a time; a message
/// the queue did not take is sent again (up to [`ATTEMPTS`] times). Returns what never went.
async fn enqueue(aws: &TrailBackfill, url: &str, bucket: &str, region: &str, files: &[Selected], parallel: usize) -> Vec<(String, String)> {
    let bar = crate::replay::spinner("log file(s) enqueued");
    let batches: Vec<Vec<(String, String)>> = files
        .chunks(driftwatch_aws::backfill::BATCH)
        .map(|c| c.iter().map(|f| (f.key.clone(), notification(bucket, region, &f.key, f.size, f.modified))).collect())
        .collect();
    let mut failed = Vec::new();
    in_parallel(
        batches,
        parallel,
        |batch| {
            let (aws, url) = (aws.clone(), url.to_string());
            async move { send_batch(&aws, &url, batch).await }
        },
        |done| match done {
            Ok((sent, lost)) => {
                bar.inc(sent as u64);
                failed.extend(lost);
            }
            Err(e) => failed.push(("(a batch)".into(), format!("the sending task failed: {e}"))),
        },
    )
    .await;
    bar.finish_and_clear();
    failed
}

/// Run `work` on each item, at most `parallel` at a time, handing each result to `done` as it
/// finishes.
async fn in_parallel<I, T, F>(
    items: impl IntoIterator<Item = I>,
    parallel: usize,
    work: impl Fn(I) -> F,
    mut done: impl FnMut(Result<T, tokio::task::JoinError>),
) where
    F: std::future::Future<Output = T> + Send + 'static,
    T: Send + 'static,
{
    let mut tasks = JoinSet::new();
    let mut pending = items.into_iter();
    loop {
        while tasks.len() < parallel {
            let Some(item) = pending.next() else { break };
            tasks.spawn(work(item));
        }
        let Some(result) = tasks.join_next().await else { break };
        done(result);
    }
}

/// One batch, with retries: (messages sent, `(key, reason)` of those that never were).
async fn send_batch(aws: &TrailBackfill, url: &str, mut batch: Vec<(String, String)>) -> (usize, Vec<(String, String)>) {
    let total = batch.len();
    let mut last: Vec<String> = vec![String::new(); batch.len()];
    for attempt in 0..ATTEMPTS {
        if attempt > 0 {
            tokio::time::sleep(std::time::Duration::from_millis(200 << attempt)).await;
        }
        let bodies: Vec<String> = batch.iter().map(|(_, b)| b.clone()).collect();
        let again: Vec<(usize, String)> = match aws.send(url, &bodies).await {
            Ok(rejected) => rejected,
            Err(e) => (0..batch.len()).map(|i| (i, e.to_string())).collect(),
        };
        if again.is_empty() {
            return (total, Vec::new());
        }
        let keep: Vec<usize> = again.iter().map(|(i, _)| *i).collect();
        last = again.into_iter().map(|(_, why)| why).collect();
        batch = keep.into_iter().filter_map(|i| batch.get(i).cloned()).collect();
    }
    let lost: Vec<(String, String)> = batch.into_iter().map(|(k, _)| k).zip(last).collect();
    (total - lost.len(), lost)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_logs_root_follows_the_prefix_as_written() {
        assert_eq!(logs_root(""), "AWSLogs/");
        assert_eq!(logs_root("cloudtrail"), "cloudtrail/AWSLogs/");
        assert_eq!(logs_root("/cloudtrail/"), "cloudtrail/AWSLogs/");
        assert_eq!(leaf("cloudtrail/AWSLogs/o-abc/111122223333/"), "111122223333");
    }
}
