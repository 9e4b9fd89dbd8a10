//! The binary: exit codes, outputs, stdin, files written.

use crate::support;

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Output, Stdio};

use serde_json::Value;
use support::{Image, Layer};

fn layerscope(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_layerscope")).args(args).env_remove("CI").output().unwrap()
}

fn with_stdin(args: &[&str], input: &[u8]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_layerscope"))
        .args(args)
        .env_remove("CI")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let input = input.to_vec();
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(&input);
    });
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap();
    out
}

fn sample() -> Image {
    Image::new()
        .layer(
            Layer::new().dir("etc").file("etc/a", b"aaaa").file("etc/b", b"bb"),
            "/bin/sh -c #(nop) ADD file:x in / ",
        )
        .instruction("/bin/sh -c #(nop)  ENV X=1")
        .layer(Layer::new().dir("etc").whiteout("etc/a").file("etc/c", b"c"), "/bin/sh -c rm /etc/a && echo c > /etc/c")
}

fn write_temp(dir: &tempfile::TempDir, name: &str, bytes: &[u8]) -> String {
    let path = dir.path().join(name);
    std::fs::write(&path, bytes).unwrap();
    path.to_str().unwrap().to_string()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn without_an_image_only_the_interactive_explorer_opens_the_demo() {
    for args in [&["--report"][..], &["--ci"], &["--json", "-"], &["--ci", "--format", "sarif"]] {
        let out = layerscope(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(stderr(&out).contains("no image given"), "{args:?}: {}", stderr(&out));
        assert!(out.stdout.is_empty(), "{args:?}: nothing is judged");
    }
    // CI=true with no arguments at all: an empty $IMAGE in a pipeline must not pass.
    let out = Command::new(env!("CARGO_BIN_EXE_layerscope")).env("CI", "true").output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("no image given"), "{}", stderr(&out));
}

#[test]
fn json_report_has_the_documented_shape() {
    let dir = tempfile::tempdir().unwrap();
    let image = write_temp(&dir, "img.tar", &sample().docker_archive());
    let out = layerscope(&["--json", "-", &image]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["schema"], "layerscope.report/v2");
    for key in ["source", "format", "tags", "platform", "config_digest", "size_bytes", "blob_bytes", "layer_count"] {
        assert!(report["image"].get(key).is_some(), "image.{key}");
    }
    assert_eq!(report["image"]["format"], "docker-archive");
    assert_eq!(report["image"]["size_bytes"], 7);
    let layer = &report["layers"][1];
    for key in [
        "index",
        "diff_id",
        "blob_digest",
        "media_type",
        "compression",
        "blob_bytes",
        "size_bytes",
        "command",
        "created",
        "empty_instructions",
        "added",
        "modified",
        "removed",
    ] {
        assert!(layer.get(key).is_some(), "layers[].{key}");
    }
    assert_eq!(layer["command"], "rm /etc/a && echo c > /etc/c");
    assert_eq!((layer["added"].as_u64(), layer["removed"].as_u64()), (Some(1), Some(1)));
    assert_eq!(report["layers"][0]["empty_instructions"][0]["command"], "#(nop)  ENV X=1");
    assert!(report["warnings"].as_array().unwrap().is_empty());
}

#[test]
fn json_report_truncates_the_file_it_writes() {
    let dir = tempfile::tempdir().unwrap();
    let image = write_temp(&dir, "img.tar", &sample().docker_archive());
    let target = write_temp(&dir, "report.json", &vec![b'x'; 1 << 20]);
    let out = layerscope(&["--json", &target, &image]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let written = std::fs::read(&target).unwrap();
    assert!(serde_json::from_slice::<Value>(&written).is_ok(), "the old bytes are gone");
}

#[test]
fn files_prints_sorted_json_lines() {
    let dir = tempfile::tempdir().unwrap();
    let image = write_temp(&dir, "img.tar", &sample().oci_archive(support::Comp::Gzip));
    let out = layerscope(&["files", &image]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let lines: Vec<Value> = out.stdout.lines().map(|l| serde_json::from_str(&l.unwrap()).unwrap()).collect();
    let paths: Vec<_> = lines.iter().map(|l| l["path"].as_str().unwrap()).collect();
    assert_eq!(paths, ["/etc", "/etc/b", "/etc/c"]);
    let c = &lines[2];
    assert_eq!(c["kind"], "file");
    assert_eq!(c["mode"], "0644");
    assert_eq!((c["uid"].as_u64(), c["gid"].as_u64(), c["size"].as_u64()), (Some(0), Some(0), Some(1)));
    assert_eq!((c["layer"].as_u64(), c["change"].as_str()), (Some(1), Some("added")));

    let out = layerscope(&["files", &image, "--layer", "1", "--changes"]);
    let changes: Vec<(String, String)> = out
        .stdout
        .lines()
        .map(|l| {
            let v: Value = serde_json::from_str(&l.unwrap()).unwrap();
            (v["path"].as_str().unwrap().to_string(), v["change"].as_str().unwrap().to_string())
        })
        .collect();
    assert_eq!(
        changes,
        [
            ("/etc".into(), "metadata_only".into()),
            ("/etc/a".into(), "removed".into()),
            ("/etc/c".into(), "added".into())
        ]
    );

    let out = layerscope(&["files", &image, "--layer", "0"]);
    assert_eq!(out.stdout.lines().count(), 3);
}

#[test]
fn files_rejects_a_layer_out_of_range() {
    let dir = tempfile::tempdir().unwrap();
    let image = write_temp(&dir, "img.tar", &sample().docker_archive());
    let out = layerscope(&["files", &image, "--layer", "7"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("--layer 7: the image has 2 layers (0 to 1)"), "{}", stderr(&out));
}

#[test]
fn reads_an_archive_from_stdin() {
    let archive = sample().docker_archive();
    let out = with_stdin(&["files", "-"], &archive);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(out.stdout.lines().count(), 3);
    let gz = support::gzip(&archive);
    let out = with_stdin(&["--json", "-", "-"], &gz);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["image"]["source"], "<stdin>");
    assert_eq!(report["image"]["archive_compression"], "gzip");
}

#[test]
fn errors_exit_2_and_name_the_problem() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope.tar");
    let out = layerscope(&["--report", missing.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("nope.tar"), "{}", stderr(&out));

    let rootfs = write_temp(&dir, "rootfs.tar", &Layer::new().file("README.md", b"x").tar());
    let out = layerscope(&["--report", &rootfs]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("is a filesystem tarball, not an image"), "{}", stderr(&out));

    let out = layerscope(&["--platform", "linux", &rootfs]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("invalid --platform 'linux'"), "{}", stderr(&out));

    let out = with_stdin(&["--report", "-"], b"");
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("empty"), "{}", stderr(&out));
}

#[test]
fn the_explorer_needs_a_terminal() {
    let out = layerscope(&[]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(err.contains("needs a terminal") && err.contains("--ci") && err.contains("--json"), "{err}");
}

#[test]
fn usage_errors_exit_2() {
    let out = layerscope(&["--no-such-flag"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn a_closed_pipe_is_not_an_error() {
    let mut layer = Layer::new().dir("many");
    for i in 0..4000 {
        layer = layer.file(&format!("many/file-{i:05}"), b"x");
    }
    let dir = tempfile::tempdir().unwrap();
    let image = write_temp(&dir, "img.tar", &Image::new().layer(layer, "many").docker_archive());
    let mut child = Command::new(env!("CARGO_BIN_EXE_layerscope"))
        .args(["files", &image])
        .env_remove("CI")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut first).unwrap();
    // The reader is dropped here, like `| head -1`.
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(out.stderr.is_empty(), "{}", stderr(&out));
}

#[test]
fn help_explains_the_sizes() {
    let out = layerscope(&["--help"]);
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("layer size"), "{text}");
    assert!(text.contains("files"), "{text}");
}

#[test]
fn a_wrong_explorer_settings_file_exits_2_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.yaml");
    std::fs::write(&config, "theme: default\nkyes: {}\n").unwrap();
    let demo = concat!(env!("CARGO_MANIFEST_DIR"), "/assets/demo.tar");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_layerscope"))
        .args(["--config", config.to_str().unwrap(), demo])
        .env_remove("CI")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("unknown key 'kyes' (did you mean 'keys'?)"), "{err}");
    // A report does not read it: said, not ignored.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_layerscope"))
        .args(["--config", config.to_str().unwrap(), "--json", "-", demo])
        .env_remove("CI")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("a report does not read it"));
}

/// The busybox-like base both `api_and_web` images start from.
fn shared_base() -> Layer {
    Layer::new().dir("usr").file("usr/libc.so", &[7; 40_000])
}

/// Two images on one base layer (40,000 bytes), with 5,000 and 3,000 bytes of their own.
fn api_and_web() -> (Image, Image) {
    let api = Image::new()
        .tags(&["team/api:1"])
        .layer(shared_base(), "ADD base")
        .layer(Layer::new().file("api", &[1; 5_000]), "COPY api");
    let web = Image::new()
        .tags(&["team/web:1"])
        .layer(shared_base(), "ADD base")
        .layer(Layer::new().file("web", &[2; 3_000]), "COPY web");
    (api, web)
}

#[test]
fn df_counts_shared_layers_once() {
    let dir = tempfile::tempdir().unwrap();
    let (api, web) = api_and_web();
    // The same bytes as base, but above another layer: a different ChainID, not shared.
    let odd = Image::new()
        .tags(&["team/odd:1"])
        .layer(Layer::new().file("first", &[3; 1_000]), "x")
        .layer(shared_base(), "ADD base");
    let a = write_temp(&dir, "api.tar", &api.docker_archive());
    let w = write_temp(&dir, "web.tar", &web.docker_archive());
    let o = write_temp(&dir, "odd.tar", &odd.docker_archive());
    let out = layerscope(&["df", "--format", "json", &a, &w, &o]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let json: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["schema"], "layerscope.df/v1");
    let row = |name: &str| json["images"].as_array().unwrap().iter().find(|i| i["name"] == name).unwrap().clone();
    assert_eq!(
        (row("team/api:1")["size_bytes"].as_u64(), row("team/api:1")["shared_bytes"].as_u64()),
        (Some(45_000), Some(40_000))
    );
    assert_eq!(row("team/web:1")["unique_bytes"], 3_000);
    assert_eq!(row("team/odd:1")["shared_bytes"], 0, "same bytes over other layers are another layer");
    assert_eq!(json["naive_bytes"], 45_000 + 43_000 + 41_000);
    assert_eq!(json["real_bytes"], 40_000 + 5_000 + 3_000 + 41_000);
    assert_eq!(json["saved_bytes"], 40_000);

    // One multi-image archive counts every image it holds; the text says what the totals mean.
    let both = write_temp(&dir, "both.tar", &support::several_images_archive(&[&api, &web]));
    let out = layerscope(&["df", &both]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("team/api:1") && text.contains("team/web:1"), "{text}");
    assert!(text.contains("Sum of sizes") && text.contains("On disk") && text.contains("Saved"), "{text}");
    assert!(text.contains("40.0 kB"), "{text}");
    let json: Value = serde_json::from_slice(&layerscope(&["df", "--format", "json", &both]).stdout).unwrap();
    assert_eq!((json["naive_bytes"].as_u64(), json["real_bytes"].as_u64()), (Some(88_000), Some(48_000)));
}

#[test]
fn the_readme_df_example_is_what_df_prints() {
    let dir = tempfile::tempdir().unwrap();
    let (api, web) = api_and_web();
    let both = write_temp(&dir, "both.tar", &support::several_images_archive(&[&api, &web]));
    let printed = String::from_utf8(layerscope(&["df", &both]).stdout).unwrap();
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let start = readme.find("```text\nIMAGE ").unwrap() + "```text\n".len();
    let shown = &readme[start..start + readme[start..].find("```").unwrap()];
    assert!(printed.starts_with(shown), "README:\n{shown}\nprinted:\n{printed}");
}

#[test]
fn diff_lists_what_changed_between_two_builds_and_gates_growth() {
    use support::Attrs;
    let dir = tempfile::tempdir().unwrap();
    let old = Image::new().tags(&["app:1"]).layer(shared_base(), "ADD base").layer(
        Layer::new()
            .dir("app")
            .file("app/main", &[1; 1_000])
            .file("app/conf", b"same")
            .file("app/old.log", &[2; 500])
            .dir("app/data")
            .symlink("app/link", "main"),
        "COPY app",
    );
    let new = Image::new().tags(&["app:2"]).layer(shared_base(), "ADD base").layer(
        Layer::new()
            .dir("app")
            .file("app/main", &[9; 3_000])
            .file_with("app/conf", b"same", Attrs::FILE.mode(0o600))
            .file("app/data", b"now a file")
            .file("app/new.bin", &[3; 2_000])
            .symlink("app/link", "main2"),
        "COPY app v2",
    );
    let (o, n) =
        (write_temp(&dir, "old.tar", &old.docker_archive()), write_temp(&dir, "new.tar", &new.docker_archive()));
    let out = layerscope(&["diff", "--format", "json", &o, &n]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let json: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["schema"], "layerscope.diff/v1");
    assert_eq!(json["shared_layers"], 1, "the base layer is shared");
    assert_eq!(json["new_layers"][0]["command"], "COPY app v2");
    let change = |path: &str| {
        json["paths"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["path"] == path)
            .map(|p| p["change"].as_str().unwrap().to_string())
    };
    assert_eq!(change("/app/main").as_deref(), Some("modified"));
    assert_eq!(change("/app/conf").as_deref(), Some("metadata_only"));
    assert_eq!(change("/app/old.log").as_deref(), Some("removed"));
    assert_eq!(change("/app/new.bin").as_deref(), Some("added"));
    assert_eq!(change("/app/data").as_deref(), Some("type_changed"));
    assert_eq!(change("/app/link").as_deref(), Some("modified"), "another link target");
    assert_eq!(change("/usr/libc.so"), None, "unchanged paths are not listed");
    assert_eq!(json["paths"][0]["path"], "/app/main", "largest change first (+2,000 B)");
    assert_eq!(json["size_delta_bytes"], (3_000 + 4 + 10 + 2_000) - (1_000 + 4 + 500));
    assert_eq!(json["directories"][0]["path"], "/app");

    let text = layerscope(&["diff", &o, &n]);
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(text.contains("app:1 → app:2") && text.contains("1 shared (same ChainIDs)"), "{text}");
    assert!(text.contains("+2.0 kB  modified       /app/main"), "{text}");

    // The gate: bytes and percent, exit 1 over, 0 under, 2 for a bad limit.
    assert_eq!(layerscope(&["diff", "--fail-on-growth", "1kB", &o, &n]).status.code(), Some(1));
    assert_eq!(layerscope(&["diff", "--fail-on-growth", "10kB", &o, &n]).status.code(), Some(0));
    assert_eq!(layerscope(&["diff", "--fail-on-growth", "5%", &o, &n]).status.code(), Some(1));
    assert_eq!(layerscope(&["diff", "--fail-on-growth", "50%", &o, &n]).status.code(), Some(0));
    let bad = layerscope(&["diff", "--fail-on-growth", "lots", &o, &n]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("--fail-on-growth lots"));
}
