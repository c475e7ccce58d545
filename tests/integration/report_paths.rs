//! Report paths that already hold something, as docs/reports.md promises: a symlink to a
//! regular file stays a symlink and the file it points to is replaced; a replaced report keeps
//! its permissions; a dangling symlink is followed, like the shell's `>`, and its target created.

use std::os::unix::fs::{MetadataExt, PermissionsExt};

use crate::support::{Workspace, code, read, stderr};

const PASSING: &str =
    "environments:\n  t:\n    command_checks:\n      - {name: a, command: [\"true\"]}\n";

#[test]
fn a_symlink_to_a_regular_file_stays_a_symlink_and_its_target_is_replaced() {
    let ws = Workspace::new();
    ws.write("c.yaml", PASSING);
    let target = ws.write("store/real.json", "old report\n");
    let old_inode = std::fs::metadata(&target).unwrap().ino();
    let link = ws.path().join("r.json");
    std::os::unix::fs::symlink("store/real.json", &link).unwrap();
    let out = ws.run(&["-c", "c.yaml", "--env", "t", "--json", "r.json"], &[]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let meta = std::fs::symlink_metadata(&link).unwrap();
    assert!(meta.file_type().is_symlink(), "the link was replaced");
    assert_eq!(
        std::fs::read_link(&link).unwrap(),
        std::path::Path::new("store/real.json")
    );
    let text = read(&target);
    assert!(text.contains("\"environment\": \"t\""), "{text}");
    // Replaced (renamed over), not rewritten in place.
    assert_ne!(std::fs::metadata(&target).unwrap().ino(), old_inode);
    // Nothing left beside it.
    let left: Vec<String> = std::fs::read_dir(ws.path().join("store"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(left, ["real.json"]);
}

#[test]
fn a_replaced_report_keeps_its_permissions() {
    let ws = Workspace::new();
    ws.write("c.yaml", PASSING);
    for (file, mode) in [("a.xml", 0o600), ("b.xml", 0o640), ("c.xml", 0o604)] {
        let p = ws.write(file, "old\n");
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).unwrap();
        let out = ws.run(&["-c", "c.yaml", "--env", "t", "--junit", file], &[]);
        assert_eq!(code(&out), 0, "{}", stderr(&out));
        assert!(read(&p).contains("<testsuites"), "{file}");
        let now = std::fs::metadata(&p).unwrap().permissions().mode() & 0o7777;
        assert_eq!(now, mode, "{file}: {now:o}");
    }
    // Through a symlink: the target's mode.
    let p = ws.write("real/d.xml", "old\n");
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)).unwrap();
    std::os::unix::fs::symlink("real/d.xml", ws.path().join("d.xml")).unwrap();
    let out = ws.run(&["-c", "c.yaml", "--env", "t", "--junit", "d.xml"], &[]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(
        std::fs::metadata(&p).unwrap().permissions().mode() & 0o7777,
        0o600
    );
}

/// The choice docs/reports.md states: a dangling symlink is followed (as `>` in a shell would),
/// so a link prepared for an artifact that does not exist yet receives the report; a link
/// into a directory that does not exist is an error naming the path (exit 3), never a panic.
#[test]
fn a_dangling_symlink_is_followed_and_its_target_created() {
    let ws = Workspace::new();
    ws.write("c.yaml", PASSING);
    std::fs::create_dir_all(ws.path().join("artifacts")).unwrap();
    let link = ws.path().join("r.tap");
    std::os::unix::fs::symlink("artifacts/r.tap", &link).unwrap();
    let out = ws.run(&["-c", "c.yaml", "--env", "t", "--tap", "r.tap"], &[]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(
        std::fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink()
    );
    let text = read(&ws.path().join("artifacts/r.tap"));
    assert!(text.starts_with("TAP version 14"), "{text}");

    let nowhere = ws.path().join("nowhere.tap");
    std::os::unix::fs::symlink("missing-dir/r.tap", &nowhere).unwrap();
    let out = ws.run(&["-c", "c.yaml", "--env", "t", "--tap", "nowhere.tap"], &[]);
    let err = stderr(&out);
    assert_eq!(code(&out), 3, "{err}");
    assert!(err.contains("nowhere.tap"), "{err}");
    assert!(!ws.path().join("missing-dir").exists());
}
