//! Texts one per line, read in chunks so that memory is bounded by the chunk, not the input.

use std::io::BufRead;
use std::path::PathBuf;

use crate::error::{DataError, Result};

/// The non-blank lines of a reader, at most `chunk` at a time. Line ends (`\n`, `\r\n`) are
/// removed; invalid UTF-8 is replaced (U+FFFD) and its line number kept in
/// [`invalid_utf8_lines`](TextChunks::invalid_utf8_lines).
pub struct TextChunks {
    reader: Box<dyn BufRead>,
    name: PathBuf,
    line: usize,
    chunk: usize,
    invalid: Vec<usize>,
}

impl TextChunks {
    /// Opens a file, or standard input for `-`.
    pub fn open(input: &str, chunk: usize) -> Result<Self> {
        let reader: Box<dyn BufRead> = if input == "-" {
            Box::new(std::io::BufReader::new(std::io::stdin()))
        } else {
            let file = std::fs::File::open(input).map_err(|e| DataError::io(input, e))?;
            Box::new(std::io::BufReader::new(file))
        };
        Ok(TextChunks::new(reader, input, chunk))
    }

    /// Reads `reader`; `name` is what errors call it.
    pub fn new(reader: Box<dyn BufRead>, name: &str, chunk: usize) -> Self {
        TextChunks {
            reader,
            name: PathBuf::from(name),
            line: 0,
            chunk: chunk.max(1),
            invalid: vec![],
        }
    }

    /// The next chunk of texts; empty at the end of the input.
    pub fn next_chunk(&mut self) -> Result<Vec<String>> {
        let mut texts = Vec::new();
        let mut bytes = Vec::new();
        while texts.len() < self.chunk {
            bytes.clear();
            let read = self
                .reader
                .read_until(b'\n', &mut bytes)
                .map_err(|e| DataError::io(&self.name, e))?;
            if read == 0 {
                break;
            }
            self.line += 1;
            let text = match std::str::from_utf8(&bytes) {
                Ok(text) => text.to_string(),
                Err(_) => {
                    self.invalid.push(self.line);
                    String::from_utf8_lossy(&bytes).into_owned()
                }
            };
            let text = text.trim_end_matches(['\n', '\r']);
            if !text.trim().is_empty() {
                texts.push(text.to_string());
            }
        }
        Ok(texts)
    }

    /// The 1-based numbers of the lines read so far that were not UTF-8, taken (each reported
    /// once).
    pub fn invalid_utf8_lines(&mut self) -> Vec<usize> {
        std::mem::take(&mut self.invalid)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_skip_blank_lines_and_report_bad_bytes() {
        let input: &[u8] = b"one\r\n\n  \ntwo\nth\xffree\nfour";
        let mut chunks = TextChunks::new(Box::new(input), "texts.txt", 2);
        assert_eq!(chunks.next_chunk().unwrap(), ["one", "two"]);
        assert!(chunks.invalid_utf8_lines().is_empty());
        assert_eq!(chunks.next_chunk().unwrap(), ["th\u{fffd}ree", "four"]);
        assert_eq!(chunks.invalid_utf8_lines(), [5]);
        assert!(chunks.next_chunk().unwrap().is_empty());
        let e = TextChunks::open("/no/such/file.txt", 4).err().unwrap().to_string();
        assert!(e.contains("/no/such/file.txt"), "{e}");
    }
}
