//! Hostile inputs, each built in code, each with its exact outcome (exit code, message) and the
//! bound it must keep: time, peak memory, output. The README's "Security and limits" section
//! states the same bounds.
//!
//! Peak memory is measured with GNU time (`/usr/bin/time`, Debian package `time`, which
//! `.ci/run` installs); without it the memory bounds are not checked and the tests say so.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::Instant;

use serde_json::Value;

use crate::support::{self, Comp, Image, Layer, OciLayout, Outer};

/// What a run cost.
struct Run {
    out: Output,
    seconds: f64,
    /// Peak resident memory in KiB, when GNU time is there to say.
    peak_kib: Option<u64>,
}

impl Run {
    fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.out.stderr).into_owned()
    }

    fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.out.stdout).into_owned()
    }

    /// Exit `code` with `needle` in stderr, within `seconds` and `mib` of memory.
    fn expect(&self, code: i32, needle: &str, seconds: f64, mib: u64) {
        let err = self.stderr();
        // Shown with --nocapture: the numbers behind the README's bounds.
        eprintln!(
            "measured: exit {:?} in {:.2} s, peak {} MiB (bounds {seconds} s, {mib} MiB)",
            self.out.status.code(),
            self.seconds,
            self.peak_kib.map_or("?".into(), |k| (k / 1024).to_string())
        );
        assert_eq!(self.out.status.code(), Some(code), "exit code; stderr:\n{err}");
        assert!(err.contains(needle), "expected '{needle}' in:\n{err}");
        assert!(self.seconds < seconds, "took {:.1} s, the bound is {seconds} s", self.seconds);
        match self.peak_kib {
            Some(kib) => assert!(kib < mib * 1024, "peak memory {} MiB, the bound is {mib} MiB", kib / 1024),
            None => support::missing("TIME", "GNU time (/usr/bin/time) is not installed: memory not measured"),
        }
    }
}

/// Run the binary in `dir` with `stdin`, measuring time and peak memory.
fn run(dir: &Path, args: &[&str], stdin: Option<Vec<u8>>) -> Run {
    let time = Path::new("/usr/bin/time");
    let report = dir.join(".peak");
    let mut cmd = if time.exists() {
        let mut c = Command::new(time);
        c.arg("-f").arg("%M").arg("-o").arg(&report).arg(env!("CARGO_BIN_EXE_layerscope"));
        c
    } else {
        Command::new(env!("CARGO_BIN_EXE_layerscope"))
    };
    cmd.args(args).current_dir(dir).env_remove("CI").env("TMPDIR", dir);
    cmd.stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() });
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    let start = Instant::now();
    let mut child = cmd.spawn().unwrap();
    let writer = stdin.map(|data| {
        let mut pipe = child.stdin.take().unwrap();
        std::thread::spawn(move || {
            let _ = pipe.write_all(&data);
        })
    });
    let out = child.wait_with_output().unwrap();
    let seconds = start.elapsed().as_secs_f64();
    if let Some(w) = writer {
        let _ = w.join();
    }
    let peak_kib = std::fs::read_to_string(&report).ok().and_then(|t| t.trim().lines().last()?.trim().parse().ok());
    Run { out, seconds, peak_kib }
}

fn write(dir: &Path, name: &str, bytes: &[u8]) {
    std::fs::write(dir.join(name), bytes).unwrap();
}

/// One tar header block, by hand (for what the fixture builder will not write).
fn header(name: &[u8], type_flag: u8, size: u64) -> tar::Header {
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(tar::EntryType::new(type_flag));
    h.set_mode(0o644);
    h.set_mtime(support::MTIME);
    h.set_size(size);
    let field = &mut h.as_old_mut().name;
    field.fill(0);
    let n = name.len().min(100);
    field[..n].copy_from_slice(&name[..n]);
    h.set_cksum();
    h
}

/// Header and data, padded to whole blocks.
fn member(h: &tar::Header, data: &[u8]) -> Vec<u8> {
    let mut out = h.as_bytes().to_vec();
    out.extend_from_slice(data);
    out.resize(out.len().div_ceil(512) * 512, 0);
    out
}

