//! Event files for the engine's replay: which files are event files, reading them (gunzipped,
//! size-limited), and the version files beside them (see `driftwatch_engine::replay`'s
//! conventions).

use driftwatch_core::signal::StateObjectEvent;
use driftwatch_decode::MAX_DOCUMENT_BYTES;
use driftwatch_engine::replay::{Replay, Versions};
use std::io::Read;
use std::path::{Path, PathBuf};

/// Is this file name an event file (see the conventions)?
pub fn is_event_file(name: &str) -> bool {
    let data = name.ends_with(".json") || name.ends_with(".json.gz") || name.ends_with(".jsonl") || name.ends_with(".jsonl.gz");
    data && !name.starts_with("expected")
}

/// Event files under `path` (a file is taken as is), sorted by path.
pub fn event_files(path: &Path) -> std::io::Result<Vec<PathBuf>> {
    if std::fs::metadata(path)?.is_file() {
        return Ok(vec![path.to_path_buf()]);
    }
    let mut out = Vec::new();
    walk(path, &mut out)?;
    out.sort();
    Ok(out)
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let path = entry.path();
        if entry.file_type()?.is_dir() {
            walk(&path, out)?;
        } else if path.file_name().and_then(|n| n.to_str()).is_some_and(is_event_file) {
            out.push(path);
        }
    }
    Ok(())
}

/// Read a file (gunzipping `*.gz`), refusing more than [`MAX_DOCUMENT_BYTES`].
pub fn read_file(path: &Path) -> Result<Vec<u8>, String> {
    let file = std::fs::File::open(path).map_err(|e| e.to_string())?;
    let len = file.metadata().map_err(|e| e.to_string())?.len();
    if len > MAX_DOCUMENT_BYTES {
        return Err(format!("file is {len} bytes, larger than the {MAX_DOCUMENT_BYTES}-byte limit"));
    }
    let mut buf = Vec::with_capacity(len as usize);
    if path.extension().is_some_and(|e| e == "gz") {
        let mut gz = flate2::read::GzDecoder::new(std::io::BufReader::with_capacity(1 << 16, file)).take(MAX_DOCUMENT_BYTES + 1);
        gz.read_to_end(&mut buf).map_err(|e| format!("not a valid gzip file: {e}"))?;
        if buf.len() as u64 > MAX_DOCUMENT_BYTES {
            return Err(format!("decompresses to more than {MAX_DOCUMENT_BYTES} bytes"));
        }
    } else {
        let mut file = file;
        file.read_to_end(&mut buf).map_err(|e| e.to_string())?;
    }
    Ok(buf)
}

/// `V.tfstate` / `V.tflock` files in one directory (the event file's).
#[derive(Debug, Clone)]
pub struct FileVersions {
    pub dir: PathBuf,
}

impl FileVersions {
    fn file(&self, version: &str, ext: &str) -> Option<PathBuf> {
        // A version id is an opaque token; refuse anything that could leave the directory.
        if version.is_empty() || version.contains(['/', '\\']) || version.starts_with('.') {
            return None;
        }
        let p = self.dir.join(format!("{version}.{ext}"));
        p.is_file().then_some(p)
    }
}

impl Versions for FileVersions {
    fn state_version(&self, ev: &StateObjectEvent) -> Option<Result<Vec<u8>, String>> {
        let p = self.file(ev.version_id.as_deref()?, "tfstate")?;
        Some(std::fs::read(&p).map_err(|e| format!("{}: {e}", p.display())))
    }
    fn lock_body(&self, version_id: &str) -> Option<Result<Vec<u8>, String>> {
        let p = self.file(version_id, "tflock")?;
        Some(std::fs::read(&p).map_err(|e| format!("{}: {e}", p.display())))
    }
}

/// Replay one event file (read, gunzipped, decoded, detected). `progress` is called with
/// the number of records decoded so far in this file, every 16,384 records.
pub fn feed_file(replay: &mut Replay<'_>, path: &Path, progress: &mut dyn FnMut(u64)) -> Result<(), String> {
    let bytes = read_file(path)?;
    let name = path.display().to_string();
    let versions = FileVersions { dir: path.parent().map(Path::to_path_buf).unwrap_or_default() };
    let jsonl = name.ends_with(".jsonl") || name.ends_with(".jsonl.gz");
    replay.feed_bytes(&bytes, &name, jsonl, &versions, progress);
    Ok(())
}
