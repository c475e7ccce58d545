//! `icmp_checks` on loopback: 127.0.0.1 and ::1 answer every echo request; inside a private
//! network namespace (`unshare -n`, root) a routed address nobody owns loses every request, a
//! namespace without routes is unreachable, and an unprivileged user gets `icmp.permission`
//! until `net.ipv4.ping_group_range` admits its group. The host's network is never touched.

use std::ffi::OsStr;
use std::os::unix::fs::PermissionsExt;
use std::process::Output;

use crate::support::{Workspace, code, infracheck_command_via, json, require_bin, result, stderr};

/// Run infracheck (`-c c.yaml --env t --json r.json`) inside a new network namespace after `setup`.
fn in_netns(ws: &Workspace, setup: &str, runner: &str) -> Output {
    let script = format!("set -eu\n{setup}\nbin=\"$1\"; shift\n{runner} \"$bin\" \"$@\"\n");
    let unshare = require_bin("unshare", &["/usr/bin/unshare"], "util-linux");
    let wrapper: Vec<&OsStr> = vec![
        unshare.as_os_str(),
        "-n".as_ref(),
        "sh".as_ref(),
        "-c".as_ref(),
        script.as_ref(),
        "sh".as_ref(),
    ];
    let out = infracheck_command_via(ws.path(), &wrapper)
        .args(["-c", "c.yaml", "--env", "t", "--json", "r.json"])
        .output()
        .expect("run infracheck under unshare");
    assert!(
        !stderr(&out).starts_with("unshare:"),
        "`unshare -n` failed (it needs root): {}",
        stderr(&out)
    );
    out
}

/// Whether the loopback interface has `::1` (some containers run without IPv6).
fn has_ipv6_loopback() -> bool {
    std::fs::read_to_string("/proc/net/if_inet6")
        .map(|t| {
            t.lines()
                .any(|l| l.starts_with("00000000000000000000000000000001"))
        })
        .unwrap_or(false)
}

