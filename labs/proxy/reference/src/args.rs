//! The command line: where the two sockets and the log are, and which optional parts are on.
//! It only parses; it opens nothing.

use std::path::PathBuf;

pub const USAGE: &str = "usage: proxy --listen SOCK --server SOCK --log FILE \
[--learn POLICY | --enforce POLICY] [--faults PLAN]";

#[derive(Debug, Clone)]
pub struct Args {
    /// Where clients connect (we bind and listen here).
    pub listen: PathBuf,
    /// Where the server listens (we connect here, once per client connection, and again after
    /// the server went away).
    pub server: PathBuf,
    /// The message log, appended to (a path; /dev/fd/N for an inherited descriptor).
    pub log: PathBuf,
    pub mode: Mode,
    pub faults: Option<PathBuf>,
}

#[derive(Debug, Clone)]
pub enum Mode {
    Forward,
    Learn(PathBuf),
    Enforce(PathBuf),
}

pub fn parse(mut it: impl Iterator<Item = String>) -> Result<Args, String> {
    let (mut listen, mut server, mut log, mut faults) = (None, None, None, None);
    let mut mode = Mode::Forward;
    while let Some(flag) = it.next() {
        let mut value = || {
            it.next()
                .map(PathBuf::from)
                .ok_or_else(|| format!("{flag} needs a value"))
        };
        match flag.as_str() {
            "--listen" => listen = Some(value()?),
            "--server" => server = Some(value()?),
            "--log" => log = Some(value()?),
            "--faults" => faults = Some(value()?),
            "--learn" | "--enforce" if !matches!(mode, Mode::Forward) => {
                return Err("give --learn or --enforce, not both".to_owned());
            }
            "--learn" => mode = Mode::Learn(value()?),
            "--enforce" => mode = Mode::Enforce(value()?),
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    Ok(Args {
        listen: listen.ok_or("--listen is required")?,
        server: server.ok_or("--server is required")?,
        log: log.ok_or("--log is required")?,
        mode,
        faults,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(s: &str) -> impl Iterator<Item = String> {
        s.split_whitespace()
            .map(str::to_owned)
            .collect::<Vec<_>>()
            .into_iter()
    }

    #[test]
    fn parses_and_refuses() {
        let a = parse(words("--listen a --server b --log c --learn p")).expect("valid");
        assert!(matches!(a.mode, Mode::Learn(_)));
        assert!(parse(words("--listen a --server b")).is_err());
        assert!(parse(words("--listen a --server b --log c --learn p --enforce q")).is_err());
        assert!(parse(words("--bogus")).is_err());
    }
}
