//! Benchmark: what one scheduled seal costs after a long history.
//!
//! ```text
//! cargo run --release -p driftwatch-benches --bin bench-seal -- --digests 10000 --records 1000
//! ```
//!
//! Builds an evidence store holding `--digests` signed, chained digests, one every 15 minutes
//! (the sweeper's schedule: 10,000 are 104 days), then writes `--records` new records and seals
//! them once as the sweeper does (`evidence::seal`, which reads only the recent days), and once
//! reading the whole history (`evidence::seal_reading_everything`, what every seal did before).
//! Prints, for each, the time and the S3 requests it would make against the evidence bucket
//! (`GetObject`, `ListObjectsV2` pages of 1,000 keys, `PutObject`). The store is
//! in memory, so the time is the computation; in S3 each GET adds a round trip.

#![recursion_limit = "256"]

use chrono::{Duration, TimeZone, Utc};
use driftwatch_core::evidence::{self, EvidenceError, EvidenceStore, Listed, MemoryStore, PutOutcome, Record, Signer25519};
use serde_json::json;
use std::cell::Cell;
use std::time::Instant;

/// The in-memory store, counting its calls.
#[derive(Default, Clone)]
struct Counting {
    inner: MemoryStore,
    gets: Cell<usize>,
    lists: Cell<usize>,
    puts: Cell<usize>,
}

impl Counting {
    fn reset(&self) {
        self.gets.set(0);
        self.lists.set(0);
        self.puts.set(0);
    }
}

impl EvidenceStore for Counting {
    fn put_new(&mut self, key: &str, bytes: &[u8]) -> Result<PutOutcome, EvidenceError> {
        self.puts.set(self.puts.get() + 1);
        self.inner.put_new(key, bytes)
    }
    fn get(&self, key: &str) -> Result<Option<Vec<u8>>, EvidenceError> {
        self.gets.set(self.gets.get() + 1);
        self.inner.get(key)
    }
    fn list(&self, prefix: &str) -> Result<Vec<Listed>, EvidenceError> {
        let listed = self.inner.list(prefix)?;
        // S3's ListObjectsV2 returns 1,000 keys a page: one request a page.
        self.lists.set(self.lists.get() + listed.len().div_ceil(1000).max(1));
        Ok(listed)
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (mut digests, mut records) = (10_000usize, 1_000usize);
    let mut i = 1;
    while i < args.len() {
        match args[i].as_str() {
            "--digests" => digests = args.get(i + 1).and_then(|s| s.parse().ok()).unwrap_or(digests),
            "--records" => records = args.get(i + 1).and_then(|s| s.parse().ok()).unwrap_or(records),
            "-h" | "--help" => {
                println!("bench-seal [--digests N] [--records M]\n  N digests 15 minutes apart, then M new records sealed once: time and store calls, recent days vs whole history.");
                return;
            }
            other => {
                eprintln!("unknown argument {other}");
                std::process::exit(2);
            }
        }
        i += 2;
    }
    let signer = Signer25519::from_seed([42; 32]);
    let start = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
    let record = |n: usize| Record {
        kind: "finding".into(),
        time: start,
        body: json!({"rule": "drift.changed", "fingerprint": format!("{n:032x}"), "resource": {"type": "AWS::S3::Bucket", "id": format!("bucket-{n}")}}),
    };

    let t0 = Instant::now();
    let mut store = Counting::default();
    let mut now = start;
    for n in 0..digests {
        // A record every fourth window, as a quiet estate's watcher writes them.
        if n % 4 == 0 {
            evidence::write_record(&mut store, "", &record(n), now).expect("write");
        }
        now += Duration::minutes(15);
        evidence::seal(&mut store, "", &signer, now).expect("seal");
    }
    eprintln!("history: {digests} digests over {} days, built in {:.1} s", (now - start).num_days(), t0.elapsed().as_secs_f64());
    for n in 0..records {
        evidence::write_record(&mut store, "", &record(1_000_000 + n), now).expect("write");
    }
    let end = now + Duration::minutes(15);
    let mut everything = store.clone();

    println!("{:<28} {:>10} {:>8} {:>8} {:>6} {:>8}", "seal", "time", "GET", "LIST", "PUT", "records");
    for (name, s) in [("recent days (evidence::seal)", &mut store), ("whole history (before)", &mut everything)] {
        s.reset();
        let t = Instant::now();
        let sealed = if name.starts_with("recent") {
            evidence::seal(s, "", &signer, end)
        } else {
            evidence::seal_reading_everything(s, "", &signer, end)
        }
        .expect("seal");
        let elapsed = t.elapsed();
        println!(
            "{:<28} {:>8.1}ms {:>8} {:>8} {:>6} {:>8}",
            name,
            elapsed.as_secs_f64() * 1000.0,
            s.gets.get(),
            s.lists.get(),
            s.puts.get(),
            sealed.records
        );
        assert_eq!(sealed.records, records, "{name}: every new record sealed");
    }
}
