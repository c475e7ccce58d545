//! Alerts on change (`alerts:`): after `after` consecutive FAILs a check alerts, again every
//! `resend_every` while it keeps failing, and once more when it recovers. Deciding is pure
//! ([`Tracker::observe`]); sending runs on a task of its own ([`Sender`]) fed by a bounded
//! queue, so a slow or dead webhook never holds up a check. Each POST is retried with
//! exponential backoff. Payloads are built from redacted results and redacted again whole.

use std::time::Duration;

use serde::Serialize;

use crate::config::{Alerts, Webhook, WebhookFormat};
use crate::model::{CheckResult, Status};
use crate::redact::Redactor;

/// What happened to a check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Event {
    /// It reached `after` consecutive failures.
    Firing,
    /// It is still failing, `resend_every` after the last alert.
    Resend,
    /// It passed again after an alert.
    Recovered,
}

/// Per check: its failure streak and whether it has alerted.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tracker {
    /// Consecutive FAIL results.
    pub streak: u32,
    /// When the last alert was sent (clock time); `None`: not alerting.
    pub alerted_at: Option<Duration>,
    /// The status before the latest.
    pub previous: Option<Status>,
}

impl Tracker {
    /// Observe the check's latest `status` at clock time `now`: the alert to send, if any.
    pub fn observe(&mut self, status: Status, now: Duration, cfg: &Alerts) -> Option<Event> {
        let event = if status == Status::Fail {
            self.streak = self.streak.saturating_add(1);
            match self.alerted_at {
                None if self.streak >= cfg.after => Some(Event::Firing),
                Some(at)
                    if cfg
                        .resend_every
                        .is_some_and(|every| now.saturating_sub(at) >= every) =>
                {
                    Some(Event::Resend)
                }
                _ => None,
            }
        } else {
            self.streak = 0;
            // WARN, SKIP and WAIVED are not failures; only a pass-like status recovers.
            match (self.alerted_at, status) {
                (Some(_), Status::Pass | Status::Warn | Status::Waived) => {
                    self.alerted_at = None;
                    Some(Event::Recovered)
                }
                _ => None,
            }
        };
        if matches!(event, Some(Event::Firing | Event::Resend)) {
            self.alerted_at = Some(now);
        }
        event
    }
}

/// The JSON alert document (`format: json`).
#[derive(Debug, Clone, Serialize)]
pub struct Payload {
    /// `firing`, `resend` or `recovered`.
    pub event: Event,
    /// The environment.
    pub environment: String,
    /// The check's name.
    pub check: String,
    /// Its latest status.
    pub status: &'static str,
    /// Its status before that (`null` on its first result).
    pub previous_status: Option<&'static str>,
    /// The reason code of the latest result.
    pub reason: Option<&'static str>,
    /// Its message.
    pub message: String,
    /// When it was recorded (RFC 3339).
    pub timestamp: String,
    /// Consecutive failures so far.
    pub consecutive_failures: u32,
    /// The status page (`--external-url`), when set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub link: Option<String>,
}

impl Payload {
    /// The alert for `r` (already redacted).
    pub fn new(
        event: Event,
        environment: &str,
        r: &CheckResult,
        tracker: &Tracker,
        link: Option<&str>,
    ) -> Self {
        Payload {
            event,
            environment: environment.to_owned(),
            check: r.name.clone(),
            status: r.status.as_str(),
            previous_status: tracker.previous.map(Status::as_str),
            reason: r.reason.map(|x| x.code()),
            message: r.message.as_str().to_owned(),
            timestamp: time::OffsetDateTime::now_utc()
                .format(&time::format_description::well_known::Rfc3339)
                .unwrap_or_default(),
            consecutive_failures: tracker.streak,
            link: link.map(str::to_owned),
        }
    }