/// PAX records, each `LEN KEY=VALUE\n`.
fn pax(records: &[(&str, &[u8])]) -> Vec<u8> {
    let mut out = Vec::new();
    for (key, value) in records {
        let body = [b" ", key.as_bytes(), b"=", value, b"\n"].concat();
        let mut len = body.len() + 1;
        while format!("{len}").len() + body.len() != len {
            len += 1;
        }
        out.extend_from_slice(format!("{len}").as_bytes());
        out.extend_from_slice(&body);
    }
    out
}

/// An image of one base layer and a layer made of `blocks`.
fn image_with_blocks(blocks: &[u8]) -> Image {
    Image::new()
        .layer(Layer::new().dir("etc").file("etc/os-release", b"ID=test\n"), "/bin/sh -c #(nop) ADD file:x in / ")
        .layer(Layer::new().blocks(blocks), "/bin/sh -c hostile")
}

// ------------------------------------------------------------ untrusted text

const NASTY: &str = "x\x1b[2J\x1b]0;pwned\x07\x1b]52;c;aGk=\x07\u{202e}y";

/// No raw escape, bell or bidi override in `text` (JSON, which is data, keeps a bidi character as
/// the name holds it; its control characters are `\u` escapes).
fn assert_clean(what: &str, text: &[u8], json: bool) {
    let s = String::from_utf8_lossy(text);
    let bad: &[char] = if json { &['\x1b', '\x07', '\u{9b}'] } else { &['\x1b', '\x07', '\u{202e}', '\u{9b}'] };
    for bad in bad {
        assert!(!s.contains(*bad), "{what} prints {bad:?} raw:\n{s}");
    }
}

#[test]
fn names_that_drive_a_terminal_are_escaped_in_every_printer() {
    let dir = tempfile::tempdir().unwrap();
    let image = Image::new()
        .tags(&[&format!("evil{NASTY}:1")])
        .layer(
            Layer::new().dir("etc").file(&format!("etc/{NASTY}"), &[1; 3000]).file("etc/keep", b"k"),
            &format!("/bin/sh -c echo {NASTY}"),
        )
        .layer(
            Layer::new().dir("etc").whiteout(&format!("etc/{NASTY}")).whiteout(&format!("etc/gone{NASTY}")),
            &format!("/bin/sh -c rm {NASTY}"),
        );
    write(dir.path(), "evil.tar", &image.docker_archive());
    for args in [
        &["--report", "evil.tar"][..],
        &["--ci", "evil.tar"],
        &["--ci", "evil.tar", "--format", "github"],
        &["--ci", "evil.tar", "--format", "junit"],
        &["files", "evil.tar", "--layer", "0"],
    ] {
        let r = run(dir.path(), args, None);
        assert_clean(&format!("{args:?} stdout"), &r.out.stdout, args[0] == "files");
        assert_clean(&format!("{args:?} stderr"), &r.out.stderr, false);
    }
    // An error naming an entry from the archive.
    let mut outer = Outer::new();
    outer.file(
        "manifest.json",
        format!(r#"[{{"Config":"c{}.json","RepoTags":[],"Layers":[]}}]"#, "\\u001b[2J").as_bytes(),
    );
    write(dir.path(), "err.tar", &outer.finish());
    let r = run(dir.path(), &["--report", "err.tar"], None);
    assert_eq!(r.out.status.code(), Some(2));
    assert_clean("an error", &r.out.stderr, false);
    assert!(r.stderr().contains("c\\x1b[2J.json"), "{}", r.stderr());
}

// ------------------------------------------------------------ disk

#[test]
fn zeros_on_stdin_stop_at_the_first_block() {
    let dir = tempfile::tempdir().unwrap();
    // 64 MiB of zeros (as `cat /dev/zero`, cut so the test always ends).
    let r = run(dir.path(), &["--report", "-"], Some(vec![0u8; 64 << 20]));
    r.expect(2, "the tar archive is empty (it starts with an end-of-archive block)", 10.0, 200);
}

#[test]
fn a_compressed_archive_that_inflates_past_the_spill_limit_stops_there() {
    let dir = tempfile::tempdir().unwrap();
    // 100 MB of zeros inside one file of a tar: about 100 KB of gzip.
    let big = Layer::new().file("zeros", &vec![0u8; 100_000_000]).tar();
    let bomb = support::gzip(&big);
    assert!(bomb.len() < 1_000_000, "{} bytes", bomb.len());
    let r = run(dir.path(), &["--report", "--max-spill", "10MB", "-"], Some(bomb.clone()));
    r.expect(2, "which stopped at the limit of 10.0 MB (--max-spill raises it)", 20.0, 200);
    // The same as a file on disk, and through a FIFO.
    write(dir.path(), "bomb.tar.gz", &bomb);
    let r = run(dir.path(), &["--report", "--max-spill", "10MB", "bomb.tar.gz"], None);
    r.expect(2, "which stopped at the limit of 10.0 MB", 20.0, 200);
}

#[test]
fn a_fifo_is_read_like_stdin() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("image.fifo");
    assert!(Command::new("mkfifo").arg(&fifo).status().unwrap().success());
    let archive = support::gzip(&Image::new().layer(Layer::new().file("a", b"a"), "a").docker_archive());
    let writer = std::thread::spawn(move || std::fs::write(fifo, archive).unwrap());
    let r = run(dir.path(), &["--json", "-", "image.fifo"], None);
    writer.join().unwrap();
    assert_eq!(r.out.status.code(), Some(0), "{}", r.stderr());
    let report: Value = serde_json::from_slice(&r.out.stdout).unwrap();
    assert_eq!(report["image"]["archive_compression"], "gzip");
}

