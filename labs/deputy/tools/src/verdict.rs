//! The one-line verdict of an attack program and the exit code that goes with it.
//!
//! Exit codes are the contract with lab.toml: 0 the attack SUCCEEDED (fsd sent file bytes the
//! attacker may not have), 1 REFUSED, 3 the attack could not be carried out (nothing to judge),
//! 4 SKIPPED (the kernel or the container lacks the mechanism). 2 is kept for bad usage (clap).
//! This module never prints file contents unless asked to.

use std::io::Write;
use std::process::ExitCode;

use crate::wire::Reply;

/// How an attack ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// fsd sent the bytes of `what`.
    Succeeded { what: String, body: Vec<u8> },
    /// fsd refused (`DENIED`/`ERROR`) and sent no byte of the file.
    Refused(String),
    /// The attack could not be run.
    Failed(String),
    /// The mechanism is not available here.
    Skipped(String),
}

impl Verdict {
    /// The verdict for fsd's reply to a request for `what`.
    pub fn from_reply(what: &str, reply: Reply) -> Verdict {
        match reply {
            Reply::Ok(body) => Verdict::Succeeded {
                what: what.to_string(),
                body,
            },
            Reply::Denied(r) => Verdict::Refused(format!("DENIED {r}")),
            Reply::Error(r) => Verdict::Refused(format!("ERROR {r}")),
            Reply::Cache(n) => Verdict::Failed(format!("fsd answered `CACHE {n}` to a READ")),
        }
    }

    /// The process exit code of this verdict.
    pub fn code(&self) -> u8 {
        match self {
            Verdict::Succeeded { .. } => 0,
            Verdict::Refused(_) => 1,
            Verdict::Failed(_) => 3,
            Verdict::Skipped(_) => 4,
        }
    }

    /// The verdict line, e.g. `deputy-attack confused: SUCCEEDED: fsd sent 37 bytes of ../secret.txt`.
    pub fn line(&self, attack: &str) -> String {
        match self {
            Verdict::Succeeded { what, body } => format!(
                "deputy-attack {attack}: SUCCEEDED: fsd sent {} bytes of {what}",
                body.len()
            ),
            Verdict::Refused(r) => format!("deputy-attack {attack}: REFUSED: {r}"),
            Verdict::Failed(r) => format!("deputy-attack {attack}: FAILED TO RUN: {r}"),
            Verdict::Skipped(r) => format!("deputy-attack {attack}: SKIPPED: {r}"),
        }
    }

    /// Print the verdict line (and with `show`, the stolen bytes on the next lines).
    pub fn report(&self, attack: &str, show: bool) -> ExitCode {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{}", self.line(attack));
        if show && let Verdict::Succeeded { body, .. } = self {
            let _ = out.write_all(body);
            if body.last() != Some(&b'\n') {
                let _ = writeln!(out);
            }
        }
        let _ = out.flush();
        ExitCode::from(self.code())
    }
}
