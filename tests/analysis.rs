//! Waste figures, causes, per-layer scores, duplicates and base detection, on images built in code;
//! a seeded property test over random layer stacks.

use crate::support;

use layerscope::analysis::dive::figures;
use layerscope::analysis::{Analysis, BaseMethod, Cause, Options, analyze};
use support::{Attrs, Image, Layer, Rng, load};

fn analyse(layers: Vec<(Layer, &str)>) -> (layerscope::Image, Analysis) {
    let mut img = Image::new();
    for (l, cmd) in layers {
        img = img.layer(l, cmd);
    }
    let image = load(img.docker_archive());
    let a = analyze(&image, &Options::default());
    (image, a)
}

fn consistent(a: &Analysis) {
    assert_eq!(a.wasted_bytes, a.size_bytes - a.final_size_bytes, "wasted = size - final");
    assert_eq!(a.wasted_bytes, a.causes.total(), "wasted = Σ causes");
    assert_eq!(a.wasted_bytes, a.layers.iter().map(|l| l.wasted_bytes).sum::<u64>(), "wasted = Σ per-layer waste");
    assert!((0.0..=1.0).contains(&a.efficiency), "efficiency {}", a.efficiency);
    assert!((0.0..=1.0).contains(&a.user_wasted_percent), "user wasted {}", a.user_wasted_percent);
    assert!((a.user_efficiency + a.user_wasted_percent - 1.0).abs() < 1e-12);
    for l in &a.layers {
        assert_eq!(l.size_bytes, l.visible_bytes + l.wasted_bytes, "layer {}", l.index);
        assert!(l.score <= 100);
    }
}

const BASE: &str = "/bin/sh -c #(nop) ADD file:base in / ";

fn base_layer() -> Layer {
    Layer::new()
        .dir("etc")
        .file("etc/os-release", b"ID=debian\nVERSION_ID=\"12\"\nPRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\n")
}

#[test]
fn deleted_file_is_waste_of_the_layer_that_shipped_it() {
    let (_, a) = analyse(vec![
        (base_layer(), BASE),
        (Layer::new().dir("tmp").file("tmp/big.bin", &[1; 5000]), "/bin/sh -c download"),
        (Layer::new().dir("tmp").whiteout("tmp/big.bin"), "/bin/sh -c rm /tmp/big.bin"),
    ]);
    consistent(&a);
    assert_eq!(a.causes.deleted, 5000);
    let top = &a.top_waste[0];
    assert_eq!((top.path.as_str(), top.bytes, top.cause), ("/tmp/big.bin", 5000, Cause::Deleted));
    assert_eq!((top.shipped_by.as_slice(), top.hidden_by.as_slice()), ([1].as_slice(), [2].as_slice()));
    assert_eq!(top.copies, 1);
    assert_eq!((a.layers[1].wasted_bytes, a.layers[1].score), (5000, 100));
    assert_eq!((a.layers[2].hides_bytes, a.layers[2].score), (5000, 100));
    assert_eq!(a.layers[1].wasted_by_layer, [(2, 5000)]);
}

#[test]
fn deleted_directory_counts_every_file_and_is_listed_once() {
    let (_, a) = analyse(vec![
        (Layer::new().dir("cache").file("cache/a", &[1; 100]).dir("cache/sub").file("cache/sub/b", &[2; 200]), "add"),
        (Layer::new().whiteout("cache"), "rm -rf /cache"),
    ]);
    consistent(&a);
    assert_eq!((a.wasted_bytes, a.causes.deleted), (300, 300));
    assert_eq!(a.top_waste.len(), 1);
    assert_eq!((a.top_waste[0].path.as_str(), a.top_waste[0].files), ("/cache", 2));
}

#[test]
fn opaque_directory_hides_lower_files_as_deleted() {
    let (_, a) = analyse(vec![
        (Layer::new().dir("app").dir("app/cache").file("app/cache/x", &[1; 1000]), "add"),
        (
            Layer::new().dir("app").opaque("app/cache").dir("app/cache").file("app/cache/new", b"fresh"),
            "rm -rf && mkdir",
        ),
    ]);
    consistent(&a);
    assert_eq!(a.causes.deleted, 1000);
    assert_eq!(a.top_waste[0].path, "/app/cache");
}

#[test]
fn overwritten_and_metadata_only_copies() {
    let (_, a) = analyse(vec![
        (
            Layer::new()
                .file("conf", b"version 1")
                .file("tool", &[7; 400])
                .file("owned", &[8; 300])
                .file("touched", &[9; 200])
                .file("same", &[6; 100]),
            "add",
        ),
        (
            Layer::new()
                .file("conf", b"version 2!")
                .file_with("tool", &[7; 400], Attrs::FILE.mode(0o755))
                .file_with("owned", &[8; 300], Attrs::FILE.owner(1000, 1000))
                .file_with("touched", &[9; 200], Attrs::FILE.mtime(1))
                .file("same", &[6; 100]),
            "chmod/chown/touch/re-add",
        ),
    ]);
    consistent(&a);
    assert_eq!(a.causes.overwritten, 9);
    assert_eq!(a.causes.metadata_only, 1000);
    let causes: Vec<_> = a.top_waste.iter().map(|w| (w.path.as_str(), w.cause)).collect();
    assert_eq!(
        causes,
        [
            ("/tool", Cause::MetadataOnly),
            ("/owned", Cause::MetadataOnly),
            ("/touched", Cause::MetadataOnly),
            ("/same", Cause::MetadataOnly),
            ("/conf", Cause::Overwritten),
        ]
    );
    assert!(a.top_waste[0].fix.contains("COPY --chmod/--chown"));
    assert_eq!(a.layers[1].score, 50, "the chmod layer ships as much as it hides");
}

