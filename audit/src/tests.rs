//! Tests of the whole crate: write, reopen, rotate, tamper, recover, query.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use proptest::prelude::*;
use time::macros::datetime;

use crate::line;
use crate::*;

fn key() -> SealKey {
    SealKey::from_bytes([7; 32])
}

fn options(max_file_bytes: u64) -> AuditOptions {
    AuditOptions {
        max_file_bytes,
        max_file_age: Duration::from_secs(3600),
        durability: Durability::Batched {
            max_delay: Duration::from_millis(5),
        },
    }
}

fn event(i: u64) -> Event {
    Event::new(Service::S3, "s3:GetObject", format!("req-{i}"))
        .principal("arn:sealgate:iam::user/alice")
        .object("photos", format!("k{i}"))
        .allowed_by("alice#Read")
        .bytes(0, i)
}

/// Writes `n` events into `dir` and closes the log.
fn write_log(dir: &Path, n: u64, max_file_bytes: u64) {
    let log = AuditLog::open(dir, key(), options(max_file_bytes)).unwrap();
    for i in 0..n {
        log.append(&event(i)).unwrap();
    }
    log.close().unwrap();
}

fn audit_files(dir: &Path) -> Vec<PathBuf> {
    crate::file::list(dir)
        .unwrap()
        .into_iter()
        .map(|f| f.path)
        .collect()
}

fn name(path: &Path) -> String {
    path.file_name().unwrap().to_string_lossy().into_owned()
}

fn read_lines(path: &Path) -> Vec<String> {
    fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect()
}

fn write_lines(path: &Path, lines: &[String]) {
    let mut text = lines.join("\n");
    text.push('\n');
    fs::write(path, text).unwrap();
}

fn broken(dir: &Path) -> Break {
    let report = verify(dir, &key()).unwrap();
    let Some(found) = report.broken else {
        panic!("log verified: {report:?}");
    };
    found
}

fn intact(dir: &Path) -> Report {
    let report = verify(dir, &key()).unwrap();
    assert!(report.is_intact(), "{report:?}");
    report
}

