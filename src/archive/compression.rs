//! Compression detection by magic bytes. Names and media types lie (kaniko writes `.tar.gz` into
//! "docker" archives, Docker 25 names uncompressed blobs by digest), so the bytes decide.

use std::fmt;
use std::io::{self, BufRead, Read};

use serde::{Deserialize, Serialize};

/// How a blob is stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Compression {
    /// A plain tar stream.
    #[serde(rename = "uncompressed")]
    None,
    /// gzip (also eStargz, which is a valid multi-member gzip stream).
    Gzip,
    /// zstd (also zstd:chunked).
    Zstd,
    /// A zero-length blob: an empty layer.
    Empty,
}

impl fmt::Display for Compression {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Compression::None => "uncompressed",
            Compression::Gzip => "gzip",
            Compression::Zstd => "zstd",
            Compression::Empty => "empty",
        })
    }
}

/// What the first bytes of a blob say it is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sniffed {
    /// A layer stream we can read.
    Layer(Compression),
    /// Something else, with a human name ("bzip2", "JSON", ...).
    Other(&'static str),
}

/// Classify a blob by its first bytes (up to 512 are looked at).
pub fn sniff(head: &[u8]) -> Sniffed {
    match head {
        [] => Sniffed::Layer(Compression::Empty),
        [0x1f, 0x8b, ..] => Sniffed::Layer(Compression::Gzip),
        [0x28, 0xb5, 0x2f, 0xfd, ..] => Sniffed::Layer(Compression::Zstd),
        // A zstd skippable frame (0x184D2A50..=0x184D2A5F, little endian) may lead a zstd stream.
        [b, 0x2a, 0x4d, 0x18, ..] if b & 0xf0 == 0x50 => Sniffed::Layer(Compression::Zstd),
        [b'B', b'Z', b'h', ..] => Sniffed::Other("bzip2-compressed data"),
        [0xfd, b'7', b'z', b'X', b'Z', 0x00, ..] => Sniffed::Other("xz-compressed data"),
        [0x04, 0x22, 0x4d, 0x18, ..] => Sniffed::Other("lz4-compressed data"),
        _ if is_tar_header(head) => Sniffed::Layer(Compression::None),
        // Some writers pad an empty layer with only the two zero end-of-archive blocks.
        _ if head.iter().all(|&b| b == 0) => Sniffed::Layer(Compression::None),
        _ if head.iter().find(|b| !b.is_ascii_whitespace()).is_some_and(|&b| b == b'{' || b == b'[') => {
            Sniffed::Other("JSON")
        }
        _ => Sniffed::Other("data that is neither a tar archive nor gzip- or zstd-compressed"),
    }
}

/// Whether `head` starts with a tar header: "ustar" magic, or (old v7 archives) a valid checksum.
pub fn is_tar_header(head: &[u8]) -> bool {
    if head.len() < 512 {
        return false;
    }
    if &head[257..262] == b"ustar" {
        return true;
    }
    let stored = parse_octal(&head[148..156]);
    let computed: u64 = head[..512]
        .iter()
        .enumerate()
        .map(|(i, &b)| if (148..156).contains(&i) { u64::from(b' ') } else { u64::from(b) })
        .sum();
    stored == Some(computed) && head[0] != 0
}

fn parse_octal(field: &[u8]) -> Option<u64> {
    let text = field.iter().skip_while(|&&b| b == b' ').take_while(|&&b| (b'0'..=b'7').contains(&b));
    let mut value: u64 = 0;
    let mut digits = 0;
    for &b in text {
        value = value.checked_mul(8)?.checked_add(u64::from(b - b'0'))?;
        digits += 1;
    }
    (digits > 0).then_some(value)
}

/// Peek at up to 512 bytes of a buffered reader without consuming them.
pub fn peek_head<R: BufRead>(reader: &mut R) -> io::Result<Vec<u8>> {
    // fill_buf may return fewer bytes than are available; that is fine for every magic but tar's,
    // and the buffers we use are far larger than 512 bytes.
    let buf = reader.fill_buf()?;
    Ok(buf[..buf.len().min(512)].to_vec())
}

/// Wrap `reader` in the decompressor `compression` calls for.
pub fn decoder<'a, R: BufRead + 'a>(reader: R, compression: Compression) -> io::Result<Box<dyn Read + 'a>> {
    Ok(match compression {
        Compression::None | Compression::Empty => Box::new(reader),
        // MultiGzDecoder: eStargz and pigz output are several gzip members back to back.
        Compression::Gzip => Box::new(flate2::bufread::MultiGzDecoder::new(reader)),
        Compression::Zstd => Box::new(zstd::stream::read::Decoder::with_buffer(reader)?),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sniffs_magic_bytes() {
        assert_eq!(sniff(&[]), Sniffed::Layer(Compression::Empty));
        assert_eq!(sniff(&[0x1f, 0x8b, 8, 0]), Sniffed::Layer(Compression::Gzip));
        assert_eq!(sniff(&[0x28, 0xb5, 0x2f, 0xfd, 0]), Sniffed::Layer(Compression::Zstd));
        assert_eq!(sniff(&[0x50, 0x2a, 0x4d, 0x18, 0]), Sniffed::Layer(Compression::Zstd));
        assert_eq!(sniff(b"BZh91AY"), Sniffed::Other("bzip2-compressed data"));
        assert_eq!(sniff(b"  {\"a\":1}"), Sniffed::Other("JSON"));
        assert_eq!(sniff(&[0u8; 1024]), Sniffed::Layer(Compression::None));
    }

    #[test]
    fn recognises_ustar_and_v7_headers() {
        let mut header = tar::Header::new_ustar();
        header.set_path("a").unwrap();
        header.set_size(0);
        header.set_cksum();
        assert!(is_tar_header(header.as_bytes()));

        let mut old = tar::Header::new_old();
        old.set_path("a").unwrap();
        old.set_size(0);
        old.set_cksum();
        assert!(is_tar_header(old.as_bytes()));

        let mut broken = *old.as_bytes();
        broken[0] = b'b';
        assert!(!is_tar_header(&broken));
    }
}