// ------------------------------------------------------------ inflation

#[test]
fn a_layer_that_inflates_past_its_budget_names_the_layer() {
    let dir = tempfile::tempdir().unwrap();
    // 64 MB of zeros: a zstd blob of a few KB.
    let image = Image::new()
        .layer(Layer::new().file("a", b"a"), "/bin/sh -c #(nop) ADD file:x in / ")
        .layer(Layer::new().file("zeros", &vec![0u8; 64_000_000]), "/bin/sh -c bomb");
    write(dir.path(), "bomb.tar", &image.oci_archive(Comp::Zstd));
    let r = run(dir.path(), &["--report", "--max-layer-size", "16MB", "bomb.tar"], None);
    r.expect(2, "layer 1 (blobs/sha256/", 20.0, 300);
    assert!(r.stderr().contains("it inflates to more bytes than its blob may expand to"), "{}", r.stderr());
    // The ratio: 64 MB from a blob of a few KB is far past 1000 times, once the floor is lower.
    let input = layerscope::Input::Path(dir.path().join("bomb.tar"));
    let limits = layerscope::limits::Limits { inflate_floor: 1 << 20, ..Default::default() };
    let options = layerscope::layer::ReadOptions { verify: false, limits };
    let err = layerscope::image::load_with(&input, &Default::default(), &options).unwrap_err();
    assert!(matches!(err, layerscope::Error::TooLarge(_)), "{err}");
}

// ------------------------------------------------------------ headers

#[test]
fn long_names_and_pax_records_are_capped_at_1_mib() {
    let dir = tempfile::tempdir().unwrap();
    let long = vec![b'a'; 2 << 20];
    let cases: [(&str, Vec<u8>, &str); 3] = [
        (
            "long-name",
            [member(&header(b"././@LongLink", b'L', long.len() as u64), &long), member(&header(b"x", b'0', 0), b"")]
                .concat(),
            "a GNU long name of 2097152 bytes (the limit is 1048576 bytes)",
        ),
        (
            "long-link",
            [member(&header(b"././@LongLink", b'K', long.len() as u64), &long), member(&header(b"x", b'2', 0), b"")]
                .concat(),
            "a GNU long link of 2097152 bytes",
        ),
        (
            "pax",
            {
                let records = pax(&[("comment", &long)]);
                [
                    member(&header(b"PaxHeader/x", b'x', records.len() as u64), &records),
                    member(&header(b"x", b'0', 0), b""),
                ]
                .concat()
            },
            "PAX records of 2097169 bytes (the limit is 1048576 bytes)",
        ),
    ];
    for (name, blocks, needle) in cases {
        // Gzip makes the 2 MiB a few KB of archive: the bound must not depend on the input size.
        write(dir.path(), &format!("{name}.tar"), &image_with_blocks(&blocks).oci_archive(Comp::Gzip));
        let r = run(dir.path(), &["--report", &format!("{name}.tar")], None);
        r.expect(2, needle, 10.0, 100);
    }
}

