//! Real backup and sync tools against every target, where multipart uploads, ranged reads and
//! server-side copies are the point: aws-cli (`s3 cp` of 200 MiB in 8 MB parts, `s3 sync` of a
//! tree, `s3 cp` between two keys), restic (backup, check, restore, a second backup, prune),
//! rclone (copy, check, ranged `cat`, sync with deletions, server-side `copyto`) and boto3 (parts
//! sent in parallel and in reverse, ranges read across them).

use sealgate_tests::data::{SEGMENT, body, etag_of, md5_hex};
use sealgate_tests::multipart::multipart_etag;
use sealgate_tests::tools::{Env, RCLONE_REMOTE};
use sealgate_tests::{Target, conformance};
use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant, SystemTime};

conformance!(
    aws_cli_cp_200_mib_in_8_mb_parts,
    aws_cli_sync_tree_then_nothing_to_do,
    aws_cli_upload_after_an_empty_file_does_not_stall,
    aws_cli_copies_small_object_server_side,
    aws_cli_copies_multipart_object_server_side,
    restic_backup_check_restore_prune,
    boto3_parallel_reverse_multipart;
    // Through the gateway only: after a multipart upload moto answers `x-amz-version-id: null`
    // in an unversioned bucket, then refuses the `HEAD ?versionId=null` rclone 1.60 checks the
    // upload with (400 Bad Request), and rclone fails the upload.
    gateway: rclone_copy_check_cat_sync,
    rclone_copies_server_side,
);

const MIB: usize = 1024 * 1024;
/// aws-cli's multipart threshold and default part size; "8MB" in its config is 8 MiB too.
const AWS_PART: usize = 8 * MIB;
/// rclone's part size, and the size above which [`RCLONE_MULTIPART`] makes it use parts.
const RCLONE_PART: usize = 5 * MIB;
/// rclone's defaults are 5 MiB parts above 200 MiB: these send everything over 5 MiB in parts.
const RCLONE_MULTIPART: [&str; 4] = ["--s3-upload-cutoff", "5Mi", "--s3-chunk-size", "5Mi"];

/// Files by path under a root ('/'-separated), with their contents.
type Tree = BTreeMap<String, Vec<u8>>;

/// `len` random bytes, as [`body`] gives, from the kernel: `rand` in this unoptimised build
/// fills only about 12 MB/s, which the large files here would spend most of their time on.
fn random(len: usize) -> Vec<u8> {
    let mut bytes = vec![0u8; len];
    let mut urandom = std::fs::File::open("/dev/urandom").expect("open /dev/urandom");
    urandom.read_exact(&mut bytes).expect("read /dev/urandom");
    bytes
}

/// `count` small files (1 to 20 000 bytes) at the top and in folders two levels deep.
fn small_files(count: usize) -> Tree {
    let mut tree: Tree = (0..count)
        .map(|i| {
            let path = match i % 3 {
                0 => format!("f{i:04}.txt"),
                1 => format!("d{}/f{i:04}.txt", i % 4),
                _ => format!("d{}/e{}/f{i:04}.txt", i % 4, i % 5),
            };
            (path, body(1 + i * 7919 % 20_000))
        })
        .collect();
    tree.insert("d1/a name with spaces, ünïcode.txt".into(), body(1000));
    tree
}

/// Writes `tree` under `root`, each file dated an hour ago, as files older than their upload
/// are: `aws s3 sync` uploads again a file newer than the object, and S3 dates objects to the
/// second.
fn write_tree(root: &Path, tree: &Tree) {
    let an_hour_ago = SystemTime::now() - Duration::from_secs(3600);
    for (path, bytes) in tree {
        let file = root.join(path);
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(&file, bytes).unwrap();
        let handle = std::fs::File::options().write(true).open(&file).unwrap();
        handle.set_modified(an_hour_ago).unwrap();
    }
}

/// Every file under `root`, read back.
fn read_tree(root: &Path) -> Tree {
    let mut tree = Tree::new();
    let mut dirs = vec![root.to_owned()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
                continue;
            }
            let name = path
                .strip_prefix(root)
                .unwrap()
                .to_str()
                .unwrap()
                .to_owned();
            tree.insert(name, std::fs::read(&path).unwrap());
        }
    }
    tree
}