    /// The one-line text of the Slack format.
    pub fn text(&self) -> String {
        let what = match self.event {
            Event::Firing => "failing",
            Event::Resend => "still failing",
            Event::Recovered => "recovered",
        };
        let mut t = format!(
            "infracheck [{}] {} {what}: {}{}",
            self.environment,
            self.check,
            self.status,
            self.reason.map(|r| format!(" ({r})")).unwrap_or_default()
        );
        if !self.message.is_empty() {
            t.push_str(" — ");
            t.push_str(&crate::report::one_line(&self.message));
        }
        if let Some(l) = &self.link {
            t.push(' ');
            t.push_str(l);
        }
        t
    }
}

/// The body of `payload` for `hook`, redacted whole.
pub fn body(payload: &Payload, format: WebhookFormat, redactor: &Redactor) -> String {
    let raw = match format {
        WebhookFormat::Json => serde_json::to_string(payload).unwrap_or_default(),
        WebhookFormat::Slack => serde_json::json!({ "text": payload.text() }).to_string(),
    };
    redactor.text(&raw)
}

/// Alerts waiting to be sent, at most this many (a full queue drops the new alert, logged).
const QUEUE: usize = 1024;
/// Attempts per webhook and alert.
const ATTEMPTS: u32 = 4;
/// The wait after the first failed attempt; doubles after each.
const BACKOFF: Duration = Duration::from_millis(250);
/// Timeout of one POST.
const POST_TIMEOUT: Duration = Duration::from_secs(10);

/// One alert to send.
struct Job {
    payload: Payload,
    webhooks: std::sync::Arc<Vec<Webhook>>,
    redactor: std::sync::Arc<Redactor>,
}

/// The queue to the sending task.
#[derive(Clone)]
pub struct Sender {
    tx: tokio::sync::mpsc::Sender<Job>,
}

impl Sender {
    /// Start the sending task (on the current runtime).
    pub fn start() -> Result<Sender, String> {
        let client = client()?;
        let (tx, mut rx) = tokio::sync::mpsc::channel::<Job>(QUEUE);
        tokio::spawn(async move {
            while let Some(job) = rx.recv().await {
                for hook in job.webhooks.iter() {
                    let body = body(&job.payload, hook.format, &job.redactor);
                    post(&client, hook, body).await;
                }
            }
        });
        Ok(Sender { tx })
    }

    /// Queue `payload` for every webhook; never waits.
    pub fn send(
        &self,
        payload: Payload,
        webhooks: std::sync::Arc<Vec<Webhook>>,
        redactor: std::sync::Arc<Redactor>,
    ) {
        let check = redactor.text(&payload.check);
        if self
            .tx
            .try_send(Job {
                payload,
                webhooks,
                redactor,
            })
            .is_err()
        {
            tracing::warn!(
                check = %crate::report::one_line(&check),
                "alert queue full: alert dropped"
            );
        }
    }
}

fn client() -> Result<reqwest::Client, String> {
    crate::checks::common::tls::own_http_client(POST_TIMEOUT, "alert client")
}

/// POST `body` to `hook`, retrying a failure (an error or a status other than 2xx) with
/// backoff; the last failure is logged without the URL (a secret).
async fn post(client: &reqwest::Client, hook: &Webhook, body: String) {
    let mut delay = BACKOFF;
    for attempt in 1..=ATTEMPTS {
        let mut req = client
            .post(&hook.url)
            .header("content-type", "application/json")
            .body(body.clone());
        for (k, v) in &hook.headers {
            req = req.header(k.as_str(), v.as_str());
        }
        let failure = match req.send().await {
            Ok(resp) if resp.status().is_success() => return,
            Ok(resp) => format!("HTTP {}", resp.status().as_u16()),
            Err(e) if e.is_timeout() => "timed out".to_owned(),
            Err(e) if e.is_connect() => "connection failed".to_owned(),
            Err(_) => "request failed".to_owned(),
        };
        if attempt == ATTEMPTS {
            tracing::warn!("alert webhook failed after {ATTEMPTS} attempts: {failure}");
            return;
        }
        tokio::time::sleep(delay).await;
        delay *= 2;
    }
}