#[test]
fn a_path_deeper_than_4096_bytes_is_refused_and_files_stays_linear() {
    let dir = tempfile::tempdir().unwrap();
    // 100,000 levels in one PAX path record (a 4.6 KB archive once compressed).
    let deep = "d/".repeat(100_000) + "f";
    let records = pax(&[("path", deep.as_bytes())]);
    let blocks =
        [member(&header(b"PaxHeader/f", b'x', records.len() as u64), &records), member(&header(b"f", b'0', 1), b"x")]
            .concat();
    write(dir.path(), "deep.tar", &image_with_blocks(&blocks).oci_archive(Comp::Gzip));
    let r = run(dir.path(), &["files", "deep.tar"], None);
    r.expect(2, "a path of more than 4096 bytes", 10.0, 100);
    // 2,000 levels (4,000 bytes) are fine, and `files` prints every level without collecting
    // paths: its memory does not grow with them.
    let deep = "d/".repeat(2_000) + "f";
    let records = pax(&[("path", deep.as_bytes())]);
    let blocks =
        [member(&header(b"PaxHeader/f", b'x', records.len() as u64), &records), member(&header(b"f", b'0', 1), b"x")]
            .concat();
    write(dir.path(), "ok.tar", &image_with_blocks(&blocks).oci_archive(Comp::Gzip));
    let r = run(dir.path(), &["files", "ok.tar"], None);
    r.expect(0, "", 20.0, 150);
    assert_eq!(r.stdout().lines().count(), 2 + 2_001, "etc, os-release and every level");
    // `diff` walks both trees with a stack of its own, not the call stack.
    let r = run(dir.path(), &["diff", "ok.tar", "ok.tar"], None);
    r.expect(0, "", 20.0, 150);
    assert!(r.stdout().contains("0 added, 0 removed, 0 modified"), "{}", r.stdout());
}

// ------------------------------------------------------------ sparse files

/// A file of `size` bytes holding `data` at each offset, the rest holes.
fn sparse_file(path: &Path, size: u64, data: &[(u64, &[u8])]) -> Vec<u8> {
    use std::io::{Seek, SeekFrom};
    let mut f = std::fs::File::create(path).unwrap();
    for (offset, bytes) in data {
        f.seek(SeekFrom::Start(*offset)).unwrap();
        f.write_all(bytes).unwrap();
    }
    f.set_len(size).unwrap();
    drop(f);
    std::fs::read(path).unwrap()
}

#[test]
fn gnu_sparse_files_in_every_format_read_as_gnu_tar_writes_them() {
    let dir = tempfile::tempdir().unwrap();
    if Command::new("tar").arg("--version").output().map_or(true, |o| !o.status.success()) {
        return support::missing("GNUTAR", "GNU tar is not installed");
    }
    let work = dir.path().join("work");
    std::fs::create_dir(&work).unwrap();
    let content = sparse_file(
        &work.join("sparse.img"),
        1 << 20,
        &[(0, &[7; 4096]), (600_000, b"middle"), ((1 << 20) - 3, b"end")],
    );
    for (format, version) in [("gnu", None), ("pax", Some("0.0")), ("pax", Some("0.1")), ("pax", Some("1.0"))] {
        let layer_tar = dir.path().join("layer.tar");
        let mut tar = Command::new("tar");
        tar.arg("--sparse").arg(format!("--format={format}"));
        if let Some(v) = version {
            tar.arg(format!("--sparse-version={v}"));
        }
        let ok = tar.arg("-cf").arg(&layer_tar).arg("-C").arg(&work).arg("sparse.img").status().unwrap();
        assert!(ok.success(), "tar {format} {version:?}");
        let bytes = std::fs::read(&layer_tar).unwrap();
        let image = Image::new().layer(Layer::new().blocks(&bytes[..bytes.len() / 512 * 512]), "/bin/sh -c sparse");
        let what = format!("{format} {version:?}");
        let loaded = support::load(image.docker_archive());
        let records = layerscope::report::files::file_records(&loaded, Default::default());
        let file = records.iter().find(|r| r.path == "/sparse.img").unwrap_or_else(|| panic!("{what}: {records:?}"));
        assert_eq!(file.size, 1 << 20, "{what}: the real size");
        assert_eq!(loaded.layers[0].size_bytes, 1 << 20, "{what}: the layer counts the real size");
        // Viewing reads the expanded bytes, holes as zeros, exactly what GNU tar extracts.
        let node = loaded.tree.lookup(b"sparse.img").unwrap();
        let layerscope::tree::State::Present { entry: Some(id), .. } = loaded.tree.state_at(node, Some(0)) else {
            panic!("{what}: not present")
        };
        let read = loaded.read_content(id, 2 << 20).unwrap().unwrap();
        assert!(read == content, "{what}: the content differs from the file GNU tar stored");
        // Extracting writes the same bytes.
        let out = dir.path().join(format!("out-{format}-{}", version.unwrap_or("old")));
        layerscope::extract::extract(&loaded, node, 0, &out).unwrap();
        assert!(std::fs::read(out.join("sparse.img")).unwrap() == content, "{what}: extracted");
    }
}

