//! Words for the times a student program runs into the sandbox rather than into the lab: a
//! deadline, the memory, file-size, CPU or process limit, a SIGKILL the grader did not send, a
//! program that could not even start because the user's process limit was full. These come before
//! any hint of the lab file, which cannot know the sandbox's limits and would otherwise send the
//! student after the wrong mistake (a Python `MemoryError` is not a missing `try`).
//!
//! Only words: nothing here decides whether a check passes.

use nix::sys::signal::Signal;

use report::model::Evidence;
use sandbox::{Doing, Ending, Outcome, Output, SandboxError};

use super::{Verdict, program_limits};

fn mib(bytes: u64) -> u64 {
    bytes >> 20
}

/// A hint when the output or the ending shows a limit of the sandbox, else None.
pub fn limit_hint(output: &Output, ending: Option<Ending>) -> Option<String> {
    let limits = program_limits(true);
    let stderr = String::from_utf8_lossy(&output.stderr);
    let memory = limits.address_space.map_or(0, mib);
    match ending {
        Some(Ending::Signaled(Signal::SIGKILL)) => {
            return Some(
                "It was killed by SIGKILL, and not by the grader's deadline: your own code sent it \
                 (kill(-1, ...) or killall reach every process of the lab's user, including your \
                 other programs being graded), or the kernel did because memory ran out."
                    .to_string(),
            );
        }
        Some(Ending::Signaled(Signal::SIGXCPU)) => {
            return Some(format!(
                "It used more than {} s of CPU time, the limit for one program: look for a loop that never ends.",
                limits.cpu_seconds
            ));
        }
        Some(Ending::Signaled(Signal::SIGXFSZ)) => {
            return Some(format!(
                "It tried to write a file larger than {} MiB, the limit for one program.",
                mib(limits.file_size)
            ));
        }
        _ => {}
    }
    let said = |needles: &[&str]| needles.iter().any(|needle| stderr.contains(needle));
    if said(&[
        "MemoryError",
        "memory allocation of",
        "bad_alloc",
        "Cannot allocate memory",
        "out of memory",
    ]) {
        return Some(format!(
            "It ran out of memory: one program may use at most {memory} MiB of address space. Read and print in pieces instead of keeping everything in memory."
        ));
    }
    if said(&["File too large"]) {
        return Some(format!(
            "It tried to write a file larger than {} MiB, the limit for one program.",
            mib(limits.file_size)
        ));
    }
    if said(&["BlockingIOError", "fork: Resource temporarily unavailable"]) {
        return Some(format!(
            "It could not start another process: the lab's user may have at most {} processes at once, and your code reached that (a loop around fork?).",
            limits.processes
        ));
    }
    None
}

/// ", and at its deadline it was blocked opening a FIFO ..." for a summary; empty when the run
/// was not killed at a deadline or /proc had nothing to say.
pub fn at_deadline(outcome: &Outcome) -> String {
    outcome
        .at_deadline
        .as_ref()
        .map(|activity| format!("; at its deadline it was {}", activity.describe()))
        .unwrap_or_default()
}

/// The hint for a program killed at its deadline, from what it was doing then; `fallback` when
/// that says nothing more useful.
pub fn deadline_hint(outcome: &Outcome, fallback: &str) -> String {
    let cap = mib_or_kib(outcome.output.stdout.len());
    let Some(activity) = &outcome.at_deadline else {
        return fallback.to_string();
    };
    let flooded = outcome.output.stdout_truncated || outcome.output.stderr_truncated;
    match activity.doing() {
        Doing::OpeningFifo => "It was blocked opening a FIFO (a named pipe): open() waits until another process opens the other end, and none did. Don't open FIFOs, or open them with O_NONBLOCK.".to_string(),
        // Busy writing, or waiting for the grader to read the last of it: either way a flood.
        Doing::Running | Doing::WritingPipe | Doing::Other if flooded => format!(
            "It was still writing when its deadline passed: the grader kept {cap} of its output and threw the rest away. Print once and exit; look for a loop around the print."
        ),
        Doing::WritingPipe => "It was waiting to write into a full pipe that nobody reads.".to_string(),
        Doing::Running => "It was busy on the CPU when its deadline passed: look for a loop that never ends.".to_string(),
        Doing::Sleeping => "It was sleeping when its deadline passed: remove the sleep.".to_string(),
        Doing::WaitingForChild => "It was waiting for a child process that never ended.".to_string(),
        Doing::ReadingPipe => "It was waiting to read a pipe that nobody closes: read stdin once until end of input, and close the write ends of pipes you make.".to_string(),
        _ => fallback.to_string(),
    }
}

