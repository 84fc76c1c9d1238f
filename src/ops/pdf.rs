//! HTML to PDF through Chromium's headless print-to-PDF (Debian's `chromium`, or `AULA_CHROMIUM`),
//! run as a subprocess with a timeout; the PDF is written to a temporary name and renamed into place.

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use session::ErrorKind;

use crate::fsutil::part_path;

/// The browser that prints and how long one document may take.
#[derive(Clone, Debug)]
pub struct Printer {
    pub program: String,
    pub timeout: Duration,
}

impl Default for Printer {
    fn default() -> Printer {
        Printer {
            program: std::env::var("AULA_CHROMIUM").unwrap_or_else(|_| "chromium".to_owned()),
            timeout: Duration::from_secs(60),
        }
    }
}

/// What went wrong printing a PDF, with what was run.
#[derive(Debug, thiserror::Error)]
pub enum PdfError {
    #[error("{program} is not installed (print-to-PDF needs Debian's chromium; scripts/setup installs it)")]
    Missing { program: String },
    #[error("{program} did not finish printing within {seconds:.1} s")]
    TimedOut { program: String, seconds: f64 },
    #[error("{program} exited with {status}: {stderr}")]
    Failed {
        program: String,
        status: String,
        stderr: String,
    },
    #[error("{program} wrote no PDF to {}", path.display())]
    NoPdf { program: String, path: PathBuf },
    #[error("{what} {}: {source}", path.display())]
    Io {
        what: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
}

impl PdfError {
    pub fn kind(&self) -> ErrorKind {
        ErrorKind::Internal
    }
}

fn io<'a>(what: &'static str, path: &'a Path) -> impl FnOnce(std::io::Error) -> PdfError + 'a {
    move |source| PdfError::Io {
        what,
        path: path.to_owned(),
        source,
    }
}

impl Printer {
    /// Prints the self-contained page `html` to the PDF `out`; Chromium's page and profile go in a
    /// temporary folder under `scratch`.
    pub fn render(&self, html: &str, out: &Path, scratch: &Path) -> Result<(), PdfError> {
        std::fs::create_dir_all(scratch).map_err(io("creating", scratch))?;
        let work = tempfile::Builder::new()
            .prefix("pdf-")
            .tempdir_in(scratch)
            .map_err(io("creating a folder in", scratch))?;
        let page = work.path().join("page.html");
        std::fs::write(&page, html).map_err(io("writing", &page))?;
        let part = part_path(out);
        let result = self
            .print(&page, &part, work.path())
            .and_then(|()| std::fs::rename(&part, out).map_err(io("renaming the PDF into", out)));
        if result.is_err() {
            let _ = std::fs::remove_file(&part);
        }
        result
    }

    /// Prints `html` and returns the PDF's bytes.
    pub fn render_bytes(&self, html: &str, scratch: &Path) -> Result<Vec<u8>, PdfError> {
        std::fs::create_dir_all(scratch).map_err(io("creating", scratch))?;
        let work = tempfile::Builder::new()
            .prefix("pdf-")
            .tempdir_in(scratch)
            .map_err(io("creating a folder in", scratch))?;
        let out = work.path().join("document.pdf");
        self.render(html, &out, work.path())?;
        std::fs::read(&out).map_err(io("reading", &out))
    }

