//! Secrets (passwords) that never reach a log line, an error message or a `Debug` print, and
//! the one way every process reads them from the environment: a variable, or a file named by
//! `<VARIABLE>_FILE` (a mounted Kubernetes secret).

use std::fmt;
use std::path::Path;

/// A password or token. `Debug` and `Display` print `***`; [`Secret::expose`] is the only way
/// to the text, for the one call that sends it to a server.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps `text`.
    pub fn new(text: impl Into<String>) -> Self {
        Self(text.into())
    }

    /// The secret text, to hand to a client library; never log it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// Why a secret could not be read: the file named by `<VARIABLE>_FILE` is missing or not
/// UTF-8. The message names the variable and the file, never the secret.
#[derive(Debug, thiserror::Error)]
#[error(
    "cannot read {variable}_FILE ({path}): {source}; mount the secret there or unset the variable"
)]
pub struct SecretFileError {
    /// The variable, without `_FILE`.
    pub variable: String,
    /// The file it named.
    pub path: String,
    /// The I/O error.
    #[source]
    pub source: std::io::Error,
}

/// The non-empty value of `variable`, or else the content of the file `<variable>_FILE` names
/// (one trailing newline removed, as `kubectl create secret --from-file` and editors leave
/// one), or `None` when neither is set.
///
/// # Errors
/// [`SecretFileError`] when `<variable>_FILE` is set but cannot be read.
pub fn secret_from_env(variable: &str) -> Result<Option<Secret>, SecretFileError> {
    if let Some(value) = std::env::var(variable).ok().filter(|v| !v.is_empty()) {
        return Ok(Some(Secret(value)));
    }
    let file_var = format!("{variable}_FILE");
    let Some(path) = std::env::var_os(&file_var).filter(|p| !p.is_empty()) else {
        return Ok(None);
    };
    read_secret_file(Path::new(&path))
        .map(Some)
        .map_err(|source| SecretFileError {
            variable: variable.to_owned(),
            path: Path::new(&path).display().to_string(),
            source,
        })
}

fn read_secret_file(path: &Path) -> Result<Secret, std::io::Error> {
    let mut text = std::fs::read_to_string(path)?;
    if text.ends_with('\n') {
        text.pop();
        if text.ends_with('\r') {
            text.pop();
        }
    }
    Ok(Secret(text))
}

/// The non-empty value of `variable`, if set (for names: user names, file paths).
pub fn plain_from_env(variable: &str) -> Option<String> {
    std::env::var(variable).ok().filter(|v| !v.is_empty())
}

/// `url` with the password of its `user:password@` part replaced by `***` (and a lone
/// `password@` too), for logs and error messages. URLs without credentials are returned as
/// they are.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    let Some((userinfo, host)) = authority.rsplit_once('@') else {
        return url.to_owned();
    };
    let user = match userinfo.split_once(':') {
        Some((user, _)) => format!("{user}:***"),
        None if userinfo.is_empty() => String::new(),
        // `redis://token@host`: a lone user info is a password to Redis.
        None => "***".to_owned(),
    };
    format!("{scheme}://{user}@{host}{tail}")
}

/// The password of `url`'s `user:password@` part as written (still percent-encoded), or the
/// lone user info of `scheme://password@host`; for scrubbing it out of third-party messages.
pub fn url_password(url: &str) -> Option<&str> {
    let rest = url.split_once("://")?.1;
    let authority = &rest[..rest.find(['/', '?', '#']).unwrap_or(rest.len())];
    let userinfo = authority.rsplit_once('@')?.0;
    let password = userinfo.split_once(':').map_or(userinfo, |(_, p)| p);
    Some(password).filter(|p| !p.is_empty())
}

/// `text` with every occurrence of each non-empty secret replaced by `***`.
pub fn scrub(text: &str, secrets: &[&str]) -> String {
    let mut text = text.to_owned();
    for secret in secrets.iter().filter(|s| !s.is_empty()) {
        text = text.replace(secret, "***");
    }
    text
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn secrets_print_as_stars() {
        let s = Secret::new("hunter2");
        assert_eq!(format!("{s} {s:?}"), "*** Secret(***)");
        assert_eq!(s.expose(), "hunter2");
    }

    #[test]
    fn urls_are_redacted() {
        for (url, want) in [
            (
                "mqtts://bot:hunter2@broker:8883",
                "mqtts://bot:***@broker:8883",
            ),
            (
                "rediss://default:p%40ss@10.0.0.3:6378/0",
                "rediss://default:***@10.0.0.3:6378/0",
            ),
            ("redis://hunter2@h:1", "redis://***@h:1"),
            ("redis://:hunter2@h:1", "redis://:***@h:1"),
            ("mqtt://broker:1883", "mqtt://broker:1883"),
            ("not a url", "not a url"),
        ] {
            assert_eq!(redact_url(url), want, "{url}");
        }
    }

    #[test]
    fn passwords_are_found_and_scrubbed() {
        assert_eq!(url_password("rediss://u:p%40w@h:1/0"), Some("p%40w"));
        assert_eq!(url_password("redis://tok@h"), Some("tok"));
        assert_eq!(url_password("redis://h:1"), None);
        assert_eq!(
            scrub("bad p%40w and p%40w", &["p%40w", ""]),
            "bad *** and ***"
        );
    }

    #[test]
    fn a_secret_file_loses_its_trailing_newline() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("password");
        std::fs::write(&path, "hunter2\n").unwrap();
        assert_eq!(read_secret_file(&path).unwrap().expose(), "hunter2");
        std::fs::write(&path, "a b\r\n").unwrap();
        assert_eq!(read_secret_file(&path).unwrap().expose(), "a b");
    }
}
