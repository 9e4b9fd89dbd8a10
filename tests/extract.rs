//! Extraction of a file or directory as it is after a layer: contents, modes, skips, and never a
//! write outside the destination.

use crate::support;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use layerscope::extract::{ExtractSummary, extract};
use layerscope::tree::NodeId;
use support::{Attrs, Comp, Image, Layer, load, load_layers};

fn node(img: &layerscope::Image, path: &str) -> NodeId {
    img.tree.lookup(path.trim_start_matches('/').as_bytes()).unwrap_or_else(|| panic!("no node {path}"))
}

fn run(img: &layerscope::Image, path: &str, layer: usize, dest: &Path) -> ExtractSummary {
    extract(img, node(img, path), layer, dest).unwrap_or_else(|e| panic!("extract {path}: {e}"))
}

fn mode(path: &Path) -> u32 {
    fs::symlink_metadata(path).unwrap().permissions().mode() & 0o7777
}

/// Every path below `dir`, relative, sorted (symlinks not followed).
fn listing(dir: &Path) -> Vec<String> {
    fn walk(base: &Path, dir: &Path, out: &mut Vec<String>) {
        for entry in fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            out.push(path.strip_prefix(base).unwrap().to_string_lossy().into_owned());
            if fs::symlink_metadata(&path).unwrap().is_dir() {
                walk(base, &path, out);
            }
        }
    }
    let mut out = Vec::new();
    if dir.exists() {
        walk(dir, dir, &mut out);
    }
    out.sort();
    out
}

fn app() -> Layer {
    Layer::new()
        .dir("app")
        .dir("app/bin")
        .file_with("app/bin/tool", b"#!/bin/sh\necho tool\n", Attrs::FILE.mode(0o755))
        .file_with("app/bin/suid", b"root me", Attrs::FILE.mode(0o4755))
        .file_with("app/secret", b"top secret", Attrs::FILE.mode(0o600))
        .dir("app/lib")
        .dir("app/lib/sub")
        .file("app/lib/sub/deep.txt", b"deep")
        .file("app/lib/implicit/parent/file.txt", b"implicit parents")
        .dir_with("app/ro", Attrs::DIR.mode(0o555))
        .file_with("app/ro/readonly.txt", b"in a read-only dir", Attrs::FILE.mode(0o444))
        .symlink("app/link", "bin/tool")
        .symlink("app/abs", "/etc/passwd")
        .hardlink("app/hard", "app/bin/tool")
        .fifo("app/pipe")
        .char_device("app/null", 1, 3)
        .block_device("app/disk", 8, 0)
}

#[test]
fn extracts_a_file() {
    let img = load_layers(vec![app()]);
    let tmp = tempfile::tempdir().unwrap();
    let dest = tmp.path().join("not/yet/there");
    let s = run(&img, "/app/bin/tool", 0, &dest);
    assert_eq!(s.root, dest.join("tool"));
    assert_eq!((s.files, s.dirs, s.symlinks, s.bytes), (1, 0, 0, 20));
    assert!(s.skipped.is_empty());
    assert_eq!(fs::read(dest.join("tool")).unwrap(), b"#!/bin/sh\necho tool\n");
    assert_eq!(mode(&dest.join("tool")), 0o755);
    assert_eq!(listing(&dest), ["tool"]);
}

