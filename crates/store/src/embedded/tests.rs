//! What only the embedded backend has: the file, its mode, its errors, reopening, and
//! expiry and clearing in batches. The contract itself is held by `tests/conformance/`.

use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

use super::*;
use crate::ClassTotals;

const TIMEOUT: Duration = Duration::from_secs(5);

#[tokio::test]
async fn creates_its_directory_and_a_private_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state").join("kanmon.redb");
    let store = EmbeddedStore::open(&path, TIMEOUT).await.unwrap();
    let mode = std::fs::metadata(&path).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    let dir_mode = std::fs::metadata(path.parent().unwrap())
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(dir_mode & 0o777, 0o700);
    let summary = store.summary(0).await.unwrap();
    assert_eq!(summary.backend, "embedded");
    assert_eq!(summary.location, path.display().to_string());
    assert!(summary.bytes.unwrap() > 0);
}

#[tokio::test]
async fn what_was_written_is_there_after_reopening() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("kanmon.redb");
    let store = EmbeddedStore::open(&path, TIMEOUT).await.unwrap();
    store
        .relabel(b"m", Some(Class::Ham), &[5, 6])
        .await
        .unwrap();
    store.set("k", b"v", 100, None).await.unwrap();
    drop(store);
    // Dropping the last clone waited for the writer, so the file is free to open again.
    let store = EmbeddedStore::open(&path, TIMEOUT).await.unwrap();
    assert_eq!(store.label(b"m").await.unwrap(), Some(Class::Ham));
    assert_eq!(store.token_counts(&[5]).await.unwrap().counts[0].ham, 1);
    assert_eq!(store.get("k", 100).await.unwrap(), Some(b"v".to_vec()));
}

#[tokio::test]
async fn a_path_that_cannot_be_a_file_names_the_setting() {
    let dir = tempfile::tempdir().unwrap();
    let blocker = dir.path().join("plain-file");
    std::fs::write(&blocker, b"x").unwrap();
    let path = blocker.join("kanmon.redb");
    let Err(error) = EmbeddedStore::open(&path, TIMEOUT).await else {
        panic!("opened a file under a regular file");
    };
    assert!(matches!(error, StoreError::Config(_)), "{error:?}");
    assert_eq!(
        error.to_string(),
        format!(
            "store.path = {path:?}: cannot create directory {blocker:?}: entity already exists"
        )
    );
}

#[tokio::test]
async fn a_file_kanmon_did_not_write_is_corrupt() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("kanmon.redb");
    std::fs::write(&path, "not a database\n".repeat(1000)).unwrap();
    let Err(error) = EmbeddedStore::open(&path, TIMEOUT).await else {
        panic!("opened a text file");
    };
    assert!(matches!(error, StoreError::Corrupt(_)), "{error:?}");
    assert!(
        error
            .to_string()
            .contains(&format!("store.path = {path:?}: ")),
        "{error}"
    );
    // Left as it was, for the admin to look at.
    assert_eq!(
        std::fs::read(&path).unwrap(),
        "not a database\n".repeat(1000).as_bytes()
    );
}

#[tokio::test]
async fn another_programs_redb_file_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("other.redb");
    {
        let db = redb::Database::create(&path).unwrap();
        let txn = db.begin_write().unwrap();
        let table: redb::TableDefinition<&str, &str> = redb::TableDefinition::new("theirs");
        txn.open_table(table).unwrap().insert("a", "b").unwrap();
        txn.commit().unwrap();
    }
    let Err(error) = EmbeddedStore::open(&path, TIMEOUT).await else {
        panic!("opened another program's database");
    };
    assert!(
        matches!(&error, StoreError::Corrupt(m) if m.contains("not a kanmon store")),
        "{error:?}"
    );
}

#[tokio::test]
async fn a_second_open_of_the_same_file_is_refused_while_the_first_is_open() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("kanmon.redb");
    let _first = EmbeddedStore::open(&path, TIMEOUT).await.unwrap();
    let Err(error) = EmbeddedStore::open(&path, TIMEOUT).await else {
        panic!("opened one file twice");
    };
    assert!(matches!(error, StoreError::InUse(_)), "{error:?}");
}

/// Calls far bigger than the timeout allows (a millisecond for a million lookups, or for
/// learning 200,000 tokens) fail as timeouts.
#[tokio::test]
async fn calls_past_the_timeout_fail_as_timeouts() {
    let dir = tempfile::tempdir().unwrap();
    let store = EmbeddedStore::open(&dir.path().join("kanmon.redb"), Duration::from_millis(1))
        .await
        .unwrap();
    let keys: Vec<u64> = (0..1_000_000).collect();
    assert!(matches!(
        store.token_counts(&keys).await,
        Err(StoreError::Timeout(_))
    ));
    assert!(matches!(
        store
            .relabel(b"m", Some(Class::Spam), &keys[..200_000])
            .await,
        Err(StoreError::Timeout(_))
    ));
}

