//! rpm's sqlite database (`rpmdb.sqlite`, rpm 4.16 and later): the `Packages` table holds one
//! header blob per installed package, read here for its name, version, size and files. The
//! Berkeley DB (`Packages`) and ndb (`Packages.db`) formats are found and named, not read.

use std::collections::BTreeMap;
use std::io::Write;

use std::time::{Duration, Instant};

use rusqlite::config::DbConfig;
use rusqlite::limits::Limit;
use rusqlite::{Connection, OpenFlags};

use super::Record;

/// Header tags read (rpm's `rpmTag`).
const NAME: u32 = 1000;
const VERSION: u32 = 1001;
const RELEASE: u32 = 1002;
const EPOCH: u32 = 1003;
const ARCH: u32 = 1022;
const SIZE: u32 = 1009;
const DIRINDEXES: u32 = 1116;
const BASENAMES: u32 = 1117;
const DIRNAMES: u32 = 1118;
const LONGSIZE: u32 = 5009;

/// Header data types.
const INT32: u32 = 4;
const INT64: u32 = 5;
const STRING: u32 = 6;
const STRING_ARRAY: u32 = 8;

/// Rows read at most (a Fedora image holds a few hundred packages, a desktop a few thousand).
const MAX_PACKAGES: usize = 100_000;
/// The largest value sqlite may hand out: a header is at most [`MAX_DATA`] bytes.
const MAX_VALUE: i32 = 0x1000_0000;
/// How long reading the database may take.
const DEADLINE: Duration = Duration::from_secs(20);

/// rpm's own bounds on a header: index entries and data bytes.
const MAX_ENTRIES: usize = 0x0000_ffff;
const MAX_DATA: usize = 0x0fff_ffff;

/// The packages of an `rpmdb.sqlite` file's bytes, with its write-ahead log (`-wal`) when the
/// image has a non-empty one beside it (empty when they are not a database).
pub(super) fn parse(database: &[u8], wal: Option<&[u8]>) -> BTreeMap<String, Record> {
    read(database, wal).unwrap_or_default()
}

fn read(database: &[u8], wal: Option<&[u8]>) -> Option<BTreeMap<String, Record>> {
    // sqlite reads files: the database (and its log, whose changes sqlite applies on opening)
    // goes to a private temporary folder; without a log it is opened read-only and immutable.
    let dir = tempfile::tempdir().ok()?;
    let path = dir.path().join("rpmdb.sqlite");
    std::fs::File::create(&path).ok()?.write_all(database).ok()?;
    let wal = wal.filter(|w| !w.is_empty());
    if let Some(log) = wal {
        std::fs::File::create(dir.path().join("rpmdb.sqlite-wal")).ok()?.write_all(log).ok()?;
    }
    // A URI: the temporary folder's name (TMPDIR may hold `?`, `#` or `%`) percent-encoded.
    let file: String = path
        .to_str()?
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'/' | b'-' | b'_' | b'.' | b'~' => char::from(b).to_string(),
            other => format!("%{other:02X}"),
        })
        .collect();
    let (uri, access) = match wal {
        None => (format!("file:{file}?immutable=1"), OpenFlags::SQLITE_OPEN_READ_ONLY),
        Some(_) => (format!("file:{file}"), OpenFlags::SQLITE_OPEN_READ_WRITE),
    };
    let flags = access | OpenFlags::SQLITE_OPEN_URI | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let db = Connection::open_with_flags(uri, flags).ok()?;
    // The file is the image's, so anything may be in it: sqlite's defensive mode, no code of its
    // schema run, every cell checked, no value over rpm's own header limit, and a deadline (a
    // view can loop for ever). `Packages` must be a plain table, read at most `MAX_PACKAGES` rows.
    db.set_db_config(DbConfig::SQLITE_DBCONFIG_DEFENSIVE, true).ok()?;
    db.execute_batch("PRAGMA trusted_schema = OFF; PRAGMA cell_size_check = ON;").ok()?;
    let _ = db.set_limit(Limit::SQLITE_LIMIT_LENGTH, MAX_VALUE);
    let deadline = Instant::now() + DEADLINE;
    db.progress_handler(10_000, Some(move || Instant::now() > deadline)).ok()?;
    let kind: String =
        db.query_row("SELECT type FROM sqlite_schema WHERE name = 'Packages'", [], |row| row.get(0)).ok()?;
    if kind != "table" {
        return None;
    }
    let mut query = db.prepare("SELECT blob FROM Packages").ok()?;
    let rows = query.query_map([], |row| row.get::<_, Vec<u8>>(0)).ok()?;
    let mut out = BTreeMap::new();
    for blob in rows.take(MAX_PACKAGES).flatten() {
        if let Some((name, record)) = header(&blob) {
            // `gpg-pubkey` entries are keys, not packages; a second architecture of one name
            // (multilib) is `name.arch`, as rpm -q writes it.
            if name != "gpg-pubkey" {
                let key = match &record.arch {
                    Some(arch) if out.contains_key(&name) => format!("{name}.{arch}"),
                    _ => name,
                };
                out.insert(key, record);
            }
        }
    }
    Some(out)
}

