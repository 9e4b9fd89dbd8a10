//! A tar reader that holds every input to bounds: the outer archive and each layer are read
//! through it.
//!
//! It reads ustar, GNU and PAX headers (GNU long names and links, PAX records, base-256 numbers)
//! and the three GNU sparse formats (old GNU `S` headers, PAX 0.0/0.1 maps, PAX 1.0 maps stored
//! before the data), and gives, for each member, where its stored bytes are and how they map
//! onto the file's content. It exists because the reader it replaced (tar-rs) read long names
//! and PAX records into memory whole, expanded sparse files through a reader of zeros however
//! large they claimed to be, and left no way to bound either.
//!
//! Positioning follows the member sizes exactly (the PAX `size` record wins over the header, as
//! in Go's reader, which writes and reads every image): the next header is where the stored
//! bytes end, padded to 512.

use crate::limits::HeaderLimits;
use std::fmt;
use std::io::{self, Read, Seek, SeekFrom};

/// Bytes of a tar block.
pub const BLOCK: u64 = 512;

/// Why a tar stream could not be read.
#[derive(Debug)]
pub enum TarError {
    /// Reading the stream failed (or it ended inside a member).
    Io(io::Error),
    /// The bytes are not a valid tar member.
    Invalid {
        /// Offset of the header in the stream.
        at: u64,
        /// What is wrong.
        what: String,
    },
    /// A header asks for more than the limits allow.
    TooLarge {
        /// Offset of the header in the stream.
        at: u64,
        /// What is too large, with the limit.
        what: String,
    },
}

impl fmt::Display for TarError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TarError::Io(e) => write!(f, "{e}"),
            TarError::Invalid { at, what } => write!(f, "invalid tar header at byte {at}: {what}"),
            TarError::TooLarge { at, what } => write!(f, "tar header at byte {at}: {what}"),
        }
    }
}

impl std::error::Error for TarError {}

impl From<io::Error> for TarError {
    fn from(e: io::Error) -> Self {
        TarError::Io(e)
    }
}

/// What a member is, from its type flag.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Kind {
    /// `0`, NUL, `7` (contiguous) and GNU sparse `S`.
    #[default]
    Regular,
    /// `1`.
    HardLink,
    /// `2`.
    Symlink,
    /// `3`.
    Char,
    /// `4`.
    Block,
    /// `5`.
    Dir,
    /// `6`.
    Fifo,
    /// Anything else (the byte).
    Other(u8),
}

/// One piece of a sparse file's data: `len` stored bytes that belong at `offset` of the file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Chunk {
    /// Where in the file the bytes go.
    pub offset: u64,
    /// How many stored bytes.
    pub len: u64,
}

/// One member, its extension headers applied.
#[derive(Clone, Debug, Default)]
pub struct Member {
    /// Offset of its first header (extension headers included) in the stream.
    pub header_pos: u64,
    /// Offset of its stored data.
    pub data_pos: u64,
    /// Bytes of stored data (for a sparse file, the chunks' bytes only).
    pub stored: u64,
    /// The file's size: `stored`, or a sparse file's real size.
    pub size: u64,
    /// What it is.
    pub kind: Kind,
    /// The type flag as written.
    pub type_flag: u8,
    /// The path as stored (PAX `path`, else a GNU long name, else the header's).
    pub path: Vec<u8>,
    /// The link target as stored (PAX `linkpath`, else a GNU long link, else the header's).
    pub link: Vec<u8>,
    /// Permission bits and the rest of the mode field.
    pub mode: u32,
    /// Owner (PAX `uid` wins).
    pub uid: u64,
    /// Group (PAX `gid` wins).
    pub gid: u64,
    /// Modification time in seconds (PAX `mtime` wins; fractions dropped).
    pub mtime: i64,
    /// Device numbers of a char or block device.
    pub dev: (u32, u32),
    /// For a sparse file, where its stored bytes go, in order.
    pub sparse: Option<Vec<Chunk>>,
}

