//! An application on the real zlayer-storage crate, for the end-to-end tests
//! (test/support/zlayer-crate.ts drives it). Both crate versions the tests use
//! are linked in (one build shares every dependency; see Cargo.toml), and the
//! first argument picks one:
//!
//!   zlayer-writer <crate version> write '<script>'    an app writing through
//!       its own SQLite connection while the crate's SqliteReplicator
//!       replicates it to S3
//!   zlayer-writer <crate version> restore '<script>'  the crate's own
//!       SqliteReplicator::restore()
//!
//! Everything it does is printed on stdout as JSON lines (one object each, with
//! `event`, `t` = Unix time in ms and `ms` = ms since the replicator started,
//! the phase of its snapshot ticks), so a test knows exactly which commits were
//! made and when: `commit`, `checkpoint`, `close`, `flush-start`/`flush-done`,
//! `crash` (then exit code 86), and the crate's own tracing events as
//! `crate-log` (its snapshot and WAL uploads among them). S3 credentials come
//! from the AWS_* variables, as for any application on the crate.

mod v0_10 {
    use zlayer_storage_0_10 as zs;
    pub const CRATE_VERSION: &str = "0.10.73";
    include!("app.rs");
}

mod v0_14 {
    use zlayer_storage_0_14 as zs;
    pub const CRATE_VERSION: &str = "0.14.3";
    include!("app.rs");
}

use serde_json::{json, Value};
use std::path::Path;
use std::sync::OnceLock;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

/// When the replicator started: its snapshot timer counts from here.
static ORIGIN: OnceLock<Instant> = OnceLock::new();

pub fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

fn emit(mut line: Value) {
    line["t"] = json!(unix_ms());
    line["ms"] = ORIGIN
        .get()
        .map_or(Value::Null, |o| json!(o.elapsed().as_millis() as u64));
    println!("{line}");
}

/// The crate's tracing events as JSON lines: its own at DEBUG and above (every
/// snapshot and WAL upload is logged there), its dependencies' at WARN.
struct JsonLines;

struct Fields(String, String);

impl tracing::field::Visit for Fields {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            self.0 = format!("{value:?}");
        } else {
            self.1.push_str(&format!(" {}={value:?}", field.name()));
        }
    }
}

impl tracing::Subscriber for JsonLines {
    fn enabled(&self, meta: &tracing::Metadata<'_>) -> bool {
        let max = if meta.target().starts_with("zlayer_storage") {
            tracing::Level::DEBUG
        } else {
            tracing::Level::WARN
        };
        *meta.level() <= max
    }
    fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        tracing::span::Id::from_u64(1)
    }
    fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}
    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
    fn event(&self, event: &tracing::Event<'_>) {
        let mut fields = Fields(String::new(), String::new());
        event.record(&mut fields);
        let meta = event.metadata();
        emit(json!({
            "event": "crate-log",
            "level": meta.level().as_str(),
            "target": meta.target(),
            "msg": format!("{}{}", fields.0, fields.1),
        }));
    }
    fn enter(&self, _: &tracing::span::Id) {}
    fn exit(&self, _: &tracing::span::Id) {}
}

fn str_field<'a>(script: &'a Value, name: &str) -> &'a str {
    script[name]
        .as_str()
        .unwrap_or_else(|| fail(&format!("script: \"{name}\" must be a string")))
}

fn u64_field(script: &Value, name: &str, default: Option<u64>) -> u64 {
    match (&script[name], default) {
        (Value::Null, Some(d)) => d,
        (v, _) => v.as_u64().unwrap_or_else(|| {
            fail(&format!(
                "script: \"{name}\" must be a non-negative integer"
            ))
        }),
    }
}

fn fail(msg: &str) -> ! {
    emit(json!({ "event": "error", "error": msg }));
    std::process::exit(2);
}

fn wal_bytes(db: &Path) -> u64 {
    let mut wal = db.as_os_str().to_owned();
    wal.push("-wal");
    std::fs::metadata(wal).map_or(0, |m| m.len())
}

enum Step {
    Checkpoint(String),
    Commit(u64),
}

/// Commits and checkpoints in time order (a checkpoint first when both fall on the same ms).
fn schedule(script: &Value) -> Vec<(u64, Step)> {
    let every = u64_field(script, "commitEveryMs", None).max(1);
    let write_for = u64_field(script, "writeForMs", None);
    let mut steps: Vec<(u64, Step)> = Vec::new();
    for cp in script["checkpoints"].as_array().into_iter().flatten() {
        let mode = str_field(cp, "mode").to_ascii_uppercase();
        if !["PASSIVE", "FULL", "RESTART", "TRUNCATE"].contains(&mode.as_str()) {
            fail(&format!("script: unknown checkpoint mode {mode}"));
        }
        steps.push((u64_field(cp, "atMs", None), Step::Checkpoint(mode)));
    }
    let mut seq = 1;
    while (seq - 1) * every < write_for {
        steps.push(((seq - 1) * every, Step::Commit(seq)));
        seq += 1;
    }
    steps.sort_by_key(|(at, step)| (*at, matches!(step, Step::Commit(_))));
    steps
}

#[tokio::main]
async fn main() {
    tracing::subscriber::set_global_default(JsonLines)
        .expect("a tracing subscriber is set only here");
    let args: Vec<String> = std::env::args().collect();
    let (Some(version), Some(mode), Some(script)) = (args.get(1), args.get(2), args.get(3)) else {
        fail("usage: zlayer-writer 0.10.73|0.14.3 write|restore '<json script>'");
    };
    let script: Value =
        serde_json::from_str(script).unwrap_or_else(|e| fail(&format!("script: {e}")));
    match (version.as_str(), mode.as_str()) {
        (v0_10::CRATE_VERSION, "write") => v0_10::write(&script).await,
        (v0_10::CRATE_VERSION, "restore") => v0_10::restore(&script).await,
        (v0_14::CRATE_VERSION, "write") => v0_14::write(&script).await,
        (v0_14::CRATE_VERSION, "restore") => v0_14::restore(&script).await,
        _ => fail(&format!("unknown crate version {version} or mode {mode}")),
    }
}
