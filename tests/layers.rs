//! OCI layer rules (docs/formats.md §8) and the tree traps of §11, each its own test, on images
//! built in code.

use crate::support;

use layerscope::WarningKind;
use layerscope::report::files::{FilesOptions, file_records};
use support::{Attrs, Image, Layer, changes_at, load, load_layers, paths_at, tree_at};

fn base() -> Layer {
    Layer::new()
        .dir("etc")
        .file("etc/hosts", b"127.0.0.1 localhost\n")
        .dir("usr")
        .dir("usr/lib")
        .file("usr/lib/a.so", &[1; 100])
        .dir("usr/lib/sub")
        .file("usr/lib/sub/b.so", &[2; 200])
}

#[test]
fn trap_1_opaque_whiteout_hides_lower_children() {
    let img = load_layers(vec![
        base(),
        Layer::new().dir("usr").dir("usr/lib").opaque("usr/lib").file("usr/lib/new.so", b"new"),
    ]);
    assert_eq!(paths_at(&img, None), ["/etc", "/etc/hosts", "/usr", "/usr/lib", "/usr/lib/new.so"]);
    assert_eq!(
        changes_at(&img, 1),
        [
            ("/usr".into(), "metadata_only"),
            ("/usr/lib".into(), "metadata_only"),
            ("/usr/lib/a.so".into(), "removed"),
            ("/usr/lib/new.so".into(), "added"),
            ("/usr/lib/sub".into(), "removed"),
            ("/usr/lib/sub/b.so".into(), "removed"),
        ]
    );
}

#[test]
fn trap_1_opaque_marker_after_the_new_children_in_tar_order() {
    // The marker applies before the directory's new contents wherever it sits in the tar.
    let img = load_layers(vec![
        base(),
        Layer::new()
            .dir("usr")
            .dir("usr/lib")
            .file("usr/lib/new.so", b"new")
            .file("usr/lib/a.so", b"replaced")
            .opaque("usr/lib"),
    ]);
    assert_eq!(paths_at(&img, None), ["/etc", "/etc/hosts", "/usr", "/usr/lib", "/usr/lib/a.so", "/usr/lib/new.so"]);
    let a = tree_at(&img, None).into_iter().find(|(p, _, _)| p == "/usr/lib/a.so").unwrap();
    assert_eq!(a.2, "modified", "a.so existed below and now has other bytes");
}

#[test]
fn opaque_marker_without_a_directory_entry() {
    let img = load_layers(vec![base(), Layer::new().opaque("usr/lib")]);
    assert_eq!(paths_at(&img, None), ["/etc", "/etc/hosts", "/usr", "/usr/lib"]);
}

#[test]
fn trap_2_deleted_directory_recreated_later_stays_empty() {
    let img = load_layers(vec![
        base(),
        Layer::new().dir("usr").whiteout("usr/lib"),
        Layer::new().dir("usr").dir("usr/lib").file("usr/lib/c.so", b"c"),
    ]);
    assert_eq!(paths_at(&img, Some(1)), ["/etc", "/etc/hosts", "/usr"]);
    assert_eq!(paths_at(&img, None), ["/etc", "/etc/hosts", "/usr", "/usr/lib", "/usr/lib/c.so"]);
    // Also when the directory comes back implicitly, through a child only.
    let img = load_layers(vec![base(), Layer::new().whiteout("usr/lib"), Layer::new().file("usr/lib/c.so", b"c")]);
    assert_eq!(paths_at(&img, None), ["/etc", "/etc/hosts", "/usr", "/usr/lib", "/usr/lib/c.so"]);
}

#[test]
fn trap_3_whiteout_does_not_hide_a_file_of_its_own_layer() {
    let img = load_layers(vec![base(), Layer::new().dir("etc").file("etc/motd", b"hi").whiteout("etc/motd")]);
    assert!(paths_at(&img, None).contains(&"/etc/motd".to_string()));
    // ... in either tar order.
    let img = load_layers(vec![base(), Layer::new().dir("etc").whiteout("etc/motd").file("etc/motd", b"hi")]);
    assert!(paths_at(&img, None).contains(&"/etc/motd".to_string()));
    assert!(img.warnings.iter().any(|w| w.kind == WarningKind::WhiteoutOfMissingPath));
}