/// Asserts that `got` has the files of `want` with the same contents; names what differs.
fn assert_same_tree(got: &Tree, want: &Tree, what: &str) {
    let names = |tree: &Tree| tree.keys().cloned().collect::<Vec<_>>();
    assert_eq!(names(got), names(want), "{what}: other files");
    for (path, bytes) in want {
        let found = &got[path];
        assert!(
            found == bytes,
            "{what}: {path} differs ({} bytes)",
            found.len()
        );
    }
}

/// The SHA-256 of a file, from coreutils' `sha256sum`: the `sha2` crate in this unoptimised
/// build hashes about 25 MB/s.
fn sha256_file(path: &Path) -> String {
    let out = Command::new("sha256sum")
        .arg(path)
        .output()
        .expect("run sha256sum");
    assert!(
        out.status.success(),
        "{}",
        sealgate_tests::tools::describe(&out)
    );
    let line = String::from_utf8(out.stdout).expect("sha256sum prints ASCII");
    line.split_whitespace().next().expect("a digest").to_owned()
}

/// Writes `contents` to `root/path` (deletes the file when `None`), and records it in `tree`.
fn edit(root: &Path, tree: &mut Tree, path: &str, contents: Option<Vec<u8>>) {
    let file = root.join(path);
    match contents {
        Some(bytes) => {
            std::fs::create_dir_all(file.parent().unwrap()).unwrap();
            std::fs::write(&file, &bytes).unwrap();
            tree.insert(path.to_owned(), bytes);
        }
        None => {
            std::fs::remove_file(&file).unwrap();
            tree.remove(path);
        }
    }
}

/// The keys `tree` has in S3 under `prefix/`, in S3's order.
fn keys_under(prefix: &str, tree: &Tree) -> Vec<String> {
    tree.keys().map(|path| format!("{prefix}/{path}")).collect()
}

fn text(path: &Path) -> &str {
    path.to_str().expect("UTF-8 path")
}

/// Writes `bytes` to `dir/name` and returns the path as a string.
fn write(dir: &Path, name: &str, bytes: &[u8]) -> String {
    let path = dir.join(name);
    std::fs::write(&path, bytes).expect("write a test file");
    text(&path).to_owned()
}

/// The ETag a HEAD of `bucket/key` answers.
async fn etag(t: &Target, bucket: &str, key: &str) -> String {
    let head = t.client.head(bucket, key).send().await;
    let head = head.expect_status(200, "HeadObject");
    head.header("etag").expect("an ETag").to_owned()
}

/// The ETag of `bytes` uploaded in parts of `part` bytes.
fn etag_in_parts(bytes: &[u8], part: usize) -> String {
    multipart_etag(&bytes.chunks(part).collect::<Vec<_>>())
}

/// An aws-cli home whose config sets 8 MB parts and 10 concurrent requests.
fn aws_home_8mb_parts(env: &Env) -> tempfile::TempDir {
    let home = tempfile::tempdir().unwrap();
    let set = |name: &str, value: &str| {
        env.aws_in(home.path(), &["configure", "set", name, value]);
    };
    set("default.s3.multipart_chunksize", "8MB");
    set("default.s3.max_concurrent_requests", "10");
    home
}

async fn aws_cli_cp_200_mib_in_8_mb_parts(t: Target) {
    let env = t.env();
    let bucket = t.bucket().await;
    let home = aws_home_8mb_parts(&env);
    let dir = tempfile::tempdir().unwrap();
    let up = write(dir.path(), "up.bin", &random(200 * MIB));
    let url = format!("s3://{bucket}/big/200 MiB.bin");

    env.aws_in(home.path(), &["s3", "cp", "--only-show-errors", &up, &url]);
    // The MD5-of-MD5s itself is checked in tests/multipart.rs; its count says 25 parts of 8 MiB.
    let uploaded = etag(&t, &bucket, "big/200 MiB.bin").await;
    assert!(uploaded.ends_with("-25\""), "ETag {uploaded}");

    // The download is ranged GETs of 8 MiB, ten at a time.
    let down = dir.path().join("down.bin");
    env.aws_in(
        home.path(),
        &["s3", "cp", "--only-show-errors", &url, text(&down)],
    );
    assert_eq!(sha256_file(&down), sha256_file(Path::new(&up)));
}