#[test]
fn trap_9_a_path_written_k_times_wastes_k_minus_1_copies() {
    let (image, a) = analyse(vec![
        (Layer::new().file("f", &[1; 100]), "1"),
        (Layer::new().file("f", &[2; 100]), "2"),
        (Layer::new().file("f", &[3; 100]), "3"),
    ]);
    consistent(&a);
    assert_eq!((a.size_bytes, a.final_size_bytes, a.wasted_bytes), (300, 100, 200));
    assert_eq!((a.top_waste[0].bytes, a.top_waste[0].copies), (200, 3));
    // dive counts all three copies.
    assert_eq!(figures(&image).wasted_bytes, 300);
}

#[test]
fn hard_links_count_once_and_keep_their_bytes_alive() {
    let (_, a) = analyse(vec![
        (Layer::new().file("data", &[1; 1000]).hardlink("link", "data"), "add"),
        (Layer::new().whiteout("data"), "rm /data"),
    ]);
    consistent(&a);
    assert_eq!((a.final_size_bytes, a.wasted_bytes), (1000, 0), "the link still shows the bytes");
    let (_, b) =
        analyse(vec![(Layer::new().file("data", &[1; 1000]).hardlink("l1", "data").hardlink("l2", "data"), "add")]);
    assert_eq!(b.final_size_bytes, 1000);
    assert_eq!(b.duplicate_content_bytes, 0, "hard links are not duplicates");
}

#[test]
fn duplicate_content_is_reported_beside_waste() {
    let (_, a) = analyse(vec![(
        Layer::new().file("a.bin", &[5; 3000]).file("b.bin", &[5; 3000]).file("c.bin", &[5; 3000]),
        "copy",
    )]);
    consistent(&a);
    assert_eq!(a.wasted_bytes, 0);
    assert_eq!(a.duplicate_content_bytes, 6000);
    assert_eq!(a.duplicates[0].paths, ["/a.bin", "/b.bin", "/c.bin"]);
}

#[test]
fn empty_images_have_sane_figures() {
    let (_, a) = analyse(vec![(Layer::new().dir("empty"), "nothing")]);
    consistent(&a);
    assert_eq!((a.efficiency, a.user_wasted_percent), (1.0, 0.0));
    let image = load(Image::new().docker_archive());
    let a = analyze(&image, &Options::default());
    assert_eq!((a.size_bytes, a.efficiency), (0, 1.0));
    assert!(figures(&image).efficiency.is_finite());
}

#[test]
fn user_wasted_percent_counts_base_bytes_the_user_hid() {
    // The user's layer deletes 1000 bytes of the base and ships 100 of its own.
    let (image, a) = analyse(vec![
        (base_layer().file("big", &[1; 1000]), BASE),
        (Layer::new().whiteout("big").file("app", &[2; 100]), "/bin/sh -c rm /big"),
    ]);
    consistent(&a);
    assert_eq!(a.base.layers, 1);
    assert_eq!((a.user_size_bytes, a.user_wasted_bytes, a.user_hidden_base_bytes), (100, 1000, 1000));
    assert!((a.user_wasted_percent - 1000.0 / 1100.0).abs() < 1e-12);
    // dive divides by the user size alone and goes past 100 %.
    assert!(figures(&image).user_wasted_percent > 1.0);
}

#[test]
fn base_from_flag_history_and_fallback() {
    let image = load(
        Image::new()
            .layer(base_layer(), BASE)
            .layer(Layer::new().file("base2", b"x"), "/bin/sh -c base step")
            .instruction("/bin/sh -c #(nop)  CMD [\"bash\"]")
            .layer(Layer::new().file("app", b"y"), "/bin/sh -c user step")
            .docker_archive(),
    );
    let a = analyze(&image, &Options::default());
    assert_eq!((a.base.layers, a.base.method), (2, BaseMethod::HistoryCmd));
    assert_eq!(a.base.os.as_ref().map(|o| o.id.as_str()), Some("debian"));
    let a = analyze(&image, &Options { base_layers: Some(1), ..Options::default() });
    assert_eq!((a.base.layers, a.base.method), (1, BaseMethod::Flag));

    let plain = load(
        Image::new().layer(Layer::new().file("a", b"a"), "a").layer(Layer::new().file("b", b"b"), "b").docker_archive(),
    );
    let a = analyze(&plain, &Options::default());
    assert_eq!((a.base.layers, a.base.method), (1, BaseMethod::FirstLayer));
}

#[test]
fn base_from_buildah_comments_and_time_gaps() {
    // buildah notes `FROM <id>` on the first step it builds on the base.
    let img = Image::new()
        .layer(base_layer(), BASE)
        .layer(Layer::new().file("b", b"b"), "base 2")
        .layer(Layer::new().file("u", b"u"), "user");
    let built = img.build(support::Comp::None);
    let mut config: serde_json::Value = serde_json::from_slice(&built.config).unwrap();
    config["history"][2]["comment"] = serde_json::json!("FROM 0123456789ab");
    let image = load(docker_archive_with_config(&img, &config));
    let a = analyze(&image, &Options::default());
    assert_eq!((a.base.layers, a.base.method), (2, BaseMethod::HistoryFromComment));

    // Base built long before the user's steps.
    let mut config: serde_json::Value = serde_json::from_slice(&built.config).unwrap();
    config["history"][0]["created"] = serde_json::json!("2023-05-01T00:00:00Z");
    config["history"][1]["created"] = serde_json::json!("2023-05-01T00:01:00Z");
    config["history"][2]["created"] = serde_json::json!("2024-02-01T10:00:00Z");
    let image = load(docker_archive_with_config(&img, &config));
    let a = analyze(&image, &Options::default());
    assert_eq!((a.base.layers, a.base.method), (2, BaseMethod::HistoryTimeGap));
}

