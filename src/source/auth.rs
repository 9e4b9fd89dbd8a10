//! Registry credentials, found where podman, skopeo and docker keep them.
//!
//! In order: `$REGISTRY_AUTH_FILE`, podman's `$XDG_RUNTIME_DIR/containers/auth.json` and
//! `~/.config/containers/auth.json`, then docker's `$DOCKER_CONFIG/config.json` (else
//! `~/.docker/config.json`). The first file with an entry for the registry wins; an entry may
//! name a credential helper (`credHelpers`, `credsStore`), which runs as
//! `docker-credential-NAME get`. Nothing found means anonymous access, which the registry's
//! token service grants for public images.

use std::fs::File;
use std::io::BufReader;
use std::path::PathBuf;

use docker_credential::{CredentialRetrievalError, DockerCredential};

/// Credentials for one registry.
#[derive(Clone, PartialEq, Eq)]
pub(crate) enum Credentials {
    /// None found.
    Anonymous,
    /// A user name and password (or token as password).
    Basic {
        /// The user.
        user: String,
        /// The secret.
        password: String,
        /// Where they were found, for messages.
        found_in: String,
    },
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print a secret, not even in a debug dump.
        match self {
            Credentials::Anonymous => f.write_str("Anonymous"),
            Credentials::Basic { user, found_in, .. } => write!(f, "Basic({user}, from {found_in})"),
        }
    }
}

/// The files credentials may be in, most specific first.
fn auth_files() -> Vec<PathBuf> {
    let var = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty()).map(PathBuf::from);
    let mut files = Vec::new();
    files.extend(var("REGISTRY_AUTH_FILE"));
    if let Some(dir) = var("XDG_RUNTIME_DIR") {
        files.push(dir.join("containers/auth.json"));
    }
    let home = var("HOME");
    match var("XDG_CONFIG_HOME") {
        Some(config) => files.push(config.join("containers/auth.json")),
        None => files.extend(home.as_ref().map(|h| h.join(".config/containers/auth.json"))),
    }
    match var("DOCKER_CONFIG") {
        Some(dir) => files.push(dir.join("config.json")),
        None => files.extend(home.map(|h| h.join(".docker/config.json"))),
    }
    files
}

/// The credentials for `registry` (`docker.io`, `ghcr.io`, `127.0.0.1:5000`), and the problems met
/// on the way (a helper that failed), for warnings.
pub(crate) fn credentials(registry: &str) -> (Credentials, Vec<String>) {
    credentials_in(&auth_files(), registry)
}

/// [`credentials`] from the given files, in order.
pub(crate) fn credentials_in(files: &[PathBuf], registry: &str) -> (Credentials, Vec<String>) {
    // Docker Hub's entry is keyed by its old URL; podman keys it `docker.io`.
    let servers: Vec<&str> = if matches!(registry, "docker.io" | "index.docker.io" | "registry-1.docker.io") {
        vec!["https://index.docker.io/v1/", "docker.io"]
    } else {
        vec![registry]
    };
    let mut problems = Vec::new();
    for file in files {
        let Ok(handle) = File::open(file) else { continue };
        for server in &servers {
            let handle = match handle.try_clone() {
                Ok(mut h) => {
                    use std::io::Seek;
                    let _ = h.rewind();
                    h
                }
                Err(_) => continue,
            };
            match docker_credential::get_credential_from_reader(BufReader::new(handle), server) {
                Ok(DockerCredential::UsernamePassword(user, password)) => {
                    return (Credentials::Basic { user, password, found_in: file.display().to_string() }, problems);
                }
                Ok(DockerCredential::IdentityToken(_)) => problems.push(format!(
                    "{} holds an identity token for {registry}, which layerscope cannot exchange; \
                     log in with a user name and password or token instead",
                    file.display()
                )),
                Err(CredentialRetrievalError::HelperFailure { helper, stderr, .. }) => problems.push(format!(
                    "{helper} failed for {registry}: {}",
                    stderr.lines().next().unwrap_or("(no message)")
                )),
                Err(CredentialRetrievalError::HelperCommunicationError) => {
                    problems
                        .push(format!("the credential helper {} names for {registry} cannot be run", file.display()));
                }
                Err(_) => {}
            }
        }
    }
    (Credentials::Anonymous, problems)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_never_print() {
        let c = Credentials::Basic { user: "u".into(), password: "hunter2".into(), found_in: "f".into() };
        assert!(!format!("{c:?}").contains("hunter2"));
    }

    #[test]
    fn first_file_with_an_entry_wins() {
        let dir = tempfile::tempdir().unwrap();
        let podman = dir.path().join("auth.json");
        let docker = dir.path().join("config.json");
        // base64("alice:secret"), base64("bob:other")
        std::fs::write(&podman, r#"{"auths":{"docker.io":{"auth":"YWxpY2U6c2VjcmV0"}}}"#).unwrap();
        std::fs::write(&docker, r#"{"auths":{"127.0.0.1:5000":{"auth":"Ym9iOm90aGVy"}}}"#).unwrap();
        let files = [dir.path().join("missing.json"), podman.clone(), docker];
        let (hub, _) = credentials_in(&files, "docker.io");
        assert!(
            matches!(hub, Credentials::Basic { ref user, ref password, .. } if user == "alice" && password == "secret")
        );
        let (local, _) = credentials_in(&files, "127.0.0.1:5000");
        assert!(matches!(local, Credentials::Basic { ref user, .. } if user == "bob"));
        assert_eq!(credentials_in(&files, "ghcr.io").0, Credentials::Anonymous);
    }
}