/// Reads members from a tar stream. `R` seeks (forward) to skip data nobody read.
#[derive(Debug)]
pub struct Reader<R> {
    inner: R,
    /// Offset in the stream of the next byte `inner` gives.
    pos: u64,
    /// Where the next header starts.
    next: u64,
    limits: HeaderLimits,
    /// Data of the current member left to read.
    left: u64,
    done: bool,
    /// The member last returned; its buffers are reused for the next one.
    current: Member,
}

impl<R: Read + Seek> Reader<R> {
    /// Read `inner` from its current position (taken as offset 0).
    pub fn new(inner: R, limits: HeaderLimits) -> Self {
        Reader { inner, pos: 0, next: 0, limits, left: 0, done: false, current: Member::default() }
    }

    /// The stream, positioned after whatever was read last.
    pub fn into_inner(self) -> R {
        self.inner
    }

    /// Offset in the stream where the next header would start (after the last member's data).
    pub fn end_of_members(&self) -> u64 {
        self.next
    }

    /// The next member, or `None` at the end-of-archive blocks (or the end of the stream). Data of
    /// the previous member that was not read is skipped.
    pub fn next_member(&mut self) -> Result<Option<&Member>, TarError> {
        if self.done {
            return Ok(None);
        }
        let mut long_name: Option<Vec<u8>> = None;
        let mut long_link: Option<Vec<u8>> = None;
        let mut pax: Option<Pax> = None;
        let mut first_header: Option<u64> = None;
        loop {
            self.seek_to(self.next)?;
            let at = self.pos;
            let mut block = [0u8; BLOCK as usize];
            if !self.read_block(&mut block)? {
                if first_header.is_some() {
                    return Err(invalid(at, "the archive ends after an extension header, before its member"));
                }
                self.done = true;
                return Ok(None);
            }
            if block.iter().all(|&b| b == 0) {
                if first_header.is_some() {
                    return Err(invalid(at, "an extension header is followed by the end of the archive"));
                }
                self.done = true;
                return Ok(None);
            }
            check_checksum(&block, at)?;
            let header_pos = *first_header.get_or_insert(at);
            let type_flag = block[156];
            let header_size = number(&block[124..136]).ok_or_else(|| invalid(at, "the size field is not a number"))?;
            // PAX `size` describes the member after the PAX header, never an extension header.
            let is_extension = matches!(type_flag, b'L' | b'K' | b'x' | b'g' | b'X');
            let size = match (&pax, is_extension) {
                (Some(p), false) => p.size.unwrap_or(header_size),
                _ => header_size,
            };
            let data_pos = at + BLOCK;
            self.next = data_pos
                .checked_add(
                    size.checked_add(BLOCK - 1).ok_or_else(|| too_large(at, "the size overflows"))? & !(BLOCK - 1),
                )
                .ok_or_else(|| too_large(at, "the size overflows"))?;
            self.left = size;
            match type_flag {
                b'L' => {
                    replace_once(&mut long_name, self.read_extension(at, size, "a GNU long name")?, at, "long name")?;
                    continue;
                }
                b'K' => {
                    replace_once(&mut long_link, self.read_extension(at, size, "a GNU long link")?, at, "long link")?;
                    continue;
                }
                b'x' | b'X' => {
                    let records = self.read_extension(at, size, "PAX records")?;
                    let parsed = Pax::parse(&records).map_err(|what| invalid(at, &what))?;
                    if pax.is_some() {
                        return Err(invalid(at, "two PAX headers describe the same member"));
                    }
                    pax = Some(parsed);
                    continue;
                }
                // Global PAX records set defaults that image writers never rely on: skipped.
                b'g' => continue,
                _ => {}
            }
            let mut member = std::mem::take(&mut self.current);
            let filled = fill_member(
                &mut member,
                &self.limits,
                &block,
                at,
                header_pos,
                size,
                long_name,
                long_link,
                pax.as_ref(),
            );
            member.data_pos = data_pos;
            let sparse = match (filled, type_flag, pax.as_ref().filter(|p| p.is_sparse())) {
                (Err(e), _, _) => Err(e),
                (Ok(()), b'S', _) => self.old_gnu_sparse(&block, &mut member),
                (Ok(()), _, Some(p)) => self.pax_sparse(p, &mut member),
                (Ok(()), _, None) => Ok(()),
            };
            self.current = member;
            sparse?;
            return Ok(Some(&self.current));
        }
    }

