//! `alerts:` (top level): the webhooks `infracheck serve` tells when a check starts failing,
//! keeps failing and recovers. A webhook's URL and header values are secrets: they join the
//! plan's secrets, so no output ever shows them.

use std::time::Duration;

use super::keys;
use crate::reader::ctx::Ctx;
use crate::reader::yaml::{MapReader, Node, Value};

/// The `alerts:` block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Alerts {
    /// Where alerts are POSTed, in config order.
    pub webhooks: Vec<Webhook>,
    /// Consecutive failures before a check alerts (at least 1).
    pub after: u32,
    /// While a check keeps failing, alert again this often; `None`: once.
    pub resend_every: Option<Duration>,
}

/// One entry of `alerts.webhooks`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Webhook {
    /// The http(s) URL.
    pub url: String,
    /// The body's shape.
    pub format: WebhookFormat,
    /// Request headers, in file order.
    pub headers: Vec<(String, String)>,
}

/// `format:` of a webhook.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WebhookFormat {
    /// The alert document (see docs/serve.md).
    Json,
    /// `{"text": "…"}`, as Slack's incoming webhooks take it.
    Slack,
}

/// Most consecutive failures `after:` may ask for.
const MAX_AFTER: u64 = 1000;

/// Read `alerts:`; `None` when it is invalid (the problems are recorded).
pub(super) fn read(node: &Node, path: &str, ctx: &mut Ctx<'_>) -> Option<Alerts> {
    let mut r = MapReader::new(node, path, ctx.problems)?;
    let mut after = 1;
    if let Some((n, p)) = r.take("after")
        && let Some(v) = ctx.uint(n, &p, MAX_AFTER)
    {
        if v == 0 {
            ctx.problem(n, &p, "must be at least 1");
        } else {
            after = u32::try_from(v).unwrap_or(1);
        }
    }
    let mut resend_every = None;
    if let Some((n, p)) = r.take("resend_every")
        && let Some(d) = super::defaults::positive_duration(ctx, n, &p)
    {
        resend_every = Some(d);
    }
    let webhooks = match r.take("webhooks") {
        Some((n, p)) => read_webhooks(n, &p, ctx),
        None => {
            ctx.problem(node, path, "missing required key `webhooks`");
            None
        }
    };
    r.finish(&keys::names(keys::ALERT_FIELDS), ctx.problems);
    Some(Alerts {
        webhooks: webhooks?,
        after,
        resend_every,
    })
}

fn read_webhooks(node: &Node, path: &str, ctx: &mut Ctx<'_>) -> Option<Vec<Webhook>> {
    let Value::Seq(items) = &node.value else {
        ctx.problem(
            node,
            path,
            format!(
                "expected a list of webhooks, found {}",
                node.value.type_name()
            ),
        );
        return None;
    };
    if items.is_empty() {
        ctx.problem(node, path, "must list at least one webhook");
        return None;
    }
    let mut out = Vec::new();
    let mut ok = true;
    for (i, item) in items.iter().enumerate() {
        match read_webhook(item, &format!("{path}[{i}]"), ctx) {
            Some(w) => out.push(w),
            None => ok = false,
        }
    }
    ok.then_some(out)
}

fn read_webhook(node: &Node, path: &str, ctx: &mut Ctx<'_>) -> Option<Webhook> {
    let mut r = MapReader::new(node, path, ctx.problems)?;
    let url = match r.take("url") {
        Some((n, p)) => ctx
            .non_empty(n, &p)
            .and_then(|u| match url::Url::parse(&u) {
                Ok(parsed) if matches!(parsed.scheme(), "http" | "https") => Some(u),
                // The URL is a secret: the problem does not quote it.
                _ => {
                    ctx.problem(n, &p, "expected an http:// or https:// URL");
                    None
                }
            }),
        None => {
            ctx.problem(node, path, "missing required key `url`");
            None
        }
    };
    let mut format = Some(WebhookFormat::Json);
    if let Some((n, p)) = r.take("format") {
        format = match ctx.string(n, &p).map(|s| s.to_ascii_lowercase()).as_deref() {
            Some("json") => Some(WebhookFormat::Json),
            Some("slack") => Some(WebhookFormat::Slack),
            Some(_) => {
                ctx.problem(n, &p, "expected `json` or `slack`");
                None
            }
            None => None,
        };
    }
    let mut headers = Some(Vec::new());
    if let Some((n, p)) = r.take("headers") {
        headers = ctx.string_map(n, &p).map(|m| {
            m.into_iter()
                .map(|(k, v, _)| {
                    ctx.secrets.push(v.clone());
                    (k, v)
                })
                .collect()
        });
    }
    r.finish(&keys::names(keys::WEBHOOK_FIELDS), ctx.problems);
    let url = url?;
    ctx.secrets.push(url.clone());
    Some(Webhook {
        url,
        format: format?,
        headers: headers?,
    })
}
