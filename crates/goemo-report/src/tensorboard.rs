//! TensorBoard event files: scalars that `tensorboard --logdir runs` shows, one folder per run,
//! as `torch.utils.tensorboard.SummaryWriter` and `transformers`' `report_to="tensorboard"`
//! write them.
//!
//! A file is a sequence of TFRecords (length, masked CRC-32C of the length, an `Event` protobuf,
//! masked CRC-32C of the data); its first event carries the format version `brain.Event:2`.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use prost::Message;

use crate::Result;

/// `tensorflow.Event`: the fields goemo writes.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Event {
    /// Seconds since the Unix epoch.
    #[prost(double, tag = "1")]
    pub wall_time: f64,
    /// The training step.
    #[prost(int64, tag = "2")]
    pub step: i64,
    /// What the event carries.
    #[prost(oneof = "EventWhat", tags = "3, 5, 7")]
    pub what: Option<EventWhat>,
}

/// The payload of an [`Event`].
#[derive(Clone, PartialEq, prost::Oneof)]
pub enum EventWhat {
    /// The file's version string (the first event).
    #[prost(string, tag = "3")]
    FileVersion(String),
    /// Scalar values.
    #[prost(message, tag = "5")]
    Summary(Summary),
    /// A session's start or end.
    #[prost(message, tag = "7")]
    SessionLog(SessionLog),
}

/// `tensorflow.SessionLog`: a START at step s makes TensorBoard drop the events of steps ≥ s
/// written before it (a run resumed from an earlier state).
#[derive(Clone, PartialEq, prost::Message)]
pub struct SessionLog {
    /// 1: START.
    #[prost(int32, tag = "1")]
    pub status: i32,
}

/// `SessionLog.START`.
pub const SESSION_START: i32 = 1;

/// `tensorflow.Summary`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Summary {
    /// The values.
    #[prost(message, repeated, tag = "1")]
    pub value: Vec<SummaryValue>,
}

/// `tensorflow.Summary.Value` with a scalar. `simple_value` is a member of a oneof there, so it
/// is written even when it is 0.
#[derive(Clone, PartialEq, prost::Message)]
pub struct SummaryValue {
    /// The scalar's name.
    #[prost(string, tag = "1")]
    pub tag: String,
    /// The scalar.
    #[prost(float, optional, tag = "2")]
    pub simple_value: Option<f32>,
}

fn masked_crc(bytes: &[u8]) -> u32 {
    let crc = crc32c::crc32c(bytes);
    (crc.rotate_right(15)).wrapping_add(0xa282_ead8)
}

/// One TFRecord around `data`.
fn record(data: &[u8]) -> Vec<u8> {
    let length = (data.len() as u64).to_le_bytes();
    let mut out = Vec::with_capacity(data.len() + 16);
    out.extend_from_slice(&length);
    out.extend_from_slice(&masked_crc(&length).to_le_bytes());
    out.extend_from_slice(data);
    out.extend_from_slice(&masked_crc(data).to_le_bytes());
    out
}

/// The events of a file, checking every record's checksums; an error names the byte offset.
pub fn read_events(path: &Path) -> Result<Vec<Event>> {
    let bytes = std::fs::read(path).map_err(|source| io_error(path, source))?;
    let corrupt = |offset: usize, what: &str| crate::ReportError::Event {
        path: path.to_path_buf(),
        message: format!("byte {offset}: {what}"),
    };
    let mut events = vec![];
    let mut at = 0;
    while at < bytes.len() {
        let header = bytes
            .get(at..at + 12)
            .ok_or_else(|| corrupt(at, "a cut record header"))?;
        let length_bytes = &header[..8];
        if masked_crc(length_bytes).to_le_bytes() != header[8..12] {
            return Err(corrupt(at, "the length's checksum does not match"));
        }
        let length = u64::from_le_bytes(length_bytes.try_into().expect("8 bytes")) as usize;
        let data = bytes
            .get(at + 12..at + 12 + length)
            .ok_or_else(|| corrupt(at, "a cut record"))?;
        let crc = bytes
            .get(at + 12 + length..at + 16 + length)
            .ok_or_else(|| corrupt(at, "a cut record checksum"))?;
        if masked_crc(data).to_le_bytes() != crc {
            return Err(corrupt(at, "the data's checksum does not match"));
        }
        events.push(Event::decode(data).map_err(|e| corrupt(at, &e.to_string()))?);
        at += 16 + length;
    }
    Ok(events)
}

fn io_error(path: &Path, source: std::io::Error) -> crate::ReportError {
    goemo_fs::FsError::Io {
        path: path.to_path_buf(),
        source,
    }
    .into()
}

fn now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// Appends scalar events to a new event file in a folder.
pub struct EventWriter {
    path: PathBuf,
    file: BufWriter<File>,
}