/// More expired entries than one batch takes all go, the index with them, and entries
/// whose expiry moved later stay.
#[tokio::test]
async fn expire_works_through_a_backlog_in_batches() {
    let dir = tempfile::tempdir().unwrap();
    let store = EmbeddedStore::open(&dir.path().join("kanmon.redb"), TIMEOUT)
        .await
        .unwrap();
    let ttl = Duration::from_secs(10);
    let now = 1_000;
    let values: Vec<Entry> = (0..(EXPIRE_BATCH * 2 + 500))
        .map(|i| Entry::Value {
            key: format!("v{i}"),
            value: b"x".to_vec(),
            expires: Some(now + 10),
        })
        .collect();
    store.import(&values, now).await.unwrap();
    store.greylist_touch(b"kept", now, ttl).await.unwrap();
    // Touched again later: its first expiry (now + 10) no longer applies.
    store.greylist_touch(b"kept", now + 5, ttl).await.unwrap();
    store.greylist_touch(b"gone", now, ttl).await.unwrap();

    let removed = store.expire(now + 10).await.unwrap();
    assert_eq!(removed, (EXPIRE_BATCH * 2 + 500 + 1) as u64);
    let summary = store.summary(now + 10).await.unwrap();
    assert_eq!((summary.values, summary.greylist), (0, 1));
    assert_eq!(store.expire(now + 10).await.unwrap(), 0);
    assert_eq!(
        store
            .greylist_get(b"kept", now + 10)
            .await
            .unwrap()
            .unwrap()
            .count,
        2
    );
    assert_eq!(store.expire(now + 15).await.unwrap(), 1);
    let txn = store.shared.db.begin_read().unwrap();
    let index = txn.open_table(schema::EXPIRY).unwrap();
    assert_eq!(redb::ReadableTableMetadata::len(&index).unwrap(), 0);
}

#[test]
fn compaction_shrinks_a_file_with_free_space() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("kanmon.redb");
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let store = EmbeddedStore::open(&path, TIMEOUT).await.unwrap();
        let tokens: Vec<u64> = (0..20_000).collect();
        store
            .relabel(b"a", Some(Class::Spam), &tokens)
            .await
            .unwrap();
        store.relabel(b"a", None, &tokens).await.unwrap();
    });
    let (before, after) = compact(&path).unwrap();
    assert!(after < before, "{before} -> {after}");
    assert_eq!(std::fs::metadata(&path).unwrap().len(), after);
}

/// Files of earlier versions hold each stream's record count in `meta` ("records:<stream>",
/// "counted"); nothing reads them now: such a file, with counts that are wrong, opens, and
/// its records read, append, trim and expire as they are.
#[tokio::test]
async fn record_counts_of_earlier_versions_are_ignored() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("kanmon.redb");
    let store = EmbeddedStore::open(&path, TIMEOUT).await.unwrap();
    let now = 1_000;
    let long = Duration::from_secs(3_600);
    for i in 0..10u64 {
        store
            .append_record("h", format!("{i}").as_bytes(), now + i, long)
            .await
            .unwrap();
    }
    drop(store);
    {
        let db = redb::Database::open(&path).unwrap();
        let txn = db.begin_write().unwrap();
        {
            let mut meta = txn.open_table(schema::META).unwrap();
            meta.insert("counted", 0).unwrap();
            meta.insert("records:h", 3).unwrap();
            meta.insert("records:gone", 7).unwrap();
        }
        txn.commit().unwrap();
    }
    let store = EmbeddedStore::open(&path, TIMEOUT).await.unwrap();
    let data = |records: Vec<Record>| -> Vec<String> {
        records
            .into_iter()
            .map(|r| String::from_utf8(r.data).unwrap())
            .collect()
    };
    let all: Vec<String> = (0..10).map(|i: u64| i.to_string()).collect();
    assert_eq!(
        data(store.records("h", 0, u64::MAX, now).await.unwrap()),
        all
    );
    store
        .append_record("h", b"10", now + 10, Duration::from_secs(5))
        .await
        .unwrap();
    assert_eq!(store.trim_records_before("h", now + 4).await.unwrap(), 4);
    assert_eq!(
        store.trim_records_before("gone", u64::MAX).await.unwrap(),
        0
    );
    assert_eq!(store.summary(now).await.unwrap().records, 7);
    assert_eq!(store.expire(now + 20).await.unwrap(), 1, "the short one");
    let left: Vec<String> = (4..10).map(|i: u64| i.to_string()).collect();
    assert_eq!(
        data(store.records("h", 0, u64::MAX, now + 20).await.unwrap()),
        left
    );
}