    /// An old GNU sparse member (`S`): the map is in the header and extension blocks after it;
    /// the stored data follows them.
    fn old_gnu_sparse(&mut self, block: &[u8; 512], member: &mut Member) -> Result<(), TarError> {
        let at = member.header_pos;
        let real = number(&block[483..495]).ok_or_else(|| invalid(at, "the sparse real size is not a number"))?;
        let mut chunks = Vec::new();
        let mut map_bytes = 0u64;
        let push = |entry: &[u8], chunks: &mut Vec<Chunk>| -> Result<(), TarError> {
            if entry.iter().all(|&b| b == 0) {
                return Ok(());
            }
            let offset = number(&entry[0..12]).ok_or_else(|| invalid(at, "a sparse offset is not a number"))?;
            let len = number(&entry[12..24]).ok_or_else(|| invalid(at, "a sparse length is not a number"))?;
            chunks.push(Chunk { offset, len });
            Ok(())
        };
        for i in 0..4 {
            push(&block[386 + i * 24..410 + i * 24], &mut chunks)?;
        }
        let mut extended = block[482] != 0;
        // The data begins after the extension blocks; the size field counts only the data.
        let mut data_pos = member.data_pos;
        while extended {
            map_bytes += BLOCK;
            if map_bytes > self.limits.extension_bytes {
                return Err(too_large(at, &format!("a sparse map of more than {} bytes", self.limits.extension_bytes)));
            }
            self.seek_to(data_pos)?;
            let mut ext = [0u8; 512];
            if !self.read_block(&mut ext)? {
                return Err(TarError::Io(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "the archive ends inside a sparse map",
                )));
            }
            for i in 0..21 {
                push(&ext[i * 24..(i + 1) * 24], &mut chunks)?;
            }
            extended = ext[504] != 0;
            data_pos += BLOCK;
        }
        member.data_pos = data_pos;
        let stored = member.stored;
        self.next = data_pos
            .checked_add(
                stored.checked_add(BLOCK - 1).ok_or_else(|| too_large(at, "the size overflows"))? & !(BLOCK - 1),
            )
            .ok_or_else(|| too_large(at, "the size overflows"))?;
        self.left = stored;
        finish_sparse(member, chunks, real)
    }

    /// A PAX sparse member: the map is in the records (0.0, 0.1) or at the start of the data (1.0).
    fn pax_sparse(&mut self, pax: &Pax, member: &mut Member) -> Result<(), TarError> {
        let at = member.header_pos;
        if let Some(name) = &pax.sparse_name {
            member.path.clone_from(name);
        }
        let real = pax.sparse_size.ok_or_else(|| invalid(at, "a PAX sparse file without GNU.sparse.size"))?;
        let chunks = if pax.sparse_major == Some(1) {
            // Decimal numbers, one per line, in whole blocks before the data: the count, then
            // offset and length pairs.
            self.seek_to(member.data_pos)?;
            let mut numbers = Vec::new();
            let mut line = Vec::new();
            let mut consumed = 0u64;
            let mut want: Option<u64> = None;
            while want.is_none_or(|n| (numbers.len() as u64) < n.saturating_mul(2).saturating_add(1)) {
                let mut b = [0u8; 512];
                consumed += BLOCK;
                if consumed > self.limits.extension_bytes || consumed > member.stored {
                    return Err(too_large(at, "a PAX sparse map larger than its data or the limit"));
                }
                if !self.read_block(&mut b)? {
                    return Err(TarError::Io(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "the archive ends inside a sparse map",
                    )));
                }
                for &byte in &b {
                    if byte != b'\n' {
                        line.push(byte);
                        if line.len() > 20 {
                            return Err(invalid(at, "a number of the PAX sparse map is too long"));
                        }
                        continue;
                    }
                    let value = std::str::from_utf8(&line)
                        .ok()
                        .and_then(|t| t.parse::<u64>().ok())
                        .ok_or_else(|| invalid(at, "the PAX sparse map holds something other than numbers"))?;
                    line.clear();
                    numbers.push(value);
                    if want.is_none() {
                        want = Some(value);
                    }
                    if want.is_some_and(|n| (numbers.len() as u64) >= n.saturating_mul(2).saturating_add(1)) {
                        break;
                    }
                }
            }
            member.data_pos += consumed;
            member.stored -= consumed;
            self.left = member.stored;
            numbers[1..].chunks(2).map(|p| Chunk { offset: p[0], len: p.get(1).copied().unwrap_or(0) }).collect()
        } else {
            pax.sparse_map.clone()
        };
        finish_sparse(member, chunks, real)
    }

    /// Read an extension header's data (a long name, PAX records), refusing more than the limit.
    fn read_extension(&mut self, at: u64, size: u64, what: &str) -> Result<Vec<u8>, TarError> {
        if size > self.limits.extension_bytes {
            return Err(too_large(
                at,
                &format!("{what} of {size} bytes (the limit is {} bytes)", self.limits.extension_bytes),
            ));
        }
        let mut data = vec![0u8; usize::try_from(size).unwrap_or(0)];
        self.read_exact_data(&mut data)?;
        Ok(data)
    }

    /// Read the current member's data.
    pub fn read_data(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.left == 0 || buf.is_empty() {
            return Ok(0);
        }
        let want = buf.len().min(usize::try_from(self.left).unwrap_or(usize::MAX));
        let n = self.inner.read(&mut buf[..want])?;
        if n == 0 {
            return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "the archive ends inside a member"));
        }
        self.pos += n as u64;
        self.left -= n as u64;
        Ok(n)
    }

    fn read_exact_data(&mut self, mut buf: &mut [u8]) -> io::Result<()> {
        while !buf.is_empty() {
            let n = self.read_data(buf)?;
            if n == 0 {
                return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "the archive ends inside a member"));
            }
            buf = &mut buf[n..];
        }
        Ok(())
    }

    /// Read one whole block; `false` at a clean end of stream (no byte of it).
    fn read_block(&mut self, block: &mut [u8; 512]) -> io::Result<bool> {
        let mut filled = 0;
        while filled < block.len() {
            match self.inner.read(&mut block[filled..]) {
                Ok(0) => break,
                Ok(n) => filled += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        self.pos += filled as u64;
        match filled {
            0 => Ok(false),
            512 => Ok(true),
            _ => Err(io::Error::new(io::ErrorKind::UnexpectedEof, "the archive ends inside a tar header")),
        }
    }

    /// Move forward to `offset` (by seeking: the stream may be a forward-only decoder).
    fn seek_to(&mut self, offset: u64) -> io::Result<()> {
        if offset != self.pos {
            let delta = offset
                .checked_sub(self.pos)
                .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "a tar member cannot be read backwards"))?;
            let delta = i64::try_from(delta).map_err(|_| io::Error::other("a tar member is too large to skip"))?;
            self.inner.seek(SeekFrom::Current(delta))?;
            self.pos = offset;
        }
        self.left = 0;
        Ok(())
    }
}

