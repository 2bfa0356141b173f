//! Where a snapshot's bytes come from. The reader asks only for a size and ranged
//! reads, so a source backed by an object store (ranged GETs) can be added beside the
//! file one without touching any parsing.

use std::fs::File;
use std::io::{self, Read};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::error::Error;

pub trait Source: Send + Sync {
    /// Size in bytes, as of opening.
    fn size(&self) -> u64;

    /// The bytes `offset..offset + len`; the reader ends early if the source does.
    fn read_range(&self, offset: u64, len: u64) -> Result<Box<dyn Read + Send>, Error>;

    /// What messages call it: a file path or an object URL.
    fn location(&self) -> &Path;
}

/// A snapshot file, opened once: every range reads the same inode with positioned
/// reads, so ranges are independent of each other and of a rename over the path.
#[derive(Debug, Clone)]
pub struct FileSource {
    path: PathBuf,
    file: Arc<File>,
    size: u64,
}

impl FileSource {
    pub fn open(path: &Path) -> Result<Self, Error> {
        let file = File::open(path).map_err(|e| Error::io("opening snapshot", path, e))?;
        Self::from_file(path, file)
    }

    /// An open file (a temp file without a name, say); `path` is what messages call it.
    pub fn from_file(path: &Path, file: File) -> Result<Self, Error> {
        let size = file.metadata().map_err(|e| Error::io("reading snapshot", path, e))?.len();
        Ok(Self { path: path.to_path_buf(), file: Arc::new(file), size })
    }
}

impl Source for FileSource {
    fn size(&self) -> u64 {
        self.size
    }

    fn read_range(&self, offset: u64, len: u64) -> Result<Box<dyn Read + Send>, Error> {
        let end = offset.saturating_add(len);
        Ok(Box::new(RangeReader { file: Arc::clone(&self.file), pos: offset, end }))
    }

    fn location(&self) -> &Path {
        &self.path
    }
}

struct RangeReader {
    file: Arc<File>,
    pos: u64,
    end: u64,
}

impl Read for RangeReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let left = self.end.saturating_sub(self.pos);
        let want = usize::try_from(left).unwrap_or(usize::MAX).min(buf.len());
        if want == 0 {
            return Ok(0);
        }
        let n = self.file.read_at(&mut buf[..want], self.pos)?;
        self.pos += n as u64;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_read_their_bytes_and_stop_at_the_end() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, b"0123456789").unwrap();
        let src = FileSource::open(&path).unwrap();
        assert_eq!(src.size(), 10);
        assert_eq!(src.location(), path);
        let read = |o, l| {
            let mut out = Vec::new();
            src.read_range(o, l).unwrap().read_to_end(&mut out).unwrap();
            out
        };
        assert_eq!(read(2, 3), b"234");
        assert_eq!(read(8, 100), b"89");
        assert_eq!(read(20, 5), b"");
        assert_eq!(read(0, u64::MAX), b"0123456789");
        // Two ranges at once do not disturb each other.
        let (mut a, mut b) = (src.read_range(0, 4).unwrap(), src.read_range(6, 4).unwrap());
        let mut x = [0u8; 2];
        a.read_exact(&mut x).unwrap();
        b.read_exact(&mut x).unwrap();
        assert_eq!(&x, b"67");
        a.read_exact(&mut x).unwrap();
        assert_eq!(&x, b"23");
        assert!(matches!(FileSource::open(&dir.path().join("missing")), Err(Error::Io { .. })));
    }
}
