//! The one event stream on stderr. Everything a command says while it works (a run's live
//! lines and heartbeats, the deploy gate's waiting lines, errors, warnings and notices, the
//! `-v` log records, `serve`'s logs) is a [`RunEvent`] handed to one [`Sink`], which renders
//! it as one line and writes it in one `write`.
//!
//! The sink is the one redaction point of stderr: it owns the run's [`Redactor`] (set once
//! the config's secrets are known, replaced on a `serve` reload) and the one-line escaping
//! ([`crate::text::one_line`]), so no text an event carries can print a secret, add a line or
//! start a workflow command, whichever road it took to get here. The events carry the raw
//! text; nothing upstream redacts or escapes for stderr.

use std::io::Write as _;
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::Duration;

use crate::model::{CheckResult, Status};
use crate::redact::Redactor;

/// How serious a message is: its prefix on stderr (`error: …`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    /// `error: …`: the command fails.
    Error,
    /// `warning: …`: worth a look, the command goes on.
    Warning,
    /// `notice: …`: for information.
    Notice,
    /// `note: …`: a remark on the input (`validate`'s values left unknown).
    Note,
}

impl Level {
    fn prefix(self) -> &'static str {
        match self {
            Level::Error => "error: ",
            Level::Warning => "warning: ",
            Level::Notice => "notice: ",
            Level::Note => "note: ",
        }
    }
}