#[test]
fn a_sparse_file_claiming_2_to_the_62_bytes_is_refused_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let huge = (1u64 << 62).to_string();
    let records = pax(&[
        ("GNU.sparse.major", b"0"),
        ("GNU.sparse.minor", b"1"),
        ("GNU.sparse.name", b"huge"),
        ("GNU.sparse.size", huge.as_bytes()),
        ("GNU.sparse.map", b"0,512"),
    ]);
    let blocks = [
        member(&header(b"PaxHeader/huge", b'x', records.len() as u64), &records),
        member(&header(b"GNUSparseFile.0/huge", b'0', 512), &[1; 512]),
    ]
    .concat();
    let image = image_with_blocks(&blocks);
    let archive = image.docker_archive();
    assert!(archive.len() < 16 << 10);
    write(dir.path(), "huge.tar", &archive);
    let r = run(dir.path(), &["--report", "huge.tar"], None);
    r.expect(2, "the sparse file /huge claims 4611686018427387904 bytes, more than the layer may expand to", 5.0, 100);
}

#[test]
fn a_sparse_map_that_lies_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    for (map, needle) in [
        (&b"0,100,50,100"[..], "overlap or are out of order"),
        (b"0,100", "lists 100 bytes of data but 512 are stored"),
        (b"0,512,2000,0", "reaches byte"),
    ] {
        let records = pax(&[("GNU.sparse.size", b"1024"), ("GNU.sparse.map", map), ("GNU.sparse.name", b"s")]);
        let blocks = [
            member(&header(b"PaxHeader/s", b'x', records.len() as u64), &records),
            member(&header(b"s", b'0', 512), &[1; 512]),
        ]
        .concat();
        write(dir.path(), "lie.tar", &image_with_blocks(&blocks).docker_archive());
        let r = run(dir.path(), &["--report", "lie.tar"], None);
        r.expect(2, needle, 5.0, 100);
    }
}

// ------------------------------------------------------------ quadratic work

#[test]
fn repeated_opaque_markers_act_once() {
    let dir = tempfile::tempdir().unwrap();
    let mut base = Layer::new().dir("d");
    for i in 0..20_000 {
        base = base.file(&format!("d/f{i:05}"), b"");
    }
    let mut top = Layer::new().dir("d");
    for _ in 0..20_000 {
        top = top.opaque("d");
    }
    let image = Image::new().layer(base, "base").layer(top, "opaque");
    write(dir.path(), "opaque.tar", &image.docker_archive());
    let r = run(dir.path(), &["--json", "-", "opaque.tar"], None);
    r.expect(0, "", 20.0, 300);
    let report: Value = serde_json::from_slice(&r.out.stdout).unwrap();
    assert_eq!(report["layers"][1]["removed"], 20_000);
}