#[test]
fn whiteout_and_rewrite_in_one_layer_replaces_the_lower_file() {
    let img = load_layers(vec![base(), Layer::new().dir("etc").whiteout("etc/hosts").file("etc/hosts", b"new")]);
    let hosts = tree_at(&img, None).into_iter().find(|(p, _, _)| p == "/etc/hosts").unwrap();
    assert_eq!(hosts.2, "modified");
}

#[test]
fn trap_4_hard_link_counts_content_once_and_keeps_its_bytes() {
    let img = load_layers(vec![
        Layer::new()
            .dir("bin")
            .file_with("bin/busybox", &[9; 1000], Attrs::FILE.mode(0o755))
            .hardlink("bin/ls", "bin/busybox")
            .hardlink("bin/cat", "/bin/busybox"),
        Layer::new().dir("bin").file_with("bin/busybox", &[8; 500], Attrs::FILE.mode(0o755)),
    ]);
    assert_eq!(img.layers[0].size_bytes, 1000, "hard links add no bytes to the layer");
    let records = file_records(&img, FilesOptions { layer: None, changes_only: false });
    let get = |p: &str| records.iter().find(|r| r.path == p).unwrap();
    assert_eq!(get("/bin/busybox").size, 500);
    assert_eq!(get("/bin/ls").size, 1000, "the link keeps the old inode's bytes");
    // busybox was rewritten: ls and cat still share the old bytes (one inode in overlayfs), so
    // the first of them in path order holds them as a file and the other links to it.
    assert_eq!((get("/bin/cat").kind, get("/bin/cat").link.as_deref()), ("file", None));
    assert_eq!((get("/bin/ls").kind, get("/bin/ls").link.as_deref()), ("hardlink", Some("/bin/cat")));
    assert_eq!(get("/bin/ls").change, "unchanged");
    assert_eq!(get("/bin/busybox").change, "modified");
    // Before the rewrite both are links to busybox.
    let before = file_records(&img, FilesOptions { layer: Some(0), changes_only: false });
    let get = |p: &str| before.iter().find(|r| r.path == p).unwrap();
    assert_eq!(get("/bin/ls").kind, "hardlink");
    assert_eq!(get("/bin/ls").link.as_deref(), Some("/bin/busybox"));
    assert_eq!(get("/bin/cat").link.as_deref(), Some("/bin/busybox"), "absolute link names are normalised");
}

#[test]
fn hard_link_chains_stay_linked_when_the_middle_is_rewritten() {
    // c → b → a (tar names the first path of an inode, so c's record names a), then a rewritten.
    let img = load_layers(vec![
        Layer::new().dir("x").file("x/a", &[1; 100]).hardlink("x/b", "x/a").hardlink("x/c", "x/b"),
        Layer::new().dir("x").file("x/a", &[2; 50]),
    ]);
    let records = file_records(&img, FilesOptions { layer: None, changes_only: false });
    let get = |p: &str| records.iter().find(|r| r.path == p).map(|r| (r.kind, r.size, r.link.clone())).unwrap();
    assert_eq!(get("/x/a"), ("file", 50, None));
    assert_eq!(get("/x/b"), ("file", 100, None), "b holds the old bytes now");
    assert_eq!(get("/x/c"), ("hardlink", 100, Some("/x/b".to_string())), "c still shares them with b");
    let analysis = layerscope::analysis::analyze(&img, &Default::default());
    assert_eq!(analysis.final_size_bytes, 150, "the old bytes count once");
}

#[test]
fn hard_link_whose_target_is_deleted_is_a_file_with_the_bytes() {
    let img = load_layers(vec![
        Layer::new().dir("opt").file("opt/tool", &[7; 300]).hardlink("opt/appctl", "opt/tool"),
        Layer::new().dir("opt").whiteout("opt/tool"),
    ]);
    let records = file_records(&img, FilesOptions { layer: None, changes_only: false });
    let ctl = records.iter().find(|r| r.path == "/opt/appctl").unwrap();
    assert_eq!((ctl.kind, ctl.size, ctl.link.as_deref()), ("file", 300, None));
    assert!(records.iter().all(|r| r.path != "/opt/tool"));
    let analysis = layerscope::analysis::analyze(&img, &Default::default());
    assert_eq!(analysis.final_size_bytes, 300, "the bytes are still visible, once");
    assert_eq!(analysis.wasted_bytes, 0);
}