#[test]
fn loopback_answers_every_echo_request() {
    let ws = Workspace::new();
    let mut checks = String::from(
        "      - {name: v4, host: 127.0.0.1}\n      - {name: by-name, host: localhost, ip: v4, count: 2, interval: 50ms, warn_latency: 5s}\n",
    );
    let v6 = has_ipv6_loopback();
    if v6 {
        checks.push_str("      - {name: v6, host: \"::1\", ip: v6, count: 4, interval: 20ms}\n");
    }
    ws.write(
        "c.yaml",
        &format!("environments:\n  t:\n    icmp_checks:\n{checks}"),
    );
    let out = ws.run(&["-c", "c.yaml", "--env", "t", "--json", "r.json"], &[]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let doc = json(&ws.path().join("r.json"));
    let mut expected = vec![("v4", "127.0.0.1", 3), ("by-name", "127.0.0.1", 2)];
    if v6 {
        expected.push(("v6", "::1", 4));
    }
    for (name, addr, sent) in expected {
        let r = result(&doc, name);
        assert_eq!(r["status"], "PASS", "{r}");
        let m = &r["metadata"];
        assert_eq!(m["sent"], sent, "{r}");
        assert_eq!(m["received"], m["sent"], "{r}");
        assert_eq!(m["loss_percent"], 0.0, "{r}");
        assert_eq!(m["remote_addr"], addr, "{r}");
        let (min, avg, max) = (
            m["rtt_min_ms"].as_f64().expect("rtt_min_ms"),
            m["rtt_avg_ms"].as_f64().expect("rtt_avg_ms"),
            m["rtt_max_ms"].as_f64().expect("rtt_max_ms"),
        );
        assert!(0.0 <= min && min <= avg && avg <= max, "{r}");
    }
}

#[test]
fn a_routed_address_nobody_owns_loses_every_request_and_max_loss_tolerates_it() {
    let ws = Workspace::new();
    // 192.0.2.0/24 (TEST-NET-1) is routed onto the namespace's loopback, where no address owns
    // it: each request leaves and none is answered, without any error from the network.
    ws.write(
        "c.yaml",
        "environments:\n  t:\n    icmp_checks:\n      \
         - {name: local, host: 127.0.0.1}\n      \
         - {name: lost, host: 192.0.2.2, count: 2, interval: 50ms, timeout: 2s}\n      \
         - {name: half-allowed, host: 192.0.2.2, count: 2, interval: 50ms, timeout: 2s, max_loss: 50}\n      \
         - {name: tolerated, host: 192.0.2.2, count: 2, interval: 50ms, timeout: 2s, max_loss: 100}\n",
    );
    let out = in_netns(
        &ws,
        "ip link set lo up\nip route add 192.0.2.0/24 dev lo",
        "",
    );
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    let doc = json(&ws.path().join("r.json"));
    assert_eq!(result(&doc, "local")["status"], "PASS", "{doc}");
    for name in ["lost", "half-allowed"] {
        let r = result(&doc, name);
        assert_eq!(r["status"], "FAIL", "{r}");
        assert_eq!(r["reason"], "icmp.loss", "{r}");
        assert_eq!(r["metadata"]["sent"], 2, "{r}");
        assert_eq!(r["metadata"]["received"], 0, "{r}");
        assert_eq!(r["metadata"]["loss_percent"], 100.0, "{r}");
        assert!(r["metadata"].get("rtt_avg_ms").is_none(), "{r}");
    }
    let r = result(&doc, "tolerated");
    assert_eq!(r["status"], "PASS", "max_loss: 100 accepts no reply: {r}");
    assert_eq!(r["metadata"]["received"], 0, "{r}");
}

#[test]
fn a_namespace_without_routes_is_unreachable_at_once() {
    let ws = Workspace::new();
    ws.write(
        "c.yaml",
        "environments:\n  t:\n    icmp_checks:\n      - {name: down, host: 127.0.0.1, timeout: 20s}\n",
    );
    // The new namespace's loopback is down: no route at all, sending fails.
    let out = in_netns(&ws, "", "");
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    let doc = json(&ws.path().join("r.json"));
    let r = result(&doc, "down");
    assert_eq!(r["status"], "FAIL", "{r}");
    assert_eq!(r["reason"], "icmp.unreachable", "{r}");
    assert!(
        r["message"].as_str().unwrap_or("").contains("127.0.0.1"),
        "{r}"
    );
    assert_eq!(r["metadata"]["received"], 0, "{r}");
    // A failed send ends the probe instead of waiting for the 20 s timeout; 10 s is a
    // generous bound for a loaded machine.
    let ms = r["duration_ms"].as_u64().expect("duration_ms");
    assert!(ms < 10_000, "waited {ms} ms: {r}");
}

#[test]
fn an_unprivileged_user_gets_icmp_permission_until_ping_group_range_admits_it() {
    let ws = Workspace::new();
    // `nobody` reads the config and writes the report in the workspace.
    std::fs::set_permissions(ws.path(), std::fs::Permissions::from_mode(0o777)).expect("chmod");
    ws.write(
        "c.yaml",
        "environments:\n  t:\n    icmp_checks:\n      - {name: v4, host: 127.0.0.1, timeout: 5s}\n",
    );
    let setpriv = require_bin("setpriv", &["/usr/bin/setpriv"], "util-linux");
    let nobody = format!(
        "{} --reuid=65534 --regid=65534 --clear-groups",
        setpriv.display()
    );
    // A new namespace starts with `ping_group_range` = `1 0` (no group) whatever the host has.
    let out = in_netns(&ws, "ip link set lo up", &nobody);
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    let r = result(&json(&ws.path().join("r.json")), "v4").clone();
    assert_eq!(r["status"], "FAIL", "{r}");
    assert_eq!(r["reason"], "icmp.permission", "{r}");
    let msg = r["message"].as_str().unwrap_or("");
    assert!(
        msg.contains("ping_group_range") && msg.contains("CAP_NET_RAW"),
        "says what to change: {r}"
    );
    // The namespace's own sysctl admits every group: the unprivileged ping socket works.
    let setup = "ip link set lo up\nsysctl -qw net.ipv4.ping_group_range='0 2147483647'";
    let out = in_netns(&ws, setup, &nobody);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let r = result(&json(&ws.path().join("r.json")), "v4").clone();
    assert_eq!(r["status"], "PASS", "{r}");
    assert_eq!(r["metadata"]["socket"], "datagram", "{r}");
    assert_eq!(r["metadata"]["received"], 3, "{r}");
}