async fn aws_cli_sync_tree_then_nothing_to_do(t: Target) {
    let env = t.env();
    let bucket = t.bucket().await;
    let dir = tempfile::tempdir().unwrap();
    let (src, back) = (dir.path().join("src"), dir.path().join("back"));
    // No empty file: aws_cli_upload_after_an_empty_file_does_not_stall shows why.
    let mut tree = small_files(36);
    // At or over aws-cli's threshold: uploaded in parts of 8 MiB.
    tree.insert("big/a.bin".into(), random(AWS_PART));
    tree.insert("big/deeper/b.bin".into(), random(AWS_PART + SEGMENT + 5));
    tree.insert("c.bin".into(), random(2 * AWS_PART + 1));
    write_tree(&src, &tree);
    let url = format!("s3://{bucket}/tree");

    let first = env.aws(&["s3", "sync", "--no-progress", text(&src), &url]);
    let uploads = String::from_utf8_lossy(&first.stdout)
        .matches("upload:")
        .count();
    assert_eq!(uploads, tree.len());
    let listed = t.client.list_all(&bucket, "tree/").await;
    assert_eq!(listed, keys_under("tree", &tree));
    let c_etag = etag(&t, &bucket, "tree/c.bin").await;
    assert_eq!(c_etag, etag_in_parts(&tree["c.bin"], AWS_PART));

    let again = env.aws(&["s3", "sync", "--no-progress", text(&src), &url]);
    let again_out = sealgate_tests::tools::describe(&again);
    assert!(
        again.stdout.is_empty(),
        "the second sync did something: {again_out}"
    );

    env.aws(&["s3", "sync", "--no-progress", &url, text(&back)]);
    assert_same_tree(&read_tree(&back), &tree, "synced back");
}

/// aws-cli sends every upload with `Expect: 100-continue`. A server may answer an empty body
/// with its final status at once, without `100 Continue` (S3 and moto send it anyway); botocore
/// then keeps that status line for the next upload on the connection, reads the next answer's
/// status line as a header, finds no length and waits for the connection to close. With one
/// request at a time every upload reuses one connection; empty and small files alternate, in
/// whatever order aws-cli sends them, and the 5 s read timeout bounds each wait.
async fn aws_cli_upload_after_an_empty_file_does_not_stall(t: Target) {
    let env = t.env();
    let bucket = t.bucket().await;
    let home = tempfile::tempdir().unwrap();
    let one_at_a_time = ["default.s3.max_concurrent_requests", "1"];
    env.aws_in(
        home.path(),
        &[&["configure", "set"][..], &one_at_a_time].concat(),
    );
    let dir = tempfile::tempdir().unwrap();
    let tree: Tree = (0..6)
        .map(|i| (format!("f{i}"), body(if i % 2 == 0 { 0 } else { 1000 * i })))
        .collect();
    write_tree(dir.path(), &tree);
    let url = format!("s3://{bucket}/files");

    let started = Instant::now();
    let sync = ["s3", "sync", "--no-progress", text(dir.path()), &url];
    env.aws_in(
        home.path(),
        &[&["--cli-read-timeout", "5"][..], &sync].concat(),
    );
    let took = started.elapsed();

    assert!(took < Duration::from_secs(4), "6 small files took {took:?}");
    let listed = t.client.list_all(&bucket, "files/").await;
    assert_eq!(listed, keys_under("files", &tree));
}

/// Uploads `len` bytes with `aws s3 cp`, copies them to another key with `aws s3 cp` (CopyObject
/// below aws-cli's 8 MiB threshold, UploadPartCopy at or over it), and reads both back.
async fn aws_cli_copy_server_side(t: &Target, len: usize) -> (String, Vec<u8>) {
    let env = t.env();
    let bucket = t.bucket().await;
    let dir = tempfile::tempdir().unwrap();
    let content = random(len);
    let file = write(dir.path(), "src.bin", &content);
    let (from, to) = (
        format!("s3://{bucket}/src/obj"),
        format!("s3://{bucket}/dst/obj"),
    );

    env.aws(&["s3", "cp", "--only-show-errors", &file, &from]);
    env.aws(&["s3", "cp", "--only-show-errors", &from, &to]);

    assert!(t.client.get_object(&bucket, "dst/obj").await == content);
    assert!(t.client.get_object(&bucket, "src/obj").await == content);
    (etag(t, &bucket, "dst/obj").await, content)
}

