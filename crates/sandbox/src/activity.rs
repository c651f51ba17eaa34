//! What a process was doing when its deadline passed, in words a student can act on: blocked
//! opening a FIFO, sleeping, waiting in `pause()`, busy on a CPU. It comes from the kernel's own
//! account (`/proc/<pid>/stat` state and `/proc/<pid>/wchan`, the kernel function a sleeping task
//! waits in), read just before the process is killed.
//!
//! Only reads /proc, and only to describe: nothing here decides a verdict or signals a process.
//! The kernel function names differ between kernel versions, so unknown ones are shown as they are.

use std::fs;

/// A look at one process just before it was killed at its deadline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Activity {
    /// The one-letter state of /proc/<pid>/stat: R running, S sleeping, D uninterruptible, ...
    pub state: char,
    /// The kernel function it was waiting in (`wait_for_partner`, `hrtimer_nanosleep`, ...);
    /// empty when it was running or the kernel does not say.
    pub wchan: String,
}

/// What the kernel functions it may wait in mean. The first whose name the wait channel contains
/// wins, so the more specific names come first.
const WAITS: &[(&str, Doing)] = &[
    ("wait_for_partner", Doing::OpeningFifo),
    ("fifo_open", Doing::OpeningFifo),
    ("pipe_read", Doing::ReadingPipe),
    ("pipe_wait", Doing::ReadingPipe),
    ("pipe_write", Doing::WritingPipe),
    ("nanosleep", Doing::Sleeping),
    ("clock_nanosleep", Doing::Sleeping),
    ("sys_pause", Doing::WaitingForSignal),
    ("sigsuspend", Doing::WaitingForSignal),
    ("sigtimedwait", Doing::WaitingForSignal),
    ("do_wait", Doing::WaitingForChild),
    ("wait4", Doing::WaitingForChild),
    ("waitid", Doing::WaitingForChild),
    ("ep_poll", Doing::Polling),
    ("poll", Doing::Polling),
    ("select", Doing::Polling),
    ("futex", Doing::Lock),
    ("unix_stream", Doing::Socket),
    ("sk_wait", Doing::Socket),
    ("inet_", Doing::Socket),
    ("tcp_", Doing::Socket),
    ("n_tty_read", Doing::Terminal),
];

/// The kinds of activity the grader tells apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Doing {
    /// Blocked in open() of a FIFO, which waits until another process opens the other end.
    OpeningFifo,
    /// Waiting to read a pipe that nobody writes to (and nobody closes).
    ReadingPipe,
    /// Waiting to write into a full pipe nobody reads.
    WritingPipe,
    Sleeping,
    /// In pause() or sigsuspend(): waiting for a signal.
    WaitingForSignal,
    WaitingForChild,
    /// In poll/select/epoll.
    Polling,
    /// Waiting on a lock (a futex), e.g. a thread that waits for another.
    Lock,
    Socket,
    Terminal,
    /// On a CPU (or ready to be): computing, e.g. an endless loop.
    Running,
    /// Stopped by a signal (SIGSTOP, SIGTSTP) or a debugger.
    Stopped,
    /// A wait the grader has no words for (the kernel function is shown).
    Other,
}

impl Activity {
    /// Reads the state and wait channel of `pid`; None when it is gone or /proc says nothing.
    pub fn of(pid: i32) -> Option<Activity> {
        let stat = super::procfs::stat(pid)?;
        if stat.is_dead() {
            return None;
        }
        let wchan = fs::read_to_string(format!("/proc/{pid}/wchan"))
            .map(|text| text.trim().to_string())
            .unwrap_or_default();
        Some(Activity {
            state: char::from(stat.state),
            // "0" is how the kernel says "not waiting anywhere".
            wchan: if wchan == "0" { String::new() } else { wchan },
        })
    }

    /// Which kind of activity this is.
    pub fn doing(&self) -> Doing {
        match self.state {
            'R' => return Doing::Running,
            'T' | 't' => return Doing::Stopped,
            _ => {}
        }
        WAITS
            .iter()
            .find(|(name, _)| self.wchan.contains(name))
            .map_or(Doing::Other, |(_, doing)| *doing)
    }

    /// A few words for a report: "blocked opening a FIFO (kernel: wait_for_partner)".
    pub fn describe(&self) -> String {
        let words = match self.doing() {
            Doing::OpeningFifo => "blocked opening a FIFO (a named pipe), waiting for a writer",
            Doing::ReadingPipe => "waiting to read from a pipe",
            Doing::WritingPipe => "waiting to write into a full pipe",
            Doing::Sleeping => "sleeping",
            Doing::WaitingForSignal => "waiting for a signal (pause)",
            Doing::WaitingForChild => "waiting for a child process to end",
            Doing::Polling => "waiting in poll/select",
            Doing::Lock => "waiting on a lock",
            Doing::Socket => "waiting on a socket",
            Doing::Terminal => "waiting to read a terminal",
            Doing::Running => "running on the CPU (busy)",
            Doing::Stopped => "stopped",
            Doing::Other => "waiting in the kernel",
        };
        if self.wchan.is_empty() {
            words.to_string()
        } else {
            format!("{words} (kernel: {})", self.wchan)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn look(state: char, wchan: &str) -> Activity {
        Activity {
            state,
            wchan: wchan.into(),
        }
    }

    #[test]
    fn kernel_waits_are_named() {
        assert_eq!(look('S', "wait_for_partner").doing(), Doing::OpeningFifo);
        assert_eq!(look('S', "hrtimer_nanosleep").doing(), Doing::Sleeping);
        assert_eq!(look('S', "__do_sys_pause").doing(), Doing::WaitingForSignal);
        assert_eq!(look('S', "do_wait").doing(), Doing::WaitingForChild);
        assert_eq!(look('R', "").doing(), Doing::Running);
        assert_eq!(look('S', "something_new").doing(), Doing::Other);
        assert!(
            look('S', "wait_for_partner")
                .describe()
                .contains("opening a FIFO")
        );
        assert_eq!(look('R', "").describe(), "running on the CPU (busy)");
    }
}