fn mib_or_kib(bytes: usize) -> String {
    if bytes >= 1 << 20 {
        format!("{} MiB", bytes >> 20)
    } else {
        format!("{} KiB", bytes >> 10)
    }
}

/// The verdict when a program could not be started at all.
/// A program that ended but left processes of its own running fails its check, whatever else
/// it got right: the grader killed them, and the report says so.
pub fn no_leftovers(verdict: Verdict, outcome: &Outcome) -> Verdict {
    if verdict.status != report::model::Status::Passed || outcome.left_behind == 0 {
        return verdict;
    }
    let n = outcome.left_behind;
    Verdict::fail(
        format!(
            "it ended but left {n} process{} of its own running (the grader killed {})",
            if n == 1 { "" } else { "es" },
            if n == 1 { "it" } else { "them" }
        ),
        Evidence {
            hint: Some(
                "A program must not leave processes behind: a child it starts must end (wait for it, or kill it) before the program exits."
                    .to_string(),
            ),
            ..Evidence::default()
        },
    )
}

pub fn could_not_start(error: &SandboxError, fallback_hint: Option<String>) -> Verdict {
    let hint = if error.hit_process_limit() {
        Some(format!(
            "The program could not even start: the lab's user already had {} processes, its limit. Another of your programs, started by another check, forks without end (a fork bomb); every program of yours is run as the same user.",
            program_limits(true).processes
        ))
    } else {
        fallback_hint
    };
    Verdict::fail(
        error.to_string(),
        Evidence {
            hint,
            ..Evidence::default()
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use sandbox::Activity;
    use std::time::Duration;

    fn err(text: &str) -> Output {
        Output {
            stderr: text.as_bytes().to_vec(),
            ..Output::default()
        }
    }

    #[test]
    fn limits_are_named_before_the_labs_hints() {
        let none = Output::default();
        let killed = limit_hint(&none, Some(Ending::Signaled(Signal::SIGKILL))).expect("hint");
        assert!(killed.contains("not by the grader"), "{killed}");
        let memory = limit_hint(
            &err("Traceback ...\nMemoryError\n"),
            Some(Ending::Exited(1)),
        );
        assert!(memory.expect("hint").contains("1024 MiB"));
        assert!(limit_hint(&err("OSError: [Errno 27] File too large"), None).is_some());
        assert!(limit_hint(&err("BlockingIOError: [Errno 11]"), None).is_some());
        assert_eq!(limit_hint(&err("Traceback: KeyError"), None), None);
        assert_eq!(limit_hint(&none, Some(Ending::TimedOut)), None);
    }

    #[test]
    fn deadline_hints_follow_what_the_program_was_doing() {
        let outcome = |state: char, wchan: &str, truncated: bool| Outcome {
            ending: Ending::TimedOut,
            output: Output {
                stdout: vec![b'x'; 64 << 10],
                stdout_truncated: truncated,
                ..Output::default()
            },
            elapsed: Duration::from_secs(5),
            at_deadline: Some(Activity {
                state,
                wchan: wchan.into(),
            }),
            left_behind: 0,
        };
        assert!(deadline_hint(&outcome('S', "wait_for_partner", false), "x").contains("FIFO"));
        assert!(deadline_hint(&outcome('R', "", true), "x").contains("kept 64 KiB"));
        assert!(deadline_hint(&outcome('S', "anon_pipe_write", true), "x").contains("kept 64 KiB"));
        assert!(deadline_hint(&outcome('R', "", false), "x").contains("loop"));
        assert_eq!(deadline_hint(&outcome('S', "unknown_fn", false), "x"), "x");
        assert!(at_deadline(&outcome('S', "hrtimer_nanosleep", false)).contains("sleeping"));
    }
}