async fn aws_cli_copies_small_object_server_side(t: Target) {
    let (copied, content) = aws_cli_copy_server_side(&t, 100_000).await;
    assert_eq!(copied, etag_of(&content));
}

async fn aws_cli_copies_multipart_object_server_side(t: Target) {
    let (copied, content) = aws_cli_copy_server_side(&t, AWS_PART + 3 * MIB + 7).await;
    assert_eq!(
        copied,
        etag_in_parts(&content, AWS_PART),
        "copied in 2 parts"
    );
}

/// Restores the latest snapshot of `src` into `target` and reads the files back.
fn restic_restore(env: &Env, repo: &str, target: &Path, src: &Path) -> Tree {
    env.restic(repo, &["restore", "latest", "--target", text(target)]);
    // restic restores each backed-up path under the target by its absolute name.
    read_tree(&target.join(src.strip_prefix("/").unwrap()))
}

fn restic_snapshots(env: &Env, repo: &str) -> usize {
    let out = env.restic(repo, &["snapshots", "--json"]);
    let list: serde_json::Value = serde_json::from_slice(&out.stdout).expect("snapshots JSON");
    list.as_array().expect("a list of snapshots").len()
}

fn assert_restic_check(env: &Env, repo: &str, args: &[&str]) {
    let out = env.restic(repo, args);
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(report.contains("no errors were found"), "{report}");
}

async fn restic_backup_check_restore_prune(t: Target) {
    let env = t.env();
    let bucket = t.bucket().await;
    let repo = format!("{bucket}/repo");
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src");
    let mut tree = small_files(300);
    tree.insert("d0/empty".into(), Vec::new());
    tree.insert("large/one.bin".into(), random(6 * MIB + 7));
    tree.insert("large/two.bin".into(), random(3 * MIB));
    tree.insert("three.bin".into(), random(MIB + 1));
    write_tree(&src, &tree);

    env.restic(&repo, &["init"]);
    env.restic(&repo, &["backup", text(&src)]);
    assert_restic_check(&env, &repo, &["check", "--read-data"]);
    let restored = restic_restore(&env, &repo, &dir.path().join("first"), &src);
    assert_same_tree(&restored, &tree, "first restore");

    for path in ["f0003.txt", "d1/f0001.txt", "large/two.bin"] {
        edit(&src, &mut tree, path, Some(body(4321)));
    }
    for path in ["f0006.txt", "d2/e2/f0002.txt", "three.bin"] {
        edit(&src, &mut tree, path, None);
    }
    edit(&src, &mut tree, "new/added.bin", Some(random(2 * MIB + 5)));
    env.restic(&repo, &["backup", text(&src)]);
    assert_eq!(restic_snapshots(&env, &repo), 2);

    env.restic(&repo, &["forget", "--keep-last", "1", "--prune"]);
    assert_eq!(restic_snapshots(&env, &repo), 1);
    assert_restic_check(&env, &repo, &["check"]);
    let restored = restic_restore(&env, &repo, &dir.path().join("second"), &src);
    assert_same_tree(&restored, &tree, "restore after prune");
}

/// `rclone args... RCLONE_MULTIPART`, which must succeed.
fn rclone(env: &Env, args: &[&str]) -> Output {
    env.rclone(&[args, &RCLONE_MULTIPART[..]].concat())
}

/// `rclone check` by hash, then `rclone check --download`, of `src` against `remote`.
fn assert_rclone_checks(env: &Env, src: &str, remote: &str, files: usize) {
    for download in [&[][..], &["--download"][..]] {
        let out = env.rclone(&[&["check", src, remote][..], download].concat());
        let report = String::from_utf8_lossy(&out.stderr);
        assert!(report.contains("0 differences found"), "{report}");
        assert!(
            report.contains(&format!(" {files} matching files")),
            "{report}"
        );
        assert!(!report.contains("could not be checked"), "{report}");
    }
}