/// One header blob (as the database stores it: no lead magic): index count, data length, the
/// index entries (tag, type, offset, count), then the data.
fn header(blob: &[u8]) -> Option<(String, Record)> {
    let be32 = |at: usize| blob.get(at..at + 4).map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]));
    let entries = be32(0)? as usize;
    let data_len = be32(4)? as usize;
    if entries > MAX_ENTRIES || data_len > MAX_DATA {
        return None;
    }
    let data_start = 8 + entries * 16;
    let data = blob.get(data_start..data_start.checked_add(data_len)?)?;
    let mut index: BTreeMap<u32, (u32, usize, usize)> = BTreeMap::new();
    for i in 0..entries {
        let at = 8 + i * 16;
        let (tag, kind, offset, count) = (be32(at)?, be32(at + 4)?, be32(at + 8)? as usize, be32(at + 12)? as usize);
        index.entry(tag).or_insert((kind, offset, count));
    }
    let strings = |tag: u32| -> Vec<String> {
        let Some(&(kind, offset, count)) = index.get(&tag) else { return Vec::new() };
        if kind != STRING && kind != STRING_ARRAY {
            return Vec::new();
        }
        let mut out = Vec::new();
        let mut rest = data.get(offset..).unwrap_or_default();
        for _ in 0..count.min(rest.len()) {
            let Some(end) = rest.iter().position(|&b| b == 0) else { break };
            out.push(String::from_utf8_lossy(&rest[..end]).into_owned());
            rest = &rest[end + 1..];
        }
        out
    };
    let ints = |tag: u32| -> Vec<u64> {
        let Some(&(kind, offset, count)) = index.get(&tag) else { return Vec::new() };
        let width = match kind {
            INT32 => 4,
            INT64 => 8,
            _ => return Vec::new(),
        };
        let Some(bytes) = data.get(offset..).map(|d| &d[..d.len().min(count.saturating_mul(width))]) else {
            return Vec::new();
        };
        bytes.chunks_exact(width).map(|c| c.iter().fold(0u64, |n, &b| (n << 8) | u64::from(b))).collect()
    };
    let name = strings(NAME).into_iter().next()?;
    let version = strings(VERSION).into_iter().next().unwrap_or_default();
    let release = strings(RELEASE).into_iter().next();
    let epoch = ints(EPOCH).first().copied();
    let mut shown = epoch.map(|e| format!("{e}:")).unwrap_or_default();
    shown.push_str(&version);
    if let Some(r) = release {
        shown.push('-');
        shown.push_str(&r);
    }
    let declared = ints(LONGSIZE).first().copied().or_else(|| ints(SIZE).first().copied());
    let (dirs, bases, indexes) = (strings(DIRNAMES), strings(BASENAMES), ints(DIRINDEXES));
    let files = bases
        .iter()
        .zip(&indexes)
        .filter_map(|(base, &dir)| {
            let dir = dirs.get(usize::try_from(dir).ok()?)?;
            Some(format!("{dir}{base}").trim_start_matches('/').as_bytes().to_vec())
        })
        .collect();
    let arch = strings(ARCH).into_iter().next();
    Some((name, Record { version: shown, declared, arch, files }))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A header blob with these tags (strings, string arrays and int32 arrays).
    pub(crate) fn blob(strings: &[(u32, &[&str])], ints: &[(u32, &[u32])]) -> Vec<u8> {
        let (mut index, mut data) = (Vec::new(), Vec::new());
        for (tag, values) in strings {
            let kind = if values.len() == 1 && *tag < 1100 { STRING } else { STRING_ARRAY };
            index.push((*tag, kind, data.len(), values.len()));
            for v in *values {
                data.extend_from_slice(v.as_bytes());
                data.push(0);
            }
        }
        for (tag, values) in ints {
            while data.len() % 4 != 0 {
                data.push(0);
            }
            index.push((*tag, INT32, data.len(), values.len()));
            for v in *values {
                data.extend_from_slice(&v.to_be_bytes());
            }
        }
        let mut out = Vec::new();
        out.extend_from_slice(&(index.len() as u32).to_be_bytes());
        out.extend_from_slice(&(data.len() as u32).to_be_bytes());
        for (tag, kind, offset, count) in index {
            for n in [tag, kind, offset as u32, count as u32] {
                out.extend_from_slice(&n.to_be_bytes());
            }
        }
        out.extend_from_slice(&data);
        out
    }

    #[test]
    fn a_header_gives_name_epoch_version_release_size_and_files() {
        let b = blob(
            &[
                (NAME, &["bash"]),
                (VERSION, &["5.1.8"]),
                (RELEASE, &["9.el9"]),
                (DIRNAMES, &["/usr/bin/", "/etc/"]),
                (BASENAMES, &["bash", "sh", "bashrc"]),
            ],
            &[(EPOCH, &[1]), (SIZE, &[7_700_000]), (DIRINDEXES, &[0, 0, 1])],
        );
        let (name, r) = header(&b).unwrap();
        assert_eq!((name.as_str(), r.version.as_str(), r.declared), ("bash", "1:5.1.8-9.el9", Some(7_700_000)));
        assert_eq!(r.files, [b"usr/bin/bash".to_vec(), b"usr/bin/sh".to_vec(), b"etc/bashrc".to_vec()]);
    }

    #[test]
    fn a_damaged_header_is_skipped_not_trusted() {
        let good = blob(&[(NAME, &["x"])], &[]);
        for cut in 0..good.len() {
            let _ = header(&good[..cut]);
        }
        let mut huge = good.clone();
        huge[0..4].copy_from_slice(&u32::MAX.to_be_bytes());
        assert!(header(&huge).is_none());
        let mut far = good.clone();
        // The name's offset points past the data.
        far[8 + 8..8 + 12].copy_from_slice(&1_000_000u32.to_be_bytes());
        assert!(header(&far).is_none());
        assert!(parse(b"not a database", None).is_empty());
    }

    #[test]
    fn a_hostile_database_is_not_read() {
        // `Packages` a view that never ends: refused before a row is read, not run.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("rpmdb.sqlite");
        let db = Connection::open(&path).unwrap();
        db.execute_batch(
            "CREATE VIEW Packages AS WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n) \
             SELECT zeroblob(1000) AS blob FROM n;",
        )
        .unwrap();
        drop(db);
        let started = Instant::now();
        assert!(parse(&std::fs::read(&path).unwrap(), None).is_empty());
        assert!(started.elapsed() < Duration::from_secs(5), "{:?}", started.elapsed());
    }
}
