//! The credentials a Kubernetes check sends, gathered when the config is read so that they are
//! secrets of the run: an API server or a proxy that echoes `Authorization: Bearer <token>` in
//! an error message never puts the token in a report, a log line or the live output.
//!
//! They come from where the `kube` client takes them: every file of `KUBECONFIG` (else
//! `~/.kube/config`), and the service-account token of a pod. A credential an `exec` plugin
//! hands the client while the run goes is not known beforehand.

use std::path::{Path, PathBuf};

use secrecy::ExposeSecret;

use crate::reader::interpolate::Environment;

/// Where a pod's service-account token is mounted (the in-cluster configuration).
const SERVICE_ACCOUNT_TOKEN: &str = "/var/run/secrets/kubernetes.io/serviceaccount/token";

/// The kubeconfig files the client reads: every path of `KUBECONFIG`, else `~/.kube/config`.
fn kubeconfig_paths(env: &dyn Environment) -> Vec<PathBuf> {
    match env.var("KUBECONFIG").filter(|v| !v.is_empty()) {
        Some(list) => std::env::split_paths(&list)
            .filter(|p| !p.as_os_str().is_empty())
            .collect(),
        None => env
            .var("HOME")
            .map(|home| Path::new(&home).join(".kube").join("config"))
            .into_iter()
            .collect(),
    }
}

/// A token file's content as the client sends it (without the line break that ends it).
fn token_in(path: &Path) -> Option<String> {
    let text = std::fs::read_to_string(path).ok()?;
    Some(text.trim().to_owned()).filter(|t| !t.is_empty())
}

/// Every token, password and private key the kubeconfig files (and a mounted service-account
/// token) hold. Unreadable or invalid files are skipped: the check reports them when it runs.
pub(crate) fn secrets(env: &dyn Environment) -> Vec<String> {
    let mut out = Vec::new();
    for path in kubeconfig_paths(env) {
        let Ok(config) = kube::config::Kubeconfig::read_from(&path) else {
            continue;
        };
        for auth in config.auth_infos.into_iter().filter_map(|n| n.auth_info) {
            for secret in [&auth.token, &auth.password, &auth.client_key_data]
                .into_iter()
                .flatten()
            {
                out.push(secret.expose_secret().trim().to_owned());
            }
            if let Some(file) = &auth.token_file {
                let file = Path::new(file);
                let file = match path.parent() {
                    Some(dir) if file.is_relative() => dir.join(file),
                    _ => file.to_path_buf(),
                };
                out.extend(token_in(&file));
            }
        }
    }
    out.extend(token_in(Path::new(SERVICE_ACCOUNT_TOKEN)));
    out.retain(|s| !s.is_empty());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_passwords_and_token_files_of_every_kubeconfig_are_secrets() {
        let dir = tempfile::tempdir().unwrap();
        let token_file = dir.path().join("token");
        std::fs::write(&token_file, "file-token-0042\n").unwrap();
        let a = dir.path().join("a.yaml");
        std::fs::write(
            &a,
            "apiVersion: v1\nkind: Config\nusers:\n- name: u\n  user: {token: inline-token-0041}\n- name: f\n  user: {tokenFile: token}\n",
        )
        .unwrap();
        let b = dir.path().join("b.yaml");
        std::fs::write(
            &b,
            "apiVersion: v1\nkind: Config\nusers:\n- name: p\n  user: {username: admin, password: basic-password-0043}\n",
        )
        .unwrap();
        let list = std::env::join_paths([&a, &dir.path().join("missing"), &b]).unwrap();
        let list = list.to_str().unwrap().to_owned();
        let env = move |k: &str| (k == "KUBECONFIG").then(|| list.clone());
        let found = secrets(&env);
        for want in [
            "inline-token-0041",
            "file-token-0042",
            "basic-password-0043",
        ] {
            assert!(found.iter().any(|s| s == want), "{want}: {found:?}");
        }
        assert!(!found.iter().any(|s| s == "admin"), "{found:?}");
    }

    #[test]
    fn without_kubeconfig_the_home_one_is_read() {
        let home = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(home.path().join(".kube")).unwrap();
        std::fs::write(
            home.path().join(".kube/config"),
            "apiVersion: v1\nkind: Config\nusers:\n- name: u\n  user: {token: home-token-0044}\n",
        )
        .unwrap();
        let h = home.path().to_str().unwrap().to_owned();
        let env = move |k: &str| (k == "HOME").then(|| h.clone());
        assert!(secrets(&env).iter().any(|s| s == "home-token-0044"));
    }
}