fn all_events(dir: &Path) -> Vec<Event> {
    query(dir, &Filter::default())
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

#[test]
fn append_and_reopen_keep_seq_and_chain() {
    let dir = tempfile::tempdir().unwrap();
    write_log(dir.path(), 3, 1 << 20);
    write_log(dir.path(), 2, 1 << 20);

    let report = intact(dir.path());
    assert_eq!((report.files, report.events), (2, 5));
    assert!(report.warnings.is_empty(), "{:?}", report.warnings);

    let files = audit_files(dir.path());
    assert_eq!(name(&files[0]), "audit-00000000000000000001.jsonl");
    // Three events and a seal take seqs 1 to 4.
    assert_eq!(name(&files[1]), "audit-00000000000000000005.jsonl");
    let ids: Vec<_> = all_events(dir.path())
        .into_iter()
        .map(|e| e.request_id)
        .collect();
    assert_eq!(ids, ["req-0", "req-1", "req-2", "req-0", "req-1"]);
}

#[test]
fn line_format_is_as_documented() {
    let dir = tempfile::tempdir().unwrap();
    write_log(dir.path(), 1, 1 << 20);
    let lines = read_lines(&audit_files(dir.path())[0]);

    let first: serde_json::Value = serde_json::from_str(&lines[0]).unwrap();
    assert!(lines[0].starts_with(r#"{"type":"event","seq":1,"prev":"0000"#));
    assert_eq!(first["prev"], "0".repeat(64));
    assert_eq!(first["bucket"], "photos");
    assert!(first.get("reason").is_none());

    let seal: serde_json::Value = serde_json::from_str(&lines[1]).unwrap();
    let hash = hex::encode(line::hash(lines[0].as_bytes()));
    assert!(lines[1].starts_with(r#"{"type":"seal","seq":2,"prev":""#));
    assert_eq!(seal["prev"], hash);
    assert_eq!(seal["last_hash"], hash);
    assert_eq!(seal["file"], "audit-00000000000000000001.jsonl");
    assert_eq!(
        (seal["lines"].as_u64(), seal["first_seq"].as_u64()),
        (Some(1), Some(1))
    );
    assert_eq!(seal["mac"].as_str().map(str::len), Some(64));
}

#[test]
fn event_json_round_trips_with_millisecond_utc_time() {
    let event = event(1).at(datetime!(2024-05-06 07:08:09.123456 +02:00));
    let json = serde_json::to_string(&event).unwrap();
    assert!(
        json.contains(r#""time":"2024-05-06T05:08:09.123Z""#),
        "{json}"
    );
    assert!(!json.contains("key_id"));
    assert_eq!(serde_json::from_str::<Event>(&json).unwrap(), event);
}

#[test]
fn rotation_by_size_seals_every_file() {
    let dir = tempfile::tempdir().unwrap();
    write_log(dir.path(), 30, 1000);

    let report = intact(dir.path());
    assert!(report.files >= 4, "{report:?}");
    assert_eq!(report.events, 30);
    for path in audit_files(dir.path()) {
        let last = read_lines(&path).pop().unwrap();
        assert!(last.starts_with(r#"{"type":"seal""#), "{last}");
        assert!(fs::metadata(&path).unwrap().len() < 2000);
    }
}

#[test]
fn rotation_by_age() {
    let dir = tempfile::tempdir().unwrap();
    let mut options = options(1 << 20);
    options.max_file_age = Duration::ZERO;
    let log = AuditLog::open(dir.path(), key(), options).unwrap();
    for i in 0..3 {
        log.append(&event(i)).unwrap();
    }
    log.close().unwrap();
    assert_eq!(intact(dir.path()).files, 3);
}

#[test]
fn editing_a_field_breaks_at_that_line() {
    let dir = tempfile::tempdir().unwrap();
    write_log(dir.path(), 5, 1 << 20);
    let path = &audit_files(dir.path())[0];
    let mut lines = read_lines(path);
    lines[2] = lines[2].replace(r#""key":"k2""#, r#""key":"k9""#);
    write_lines(path, &lines);

    let found = broken(dir.path());
    assert_eq!(
        (found.file.as_str(), found.line, found.seq),
        (&*name(path), 3, Some(3))
    );
    assert!(found.reason.contains("changed"), "{found}");
}

#[test]
fn editing_the_last_event_breaks_at_that_line() {
    let dir = tempfile::tempdir().unwrap();
    write_log(dir.path(), 3, 1 << 20);
    let path = &audit_files(dir.path())[0];
    let mut lines = read_lines(path);
    lines[2] = lines[2].replace(r#""status":200"#, r#""status":201"#);
    write_lines(path, &lines);
    assert_eq!(broken(dir.path()).line, 3);
}

#[test]
fn deleting_a_line_breaks_at_its_place() {
    let dir = tempfile::tempdir().unwrap();
    write_log(dir.path(), 5, 1 << 20);
    let path = &audit_files(dir.path())[0];
    let mut lines = read_lines(path);
    lines.remove(2);
    write_lines(path, &lines);

    let found = broken(dir.path());
    assert_eq!((found.line, found.seq), (3, Some(4)));
    assert!(found.reason.contains("seq gap"), "{found}");
}

#[test]
fn swapping_two_lines_breaks_at_the_first() {
    let dir = tempfile::tempdir().unwrap();
    write_log(dir.path(), 5, 1 << 20);
    let path = &audit_files(dir.path())[0];
    let mut lines = read_lines(path);
    lines.swap(1, 2);
    write_lines(path, &lines);

    let found = broken(dir.path());
    assert_eq!((found.line, found.seq), (2, Some(3)));
}

#[test]
fn deleting_a_middle_file_breaks_at_the_next_file() {
    let dir = tempfile::tempdir().unwrap();
    write_log(dir.path(), 30, 1000);
    let files = audit_files(dir.path());
    fs::remove_file(&files[1]).unwrap();

    let found = broken(dir.path());
    assert_eq!((found.file, found.line), (name(&files[2]), 1));
    assert!(found.reason.contains("file is missing"), "{}", found.reason);
}

#[test]
fn deleting_the_first_file_is_seen() {
    let dir = tempfile::tempdir().unwrap();
    write_log(dir.path(), 30, 1000);
    let files = audit_files(dir.path());
    fs::remove_file(&files[0]).unwrap();
    let found = broken(dir.path());
    assert_eq!((found.file, found.line), (name(&files[1]), 1));
}

#[test]
fn truncating_a_sealed_file_is_seen() {
    let dir = tempfile::tempdir().unwrap();
    write_log(dir.path(), 30, 1000);
    let path = &audit_files(dir.path())[0];
    let count = read_lines(path).len() as u64;
    let len = fs::metadata(path).unwrap().len();

    // Cut into the seal line: a torn line.
    OpenOptions::new()
        .write(true)
        .open(path)
        .unwrap()
        .set_len(len - 10)
        .unwrap();
    let found = broken(dir.path());
    assert_eq!((found.file.as_str(), found.line), (&*name(path), count));

    // Cut the whole seal line: an unsealed file with a successor.
    let mut lines = read_lines(path);
    lines.pop();
    write_lines(path, &lines);
    let found = broken(dir.path());
    assert_eq!((found.file.as_str(), found.line), (&*name(path), count));
    assert!(found.reason.contains("no seal"), "{found}");
}

#[test]
fn changing_a_seal_mac_breaks_at_the_seal() {
    let dir = tempfile::tempdir().unwrap();
    write_log(dir.path(), 30, 1000);
    let path = &audit_files(dir.path())[0];
    let mut lines = read_lines(path);
    let seal = lines.pop().unwrap();
    let at = seal.find(r#""mac":""#).unwrap() + 7;
    let digit = if &seal[at..=at] == "0" { "1" } else { "0" };
    lines.push(format!("{}{digit}{}", &seal[..at], &seal[at + 1..]));
    write_lines(path, &lines);

    let found = broken(dir.path());
    assert_eq!(
        (found.file.as_str(), found.line),
        (&*name(path), lines.len() as u64)
    );
    assert!(found.reason.contains("MAC"), "{found}");
}

#[test]
fn a_seal_with_a_wrong_count_fails_even_with_a_valid_mac() {
    let dir = tempfile::tempdir().unwrap();
    write_log(dir.path(), 3, 1 << 20);
    let path = &audit_files(dir.path())[0];
    let mut lines = read_lines(path);
    let (mut seal, _) = line::decode_seal(lines[3].as_bytes()).unwrap();
    seal.lines = 2;
    let forged = line::encode_seal(&seal, &key()).unwrap();
    lines[3] = String::from_utf8(forged).unwrap().trim_end().to_owned();
    write_lines(path, &lines);

    let found = broken(dir.path());
    assert_eq!(found.line, 4);
    assert!(found.reason.contains("counts 2 events"), "{found}");
}

#[test]
fn a_wrong_seal_key_fails() {
    let dir = tempfile::tempdir().unwrap();
    write_log(dir.path(), 3, 1 << 20);
    let report = verify(dir.path(), &SealKey::from_bytes([8; 32])).unwrap();
    assert!(report.broken.unwrap().reason.contains("MAC"));
}

#[test]
fn a_line_after_a_seal_is_seen() {
    let dir = tempfile::tempdir().unwrap();
    write_log(dir.path(), 30, 1000);
    let path = &audit_files(dir.path())[0];
    let mut lines = read_lines(path);
    lines.push(lines[0].clone());
    write_lines(path, &lines);

    let found = broken(dir.path());
    assert_eq!(found.line, lines.len() as u64);
    assert!(found.reason.contains("after the seal"), "{found}");
}

#[test]
fn a_crash_with_a_torn_line_recovers() {
    let dir = tempfile::tempdir().unwrap();
    let log = AuditLog::open(dir.path(), key(), options(1 << 20)).unwrap();
    for i in 0..3 {
        log.append(&event(i)).unwrap();
    }
    drop(log);
    let path = audit_files(dir.path()).pop().unwrap();
    let garbage = br#"{"type":"event","seq":4,"pr"#;
    OpenOptions::new()
        .append(true)
        .open(&path)
        .unwrap()
        .write_all(garbage)
        .unwrap();
    assert!(broken(dir.path()).reason.contains("torn"));

    let log = AuditLog::open(dir.path(), key(), options(1 << 20)).unwrap();
    let recovery = log.recovery().unwrap();
    assert_eq!(
        (recovery.file.as_str(), recovery.torn_bytes),
        (&*name(&path), 27)
    );
    log.append(&event(3)).unwrap();
    log.close().unwrap();

    let report = intact(dir.path());
    assert_eq!((report.files, report.events), (2, 4));
    assert!(
        report.warnings.iter().any(|w| w.contains("recovery")),
        "{report:?}"
    );
    assert!(
        read_lines(&path)
            .last()
            .unwrap()
            .contains(r#""recovered":true,"torn_bytes":27"#)
    );
}

#[test]
fn a_crash_between_lines_recovers_and_an_empty_file_is_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let log = AuditLog::open(dir.path(), key(), options(1 << 20)).unwrap();
    log.append(&event(0)).unwrap();
    drop(log);
    let active = intact(dir.path());
    assert!(
        active.warnings.iter().any(|w| w.contains("active")),
        "{active:?}"
    );

    // Opened and dropped with no event: its empty file is removed on the next open.
    drop(AuditLog::open(dir.path(), key(), options(1 << 20)).unwrap());
    let log = AuditLog::open(dir.path(), key(), options(1 << 20)).unwrap();
    assert!(log.recovery().is_none());
    log.append(&event(1)).unwrap();
    log.close().unwrap();

    let report = intact(dir.path());
    assert_eq!((report.files, report.events), (2, 2));
    assert_eq!(report.warnings.len(), 1, "{report:?}");
}

#[test]
fn a_second_writer_is_refused_and_closed_logs_take_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let log = AuditLog::open(dir.path(), key(), options(1 << 20)).unwrap();
    let second = AuditLog::open(dir.path(), key(), options(1 << 20));
    assert!(matches!(second, Err(Error::Locked { .. })));
    log.close().unwrap();
    log.close().unwrap();
    assert!(matches!(log.append(&event(0)), Err(Error::Closed)));
}

#[test]
fn both_durabilities_verify() {
    let durabilities = [
        Durability::EveryEvent,
        Durability::Batched {
            max_delay: Duration::from_millis(1),
        },
        Durability::default(),
    ];
    for durability in durabilities {
        let dir = tempfile::tempdir().unwrap();
        let options = AuditOptions {
            durability,
            ..AuditOptions::default()
        };
        let log = AuditLog::open(dir.path(), key(), options).unwrap();
        for i in 0..5 {
            log.append(&event(i)).unwrap();
            std::thread::sleep(Duration::from_millis(2));
        }
        log.close().unwrap();
        assert_eq!(intact(dir.path()).events, 5);
    }
}

#[test]
fn eight_threads_make_one_contiguous_chain() {
    let dir = tempfile::tempdir().unwrap();
    let log = Arc::new(AuditLog::open(dir.path(), key(), options(8000)).unwrap());
    let threads: Vec<_> = (0..8)
        .map(|t| {
            let log = Arc::clone(&log);
            std::thread::spawn(move || {
                for i in 0..50 {
                    log.append(&event(t * 1000 + i)).unwrap();
                }
            })
        })
        .collect();
    for thread in threads {
        thread.join().unwrap();
    }
    log.close().unwrap();

    let report = intact(dir.path());
    assert_eq!(report.events, 400);
    assert!(report.files > 1);
}

#[test]
fn a_failing_write_returns_an_error_and_later_appends_retry() {
    let dir = tempfile::tempdir().unwrap();
    let log = AuditLog::open(dir.path(), key(), options(1 << 20)).unwrap();
    log.append(&event(0)).unwrap();

    let full = fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .unwrap();
    let real = log.swap_file_for_test(Arc::new(full)).unwrap();
    let failed = log.append(&event(1));
    assert!(
        matches!(failed, Err(Error::Io { op: "write", .. })),
        "{failed:?}"
    );
    assert!(log.append(&event(2)).is_err());

    log.swap_file_for_test(real).unwrap();
    log.append(&event(3)).unwrap();
    log.close().unwrap();

    assert_eq!(intact(dir.path()).events, 2);
    let ids: Vec<_> = all_events(dir.path())
        .into_iter()
        .map(|e| e.request_id)
        .collect();
    assert_eq!(ids, ["req-0", "req-3"]);
}

fn query_fixture(dir: &Path) {
    let log = AuditLog::open(dir, key(), options(700)).unwrap();
    let events = [
        Event::new(Service::S3, "s3:GetObject", "a")
            .at(datetime!(2024-01-01 10:00 UTC))
            .principal("arn:u/alice")
            .object("photos", "cat.jpg")
            .allowed_by("p#1"),
        Event::new(Service::S3, "s3:PutObject", "b")
            .at(datetime!(2024-01-01 11:00 UTC))
            .principal("arn:u/bob")
            .object("docs", "plan.txt")
            .denied_by(None)
            .error(403, "AccessDenied"),
        Event::new(Service::Kms, "kms:Decrypt", "c")
            .at(datetime!(2024-01-01 12:00 UTC))
            .principal("arn:u/alice")
            .master_key("key-1", Some(2))
            .resource("arn:sealgate:kms::key/key-1")
            .allowed_by("p#2"),
        Event::new(Service::System, "kms:RotateKey", "d")
            .at(datetime!(2024-01-01 13:00 UTC))
            .master_key("key-2", Some(5))
            .error(500, "InternalError"),
    ];
    for event in &events {
        log.append(event).unwrap();
    }
    log.close().unwrap();
}

fn ids(dir: &Path, filter: Filter) -> String {
    let events = query(dir, &filter).unwrap().map(Result::unwrap);
    events.map(|e| e.request_id).collect()
}

#[test]
fn query_filters_by_every_field() {
    let dir = tempfile::tempdir().unwrap();
    query_fixture(dir.path());
    let d = dir.path();
    assert!(audit_files(d).len() > 1);

    assert_eq!(ids(d, Filter::default()), "abcd");
    let since = Some(datetime!(2024-01-01 11:00 UTC));
    let until = Some(datetime!(2024-01-01 13:00 UTC));
    assert_eq!(
        ids(
            d,
            Filter {
                since,
                ..Filter::default()
            }
        ),
        "bcd"
    );
    assert_eq!(
        ids(
            d,
            Filter {
                until,
                ..Filter::default()
            }
        ),
        "abc"
    );
    assert_eq!(
        ids(
            d,
            Filter {
                since,
                until,
                ..Filter::default()
            }
        ),
        "bc"
    );

    let principal = Some("arn:u/alice".to_owned());
    assert_eq!(
        ids(
            d,
            Filter {
                principal,
                ..Filter::default()
            }
        ),
        "ac"
    );
    let action = |a: &str| Filter {
        action: Some(a.to_owned()),
        ..Filter::default()
    };
    assert_eq!(ids(d, action("s3:*")), "ab");
    assert_eq!(ids(d, action("*Object")), "ab");
    assert_eq!(ids(d, action("kms:decrypt")), "c");

    let resource = |r: &str| Filter {
        resource: Some(r.to_owned()),
        ..Filter::default()
    };
    assert_eq!(ids(d, resource("photos")), "a");
    assert_eq!(ids(d, resource("docs/plan")), "b");
    assert_eq!(ids(d, resource("key/key-1")), "c");
    assert_eq!(ids(d, resource("key-")), "cd");

    let key_id = Some("key-2".to_owned());
    assert_eq!(
        ids(
            d,
            Filter {
                key_id,
                ..Filter::default()
            }
        ),
        "d"
    );
    let result = |r| Filter {
        result: Some(r),
        ..Filter::default()
    };
    assert_eq!(ids(d, result(ResultFilter::Allowed)), "ac");
    assert_eq!(ids(d, result(ResultFilter::Denied)), "b");
    assert_eq!(ids(d, result(ResultFilter::Error)), "bd");
    assert_eq!(ids(d, result(ResultFilter::Ok)), "ac");
}

#[test]
fn query_reports_an_undecodable_line_and_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    write_log(dir.path(), 3, 1 << 20);
    let path = &audit_files(dir.path())[0];
    let mut lines = read_lines(path);
    lines[1] = "not json".to_owned();
    write_lines(path, &lines);

    let results: Vec<_> = query(dir.path(), &Filter::default()).unwrap().collect();
    assert_eq!(results.len(), 3);
    assert!(matches!(results[1], Err(Error::Parse { line: 2, .. })));
}

#[test]
fn table_rows_line_up_with_the_header() {
    let event = event(1)
        .at(datetime!(2024-01-01 10:00 UTC))
        .principal("arn:sealgate:iam::123456789012:user/a-very-long-user-name-indeed");
    let row = format_table_row(&event);
    let header = table_header();
    assert!(row.starts_with("2024-01-01T10:00:00Z"), "{row}");
    assert!(row.contains("photos/k1") && row.contains("allow") && row.ends_with("req-1"));
    assert!(row.contains('…'));
    // The request id starts in the header's last column.
    let start = |line: &str, last: &str| line.chars().count() - last.len();
    assert_eq!(start(&header, "REQUEST ID"), start(&row, "req-1"));
}

/// The files of a small sealed log: three files, each sealed.
fn sealed_log() -> Vec<(String, Vec<u8>)> {
    let dir = tempfile::tempdir().unwrap();
    write_log(dir.path(), 6, 700);
    let files = audit_files(dir.path());
    assert!(files.len() >= 3, "{files:?}");
    files
        .iter()
        .map(|path| (name(path), fs::read(path).unwrap()))
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn any_single_byte_change_fails_verify(
        file in any::<usize>(),
        at in any::<usize>(),
        flip in 1u8..,
    ) {
        thread_local! {
            static LOG: Vec<(String, Vec<u8>)> = sealed_log();
        }
        let dir = tempfile::tempdir().unwrap();
        LOG.with(|log| {
            let target = file % log.len();
            for (index, (name, bytes)) in log.iter().enumerate() {
                let mut bytes = bytes.clone();
                if index == target {
                    let at = at % bytes.len();
                    bytes[at] ^= flip;
                }
                fs::write(dir.path().join(name), bytes).unwrap();
            }
        });
        let report = verify(dir.path(), &key()).unwrap();
        prop_assert!(report.broken.is_some(), "{:?}", report);
    }
}