impl<R: Read + Seek> Read for Reader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.read_data(buf)
    }
}

/// Fill `member` from its header block and the extensions before it, reusing its buffers.
#[allow(clippy::too_many_arguments)]
fn fill_member(
    member: &mut Member,
    limits: &HeaderLimits,
    block: &[u8; 512],
    at: u64,
    header_pos: u64,
    size: u64,
    long_name: Option<Vec<u8>>,
    long_link: Option<Vec<u8>>,
    pax: Option<&Pax>,
) -> Result<(), TarError> {
    let type_flag = block[156];
    let ustar = &block[257..263] == b"ustar\0";
    let gnu = &block[257..263] == b"ustar ";
    let path = &mut member.path;
    path.clear();
    match (pax.and_then(|p| p.path.as_deref()), long_name) {
        (Some(p), _) => path.extend_from_slice(p),
        // GNU long names end in NUL.
        (None, Some(l)) => path.extend_from_slice(field(&l)),
        (None, None) => {
            let prefix = if ustar { field(&block[345..500]) } else { &[] };
            if !prefix.is_empty() {
                path.extend_from_slice(prefix);
                path.push(b'/');
            }
            path.extend_from_slice(field(&block[0..100]));
        }
    }
    let link = &mut member.link;
    link.clear();
    match (pax.and_then(|p| p.linkpath.as_deref()), long_link) {
        (Some(l), _) => link.extend_from_slice(l),
        (None, Some(l)) => link.extend_from_slice(field(&l)),
        (None, None) => link.extend_from_slice(field(&block[157..257])),
    }
    if member.path.len() > limits.path_bytes {
        let start = String::from_utf8_lossy(&member.path[..64]).into_owned();
        return Err(too_large(at, &format!("a path of more than {} bytes (it starts {start})", limits.path_bytes)));
    }
    if member.link.len() > limits.path_bytes {
        return Err(too_large(at, &format!("a link target of more than {} bytes", limits.path_bytes)));
    }
    let num = |range: std::ops::Range<usize>, what: &str| {
        number(&block[range]).ok_or_else(|| invalid(at, &format!("the {what} field is not a number")))
    };
    member.mode = u32::try_from(num(100..108, "mode")? & 0o7777_7777).unwrap_or(0);
    member.uid = pax.and_then(|p| p.uid).map_or_else(|| num(108..116, "uid"), Ok)?;
    member.gid = pax.and_then(|p| p.gid).map_or_else(|| num(116..124, "gid"), Ok)?;
    member.mtime = match pax.and_then(|p| p.mtime) {
        Some(t) => t,
        None => signed_number(&block[136..148]).ok_or_else(|| invalid(at, "the mtime field is not a number"))?,
    };
    member.dev = if (ustar || gnu) && matches!(type_flag, b'3' | b'4') {
        let d = |r: std::ops::Range<usize>| number(&block[r]).map_or(0, |v| u32::try_from(v).unwrap_or(u32::MAX));
        (d(329..337), d(337..345))
    } else {
        (0, 0)
    };
    member.kind = match type_flag {
        b'0' | b'\0' | b'7' | b'S' => Kind::Regular,
        b'1' => Kind::HardLink,
        b'2' => Kind::Symlink,
        b'3' => Kind::Char,
        b'4' => Kind::Block,
        b'5' => Kind::Dir,
        b'6' => Kind::Fifo,
        other => Kind::Other(other),
    };
    member.header_pos = header_pos;
    member.stored = size;
    member.size = size;
    member.type_flag = type_flag;
    member.sparse = None;
    Ok(())
}

