//! What an image needs from its base, to judge which slimmer bases fit it: its C library (from
//! the ELF interpreter of the program it runs, else the dynamic loader it holds), whether it runs a
//! shell, the package manager its own build steps use, and the language runtimes it holds.

use serde::Serialize;

use crate::image::Image;
use crate::layer::EntryKind;
use crate::tree::{EntryId, State};

/// A C library.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Libc {
    /// GNU libc (`ld-linux*.so`).
    Glibc,
    /// musl (`ld-musl-*.so.1`).
    Musl,
    /// None: the program is statically linked.
    None,
}

impl Libc {
    /// As a base's catalog entry and the reports name it.
    pub fn name(self) -> &'static str {
        match self {
            Libc::Glibc => "glibc",
            Libc::Musl => "musl",
            Libc::None => "no libc",
        }
    }
}

/// What the image needs, each with the evidence.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Needs {
    /// The C library its programs are linked against (`None` when nothing says).
    pub libc: Option<Libc>,
    /// Why that library: "the ELF interpreter of /usr/bin/bash is /lib64/ld-linux-x86-64.so.2".
    #[serde(skip_serializing_if = "Option::is_none")]
    pub libc_evidence: Option<String>,
    /// Why it needs a shell at run time, when it does ("CMD runs bash").
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shell: Option<String>,
    /// The package manager the image's own build steps run.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub package_manager: Option<PackageManager>,
    /// Language runtimes it holds (`python3`, `node`, `java`).
    pub runtimes: Vec<String>,
}

/// A package manager a build step runs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PackageManager {
    /// `apt`, `apk` or `dnf`.
    pub name: String,
    /// The step, on one line and cut.
    pub step: String,
}

/// Programs that are shells.
const SHELLS: [&str; 6] = ["sh", "bash", "dash", "ash", "zsh", "ksh"];

/// Where dynamic loaders live, musl's first (an image with both runs musl programs).
const LOADERS: [&str; 8] = [
    "lib/ld-musl-x86_64.so.1",
    "lib/ld-musl-aarch64.so.1",
    "lib/ld-musl-armhf.so.1",
    "lib64/ld-linux-x86-64.so.2",
    "lib/x86_64-linux-gnu/ld-linux-x86-64.so.2",
    "lib/ld-linux-aarch64.so.1",
    "lib/aarch64-linux-gnu/ld-linux-aarch64.so.1",
    "lib/ld-linux-armhf.so.3",
];

/// The PATH a container gets when its config sets none.
const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// What `image` needs; its own layers start at `base_layers`.
pub fn needs(image: &Image, base_layers: usize) -> Needs {
    let Some(top) = image.top_layer() else { return Needs::default() };
    let config = image.config.config.as_ref();
    let program: Vec<String> = config
        .map(|c| {
            let mut p = c.entrypoint.clone().unwrap_or_default();
            p.extend(c.cmd.clone().unwrap_or_default());
            p
        })
        .unwrap_or_default();
    let path_env =
        config.and_then(|c| c.env.iter().find_map(|e| e.strip_prefix("PATH="))).unwrap_or(DEFAULT_PATH).to_string();
    let mut needs = Needs::default();
    if let Some(first) = program.first() {
        let name = first.rsplit('/').next().unwrap_or(first);
        if SHELLS.contains(&name) {
            needs.shell = Some(format!("it runs {}", program.join(" ")));
        }
        if let Some((path, id)) = find_program(image, first, &path_env, top) {
            match elf_interpreter(image, id) {
                Some(Some(interp)) => {
                    needs.libc = libc_of(&interp);
                    needs.libc_evidence = Some(format!("the ELF interpreter of {path} is {interp}"));
                }
                Some(None) => {
                    needs.libc = Some(Libc::None);
                    needs.libc_evidence = Some(format!("{path} is statically linked"));
                }
                None => {
                    // A script: its interpreter runs it.
                    if let Some(interp) = shebang(image, id) {
                        let name = interp.split_whitespace().next().unwrap_or("").rsplit('/').next().unwrap_or("");
                        if SHELLS.contains(&name) && needs.shell.is_none() {
                            needs.shell = Some(format!("{path} is a {name} script"));
                        }
                    }
                }
            }
        }
    }
    if needs.libc.is_none() {
        // The dynamic loader the image holds.
        let loader = LOADERS.iter().find(|p| resolve(image, p, top).is_some());
        if let Some(path) = loader {
            needs.libc = libc_of(path);
            needs.libc_evidence = Some(format!("it holds /{path}"));
        }
    }
    needs.package_manager = image.layers.iter().skip(base_layers).find_map(|l| {
        let command = l.command()?;
        let manager = [("apt-get ", "apt"), ("apt ", "apt"), ("apk ", "apk"), ("dnf ", "dnf"), ("yum ", "dnf")]
            .iter()
            .find(|(word, _)| command.contains(word))?
            .1;
        let step = crate::image::clean_command(command).split_whitespace().collect::<Vec<_>>().join(" ");
        Some(PackageManager { name: manager.to_string(), step: crate::text::cut(&step, 80) })
    });
    for (runtime, paths) in [
        ("python3", ["usr/bin/python3", "usr/local/bin/python3"]),
        ("node", ["usr/bin/node", "usr/local/bin/node"]),
        ("java", ["usr/bin/java", "opt/java/openjdk/bin/java"]),
    ] {
        if paths.iter().any(|p| resolve(image, p, top).is_some()) {
            needs.runtimes.push(runtime.to_string());
        }
    }
    needs
}

