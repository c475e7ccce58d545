//! `--html`: the self-contained report, loaded in headless Chromium (Debian package) against
//! a real nginx whose answers are hostile: the page runs its script under its own strict CSP
//! with no console error and no request, the status filter and the row count work, and no
//! injected element exists in the DOM. Also strict HTML5 parsing (html5lib) and well-formed
//! SVG (xmllint).

use std::path::Path;
use std::process::Command;

use base64::Engine as _;
use sha2::Digest as _;

use crate::support::nginx::Nginx;
use crate::support::{Workspace, code, read, require_bin, stderr};

/// Text that would become elements if it were not escaped (ids the DOM must not contain).
const HOSTILE_NAME: &str = "<img id=injected-name src=x onerror=alert(1)>";
const HOSTILE_BODY: &str =
    "<script id=injected-body>document.title='pwned'</script><b id=injected-b>x</b>";
const HOSTILE_HEADER: &str = "<i id=injected-header>h</i>";

fn site() -> Nginx {
    Nginx::start(&format!(
        r#"location = /ok {{ return 200 "fine"; }}
        location = /evil {{ add_header X-Evil "{HOSTILE_HEADER}" always; return 500 "{}"; }}
        location = /slow {{ echo_sleep 0.3; echo "slow"; }}"#,
        HOSTILE_BODY.replace('"', "\\\"")
    ))
}

fn config(base: &str) -> String {
    format!(
        r#"environments:
  t:
    http_checks:
      - name: "{HOSTILE_NAME}"
        url: "{base}/evil"
      - name: header
        url: "{base}/ok"
        response_headers:
          X-Evil: "never"
      - name: evil-header
        url: "{base}/evil"
        expected_status: [500]
        response_headers:
          X-Evil: "never"
      - name: ok
        url: "{base}/ok"
      - name: slow
        url: "{base}/slow"
        warn_latency: 100ms
        fail_latency: 5s
    tcp_checks:
      - name: closed
        host: 127.0.0.1
        port: 1
"#
    )
}

/// Chromium's `--dump-dom` of `page` (the DOM after its scripts ran) and its log on stderr.
fn dump_dom(page: &Path) -> (String, String) {
    let chromium = require_bin(
        "chromium",
        &["/usr/bin/chromium", "/usr/bin/chromium-browser"],
        "chromium",
    );
    let profile = tempfile::tempdir().unwrap();
    let out = Command::new("timeout")
        .arg("120")
        .arg(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--enable-logging=stderr",
            "--v=0",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg("--dump-dom")
        .arg(format!("file://{}", page.display()))
        .output()
        .expect("run chromium");
    let log = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "chromium failed: {log}");
    (String::from_utf8_lossy(&out.stdout).into_owned(), log)
}

/// Console messages (CSP violations, exceptions) and failed loads in Chromium's log.
fn console_errors(log: &str) -> Vec<&str> {
    log.lines()
        .filter(|l| {
            l.contains(":CONSOLE")
                || l.contains("Uncaught")
                || l.contains("Content Security Policy")
                || l.contains("ERR_")
        })
        .collect()
}

fn csp_hash(block: &str) -> String {
    format!(
        "'sha256-{}'",
        base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(block.as_bytes()))
    )
}

fn write_report(ws: &Workspace) -> (String, std::path::PathBuf) {
    let site = site();
    ws.write("c.yaml", &config(&site.base()));
    let out = ws.run(
        &[
            "run",
            "-c",
            "c.yaml",
            "--env",
            "t",
            "--html",
            "out/report.html",
            "--json",
            "r.json",
        ],
        &[("GITHUB_SHA", "0123abc<u id=injected-sha>")],
    );
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    let path = ws.path().join("out/report.html");
    (read(&path), path)
}