#[test]
fn extracts_a_directory_tree() {
    let img = load_layers(vec![app()]);
    let tmp = tempfile::tempdir().unwrap();
    let s = run(&img, "/app", 0, tmp.path());
    let root = tmp.path().join("app");
    assert_eq!(s.root, root);
    assert_eq!(
        listing(tmp.path()),
        [
            "app",
            "app/abs",
            "app/bin",
            "app/bin/suid",
            "app/bin/tool",
            "app/hard",
            "app/lib",
            "app/lib/implicit",
            "app/lib/implicit/parent",
            "app/lib/implicit/parent/file.txt",
            "app/lib/sub",
            "app/lib/sub/deep.txt",
            "app/link",
            "app/ro",
            "app/ro/readonly.txt",
            "app/secret",
        ]
    );
    // app, bin, lib, implicit, parent, sub, ro.
    assert_eq!(s.dirs, 7);
    assert_eq!(s.symlinks, 2);
    // tool, suid, secret, deep.txt, file.txt, readonly.txt, and the hard link (its bytes once).
    assert_eq!(s.files, 7);
    assert_eq!(s.bytes, 20 + 7 + 10 + 4 + 16 + 18);
    let mut skipped = s.skipped.clone();
    skipped.sort();
    assert_eq!(
        skipped,
        [
            ("/app/disk".to_string(), "device".to_string()),
            ("/app/null".to_string(), "device".to_string()),
            ("/app/pipe".to_string(), "fifo".to_string()),
        ]
    );

    assert_eq!(fs::read(root.join("lib/sub/deep.txt")).unwrap(), b"deep");
    assert_eq!(fs::read(root.join("lib/implicit/parent/file.txt")).unwrap(), b"implicit parents");
    // Symlinks are recreated with their stored target, never resolved.
    assert_eq!(fs::read_link(root.join("link")).unwrap(), Path::new("bin/tool"));
    assert_eq!(fs::read_link(root.join("abs")).unwrap(), Path::new("/etc/passwd"));
    // A hard link is extracted as a hard link: one inode, the bytes and mode of its file.
    let hard = root.join("hard");
    assert!(fs::symlink_metadata(&hard).unwrap().file_type().is_file());
    {
        use std::os::unix::fs::MetadataExt;
        let (a, b) = (fs::metadata(&hard).unwrap(), fs::metadata(root.join("bin/tool")).unwrap());
        assert_eq!((a.dev(), a.ino()), (b.dev(), b.ino()), "one inode");
        assert_eq!(a.nlink(), 2);
    }
    assert_eq!(fs::read(&hard).unwrap(), b"#!/bin/sh\necho tool\n");
    assert_eq!(mode(&hard), 0o755);
    // setuid/setgid/sticky are dropped; other bits kept.
    assert_eq!(fs::read(root.join("bin/suid")).unwrap(), b"root me");
    assert_eq!(mode(&root.join("bin/suid")), 0o755);
    assert_eq!(mode(&root.join("secret")), 0o600);
    // A read-only directory still gets its children, then its mode (owner keeps rwx).
    assert_eq!(fs::read(root.join("ro/readonly.txt")).unwrap(), b"in a read-only dir");
    assert_eq!(mode(&root.join("ro/readonly.txt")), 0o444);
    assert_eq!(mode(&root.join("ro")), 0o755);
    assert_eq!(mode(&root), 0o755);
    assert_eq!(mode(&root.join("lib/implicit")), 0o755);
}

#[test]
fn extracts_the_root_into_dest() {
    let img = load_layers(vec![Layer::new().file("top.txt", b"top").dir("etc").file("etc/hosts", b"hosts")]);
    let tmp = tempfile::tempdir().unwrap();
    let s = run(&img, "/", 0, tmp.path());
    assert_eq!(s.root, tmp.path());
    assert_eq!(listing(tmp.path()), ["etc", "etc/hosts", "top.txt"]);
    assert_eq!((s.files, s.dirs, s.bytes), (2, 1, 8));
    assert_eq!(fs::read(tmp.path().join("etc/hosts")).unwrap(), b"hosts");
}

/// Many files over two compressed layers, some overwritten above, read in any order.
fn compressed_image(comp: Comp) -> layerscope::Image {
    let mut base = Layer::new().dir("data");
    for i in 0..60 {
        base = base.file(&format!("data/f{i:02}"), format!("base {i} ").repeat(i * 37 + 1).as_bytes());
    }
    base = base.hardlink("data/link-to-f07", "data/f07").hardlink("data/link-to-f42", "data/f42");
    let mut top = Layer::new().dir("data");
    for i in (0..60).step_by(7) {
        top = top.file(&format!("data/f{i:02}"), format!("top {i} ").repeat(i * 53 + 3).as_bytes());
    }
    let img = Image::new().layer(base, "base").layer(top, "top");
    load(img.oci_archive(comp))
}

fn expected(i: usize, layer: usize) -> Vec<u8> {
    if layer == 1 && i.is_multiple_of(7) {
        format!("top {i} ").repeat(i * 53 + 3).into_bytes()
    } else {
        format!("base {i} ").repeat(i * 37 + 1).into_bytes()
    }
}

#[test]
fn reads_contents_from_compressed_layers() {
    for comp in [Comp::Gzip, Comp::GzipMultiMember, Comp::Zstd, Comp::None] {
        let img = compressed_image(comp);
        for layer in [0, 1] {
            let tmp = tempfile::tempdir().unwrap();
            let s = run(&img, "/data", layer, tmp.path());
            assert!(s.skipped.is_empty(), "{comp:?}: {:?}", s.skipped);
            assert_eq!(s.files, 62, "{comp:?}");
            for i in 0..60 {
                let got = fs::read(tmp.path().join(format!("data/f{i:02}"))).unwrap();
                assert_eq!(got, expected(i, layer), "{comp:?} layer {layer} f{i:02}");
            }
            // The hard links always share the base bytes: they point at the base layer's files.
            assert_eq!(fs::read(tmp.path().join("data/link-to-f07")).unwrap(), expected(7, 0), "{comp:?}");
            assert_eq!(fs::read(tmp.path().join("data/link-to-f42")).unwrap(), expected(42, 0), "{comp:?}");
        }
    }
}