/// The libc a dynamic loader's name says.
fn libc_of(name: &str) -> Option<Libc> {
    let name = name.rsplit('/').next().unwrap_or(name);
    if name.starts_with("ld-musl-") {
        Some(Libc::Musl)
    } else if name.starts_with("ld-linux") && name.contains(".so") {
        Some(Libc::Glibc)
    } else {
        None
    }
}

/// The file `program` names, looked up on `path_env` when it has no `/`.
fn find_program(image: &Image, program: &str, path_env: &str, layer: usize) -> Option<(String, EntryId)> {
    if program.contains('/') {
        return resolve(image, program, layer).map(|id| (program.to_string(), id));
    }
    path_env.split(':').filter(|d| !d.is_empty()).find_map(|dir| {
        let path = format!("{}/{program}", dir.trim_end_matches('/'));
        resolve(image, &path, layer).map(|id| (path, id))
    })
}

/// The file at `path` after `layer`, following symlinks in every component as the kernel does.
fn resolve(image: &Image, path: &str, layer: usize) -> Option<EntryId> {
    let tree = &image.tree;
    let mut pending: Vec<Vec<u8>> =
        path.split('/').filter(|c| !c.is_empty()).rev().map(|c| c.as_bytes().to_vec()).collect();
    let mut at: Vec<Vec<u8>> = Vec::new();
    let mut hops = 0;
    while let Some(part) = pending.pop() {
        match part.as_slice() {
            b"." => continue,
            b".." => {
                at.pop();
                continue;
            }
            _ => {}
        }
        at.push(part);
        let node = tree.lookup(&at.join(&b'/'))?;
        let State::Present { entry, .. } = tree.state_at(node, Some(layer)) else { return None };
        let Some(id) = entry else { continue };
        let e = tree.entry(id);
        if e.kind == EntryKind::Symlink {
            hops += 1;
            if hops > 40 {
                return None;
            }
            let target = tree.link(e)?.to_vec();
            at.pop();
            if target.starts_with(b"/") {
                at.clear();
            }
            pending.extend(target.split(|&b| b == b'/').filter(|c| !c.is_empty()).rev().map(<[u8]>::to_vec));
            continue;
        }
        if pending.is_empty() {
            return Some(id);
        }
    }
    None
}

/// For an ELF file, its interpreter (`Some(None)`: statically linked); `None` when it is no ELF.
fn elf_interpreter(image: &Image, id: EntryId) -> Option<Option<String>> {
    let head = head(image, id, 64 * 1024)?;
    if head.get(..4)? != b"\x7fELF" {
        return None;
    }
    let wide = *head.get(4)? == 2;
    let little = *head.get(5)? == 1;
    let num = |at: usize, len: usize| -> Option<u64> {
        let bytes = head.get(at..at + len)?;
        let mut v = 0u64;
        for (i, b) in bytes.iter().enumerate() {
            let shift = if little { i } else { len - 1 - i } * 8;
            v |= u64::from(*b) << shift;
        }
        Some(v)
    };
    let (phoff, phentsize, phnum) = if wide {
        (num(0x20, 8)?, num(0x36, 2)?, num(0x38, 2)?)
    } else {
        (num(0x1c, 4)?, num(0x2a, 2)?, num(0x2c, 2)?)
    };
    for i in 0..phnum.min(64) {
        let at = usize::try_from(phoff + i * phentsize).ok()?;
        if num(at, 4)? != 3 {
            continue;
        }
        // PT_INTERP: where its path is.
        let (offset, size) =
            if wide { (num(at + 8, 8)?, num(at + 32, 8)?) } else { (num(at + 4, 4)?, num(at + 16, 4)?) };
        let start = usize::try_from(offset).ok()?;
        let bytes = head.get(start..start + usize::try_from(size).ok()?.min(256))?;
        let text = String::from_utf8_lossy(bytes).trim_end_matches('\0').to_string();
        return Some(Some(text));
    }
    Some(None)
}

/// The first `n` bytes of a file (all of it when shorter).
fn head(image: &Image, id: EntryId, n: u64) -> Option<Vec<u8>> {
    use std::io::Read;
    let mut out = Vec::new();
    image.open_content(id).ok()?.take(n).read_to_end(&mut out).ok()?;
    Some(out)
}

/// A script's `#!` line.
fn shebang(image: &Image, id: EntryId) -> Option<String> {
    let head = head(image, id, 256)?;
    let line = head.strip_prefix(b"#!")?.split(|&b| b == b'\n').next()?;
    Some(String::from_utf8_lossy(line).trim().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loaders_name_their_libc() {
        assert_eq!(libc_of("/lib64/ld-linux-x86-64.so.2"), Some(Libc::Glibc));
        assert_eq!(libc_of("/lib/ld-musl-x86_64.so.1"), Some(Libc::Musl));
        assert_eq!(libc_of("libc.so.6"), None);
    }
}
