//! A bounds check of a Parquet file's footer before polars decodes it.
//!
//! polars' Thrift decoder sizes each list by the count the file claims
//! (`Vec::with_capacity(n)`), so a 626-byte file claiming a list of a billion
//! structs asks for 47 GB and the allocator aborts the process: no panic to
//! catch, and every other file of the run loses its outputs (fuzz finding 5,
//! fuzz/FINDINGS.md). This walks the footer's Thrift compact encoding without
//! allocating and refuses any list, map or binary that claims more elements
//! or bytes than the footer has left, since each element takes at least one
//! byte. What passes can cost polars at most a small multiple of the footer.

use std::io::{Read, Seek, SeekFrom};

/// Deeper nesting than any Parquet schema writes; stops a stack of
/// empty structs from recursing without end.
const MAX_DEPTH: usize = 64;

/// Checks the footer of the Parquet file in `r`: its length word, its
/// magic, and every count in its metadata. The error says what is wrong.
pub(super) fn check<R: Read + Seek>(r: &mut R) -> Result<(), String> {
    let size = r.seek(SeekFrom::End(0)).map_err(|e| e.to_string())?;
    if size < 12 {
        return Err(format!("{size} bytes is too short for a Parquet file"));
    }
    let mut tail = [0u8; 8];
    r.seek(SeekFrom::End(-8)).map_err(|e| e.to_string())?;
    r.read_exact(&mut tail).map_err(|e| e.to_string())?;
    if &tail[4..] != b"PAR1" {
        return Err("no PAR1 magic at the end".into());
    }
    let len = u64::from(u32::from_le_bytes([tail[0], tail[1], tail[2], tail[3]]));
    if len + 12 > size {
        return Err(format!(
            "its footer claims {len} bytes of metadata in a file of {size} bytes"
        ));
    }
    let mut footer = vec![0u8; len as usize];
    r.seek(SeekFrom::End(-8 - len as i64))
        .map_err(|e| e.to_string())?;
    r.read_exact(&mut footer).map_err(|e| e.to_string())?;
    let mut walk = Walk {
        bytes: &footer,
        at: 0,
    };
    walk.structure(0)
        .map_err(|e| format!("its metadata at byte {} of the footer: {e}", walk.at))
}

/// A cursor over Thrift compact bytes.
struct Walk<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl Walk<'_> {
    fn left(&self) -> usize {
        self.bytes.len() - self.at
    }

    fn byte(&mut self) -> Result<u8, String> {
        let b = *self.bytes.get(self.at).ok_or("ends early")?;
        self.at += 1;
        Ok(b)
    }

    fn skip(&mut self, n: usize) -> Result<(), String> {
        if n > self.left() {
            return Err(format!("claims {n} bytes where {} are left", self.left()));
        }
        self.at += n;
        Ok(())
    }

    fn varint(&mut self) -> Result<u64, String> {
        let mut value = 0u64;
        for shift in (0..70).step_by(7) {
            let b = self.byte()?;
            value |= u64::from(b & 0x7f).checked_shl(shift).unwrap_or(0);
            if b & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err("a varint longer than 10 bytes".into())
    }

    /// A count of elements, each at least one byte: never more than what is left.
    fn count(&mut self, n: u64, what: &str) -> Result<usize, String> {
        if n > self.left() as u64 {
            return Err(format!(
                "a {what} of {n} elements where {} bytes are left",
                self.left()
            ));
        }
        Ok(n as usize)
    }

    fn structure(&mut self, depth: usize) -> Result<(), String> {
        if depth > MAX_DEPTH {
            return Err(format!("structs nested deeper than {MAX_DEPTH}"));
        }
        loop {
            let header = self.byte()?;
            if header == 0 {
                return Ok(());
            }
            if header >> 4 == 0 {
                self.varint()?; // the field id, when not a delta
            }
            self.value(header & 0x0f, depth)?;
        }
    }

    fn value(&mut self, kind: u8, depth: usize) -> Result<(), String> {
        match kind {
            1 | 2 => Ok(()), // a field's bool lives in its header
            3 => self.skip(1),
            4..=6 => self.varint().map(|_| ()),
            7 => self.skip(8),
            8 => {
                let n = self.varint()?;
                let n = usize::try_from(n).map_err(|_| format!("a binary of {n} bytes"))?;
                self.skip(n)
            }
            9 | 10 => {
                let header = self.byte()?;
                let n = match header >> 4 {
                    15 => self.varint()?,
                    n => u64::from(n),
                };
                let n = self.count(n, "list")?;
                let element = header & 0x0f;
                for _ in 0..n {
                    if matches!(element, 1 | 2) {
                        self.skip(1)?; // a bool in a list takes a byte
                    } else {
                        self.value(element, depth + 1)?;
                    }
                }
                Ok(())
            }
            11 => {
                let n = self.varint()?;
                let n = self.count(n, "map")?;
                if n == 0 {
                    return Ok(());
                }
                let types = self.byte()?;
                for _ in 0..n {
                    self.value(types >> 4, depth + 1)?;
                    self.value(types & 0x0f, depth + 1)?;
                }
                Ok(())
            }
            12 => self.structure(depth + 1),
            other => Err(format!("unknown Thrift type {other}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::Cursor;

    use super::*;

    /// A file around `metadata`: magic, the metadata, its length, magic.
    fn file(metadata: &[u8]) -> Cursor<Vec<u8>> {
        let mut f = b"PAR1".to_vec();
        f.extend_from_slice(metadata);
        f.extend_from_slice(&(metadata.len() as u32).to_le_bytes());
        f.extend_from_slice(b"PAR1");
        Cursor::new(f)
    }

    #[test]
    fn a_real_footer_passes() {
        use polars::prelude::*;
        let mut df = df!("house_bill" => ["A1", "A2"], "value" => [1i64, 2]).unwrap();
        let mut bytes = Vec::new();
        ParquetWriter::new(&mut bytes).finish(&mut df).unwrap();
        assert_eq!(check(&mut Cursor::new(bytes)), Ok(()));
    }

    #[test]
    fn a_list_claiming_more_elements_than_bytes_is_refused() {
        // Field 1 (delta 1), type list; list header 0xFC: size in a varint,
        // elements are structs; then a size of 1,000,000,000.
        let mut meta = vec![0x19, 0xFC];
        let mut n = 1_000_000_000u64;
        while n >= 0x80 {
            meta.push((n as u8) | 0x80);
            n >>= 7;
        }
        meta.push(n as u8);
        meta.extend_from_slice(&[0, 0, 0]);
        let err = check(&mut file(&meta)).unwrap_err();
        assert!(
            err.contains("a list of 1000000000 elements where 3 bytes are left"),
            "{err}"
        );
    }

    #[test]
    fn a_binary_longer_than_the_footer_and_a_bad_length_word_are_refused() {
        // Field 1, type binary, length 100, then 2 bytes.
        let err = check(&mut file(&[0x18, 100, b'a', b'b'])).unwrap_err();
        assert!(err.contains("claims 100 bytes where 2 are left"), "{err}");
        let mut f = file(&[0]).into_inner();
        let n = f.len();
        f[n - 8..n - 4].copy_from_slice(&1000u32.to_le_bytes());
        let err = check(&mut Cursor::new(f)).unwrap_err();
        assert!(err.contains("claims 1000 bytes of metadata"), "{err}");
    }

    #[test]
    fn nesting_without_end_is_refused() {
        // Field 1 of type struct, again and again.
        let meta = vec![0x1C; 200];
        let err = check(&mut file(&meta)).unwrap_err();
        assert!(err.contains("nested deeper than 64"), "{err}");
    }
}
