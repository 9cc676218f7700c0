// The application on one version of the crate. main.rs includes this file
// once per version, inside a module that names that version's crate `zs` and
// its version `CRATE_VERSION`, so both versions run the same code.

use super::{emit, fail, schedule, str_field, u64_field, wal_bytes, Step, ORIGIN};
use rusqlite::Connection;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use zs::{LayerStorageConfig, SqliteReplicator, SqliteReplicatorConfig};

/// The crate's configuration for a script's S3 location and local paths.
fn replicator_config(
    script: &Value,
    db: &Path,
    snapshot_interval_secs: u64,
) -> (SqliteReplicatorConfig, LayerStorageConfig) {
    let bucket = str_field(script, "bucket");
    let config = SqliteReplicatorConfig {
        db_path: db.to_path_buf(),
        s3_bucket: bucket.to_string(),
        s3_prefix: str_field(script, "prefix").to_string(),
        cache_dir: PathBuf::from(str_field(script, "cacheDir")),
        max_cache_size: 100 * 1024 * 1024,
        auto_restore: false,
        snapshot_interval_secs,
    };
    let s3 = LayerStorageConfig::new(bucket)
        .with_endpoint_url(str_field(script, "endpoint"))
        .with_region(str_field(script, "region"));
    (config, s3)
}

pub async fn write(script: &Value) {
    let db = PathBuf::from(str_field(script, "db"));
    let interval = u64_field(script, "snapshotIntervalSecs", None);
    let row_bytes = u64_field(script, "rowBytes", Some(100));
    let linger = Duration::from_millis(u64_field(script, "lingerMs", Some(0)));
    let end = str_field(script, "end").to_string();
    if !["flush-open", "close-flush", "crash"].contains(&end.as_str()) {
        fail(&format!("script: unknown end {end}"));
    }
    let steps = schedule(script);

    // The app's own connection, in WAL mode, as an application on the crate has it.
    let conn =
        Connection::open(&db).unwrap_or_else(|e| fail(&format!("open {}: {e}", db.display())));
    let mode: String = conn
        .query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))
        .unwrap_or_else(|e| fail(&e.to_string()));
    if mode != "wal" {
        fail(&format!("journal_mode is {mode}, not wal"));
    }
    conn.execute_batch("CREATE TABLE IF NOT EXISTS seq (n INTEGER PRIMARY KEY, t INTEGER NOT NULL, pad BLOB NOT NULL)")
        .unwrap_or_else(|e| fail(&e.to_string()));
    let page_size: i64 = conn
        .query_row("PRAGMA page_size", [], |r| r.get(0))
        .unwrap_or_else(|e| fail(&e.to_string()));
    emit(json!({ "event": "schema", "walBytes": wal_bytes(&db), "pageSize": page_size }));

    let (config, s3) = replicator_config(script, &db, interval);
    let replicator = SqliteReplicator::new(config, &s3)
        .await
        .unwrap_or_else(|e| fail(&format!("SqliteReplicator::new: {e}")));
    replicator
        .start()
        .await
        .unwrap_or_else(|e| fail(&format!("SqliteReplicator::start: {e}")));
    let origin = *ORIGIN.get_or_init(Instant::now);
    emit(
        json!({ "event": "started", "crateVersion": CRATE_VERSION, "snapshotIntervalSecs": interval, "walBytes": wal_bytes(&db) }),
    );

    let mut insert = conn
        .prepare("INSERT INTO seq (n, t, pad) VALUES (?1, ?2, randomblob(?3))")
        .unwrap_or_else(|e| fail(&e.to_string()));
    let mut commits = 0;
    for (at, step) in steps {
        tokio::time::sleep_until((origin + Duration::from_millis(at)).into()).await;
        match step {
            Step::Commit(n) => {
                insert
                    .execute(rusqlite::params![n, super::unix_ms(), row_bytes])
                    .unwrap_or_else(|e| fail(&format!("commit {n}: {e}")));
                commits = n;
                emit(json!({ "event": "commit", "seq": n, "walBytes": wal_bytes(&db) }));
            }
            Step::Checkpoint(mode) => {
                let before = wal_bytes(&db);
                let (busy, log, done): (i64, i64, i64) = conn
                    .query_row(&format!("PRAGMA wal_checkpoint({mode})"), [], |r| {
                        Ok((r.get(0)?, r.get(1)?, r.get(2)?))
                    })
                    .unwrap_or_else(|e| fail(&format!("checkpoint {mode}: {e}")));
                emit(
                    json!({ "event": "checkpoint", "mode": mode, "busy": busy, "logFrames": log, "checkpointedFrames": done,
                             "walBytesBefore": before, "walBytesAfter": wal_bytes(&db) }),
                );
            }
        }
    }
    drop(insert);
    emit(json!({ "event": "writes-done", "commits": commits, "walBytes": wal_bytes(&db) }));
    tokio::time::sleep(linger).await;

    match end.as_str() {
        "crash" => {
            // No flush, no close: the connection's -wal stays as it is, and the
            // replicator's background tasks die mid-whatever, as in a crash.
            emit(json!({ "event": "crash", "walBytes": wal_bytes(&db) }));
            std::process::exit(86);
        }
        "close-flush" => {
            // The last connection's close checkpoints the WAL into the main file.
            conn.close()
                .map_err(|(_, e)| e)
                .unwrap_or_else(|e| fail(&format!("close: {e}")));
            emit(json!({ "event": "close", "walBytes": wal_bytes(&db) }));
            flush(&replicator, &db).await;
        }
        _ => {
            flush(&replicator, &db).await;
            // The app closes its connection after the replicator stopped, as it
            // would on its way out; nothing of that reaches the bucket.
            conn.close()
                .map_err(|(_, e)| e)
                .unwrap_or_else(|e| fail(&format!("close: {e}")));
            emit(json!({ "event": "close", "walBytes": wal_bytes(&db) }));
        }
    }
    // Returning drops the runtime, and with it any upload still in flight, as
    // when an application's main returns after flush().
}

async fn flush(replicator: &SqliteReplicator, db: &Path) {
    emit(json!({ "event": "flush-start", "walBytes": wal_bytes(db) }));
    match replicator.flush().await {
        Ok(()) => emit(json!({ "event": "flush-done", "ok": true })),
        Err(e) => {
            emit(json!({ "event": "flush-done", "ok": false, "error": e.to_string() }));
            std::process::exit(1);
        }
    }
}

pub async fn restore(script: &Value) {
    let db = PathBuf::from(str_field(script, "db"));
    let (config, s3) = replicator_config(script, &db, 3600);
    let replicator = SqliteReplicator::new(config, &s3)
        .await
        .unwrap_or_else(|e| fail(&format!("SqliteReplicator::new: {e}")));
    ORIGIN.get_or_init(Instant::now);
    match replicator.restore().await {
        Ok(found) => emit(
            json!({ "event": "restore", "crateVersion": CRATE_VERSION, "ok": true, "restored": found }),
        ),
        Err(e) => {
            emit(
                json!({ "event": "restore", "crateVersion": CRATE_VERSION, "ok": false, "error": e.to_string() }),
            );
            std::process::exit(1);
        }
    }
}