#[test]
fn hard_link_re_linked_to_the_rewritten_target_is_a_link_again() {
    let img = load_layers(vec![
        Layer::new().dir("opt").file("opt/tool", &[7; 300]).hardlink("opt/appctl", "opt/tool"),
        Layer::new().dir("opt").file("opt/tool", &[8; 200]),
        Layer::new().dir("opt").file("opt/tool", &[8; 200]).hardlink("opt/appctl", "opt/tool"),
    ]);
    let at = |layer| file_records(&img, FilesOptions { layer: Some(layer), changes_only: false });
    let ctl = |records: &[layerscope::report::files::FileRecord]| {
        let r = records.iter().find(|r| r.path == "/opt/appctl").unwrap();
        (r.kind, r.size, r.link.clone())
    };
    assert_eq!(ctl(&at(0)), ("hardlink", 300, Some("/opt/tool".to_string())));
    assert_eq!(ctl(&at(1)), ("file", 300, None));
    assert_eq!(ctl(&at(2)), ("hardlink", 200, Some("/opt/tool".to_string())));
    // The target replaced by a link to another file: appctl keeps the old bytes, alone.
    let img = load_layers(vec![
        Layer::new().dir("opt").file("opt/tool", &[7; 300]).file("opt/other", b"o").hardlink("opt/appctl", "opt/tool"),
        Layer::new().dir("opt").hardlink("opt/tool", "opt/other"),
    ]);
    let records = file_records(&img, FilesOptions { layer: None, changes_only: false });
    let get = |p: &str| records.iter().find(|r| r.path == p).unwrap();
    assert_eq!((get("/opt/appctl").kind, get("/opt/appctl").size), ("file", 300));
    assert_eq!((get("/opt/tool").kind, get("/opt/tool").link.as_deref()), ("hardlink", Some("/opt/other")));
}

#[test]
fn hard_link_to_a_lower_layer_file_shares_its_bytes() {
    let img = load_layers(vec![base(), Layer::new().dir("etc").hardlink("etc/hosts.bak", "etc/hosts")]);
    let records = file_records(&img, FilesOptions { layer: None, changes_only: false });
    assert_eq!(records.iter().find(|r| r.path == "/etc/hosts.bak").unwrap().size, 20);
    assert_eq!(img.layers[1].size_bytes, 0);
}

#[test]
fn hard_link_replacing_a_file_with_the_same_bytes_is_metadata_only() {
    // `ln a b` copies a up; the tar may hold a as a hard link to b.
    let img = load_layers(vec![Layer::new().file("a", b"same"), Layer::new().file("b", b"same").hardlink("a", "b")]);
    assert_eq!(changes_at(&img, 1), [("/a".into(), "metadata_only"), ("/b".into(), "added")]);
}

#[test]
fn hard_link_to_a_missing_target_warns() {
    let img = load_layers(vec![Layer::new().hardlink("x", "nowhere")]);
    assert!(
        img.warnings.iter().any(|w| w.kind == WarningKind::HardLinkTargetMissing && w.path.as_deref() == Some("/x"))
    );
    assert_eq!(paths_at(&img, None), ["/x"]);
}

#[test]
fn trap_5_single_layer_whiteouts_never_appear_as_files() {
    let img = load_layers(vec![Layer::new().dir("a").file("a/x", b"x").whiteout("a/gone").opaque("a").whiteout("top")]);
    assert_eq!(paths_at(&img, None), ["/a", "/a/x"]);
    let missing: Vec<_> = img
        .warnings
        .iter()
        .filter(|w| w.kind == WarningKind::WhiteoutOfMissingPath)
        .map(|w| w.path.clone().unwrap())
        .collect();
    assert_eq!(missing, ["/a/gone", "/top"]);
}

#[test]
fn whiteout_of_a_missing_path_warns_and_the_layer_is_still_read() {
    let img = load_layers(vec![base(), Layer::new().dir("etc").whiteout("etc/nonexistent").file("etc/zzz", b"after")]);
    assert!(paths_at(&img, None).contains(&"/etc/zzz".to_string()), "entries after the whiteout are kept");
    let w = img.warnings.iter().find(|w| w.kind == WarningKind::WhiteoutOfMissingPath).unwrap();
    assert_eq!((w.layer, w.path.as_deref()), (Some(1), Some("/etc/nonexistent")));
}

