//! The `--log`/`--log-format`/`--debug` logger. runc writes logrus lines; containerd's
//! shim reads `--log-format json` files line by line for `level` and `msg` (the last
//! `error` is the message it reports), so JSON lines carry exactly those plus `time`.
//! Text lines are logrus' text form, `time="…" level=… msg="…"`.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::Path;
use std::sync::Mutex;

use log::{Level, LevelFilter, Log, Metadata, Record};

use crate::error::{Context, Result, RuntimeError};
use crate::rfc3339;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Text,
    Json,
}

impl Format {
    pub fn parse(name: Option<&str>) -> Result<Self> {
        match name {
            None | Some("text") => Ok(Format::Text),
            Some("json") => Ok(Format::Json),
            Some(other) => Err(RuntimeError::Usage(format!(
                "unknown log-format {other:?} (text or json)"
            ))),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Format::Text => "text",
            Format::Json => "json",
        }
    }
}

enum Sink {
    Stderr,
    File(File),
}

struct Logger {
    format: Format,
    level: LevelFilter,
    sink: Mutex<Sink>,
}

/// One line in `format` (without the newline).
pub fn line(format: Format, level: Level, message: &str, time: &str) -> String {
    let level = level.as_str().to_ascii_lowercase();
    match format {
        Format::Json => {
            serde_json::json!({ "level": level, "msg": message, "time": time }).to_string()
        }
        Format::Text => format!(
            "time={} level={level} msg={}",
            quoted(time),
            quoted(message)
        ),
    }
}

fn quoted(text: &str) -> String {
    // A JSON string is a valid logrus-style quoted value, escapes included.
    serde_json::Value::String(text.to_owned()).to_string()
}

impl Log for Logger {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        metadata.level() <= self.level
    }

    fn log(&self, record: &Record<'_>) {
        if !self.enabled(record.metadata()) {
            return;
        }
        let mut text = line(
            self.format,
            record.level(),
            &record.args().to_string(),
            &rfc3339::now(),
        );
        text.push('\n');
        let mut sink = self
            .sink
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        // A log that cannot be written must not fail the command it describes.
        let _ = match &mut *sink {
            Sink::Stderr => std::io::stderr().write_all(text.as_bytes()),
            Sink::File(file) => file.write_all(text.as_bytes()),
        };
    }

    fn flush(&self) {}
}

/// Installs the logger: lines go to `path` (appended, as runc does) or stderr.
pub fn init(path: Option<&Path>, format: Format, debug: bool) -> Result<()> {
    let sink = match path {
        Some(path) => Sink::File(
            OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .context(|| format!("opening the log {}", path.display()))?,
        ),
        None => Sink::Stderr,
    };
    let level = if debug {
        LevelFilter::Debug
    } else {
        LevelFilter::Info
    };
    let logger = Logger {
        format,
        level,
        sink: Mutex::new(sink),
    };
    log::set_boxed_logger(Box::new(logger))
        .map_err(|error| RuntimeError::Usage(format!("logger: {error}")))?;
    log::set_max_level(level);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_lines_are_what_containerd_reads() {
        let text = line(
            Format::Json,
            Level::Error,
            "exec: \"x\": not found",
            "2026-12-03T07:00:00Z",
        );
        let value: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(value["level"], "error");
        assert_eq!(value["msg"], "exec: \"x\": not found");
        assert_eq!(value["time"], "2026-12-03T07:00:00Z");
        assert!(!text.contains('\n'));
    }

    #[test]
    fn text_lines_are_logrus() {
        let text = line(Format::Text, Level::Warn, "a \"b\"\nc", "T");
        assert_eq!(text, r#"time="T" level=warn msg="a \"b\"\nc""#);
    }

    #[test]
    fn formats() {
        assert_eq!(Format::parse(None).unwrap(), Format::Text);
        assert_eq!(Format::parse(Some("json")).unwrap(), Format::Json);
        assert!(Format::parse(Some("xml")).is_err());
    }
}
