//! Transport compression: `compress=zlib-stream` and `compress=zstd-stream`.
//!
//! As Discord does (<https://discord.com/developers/docs/events/gateway#transport-compression>),
//! one compression context lives for the whole connection and is flushed after every message,
//! so each binary frame holds exactly one complete payload (zlib frames end in `00 00 ff ff`).

use std::io::Write;

use flate2::Compression as Level;
use flate2::write::ZlibEncoder;

/// Transport compression asked for in the connection URL's `compress` query parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
pub enum Compression {
    /// Plain text frames.
    #[default]
    None,
    /// `zlib-stream`: one zlib stream, sync-flushed per message.
    ZlibStream,
    /// `zstd-stream`: one zstd stream, flushed per message.
    ZstdStream,
}

impl Compression {
    /// Parses the `compress` query value; unknown values mean no compression.
    pub fn from_query(value: Option<&str>) -> Self {
        match value {
            Some("zlib-stream") => Self::ZlibStream,
            Some("zstd-stream") => Self::ZstdStream,
            _ => Self::None,
        }
    }
}

/// A connection's compression context.
pub(crate) enum Compressor {
    None,
    Zlib(ZlibEncoder<Vec<u8>>),
    Zstd(Box<zstd::stream::write::Encoder<'static, Vec<u8>>>),
}

impl std::fmt::Debug for Compressor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = match self {
            Self::None => "none",
            Self::Zlib(_) => "zlib-stream",
            Self::Zstd(_) => "zstd-stream",
        };
        f.write_str(kind)
    }
}

impl Compressor {
    /// A fresh context for a connection.
    pub(crate) fn new(kind: Compression) -> std::io::Result<Self> {
        Ok(match kind {
            Compression::None => Self::None,
            Compression::ZlibStream => Self::Zlib(ZlibEncoder::new(Vec::new(), Level::fast())),
            Compression::ZstdStream => {
                Self::Zstd(Box::new(zstd::stream::write::Encoder::new(Vec::new(), 1)?))
            }
        })
    }

    /// Compresses one payload; `None` if the connection is not compressed.
    pub(crate) fn compress(&mut self, text: &[u8]) -> std::io::Result<Option<Vec<u8>>> {
        match self {
            Self::None => Ok(None),
            Self::Zlib(enc) => {
                enc.write_all(text)?;
                enc.flush()?;
                Ok(Some(std::mem::take(enc.get_mut())))
            }
            Self::Zstd(enc) => {
                enc.write_all(text)?;
                enc.flush()?;
                Ok(Some(std::mem::take(enc.get_mut())))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    #[test]
    fn zlib_stream_frames_end_with_sync_flush_suffix() {
        let mut c = Compressor::new(Compression::ZlibStream).unwrap();
        let a = c.compress(b"{\"op\":11}").unwrap().unwrap();
        let b = c.compress(b"{\"op\":11,\"d\":null}").unwrap().unwrap();
        assert!(a.ends_with(&[0, 0, 0xff, 0xff]));
        assert!(b.ends_with(&[0, 0, 0xff, 0xff]));
        let mut all = a.clone();
        all.extend_from_slice(&b);
        let mut out = Vec::new();
        let mut d = flate2::read::ZlibDecoder::new(&all[..]);
        let _ = d.read_to_end(&mut out);
        assert_eq!(out, b"{\"op\":11}{\"op\":11,\"d\":null}");
    }
}