#[test]
fn for_each_content_serves_every_entry_once_in_stream_order() {
    let img = compressed_image(Comp::Gzip);
    let tree = &img.tree;
    let mut wanted = Vec::new();
    for path in ["data/f59", "data/f07", "data/link-to-f07", "data/f00", "data/f33", "data/f07"] {
        let id = match tree.state_at(tree.lookup(path.as_bytes()).unwrap(), Some(0)) {
            layerscope::tree::State::Present { entry: Some(id), .. } => id,
            other => panic!("{path}: {other:?}"),
        };
        wanted.push((id, path));
    }
    // Top-layer versions too, so two layers are streamed.
    for path in ["data/f14", "data/f56"] {
        let id = match tree.state_at(tree.lookup(path.as_bytes()).unwrap(), Some(1)) {
            layerscope::tree::State::Present { entry: Some(id), .. } => id,
            other => panic!("{path}: {other:?}"),
        };
        wanted.push((id, path));
    }
    let ids: Vec<_> = wanted.iter().map(|w| w.0).collect();
    let mut seen = Vec::new();
    img.for_each_content(&ids, |id, reader| {
        let mut bytes = Vec::new();
        reader.read_to_end(&mut bytes).unwrap();
        seen.push((id, bytes));
        Ok(())
    })
    .unwrap();
    assert_eq!(seen.len(), ids.len());
    for (id, bytes) in &seen {
        assert_eq!(*bytes, img.read_content(*id, u64::MAX).unwrap().unwrap(), "entry {id}");
    }
    // Base layer first, then the top layer.
    let layers: Vec<u16> = seen.iter().map(|(id, _)| tree.content_entry(tree.entry(*id)).layer).collect();
    assert!(layers.is_sorted(), "{layers:?}");
    // A reader left unread is skipped over.
    let mut count = 0;
    img.for_each_content(&ids, |_, _| {
        count += 1;
        Ok(())
    })
    .unwrap();
    assert_eq!(count, ids.len());
}

#[test]
fn extracts_the_state_after_the_chosen_layer() {
    let img = load_layers(vec![
        Layer::new().dir("app").file("app/conf", b"old").file("app/gone", b"removed later").dir("app/d"),
        Layer::new().dir("app").file("app/conf", b"new").whiteout("app/gone").file("app/added", b"added"),
    ]);
    let tmp = tempfile::tempdir().unwrap();
    let before = tmp.path().join("before");
    run(&img, "/app", 0, &before);
    assert_eq!(listing(&before), ["app", "app/conf", "app/d", "app/gone"]);
    assert_eq!(fs::read(before.join("app/conf")).unwrap(), b"old");

    let after = tmp.path().join("after");
    run(&img, "/app", 1, &after);
    assert_eq!(listing(&after), ["app", "app/added", "app/conf", "app/d"]);
    assert_eq!(fs::read(after.join("app/conf")).unwrap(), b"new");

    // Single files too.
    let one = tmp.path().join("one");
    run(&img, "/app/conf", 0, &one);
    assert_eq!(fs::read(one.join("conf")).unwrap(), b"old");
    run(&img, "/app/gone", 0, &one);
    assert_eq!(fs::read(one.join("gone")).unwrap(), b"removed later");
}

#[test]
fn a_node_absent_after_the_layer_is_an_error() {
    let img = load_layers(vec![
        Layer::new().dir("app").file("app/gone", b"x"),
        Layer::new().whiteout("app/gone").file("later", b"y"),
    ]);
    let tmp = tempfile::tempdir().unwrap();
    let err = extract(&img, node(&img, "/app/gone"), 1, tmp.path()).unwrap_err();
    assert!(err.to_string().contains("/app/gone"), "{err}");
    let err = extract(&img, node(&img, "/later"), 0, tmp.path()).unwrap_err();
    assert!(err.to_string().contains("/later"), "{err}");
    assert!(extract(&img, node(&img, "/app"), 2, tmp.path()).is_err(), "no layer 2");
    assert!(extract(&img, NodeId(u32::MAX), 0, tmp.path()).is_err(), "no such node");
    assert_eq!(listing(tmp.path()), Vec::<String>::new());
}

