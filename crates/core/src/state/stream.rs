//! Reading a state as it arrives: resource by resource, never the whole file at once.
//!
//! [`StateReader`] is fed the file's bytes in chunks of any size (a file read piece by piece,
//! an S3 body as it streams). A small scanner finds where each element of the `resources`
//! array ends; each element is then parsed on its own ([`super::ResourceSeed`]) and its
//! instances handed out. What is held at any time is the unfinished element, not the file:
//! a 110 MB state is read in the memory of its largest resource.
//!
//! The scanner only delimits values (strings with their escapes, nesting); the JSON grammar
//! is checked by `serde_json` on every element and header value, and errors name the line
//! and column in the whole file.

use super::{emit_resource, json_error, version_of, ResourceInstance, ResourceSeed, StateError, StateLocation};
use crate::catalog::Catalog;
use crate::redact::Redactor;
use serde::de::DeserializeSeed;
use serde_json::Value;
use std::sync::Arc;

/// What a state says about itself (everything but its resources).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StateHeader {
    pub terraform_version: String,
    pub serial: u64,
    pub lineage: String,
}

/// Where the reader is in the document's top level.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Before the opening `{`.
    Start,
    /// In the top-level object, before a member (or its closing `}`); `first`: no member yet.
    Members { first: bool },
    /// After a `,` in the top-level object: a member must follow.
    Member,
    /// After a member's name and `:`, before its value.
    Value,
    /// In the `resources` array, before an element (or `]`); `first`: no element yet.
    Resources { first: bool },
    /// After a `,` in the `resources` array (or its `[`): an element must follow.
    Element,
    /// After the closing `}`: only whitespace may follow.
    Done,
}

/// The state of the resumable scan of one value.
#[derive(Debug, Clone, Copy, Default)]
struct Scan {
    /// Bytes of the value scanned so far (from its first byte).
    len: usize,
    depth: u32,
    in_str: bool,
    /// The byte before was a backslash inside a string.
    escaped: bool,
}

/// A streaming reader of one Terraform state (format version 4).
pub struct StateReader<'c> {
    catalog: &'c Catalog,
    redactor: &'c Redactor,
    location: StateLocation,
    /// Bytes received and not yet consumed.
    buf: Vec<u8>,
    /// Consumed bytes at the front of `buf` (drained lazily).
    pos: usize,
    /// Line and column (1-based) of `buf[0]` in the whole file.
    line: usize,
    column: usize,
    phase: Phase,
    /// The member whose value comes next (`Phase::Value`).
    member: String,
    scan: Option<Scan>,
    header: StateHeader,
    version: Option<Value>,
    /// Nothing but whitespace received so far.
    only_whitespace: bool,
    /// Instances handed out so far.
    emitted: u32,
    /// Recording each resource element's digest and instances ([`StateReader::record_elements`]).
    recording: Option<Elements>,
    /// A version read before, whose identical elements are not parsed again.
    reuse: Option<(Elements, Vec<Arc<ResourceInstance>>)>,
    /// How resource elements end in this file ([`Layout`]).
    layout: Layout,
    /// Bytes of the current element already searched for its end by the layout.
    searched: usize,
}