#[test]
fn whiteout_removes_a_whole_subtree() {
    let img = load_layers(vec![base(), Layer::new().whiteout("usr")]);
    assert_eq!(paths_at(&img, None), ["/etc", "/etc/hosts"]);
    assert_eq!(img.layers[1].counts.removed, 5);
}

#[test]
fn file_replaced_by_directory_and_back() {
    let img = load_layers(vec![
        Layer::new().file("x", b"file"),
        Layer::new().opaque("x").dir("x").file("x/inner", b"i"),
        Layer::new().whiteout("x").file("x", b"file again"),
    ]);
    assert_eq!(tree_at(&img, Some(0)), [("/x".into(), "file", "added")]);
    assert_eq!(tree_at(&img, Some(1)), [("/x".into(), "dir", "modified"), ("/x/inner".into(), "file", "added")]);
    assert_eq!(tree_at(&img, Some(2)), [("/x".into(), "file", "modified")]);
    assert_eq!(changes_at(&img, 2), [("/x".into(), "modified"), ("/x/inner".into(), "removed")]);
}

#[test]
fn directory_replaced_by_a_file_loses_its_subtree() {
    // overlay writes the file without a whiteout for the directory.
    let img = load_layers(vec![base(), Layer::new().file("usr", b"now a file")]);
    assert_eq!(paths_at(&img, None), ["/etc", "/etc/hosts", "/usr"]);
    assert_eq!(img.layers[1].counts.removed, 4);
    assert_eq!(img.layers[1].counts.modified, 1);
}

#[test]
fn file_turned_into_directory_implicitly_warns() {
    let img = load_layers(vec![Layer::new().file("x", b"f"), Layer::new().file("x/y", b"y")]);
    assert_eq!(tree_at(&img, None), [("/x".into(), "dir", "modified"), ("/x/y".into(), "file", "added")]);
    assert!(img.warnings.iter().any(|w| w.kind == WarningKind::ImplicitTypeChange));
}

#[test]
fn missing_parent_directories_are_created() {
    let img = load_layers(vec![Layer::new().file("a/b/c", b"c")]);
    let records = file_records(&img, FilesOptions { layer: None, changes_only: false });
    let dirs: Vec<_> = records.iter().filter(|r| r.implicit).map(|r| (r.path.as_str(), r.mode.as_str())).collect();
    assert_eq!(dirs, [("/a", "0755"), ("/a/b", "0755")]);
    assert_eq!(img.layers[0].counts.added, 3);
}

#[test]
fn path_spellings_are_normalised() {
    let img = load_layers(vec![
        Layer::new()
            .raw(b"./", tar::EntryType::Directory, b"")
            .raw(b"./etc/", tar::EntryType::Directory, b"")
            .raw(b"/etc/abs", tar::EntryType::Regular, b"a")
            .raw(b"etc//double", tar::EntryType::Regular, b"d")
            .raw(b"etc/./dot/", tar::EntryType::Directory, b""),
    ]);
    assert_eq!(paths_at(&img, None), ["/etc", "/etc/abs", "/etc/dot", "/etc/double"]);
}

#[test]
fn trap_10_non_utf8_and_long_names_are_byte_exact() {
    let long = format!("long/{}", "n".repeat(251));
    let pax = format!("pax/{}", "p".repeat(180));
    let img = load_layers(vec![
        Layer::new()
            .file_bytes(b"odd/latin1-caf\xe9", b"1")
            .file("odd/utf8-caf\u{e9}", b"2")
            .file("odd/back\\slash", b"3")
            .file("odd/new\nline", b"4")
            .file(&long, b"5")
            .pax_file(pax.as_bytes(), b"6")
            .symlink("odd/long-link", &format!("/{}", "t".repeat(150))),
    ]);
    let records = file_records(&img, FilesOptions { layer: None, changes_only: false });
    let latin1 = records.iter().find(|r| r.path == "/odd/latin1-caf\\xe9").expect("escaped path");
    assert_eq!(latin1.path_raw.as_deref(), Some(hex(b"/odd/latin1-caf\xe9").as_str()));
    assert!(records.iter().any(|r| r.path == "/odd/utf8-caf\u{e9}" && r.path_raw.is_none()));
    assert!(records.iter().any(|r| r.path == "/odd/back\\slash"));
    assert!(records.iter().any(|r| r.path == "/odd/new\nline"));
    assert!(records.iter().any(|r| r.path == format!("/{long}")));
    assert!(records.iter().any(|r| r.path == format!("/{pax}")));
    let link = records.iter().find(|r| r.path == "/odd/long-link").unwrap();
    assert_eq!(link.link.as_deref().map(str::len), Some(151));
    // Sorted by path bytes: 'l' (0x6c) < 'u' (0x75); 0xe9 sorts after ASCII.
    let paths: Vec<_> = records.iter().map(|r| r.path.clone()).collect();
    let mut sorted = paths.clone();
    sorted.sort_by_key(|p| support_unescape(p));
    assert_eq!(paths, sorted);
}

