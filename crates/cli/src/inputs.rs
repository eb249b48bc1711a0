//! Reading input files: states and live configuration documents, from files or directories.

use anyhow::{bail, Context, Result};
use driftwatch_aws::S3StateReader;
use std::io::Read;
use std::path::{Path, PathBuf};

/// Largest input file read (state files of 50,000 resources are ~100 MB).
pub const MAX_FILE_BYTES: u64 = 2 * 1024 * 1024 * 1024;

/// Expand a file-or-directory argument into files whose name satisfies `want`, sorted.
/// A directory with no matching file is an error naming it and what was looked for.
pub fn expand(arg: &Path, want: fn(&str) -> bool, what: &str) -> Result<Vec<PathBuf>> {
    let meta = std::fs::metadata(arg).with_context(|| format!("{}", arg.display()))?;
    if meta.is_file() {
        return Ok(vec![arg.to_path_buf()]);
    }
    let mut out = Vec::new();
    walk(arg, want, &mut out).with_context(|| format!("{}", arg.display()))?;
    out.sort();
    if out.is_empty() {
        bail!("{}: directory holds no {what}", arg.display());
    }
    Ok(out)
}

fn walk(dir: &Path, want: fn(&str) -> bool, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let path = entry.path();
        let ft = entry.file_type()?;
        if ft.is_dir() {
            walk(&path, want, out)?;
        } else if path.file_name().and_then(|n| n.to_str()).is_some_and(want) {
            out.push(path);
        }
    }
    Ok(())
}

/// `*.tfstate` (not backups).
pub fn is_state_file(name: &str) -> bool {
    name.ends_with(".tfstate")
}

/// `*.json` or `*.json.gz`.
pub fn is_live_file(name: &str) -> bool {
    name.ends_with(".json") || name.ends_with(".json.gz")
}

/// Read a whole file (gunzipping `.gz`), refusing files over [`MAX_FILE_BYTES`].
pub fn read(path: &Path) -> Result<Vec<u8>> {
    let file = std::fs::File::open(path).with_context(|| format!("{}", path.display()))?;
    let len = file.metadata().with_context(|| format!("{}", path.display()))?.len();
    if len > MAX_FILE_BYTES {
        bail!("{}: file is {len} bytes, larger than the {MAX_FILE_BYTES}-byte limit", path.display());
    }
    let mut buf = Vec::with_capacity(len as usize);
    if path.extension().is_some_and(|e| e == "gz") {
        flate2::read::GzDecoder::new(file)
            .take(MAX_FILE_BYTES + 1)
            .read_to_end(&mut buf)
            .with_context(|| format!("{}: not a valid gzip file", path.display()))?;
        if buf.len() as u64 > MAX_FILE_BYTES {
            bail!("{}: decompresses to more than {MAX_FILE_BYTES} bytes", path.display());
        }
    } else {
        let mut file = file;
        file.read_to_end(&mut buf).with_context(|| format!("{}", path.display()))?;
    }
    Ok(buf)
}

/// Where `--state` reads from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StateSource {
    /// A local file, or a directory searched for `*.tfstate`.
    Local(PathBuf),
    /// One state object in an S3 backend bucket.
    S3Key { bucket: String, key: String },
    /// Every `*.tfstate` under a prefix of an S3 bucket (empty: the whole bucket), and the
    /// same keys of every workspace (`env:/<workspace>/<prefix>…`).
    S3Prefix { bucket: String, prefix: String },
}

impl StateSource {
    /// `s3://BUCKET/KEY`, `s3://BUCKET/PREFIX/` or `s3://BUCKET`, else a local path.
    pub fn parse(arg: &str) -> Result<StateSource> {
        let Some(rest) = arg.strip_prefix("s3://") else { return Ok(StateSource::Local(PathBuf::from(arg))) };
        let (bucket, key) = rest.split_once('/').unwrap_or((rest, ""));
        let valid_bucket = (3..=63).contains(&bucket.len())
            && bucket.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '.' || c == '-')
            && bucket.starts_with(|c: char| c.is_ascii_alphanumeric())
            && bucket.ends_with(|c: char| c.is_ascii_alphanumeric());
        if !valid_bucket {
            bail!("{arg:?}: not an S3 bucket name (3-63 lowercase letters, digits, dots, hyphens): expected s3://BUCKET/KEY or s3://BUCKET/PREFIX/");
        }
        let (bucket, key) = (bucket.to_string(), key.to_string());
        Ok(if key.is_empty() || key.ends_with('/') {
            StateSource::S3Prefix { bucket, prefix: key }
        } else {
            StateSource::S3Key { bucket, key }
        })
    }
}

/// The state keys under `prefix` in `bucket`, sorted: `*.tfstate` keys starting with the
/// prefix, and those of every workspace (`env:/<workspace>/<prefix>…`). None is an error
/// naming the location.
pub async fn s3_state_keys(reader: &S3StateReader, bucket: &str, prefix: &str) -> Result<Vec<String>> {
    let keys = reader.state_keys(bucket, prefix, is_state_file).await?;
    if keys.is_empty() {
        bail!("s3://{bucket}/{prefix}: holds no Terraform state files (*.tfstate)");
    }
    Ok(keys)
}