/// Check the chunks of a sparse member and settle its sizes.
fn finish_sparse(member: &mut Member, chunks: Vec<Chunk>, real: u64) -> Result<(), TarError> {
    let at = member.header_pos;
    let mut end = 0u64;
    let mut stored = 0u64;
    for c in &chunks {
        if c.offset < end {
            return Err(invalid(at, "the sparse map's chunks overlap or are out of order"));
        }
        end = c.offset.checked_add(c.len).ok_or_else(|| invalid(at, "a sparse chunk ends past 2^64"))?;
        stored = stored.checked_add(c.len).ok_or_else(|| invalid(at, "the sparse chunks overflow"))?;
    }
    if end > real {
        return Err(invalid(at, &format!("the sparse map reaches byte {end} of a {real}-byte file")));
    }
    if stored != member.stored {
        return Err(invalid(
            at,
            &format!("the sparse map lists {stored} bytes of data but {} are stored", member.stored),
        ));
    }
    member.size = real;
    member.sparse = Some(chunks.into_iter().filter(|c| c.len > 0).collect());
    Ok(())
}

/// The PAX records a member uses.
#[derive(Debug, Default)]
struct Pax {
    path: Option<Vec<u8>>,
    linkpath: Option<Vec<u8>>,
    size: Option<u64>,
    uid: Option<u64>,
    gid: Option<u64>,
    mtime: Option<i64>,
    sparse_major: Option<u64>,
    sparse_size: Option<u64>,
    sparse_name: Option<Vec<u8>>,
    /// 0.0's repeated offset/numbytes records and 0.1's map, as chunks.
    sparse_map: Vec<Chunk>,
    sparse_offsets: bool,
}