/// A trim by time removes at most [`crate::TRIM_RECORDS_MAX`] a call, oldest first, with
/// their expiry index entries; the reopened file agrees with what is left.
#[tokio::test]
async fn trims_by_time_are_bounded_and_unindex_what_they_remove() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("kanmon.redb");
    let store = EmbeddedStore::open(&path, TIMEOUT).await.unwrap();
    let now = 1_000;
    let expires = now + 3_600;
    let total = crate::TRIM_RECORDS_MAX + 10;
    // Two records a second, so `before` falls between records of one second and the next.
    let entries: Vec<Entry> = (0..total)
        .map(|i| Entry::Record {
            stream: "h".to_owned(),
            at: now + i / 2,
            data: i.to_string().into_bytes(),
            expires,
        })
        .chain([Entry::Record {
            stream: "other".to_owned(),
            at: now,
            data: b"o".to_vec(),
            expires,
        }])
        .collect();
    store.import(&entries, now).await.unwrap();
    let before = now + crate::TRIM_RECORDS_MAX / 2 + 3;
    let older = (0..total).filter(|i| now + i / 2 < before).count() as u64;
    assert_eq!(older, crate::TRIM_RECORDS_MAX + 6);

    assert_eq!(
        store.trim_records_before("h", before).await.unwrap(),
        crate::TRIM_RECORDS_MAX
    );
    let left = |records: Vec<Record>| -> Vec<u64> {
        records
            .into_iter()
            .map(|r| String::from_utf8(r.data).unwrap().parse().unwrap())
            .collect()
    };
    let all = left(store.records("h", 0, u64::MAX, now).await.unwrap());
    assert_eq!(all, (crate::TRIM_RECORDS_MAX..total).collect::<Vec<_>>());
    assert_eq!(store.trim_records_before("h", before).await.unwrap(), 6);
    assert_eq!(store.trim_records_before("h", before).await.unwrap(), 0);
    let kept = left(store.records("h", 0, u64::MAX, now).await.unwrap());
    assert_eq!(kept, (older..total).collect::<Vec<_>>(), "from `before` on");
    assert_eq!(store.summary(now).await.unwrap().records, 5);
    drop(store);

    // The file holds no index entry of a removed record.
    {
        use redb::{ReadableDatabase, ReadableTableMetadata};
        let db = redb::Database::open(&path).unwrap();
        let txn = db.begin_read().unwrap();
        let expiry = txn.open_table(schema::EXPIRY).unwrap();
        assert_eq!(expiry.len().unwrap(), 5, "four of h and one of other");
    }
    let store = EmbeddedStore::open(&path, TIMEOUT).await.unwrap();
    // The last four are two a second: a trim by time keeps the last second's two.
    let last_second = now + (total - 1) / 2;
    assert_eq!(
        store.trim_records_before("h", last_second).await.unwrap(),
        2
    );
    assert_eq!(
        left(store.records("h", 0, u64::MAX, now).await.unwrap()),
        [total - 2, total - 1]
    );
    assert_eq!(store.trim_records_before("other", now).await.unwrap(), 0);
    assert_eq!(
        store.trim_records_before("none", u64::MAX).await.unwrap(),
        0
    );
    assert_eq!(
        store.expire(expires).await.unwrap(),
        3,
        "the last two of h and other"
    );
}

/// Clearing what was learned takes several writes on a store larger than one batch, and
/// leaves nothing learned; other entries stay.
#[tokio::test]
async fn clearing_learned_works_through_a_large_store_in_batches() {
    let dir = tempfile::tempdir().unwrap();
    let store = EmbeddedStore::open(&dir.path().join("kanmon.redb"), TIMEOUT)
        .await
        .unwrap();
    let messages = 30u64;
    for m in 0..messages {
        let tokens: Vec<TokenKey> = (0..1_000).map(|i| m * 1_000 + i).collect();
        store
            .relabel(&m.to_be_bytes(), Some(Class::Spam), &tokens)
            .await
            .unwrap();
    }
    store.set("kept", b"v", 100, None).await.unwrap();
    let before = store.summary(100).await.unwrap();
    assert_eq!(before.tokens, messages * 1_000);
    assert!(before.tokens > 2 * CLEAR_BATCH as u64);

    store.clear_learned().await.unwrap();
    let after = store.summary(100).await.unwrap();
    assert_eq!((after.tokens, after.digests), (0, 0));
    assert_eq!(after.learned, ClassTotals::default());
    assert_eq!(after.values, 1);
    assert_eq!(store.label(&0u64.to_be_bytes()).await.unwrap(), None);
}