/// How the reader finds where a resource element ends. Terraform writes a state
/// pretty-printed, each element's closing `}` on a line of its own, indented as the line the
/// element opens on: the first newline after the element's start followed by that indentation
/// and `}` ends it (JSON strings hold no raw newline, so such a line is structure). That is
/// found with a vectorised substring search instead of a scan of every byte. The bytes so
/// found are checked before they are used — parsed as exactly one value, or found among the
/// recorded elements of another version, which were — and a file laid out otherwise is read
/// by the scan from then on.
enum Layout {
    /// The first element not reached yet.
    Unknown,
    /// The first element opens a line: `\n`, that line's indentation, `}` — to be confirmed
    /// by where the scan finds its end.
    Candidate(memchr::memmem::Finder<'static>),
    /// `\n`, the indentation of the first element's line, `}`.
    Lines(memchr::memmem::Finder<'static>),
    /// Elements not on lines of their own (compact JSON), or a line that did not end one.
    Scan,
}

/// The resource elements of a state read: the digest of each element's bytes, with the
/// range of the state's instances it produced. Given to the reader of another version of the
/// same state ([`StateReader::reuse`]), an element with the same bytes is not parsed again:
/// its instances are the ones already read. Consecutive versions of a state differ in a few
/// resources, so reading the previous version after the current one costs a scan, not a
/// parse, and shares the instances rather than holding them twice.
#[derive(Debug, Clone, Default)]
pub struct Elements {
    by_digest: std::collections::HashMap<(usize, u64), (u32, u32), foldhash::fast::RandomState>,
}

impl Elements {
    pub fn len(&self) -> usize {
        self.by_digest.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_digest.is_empty()
    }
}

/// An element's digest: its length and a 64-bit hash of its bytes. Not cryptographic:
/// states are written by the pipeline, and a collision would only let the reader take one
/// resource's instances for another's bytes of the same length.
fn element_digest(bytes: &[u8]) -> (usize, u64) {
    use std::hash::BuildHasher;
    (bytes.len(), foldhash::quality::FixedState::with_seed(0x243f_6a88_85a3_08d3).hash_one(bytes))
}
/// Bytes kept before the consumed front of the buffer is dropped.
const DRAIN_AT: usize = 1 << 16;

impl<'c> StateReader<'c> {
    pub fn new(location: StateLocation, catalog: &'c Catalog, redactor: &'c Redactor) -> Self {
        StateReader {
            catalog,
            redactor,
            location,
            buf: Vec::new(),
            pos: 0,
            line: 1,
            column: 1,
            phase: Phase::Start,
            member: String::new(),
            scan: None,
            header: StateHeader::default(),
            version: None,
            only_whitespace: true,
            emitted: 0,
            recording: None,
            reuse: None,
            layout: Layout::Unknown,
            searched: 0,
        }
    }

    /// Remember each resource element's digest and instances, for
    /// [`StateReader::finish_with_elements`].
    pub fn record_elements(&mut self) {
        self.recording = Some(Elements::default());
    }

    /// Take the instances of an element with the same bytes from a version read before
    /// (`instances` as that read handed them out, `elements` as it recorded them) instead of
    /// parsing it again.
    pub fn reuse(&mut self, elements: Elements, instances: Vec<Arc<ResourceInstance>>) {
        self.reuse = Some((elements, instances));
    }

    pub fn location(&self) -> &StateLocation {
        &self.location
    }

    /// The header as read so far. Terraform writes `version`, `terraform_version`, `serial`
    /// and `lineage` before `resources`, so it is complete before the first instance.
    pub fn header(&self) -> &StateHeader {
        &self.header
    }

    /// The next bytes of the file. Every resource instance completed by them is passed to
    /// `out`, in file order.
    pub fn feed(&mut self, chunk: &[u8], out: &mut dyn FnMut(Arc<ResourceInstance>)) -> Result<(), StateError> {
        if self.only_whitespace {
            self.only_whitespace = chunk.iter().all(u8::is_ascii_whitespace);
        }
        if self.pos == self.buf.len() {
            // Nothing pending: the chunk is read where it is, and only what it leaves
            // unfinished (the start of the next resource, usually) is kept.
            self.drain();
            let r = step_all(self, chunk, false, out);
            let (line, column) = position(chunk, self.line, self.column, self.pos);
            self.buf.extend_from_slice(&chunk[self.pos.min(chunk.len())..]);
            (self.pos, self.line, self.column) = (0, line, column);
            return r;
        }
        if self.pos >= DRAIN_AT && self.pos * 2 >= self.buf.len() {
            self.drain();
        }
        self.buf.extend_from_slice(chunk);
        let buf = std::mem::take(&mut self.buf);
        let r = step_all(self, &buf, false, out);
        self.buf = buf;
        r
    }

    /// The end of the file: the document must be complete.
    pub fn finish(self, out: &mut dyn FnMut(Arc<ResourceInstance>)) -> Result<StateHeader, StateError> {
        self.finish_with_elements(out).map(|(header, _)| header)
    }

    /// [`StateReader::finish`], and the elements recorded ([`StateReader::record_elements`]).
    pub fn finish_with_elements(mut self, out: &mut dyn FnMut(Arc<ResourceInstance>)) -> Result<(StateHeader, Elements), StateError> {
        if self.only_whitespace {
            return Err(StateError::Empty);
        }
        let buf = std::mem::take(&mut self.buf);
        step_all(&mut self, &buf, true, out)?;
        let elements = self.recording.take().unwrap_or_default();
        complete(self, &buf).map(|header| (header, elements))
    }

    /// Read a whole state held in memory (the bytes are the buffer: nothing is copied).
    pub fn read_all(mut self, bytes: &[u8], out: &mut dyn FnMut(Arc<ResourceInstance>)) -> Result<StateHeader, StateError> {
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Err(StateError::Empty);
        }
        step_all(&mut self, bytes, true, out)?;
        complete(self, bytes)
    }

    /// Whether resource elements are found by Terraform's layout ([`Layout::Lines`]).
    #[cfg(test)]
    pub(crate) fn reads_by_lines(&self) -> bool {
        matches!(self.layout, Layout::Lines(_))
    }

    fn drain(&mut self) {
        let (line, column) = self.position_at(self.pos);
        self.buf.drain(..self.pos);
        self.pos = 0;
        self.line = line;
        self.column = column;
    }

    fn position_at(&self, at: usize) -> (usize, usize) {
        position(&self.buf, self.line, self.column, at)
    }
}

/// The checks at the end of the file.
fn complete(r: StateReader<'_>, buf: &[u8]) -> Result<StateHeader, StateError> {
    if r.phase != Phase::Done {
        let (line, column) = position(buf, r.line, r.column, buf.len());
        return Err(StateError::Json { message: "unexpected end of file (truncated?): EOF while parsing the state".into(), line, column });
    }
    match &r.version {
        Some(v) => version_of(v)?,
        None => return Err(StateError::Json { message: "missing field `version`".into(), line: 1, column: 1 }),
    }
    Ok(r.header)
}

/// Line and column of `buf[at]`, `buf[0]` being at (`line`, `column`).
fn position(buf: &[u8], line: usize, column: usize, at: usize) -> (usize, usize) {
    let head = &buf[..at.min(buf.len())];
    let newlines = memchr::memchr_iter(b'\n', head).count();
    match memchr::memrchr(b'\n', head) {
        Some(i) => (line + newlines, at - i),
        None => (line, column + at),
    }
}

fn invalid(r: &StateReader<'_>, buf: &[u8], at: usize, message: String) -> StateError {
    let (line, column) = position(buf, r.line, r.column, at);
    StateError::Json { message, line, column }
}

fn skip_ws(buf: &[u8], mut i: usize) -> usize {
    while i < buf.len() && buf[i].is_ascii_whitespace() {
        i += 1;
    }
    i
}

/// Run the top-level state machine over `buf[r.pos..]` as far as the bytes allow.
fn step_all(r: &mut StateReader<'_>, buf: &[u8], eof: bool, out: &mut dyn FnMut(Arc<ResourceInstance>)) -> Result<(), StateError> {
    loop {
        let i = skip_ws(buf, r.pos);
        r.pos = i;
        if i >= buf.len() {
            return Ok(());
        }
        let c = buf[i];
        match r.phase {
            Phase::Start => {
                if c != b'{' {
                    return Err(invalid(r, buf, i, format!("expected a JSON object, found {}", shown(c))));
                }
                r.pos = i + 1;
                r.phase = Phase::Members { first: true };
            }
            Phase::Members { first } => {
                if c == b'}' {
                    r.pos = i + 1;
                    r.phase = Phase::Done;
                } else if first {
                    r.phase = Phase::Member;
                } else if c == b',' {
                    r.pos = i + 1;
                    r.phase = Phase::Member;
                } else {
                    return Err(invalid(r, buf, i, format!("expected `,` or `}}` after a member, found {}", shown(c))));
                }
            }
            Phase::Member => {
                if c != b'"' {
                    return Err(invalid(r, buf, i, format!("expected a member name, found {}", shown(c))));
                }
                let Some(end) = string_end(buf, i) else { return Ok(()) };
                let k = skip_ws(buf, end);
                if k >= buf.len() {
                    return Ok(());
                }
                if buf[k] != b':' {
                    return Err(invalid(r, buf, k, format!("expected `:` after a member name, found {}", shown(buf[k]))));
                }
                r.member = serde_json::from_slice::<String>(&buf[i..end]).map_err(|e| relative(r, buf, i, e))?;
                r.pos = k + 1;
                r.phase = Phase::Value;
            }
            Phase::Value => {
                if r.member == "resources" && c == b'[' {
                    r.pos = i + 1;
                    r.phase = Phase::Resources { first: true };
                    continue;
                }
                let Some(end) = value_end(r, buf, i, eof) else { return Ok(()) };
                let slice = &buf[i..end];
                match r.member.as_str() {
                    "version" => {
                        let v: Value = serde_json::from_slice(slice).map_err(|e| relative(r, buf, i, e))?;
                        version_of(&v)?;
                        r.version = Some(v);
                    }
                    "terraform_version" => {
                        r.header.terraform_version =
                            serde_json::from_slice::<Option<String>>(slice).map_err(|e| relative(r, buf, i, e))?.unwrap_or_default()
                    }
                    "serial" => {
                        r.header.serial =
                            serde_json::from_slice::<Option<u64>>(slice).map_err(|e| relative(r, buf, i, e))?.unwrap_or_default()
                    }
                    "lineage" => {
                        r.header.lineage =
                            serde_json::from_slice::<Option<String>>(slice).map_err(|e| relative(r, buf, i, e))?.unwrap_or_default()
                    }
                    "resources" => {
                        // Not an array: let serde say what it is.
                        serde_json::from_slice::<Option<Vec<serde::de::IgnoredAny>>>(slice).map_err(|e| relative(r, buf, i, e))?;
                    }
                    _ => {
                        serde_json::from_slice::<serde::de::IgnoredAny>(slice).map_err(|e| relative(r, buf, i, e))?;
                    }
                }
                r.pos = end;
                r.phase = Phase::Members { first: false };
            }
            Phase::Resources { first } => {
                if c == b']' {
                    r.pos = i + 1;
                    r.phase = Phase::Members { first: false };
                } else if first {
                    r.phase = Phase::Element;
                } else if c == b',' {
                    r.pos = i + 1;
                    r.phase = Phase::Element;
                } else {
                    return Err(invalid(r, buf, i, format!("expected `,` or `]` after a resource, found {}", shown(c))));
                }
            }
            Phase::Element => {
                if c == b']' {
                    return Err(invalid(r, buf, i, "expected a resource after `,`, found `]`".into()));
                }
                if matches!(r.layout, Layout::Unknown) {
                    r.layout = layout_of(buf, i);
                }
                let (end, by_layout) = match (&r.layout, &r.scan) {
                    (Layout::Lines(finder), None) => match line_end(finder, buf, i, &mut r.searched) {
                        Some(end) => (end, true),
                        None if !eof && r.searched <= LAYOUT_SEARCH_LIMIT => return Ok(()),
                        None => {
                            r.layout = Layout::Scan;
                            continue;
                        }
                    },
                    _ => match value_end(r, buf, i, eof) {
                        Some(end) => (end, false),
                        None => return Ok(()),
                    },
                };
                if let Layout::Candidate(finder) = &r.layout {
                    // The first element is scanned: the layout holds if it ends where the
                    // layout says.
                    let mut searched = 0;
                    r.layout = match line_end(finder, buf, i, &mut searched) {
                        Some(e) if e == end => Layout::Lines(finder.clone()),
                        _ => Layout::Scan,
                    };
                }
                r.searched = 0;
                let bytes = &buf[i..end];
                let digest = (r.recording.is_some() || r.reuse.is_some()).then(|| element_digest(bytes));
                let first = r.emitted;
                let known = match (&r.reuse, digest) {
                    (Some((elements, instances)), Some(d)) => {
                        elements.by_digest.get(&d).and_then(|&(from, n)| instances.get(from as usize..(from + n) as usize))
                    }
                    _ => None,
                };
                if let Some(same) = known {
                    for inst in same {
                        out(inst.clone());
                    }
                    r.emitted += same.len() as u32;
                } else {
                    let mut de = serde_json::Deserializer::from_slice(bytes);
                    let parsed = ResourceSeed { catalog: r.catalog }.deserialize(&mut de).and_then(|p| de.end().map(|_| p));
                    if parsed.is_err() && by_layout {
                        // Not where the layout said it ends: this file is read by the scan.
                        r.layout = Layout::Scan;
                        continue;
                    }
                    let resource = parsed.map_err(|e| relative(r, buf, i, e))?;
                    let emitted = &mut r.emitted;
                    emit_resource(resource, r.catalog, r.redactor, &mut |inst| {
                        *emitted += 1;
                        out(Arc::new(inst));
                    })?;
                }
                if let (Some(rec), Some(d)) = (&mut r.recording, digest) {
                    rec.by_digest.insert(d, (first, r.emitted - first));
                }
                r.pos = end;
                r.phase = Phase::Resources { first: false };
            }
            Phase::Done => {
                return Err(invalid(r, buf, i, format!("trailing characters after the state: {}", shown(c))));
            }
        }
    }
}

/// A serde error inside the value at `buf[at..]`, positioned in the whole file.
fn relative(r: &StateReader<'_>, buf: &[u8], at: usize, e: serde_json::Error) -> StateError {
    let (line, column) = position(buf, r.line, r.column, at);
    match json_error(e) {
        StateError::Json { message, line: l, column: c } => {
            let column = if l <= 1 { column + c.saturating_sub(1) } else { c };
            StateError::Json { message, line: line + l.saturating_sub(1), column }
        }
        other => other,
    }
}

fn shown(c: u8) -> String {
    if c.is_ascii_graphic() {
        format!("`{}`", c as char)
    } else {
        format!("byte 0x{c:02x}")
    }
}

/// How far past an element's start the layout looks for its end before the file is read by
/// the scan (a file laid out otherwise is never buffered much beyond an element).
const LAYOUT_SEARCH_LIMIT: usize = 64 << 20;

/// The [`Layout`] a file whose first resource element starts at `buf[start]` may have: when
/// the element opens a line indented with spaces, [`Layout::Candidate`] (confirmed once the
/// scan finds the element's end).
fn layout_of(buf: &[u8], start: usize) -> Layout {
    let Some(line) = buf[..start].iter().rposition(|&b| b == b'\n').map(|n| n + 1) else { return Layout::Scan };
    if !buf[line..start].iter().all(|&b| b == b' ') {
        return Layout::Scan;
    }
    let mut needle = Vec::with_capacity(start - line + 2);
    needle.push(b'\n');
    needle.extend_from_slice(&buf[line..start]);
    needle.push(b'}');
    Layout::Candidate(memchr::memmem::Finder::new(&needle).into_owned())
}

/// End (exclusive) of the element starting at `buf[start]` by the [`Layout::Lines`] layout, if
/// the bytes hold it; `searched` (bytes after `start` already searched) resumes the search
/// when more bytes come.
fn line_end(finder: &memchr::memmem::Finder<'_>, buf: &[u8], start: usize, searched: &mut usize) -> Option<usize> {
    let from = start + searched.saturating_sub(finder.needle().len());
    match finder.find(&buf[from..]) {
        Some(k) => Some(from + k + finder.needle().len()),
        None => {
            *searched = buf.len() - start;
            None
        }
    }
}

/// End (exclusive) of the string starting at `buf[start] == '"'`, if complete.
fn string_end(buf: &[u8], start: usize) -> Option<usize> {
    let mut i = start + 1;
    loop {
        let k = memchr::memchr2(b'"', b'\\', &buf[i..])?;
        i += k;
        if buf[i] == b'\\' {
            i += 2;
            if i > buf.len() {
                return None;
            }
        } else {
            return Some(i + 1);
        }
    }
}

/// End (exclusive) of the value starting at `buf[start]`, if the bytes hold all of it. The
/// scan resumes where it stopped when more bytes come (`r.scan`).
fn value_end(r: &mut StateReader<'_>, buf: &[u8], start: usize, eof: bool) -> Option<usize> {
    let first = buf[start];
    if !matches!(first, b'{' | b'[' | b'"') {
        // A number, `true`, `false` or `null`: up to the next delimiter.
        let rest = &buf[start..];
        return match rest.iter().position(|b| matches!(b, b',' | b'}' | b']') || b.is_ascii_whitespace()) {
            Some(n) => Some(start + n.max(1)),
            None if eof => Some(buf.len()),
            None => None,
        };
    }
    let mut s = r.scan.take().unwrap_or_default();
    let mut i = start + s.len;
    let n = buf.len();
    while i < n {
        if s.in_str {
            if s.escaped {
                s.escaped = false;
                i += 1;
                continue;
            }
            i = next_of(buf, i, in_string);
            if i >= n {
                break;
            }
            if buf[i] == b'\\' {
                s.escaped = true;
            } else {
                s.in_str = false;
                if s.depth == 0 {
                    return Some(i + 1);
                }
            }
            i += 1;
        } else {
            i = next_of(buf, i, structural);
            if i >= n {
                break;
            }
            match buf[i] {
                b'"' => s.in_str = true,
                b'{' | b'[' => s.depth += 1,
                _ => {
                    // `}` or `]`
                    s.depth = s.depth.saturating_sub(1);
                    if s.depth == 0 {
                        return Some(i + 1);
                    }
                }
            }
            i += 1;
        }
    }
    if eof {
        // Incomplete at the end: serde reports the truncation with its position.
        return Some(n);
    }
    s.len = n - start;
    r.scan = Some(s);
    None
}

/// Eight bytes at a time: a mask with the high bit set in each byte of `x` equal to `b`
/// (exact up to the first such byte, which is all [`next_of`] reads).
#[inline(always)]
fn bytes_equal(x: u64, b: u8) -> u64 {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    let y = x ^ (ONES * b as u64);
    y.wrapping_sub(ONES) & !y & HIGHS
}

/// Inside a string: `"` or `\`.
#[inline(always)]
fn in_string(x: u64) -> u64 {
    bytes_equal(x, b'"') | bytes_equal(x, b'\\')
}

/// Outside strings: `"`, `{`, `}`, `[` or `]` (`[` and `]` are `{` and `}` without bit 5).
#[inline(always)]
fn structural(x: u64) -> u64 {
    let folded = x | 0x2020_2020_2020_2020;
    bytes_equal(x, b'"') | bytes_equal(folded, b'{') | bytes_equal(folded, b'}')
}

/// The first position from `i` whose byte `mask` flags, or `buf.len()`: eight bytes a step,
/// the way a scan of pretty-printed JSON (long runs of indentation and short strings)
/// goes fastest without SIMD intrinsics.
#[inline(always)]
fn next_of(buf: &[u8], mut i: usize, mask: impl Fn(u64) -> u64) -> usize {
    while i + 8 <= buf.len() {
        let x = u64::from_le_bytes(buf[i..i + 8].try_into().expect("eight bytes"));
        let m = mask(x);
        if m != 0 {
            return i + (m.trailing_zeros() / 8) as usize;
        }
        i += 8;
    }
    while i < buf.len() {
        if mask(buf[i] as u64) & 0x80 != 0 {
            return i;
        }
        i += 1;
    }
    buf.len()
}
