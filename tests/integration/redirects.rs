//! Redirect chains, end to end against in-process loopback servers that record every request
//! (two ports are two origins): configured headers dropped at the first cross-origin hop stay
//! dropped when the chain comes back (A→B→A); 303, and 301/302 after a POST, continue as a GET
//! without a body while 307 keeps both; `max_redirects` defaults to 10.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use crate::support::Workspace;
use crate::support::platform::run_json;

/// One request as the server saw it.
#[derive(Debug, Clone)]
struct Seen {
    method: String,
    path: String,
    /// Header names, lower case, with their values.
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Seen {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// A loopback server answering each path with `route(path)`: a status and a `Location`.
struct Recorder {
    port: u16,
    seen: Arc<Mutex<Vec<Seen>>>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

type Route = Box<dyn Fn(&str) -> (u16, Option<String>) + Send>;

impl Recorder {
    fn start(route: Route) -> Recorder {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (seen2, stop2) = (seen.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            for conn in listener.incoming() {
                if stop2.load(Ordering::SeqCst) {
                    break;
                }
                if let Ok(c) = conn {
                    serve(c, &route, &seen2);
                }
            }
        });
        Recorder {
            port,
            seen,
            stop,
            thread: Some(thread),
        }
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }

    fn request(&self, path: &str) -> Seen {
        self.seen()
            .into_iter()
            .find(|s| s.path == path)
            .unwrap_or_else(|| panic!("no request for {path}: {:?}", self.seen()))
    }
}

impl Drop for Recorder {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(("127.0.0.1", self.port));
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn serve(stream: TcpStream, route: &Route, seen: &Mutex<Vec<Seen>>) {
    let _ = stream.set_read_timeout(Some(std::time::Duration::from_secs(10)));
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    if reader.read_line(&mut line).unwrap_or(0) == 0 {
        return;
    }
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap_or("").to_owned();
    let path = parts.next().unwrap_or("/").to_owned();
    let mut headers = Vec::new();
    // At most 100 header lines.
    for _ in 0..100 {
        let mut h = String::new();
        if reader.read_line(&mut h).unwrap_or(0) == 0 || h == "\r\n" {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            headers.push((k.trim().to_ascii_lowercase(), v.trim().to_owned()));
        }
    }
    let length = headers
        .iter()
        .find(|(k, _)| k == "content-length")
        .and_then(|(_, v)| v.parse::<usize>().ok())
        .unwrap_or(0)
        .min(1 << 20);
    let mut body = vec![0u8; length];
    let _ = reader.read_exact(&mut body);
    let (status, location) = route(&path);
    seen.lock().unwrap().push(Seen {
        method,
        path,
        headers,
        body,
    });
    let location = location
        .map(|l| format!("Location: {l}\r\n"))
        .unwrap_or_default();
    let mut stream = reader.into_inner();
    let _ = write!(
        stream,
        "HTTP/1.1 {status} X\r\n{location}Content-Length: 2\r\nConnection: close\r\n\r\nok"
    );
    let _ = stream.flush();
}

#[test]
fn headers_dropped_at_another_origin_stay_dropped_when_the_chain_comes_back() {
    let b_port = Arc::new(Mutex::new(0u16));
    let a_port = Arc::new(Mutex::new(0u16));
    let to_b = b_port.clone();
    let a = Recorder::start(Box::new(move |path| match path {
        "/start" => (
            302,
            Some(format!("http://127.0.0.1:{}/hop", to_b.lock().unwrap())),
        ),
        "/same-origin" => (302, Some("/start".to_owned())),
        _ => (200, None),
    }));
    *a_port.lock().unwrap() = a.port;
    let to_a = a_port.clone();
    let b = Recorder::start(Box::new(move |_| {
        (
            302,
            Some(format!("http://127.0.0.1:{}/back", to_a.lock().unwrap())),
        )
    }));
    *b_port.lock().unwrap() = b.port;
    let ws = Workspace::new();
    let run = run_json(
        &ws,
        &format!(
            r#"environments:
  t:
    http_checks:
      - name: chain
        url: "{}"
        headers: {{X-Api-Key: key-sentinel-0031, Authorization: "Bearer bearer-sentinel-0032"}}
"#,
            a.url("/same-origin")
        ),
        &[],
    );
    assert_eq!(run.code, 0, "{}", run.raw);
    run.expect("chain", "PASS", None);
    // A → A keeps the headers; A → B drops them; B → A does not bring them back.
    for (server, path, kept) in [
        (&a, "/same-origin", true),
        (&a, "/start", true),
        (&b, "/hop", false),
        (&a, "/back", false),
    ] {
        let r = server.request(path);
        assert_eq!(
            r.header("x-api-key") == Some("key-sentinel-0031"),
            kept,
            "{path}: {r:?}"
        );
        assert_eq!(r.header("authorization").is_some(), kept, "{path}: {r:?}");
        assert!(r.header("referer").is_none(), "{path}: {r:?}");
    }
}

#[test]
fn see_other_and_moved_after_a_post_continue_as_a_get_without_a_body() {
    let s = Recorder::start(Box::new(|path| match path {
        "/303" | "/301" | "/302" | "/307" => (
            path.trim_start_matches('/').parse().unwrap(),
            Some(format!("/target{path}")),
        ),
        _ => (200, None),
    }));
    let ws = Workspace::new();
    let check = |name: &str, method: &str, path: &str| {
        format!(
            "      - {{name: {name}, url: \"{}\", method: {method}, body: \"payload-0033\", headers: {{Content-Type: text/plain}}}}\n",
            s.url(path)
        )
    };
    let mut config = "environments:\n  t:\n    http_checks:\n".to_owned();
    for code in ["303", "301", "302", "307"] {
        config.push_str(&check(&format!("post-{code}"), "POST", &format!("/{code}")));
    }
    config.push_str(&check("put-303", "PUT", "/303"));
    let run = run_json(&ws, &config, &[]);
    assert_eq!(run.code, 0, "{}", run.raw);
    let seen = s.seen();
    let at =
        |path: &str| -> Vec<Seen> { seen.iter().filter(|r| r.path == path).cloned().collect() };
    for code in ["303", "301", "302"] {
        let targets = at(&format!("/target/{code}"));
        assert!(!targets.is_empty(), "{code}: {seen:?}");
        for t in targets {
            assert_eq!(t.method, "GET", "{code}: {t:?}");
            assert!(t.body.is_empty(), "{code}: {t:?}");
            assert!(t.header("content-length").is_none_or(|v| v == "0"), "{t:?}");
            assert!(t.header("content-type").is_none(), "{code}: {t:?}");
        }
        // The first request was the POST with its body.
        let first = at(&format!("/{code}"));
        assert!(first.iter().all(|r| r.body == b"payload-0033"), "{first:?}");
    }
    // 307 repeats the method and the body.
    let t = &at("/target/307")[0];
    assert_eq!(t.method, "POST", "{t:?}");
    assert_eq!(t.body, b"payload-0033", "{t:?}");
}

#[test]
fn max_redirects_defaults_to_ten() {
    // `/r/N` redirects to `/r/N-1`; `/r/0` answers 200: a chain of N redirects.
    let s = Recorder::start(Box::new(|path| {
        let n: u32 = path.trim_start_matches("/r/").parse().unwrap_or(0);
        if n == 0 {
            (200, None)
        } else {
            (302, Some(format!("/r/{}", n - 1)))
        }
    }));
    let ws = Workspace::new();
    let run = run_json(
        &ws,
        &format!(
            "environments:\n  t:\n    http_checks:\n      - {{name: ten, url: \"{}\"}}\n      - {{name: eleven, url: \"{}\"}}\n",
            s.url("/r/10"),
            s.url("/r/11")
        ),
        &[],
    );
    assert_eq!(run.code, 1, "{}", run.raw);
    run.expect("ten", "PASS", None);
    let r = run.expect("eleven", "FAIL", Some("http.redirect"));
    assert!(
        r["message"].as_str().unwrap().contains("max_redirects 10"),
        "{r}"
    );
}