#[test]
fn the_report_loads_in_chromium_without_errors_requests_or_injected_elements() {
    let ws = Workspace::new();
    let (html, path) = write_report(&ws);
    // Self-contained: nothing to fetch, whatever the attribute.
    let fetch =
        regex::Regex::new(r#"(?i)\b(src|href|action|data)\s*=\s*["']?\s*(https?:|//)"#).unwrap();
    assert!(!fetch.is_match(&html), "an external resource in the report");
    assert!(html.contains("<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'sha256-"));
    assert!(html.contains("<dt>Commit</dt><dd>0123abc&lt;u id=injected-sha&gt;</dd>"));

    let (dom, log) = dump_dom(&path);
    assert!(console_errors(&log).is_empty(), "console: {log}");
    // The script ran (under the CSP): it marks the root and counts the rows.
    assert!(
        dom.contains("<html lang=\"en\" class=\" js\">"),
        "script did not run"
    );
    let doc = crate::support::json(&ws.path().join("r.json"));
    let checks = doc["results"].as_array().unwrap().len();
    assert_eq!(checks, 6);
    assert_eq!(dom.matches("<tr class=\"row\">").count(), checks);
    assert!(dom.contains(&format!("{checks} of {checks} checks shown")));
    // Hostile name, body and header are text, never elements.
    for id in [
        "injected-name",
        "injected-body",
        "injected-b",
        "injected-header",
        "injected-sha",
    ] {
        assert!(!dom.contains(&format!("id=\"{id}\"")), "{id} was injected");
    }
    assert!(!dom.contains("<title>pwned"), "the body's script ran");
    assert!(dom.contains("&lt;img id=injected-name src=x onerror=alert(1)&gt;"));
    assert!(
        dom.contains("&lt;i id=injected-header&gt;"),
        "the header is shown as text"
    );
}

#[test]
fn the_status_filter_shows_only_failures_after_a_click() {
    let ws = Workspace::new();
    let (html, _) = write_report(&ws);
    // A test copy of the page: a script that clicks FAIL and writes what is visible into the
    // DOM, allowed by adding its hash to the page's own policy.
    let probe = r#"
document.querySelector('button[data-filter="FAIL"]').click();
var vis=[];var all=document.querySelectorAll("tbody.check");
for(var i=0;i<all.length;i++){if(!all[i].hidden){vis.push(all[i].getAttribute("data-status"));}}
var p=document.createElement("p");p.id="probe";p.textContent="visible:"+vis.join(",")+";shown:"+document.getElementById("shown").textContent;document.body.appendChild(p);
document.getElementById("q").value="closed";document.getElementById("q").dispatchEvent(new Event("input"));
var q=document.createElement("p");q.id="probe2";q.textContent="search:"+document.getElementById("shown").textContent;document.body.appendChild(q);
"#;
    let copy = html
        .replacen(
            "; img-src data:",
            &format!(" {}; img-src data:", csp_hash(probe)),
            1,
        )
        .replacen("</body>", &format!("<script>{probe}</script>\n</body>"), 1);
    let page = ws.write("probe.html", &copy);
    let (dom, log) = dump_dom(&page);
    assert!(console_errors(&log).is_empty(), "console: {log}");
    let doc = crate::support::json(&ws.path().join("r.json"));
    let failed = doc["results"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["status"] == "FAIL")
        .count();
    assert!(failed >= 3, "{doc}");
    let want = vec!["FAIL"; failed].join(",");
    assert!(
        dom.contains(&format!("visible:{want};shown:{failed} of 6 checks shown")),
        "{dom}"
    );
    assert!(dom.contains("search:1 of 6 checks shown"), "{dom}");
}

#[test]
fn the_report_is_strict_html5_with_well_formed_svg() {
    let ws = Workspace::new();
    let (html, path) = write_report(&ws);
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/html/validate.py");
    let out = Command::new("python3")
        .arg(&fixture)
        .arg(&path)
        .output()
        .expect("python3 is required");
    assert!(
        out.status.success(),
        "html5lib strict parse (pip install html5lib; scripts/test.sh does): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let xmllint = require_bin("xmllint", &["/usr/bin/xmllint"], "libxml2-utils");
    let mut svgs = 0;
    let mut rest = html.as_str();
    while let Some(start) = rest.find("<svg ") {
        let end = rest[start..].find("</svg>").expect("a closed svg") + start + "</svg>".len();
        let file = ws.write(&format!("svg{svgs}.svg"), &rest[start..end]);
        let o = Command::new(&xmllint)
            .arg("--noout")
            .arg(&file)
            .output()
            .unwrap();
        assert!(
            o.status.success(),
            "svg {svgs}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        svgs += 1;
        rest = &rest[end..];
    }
    // The latency bars and the phase bars; no certificate timeline here (no TLS check).
    assert_eq!(svgs, 2);
    assert!(
        html.contains("aria-label=\"Latency of each check against its warn and fail thresholds\"")
    );
    assert!(html.contains("aria-label=\"Phases of each check\""));
    // Warn ticks for the five http checks (a default warn_latency), one fail tick (slow's 5 s).
    let ticks = |colour: &str| {
        html.matches(&format!("stroke=\"{colour}\" stroke-width=\"2\"/>"))
            .count()
    };
    assert_eq!((ticks("#8a5300"), ticks("#b00020")), (5, 1));
}

#[test]
fn html_is_an_output_like_the_others() {
    let ws = Workspace::new();
    ws.write(
        "c.yaml",
        "environments:\n  t:\n    command_checks:\n      - {name: ok, command: [\"true\"]}\n",
    );
    // Two reports on one file are refused before anything runs.
    let out = ws.run(
        &[
            "run", "-c", "c.yaml", "--env", "t", "--html", "r.x", "--junit", "r.x",
        ],
        &[],
    );
    assert_eq!(code(&out), 2);
    assert!(
        stderr(&out).contains("--junit and --html both write r.x"),
        "{}",
        stderr(&out)
    );
    // A report that cannot be written: exit 3, naming it.
    ws.write("blocker", "");
    let out = ws.run(
        &[
            "run",
            "-c",
            "c.yaml",
            "--env",
            "t",
            "--html",
            "blocker/r.html",
        ],
        &[],
    );
    assert_eq!(code(&out), 3, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("HTML report: cannot"),
        "{}",
        stderr(&out)
    );
    // GitHub mode names it in $GITHUB_OUTPUT.
    let gh = ws.write("gh_out", "");
    let out = ws.run(
        &[
            "run", "-c", "c.yaml", "--env", "t", "--github", "--html", "r.html",
        ],
        &[("GITHUB_OUTPUT", gh.to_str().unwrap())],
    );
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(read(&gh).contains("report_html<<"), "{}", read(&gh));
    // `merge` writes it too.
    let out = ws.run(
        &["run", "-c", "c.yaml", "--env", "t", "--json", "a.json"],
        &[],
    );
    assert_eq!(code(&out), 0);
    let out = ws.run(&["merge", "a.json", "--html", "m.html"], &[]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(read(&ws.path().join("m.html")).contains("<tr class=\"row\">"));
}
