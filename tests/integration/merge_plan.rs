//! `merge --config` checks the set of names in the documents against the config's plan: edited
//! shard documents that leave a configured check out (with `total_checks` and the positions
//! edited to fit) are refused, not merged into a PASS.

use crate::support::{Workspace, code, json, stderr, stdout};

/// Drop the result `name` from the shard document `file`, and make every document in `all`
/// agree on one check less (`total_checks`, the positions after it).
fn forge_without(ws: &Workspace, file: &str, name: &str, all: &[&str]) {
    let path = ws.path().join(file);
    let mut doc = json(&path);
    let results = doc["results"].as_array().unwrap().clone();
    let index = results.iter().position(|r| r["name"] == name).unwrap();
    let removed = doc["shard"]["positions"][index].as_u64().unwrap();
    doc["results"].as_array_mut().unwrap().remove(index);
    doc["shard"]["positions"]
        .as_array_mut()
        .unwrap()
        .remove(index);
    std::fs::write(&path, serde_json::to_vec(&doc).unwrap()).unwrap();
    for f in all {
        let p = ws.path().join(f);
        let mut d = json(&p);
        let total = d["shard"]["total_checks"].as_u64().unwrap();
        d["shard"]["total_checks"] = (total - 1).into();
        for pos in d["shard"]["positions"].as_array_mut().unwrap() {
            let v = pos.as_u64().unwrap();
            if v > removed {
                *pos = (v - 1).into();
            }
        }
        std::fs::write(&p, serde_json::to_vec(&d).unwrap()).unwrap();
    }
}

#[test]
fn a_shard_document_leaving_out_a_configured_check_is_refused() {
    let ws = Workspace::new();
    ws.write(
        "c.yaml",
        "environments:\n  t:\n    command_checks:\n      - {name: one, command: [\"true\"]}\n      - {name: two, command: [\"false\"]}\n      - {name: three, command: [\"true\"]}\n      - {name: four, command: [\"true\"]}\n",
    );
    for k in ["1/2", "2/2"] {
        let file = format!("s{}.json", &k[..1]);
        let out = ws.run(
            &["-c", "c.yaml", "--env", "t", "--shard", k, "--json", &file],
            &[],
        );
        assert!([0, 1].contains(&code(&out)), "{}", stderr(&out));
    }
    // Take the failing check out of whichever shard ran it.
    let holder = ["s1.json", "s2.json"]
        .into_iter()
        .find(|f| {
            json(&ws.path().join(f))["results"]
                .as_array()
                .unwrap()
                .iter()
                .any(|r| r["name"] == "two")
        })
        .unwrap();
    forge_without(&ws, holder, "two", &["s1.json", "s2.json"]);

    // The forged documents fit together: without the config, merge cannot tell.
    let blind = ws.run(&["merge", "s1.json", "s2.json"], &[]);
    assert_eq!(code(&blind), 0, "{}", stderr(&blind));

    let out = ws.run(&["merge", "s1.json", "s2.json", "--config", "c.yaml"], &[]);
    let err = stderr(&out);
    assert_eq!(code(&out), 2, "{}{err}", stdout(&out));
    assert!(err.contains("c.yaml") && err.contains("`two`"), "{err}");
    assert!(err.contains("no document holds"), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(!stdout(&out).contains("PASSED"), "{}", stdout(&out));
}

#[test]
fn documents_holding_a_check_the_config_does_not_plan_are_refused() {
    let ws = Workspace::new();
    let config = "environments:\n  t:\n    command_checks:\n      - {name: one, command: [\"true\"]}\n      - {name: two, command: [\"true\"]}\n";
    ws.write("c.yaml", config);
    let out = ws.run(&["-c", "c.yaml", "--env", "t", "--json", "whole.json"], &[]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    // The same run, merged against the config it came from: fine.
    let ok = ws.run(&["merge", "whole.json", "--config", "c.yaml"], &[]);
    assert_eq!(code(&ok), 0, "{}", stderr(&ok));
    // The config renamed a check since.
    ws.write("c.yaml", &config.replace("name: two", "name: deux"));
    let out = ws.run(&["merge", "whole.json", "--config", "c.yaml"], &[]);
    let err = stderr(&out);
    assert_eq!(code(&out), 2, "{err}");
    assert!(err.contains("`deux`"), "{err}");
}