fn docker_archive_with_config(img: &Image, config: &serde_json::Value) -> Vec<u8> {
    let built = img.build(support::Comp::None);
    let config = serde_json::to_vec(config).unwrap();
    let mut out = support::Outer::new();
    let mut names = Vec::new();
    for l in &built.layers {
        let name = format!("{}/layer.tar", &l.diff_id[7..]);
        out.file(&name, &l.tar);
        names.push(name);
    }
    out.file("config.json", &config);
    out.file(
        "manifest.json",
        &serde_json::to_vec(&serde_json::json!([{"Config": "config.json", "RepoTags": ["x:1"], "Layers": names}]))
            .unwrap(),
    );
    out.finish()
}

#[test]
fn os_detection_follows_os_release_symlinks_and_alpine() {
    let image = load(
        Image::new()
            .layer(
                Layer::new()
                    .dir("etc")
                    .symlink("etc/os-release", "../usr/lib/os-release")
                    .dir("usr")
                    .dir("usr/lib")
                    .file("usr/lib/os-release", b"ID=ubuntu\nVERSION_ID=\"24.04\"\n"),
                BASE,
            )
            .docker_archive(),
    );
    let a = analyze(&image, &Options::default());
    let os = a.base.os.unwrap();
    assert_eq!((os.id.as_str(), os.version.as_deref()), ("ubuntu", Some("24.04")));

    let image = load(
        Image::new().layer(Layer::new().dir("etc").file("etc/alpine-release", b"3.20.3\n"), BASE).docker_archive(),
    );
    assert_eq!(analyze(&image, &Options::default()).base.os.unwrap().id, "alpine");
}

#[test]
fn python_base_gets_slimmer_suggestions() {
    let mut img = Image::new()
        .layer(base_layer().file("usr-local-python", &vec![3u8; 900_000]), BASE)
        .layer(Layer::new().file("app.py", b"print()"), "/bin/sh -c #(nop) COPY app.py");
    img.history.insert(1, ("/bin/sh -c #(nop)  CMD [\"python3\"]".into(), true));
    let built = img.build(support::Comp::None);
    let mut config: serde_json::Value = serde_json::from_slice(&built.config).unwrap();
    config["config"]["Env"] = serde_json::json!(["PATH=/usr/local/bin:/usr/bin", "PYTHON_VERSION=3.12.4"]);
    let image = load(docker_archive_with_config(&img, &config));
    let a = analyze(&image, &Options::default());
    assert_eq!(a.base.name.as_deref(), Some("python"));
    // A tiny test base saves nothing; a real-sized one (python:3.12, about 1 GB) would.
    assert!(a.base.suggestions.is_empty());
    let names: Vec<_> = layerscope::analysis::base::suggest_for("python", 1_020_000_000, &Default::default())
        .into_iter()
        .map(|s| s.name)
        .collect();
    assert!(names.iter().any(|n| n == "python:3.12-slim"), "{names:?}");
    assert!(names.iter().any(|n| n == "python:3.12-alpine"), "{names:?}");
}

#[test]
fn property_wasted_equals_causes_equals_size_minus_final() {
    let names = ["a", "b", "c", "d/x", "d/y", "d/e/z", "f/g", "h"];
    let mut rng = Rng(0x00c0_ffee_1234_5678);
    for case in 0..300 {
        let mut img = Image::new();
        let layer_count = 1 + rng.below(6);
        for l in 0..layer_count {
            let mut layer = Layer::new();
            let mut used = std::collections::HashSet::new();
            for _ in 0..rng.below(7) {
                let name = names[rng.below(names.len())];
                if !used.insert(name) {
                    continue;
                }
                layer = match rng.below(9) {
                    0 | 1 if l > 0 => layer.whiteout(name),
                    2 if l > 0 => layer.opaque(name.split('/').next().unwrap()),
                    3 => layer.hardlink(&format!("{name}.link"), names[rng.below(names.len())]),
                    4 => layer.file_with(name, &vec![7u8; rng.below(50)], Attrs::FILE.mode(0o600)),
                    5 => layer.symlink(name, "a"),
                    _ => layer.file(name, &vec![rng.below(3) as u8; rng.below(300)]),
                };
            }
            img = img.layer(layer, &format!("/bin/sh -c step {l}"));
        }
        let image = load(img.docker_archive());
        let a = analyze(&image, &Options { base_layers: Some(rng.below(layer_count + 1)), ..Options::default() });
        consistent(&a);
        assert!(figures(&image).efficiency.is_finite(), "case {case}");
    }
}