impl Pax {
    /// Parse `LEN KEY=VALUE\n` records.
    fn parse(mut data: &[u8]) -> Result<Pax, String> {
        let mut pax = Pax::default();
        let mut pending_offset: Option<u64> = None;
        while !data.is_empty() {
            // Trailing NUL padding is not a record.
            if data.iter().all(|&b| b == 0) {
                break;
            }
            let space = data.iter().position(|&b| b == b' ').ok_or("a PAX record has no length")?;
            let len: usize = std::str::from_utf8(&data[..space])
                .ok()
                .and_then(|t| t.parse().ok())
                .filter(|&n| n > space + 1 && n <= data.len())
                .ok_or("a PAX record has a bad length")?;
            let record = &data[space + 1..len];
            data = &data[len..];
            let record = record.strip_suffix(b"\n").ok_or("a PAX record does not end with a newline")?;
            let eq = record.iter().position(|&b| b == b'=').ok_or("a PAX record has no '='")?;
            let (key, value) = (&record[..eq], &record[eq + 1..]);
            let text = || std::str::from_utf8(value).ok().map(str::trim);
            let num = || text().and_then(|t| t.parse::<u64>().ok());
            match key {
                b"path" => pax.path = Some(value.to_vec()),
                b"linkpath" => pax.linkpath = Some(value.to_vec()),
                b"size" => pax.size = Some(num().ok_or("the PAX size is not a number")?),
                b"uid" => pax.uid = num(),
                b"gid" => pax.gid = num(),
                b"mtime" => pax.mtime = text().and_then(parse_pax_time),
                b"GNU.sparse.major" => pax.sparse_major = num(),
                b"GNU.sparse.size" | b"GNU.sparse.realsize" => pax.sparse_size = num(),
                b"GNU.sparse.name" => pax.sparse_name = Some(value.to_vec()),
                b"GNU.sparse.offset" => {
                    pax.sparse_offsets = true;
                    pending_offset = Some(num().ok_or("a GNU.sparse.offset is not a number")?);
                }
                b"GNU.sparse.numbytes" => {
                    let len = num().ok_or("a GNU.sparse.numbytes is not a number")?;
                    let offset = pending_offset.take().ok_or("GNU.sparse.numbytes without an offset")?;
                    pax.sparse_map.push(Chunk { offset, len });
                }
                b"GNU.sparse.map" => {
                    pax.sparse_offsets = true;
                    let numbers: Option<Vec<u64>> = text()
                        .ok_or("the GNU.sparse.map is not text")?
                        .split(',')
                        .filter(|s| !s.is_empty())
                        .map(|s| s.trim().parse().ok())
                        .collect();
                    let numbers = numbers.ok_or("the GNU.sparse.map holds something other than numbers")?;
                    if numbers.len() % 2 != 0 {
                        return Err("the GNU.sparse.map has an odd count of numbers".into());
                    }
                    pax.sparse_map = numbers.chunks(2).map(|p| Chunk { offset: p[0], len: p[1] }).collect();
                }
                _ => {}
            }
        }
        Ok(pax)
    }