#[test]
fn a_dag_of_nested_indexes_is_walked_once() {
    let dir = tempfile::tempdir().unwrap();
    let mut layout = OciLayout::new();
    let built = Image::new().layer(Layer::new().file("a", b"a"), "a").build(Comp::Gzip);
    layout.store(&built);
    // Depth 8, fan-out 10, every index of a level listing all ten of the next: 10^8 paths.
    let mut level: Vec<(String, usize)> = vec![(built.manifest_digest.clone(), built.manifest.len())];
    let manifest_type = "application/vnd.oci.image.manifest.v1+json";
    for depth in 0..8 {
        let media = if depth == 0 { manifest_type } else { "application/vnd.oci.image.index.v1+json" };
        let next: Vec<(String, usize)> = (0..10)
            .map(|k| {
                let index = serde_json::json!({
                    "schemaVersion": 2,
                    "mediaType": "application/vnd.oci.image.index.v1+json",
                    "annotations": {"n": format!("{depth}-{k}")},
                    "manifests": level.iter().map(|(d, s)| serde_json::json!({"mediaType": media, "digest": d, "size": s})).collect::<Vec<_>>(),
                });
                let bytes = serde_json::to_vec(&index).unwrap();
                (layout.blob(&bytes), bytes.len())
            })
            .collect();
        level = next;
    }
    let (top, size) = &level[0];
    layout.index["manifests"] = serde_json::json!([{
        "mediaType": "application/vnd.oci.image.index.v1+json", "digest": top, "size": size,
        "annotations": {"org.opencontainers.image.ref.name": "latest"},
    }]);
    write(dir.path(), "dag.tar", &layout.tar());
    let r = run(dir.path(), &["--json", "-", "dag.tar"], None);
    r.expect(0, "", 10.0, 200);
}

#[test]
fn many_top_level_descriptors_group_in_linear_time() {
    let dir = tempfile::tempdir().unwrap();
    let mut layout = OciLayout::new();
    let built = Image::new().layer(Layer::new().file("a", b"a"), "a").build(Comp::Gzip);
    layout.store(&built);
    for i in 0..100_000 {
        layout.add_manifest(&built.manifest_digest, built.manifest.len(), None, Some(&format!("tag{i}")), None);
    }
    write(dir.path(), "tags.tar", &layout.tar());
    let r = run(dir.path(), &["--json", "-", "tags.tar"], None);
    r.expect(0, "", 20.0, 300);
    let report: Value = serde_json::from_slice(&r.out.stdout).unwrap();
    assert_eq!(report["image"]["tags"].as_array().unwrap().len(), 100_000);
}

#[test]
fn a_deeply_nested_ci_config_is_refused_before_parsing() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "image.tar", &Image::new().layer(Layer::new().file("a", b"a"), "a").docker_archive());
    write(
        dir.path(),
        ".layerscope-ci.yaml",
        format!("rules: {}{}\n", "[".repeat(20_000), "]".repeat(20_000)).as_bytes(),
    );
    let r = run(dir.path(), &["--ci", "image.tar"], None);
    r.expect(2, "it nests lists or mappings deeper than 32 levels", 2.0, 100);
}

// ------------------------------------------------------------ memory

#[test]
fn whiteouts_of_missing_paths_are_counted_not_kept() {
    let dir = tempfile::tempdir().unwrap();
    let mut layer = Layer::new().dir("gone");
    for i in 0..200_000 {
        layer = layer.whiteout(&format!("gone/never{i:06}"));
    }
    let image = Image::new().layer(Layer::new().dir("gone").file("gone/x", b"x"), "base").layer(layer, "rm");
    write(dir.path(), "whiteouts.tar", &image.oci_archive(Comp::Gzip));
    let r = run(dir.path(), &["--json", "-", "whiteouts.tar"], None);
    r.expect(0, "", 30.0, 300);
    let report: Value = serde_json::from_slice(&r.out.stdout).unwrap();
    let warnings = report["warnings"].as_array().unwrap();
    assert_eq!(warnings.len(), 101, "100 kept and one that counts the rest");
    let last = warnings.last().unwrap()["message"].as_str().unwrap();
    assert_eq!(last, "199900 more warnings of this kind were found; the first 100 are listed");
}

#[test]
fn hard_links_extract_as_hard_links_not_copies() {
    let dir = tempfile::tempdir().unwrap();
    let mut layer = Layer::new().dir("d").file("d/big", &[5; 1 << 20]);
    for i in 0..200 {
        layer = layer.hardlink(&format!("d/link{i:03}"), "d/big");
    }
    let image = support::load(Image::new().layer(layer, "links").docker_archive());
    let node = image.tree.lookup(b"d").unwrap();
    let out = dir.path().join("out");
    let summary = layerscope::extract::extract(&image, node, 0, &out).unwrap();
    assert_eq!((summary.files, summary.bytes), (201, 1 << 20), "201 paths, the bytes once");
    use std::os::unix::fs::MetadataExt;
    assert_eq!(std::fs::metadata(out.join("d/big")).unwrap().nlink(), 201);
}