#[test]
fn every_layer_encoding_gives_the_same_analysis() {
    // Uncompressed layers hash files only when a comparison needs it; compressed ones hash all.
    // Files past 64 KiB are hashed lazily in uncompressed layers, small ones while parsing.
    const BIG: usize = 100_000;
    let img = Image::new()
        .layer(
            Layer::new()
                .file("a", &[1; BIG])
                .file("b", &[2; BIG])
                .file("c", &[1; BIG])
                .file("d", &[4; 10])
                .file("e", &[5; BIG])
                .file("f", &[6; 300])
                .file("g", &[6; 300]),
            "one",
        )
        .layer(
            Layer::new()
                .file_with("a", &[1; BIG], Attrs::FILE.mode(0o700))
                .file("b", &[9; BIG])
                .whiteout("d")
                .file("e", &[5; BIG]),
            "two",
        );
    let plain = load(img.docker_archive());
    let gzip = load(img.oci_archive(support::Comp::Gzip));
    let (pa, ga) = (analyze(&plain, &Options::default()), analyze(&gzip, &Options::default()));
    assert_eq!(pa.causes, ga.causes);
    assert_eq!((pa.causes.metadata_only, pa.causes.overwritten, pa.causes.deleted), (2 * BIG as u64, BIG as u64, 10));
    assert_eq!(pa.duplicate_content_bytes, ga.duplicate_content_bytes);
    assert_eq!(pa.duplicate_content_bytes, BIG as u64 + 300, "a and c, f and g hold the same bytes");
    let causes = |a: &Analysis| a.top_waste.iter().map(|w| (w.path.clone(), w.cause)).collect::<Vec<_>>();
    assert_eq!(causes(&pa), causes(&ga));
}

/// A minimal 64-bit ELF executable: with `interp`, dynamically linked through that loader.
fn elf(interp: Option<&str>) -> Vec<u8> {
    let mut f = vec![0u8; 120];
    f[..4].copy_from_slice(b"\x7fELF");
    f[4] = 2; // 64-bit
    f[5] = 1; // little-endian
    f[6] = 1;
    f[0x20..0x28].copy_from_slice(&64u64.to_le_bytes()); // program headers at 64
    f[0x36..0x38].copy_from_slice(&56u16.to_le_bytes());
    f[0x38..0x3a].copy_from_slice(&1u16.to_le_bytes());
    let kind: u32 = if interp.is_some() { 3 } else { 1 }; // PT_INTERP, else PT_LOAD
    f[64..68].copy_from_slice(&kind.to_le_bytes());
    if let Some(i) = interp {
        f[72..80].copy_from_slice(&120u64.to_le_bytes());
        f[96..104].copy_from_slice(&(i.len() as u64 + 1).to_le_bytes());
        f.extend_from_slice(i.as_bytes());
        f.push(0);
    }
    f
}

#[test]
fn what_an_image_needs_from_its_base() {
    use layerscope::analysis::needs::{Libc, needs};
    // Debian-like: merged /usr, the shell its CMD runs linked against glibc, apt in its build.
    let debian = load(
        Image::new()
            .layer(
                Layer::new()
                    .file("etc/os-release", b"ID=debian\nVERSION_ID=12\n")
                    .symlink("bin", "usr/bin")
                    .file("usr/bin/sh", &elf(Some("/lib64/ld-linux-x86-64.so.2")))
                    .file("usr/lib/x86_64-linux-gnu/libc.so.6", b"libc"),
                "ADD rootfs.tar /",
            )
            .layer(Layer::new().file("usr/bin/git", b"git"), "/bin/sh -c apt-get update && apt-get install -y git")
            .docker_archive(),
    );
    let n = needs(&debian, 1);
    assert_eq!(n.libc, Some(Libc::Glibc));
    assert_eq!(
        n.libc_evidence.as_deref(),
        Some("the ELF interpreter of /bin/sh is /lib64/ld-linux-x86-64.so.2"),
        "through the bin → usr/bin symlink"
    );
    assert_eq!(n.shell.as_deref(), Some("it runs /bin/sh"));
    assert_eq!(n.package_manager.as_ref().map(|p| p.name.as_str()), Some("apt"));
    let s = layerscope::analysis::base::suggest_for("debian", 116_000_000, &n);
    assert_eq!(s[0].name, "debian:bookworm-slim", "a glibc base with a shell and apt first: {s:#?}");
    assert!(s.iter().filter(|s| !s.fits).all(|s| !s.changes.is_empty()));
    // musl, known by the loader it holds (its shell is a script here); a static binary.
    let alpine = load(
        Image::new()
            .layer(
                Layer::new().file("lib/ld-musl-x86_64.so.1", b"ld").file("bin/sh", b"#!/bin/busybox sh\n"),
                "ADD alpine.tar /",
            )
            .docker_archive(),
    );
    let n = needs(&alpine, 1);
    assert_eq!((n.libc, n.libc_evidence.as_deref()), (Some(Libc::Musl), Some("it holds /lib/ld-musl-x86_64.so.1")));
    let static_sh =
        load(Image::new().layer(Layer::new().file("bin/sh", &elf(None)), "COPY sh /bin/sh").docker_archive());
    assert_eq!(needs(&static_sh, 0).libc, Some(Libc::None));
}