#[test]
fn existing_paths_are_not_overwritten() {
    let img =
        load_layers(vec![Layer::new().dir("app").file("app/a", b"image a").file("app/b", b"image b").file("c", b"c")]);
    let tmp = tempfile::tempdir().unwrap();

    // An existing file at the target path.
    fs::write(tmp.path().join("a"), b"mine").unwrap();
    let s = run(&img, "/app/a", 0, tmp.path());
    assert_eq!(s.skipped, [("/app/a".to_string(), "exists".to_string())]);
    assert_eq!((s.files, s.bytes), (0, 0));
    assert_eq!(fs::read(tmp.path().join("a")).unwrap(), b"mine");

    // An existing directory: the whole subtree is skipped, nothing is merged into it.
    fs::create_dir(tmp.path().join("app")).unwrap();
    fs::write(tmp.path().join("app/a"), b"mine too").unwrap();
    let s = run(&img, "/app", 0, tmp.path());
    assert_eq!(s.skipped, [("/app".to_string(), "exists".to_string())]);
    assert_eq!(listing(&tmp.path().join("app")), ["a"]);
    assert_eq!(fs::read(tmp.path().join("app/a")).unwrap(), b"mine too");

    // Extracting the root next to them: the rest is written.
    let s = run(&img, "/", 0, tmp.path());
    assert_eq!(s.skipped, [("/app".to_string(), "exists".to_string())]);
    assert_eq!(fs::read(tmp.path().join("c")).unwrap(), b"c");
}

#[test]
fn a_symlink_at_the_destination_is_not_followed() {
    let img = load_layers(vec![Layer::new().dir("app").file("app/x", b"x").file("app/y", b"y").dir("app/sub")]);
    let tmp = tempfile::tempdir().unwrap();
    let outside = tmp.path().join("somewhere-outside");
    let dest = tmp.path().join("dest");
    fs::create_dir(&dest).unwrap();

    // Dangling: following it would create the outside directory.
    std::os::unix::fs::symlink(&outside, dest.join("app")).unwrap();
    let s = run(&img, "/app", 0, &dest);
    assert_eq!(s.skipped, [("/app".to_string(), "exists".to_string())]);
    assert!(!outside.exists());

    // Pointing at an existing outside directory: nothing is written into it.
    fs::create_dir(&outside).unwrap();
    let s = run(&img, "/app", 0, &dest);
    assert_eq!(s.skipped, [("/app".to_string(), "exists".to_string())]);
    assert_eq!((s.files, s.dirs), (0, 0));
    assert_eq!(listing(&outside), Vec::<String>::new());

    // A file target that is a dangling symlink to an outside file.
    std::os::unix::fs::symlink(outside.join("x"), dest.join("x")).unwrap();
    let s = run(&img, "/app/x", 0, &dest);
    assert_eq!(s.skipped, [("/app/x".to_string(), "exists".to_string())]);
    assert_eq!(listing(&outside), Vec::<String>::new());
    assert!(fs::symlink_metadata(dest.join("x")).unwrap().file_type().is_symlink());
}

#[test]
fn symlinks_in_the_image_are_never_traversed() {
    let tmp = tempfile::tempdir().unwrap();
    let outside = tmp.path().join("outside");
    fs::create_dir(&outside).unwrap();
    let target = outside.to_str().unwrap();
    // A symlink to an outside directory, then files "through" it, in the same and a later layer.
    let img = load_layers(vec![
        Layer::new().dir("app").symlink("app/evil", target).file("app/evil/pwn", b"pwned"),
        Layer::new().symlink("app/evil2", target),
        Layer::new().file("app/evil2/pwn2", b"pwned"),
    ]);
    for layer in 0..3 {
        let dest = tmp.path().join(format!("dest{layer}"));
        run(&img, "/app", layer, &dest);
        assert_eq!(listing(&outside), Vec::<String>::new(), "layer {layer}");
    }
    // The tree turned each symlink that got a child into a directory: extraction made real ones.
    assert!(fs::symlink_metadata(tmp.path().join("dest0/app/evil")).unwrap().is_dir());
    assert_eq!(fs::read(tmp.path().join("dest0/app/evil/pwn")).unwrap(), b"pwned");
    assert_eq!(fs::read_link(tmp.path().join("dest1/app/evil2")).unwrap(), outside);
    assert!(fs::symlink_metadata(tmp.path().join("dest2/app/evil2")).unwrap().is_dir());
    assert_eq!(fs::read(tmp.path().join("dest2/app/evil2/pwn2")).unwrap(), b"pwned");
}