impl EventWriter {
    /// Creates `dir` if needed and a new `events.out.tfevents.<seconds>.<host>.<µs>.<pid>.goemo` file
    /// in it, starting with the version event. A resumed run gets a file of its own next to the
    /// first; TensorBoard reads a folder's files as one run.
    pub fn create(dir: &Path) -> Result<Self> {
        std::fs::create_dir_all(dir).map_err(|source| io_error(dir, source))?;
        let wall_time = now();
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
            .map(|h| h.trim().to_string())
            .ok()
            .filter(|h| !h.is_empty() && !h.contains('/'))
            .unwrap_or_else(|| "localhost".into());
        // TensorBoard reads a folder's files in name order: the microseconds keep a resumed
        // run's file after the interrupted one's even within the same second.
        let name = format!(
            "events.out.tfevents.{}.{host}.{:06}.{}.goemo",
            wall_time as u64,
            ((wall_time.fract()) * 1e6) as u32,
            std::process::id()
        );
        let path = dir.join(name);
        let file = File::options()
            .create_new(true)
            .write(true)
            .open(&path)
            .map_err(|source| io_error(&path, source))?;
        let mut writer = EventWriter {
            path,
            file: BufWriter::new(file),
        };
        writer.write(&Event {
            wall_time,
            step: 0,
            what: Some(EventWhat::FileVersion("brain.Event:2".into())),
        })?;
        writer.flush()?;
        Ok(writer)
    }

    /// The event file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn write(&mut self, event: &Event) -> Result<()> {
        let bytes = record(&event.encode_to_vec());
        self.file
            .write_all(&bytes)
            .map_err(|source| io_error(&self.path, source))
    }

    /// Scalars of one step, now; non-finite values are left out (TensorBoard cannot draw them).
    pub fn scalars(&mut self, step: u64, values: &[(&str, f64)]) -> Result<()> {
        let value: Vec<SummaryValue> = values
            .iter()
            .filter(|(_, v)| v.is_finite())
            .map(|(tag, v)| SummaryValue {
                tag: (*tag).to_string(),
                simple_value: Some(*v as f32),
            })
            .collect();
        if value.is_empty() {
            return Ok(());
        }
        self.write(&Event {
            wall_time: now(),
            step: step as i64,
            what: Some(EventWhat::Summary(Summary { value })),
        })
    }

    /// Marks a restart at `step` (the first step a resumed run will log): TensorBoard then drops
    /// the events of steps ≥ `step` that the interrupted run wrote.
    pub fn restart(&mut self, step: u64) -> Result<()> {
        self.write(&Event {
            wall_time: now(),
            step: step as i64,
            what: Some(EventWhat::SessionLog(SessionLog { status: SESSION_START })),
        })?;
        self.flush()
    }

    /// Pushes what was written to the file, so that a running TensorBoard sees it.
    pub fn flush(&mut self) -> Result<()> {
        self.file.flush().map_err(|source| io_error(&self.path, source))
    }
}

impl Drop for EventWriter {
    fn drop(&mut self) {
        let _ = self.file.flush();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masked_crc_matches_tensorboard() {
        // tensorboard.summary.writer.record_writer.masked_crc32c of the same bytes.
        assert_eq!(masked_crc(b"123456789"), 0xc78a_b0e5);
        assert_eq!(masked_crc(&0u64.to_le_bytes()), 0x0798_0329);
        assert_eq!(masked_crc(b""), 0xa282_ead8);
    }

    #[test]
    fn events_round_trip_with_checksums() {
        let dir = tempfile::tempdir().unwrap();
        let mut writer = EventWriter::create(dir.path()).unwrap();
        writer
            .scalars(3, &[("train/loss", 0.5), ("train/lr", 0.0), ("x", f64::NAN)])
            .unwrap();
        writer.flush().unwrap();
        let path = writer.path().to_path_buf();
        drop(writer);
        assert!(path.file_name().unwrap().to_str().unwrap().contains("tfevents"));
        let events = read_events(&path).unwrap();
        assert_eq!(events.len(), 2);
        assert_eq!(events[0].what, Some(EventWhat::FileVersion("brain.Event:2".into())));
        let Some(EventWhat::Summary(summary)) = &events[1].what else {
            panic!("a summary")
        };
        assert_eq!(events[1].step, 3);
        let tags: Vec<(&str, Option<f32>)> = summary.value.iter().map(|v| (v.tag.as_str(), v.simple_value)).collect();
        assert_eq!(
            tags,
            [("train/loss", Some(0.5)), ("train/lr", Some(0.0))],
            "NaN left out, 0 kept"
        );
        // A flipped byte is caught by the checksum.
        let mut bytes = std::fs::read(&path).unwrap();
        let last = bytes.len() - 6;
        bytes[last] ^= 1;
        std::fs::write(&path, bytes).unwrap();
        let message = read_events(&path).unwrap_err().to_string();
        assert!(message.contains("checksum"), "{message}");
    }
}