#[test]
fn waste_is_grouped_by_source_with_the_fix_in_dockerfile_terms() {
    use layerscope::analysis::sources::Source;
    let (_, a) = analyse(vec![
        (
            base_layer()
                .dir("var/lib/apt/lists")
                .file("var/lib/apt/lists/deb_Packages", &[1; 30_000])
                .file("var/lib/apt/lists/deb_Release", &[2; 3_000]),
            "/bin/sh -c apt-get update",
        ),
        (
            Layer::new()
                .file("root/.cache/pip/http/a", &[3; 5_000])
                .file("src/.git/objects/ab", &[4; 4_000])
                .file("app/tool", &[5; 2_000]),
            "/bin/sh -c pip install x",
        ),
        (
            Layer::new()
                .dir("var/lib/apt/lists")
                .whiteout("var/lib/apt/lists/deb_Packages")
                .whiteout("var/lib/apt/lists/deb_Release")
                .whiteout("root/.cache/pip")
                .whiteout("src/.git")
                .file_with("app/tool", &[5; 2_000], Attrs::FILE.mode(0o755)),
            "/bin/sh -c rm -rf /var/lib/apt/lists/* /root/.cache/pip src/.git && chmod +x /app/tool",
        ),
    ]);
    let by = |s: Source| {
        a.waste_sources.iter().find(|w| w.source == s).unwrap_or_else(|| panic!("{s:?}: {:?}", a.waste_sources))
    };
    let lists = by(Source::AptLists);
    assert_eq!((lists.bytes, lists.files), (33_000, 2));
    assert_eq!((lists.shipped_by.as_slice(), lists.hidden_by.as_slice()), (&[0][..], &[2][..]));
    assert_eq!(lists.label, "apt lists deleted in a later step");
    assert!(lists.fix.contains("rm -rf /var/lib/apt/lists/*") && lists.fix.contains("one RUN"), "{}", lists.fix);
    assert!(by(Source::PipCache).fix.contains("--no-cache-dir"));
    assert!(by(Source::Vcs).fix.contains(".dockerignore"));
    assert_eq!(by(Source::PermissionCopyUp).bytes, 2_000);
    assert!(by(Source::PermissionCopyUp).fix.contains("--chmod"));
    // Largest first, and together they are all the waste.
    assert!(a.waste_sources.windows(2).all(|w| w[0].bytes >= w[1].bytes));
    assert_eq!(a.waste_sources.iter().map(|s| s.bytes).sum::<u64>(), a.wasted_bytes);
}

#[test]
fn packages_are_read_from_dpkg_as_of_each_layer_and_own_their_files() {
    let image = load(support::dpkg_archive());
    let p = layerscope::analysis::packages::packages(&image, false).expect("a dpkg database");
    assert_eq!(p.skipped, None);
    let names: Vec<(&str, &str, u64)> =
        p.packages.iter().map(|k| (k.name.as_str(), k.version.as_str(), k.final_bytes)).collect();
    assert_eq!(names, [("git", "2.39.5", 3_000), ("libssl3", "3.0.15", 2_100)], "largest first");
    let ssl = &p.packages[1];
    assert_eq!(
        (ssl.shipped_bytes, ssl.wasted_bytes, ssl.installed_in, ssl.upgraded_in.as_slice()),
        (4_100, 2_000, Some(0), &[1][..])
    );
    assert_eq!(ssl.declared_bytes, Some(3 * 1024));
    let layer1 = p.layers.iter().find(|l| l.layer == 1).unwrap();
    assert_eq!(layer1.added, ["git 2.39.5"]);
    assert_eq!(layer1.upgraded, ["libssl3 3.0.13→3.0.15"]);
    assert_eq!(layer1.removed, ["old 1"]);
    assert!(p.unowned.iter().any(|u| u.dir == "/opt/app" && u.bytes == 700), "{:?}", p.unowned);
    // `files` names each path's package.
    let (packages, owners) = layerscope::analysis::packages::packages_and_owners(&image, false).unwrap();
    let mut out = Vec::new();
    layerscope::report::files::write_files(&image, Default::default(), Some((&packages, &owners)), &mut out).unwrap();
    let text = String::from_utf8(out).unwrap();
    let line = |path: &str| text.lines().find(|l| l.contains(&format!("\"path\":\"{path}\""))).unwrap().to_string();
    assert!(line("/usr/bin/git").contains("\"package\":\"git\""), "{text}");
    assert!(line("/usr/lib/libssl.so.3").contains("\"package\":\"libssl3\""));
    assert!(!line("/opt/app/main").contains("package"), "no package owns it");
}

