//! Images by name: a real registry (Debian's docker-registry, started here on loopback), pushed
//! to with skopeo; the cache; credentials. Each test skips (or fails, with
//! LAYERSCOPE_REQUIRE_REGISTRY=1 / LAYERSCOPE_REQUIRE_SKOPEO=1) when the tools are missing.

use std::path::Path;
use std::process::Command;

use base64::Engine;
use serde_json::{Value, json};

use crate::support::servers::{Auth, Daemon, Registry};
use crate::support::{Comp, Image, Layer, OciLayout, platform};
use crate::support::{SYSTEM_PATH, isolated as layerscope, json_of, stderr};

/// A report without what differs by where the image was read from: the source, how layers
/// are stored (skopeo compresses them when it pushes) and the manifest.
fn comparable(mut report: Value) -> Value {
    let image = report["image"].as_object_mut().unwrap();
    for key in ["source", "origin", "format", "tags", "manifest_digest", "blob_bytes"] {
        image.remove(key);
    }
    for layer in report["layers"].as_array_mut().unwrap() {
        let layer = layer.as_object_mut().unwrap();
        for key in ["blob_digest", "blob_bytes", "compression", "media_type", "entry", "verified"] {
            layer.remove(key);
        }
    }
    report
}

fn sample() -> Image {
    Image::new()
        .layer(
            Layer::new()
                .dir("etc")
                .file("etc/os-release", b"ID=test\n")
                .dir("usr/bin")
                .file("usr/bin/tool", &crate::support::demo::noise(1, 300_000))
                .hardlink("usr/bin/tool2", "usr/bin/tool"),
            "/bin/sh -c #(nop) ADD file:base in / ",
        )
        .instruction("/bin/sh -c #(nop)  ENV A=1")
        .layer(
            Layer::new().dir("var/cache").file("var/cache/big", &crate::support::demo::noise(2, 200_000)),
            "/bin/sh -c fetch",
        )
        .layer(Layer::new().dir("var/cache").whiteout("var/cache/big").file("etc/motd", b"hi"), "/bin/sh -c rm big")
}

/// A plain registry holding `sample()` as `name`, and a home for the test.
fn registry_with_sample(name: &str) -> Option<(Registry, tempfile::TempDir)> {
    let registry = Registry::start(Auth::None)?;
    let home = tempfile::tempdir().unwrap();
    let archive = home.path().join("app.tar");
    std::fs::write(&archive, sample().docker_archive()).unwrap();
    registry.push(&format!("docker-archive:{}", archive.display()), name, &[]).then_some((registry, home))
}

#[test]
fn a_pull_reads_as_its_archive_and_opens_offline_from_the_cache() {
    let Some(mut registry) = Registry::start(Auth::None) else { return };
    let home = tempfile::tempdir().unwrap();
    let archive = home.path().join("app.tar");
    std::fs::write(&archive, sample().docker_archive()).unwrap();
    if !registry.push(&format!("docker-archive:{}", archive.display()), "team/app:1", &[]) {
        return;
    }
    let name = format!("registry://{}/team/app:1", registry.host());
    let from_archive = json_of(&layerscope(home.path(), &["--json", "-", archive.to_str().unwrap()], &[]));

    let first = json_of(&layerscope(home.path(), &["--json", "-", &name], &[]));
    assert_eq!(comparable(first.clone()), comparable(from_archive.clone()));
    assert_eq!(first["image"]["format"], "registry");
    assert_eq!(first["image"]["origin"]["kind"], "registry");
    assert_eq!(first["image"]["origin"]["from_cache"], false);
    assert_eq!(first["image"]["origin"]["address"], format!("http://{}", registry.host()));
    // Each blob was checked against its digest as it arrived; DiffIDs only with --verify.
    assert!(first["layers"].as_array().unwrap().iter().all(|l| l["verified"].is_null()), "{first}");
    assert_eq!(first["warnings"], json!([]));
    let verified = json_of(&layerscope(home.path(), &["--json", "-", "--verify", &name], &[]));
    assert!(verified["layers"].as_array().unwrap().iter().all(|l| l["verified"] == true), "{verified}");

    // The same again, registry up: only the tag is asked about; blobs and records come from the cache.
    let second = json_of(&layerscope(home.path(), &["--json", "-", &name], &[]));
    assert_eq!(second["image"]["origin"]["from_cache"], true);
    assert_eq!(comparable(second), comparable(from_archive.clone()));

    // Registry down: the cached tag, said so.
    registry.stop();
    let mut offline = json_of(&layerscope(home.path(), &["--json", "-", &name], &[]));
    let warnings = offline["warnings"].take();
    offline["warnings"] = json!([]);
    assert_eq!(comparable(offline), comparable(from_archive.clone()));
    let warnings = warnings.as_array().unwrap();
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert_eq!(warnings[0]["kind"], "source_notice");
    assert!(warnings[0]["message"].as_str().unwrap().contains("cannot be reached"), "{warnings:?}");

    // By digest nothing needs the registry at all.
    let digest = first["image"]["origin"]["manifest_digest"].as_str().unwrap();
    let by_digest = format!("registry://{}/team/app@{digest}", registry.host());
    let pinned = json_of(&layerscope(home.path(), &["--json", "-", &by_digest], &[]));
    assert_eq!(pinned["warnings"], json!([]));
    assert_eq!(comparable(pinned), comparable(from_archive.clone()));

    // The figures kept beside the tree are checked before use: damaged, they are computed again.
    let derived = home.path().join("cache/derived/v1/sha256");
    let mut kinds: Vec<String> = std::fs::read_dir(&derived)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().rsplit('.').next().unwrap().to_string())
        .collect();
    kinds.sort();
    // content-1 is the image's os-release, which the base detection reads.
    assert_eq!(kinds, ["change-counts", "content-1", "dive", "waste-top20"]);
    for entry in std::fs::read_dir(&derived).unwrap() {
        let path = entry.unwrap().path();
        let mut bytes = std::fs::read(&path).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 0x55;
        std::fs::write(&path, bytes).unwrap();
    }
    let recomputed = json_of(&layerscope(home.path(), &["--json", "-", &by_digest], &[]));
    assert_eq!(comparable(recomputed), comparable(from_archive));

    // The cache says what it holds; pruned, the offline open fails and says why.
    let shown = layerscope(home.path(), &["cache"], &[]);
    let text = String::from_utf8_lossy(&shown.stdout);
    assert!(text.contains("records    3 "), "{text}");
    assert!(text.contains("trees      1 "), "{text}");
    assert!(text.contains("figures    4 "), "{text}");
    assert!(text.contains("tags       1 "), "{text}");
    let pruned = layerscope(home.path(), &["cache", "prune"], &[]);
    assert_eq!(pruned.status.code(), Some(0), "{}", stderr(&pruned));
    let gone = layerscope(home.path(), &["--json", "-", &name], &[]);
    assert_eq!(gone.status.code(), Some(2));
    assert!(stderr(&gone).contains("cannot reach the registry"), "{}", stderr(&gone));
}

