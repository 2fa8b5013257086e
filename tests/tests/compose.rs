//! The Docker Compose file and the Dockerfile, checked without Docker: `docker-compose.yml` is
//! parsed by PyYAML (through `$SEALGATE_TEST_PYTHON`, else `python3`) and read as JSON, and every
//! `SEALGATE_*` variable it sets must be one the gateway reads, found in `gateway/src`'s source.

use sealgate_tests::gateway::workspace_root;
use sealgate_tests::tools;
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

/// `docker-compose.yml` as JSON.
fn compose() -> Value {
    let path = workspace_root().join("docker-compose.yml");
    let script = "import json, sys, yaml; json.dump(yaml.safe_load(open(sys.argv[1])), sys.stdout)";
    let out = Command::new(tools::python())
        .args(["-c", script])
        .arg(&path)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {:?}: {e}", tools::python()));
    assert!(
        out.status.success(),
        "PyYAML could not read {} (scripts/test.sh installs pyyaml):\n{}",
        path.display(),
        tools::describe(&out)
    );
    serde_json::from_slice(&out.stdout).expect("python printed JSON")
}

fn service<'a>(compose: &'a Value, name: &str) -> &'a Value {
    compose
        .get("services")
        .and_then(|s| s.get(name))
        .unwrap_or_else(|| panic!("no service {name:?} in docker-compose.yml"))
}

/// A scalar as compose uses it: YAML may have made a number or a boolean of it.
fn scalar(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// A service's environment, from either the mapping or the `NAME=value` list form.
fn environment(service: &Value) -> Vec<(String, String)> {
    match service.get("environment") {
        Some(Value::Object(map)) => map.iter().map(|(k, v)| (k.clone(), scalar(v))).collect(),
        Some(Value::Array(items)) => items
            .iter()
            .map(|item| {
                let item = scalar(item);
                let (name, value) = item.split_once('=').unwrap_or((&item, ""));
                (name.to_owned(), value.to_owned())
            })
            .collect(),
        _ => Vec::new(),
    }
}

fn env_value(service: &Value, name: &str) -> String {
    environment(service)
        .into_iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v)
        .unwrap_or_else(|| panic!("{name} is not set"))
}

/// The container ports a service publishes, from short (`[IP:]HOST:CONTAINER[/proto]`) or long
/// (`target:`) syntax.
fn container_ports(service: &Value) -> Vec<u16> {
    let ports = service.get("ports").and_then(Value::as_array);
    let port = |entry: &Value| -> Option<u16> {
        if let Some(target) = entry.get("target") {
            return scalar(target).parse().ok();
        }
        let entry = scalar(entry);
        let spec = entry.split('/').next()?;
        spec.rsplit(':').next()?.parse().ok()
    };
    ports.into_iter().flatten().filter_map(port).collect()
}

/// `(volume source, container path)` for each of a service's volumes, short or long syntax.
fn mounts(service: &Value) -> Vec<(String, String)> {
    let volumes = service.get("volumes").and_then(Value::as_array);
    let mount = |entry: &Value| -> Option<(String, String)> {
        if let (Some(source), Some(target)) = (entry.get("source"), entry.get("target")) {
            return Some((scalar(source), scalar(target)));
        }
        let entry = scalar(entry);
        let mut parts = entry.split(':');
        Some((parts.next()?.to_owned(), parts.next()?.to_owned()))
    };
    volumes.into_iter().flatten().filter_map(mount).collect()
}

/// Whether `source` is a named volume declared at the top level.
fn is_named_volume(compose: &Value, source: &str) -> bool {
    compose
        .get("volumes")
        .and_then(Value::as_object)
        .is_some_and(|v| v.contains_key(source))
}