fn support_unescape(p: &str) -> Vec<u8> {
    // Invert \xHH for the one escaped name in this test.
    p.replace("\\xe9", "\u{0}").bytes().map(|b| if b == 0 { 0xe9 } else { b }).collect()
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

#[test]
fn trap_11_dotdot_and_absolute_paths_are_confined() {
    let img = load_layers(vec![
        Layer::new()
            .raw(b"../../etc/shadow", tar::EntryType::Regular, b"x")
            .raw(b"a/../../b", tar::EntryType::Regular, b"y")
            .raw(b"/abs", tar::EntryType::Regular, b"z"),
    ]);
    assert_eq!(paths_at(&img, None), ["/abs", "/b", "/etc", "/etc/shadow"]);
    let escapes = img.warnings.iter().filter(|w| w.kind == WarningKind::PathEscapesRoot).count();
    assert_eq!(escapes, 2);
}

#[test]
fn duplicate_entries_in_one_layer_keep_the_last() {
    let img = load_layers(vec![Layer::new().file("x", b"first").file("x", b"second!")]);
    let records = file_records(&img, FilesOptions { layer: None, changes_only: false });
    assert_eq!(records[0].size, 7);
    assert!(img.warnings.iter().any(|w| w.kind == WarningKind::DuplicateEntry));
}

#[test]
fn change_kinds_relative_to_the_layer_below() {
    let img = load_layers(vec![
        Layer::new()
            .file("content", b"aaaa")
            .file("mode", b"m")
            .file("owner", b"o")
            .file("mtime", b"t")
            .file("same", b"s")
            .symlink("link", "a")
            .file("size", b"1"),
        Layer::new()
            .file("content", b"bbbb")
            .file_with("mode", b"m", Attrs::FILE.mode(0o600))
            .file_with("owner", b"o", Attrs::FILE.owner(1000, 1000))
            .file_with("mtime", b"t", Attrs::FILE.mtime(1))
            .file("same", b"s")
            .symlink("link", "b")
            .file("size", b"12"),
    ]);
    assert_eq!(
        changes_at(&img, 1),
        [
            ("/content".into(), "modified"),
            ("/link".into(), "modified"),
            ("/mode".into(), "metadata_only"),
            ("/mtime".into(), "metadata_only"),
            ("/owner".into(), "metadata_only"),
            ("/same".into(), "metadata_only"),
            ("/size".into(), "modified"),
        ]
    );
    assert_eq!(
        img.layers[1].counts,
        layerscope::image::ChangeCounts { added: 0, modified: 3, metadata_only: 4, removed: 0 }
    );
}

#[test]
fn special_files_keep_their_attributes() {
    let img = load_layers(vec![
        Layer::new()
            .dir("dev")
            .char_device("dev/null", 1, 3)
            .block_device("dev/sda", 8, 0)
            .fifo("dev/pipe")
            .file_with("suid", b"x", Attrs::FILE.mode(0o4755))
            .dir_with("tmp", Attrs::DIR.mode(0o1777)),
    ]);
    let records = file_records(&img, FilesOptions { layer: None, changes_only: false });
    let get = |p: &str| records.iter().find(|r| r.path == p).unwrap();
    assert_eq!((get("/dev/null").kind, get("/dev/null").dev), ("char", Some([1, 3])));
    assert_eq!((get("/dev/sda").kind, get("/dev/sda").dev), ("block", Some([8, 0])));
    assert_eq!(get("/dev/pipe").kind, "fifo");
    assert_eq!(get("/suid").mode, "4755");
    assert_eq!(get("/tmp").mode, "1777");
}

#[test]
fn device_renumbered_is_modified() {
    let img = load_layers(vec![Layer::new().char_device("d", 1, 3), Layer::new().char_device("d", 1, 5)]);
    assert_eq!(changes_at(&img, 1), [("/d".into(), "modified")]);
}

#[test]
fn empty_layers_are_fine() {
    // A zero-byte blob, and a tar that is only the end-of-archive blocks.
    let img = load_layers(vec![base(), Layer::new()]);
    assert_eq!(img.layers[1].size_bytes, 0);
    assert_eq!(paths_at(&img, Some(1)), paths_at(&img, Some(0)));
    let mut layout = support::OciLayout::new();
    let mut built = Image::new().layer(base(), "base").layer(Layer::new(), "nothing").build(support::Comp::None);
    built.layers[1].blob.clear();
    built.layers[1].blob_digest = support::digest(b"");
    let mut manifest: serde_json::Value = serde_json::from_slice(&built.manifest).unwrap();
    manifest["layers"][1]["digest"] = serde_json::json!(built.layers[1].blob_digest);
    built.manifest = serde_json::to_vec(&manifest).unwrap();
    built.manifest_digest = support::digest(&built.manifest);
    layout.store(&built);
    layout.add_manifest(&built.manifest_digest, built.manifest.len(), None, None, None);
    let img = load(layout.tar());
    assert_eq!(img.layers[1].compression.map(|c| c.to_string()).as_deref(), Some("empty"));
}

#[test]
fn changes_include_the_removed_subtree_described_as_it_was() {
    let img = load_layers(vec![base(), Layer::new().whiteout("usr/lib/sub")]);
    let records = file_records(&img, FilesOptions { layer: Some(1), changes_only: true });
    let b = records.iter().find(|r| r.path == "/usr/lib/sub/b.so").unwrap();
    assert_eq!((b.change, b.size, b.layer), ("removed", 200, 0));
}

#[test]
fn every_layer_view_of_one_tree() {
    let img = load_layers(vec![
        base(),
        Layer::new().dir("etc").file("etc/new", b"n"),
        Layer::new().dir("etc").whiteout("etc/hosts"),
    ]);
    assert_eq!(paths_at(&img, Some(0)).len(), 7);
    assert_eq!(paths_at(&img, Some(1)).len(), 8);
    assert_eq!(paths_at(&img, Some(2)).len(), 7);
    assert!(!paths_at(&img, Some(2)).contains(&"/etc/hosts".to_string()));
}

#[test]
fn files_come_in_path_byte_order_not_tree_order() {
    // `-` (0x2d) sorts before `/` (0x2f): a-b comes between a and a/c.
    let img = load_layers(vec![Layer::new().dir("a").file("a/c", b"c").file("a-b", b"b").file("a.d", b"d")]);
    assert_eq!(support::paths_at(&img, None), ["/a", "/a-b", "/a.d", "/a/c"]);
}

/// The entries of a layer tar: (path, type, size, link target).
fn tar_entries(file: &mut std::fs::File) -> Vec<(String, tar::EntryType, u64, Option<String>)> {
    let mut archive = tar::Archive::new(file);
    archive
        .entries()
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            let link = e.link_name().unwrap().map(|l| l.display().to_string());
            (e.path().unwrap().display().to_string(), e.header().entry_type(), e.size(), link)
        })
        .collect()
}