// ------------------------------------------------------------ integrity

/// An OCI image whose one gzip layer blob is `blob` (its digest recomputed, as a writer that
/// corrupted it before hashing would).
fn with_gzip_blob(tar: &[u8], change: impl Fn(&mut Vec<u8>)) -> Vec<u8> {
    let image = Image::new().layer(Layer::new().blocks(tar), "/bin/sh -c layer");
    let mut built = image.build(Comp::Gzip);
    change(&mut built.layers[0].blob);
    built.refresh_manifest();
    built.oci_archive()
}

#[test]
fn a_gzip_layer_is_read_to_its_trailer() {
    let dir = tempfile::tempdir().unwrap();
    let tar = Layer::new().file("a", &[9; 10_000]).file("b", b"bbbb").tar();
    type Corruption = fn(&mut Vec<u8>);
    let cases: [(&str, Corruption); 3] = [
        ("crc", |b| {
            let n = b.len();
            b[n - 8] ^= 0xff;
        }),
        ("isize", |b| {
            let n = b.len();
            b[n - 1] ^= 0x01;
        }),
        ("deflate", |b| {
            let n = b.len();
            b[n - 12] ^= 0x10;
        }),
    ];
    for (name, change) in cases {
        write(dir.path(), &format!("{name}.tar"), &with_gzip_blob(&tar, change));
        let r = run(dir.path(), &["--report", &format!("{name}.tar")], None);
        r.expect(2, "layer 0 (blobs/sha256/", 5.0, 100);
        assert!(r.stderr().contains("gzip stream"), "{name}: {}", r.stderr());
    }
    // Unchanged, it loads.
    write(dir.path(), "good.tar", &with_gzip_blob(&tar, |_| {}));
    let r = run(dir.path(), &["--report", "good.tar"], None);
    r.expect(0, "", 5.0, 100);
}

#[test]
fn a_zstd_frame_checksum_is_checked() {
    let dir = tempfile::tempdir().unwrap();
    let tar = Layer::new().file("a", &[9; 10_000]).tar();
    let mut encoder = zstd::stream::Encoder::new(Vec::new(), 3).unwrap();
    encoder.include_checksum(true).unwrap();
    encoder.write_all(&tar).unwrap();
    let mut blob = encoder.finish().unwrap();
    let n = blob.len();
    blob[n - 1] ^= 0xff; // the checksum's last byte
    let image = Image::new().layer(Layer::new().file("x", b"x"), "x");
    let mut built = image.build(Comp::Zstd);
    built.layers[0].blob = blob;
    built.layers[0].diff_id = support::digest(&tar);
    built.refresh_manifest();
    write(dir.path(), "zstd.tar", &built.oci_archive());
    let r = run(dir.path(), &["--report", "zstd.tar"], None);
    r.expect(2, "zstd stream", 5.0, 100);
}

#[test]
fn an_outer_member_claiming_a_terabyte_is_truncated() {
    let dir = tempfile::tempdir().unwrap();
    let blocks = member(&header(b"blobs/sha256/aa", b'0', 1 << 40), b"");
    let mut archive = blocks;
    archive.extend_from_slice(&[0u8; 80 * 1024]);
    write(dir.path(), "tera.tar", &archive);
    let r = run(dir.path(), &["--report", "tera.tar"], None);
    r.expect(2, "holds 1099511627776 bytes, but the archive ends at byte", 2.0, 100);
}

#[test]
fn a_symlink_loop_in_the_archive_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let mut outer = Outer::new();
    outer.symlink("a.json", "b.json");
    outer.symlink("b.json", "a.json");
    outer.file("manifest.json", br#"[{"Config":"a.json","RepoTags":["x:1"],"Layers":[]}]"#);
    write(dir.path(), "loop.tar", &outer.finish());
    let r = run(dir.path(), &["--report", "loop.tar"], None);
    r.expect(2, "it is a symlink loop in the archive (a.json → b.json → a.json", 2.0, 100);
}