#[test]
fn python_and_node_packages_own_the_files_their_metadata_names() {
    let site = "usr/lib/python3.11/site-packages";
    let record = |name: &str| {
        format!(
            "{name}/__init__.py,sha256=x,1000\n{name}/api.py,sha256=y,500\n../../../bin/{name},,\n{name}-2.31.0.dist-info/RECORD,,\n"
        )
    };
    let image = Image::new()
        .layer(
            Layer::new()
                .file(&format!("{site}/requests/__init__.py"), &[1; 1_000])
                .file(&format!("{site}/requests/api.py"), &[2; 500])
                .file("usr/bin/requests", &[3; 100])
                .file(&format!("{site}/requests-2.31.0.dist-info/RECORD"), record("requests").as_bytes())
                .file("app/node_modules/express/package.json", br#"{"name":"express","version":"4.19.2"}"#)
                .file("app/node_modules/express/index.js", &[4; 3_000])
                .file("app/node_modules/express/lib/router.js", &[5; 2_000])
                .file(
                    "app/node_modules/express/node_modules/debug/package.json",
                    br#"{"name":"debug","version":"2.6.9"}"#,
                )
                .file("app/node_modules/express/node_modules/debug/index.js", &[6; 700])
                .file("app/node_modules/@types/node/package.json", br#"{"name":"@types/node","version":"20.1.0"}"#)
                .file("app/node_modules/@types/node/index.d.ts", &[7; 400])
                .file("app/package.json", br#"{"name":"my-app","version":"1.0.0"}"#)
                .file("app/server.js", &[8; 50]),
            "RUN pip install requests && npm ci",
        )
        .layer(Layer::new().file(&format!("{site}/requests/api.py"), &[9; 600]), "RUN sed -i s/a/b/ requests/api.py");
    for comp in [None, Some(support::Comp::Zstd)] {
        let image = load(match comp {
            None => image.docker_archive(),
            Some(c) => image.oci_archive(c),
        });
        let (p, owners) = layerscope::analysis::packages::packages_and_owners(&image, false).expect("packages");
        assert_eq!(p.skipped, None);
        let got: Vec<(&str, &str, &str, u64, u64)> = p
            .packages
            .iter()
            .map(|k| (k.manager, k.name.as_str(), k.version.as_str(), k.final_bytes, k.wasted_bytes))
            .collect();
        assert_eq!(
            got,
            [
                ("npm", "express", "4.19.2", 5_000 + br#"{"name":"express","version":"4.19.2"}"#.len() as u64, 0),
                ("pip", "requests", "2.31.0", 1_000 + 600 + 100 + record("requests").len() as u64, 500),
                ("npm", "debug", "2.6.9", 700 + 34, 0),
                ("npm", "@types/node", "20.1.0", 400 + 41, 0),
            ],
            "{comp:?}: nested modules are their own packages; the app's own package.json is none"
        );
        let owner =
            |path: &str| owners.package(&p, image.tree.lookup(path.as_bytes()).unwrap()).map(|k| k.name.clone());
        assert_eq!(owner("usr/bin/requests").as_deref(), Some("requests"), "RECORD's ../../../bin");
        assert_eq!(owner("app/node_modules/express/lib/router.js").as_deref(), Some("express"));
        assert_eq!(owner("app/node_modules/express/node_modules/debug/index.js").as_deref(), Some("debug"));
        assert_eq!(owner("app/server.js"), None);
        let managers: Vec<&str> = p.databases.iter().map(|d| d.manager).collect();
        assert_eq!(managers, ["pip", "npm"]);
        assert_eq!(p.layers[0].added.len(), 4, "{:?}", p.layers);
    }
}

#[test]
fn rpm_packages_are_read_from_rpmdb_sqlite_as_of_each_layer() {
    use support::{rpm_header, rpmdb_sqlite};
    let db = "var/lib/rpm/rpmdb.sqlite";
    let before = rpmdb_sqlite(&[
        rpm_header("bash", "5.1.8", "6.el9", 7_000, &["/usr/bin/bash", "/etc/skel/.bashrc"]),
        rpm_header("openssl-libs", "3.0.7", "24.el9", 5_000, &["/usr/lib64/libssl.so.3"]),
        rpm_header("gpg-pubkey", "fd431d51", "4ae0493b", 0, &[]),
    ]);
    let after = rpmdb_sqlite(&[
        rpm_header("bash", "5.1.8", "6.el9", 7_000, &["/usr/bin/bash", "/etc/skel/.bashrc"]),
        rpm_header("openssl-libs", "3.0.7", "27.el9", 5_000, &["/usr/lib64/libssl.so.3"]),
        rpm_header("git-core", "2.43.5", "1.el9", 9_000, &["/usr/bin/git"]),
    ]);
    let image = Image::new()
        .layer(
            Layer::new()
                .file(db, &before)
                .file("usr/bin/bash", &[1; 4_000])
                .file("etc/skel/.bashrc", &[2; 100])
                .file("usr/lib64/libssl.so.3", &[3; 3_000]),
            "ADD ubi.tar /",
        )
        .layer(
            Layer::new().file(db, &after).file("usr/lib64/libssl.so.3", &[4; 3_100]).file("usr/bin/git", &[5; 8_000]),
            "/bin/sh -c dnf install -y git-core && dnf upgrade -y openssl-libs",
        );
    for comp in [None, Some(support::Comp::Gzip)] {
        let image = load(match comp {
            None => image.docker_archive(),
            Some(c) => image.oci_archive(c),
        });
        let (p, owners) = layerscope::analysis::packages::packages_and_owners(&image, false).expect("rpm's database");
        assert_eq!(p.skipped, None, "{comp:?}: kept while the layer was read");
        assert_eq!(p.databases.len(), 1);
        assert!(p.databases[0].read && p.databases[0].path == "/var/lib/rpm/rpmdb.sqlite", "{:?}", p.databases);
        let got: Vec<(&str, &str, Option<u64>, u64)> =
            p.packages.iter().map(|k| (k.name.as_str(), k.version.as_str(), k.declared_bytes, k.final_bytes)).collect();
        assert_eq!(
            got,
            [
                ("git-core", "2.43.5-1.el9", Some(9_000), 8_000),
                ("bash", "5.1.8-6.el9", Some(7_000), 4_100),
                ("openssl-libs", "3.0.7-27.el9", Some(5_000), 3_100),
            ],
            "{comp:?}: gpg-pubkey is a key, not a package"
        );
        let ssl = p.packages.iter().find(|k| k.name == "openssl-libs").unwrap();
        assert_eq!((ssl.installed_in, ssl.upgraded_in.as_slice(), ssl.wasted_bytes), (Some(0), &[1][..], 3_000));
        let layer1 = p.layers.iter().find(|l| l.layer == 1).unwrap();
        assert_eq!(layer1.added, ["git-core 2.43.5-1.el9"]);
        assert_eq!(layer1.upgraded, ["openssl-libs 3.0.7-24.el9→3.0.7-27.el9"]);
        let owner =
            |path: &str| owners.package(&p, image.tree.lookup(path.as_bytes()).unwrap()).map(|k| k.name.clone());
        assert_eq!(owner("usr/bin/git").as_deref(), Some("git-core"));
    }
}

#[test]
fn rpm_changes_still_in_the_write_ahead_log_are_read() {
    // A database in WAL mode whose last install is still in rpmdb.sqlite-wal (not checkpointed).
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("rpmdb.sqlite");
    let db = rusqlite::Connection::open(&path).unwrap();
    db.execute_batch(
        "PRAGMA journal_mode = WAL; PRAGMA wal_autocheckpoint = 0;
         CREATE TABLE Packages (hnum INTEGER PRIMARY KEY AUTOINCREMENT, blob BLOB NOT NULL);",
    )
    .unwrap();
    db.execute("INSERT INTO Packages (blob) VALUES (?1)", [support::rpm_header("bash", "5.1", "1", 1, &[])]).unwrap();
    let (main, wal) = (std::fs::read(&path).unwrap(), std::fs::read(dir.path().join("rpmdb.sqlite-wal")).unwrap());
    assert!(!wal.is_empty(), "the insert is in the log");
    drop(db);
    let image = load(
        Image::new()
            .layer(
                Layer::new().file("var/lib/rpm/rpmdb.sqlite", &main).file("var/lib/rpm/rpmdb.sqlite-wal", &wal),
                "ADD rootfs /",
            )
            .docker_archive(),
    );
    let p = layerscope::analysis::packages::packages(&image, false).unwrap();
    let names: Vec<&str> = p.packages.iter().map(|k| k.name.as_str()).collect();
    assert_eq!(names, ["bash"]);
}

#[test]
fn distroless_status_d_and_apk_databases_own_their_files() {
    // distroless: one status stanza per package in status.d, its files in NAME.md5sums.
    let distroless = load(
        Image::new()
            .layer(
                Layer::new()
                    .file(
                        "var/lib/dpkg/status.d/libc6",
                        b"Package: libc6\nStatus: install ok installed\nVersion: 2.36-9+deb12u7\nInstalled-Size: 12\n",
                    )
                    .file(
                        "var/lib/dpkg/status.d/libc6.md5sums",
                        b"0123456789abcdef0123456789abcdef  lib/x86_64-linux-gnu/libc.so.6\n",
                    )
                    .file("usr/lib/x86_64-linux-gnu/libc.so.6", &[1; 9_000])
                    .file("etc/passwd", &[2; 40]),
                "bazel build //base",
            )
            .docker_archive(),
    );
    let (p, owners) = layerscope::analysis::packages::packages_and_owners(&distroless, false).unwrap();
    let owner_of = |node| owners.package(&p, node).map(|k| k.name.as_str());
    assert_eq!(p.databases[0].path, "/var/lib/dpkg/status.d");
    let libc = &p.packages[0];
    assert_eq!((libc.name.as_str(), libc.version.as_str(), libc.final_bytes), ("libc6", "2.36-9+deb12u7", 9_000));
    let node = distroless.tree.lookup(b"usr/lib/x86_64-linux-gnu/libc.so.6").unwrap();
    assert_eq!(owner_of(node), Some("libc6"), "merged /usr: lib/ is usr/lib/");

    // apk: the installed database lists each package's folders (F:) and files (R:).
    let installed = |ssl: &str| {
        format!(
            "P:musl\nV:1.2.5-r0\nI:400000\nF:lib\nR:ld-musl-x86_64.so.1\n\nP:libssl3\nV:{ssl}\nI:600000\nF:usr/lib\nR:libssl.so.3\n"
        )
    };
    let alpine = load(
        Image::new()
            .layer(
                Layer::new()
                    .file("lib/apk/db/installed", installed("3.3.1-r0").as_bytes())
                    .file("lib/ld-musl-x86_64.so.1", &[3; 6_000])
                    .file("usr/lib/libssl.so.3", &[4; 5_000]),
                "ADD alpine-minirootfs.tar.gz /",
            )
            .layer(
                Layer::new()
                    .file("lib/apk/db/installed", installed("3.3.2-r0").as_bytes())
                    .file("usr/lib/libssl.so.3", &[5; 5_100]),
                "/bin/sh -c apk upgrade --no-cache libssl3",
            )
            .docker_archive(),
    );
    let p = layerscope::analysis::packages::packages(&alpine, false).unwrap();
    let got: Vec<(&str, &str, Option<u64>, u64, u64)> = p
        .packages
        .iter()
        .map(|k| (k.name.as_str(), k.version.as_str(), k.declared_bytes, k.final_bytes, k.wasted_bytes))
        .collect();
    assert_eq!(
        got,
        [("musl", "1.2.5-r0", Some(400_000), 6_000, 0), ("libssl3", "3.3.2-r0", Some(600_000), 5_100, 5_000)]
    );
    assert_eq!(p.layers[1].upgraded, ["libssl3 3.3.1-r0→3.3.2-r0"]);
}

#[test]
fn packages_of_two_managers_may_share_a_name() {
    // Every node image has dpkg's tar and npm's (bundled with npm).
    let image = load(
        Image::new()
            .layer(
                Layer::new()
                    .file("var/lib/dpkg/status", b"Package: tar\nStatus: install ok installed\nVersion: 1.34\n")
                    .file("var/lib/dpkg/info/tar.list", b"/usr/bin/tar\n")
                    .file("usr/bin/tar", &[1; 500])
                    .file(
                        "usr/lib/node_modules/npm/node_modules/tar/package.json",
                        br#"{"name":"tar","version":"6.2.1"}"#,
                    )
                    .file("usr/lib/node_modules/npm/node_modules/tar/index.js", &[2; 900]),
                "ADD rootfs.tar /",
            )
            .docker_archive(),
    );
    let (p, owners) = layerscope::analysis::packages::packages_and_owners(&image, false).unwrap();
    let owner = |path: &str| {
        let k = owners.package(&p, image.tree.lookup(path.as_bytes()).unwrap()).unwrap();
        (k.manager, k.name.as_str(), k.version.as_str())
    };
    assert_eq!(owner("usr/bin/tar"), ("dpkg", "tar", "1.34"));
    assert_eq!(owner("usr/lib/node_modules/npm/node_modules/tar/index.js"), ("npm", "tar", "6.2.1"));
}

#[test]
fn a_database_too_large_to_keep_leaves_the_others_read() {
    // A 2 MiB package.json in a compressed layer is not kept: npm is not read without --packages,
    // dpkg (kept) still is.
    let big = format!(r#"{{"name":"big","version":"1.0.0","readme":"{}"}}"#, "a".repeat(2 << 20));
    let image = load(
        support::dpkg_image()
            .layer(
                Layer::new()
                    .file("app/node_modules/big/package.json", big.as_bytes())
                    .file("app/node_modules/big/i.js", &[1; 10]),
                "RUN npm ci",
            )
            .oci_archive(support::Comp::Zstd),
    );
    let p = layerscope::analysis::packages::packages(&image, false).unwrap();
    let read: Vec<(&str, bool)> = p.databases.iter().map(|d| (d.manager, d.read)).collect();
    assert_eq!(read, [("dpkg", true), ("npm", false)]);
    assert!(
        p.skipped.as_deref().is_some_and(|s| s.starts_with("npm in compressed layers") && s.contains("--packages")),
        "{:?}",
        p.skipped
    );
    assert_eq!(p.packages.iter().map(|k| k.name.as_str()).collect::<Vec<_>>(), ["git", "libssl3"]);
    // With --packages, the layer is read again and npm too.
    let all = layerscope::analysis::packages::packages(&image, true).unwrap();
    assert!(all.skipped.is_none() && all.packages.iter().any(|k| k.name == "big"), "{:?}", all.packages);
}

#[test]
fn multi_arch_and_multilib_packages_are_one_row_each() {
    let stanza = |arch: &str| {
        format!(
            "Package: libc6\nStatus: install ok installed\nArchitecture: {arch}\nVersion: 2.36-9\nMulti-Arch: same\n"
        )
    };
    let status = format!("{}\n{}", stanza("amd64"), stanza("i386"));
    let image = load(
        Image::new()
            .layer(
                Layer::new()
                    .file("var/lib/dpkg/status", status.as_bytes())
                    .file("var/lib/dpkg/info/libc6:amd64.list", b"/usr/lib/x86_64-linux-gnu/libc.so.6\n")
                    .file("var/lib/dpkg/info/libc6:i386.list", b"/usr/lib/i386-linux-gnu/libc.so.6\n")
                    .file("usr/lib/x86_64-linux-gnu/libc.so.6", &[1; 2_000])
                    .file("usr/lib/i386-linux-gnu/libc.so.6", &[2; 1_500]),
                "ADD rootfs.tar /",
            )
            .docker_archive(),
    );
    let p = layerscope::analysis::packages::packages(&image, false).unwrap();
    let got: Vec<(&str, u64)> = p.packages.iter().map(|k| (k.name.as_str(), k.final_bytes)).collect();
    assert_eq!(got, [("libc6", 2_000), ("libc6:i386", 1_500)], "as dpkg names them");

    let db = support::rpmdb_sqlite(&[
        support::rpm_header("glibc", "2.34", "100.el9", 6_000, &["/usr/lib64/libc.so.6"]),
        support::rpm_header_for("i686", "glibc", "2.34", "100.el9", 5_000, &["/usr/lib/libc.so.6"]),
    ]);
    let image = load(
        Image::new()
            .layer(
                Layer::new()
                    .file("var/lib/rpm/rpmdb.sqlite", &db)
                    .file("usr/lib64/libc.so.6", &[1; 2_000])
                    .file("usr/lib/libc.so.6", &[2; 1_500]),
                "ADD ubi.tar /",
            )
            .docker_archive(),
    );
    let p = layerscope::analysis::packages::packages(&image, false).unwrap();
    let got: Vec<(&str, u64)> = p.packages.iter().map(|k| (k.name.as_str(), k.final_bytes)).collect();
    assert_eq!(got, [("glibc", 2_000), ("glibc.i686", 1_500)], "as rpm -q names them");
}

#[test]
fn package_databases_in_compressed_layers_are_kept_while_the_layers_are_read() {
    let plain = layerscope::analysis::packages::packages(&load(support::dpkg_archive()), false).unwrap();
    for comp in [support::Comp::Gzip, support::Comp::Zstd] {
        let image = load(support::dpkg_image().oci_archive(comp));
        // Nothing is inflated again: the databases were kept on the first pass.
        let p = layerscope::analysis::packages::packages(&image, false).expect("a dpkg database");
        assert_eq!(p.skipped, None, "{comp:?}");
        assert_eq!(p.packages, plain.packages, "{comp:?}");
        assert_eq!(p.layers, plain.layers, "{comp:?}");
    }
}
