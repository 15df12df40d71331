//! Windows-1252 decoded to UTF-8 as a stream that can seek, so a windows-1252
//! CSV goes through the same streaming parser (and its quote scan and resync,
//! which seek) as a UTF-8 one, and never sits in memory whole.
//!
//! Every byte maps to one character of one to three UTF-8 bytes (the WHATWG
//! mapping `encoding_rs` uses: 0x81, 0x8D, 0x8F, 0x90 and 0x9D become the C1
//! controls of the same number). Offsets are those of the decoded text. One
//! pass over the file at the start gives the decoded length and a checkpoint
//! per 64 KiB of input, so a seek decodes at most 64 KiB again.

use std::io::{Read, Seek, SeekFrom};
use std::sync::OnceLock;

/// Raw bytes between checkpoints.
const STEP: usize = 64 * 1024;

/// UTF-8 form of each windows-1252 byte: its length and bytes.
fn table() -> &'static [(u8, [u8; 3]); 256] {
    static TABLE: OnceLock<[(u8, [u8; 3]); 256]> = OnceLock::new();
    TABLE.get_or_init(|| {
        let mut t = [(0u8, [0u8; 3]); 256];
        for (b, slot) in t.iter_mut().enumerate() {
            let byte = [b as u8];
            let (text, _) = encoding_rs::WINDOWS_1252.decode_without_bom_handling(&byte);
            let utf8 = text.as_bytes();
            let mut out = [0u8; 3];
            out[..utf8.len()].copy_from_slice(utf8);
            *slot = (utf8.len() as u8, out);
        }
        t
    })
}

/// A windows-1252 source read as UTF-8.
pub(crate) struct Cp1252<R> {
    inner: R,
    /// (raw offset, decoded offset) at every [`STEP`] raw bytes, from (0, 0).
    checkpoints: Vec<(u64, u64)>,
    /// Decoded length of the whole source.
    len: u64,
    /// Decoded offset of the next byte [`Read::read`] returns.
    pos: u64,
    raw: Box<[u8]>,
    raw_at: usize,
    raw_end: usize,
    /// The rest of a character that did not fit the caller's buffer.
    pending: [u8; 3],
    pending_at: usize,
    pending_end: usize,
}

impl<R: Read + Seek> Cp1252<R> {
    /// Reads the source once to index it, then rewinds it.
    pub(crate) fn new(mut inner: R) -> std::io::Result<Cp1252<R>> {
        let t = table();
        inner.rewind()?;
        let mut checkpoints = vec![(0, 0)];
        let mut raw = vec![0u8; STEP].into_boxed_slice();
        let (mut raw_off, mut len) = (0u64, 0u64);
        loop {
            // Fill a whole step, so checkpoints fall every STEP raw bytes.
            let mut n = 0;
            while n < STEP {
                match inner.read(&mut raw[n..]) {
                    Ok(0) => break,
                    Ok(k) => n += k,
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(e),
                }
            }
            len += raw[..n]
                .iter()
                .map(|&b| u64::from(t[b as usize].0))
                .sum::<u64>();
            raw_off += n as u64;
            if n < STEP {
                break;
            }
            checkpoints.push((raw_off, len));
        }
        inner.rewind()?;
        Ok(Cp1252 {
            inner,
            checkpoints,
            len,
            pos: 0,
            raw,
            raw_at: 0,
            raw_end: 0,
            pending: [0; 3],
            pending_at: 0,
            pending_end: 0,
        })
    }
}