    fn is_sparse(&self) -> bool {
        self.sparse_major.is_some() || self.sparse_offsets
    }
}

/// PAX times are decimal seconds, possibly fractional or negative.
fn parse_pax_time(v: &str) -> Option<i64> {
    v.split('.').next()?.parse().ok()
}

/// Only one of a kind of extension header may describe a member.
fn replace_once(slot: &mut Option<Vec<u8>>, value: Vec<u8>, at: u64, what: &str) -> Result<(), TarError> {
    if slot.is_some() {
        return Err(invalid(at, &format!("two {what} headers describe the same member")));
    }
    *slot = Some(value);
    Ok(())
}

/// A header text field: up to the first NUL.
fn field(bytes: &[u8]) -> &[u8] {
    let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
    &bytes[..end]
}

/// A numeric field: octal text (spaces and NULs around it), or GNU's base-256 when the first
/// byte has its high bit set.
fn number(bytes: &[u8]) -> Option<u64> {
    if let Some(&first) = bytes.first()
        && first & 0x80 != 0
    {
        if first == 0xff {
            return None; // negative
        }
        let mut v: u64 = u64::from(first & 0x7f);
        for &b in &bytes[1..] {
            v = v.checked_mul(256)?.checked_add(u64::from(b))?;
        }
        return Some(v);
    }
    // Octal digits, with spaces and NULs around them (every header has six such fields).
    let text = field(bytes);
    let start = text.iter().position(|&b| b != b' ').unwrap_or(text.len());
    let end = text.iter().rposition(|&b| b != b' ').map_or(start, |i| i + 1);
    let mut v: u64 = 0;
    for &b in &text[start..end] {
        if !(b'0'..=b'7').contains(&b) {
            return None;
        }
        v = v.checked_mul(8)?.checked_add(u64::from(b - b'0'))?;
    }
    Some(v)
}

/// A numeric field that may be negative in base-256 (times before 1970).
fn signed_number(bytes: &[u8]) -> Option<i64> {
    if bytes.first() == Some(&0xff) {
        // Two's complement over the whole field: start from all ones and shift the bytes in.
        let mut v: i64 = -1;
        for &b in &bytes[1..] {
            v = v.checked_mul(256)?.checked_add(i64::from(b))?;
        }
        return Some(v);
    }
    number(bytes).map(|v| i64::try_from(v).unwrap_or(i64::MAX))
}

/// The checksum: the sum of the header's bytes with the checksum field as spaces, unsigned (as
/// POSIX says) or signed (as some old writers computed it).
fn check_checksum(block: &[u8; 512], at: u64) -> Result<(), TarError> {
    let stored = number(&block[148..156]).ok_or_else(|| invalid(at, "the checksum is not a number"))?;
    let spaces = 8 * u64::from(b' ');
    let unsigned: u64 = block[..148].iter().chain(&block[156..]).map(|&b| u64::from(b)).sum::<u64>() + spaces;
    if stored == unsigned {
        return Ok(());
    }
    let signed: i64 =
        block[..148].iter().chain(&block[156..]).map(|&b| i64::from(b as i8)).sum::<i64>() + spaces as i64;
    if i64::try_from(stored).is_ok_and(|s| s == signed) {
        Ok(())
    } else {
        Err(invalid(at, "the header checksum does not match (not a tar archive, or a corrupt one)"))
    }
}

fn invalid(at: u64, what: &str) -> TarError {
    TarError::Invalid { at, what: what.to_string() }
}

fn too_large(at: u64, what: &str) -> TarError {
    TarError::TooLarge { at, what: what.to_string() }
}