    fn print(&self, page: &Path, pdf: &Path, work: &Path) -> Result<(), PdfError> {
        let program = self.program.clone();
        let timeout = self.timeout;
        let log = work.join("chromium.log");
        let stderr = std::fs::File::create(&log).map_err(io("creating", &log))?;
        let mut child = Command::new(&program)
            .arg("--headless=new")
            .arg("--no-sandbox")
            .arg("--disable-gpu")
            .arg("--no-first-run")
            .arg("--disable-extensions")
            .arg(format!(
                "--user-data-dir={}",
                work.join("profile").display()
            ))
            .arg(format!("--print-to-pdf={}", pdf.display()))
            .arg("--no-pdf-header-footer")
            .arg(file_url(page))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr)
            .process_group(0)
            .spawn()
            .map_err(|e| match e.kind() {
                std::io::ErrorKind::NotFound => PdfError::Missing {
                    program: program.clone(),
                },
                _ => PdfError::Io {
                    what: "starting",
                    path: PathBuf::from(&program),
                    source: e,
                },
            })?;
        let started = Instant::now();
        let status = loop {
            if let Some(status) = child
                .try_wait()
                .map_err(io("waiting for", Path::new(&program)))?
            {
                break status;
            }
            if started.elapsed() > timeout {
                // The browser's renderers are in its process group: stop them all.
                // SAFETY: kill(2) with the negated id of the group this child leads.
                unsafe { libc::kill(-(child.id() as i32), libc::SIGKILL) };
                let _ = child.wait();
                return Err(PdfError::TimedOut {
                    program,
                    seconds: timeout.as_secs_f64(),
                });
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        if !status.success() {
            return Err(PdfError::Failed {
                program,
                status: status.to_string(),
                stderr: last_lines(&std::fs::read_to_string(&log).unwrap_or_default(), 5),
            });
        }
        match std::fs::read(pdf) {
            Ok(bytes) if bytes.starts_with(b"%PDF") => Ok(()),
            _ => Err(PdfError::NoPdf {
                program,
                path: pdf.to_owned(),
            }),
        }
    }
}

/// The `file://` address of an absolute path, each segment percent-encoded.
fn file_url(path: &Path) -> String {
    const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
        .remove(b'-')
        .remove(b'.')
        .remove(b'_')
        .remove(b'~')
        .remove(b'/');
    let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_owned());
    format!(
        "file://{}",
        utf8_percent_encode(&absolute.to_string_lossy(), SEGMENT)
    )
}

/// The last `n` lines of a log, on one line.
fn last_lines(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    lines[lines.len().saturating_sub(n)..].join(" | ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn printer(program: &str) -> Printer {
        Printer {
            program: program.to_owned(),
            timeout: Duration::from_millis(500),
        }
    }

    #[test]
    fn a_missing_browser_is_named() {
        let scratch = tempfile::tempdir().unwrap();
        let e = printer("/nonexistent/chromium")
            .render_bytes("<p>x</p>", scratch.path())
            .unwrap_err();
        assert!(matches!(e, PdfError::Missing { .. }), "{e}");
        assert!(
            e.to_string()
                .contains("/nonexistent/chromium is not installed"),
            "{e}"
        );
    }

    #[test]
    fn a_failing_browser_reports_its_status_and_leaves_no_file() {
        let scratch = tempfile::tempdir().unwrap();
        let out = scratch.path().join("out.pdf");
        let e = printer("false")
            .render("<p>x</p>", &out, scratch.path())
            .unwrap_err();
        assert!(
            e.to_string().contains("false exited with exit status: 1"),
            "{e}"
        );
        assert!(!out.exists() && !part_path(&out).exists());
    }

    #[test]
    fn a_browser_that_hangs_is_stopped_at_the_timeout() {
        let scratch = tempfile::tempdir().unwrap();
        let script = scratch.path().join("hang.sh");
        std::fs::write(&script, "#!/bin/sh\nsleep 30\n").unwrap();
        let mut perms = std::fs::metadata(&script).unwrap().permissions();
        std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o755);
        std::fs::set_permissions(&script, perms).unwrap();
        let started = Instant::now();
        let e = printer(script.to_str().unwrap())
            .render_bytes("<p>x</p>", scratch.path())
            .unwrap_err();
        assert!(matches!(e, PdfError::TimedOut { .. }), "{e}");
        assert!(started.elapsed() < Duration::from_secs(5));
    }

    #[test]
    fn a_file_address_encodes_what_a_url_cannot_hold() {
        assert_eq!(
            file_url(Path::new("/data/aula dati/tmp/pdf-1/page.html")),
            "file:///data/aula%20dati/tmp/pdf-1/page.html"
        );
    }

    #[test]
    fn the_last_lines_of_a_log_are_kept_on_one_line() {
        assert_eq!(last_lines("a\n\nb\nc\n", 2), "b | c");
        assert_eq!(last_lines("", 3), "");
    }
}