impl<R: Read> Read for Cp1252<R> {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        let t = table();
        let mut n = 0;
        while n < out.len() {
            if self.pending_at < self.pending_end {
                out[n] = self.pending[self.pending_at];
                self.pending_at += 1;
                n += 1;
                continue;
            }
            if self.raw_at == self.raw_end {
                if n > 0 {
                    break;
                }
                self.raw_end = loop {
                    match self.inner.read(&mut self.raw) {
                        Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                        other => break other?,
                    }
                };
                self.raw_at = 0;
                if self.raw_end == 0 {
                    break;
                }
            }
            // ASCII runs are copied as they are.
            let room = out.len() - n;
            let ascii = self.raw[self.raw_at..self.raw_end]
                .iter()
                .take(room)
                .take_while(|b| b.is_ascii())
                .count();
            if ascii > 0 {
                out[n..n + ascii].copy_from_slice(&self.raw[self.raw_at..self.raw_at + ascii]);
                n += ascii;
                self.raw_at += ascii;
                continue;
            }
            let (len, bytes) = t[self.raw[self.raw_at] as usize];
            self.raw_at += 1;
            self.pending = bytes;
            self.pending_at = 0;
            self.pending_end = len as usize;
        }
        self.pos += n as u64;
        Ok(n)
    }
}

impl<R: Read + Seek> Seek for Cp1252<R> {
    fn seek(&mut self, to: SeekFrom) -> std::io::Result<u64> {
        let target = match to {
            SeekFrom::Start(t) => Some(t),
            SeekFrom::End(d) => self.len.checked_add_signed(d),
            SeekFrom::Current(0) => return Ok(self.pos),
            SeekFrom::Current(d) => self.pos.checked_add_signed(d),
        }
        .ok_or_else(|| {
            std::io::Error::new(std::io::ErrorKind::InvalidInput, "seek before the start")
        })?;
        let at = self.checkpoints.partition_point(|&(_, dec)| dec <= target) - 1;
        let (raw, dec) = self.checkpoints[at];
        self.inner.seek(SeekFrom::Start(raw))?;
        self.pos = dec;
        self.raw_at = 0;
        self.raw_end = 0;
        self.pending_at = 0;
        self.pending_end = 0;
        let mut skip = [0u8; 4096];
        while self.pos < target {
            let want = usize::try_from(target - self.pos).map_or(skip.len(), |w| w.min(skip.len()));
            if self.read(&mut skip[..want])? == 0 {
                break;
            }
        }
        Ok(self.pos)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    fn all(r: &mut impl Read, buf_len: usize) -> Vec<u8> {
        let mut out = Vec::new();
        let mut buf = vec![0u8; buf_len];
        loop {
            let n = r.read(&mut buf).unwrap();
            if n == 0 {
                return out;
            }
            out.extend_from_slice(&buf[..n]);
        }
    }

    #[test]
    fn decodes_like_encoding_rs_whatever_the_buffer_size() {
        let raw: Vec<u8> = (0..=255u8).cycle().take(3 * STEP + 17).collect();
        let (want, _) = encoding_rs::WINDOWS_1252.decode_without_bom_handling(&raw);
        for buf in [1, 2, 3, 7, 4096, 1 << 20] {
            let mut d = Cp1252::new(Cursor::new(&raw)).unwrap();
            assert_eq!(d.seek(SeekFrom::End(0)).unwrap(), want.len() as u64);
            d.rewind().unwrap();
            assert_eq!(all(&mut d, buf), want.as_bytes(), "buffer {buf}");
        }
    }

    #[test]
    fn seeks_to_any_decoded_offset_even_inside_a_character() {
        let raw: Vec<u8> = (0..=255u8).rev().cycle().take(2 * STEP + 5).collect();
        let (want, _) = encoding_rs::WINDOWS_1252.decode_without_bom_handling(&raw);
        let want = want.as_bytes();
        let mut d = Cp1252::new(Cursor::new(&raw)).unwrap();
        for target in [
            0u64,
            1,
            200,
            STEP as u64 - 1,
            STEP as u64 + 3,
            want.len() as u64 - 2,
            want.len() as u64,
        ] {
            assert_eq!(d.seek(SeekFrom::Start(target)).unwrap(), target);
            assert_eq!(d.stream_position().unwrap(), target);
            let rest = all(&mut d, 5);
            assert_eq!(rest, &want[target as usize..], "from {target}");
        }
        assert_eq!(d.seek(SeekFrom::End(0)).unwrap(), want.len() as u64);
    }
}