#[test]
fn a_bare_name_that_no_engine_holds_comes_from_its_registry() {
    let Some((registry, home)) = registry_with_sample("app:1") else { return };
    let out = layerscope(home.path(), &["--json", "-", &format!("{}/app:1", registry.host())], &[]);
    let report = json_of(&out);
    assert_eq!(report["image"]["origin"]["kind"], "registry");
    assert!(stderr(&out).contains(&format!("reading {}/app:1 from registry", registry.host())), "{}", stderr(&out));
    // No such tag: the registry's answer, with what was tried locally.
    let out = layerscope(home.path(), &["--json", "-", &format!("{}/app:2", registry.host())], &[]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(err.contains("404 not found"), "{err}");
    assert!(err.contains("docker:") && err.contains("podman:"), "what was tried: {err}");
}

/// An OCI layout whose one tag names an index of two platforms, layers in zstd.
fn multi_platform_layout() -> OciLayout {
    let mut layout = OciLayout::new();
    let mut manifests = Vec::new();
    for (arch, variant) in [("amd64", None), ("arm64", Some("v8"))] {
        let image = Image::new()
            .platform("linux", arch, variant)
            .layer(Layer::new().dir("etc").file("etc/arch", arch.as_bytes()), "/bin/sh -c #(nop) ADD file:x in / ");
        let built = image.build(Comp::Zstd);
        layout.store(&built);
        manifests.push(json!({
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": built.manifest_digest,
            "size": built.manifest.len(),
            "platform": platform("linux", arch, variant),
        }));
    }
    let index = serde_json::to_vec(
        &json!({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": manifests}),
    )
    .unwrap();
    let digest = layout.blob(&index);
    layout.index["manifests"] = json!([{
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "digest": digest,
        "size": index.len(),
        "annotations": {"org.opencontainers.image.ref.name": "multi"},
    }]);
    layout
}

#[test]
fn a_multi_platform_index_with_zstd_layers_gives_the_platform_asked_for() {
    let Some(registry) = Registry::start(Auth::None) else { return };
    let home = tempfile::tempdir().unwrap();
    let dir = home.path().join("layout");
    multi_platform_layout().write_dir(&dir);
    let src = format!("oci:{}:multi", dir.display());
    if !registry.push(&src, "multi:1", &["--all", "--preserve-digests"]) {
        return;
    }
    let name = format!("registry://{}/multi:1", registry.host());
    let arch_file = |extra: &[&str]| {
        let mut args = vec!["files", name.as_str()];
        args.extend_from_slice(extra);
        let out = layerscope(home.path(), &args, &[]);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        String::from_utf8_lossy(&out.stdout).lines().find(|l| l.contains("\"/etc/arch\"")).unwrap().to_string()
    };
    assert!(arch_file(&[]).contains("\"size\":5"), "linux/amd64 by default");
    assert!(arch_file(&["--platform", "linux/arm64"]).contains("\"size\":5"));
    let arm = json_of(&layerscope(home.path(), &["--json", "-", "--platform", "linux/arm64", &name], &[]));
    assert_eq!(arm["image"]["platform"], "linux/arm64/v8");
    assert_eq!(arm["layers"][0]["compression"], "zstd");
    let amd = json_of(&layerscope(home.path(), &["--json", "-", &name], &[]));
    assert_eq!(amd["image"]["platform"], "linux/amd64");
    assert_ne!(amd["image"]["config_digest"], arm["image"]["config_digest"]);
    let none = layerscope(home.path(), &["--json", "-", "--platform", "linux/s390x", &name], &[]);
    assert_eq!(none.status.code(), Some(2));
    assert!(stderr(&none).contains("linux/amd64, linux/arm64/v8"), "{}", stderr(&none));
}

#[test]
fn basic_auth_credentials_come_from_podman_and_docker_files() {
    let Some(registry) = Registry::start(Auth::Basic("alice", "wonderland")) else { return };
    let home = tempfile::tempdir().unwrap();
    let archive = home.path().join("app.tar");
    std::fs::write(&archive, sample().docker_archive()).unwrap();
    let src = format!("docker-archive:{}", archive.display());
    if !registry.push(&src, "private/app:1", &["--dest-creds", "alice:wonderland"]) {
        return;
    }
    let name = format!("registry://{}/private/app:1", registry.host());
    let anonymous = layerscope(home.path(), &["--json", "-", &name], &[]);
    assert_eq!(anonymous.status.code(), Some(2));
    let err = stderr(&anonymous);
    assert!(err.contains("401 unauthorized") && err.contains(&format!("docker login {}", registry.host())), "{err}");

    let entry = |user_password: &str| {
        let auth = base64::engine::general_purpose::STANDARD.encode(user_password);
        json!({"auths": {registry.host(): {"auth": auth}}}).to_string()
    };
    let podman_file = home.path().join("auth.json");
    std::fs::write(&podman_file, entry("alice:wonderland")).unwrap();
    let with_podman =
        layerscope(home.path(), &["--json", "-", &name], &[("REGISTRY_AUTH_FILE", podman_file.to_str().unwrap())]);
    assert_eq!(json_of(&with_podman)["image"]["layer_count"], 3);

    let docker_dir = home.path().join("docker");
    std::fs::create_dir_all(&docker_dir).unwrap();
    std::fs::write(docker_dir.join("config.json"), entry("alice:wonderland")).unwrap();
    let fresh = tempfile::tempdir().unwrap();
    let with_docker =
        layerscope(fresh.path(), &["--json", "-", &name], &[("DOCKER_CONFIG", docker_dir.to_str().unwrap())]);
    assert_eq!(json_of(&with_docker)["image"]["layer_count"], 3);

    // A credential helper, as `docker login` with a credsStore leaves it: the config names it,
    // layerscope runs `docker-credential-NAME get` with the registry on stdin.
    let bin = home.path().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let helper = bin.join("docker-credential-lstest");
    std::fs::write(
        &helper,
        format!(
            "#!/bin/sh\nread server\n[ \"$1\" = get ] && [ \"$server\" = {} ] && exec echo '{{\"Username\":\"alice\",\"Secret\":\"wonderland\"}}'\necho no credentials >&2; exit 1\n",
            registry.host()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&helper, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let helper_dir = home.path().join("helper");
    std::fs::create_dir_all(&helper_dir).unwrap();
    std::fs::write(helper_dir.join("config.json"), json!({"credHelpers": {registry.host(): "lstest"}}).to_string())
        .unwrap();
    let path = format!("{}:/usr/bin:/bin", bin.display());
    let fresh = tempfile::tempdir().unwrap();
    let with_helper = layerscope(
        fresh.path(),
        &["--json", "-", &name],
        &[("DOCKER_CONFIG", helper_dir.to_str().unwrap()), ("PATH", &path)],
    );
    assert_eq!(json_of(&with_helper)["image"]["layer_count"], 3);

    std::fs::write(&podman_file, entry("alice:wrong")).unwrap();
    let fresh = tempfile::tempdir().unwrap();
    let wrong =
        layerscope(fresh.path(), &["--json", "-", &name], &[("REGISTRY_AUTH_FILE", podman_file.to_str().unwrap())]);
    assert_eq!(wrong.status.code(), Some(2));
    assert!(stderr(&wrong).contains("401"), "{}", stderr(&wrong));
    assert!(!stderr(&wrong).contains("wrong"), "no secret in messages: {}", stderr(&wrong));
}

#[test]
fn a_blob_whose_bytes_do_not_match_its_digest_is_refused_and_not_cached() {
    let Some(registry) = Registry::start(Auth::None) else { return };
    let home = tempfile::tempdir().unwrap();
    let dir = home.path().join("layout");
    let mut layout = OciLayout::new();
    let built = layout.add_image(&sample(), Comp::Gzip, Some("v1"), None);
    layout.write_dir(&dir);
    if !registry.push(&format!("oci:{}:v1", dir.display()), "bad:1", &["--preserve-digests"]) {
        return;
    }
    // Swap the bytes of layer 1 in the registry's storage: it serves what it stores.
    let digest = &built.layers[1].blob_digest;
    let file = registry.blob_file(digest);
    let mut bytes = std::fs::read(&file).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0xff;
    std::fs::write(&file, bytes).unwrap();
    let out = layerscope(home.path(), &["--json", "-", &format!("registry://{}/bad:1", registry.host())], &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains(digest.as_str()), "{}", stderr(&out));
    let hex = digest.strip_prefix("sha256:").unwrap();
    assert!(!home.path().join("cache/blobs/sha256").join(hex).exists(), "a bad blob never enters the cache");
}

#[test]
fn no_cache_leaves_nothing_behind() {
    let Some((registry, home)) = registry_with_sample("app:1") else { return };
    let tmp = home.path().join("tmp");
    std::fs::create_dir_all(&tmp).unwrap();
    let out = layerscope(
        home.path(),
        &["--json", "-", "--no-cache", &format!("registry://{}/app:1", registry.host())],
        &[("TMPDIR", tmp.to_str().unwrap())],
    );
    assert_eq!(json_of(&out)["image"]["layer_count"], 3);
    assert!(!home.path().join("cache").exists(), "--no-cache writes no cache");
    assert_eq!(std::fs::read_dir(&tmp).unwrap().count(), 0, "the temporary folder is removed");
}

#[test]
fn cache_prune_keeps_the_most_recently_used_within_the_size() {
    let home = tempfile::tempdir().unwrap();
    let cache = layerscope::cache::Cache::at(home.path().join("cache"));
    let digest = |n: u8| format!("sha256:{}", crate::support::sha256_hex(&[n]));
    for n in 0..4u8 {
        cache.put_blob(&digest(n), &vec![n; 1000]).unwrap();
        let path = cache.blob(&digest(n)).unwrap().0;
        let when = std::time::SystemTime::now() - std::time::Duration::from_secs(3600 * u64::from(4 - n));
        std::fs::File::options().append(true).open(path).unwrap().set_modified(when).unwrap();
    }
    let out = layerscope(home.path(), &["cache", "prune", "--max-size", "2500"], &[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("removed 2 entries (2.0 kB)"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let left: Vec<bool> = (0..4u8).map(|n| cache.blob(&digest(n)).is_some()).collect();
    assert_eq!(left, [false, false, true, true], "the oldest go first");
    let bad = layerscope(home.path(), &["cache", "prune", "--max-size", "lots"], &[]);
    assert_eq!(bad.status.code(), Some(2));
}

#[test]
fn a_name_spelled_like_a_file_is_a_missing_file_not_a_pull() {
    let home = tempfile::tempdir().unwrap();
    let out = layerscope(home.path(), &["--json", "-", "imge.tar"], &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("No such file"), "{}", stderr(&out));
}

/// PATH for tests that need the engines' tools.
fn run_tool(program: &str, args: &[&str], env: &[(&str, &str)]) {
    let mut command = Command::new(program);
    command.args(args);
    for (k, v) in env {
        command.env(k, v);
    }
    let out = command.output().unwrap();
    assert!(out.status.success(), "{program} {args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn docker_engine_images_read_as_their_archive_and_the_second_open_exports_nothing() {
    let Some(daemon) = Daemon::dockerd() else { return };
    let home = tempfile::tempdir().unwrap();
    let archive = home.path().join("app.tar");
    std::fs::write(&archive, sample().tags(&["team/app:1"]).docker_archive()).unwrap();
    let host = daemon.host();
    run_tool("docker", &["load", "-i", archive.to_str().unwrap()], &[("DOCKER_HOST", &host)]);
    let env = [("DOCKER_HOST", host.as_str()), ("PATH", SYSTEM_PATH)];
    let from_archive = json_of(&layerscope(home.path(), &["--json", "-", archive.to_str().unwrap()], &[]));

    let first = json_of(&layerscope(home.path(), &["--json", "-", "docker://team/app:1"], &env));
    assert_eq!(comparable(first.clone()), comparable(from_archive.clone()));
    assert_eq!(first["image"]["origin"]["kind"], "docker");
    assert_eq!(first["image"]["origin"]["address"], host);
    assert_eq!(first["image"]["origin"]["from_cache"], false);
    // The engine's image ID names the config, and each layer is in the cache by DiffID: no export.
    let second = json_of(&layerscope(home.path(), &["--json", "-", "docker://team/app:1"], &env));
    assert_eq!(second["image"]["origin"]["from_cache"], true);
    assert_eq!(comparable(second), comparable(from_archive.clone()));
    // A bare name: the first engine holding it.
    let out = layerscope(home.path(), &["--json", "-", "team/app:1"], &env);
    assert_eq!(comparable(json_of(&out)), comparable(from_archive.clone()));
    assert!(stderr(&out).contains("from docker ("), "{}", stderr(&out));
    // Without DOCKER_HOST: the active docker context, as `docker context use` recorded it.
    let docker_config = home.path().join(".docker");
    let config_env = [("DOCKER_CONFIG", docker_config.to_str().unwrap()), ("DOCKER_HOST", "")];
    run_tool("docker", &["context", "create", "lstest", "--docker", &format!("host={host}")], &config_env);
    run_tool("docker", &["context", "use", "lstest"], &config_env);
    let by_context = layerscope(home.path(), &["--json", "-", "docker://team/app:1"], &[("DOCKER_HOST", "")]);
    let by_context = json_of(&by_context);
    assert_eq!(by_context["image"]["origin"]["address"], host);
    assert_eq!(comparable(by_context), comparable(from_archive.clone()));
    // An image it does not hold.
    let out = layerscope(home.path(), &["--json", "-", "docker://team/app:2"], &env);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("no image named team/app:2"), "{}", stderr(&out));
}

#[test]
fn podman_images_read_through_podman_save_and_through_its_socket() {
    let home = tempfile::tempdir().unwrap();
    let Some(podman) = crate::support::servers::PodmanStorage::new() else { return };
    let storage = podman.conf_str().to_string();
    let archive = home.path().join("app.tar");
    std::fs::write(&archive, sample().tags(&["team/app:1"]).docker_archive()).unwrap();
    podman.podman(&["load", "-q", "-i", archive.to_str().unwrap()]);
    let from_archive = json_of(&layerscope(home.path(), &["--json", "-", archive.to_str().unwrap()], &[]));
    let env = [("CONTAINERS_STORAGE_CONF", storage.as_str()), ("PATH", SYSTEM_PATH)];

    let saved = json_of(&layerscope(home.path(), &["--json", "-", "--no-cache", "podman://team/app:1"], &env));
    assert_eq!(comparable(saved.clone()), comparable(from_archive.clone()));
    assert_eq!(saved["image"]["origin"]["kind"], "podman");
    assert!(saved["image"]["origin"]["address"].as_str().unwrap().ends_with("/podman"), "{saved}");

    let Some(service) = Daemon::podman_service(Path::new(&storage)) else { return };
    let host = service.host();
    let env = [("CONTAINERS_STORAGE_CONF", storage.as_str()), ("PATH", SYSTEM_PATH), ("CONTAINER_HOST", host.as_str())];
    let api = json_of(&layerscope(home.path(), &["--json", "-", "podman://team/app:1"], &env));
    assert_eq!(comparable(api.clone()), comparable(from_archive.clone()));
    assert_eq!(api["image"]["origin"]["address"], host);
    let again = json_of(&layerscope(home.path(), &["--json", "-", "podman://team/app:1"], &env));
    assert_eq!(again["image"]["origin"]["from_cache"], true);
    // A bare name: docker is absent, podman holds it.
    let out = layerscope(home.path(), &["--json", "-", "team/app:1"], &env);
    assert_eq!(comparable(json_of(&out)), comparable(from_archive.clone()));
    assert!(stderr(&out).contains("from podman ("), "{}", stderr(&out));
}

#[test]
fn containerd_images_read_through_ctr_export() {
    let Some(daemon) = Daemon::containerd() else { return };
    let home = tempfile::tempdir().unwrap();
    let archive = home.path().join("app.tar");
    std::fs::write(&archive, sample().tags(&["team/app:1"]).docker_archive()).unwrap();
    let address = daemon.socket.to_str().unwrap().to_string();
    run_tool(
        "ctr",
        &["--address", &address, "--namespace", "ls-test", "images", "import", archive.to_str().unwrap()],
        &[],
    );
    let from_archive = json_of(&layerscope(home.path(), &["--json", "-", archive.to_str().unwrap()], &[]));
    let env = [("CONTAINERD_ADDRESS", address.as_str()), ("PATH", SYSTEM_PATH)];
    let out =
        layerscope(home.path(), &["--json", "-", "--containerd-namespace", "ls-test", "containerd://team/app:1"], &env);
    let report = json_of(&out);
    assert_eq!(comparable(report.clone()), comparable(from_archive));
    assert_eq!(report["image"]["origin"]["kind"], "containerd");
    // The wrong namespace holds nothing.
    let out = layerscope(home.path(), &["--json", "-", "containerd://team/app:1"], &env);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("containerd ("), "{}", stderr(&out));
}

#[test]
fn the_bearer_token_flow_gets_anonymous_and_credentialed_tokens() {
    let Some(tokens) = crate::support::servers::TokenService::start() else { return };
    let auth = Auth::Token {
        realm: tokens.realm(),
        service: "layerscope-registry".into(),
        issuer: "layerscope-test".into(),
        cert: tokens.cert.clone(),
    };
    let Some(registry) = Registry::start(auth) else { return };
    let home = tempfile::tempdir().unwrap();
    let archive = home.path().join("app.tar");
    std::fs::write(&archive, sample().docker_archive()).unwrap();
    let src = format!("docker-archive:{}", archive.display());
    for name in ["public/app:1", "private/app:1"] {
        if !registry.push(&src, name, &["--dest-creds", "alice:wonderland"]) {
            return;
        }
    }
    tokens.requests.lock().unwrap().clear();
    let public =
        layerscope(home.path(), &["--json", "-", &format!("registry://{}/public/app:1", registry.host())], &[]);
    assert_eq!(json_of(&public)["image"]["layer_count"], 3);
    {
        let seen = tokens.requests.lock().unwrap();
        assert!(!seen.is_empty(), "the token service was asked");
        assert!(
            seen.iter().all(|r| r.contains("scope=repository%3Apublic%2Fapp%3Apull")
                || r.contains("scope=repository:public/app:pull")),
            "{seen:?}"
        );
        assert!(seen.iter().all(|r| !r.to_ascii_lowercase().contains("authorization:")), "anonymous: {seen:?}");
    }
    let private = format!("registry://{}/private/app:1", registry.host());
    let denied = layerscope(home.path(), &["--json", "-", &private], &[]);
    assert_eq!(denied.status.code(), Some(2));
    assert!(stderr(&denied).contains("401 unauthorized"), "{}", stderr(&denied));

    let auth_file = home.path().join("auth.json");
    let auth = json!({"auths": {registry.host(): {"auth": "YWxpY2U6d29uZGVybGFuZA=="}}});
    std::fs::write(&auth_file, auth.to_string()).unwrap();
    tokens.requests.lock().unwrap().clear();
    let allowed =
        layerscope(home.path(), &["--json", "-", &private], &[("REGISTRY_AUTH_FILE", auth_file.to_str().unwrap())]);
    assert_eq!(json_of(&allowed)["image"]["layer_count"], 3);
    let seen = tokens.requests.lock().unwrap();
    assert!(seen.iter().any(|r| r.to_ascii_lowercase().contains("authorization: basic")), "{seen:?}");
}

#[test]
fn a_flaky_registry_is_retried() {
    let Some((registry, home)) = registry_with_sample("app:1") else { return };
    let proxy = crate::support::servers::FlakyProxy::start(registry.port);
    let out = layerscope(home.path(), &["--json", "-", &format!("registry://127.0.0.1:{}/app:1", proxy.port)], &[]);
    let report = json_of(&out);
    assert_eq!(report["image"]["layer_count"], 3);
    // The config and three layers each failed once (503 or 429) and came on the next try.
    assert_eq!(proxy.failed.load(std::sync::atomic::Ordering::Relaxed), 4);
}

#[test]
fn ctrl_c_cancels_a_stalled_pull_and_leaves_no_partial_files() {
    let Some((registry, home)) = registry_with_sample("app:1") else { return };
    let proxy = crate::support::servers::FlakyProxy::stalling(registry.port);
    let child = Command::new(env!("CARGO_BIN_EXE_layerscope"))
        .args(["--json", "/dev/null", &format!("registry://127.0.0.1:{}/app:1", proxy.port)])
        .env("HOME", home.path())
        .env("LAYERSCOPE_CACHE_DIR", home.path().join("cache"))
        .env_remove("CI")
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Wait until the blobs are asked for (and stall).
    let start = std::time::Instant::now();
    while proxy.failed.load(std::sync::atomic::Ordering::Relaxed) == 0 {
        assert!(start.elapsed().as_secs() < 20, "the pull never reached the blobs");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let interrupted = std::time::Instant::now();
    Command::new("kill").args(["-INT", &child.id().to_string()]).status().unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(interrupted.elapsed().as_secs_f64() < 3.0, "cancelled in {:?}", interrupted.elapsed());
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("cancelled"), "{}", stderr(&out));
    let tmp = home.path().join("cache/tmp");
    let left = std::fs::read_dir(&tmp).map(|d| d.count()).unwrap_or(0);
    assert_eq!(left, 0, "partial downloads are removed");
}

#[test]
fn concurrent_pulls_into_one_cold_cache_all_succeed_and_leave_it_whole() {
    let Some((registry, home)) = registry_with_sample("team/app:1") else { return };
    let archive = home.path().join("app.tar");
    let from_archive = json_of(&layerscope(home.path(), &["--json", "-", archive.to_str().unwrap()], &[]));
    let name = format!("registry://{}/team/app:1", registry.host());
    // Four runs race on the same blobs, records, tree and figures.
    let runs: Vec<_> = (0..4)
        .map(|_| {
            let (home, name) = (home.path().to_path_buf(), name.clone());
            std::thread::spawn(move || layerscope(&home, &["--json", "-", &name], &[]))
        })
        .collect();
    for run in runs {
        let out = run.join().unwrap();
        assert_eq!(comparable(json_of(&out)), comparable(from_archive.clone()));
    }
    // Whatever order they finished in, the cache holds whole entries: a warm open reads as the
    // archive, and nothing is left half-written.
    let warm = json_of(&layerscope(home.path(), &["--json", "-", &name], &[]));
    assert_eq!(warm["image"]["origin"]["from_cache"], true);
    assert_eq!(comparable(warm), comparable(from_archive));
    let shown = layerscope(home.path(), &["cache"], &[]);
    let text = String::from_utf8_lossy(&shown.stdout);
    assert!(!text.contains("partial"), "{text}");
    assert!(text.contains("records    3 ") && text.contains("trees      1 "), "{text}");
}

/// An image for container tests: a large file to append to, files to chmod and delete, a folder
/// to delete and one to replace wholesale, a symlink.
fn container_base() -> Image {
    Image::new()
        .layer(
            Layer::new()
                .dir("app")
                .file("app/big.bin", &crate::support::demo::noise(3, 1 << 20))
                .file("app/mode.txt", b"mode\n")
                .file("app/gone.txt", b"gone\n")
                .dir("app/logs")
                .file("app/logs/a.log", b"a")
                .file("app/logs/b.log", b"b")
                .dir("app/conf")
                .file("app/conf/old.yaml", b"old: 1\n")
                .symlink("app/current", "big.bin"),
            "/bin/sh -c #(nop) COPY app /app",
        )
        .tags(&["team/app:1"])
}

/// Change a container of [`container_base`] through its mounted folder (overlayfs, as a running
/// container would): append one byte to the 1 MiB file, chmod, add files (one hard-linked),
/// delete a file and a folder, replace a folder (an opaque directory), add a symlink.
fn change_container(merged: &Path) {
    use std::io::Write;
    use std::os::unix::fs::PermissionsExt;
    let app = merged.join("app");
    std::fs::OpenOptions::new().append(true).open(app.join("big.bin")).unwrap().write_all(b"!").unwrap();
    std::fs::set_permissions(app.join("mode.txt"), std::fs::Permissions::from_mode(0o600)).unwrap();
    std::fs::write(app.join("new.txt"), b"new\n").unwrap();
    std::fs::hard_link(app.join("new.txt"), app.join("new-link.txt")).unwrap();
    std::fs::remove_file(app.join("gone.txt")).unwrap();
    std::fs::remove_dir_all(app.join("logs")).unwrap();
    std::fs::remove_dir_all(app.join("conf")).unwrap();
    std::fs::create_dir(app.join("conf")).unwrap();
    std::fs::write(app.join("conf/new.yaml"), b"new: 2\n").unwrap();
    std::os::unix::fs::symlink("new.txt", app.join("latest")).unwrap();
}

#[test]
fn a_podman_containers_writable_layer_is_what_podman_diff_and_ps_size_say() {
    let Some(podman) = crate::support::servers::PodmanStorage::new() else { return };
    let home = tempfile::tempdir().unwrap();
    let archive = home.path().join("app.tar");
    std::fs::write(&archive, container_base().docker_archive()).unwrap();
    let merged = podman.mounted_container(&archive, "team/app:1", "web");
    change_container(&merged);
    let env = podman.env();

    let files = layerscope(home.path(), &["files", "--changes", "--no-cache", "container://web"], &env);
    assert_eq!(files.status.code(), Some(0), "{}", stderr(&files));
    let files = String::from_utf8(files.stdout).unwrap();
    let ours = crate::support::servers::writable_view(&files);
    let mut theirs = podman.diff("web");
    // A folder deleted and made again (overlay: opaque) is "deleted" to podman, its new content
    // added; layerscope lists the folder as changed and what it hides below as removed.
    assert!(theirs.deleted.remove("/app/conf"), "{theirs:?}");
    theirs.changed.insert("/app/conf".into());
    theirs.deleted.insert("/app/conf/old.yaml".into());
    crate::support::servers::assert_same_changes(&ours, &theirs);

    let report = json_of(&layerscope(home.path(), &["container", "--json", "-", "--no-cache", "web"], &env));
    let (size_rw, size_root_fs) = podman.sizes("web");
    let layers = report["layers"].as_array().unwrap();
    assert_eq!(layers.len(), 2, "the image's layer, then the writable one");
    let top = &layers[1];
    // podman ps -s counts regular files (hard links once) and symlinks (their target's length);
    // a layer's size counts regular files only.
    assert_eq!(top["size_bytes"].as_u64().unwrap() + "new.txt".len() as u64, size_rw, "the size podman ps -s shows");
    assert!(size_rw > 1 << 20, "one byte appended copied the whole 1 MiB file up: {size_rw}");
    assert_eq!(top["comment"], "container layer");
    assert!(top["command"].as_str().unwrap().starts_with("writable layer of container web (podman "), "{top}");
    let c = &report["image"]["origin"]["container"];
    assert_eq!(c["name"], "web");
    assert_eq!(c["writable_layer_from"], "upperdir");
    assert!(c["upper_dir"].as_str().unwrap().ends_with("/diff"), "{c}");
    assert_eq!(c["engine_size"], size_rw);
    assert_eq!(c["engine_virtual_size"], size_root_fs);
    // The copy-up is waste the container made, with a fix of its own.
    let waste = report["analysis"]["top_waste"].as_array().unwrap();
    let big = waste.iter().find(|w| w["path"] == "/app/big.bin").unwrap_or_else(|| panic!("{waste:?}"));
    assert_eq!(big["bytes"], 1 << 20);
    assert!(big["fix"].as_str().unwrap().contains("copy-on-write"), "{big}");

    // The engine's changes list and export give the same layer.
    let args = ["container", "--writable-layer", "engine", "--json", "-", "--no-cache", "web"];
    let engine = json_of(&layerscope(home.path(), &args, &env));
    assert_eq!(engine["image"]["origin"]["container"]["writable_layer_from"], "engine");
    let figures =
        |l: &Value| ["size_bytes", "added", "modified", "metadata_only", "removed"].map(|k| l[k].clone()).to_vec();
    assert_eq!(figures(&engine["layers"][1]), figures(top));

    // The text report says which figures are which.
    let text = layerscope(home.path(), &["container", "--report", "--no-cache", "web"], &env);
    assert_eq!(text.status.code(), Some(0), "{}", stderr(&text));
    let text = String::from_utf8_lossy(&text.stdout).into_owned();
    assert!(
        text.contains("container web of team/app:1") || text.contains("container web of localhost/team/app:1"),
        "{text}"
    );
    assert!(text.contains("podman ps -s") && text.contains("read from its overlay UpperDir"), "{text}");
    // A name no engine knows.
    let out = layerscope(home.path(), &["container", "--source", "podman", "--report", "nope"], &env);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("no container named nope"), "{}", stderr(&out));
}

#[test]
fn a_docker_containers_writable_layer_is_what_docker_diff_and_ps_size_say() {
    let Some(daemon) = Daemon::dockerd() else { return };
    let home = tempfile::tempdir().unwrap();
    let host = daemon.host();
    let docker = |args: &[&str]| {
        let out = Command::new("docker").arg("-H").arg(&host).args(args).output().unwrap();
        assert!(out.status.success(), "docker {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let archive = home.path().join("app.tar");
    std::fs::write(&archive, container_base().docker_archive()).unwrap();
    docker(&["load", "-q", "-i", archive.to_str().unwrap()]);
    docker(&["create", "--name", "web", "team/app:1", "true"]);
    // Through the daemon (docker cp writes into the container's overlay): a new file, and the
    // 1 MiB file with one byte more, copied up whole.
    let mut big = crate::support::demo::noise(3, 1 << 20);
    big.push(b'!');
    std::fs::write(home.path().join("big.bin"), &big).unwrap();
    std::fs::write(home.path().join("new.txt"), b"new\n").unwrap();
    docker(&["cp", home.path().join("big.bin").to_str().unwrap(), "web:/app/big.bin"]);
    docker(&["cp", home.path().join("new.txt").to_str().unwrap(), "web:/app/new.txt"]);
    let mut theirs = crate::support::servers::WritableView {
        added: Default::default(),
        changed: Default::default(),
        deleted: Default::default(),
    };
    for line in docker(&["diff", "web"]).lines() {
        let (kind, path) = line.split_once(' ').unwrap();
        let set = match kind {
            "A" => &mut theirs.added,
            "C" => &mut theirs.changed,
            _ => &mut theirs.deleted,
        };
        set.insert(path.to_string());
    }
    let inspect: Value = serde_json::from_str(&docker(&["inspect", "--size", "web"])).unwrap();
    let (size_rw, size_root_fs) = (inspect[0]["SizeRw"].as_u64().unwrap(), inspect[0]["SizeRootFs"].as_u64().unwrap());
    let env = [("DOCKER_HOST", host.as_str())];

    let files = layerscope(home.path(), &["files", "--changes", "--no-cache", "container://web"], &env);
    assert_eq!(files.status.code(), Some(0), "{}", stderr(&files));
    let ours = crate::support::servers::writable_view(&String::from_utf8(files.stdout).unwrap());
    crate::support::servers::assert_same_changes(&ours, &theirs);
    let report = json_of(&layerscope(home.path(), &["container", "--json", "-", "--no-cache", "web"], &env));
    let top = &report["layers"][1];
    assert_eq!(top["size_bytes"], size_rw, "docker ps -s: the writable layer's files");
    let c = &report["image"]["origin"]["container"];
    assert_eq!((c["engine"].as_str(), c["writable_layer_from"].as_str()), (Some("docker"), Some("upperdir")), "{c}");
    assert_eq!((c["engine_size"].as_u64(), c["engine_virtual_size"].as_u64()), (Some(size_rw), Some(size_root_fs)));
    let args = ["container", "--writable-layer", "engine", "--json", "-", "--no-cache", "web"];
    let engine = json_of(&layerscope(home.path(), &args, &env));
    assert_eq!(engine["image"]["origin"]["container"]["writable_layer_from"], "engine");
    assert_eq!(engine["layers"][1]["size_bytes"], top["size_bytes"]);
    assert_eq!(engine["layers"][1]["added"], top["added"]);
}

#[test]
fn diff_of_two_buildah_builds_of_one_containerfile_with_a_changed_step() {
    let Some(buildah) = crate::support::servers::tool("buildah", "BUILDAH", "buildah") else { return };
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    // Its own storage (vfs: nothing mounted), as root or not.
    let run = |args: &[&str]| {
        let out = Command::new(&buildah)
            .args(["--storage-driver", "vfs", "--root"])
            .arg(root.join("storage"))
            .arg("--runroot")
            .arg(root.join("run"))
            .args(args)
            .current_dir(root.join("context"))
            .output()
            .unwrap();
        assert!(out.status.success(), "buildah {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    };
    let context = root.join("context");
    std::fs::create_dir_all(context.join("base")).unwrap();
    std::fs::write(context.join("base/lib.so"), crate::support::demo::noise(5, 100_000)).unwrap();
    std::fs::write(context.join("data"), crate::support::demo::noise(6, 5_000)).unwrap();
    std::fs::write(
        context.join("Containerfile"),
        "FROM scratch\nCOPY base /base\nCOPY app.cfg /etc/app.cfg\nCOPY data /data\n",
    )
    .unwrap();
    let mut archives = Vec::new();
    for (tag, cfg) in [("1", "version=1\n"), ("2", "version=2, longer\n")] {
        std::fs::write(context.join("app.cfg"), cfg).unwrap();
        run(&["build", "-q", "--layers", "-t", &format!("team/app:{tag}"), "."]);
        let archive = root.join(format!("app-{tag}.tar"));
        run(&["push", "-q", &format!("team/app:{tag}"), &format!("docker-archive:{}", archive.display())]);
        archives.push(archive);
    }
    let out = layerscope(
        root,
        &["diff", "--format", "json", archives[0].to_str().unwrap(), archives[1].to_str().unwrap()],
        &[],
    );
    let diff = json_of(&out);
    // The step before the change is the same layer; the changed step and every one after it
    // are other layers (another ChainID), though the last one holds the same bytes.
    assert_eq!(diff["shared_layers"], 1, "{diff}");
    assert_eq!(diff["old_layers"].as_array().unwrap().len(), 2);
    let paths = diff["paths"].as_array().unwrap();
    assert_eq!(paths.len(), 1, "only the changed file differs: {paths:?}");
    assert_eq!(paths[0]["path"], "/etc/app.cfg");
    assert_eq!(paths[0]["change"], "modified");
    assert_eq!(paths[0]["delta_bytes"], 8);
    assert_eq!(paths[0]["layer"], 1, "written by the changed step");
}

#[test]
fn packages_installed_by_a_real_rpm_are_read_from_its_sqlite_database() {
    let Some(rpmbuild) = crate::support::servers::tool("rpmbuild", "RPM", "rpm") else { return };
    let Some(rpm) = crate::support::servers::tool("rpm", "RPM", "rpm") else { return };
    let dir = tempfile::tempdir().unwrap();
    let (top, root) = (dir.path().join("build"), dir.path().join("root"));
    let spec = dir.path().join("hello.spec");
    std::fs::write(
        &spec,
        "Name: hello\nVersion: 2.12\nRelease: 3\nSummary: test\nLicense: MIT\nBuildArch: noarch\n\
         %description\ntest\n%install\nmkdir -p %{buildroot}/usr/bin %{buildroot}/usr/share/hello\n\
         head -c 40000 /dev/zero > %{buildroot}/usr/bin/hello\n\
         printf greeting > %{buildroot}/usr/share/hello/greeting.txt\n\
         %files\n/usr/bin/hello\n/usr/share/hello\n",
    )
    .unwrap();
    let run = |command: &mut Command| {
        let out = command.output().unwrap();
        assert!(out.status.success(), "{command:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let in_root = || {
        // Where Fedora and RHEL keep it (Debian's rpm defaults to ~/.rpmdb).
        let mut c = Command::new(&rpm);
        c.arg("--root").arg(&root).args(["--define", "_dbpath /var/lib/rpm"]);
        c
    };
    run(Command::new(&rpmbuild).arg("--define").arg(format!("_topdir {}", top.display())).arg("-bb").arg(&spec));
    let package = top.join("RPMS/noarch/hello-2.12-3.noarch.rpm");
    run(in_root().arg("--initdb"));
    run(in_root().args(["-i", "--nodeps", "--noscripts"]).arg(&package));
    let query = |format: &str| run(in_root().args(["-q", "--qf", format, "hello"]));
    let (version, size) = (query("%{VERSION}-%{RELEASE}"), query("%{SIZE}"));
    let listed = run(in_root().args(["-ql", "hello"]));

    // The installed root as one layer: every file rpm wrote, its database included.
    let mut layer = crate::support::Layer::new();
    let mut stack = vec![root.clone()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let path = e.unwrap().path();
            let rel = path.strip_prefix(&root).unwrap().to_str().unwrap().to_string();
            if path.is_dir() {
                stack.push(path);
            } else if path.is_file() {
                layer = layer.file(&rel, &std::fs::read(&path).unwrap());
            }
        }
    }
    let image = crate::support::load(crate::support::Image::new().layer(layer, "rpm -i hello").docker_archive());
    let (p, owners) = layerscope::analysis::packages::packages_and_owners(&image, false).expect("rpm's database");
    let db = p.databases.iter().find(|d| d.manager == "rpm").unwrap_or_else(|| panic!("{:?}", p.databases));
    assert!(db.read, "{db:?}");
    let hello = p.packages.iter().find(|k| k.name == "hello").unwrap_or_else(|| panic!("{:?}", p.packages));
    assert_eq!(hello.version, version, "what rpm -q says");
    assert_eq!(hello.declared_bytes, Some(size.parse().unwrap()), "rpm's SIZE");
    assert_eq!(hello.final_bytes, 40_000 + "greeting".len() as u64);
    let files: Vec<&str> = listed.lines().filter(|l| l.starts_with("/usr/bin/") || l.ends_with(".txt")).collect();
    assert_eq!(files, ["/usr/bin/hello", "/usr/share/hello/greeting.txt"], "{listed}");
    for path in files {
        let node = image.tree.lookup(path.trim_start_matches('/').as_bytes()).unwrap();
        assert_eq!(owners.package(&p, node).map(|k| k.name.as_str()), Some("hello"), "{path} (rpm -ql)");
    }
}