async fn rclone_copy_check_cat_sync(t: Target) {
    let env = t.env();
    let bucket = t.bucket().await;
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src");
    let mut tree = small_files(30);
    tree.insert("d0/empty".into(), Vec::new());
    tree.insert("media/big.bin".into(), random(2 * RCLONE_PART + MIB + 17));
    tree.insert("media/medium.bin".into(), random(RCLONE_PART + 1));
    write_tree(&src, &tree);
    let remote = format!("{RCLONE_REMOTE}:{bucket}/tree");

    rclone(&env, &["copy", text(&src), &remote]);
    let big = tree["media/big.bin"].clone();
    let big_etag = etag(&t, &bucket, "tree/media/big.bin").await;
    assert_eq!(big_etag, etag_in_parts(&big, RCLONE_PART), "3 parts");
    assert_rclone_checks(&env, text(&src), &remote, tree.len());

    let big_remote = format!("{remote}/media/big.bin");
    let ranges = [
        (RCLONE_PART - 100, 200),
        (3 * SEGMENT - 5, 10),
        (2 * RCLONE_PART - 3 * SEGMENT, 4 * SEGMENT + 1),
        (big.len() - 1000, 1000),
    ];
    for (offset, count) in ranges {
        let (o, c) = (offset.to_string(), count.to_string());
        let out = env.rclone(&["cat", "--offset", &o, "--count", &c, &big_remote]);
        let want = &big[offset..offset + count];
        assert!(
            out.stdout == want,
            "cat --offset {o} --count {c}: other bytes"
        );
    }

    // rclone 1.60 asks this after a multipart upload whose answer names a version (moto names
    // `null`); S3 answers `versionId=null` in an unversioned bucket as a plain HEAD.
    let head = t.client.head(&bucket, "tree/media/big.bin");
    let head = head.query("versionId", "null").send().await;
    let head = head.expect_status(200, "HEAD ?versionId=null");
    assert_eq!(head.header("etag"), Some(big_etag.as_str()));

    edit(&src, &mut tree, "media/medium.bin", None);
    edit(&src, &mut tree, "d1/e0/f0005.txt", None);
    edit(&src, &mut tree, "f0003.txt", Some(body(12_345)));
    // Same size, newer date: rclone compares the MD5 it stored in the object's metadata.
    edit(&src, &mut tree, "media/big.bin", Some(random(big.len())));
    edit(&src, &mut tree, "new/added.bin", Some(body(70_000)));
    rclone(&env, &["sync", text(&src), &remote]);

    let listed = t.client.list_all(&bucket, "tree/").await;
    assert_eq!(listed, keys_under("tree", &tree));
    assert_rclone_checks(&env, text(&src), &remote, tree.len());
}

async fn rclone_copies_server_side(t: Target) {
    let env = t.env();
    let bucket = t.bucket().await;
    let dir = tempfile::tempdir().unwrap();
    let content = random(RCLONE_PART + SEGMENT + 3);
    let file = write(dir.path(), "src.bin", &content);
    let remote = |key: &str| format!("{RCLONE_REMOTE}:{bucket}/{key}");
    rclone(&env, &["copyto", &file, &remote("src.bin")]);

    // Below rclone's copy cutoff (4.6 GiB by default) a CopyObject; above it, UploadPartCopy.
    rclone(
        &env,
        &["copyto", &remote("src.bin"), &remote("copies/one.bin")],
    );
    let cutoff = ["--s3-copy-cutoff", "5Mi"];
    rclone(
        &env,
        &[
            &["copyto", &remote("src.bin"), &remote("copies/parts.bin")],
            &cutoff[..],
        ]
        .concat(),
    );

    for key in ["src.bin", "copies/one.bin", "copies/parts.bin"] {
        assert!(t.client.get_object(&bucket, key).await == content, "{key}");
        // The MD5 rclone keeps in the metadata of objects it uploads in parts, copied along.
        let out = env.rclone(&["md5sum", &remote(key)]);
        let sums = String::from_utf8_lossy(&out.stdout);
        assert!(sums.starts_with(&md5_hex(&content)), "{key}: {sums}");
    }
}

async fn boto3_parallel_reverse_multipart(t: Target) {
    let bucket = t.bucket().await;
    let mut args = vec![bucket.as_str()];
    if t.is_plain_moto() {
        args.push("--no-part-number"); // moto ignores partNumber on GET
    }
    let out = t.env().python("boto3_multipart.py", &args);
    assert!(out.contains("multipart: ok"), "{out}");
}