/// Every `"SEALGATE_..."` string literal in the gateway's source, the harness's own
/// `SEALGATE_TEST_*` variables aside: the clap `env =` names and the credentials variables.
fn variables_the_gateway_reads() -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let mut files = Vec::new();
    rust_files(&workspace_root().join("gateway/src"), &mut files);
    for file in files {
        let text = std::fs::read_to_string(&file).expect("read a gateway source file");
        for (at, _) in text.match_indices("\"SEALGATE_") {
            let rest = &text[at + 1..];
            let len = rest
                .find(|c: char| !(c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_'))
                .unwrap_or(rest.len());
            let (name, after) = rest.split_at(len);
            if after.starts_with('"') && !name.starts_with("SEALGATE_TEST_") {
                names.insert(name.to_owned());
            }
        }
    }
    names
}

fn rust_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read gateway/src").flatten() {
        let path = entry.path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The instructions of the Dockerfile's last stage, continuation lines joined, comments dropped.
fn final_stage() -> Vec<String> {
    let text = std::fs::read_to_string(workspace_root().join("Dockerfile")).expect("a Dockerfile");
    let mut instructions: Vec<String> = Vec::new();
    let mut current = String::new();
    for line in text.lines().map(str::trim) {
        if line.starts_with('#') || (line.is_empty() && current.is_empty()) {
            continue;
        }
        match line.strip_suffix('\\') {
            Some(head) => current.push_str(head),
            None => {
                current.push_str(line);
                instructions.push(std::mem::take(&mut current));
            }
        }
    }
    let last_from = instructions
        .iter()
        .rposition(|i| keyword(i) == "FROM")
        .expect("the Dockerfile has a FROM");
    instructions.split_off(last_from)
}

fn keyword(instruction: &str) -> String {
    instruction
        .split_whitespace()
        .next()
        .unwrap_or("")
        .to_ascii_uppercase()
}

/// The words of an instruction's argument: a JSON array (exec form) or split on whitespace.
fn words(instruction: &str) -> Vec<String> {
    let args = instruction
        .split_once(char::is_whitespace)
        .map_or("", |(_, a)| a.trim());
    match serde_json::from_str::<Vec<String>>(args) {
        Ok(words) => words,
        Err(_) => args.split_whitespace().map(str::to_owned).collect(),
    }
}

fn instruction_words(stage: &[String], name: &str) -> Vec<Vec<String>> {
    stage
        .iter()
        .filter(|i| keyword(i) == name)
        .map(|i| words(i))
        .collect()
}

#[test]
fn minio_serves_data_from_a_named_volume_and_has_a_healthcheck() {
    let compose = compose();
    let minio = service(&compose, "minio");

    let image = scalar(&minio["image"]);
    assert!(image.starts_with("minio/minio"), "minio image is {image:?}");
    let command = match &minio["command"] {
        Value::Array(words) => words.iter().map(scalar).collect::<Vec<_>>(),
        other => scalar(other)
            .split_whitespace()
            .map(str::to_owned)
            .collect(),
    };
    assert!(
        command.starts_with(&["server".into(), "/data".into()]),
        "{command:?}"
    );
    assert!(
        command.iter().any(|w| w == "--console-address"),
        "{command:?}"
    );
    assert!(
        minio
            .get("healthcheck")
            .is_some_and(|h| h.get("test").is_some())
    );

    let data = mounts(minio)
        .into_iter()
        .find(|(_, target)| target == "/data");
    let (source, _) = data.expect("minio mounts a volume at /data");
    assert!(
        is_named_volume(&compose, &source),
        "{source:?} is not a named volume"
    );
}

#[test]
fn sealgate_builds_here_and_waits_for_a_healthy_minio() {
    let compose = compose();
    let sealgate = service(&compose, "sealgate");

    let build = &sealgate["build"];
    let context = build.get("context").map_or_else(|| scalar(build), scalar);
    assert_eq!(context, ".", "sealgate must build from the repository root");
    let dockerfile = build.get("dockerfile").map_or("Dockerfile".into(), scalar);
    assert!(
        workspace_root().join(&dockerfile).is_file(),
        "{dockerfile} is missing"
    );

    let condition = sealgate
        .pointer("/depends_on/minio/condition")
        .map(scalar)
        .expect("depends_on: minio: condition: (the long form)");
    assert_eq!(condition, "service_healthy");
}

#[test]
fn sealgate_publishes_8300_and_keeps_its_data_dir_in_a_volume() {
    let compose = compose();
    let sealgate = service(&compose, "sealgate");

    assert!(
        container_ports(sealgate).contains(&8300),
        "{:?}",
        sealgate["ports"]
    );

    let stage = final_stage();
    let data_dirs: Vec<String> = instruction_words(&stage, "VOLUME").concat();
    let mounted = mounts(sealgate)
        .into_iter()
        .find(|(_, target)| data_dirs.contains(target));
    let (source, _) = mounted.unwrap_or_else(|| panic!("nothing mounted at {data_dirs:?}"));
    assert!(
        is_named_volume(&compose, &source),
        "{source:?} is not a named volume"
    );
}

#[test]
fn every_sealgate_variable_is_one_the_gateway_reads() {
    let compose = compose();
    let known = variables_the_gateway_reads();
    assert!(
        known.contains("SEALGATE_BACKEND_ENDPOINT") && known.contains("SEALGATE_ACCESS_KEY_ID"),
        "the scan of gateway/src found too little: {known:?}"
    );

    let set: Vec<String> = environment(service(&compose, "sealgate"))
        .into_iter()
        .map(|(name, _)| name)
        .filter(|name| name.starts_with("SEALGATE_"))
        .collect();
    let unknown: Vec<&String> = set.iter().filter(|name| !known.contains(*name)).collect();
    assert!(
        unknown.is_empty(),
        "the gateway reads none of {unknown:?}; it reads {known:?}"
    );

    for needed in [
        "SEALGATE_BACKEND_ENDPOINT",
        "SEALGATE_BACKEND_ACCESS_KEY_ID",
        "SEALGATE_BACKEND_SECRET_ACCESS_KEY",
        "SEALGATE_ACCESS_KEY_ID",
        "SEALGATE_SECRET_ACCESS_KEY",
    ] {
        assert!(set.iter().any(|name| name == needed), "{needed} is not set");
    }
}

#[test]
fn the_backend_is_the_minio_service_with_its_credentials() {
    let compose = compose();
    let (sealgate, minio) = (service(&compose, "sealgate"), service(&compose, "minio"));

    let endpoint = env_value(sealgate, "SEALGATE_BACKEND_ENDPOINT");
    let authority = endpoint
        .strip_prefix("http://")
        .or_else(|| endpoint.strip_prefix("https://"))
        .unwrap_or_else(|| panic!("{endpoint:?} is not an http(s) URL"))
        .trim_end_matches('/');
    assert_eq!(
        authority, "minio:9000",
        "the backend endpoint must name the minio service"
    );

    let pairs = [
        ("SEALGATE_BACKEND_ACCESS_KEY_ID", "MINIO_ROOT_USER"),
        ("SEALGATE_BACKEND_SECRET_ACCESS_KEY", "MINIO_ROOT_PASSWORD"),
    ];
    for (ours, theirs) in pairs {
        assert_eq!(
            env_value(sealgate, ours),
            env_value(minio, theirs),
            "{ours} vs {theirs}"
        );
    }
}

#[test]
fn the_dockerfile_final_stage_serves_on_8300() {
    let stage = final_stage();

    let from = words(&stage[0]);
    assert!(
        from.first()
            .is_some_and(|image| image.starts_with("debian:")),
        "{from:?}"
    );
    let entrypoint = instruction_words(&stage, "ENTRYPOINT")
        .pop()
        .expect("an ENTRYPOINT");
    let expected = ["sealgate", "serve", "--listen", "0.0.0.0:8300"];
    assert_eq!(
        entrypoint, expected,
        "the final stage must run `sealgate serve` on all addresses"
    );

    let exposed = instruction_words(&stage, "EXPOSE").concat();
    assert!(
        exposed.iter().any(|p| p.split('/').next() == Some("8300")),
        "{exposed:?}"
    );
    let user = instruction_words(&stage, "USER").pop().expect("a USER");
    assert!(
        !user.iter().any(|u| u == "root" || u == "0"),
        "runs as {user:?}"
    );
}

#[test]
fn the_build_context_leaves_out_build_output_and_state() {
    let text = std::fs::read_to_string(workspace_root().join(".dockerignore")).expect("a file");
    let patterns: Vec<&str> = text
        .lines()
        .map(|l| l.trim().trim_end_matches('/'))
        .collect();
    for needed in ["target", ".git", "sealgate-data"] {
        assert!(patterns.contains(&needed), ".dockerignore lacks {needed}");
    }
}