/// A sparse file's content: zeros for its holes, its stored chunks where they go.
#[derive(Debug)]
pub struct SparseReader<R> {
    inner: R,
    chunks: Vec<Chunk>,
    size: u64,
    /// Offset in the file of the next byte given.
    pos: u64,
    /// Index of the chunk at or after `pos`.
    next_chunk: usize,
}

impl<R: Read> SparseReader<R> {
    /// The content of a sparse file of `size` bytes whose stored chunks `inner` gives in order.
    pub fn new(inner: R, chunks: Vec<Chunk>, size: u64) -> Self {
        SparseReader { inner, chunks, size, pos: 0, next_chunk: 0 }
    }
}

impl<R: Read> Read for SparseReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.pos >= self.size || buf.is_empty() {
            return Ok(0);
        }
        let room = |n: u64| usize::try_from(n).unwrap_or(usize::MAX).min(buf.len());
        match self.chunks.get(self.next_chunk).copied() {
            Some(c) if self.pos >= c.offset => {
                let want = room(c.offset + c.len - self.pos);
                let n = self.inner.read(&mut buf[..want])?;
                if n == 0 {
                    return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "the archive ends inside a sparse file"));
                }
                self.pos += n as u64;
                if self.pos == c.offset + c.len {
                    self.next_chunk += 1;
                }
                Ok(n)
            }
            next => {
                // A hole, up to the next chunk or the end of the file.
                let hole_end = next.map_or(self.size, |c| c.offset);
                let n = room(hole_end - self.pos);
                buf[..n].fill(0);
                self.pos += n as u64;
                Ok(n)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn negative_base_256_times() {
        let mut field = [0xffu8; 12];
        assert_eq!(signed_number(&field), Some(-1));
        field[11] = 0xfe;
        assert_eq!(signed_number(&field), Some(-2));
        assert_eq!(signed_number(b"00000000017\0"), Some(0o17));
    }

    #[test]
    fn numbers_in_octal_and_base_256() {
        assert_eq!(number(b"0000644\0"), Some(0o644));
        assert_eq!(number(b"  755 \0"), Some(0o755));
        assert_eq!(number(b"\0\0\0\0"), Some(0));
        assert_eq!(number(&[0x80, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0]), Some(1 << 32));
        assert_eq!(number(b"12x"), None);
        assert_eq!(number(&[0xff; 12]), None);
    }

    /// A PAX record with its length prefix computed.
    fn record(key: &str, value: &str) -> Vec<u8> {
        let body = format!(" {key}={value}\n");
        let mut len = body.len() + 1;
        while format!("{len}{body}").len() != len {
            len += 1;
        }
        format!("{len}{body}").into_bytes()
    }

    #[test]
    fn pax_records_parse_and_bad_ones_are_refused() {
        let data = [record("path", "a/b/cdef"), record("size", "100"), record("mtime", "1700000000.5")].concat();
        let p = Pax::parse(&data).unwrap();
        assert_eq!(p.path.as_deref(), Some(&b"a/b/cdef"[..]));
        assert_eq!(p.size, Some(100));
        assert_eq!(p.mtime, Some(1_700_000_000));
        assert!(Pax::parse(b"99 path=x\n").is_err(), "a length past the end");
        assert!(Pax::parse(b"9 pathx\n").is_err(), "no =");
        assert!(Pax::parse(b"abc path=x\n").is_err());
        let p = Pax::parse(&record("GNU.sparse.map", "0,5,10,3")).unwrap();
        assert_eq!(p.sparse_map, [Chunk { offset: 0, len: 5 }, Chunk { offset: 10, len: 3 }]);
    }

    #[test]
    fn sparse_content_fills_holes_with_zeros() {
        let chunks = vec![Chunk { offset: 2, len: 3 }, Chunk { offset: 8, len: 1 }];
        let mut r = SparseReader::new(&b"abcd"[..], chunks, 12);
        let mut out = Vec::new();
        r.read_to_end(&mut out).unwrap();
        assert_eq!(out, b"\0\0abc\0\0\0d\0\0\0");
    }
}