/// One thing a command says on stderr. The texts are raw (possibly untrusted, possibly
/// holding a secret): the [`Sink`] redacts and escapes them.
#[derive(Debug, Clone, Copy)]
pub enum RunEvent<'a> {
    /// A check finished (the live line of a log without a terminal):
    /// `FAIL api-health 2.00 s connect.refused: connection refused`. `status`: the status
    /// the report will give it (after waivers).
    Finished {
        /// The result, as the engine produced it (not redacted yet).
        result: &'a CheckResult,
        /// The status the report will show.
        status: Status,
    },
    /// Checks in flight: `1,240/5,000 done, 3 failed, 12 s`.
    Heartbeat {
        /// Checks finished in this round.
        done: usize,
        /// Checks of this round.
        total: usize,
        /// Of them, the ones that fail a run by default (FAIL, SKIP).
        failed: usize,
        /// Since the run started.
        elapsed: Duration,
    },
    /// The deploy gate waits for its next round:
    /// `infracheck: round 3: 2 of 40 checks not healthy yet (api, worker); next round in 5s`.
    Waiting {
        /// The round that just ended.
        round: u32,
        /// The names of the first few pending checks (raw).
        names: &'a [&'a str],
        /// How many checks are pending.
        pending: usize,
        /// How many checks the run has.
        checks: usize,
        /// The pause before the next round.
        interval: Duration,
    },
    /// A message for the user: `error: …`, `warning: …`, `notice: …`.
    Said(Level, &'a str),
    /// A line of the program's own (`infracheck: listening on …`), its text escaped and
    /// redacted like any other.
    Status(&'a str),
    /// A line without a prefix (`wrote infracheck.yaml`), escaped and redacted.
    Line(&'a str),
    /// A collapsed group of a GitHub Actions log opens (`::group::` with this title of the
    /// program's own, the one workflow command written on stderr).
    GroupStart(&'static str),
    /// The group closes (`::endgroup::`).
    GroupEnd,
    /// A GitHub Actions annotation of the program's own (`::warning title=…::…`): the title
    /// and message escaped for the workflow command's syntax.
    Annotation {
        /// `error`, `warning` or `notice` (a note is a notice).
        level: Level,
        /// Its title.
        title: &'a str,
        /// Its message.
        message: &'a str,
    },
    /// One record of the `-v` log, as the log formatter wrote it.
    Log(&'a str),
}

/// Where the rendered lines go.
enum Out {
    Stderr,
    /// A test's buffer.
    Buffer(Arc<Mutex<Vec<u8>>>),
}

struct Inner {
    redactor: RwLock<Arc<Redactor>>,
    out: Out,
    /// Lines held back since [`Sink::hold`] by the thread that called it, in order, until
    /// [`Sink::release`].
    held: Mutex<Option<(std::thread::ThreadId, Vec<u8>)>>,
    /// The log records keep the formatter's colours (stderr is a terminal).
    ansi: bool,
}

/// The one stderr reporter: renders every [`RunEvent`] as one redacted, escaped line. Cheap to
/// clone (the clones share the redactor and the output).
#[derive(Clone)]
pub struct Sink {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Sink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sink").finish_non_exhaustive()
    }
}

impl Sink {
    /// A sink writing to the process's stderr, with no secrets yet. `ansi`: the log records
    /// are coloured (keep their escape sequences).
    pub fn stderr(ansi: bool) -> Sink {
        Sink::with(Out::Stderr, ansi)
    }

    /// A sink writing into `buffer` (tests).
    pub fn buffer(buffer: Arc<Mutex<Vec<u8>>>) -> Sink {
        Sink::with(Out::Buffer(buffer), false)
    }

    fn with(out: Out, ansi: bool) -> Sink {
        Sink {
            inner: Arc::new(Inner {
                redactor: RwLock::new(Arc::new(Redactor::default())),
                out,
                held: Mutex::new(None),
                ansi,
            }),
        }
    }

    /// From now on, mask these secrets (the config's, once it is loaded; a reload's).
    pub fn set_redactor(&self, redactor: Arc<Redactor>) {
        *self
            .inner
            .redactor
            .write()
            .unwrap_or_else(PoisonError::into_inner) = redactor;
    }

    /// The redactor in use.
    pub fn redactor(&self) -> Arc<Redactor> {
        Arc::clone(
            &self
                .inner
                .redactor
                .read()
                .unwrap_or_else(PoisonError::into_inner),
        )
    }

    /// `text` as it may leave the process on one line: secrets masked, control characters
    /// escaped, workflow commands neutralised. For the few texts that reach stderr through
    /// another writer (the progress bar's message).
    pub fn shown<S: AsRef<str> + ?Sized>(&self, text: &S) -> String {
        self.redactor().line(text)
    }

    /// [`Sink::shown`] for a [`crate::model::Text`]: its deferred cuts carried out.
    pub fn shown_text(&self, text: &crate::model::Text) -> String {
        self.redactor().line_of(text)
    }

    /// Write one event as one line.
    pub fn emit(&self, event: RunEvent<'_>) {
        let line = render(&self.redactor(), event, self.inner.ansi);
        self.write_line(&line);
    }

    /// `error: …`.
    pub fn error(&self, text: &str) {
        self.emit(RunEvent::Said(Level::Error, text));
    }

    /// `warning: …`.
    pub fn warning(&self, text: &str) {
        self.emit(RunEvent::Said(Level::Warning, text));
    }

    /// `notice: …`.
    pub fn notice(&self, text: &str) {
        self.emit(RunEvent::Said(Level::Notice, text));
    }

    /// From now on, keep the lines this thread writes (every event's, in order) until
    /// [`Sink::release`] writes them in one `write`: the live lines of the results that came
    /// in together. A line from another thread (a heartbeat, a signal's notice) is written at
    /// once, after the lines held so far.
    pub fn hold(&self) {
        self.inner
            .held
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get_or_insert_with(|| (std::thread::current().id(), Vec::new()));
    }

    /// Write the lines held since [`Sink::hold`], if any, and write each line at once again.
    pub fn release(&self) {
        let held = self
            .inner
            .held
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some((_, bytes)) = held.filter(|(_, b)| !b.is_empty()) {
            self.write_bytes(&bytes);
        }
    }

    /// One line in one `write` (stderr is unbuffered: `writeln!` would write the text and the
    /// newline separately, and a live run prints a line per finished check), or kept with the
    /// lines held.
    fn write_line(&self, line: &str) {
        let mut held = self
            .inner
            .held
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let mut bytes = match held.as_mut() {
            Some((holder, held)) if *holder == std::thread::current().id() => {
                held.extend_from_slice(line.as_bytes());
                held.push(b'\n');
                return;
            }
            // Another thread's line: what is held goes first, under the lock, so the order
            // stays the order of the events.
            Some((_, held)) => std::mem::take(held),
            None => {
                drop(held);
                Vec::with_capacity(line.len() + 1)
            }
        };
        bytes.extend_from_slice(line.as_bytes());
        bytes.push(b'\n');
        self.write_bytes(&bytes);
    }

    fn write_bytes(&self, bytes: &[u8]) {
        match &self.inner.out {
            Out::Stderr => {
                let _ = std::io::stderr().lock().write_all(bytes);
            }
            Out::Buffer(b) => b
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .extend_from_slice(bytes),
        }
    }
}

/// The line of one event, its texts redacted by `redactor` and escaped.
fn render(redactor: &Redactor, event: RunEvent<'_>, ansi: bool) -> String {
    let shown = |s: &str| redactor.line(s);
    match event {
        RunEvent::Finished { result, status } => check_line(result, status, redactor),
        RunEvent::Heartbeat {
            done,
            total,
            failed,
            elapsed,
        } => format!(
            "{}/{} done, {} failed, {} s",
            thousands(done),
            thousands(total),
            thousands(failed),
            elapsed.as_secs()
        ),
        RunEvent::Waiting {
            round,
            names,
            pending,
            checks,
            interval,
        } => {
            let names: Vec<String> = names.iter().map(|n| shown(n)).collect();
            let more = pending.saturating_sub(names.len());
            format!(
                "infracheck: round {round}: {pending} of {checks} checks not healthy yet ({}{}); next round in {}",
                names.join(", "),
                if more > 0 {
                    format!(" and {more} more")
                } else {
                    String::new()
                },
                crate::model::format_duration(interval)
            )
        }
        RunEvent::Said(level, text) => format!("{}{}", level.prefix(), shown(text)),
        RunEvent::Status(text) => format!("infracheck: {}", shown(text)),
        RunEvent::Line(text) => shown(text),
        RunEvent::GroupStart(title) => format!("::group::{}", shown(title)),
        RunEvent::GroupEnd => "::endgroup::".to_owned(),
        RunEvent::Annotation {
            level,
            title,
            message,
        } => format!(
            "::{} title={}::{}",
            match level {
                Level::Error => "error",
                Level::Warning => "warning",
                Level::Notice | Level::Note => "notice",
            },
            crate::text::escape_property(&redactor.text(title)),
            crate::text::escape_data(&redactor.text(message))
        ),
        RunEvent::Log(record) => log_line(redactor, record, ansi),
    }
}

/// `FAIL api-health 2.00 s connect.refused: connection refused`: one finished check, with the
/// `status` the report will give it and the report's duration format.
fn check_line(r: &CheckResult, status: Status, redactor: &Redactor) -> String {
    let mut line = format!(
        "{} {} {}",
        status.as_str(),
        redactor.line(&r.name),
        crate::model::human_duration(r.duration)
    );
    if let Some(reason) = r.reason
        && r.status != Status::Pass
    {
        line.push(' ');
        line.push_str(reason.code());
        let message = redactor.line_of(&r.message);
        if !message.is_empty() {
            let short: String = message.chars().take(120).collect();
            line.push_str(": ");
            line.push_str(&short);
        }
    }
    line
}

/// One log record on one line: secrets masked, the record's own end of line dropped, any
/// other control character (a line break in an untrusted field) escaped, except the colours'
/// escape character when the log is coloured.
fn log_line(redactor: &Redactor, record: &str, ansi: bool) -> String {
    let masked = redactor.text(record.strip_suffix('\n').unwrap_or(record));
    let keep: &[char] = if ansi { &['\u{1b}'] } else { &[] };
    crate::text::escape_controls_then_commands(&masked, keep)
}

/// `1234567` → `1,234,567`.
fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// The `-v` log's writer: the formatter writes each record into it whole; dropped, it hands
/// the record to the sink as a [`RunEvent::Log`].
pub struct LogWriter {
    sink: Sink,
    record: Vec<u8>,
}

impl std::io::Write for LogWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.record.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Drop for LogWriter {
    fn drop(&mut self) {
        if self.record.is_empty() {
            return;
        }
        let record = String::from_utf8_lossy(&self.record);
        self.sink.emit(RunEvent::Log(&record));
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Sink {
    type Writer = LogWriter;

    fn make_writer(&'a self) -> LogWriter {
        LogWriter {
            sink: self.clone(),
            record: Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "S3CR3T_VALUE_42";

    fn sink() -> (Sink, Arc<Mutex<Vec<u8>>>) {
        let buf = Arc::new(Mutex::new(Vec::new()));
        let sink = Sink::buffer(Arc::clone(&buf));
        sink.set_redactor(Arc::new(Redactor::new(&[SECRET.to_owned()])));
        (sink, buf)
    }

    fn written(buf: &Arc<Mutex<Vec<u8>>>) -> String {
        String::from_utf8(buf.lock().unwrap().clone()).unwrap()
    }

    fn result(name: &str, message: &str) -> CheckResult {
        let mut r = crate::report::fixture::summary().results[0].clone();
        r.name = name.to_owned();
        r.status = Status::Fail;
        r.reason = Some(crate::model::Reason::Blocked);
        r.message = message.into();
        r.duration = Duration::from_millis(2406);
        r
    }

    /// Every kind of event, each carrying hostile text: a secret (plain and percent-encoded),
    /// a line break that forges a workflow command, the legacy `##[` form.
    fn hostile_events(text: &str, each: &mut dyn FnMut(RunEvent<'_>)) {
        let r = result(text, text);
        each(RunEvent::Finished {
            result: &r,
            status: Status::Fail,
        });
        let names = [text, text];
        each(RunEvent::Waiting {
            round: 2,
            names: &names,
            pending: 7,
            checks: 9,
            interval: Duration::from_secs(5),
        });
        for level in [Level::Error, Level::Warning, Level::Notice, Level::Note] {
            each(RunEvent::Said(level, text));
        }
        each(RunEvent::Status(text));
        each(RunEvent::Line(text));
        each(RunEvent::Annotation {
            level: Level::Warning,
            title: text,
            message: text,
        });
        each(RunEvent::Log(text));
    }

    #[test]
    fn no_event_prints_a_secret_a_second_line_or_a_workflow_command() {
        let (sink, buf) = sink();
        let forged = format!(
            "{SECRET} S3CR3T%5FVALUE%5F42\n::add-mask::x\r\n::set-output name=a::b ##[error]x \u{2028}::warning::y"
        );
        let mut count = 0;
        hostile_events(&forged, &mut |e| {
            sink.emit(e);
            count += 1;
        });
        let out = written(&buf);
        assert!(!out.contains(SECRET), "{out}");
        assert!(!out.contains("S3CR3T%5F"), "{out}");
        assert!(out.contains("***"), "{out}");
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines.len(), count, "one line per event:\n{out}");
        for line in lines {
            if let Some(annotation) = line.strip_prefix("::warning title=") {
                // The one command of the program's own, the hostile text inside it escaped.
                assert!(!annotation.contains("\n::"), "{line}");
                continue;
            }
            assert!(!line.trim_start().starts_with("::"), "{line}");
            assert!(!line.contains("##["), "{line}");
            assert!(!line.contains('\r') && !line.contains('\u{2028}'), "{line}");
        }
    }

    #[test]
    fn secrets_set_later_are_masked_from_then_on() {
        let buf = Arc::new(Mutex::new(Vec::new()));
        let sink = Sink::buffer(Arc::clone(&buf));
        sink.error(&format!("before {SECRET}"));
        sink.set_redactor(Arc::new(Redactor::new(&[SECRET.to_owned()])));
        sink.clone().error(&format!("after {SECRET}"));
        assert_eq!(
            written(&buf),
            format!("error: before {SECRET}\nerror: after ***\n")
        );
    }

    #[test]
    fn held_lines_come_out_whole_in_order_and_another_threads_line_is_not_held() {
        let (sink, buf) = sink();
        sink.emit(RunEvent::Line("before"));
        sink.hold();
        sink.emit(RunEvent::Line("one"));
        sink.emit(RunEvent::Line(SECRET));
        assert_eq!(written(&buf), "before\n", "held lines wait for the release");
        // A heartbeat or a signal's notice from another thread goes out at once, after the
        // lines held before it.
        let other = sink.clone();
        std::thread::spawn(move || other.emit(RunEvent::Line("other thread")))
            .join()
            .unwrap();
        assert_eq!(written(&buf), "before\none\n***\nother thread\n");
        sink.emit(RunEvent::Line("two"));
        sink.release();
        sink.emit(RunEvent::Line("after"));
        assert_eq!(
            written(&buf),
            "before\none\n***\nother thread\ntwo\nafter\n"
        );
        // Nothing held: a release writes nothing.
        sink.release();
        assert!(written(&buf).ends_with("two\nafter\n"));
    }

    #[test]
    fn lines_keep_their_wording() {
        let (sink, buf) = sink();
        let mut r = result("orders", "blocked by db-port");
        r.status = Status::Skip;
        sink.emit(RunEvent::Finished {
            result: &r,
            status: Status::Waived,
        });
        sink.emit(RunEvent::Heartbeat {
            done: 1_240,
            total: 5_000,
            failed: 3,
            elapsed: Duration::from_millis(12_400),
        });
        sink.emit(RunEvent::Waiting {
            round: 3,
            names: &["api", "worker"],
            pending: 2,
            checks: 40,
            interval: Duration::from_secs(5),
        });
        sink.emit(RunEvent::Waiting {
            round: 1,
            names: &["a"],
            pending: 3,
            checks: 3,
            interval: Duration::from_secs(5),
        });
        sink.emit(RunEvent::GroupStart("infracheck: checks as they finish"));
        sink.emit(RunEvent::GroupEnd);
        sink.notice("baseline b.json does not exist yet");
        sink.emit(RunEvent::Status("listening on http://127.0.0.1:1"));
        assert_eq!(
            written(&buf),
            "WAIVED orders 2.41 s blocked: blocked by db-port\n\
             1,240/5,000 done, 3 failed, 12 s\n\
             infracheck: round 3: 2 of 40 checks not healthy yet (api, worker); next round in 5s\n\
             infracheck: round 1: 3 of 3 checks not healthy yet (a and 2 more); next round in 5s\n\
             ::group::infracheck: checks as they finish\n\
             ::endgroup::\n\
             notice: baseline b.json does not exist yet\n\
             infracheck: listening on http://127.0.0.1:1\n"
        );
    }

    #[test]
    fn a_long_message_is_cut_in_the_live_line() {
        let (sink, buf) = sink();
        let r = result("a", &"x".repeat(300));
        sink.emit(RunEvent::Finished {
            result: &r,
            status: Status::Fail,
        });
        let out = written(&buf);
        assert_eq!(out.trim_end().split(": ").nth(1).unwrap().len(), 120);
    }

    #[test]
    fn the_log_writer_hands_whole_records_to_the_sink() {
        let (sink, buf) = sink();
        {
            let mut w = tracing_subscriber::fmt::MakeWriter::make_writer(&sink);
            w.write_all(b" INFO check=").unwrap();
            w.write_all(format!("{SECRET}\u{1b}[2J detail=a\nb\n").as_bytes())
                .unwrap();
        }
        assert_eq!(written(&buf), " INFO check=***\\u{1b}[2J detail=a\\u{a}b\n");
    }

    #[test]
    fn thousands_groups_digits() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1_234_567), "1,234,567");
    }
}