#[test]
fn an_overlay_upper_folder_becomes_a_layer_with_oci_whiteouts() {
    use layerscope::source::writable::{Overlay, from_upper_dir};
    use std::os::unix::fs::symlink;
    let dir = tempfile::tempdir().unwrap();
    let (upper, lower) = (dir.path().join("upper"), dir.path().join("lower"));
    for d in [upper.join("app/conf"), upper.join("app/keep"), lower.join("app/conf"), lower.join("app/keep")] {
        std::fs::create_dir_all(d).unwrap();
    }
    // A whiteout as newer kernels write it: an empty file with the overlay.whiteout xattr (the
    // user. prefix, as rootless overlay uses; the character device 0:0 is in the podman tests).
    std::fs::write(upper.join("app/gone"), b"").unwrap();
    rustix::fs::lsetxattr(upper.join("app/gone"), "user.overlay.whiteout", b"", rustix::fs::XattrFlags::empty())
        .unwrap();
    // A folder made opaque: what was below it is hidden.
    rustix::fs::lsetxattr(upper.join("app/conf"), "user.overlay.opaque", b"y", rustix::fs::XattrFlags::empty())
        .unwrap();
    std::fs::write(upper.join("app/conf/new.yaml"), b"new: 2\n").unwrap();
    // Copied up only to hold a changed child: the same as below, so no change of its own.
    std::fs::write(upper.join("app/keep/data"), b"12345").unwrap();
    let mtime = std::time::SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_700_000_000);
    for d in [upper.join("app/keep"), lower.join("app/keep")] {
        std::fs::File::open(&d).unwrap().set_modified(mtime).unwrap();
    }
    std::fs::write(upper.join("app/a"), b"shared").unwrap();
    std::fs::hard_link(upper.join("app/a"), upper.join("app/b")).unwrap();
    symlink("a", upper.join("app/link")).unwrap();
    // A folder whose own mtime changed (entries were added) is a change.
    let later = mtime + std::time::Duration::from_secs(1000);
    std::fs::File::open(upper.join("app")).unwrap().set_modified(later).unwrap();
    let lower = [lower];
    let mut layer = from_upper_dir(Overlay { upper: &upper, lower: &lower, merged: None }).unwrap();
    assert!(layer.warnings.is_empty(), "{:?}", layer.warnings);
    let entries = tar_entries(&mut layer.file);
    let names: Vec<&str> = entries.iter().map(|e| e.0.as_str()).collect();
    use tar::EntryType::{Directory, Link, Regular, Symlink};
    assert_eq!(
        entries,
        [
            ("app".into(), Directory, 0, None),
            ("app/a".into(), Regular, 6, None),
            ("app/b".into(), Link, 0, Some("app/a".into())),
            ("app/conf".into(), Directory, 0, None),
            ("app/conf/.wh..wh..opq".into(), Regular, 0, None),
            ("app/conf/new.yaml".into(), Regular, 7, None),
            ("app/.wh.gone".into(), Regular, 0, None),
            ("app/keep/data".into(), Regular, 5, None),
            ("app/link".into(), Symlink, 0, Some("a".into())),
        ],
        "{names:?}"
    );
}

#[test]
fn an_engines_changes_list_and_export_become_a_layer() {
    use layerscope::source::writable::{ChangeKind, from_changes};
    // The container's whole file system, as `docker export` writes it.
    let mut export = tar::Builder::new(Vec::new());
    let mut add = |path: &str, data: &[u8], kind: tar::EntryType| {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(kind);
        h.set_mode(if kind == tar::EntryType::Directory { 0o755 } else { 0o644 });
        h.set_size(data.len() as u64);
        export.append_data(&mut h, path, data).unwrap();
    };
    add("app/", b"", tar::EntryType::Directory);
    add("app/kept", b"unchanged", tar::EntryType::Regular);
    add("app/new", b"new", tar::EntryType::Regular);
    add("app/big", b"0123456789", tar::EntryType::Regular);
    let export = export.into_inner().unwrap();
    let changes = [
        (ChangeKind::Modified, "/app".to_string()),
        (ChangeKind::Added, "/app/new".to_string()),
        (ChangeKind::Modified, "/app/big".to_string()),
        (ChangeKind::Deleted, "/app/gone".to_string()),
        (ChangeKind::Deleted, "/app/logs".to_string()),
        (ChangeKind::Deleted, "/app/logs/a.log".to_string()),
    ];
    let mut layer = from_changes(&changes, export.as_slice()).unwrap();
    let entries: Vec<(String, u64)> = tar_entries(&mut layer.file).into_iter().map(|e| (e.0, e.2)).collect();
    // What changed, as exported; a whiteout for each deleted subtree (its top only).
    assert_eq!(
        entries,
        [
            ("app".to_string(), 0),
            ("app/new".to_string(), 3),
            ("app/big".to_string(), 10),
            ("app/.wh.gone".to_string(), 0),
            ("app/.wh.logs".to_string(), 0),
        ]
    );
}
