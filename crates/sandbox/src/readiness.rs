//! Knowing when a program is ready for a signal: its handlers are installed exactly when the
//! signals' bits are set in the `SigCgt` mask of /proc/<pid>/status. Waiting on that instead of on
//! a printed line avoids firing before the handler exists (the signal would kill the program) and
//! works when the program's stdout is block-buffered.
//!
//! Must never send a signal, and never look less often than every few milliseconds nor wait past
//! the given window or the run's deadline.

use std::time::{Duration, Instant};

use super::{Readiness, Running, Signal, procfs};

/// Time between two looks at the masks (one look, a /proc read and parse, costs 30-70 us);
/// output is pumped in between. Looks are twice as far apart once the program has had
/// `SLOW_AFTER` to get ready, so a program that never does costs at most ~2-3 % of a core.
const LOOK_EVERY: Duration = Duration::from_millis(1);
const SLOW_AFTER: Duration = Duration::from_millis(100);

pub(super) fn wait_for_caught(
    run: &mut Running,
    signals: &[Signal],
    within: Duration,
) -> Readiness {
    let until = Instant::now() + within;
    let wanted = mask_of(signals);
    loop {
        if let Some((ending, _)) = run.end {
            return Readiness::Ended(ending);
        }
        let status = procfs::status(run.pid).unwrap_or_default();
        let caught = procfs::signal_mask(&status, "SigCgt").unwrap_or(0);
        if caught & wanted == wanted {
            let after = run.started.elapsed();
            settle(run, until);
            return Readiness::Ready { after };
        }
        let now = Instant::now();
        if now >= until {
            let ignored = procfs::signal_mask(&status, "SigIgn").unwrap_or(0);
            return Readiness::NotReady {
                caught: signals_in(caught, signals),
                ignored: signals_in(ignored, signals),
            };
        }
        let gap = if run.started.elapsed() < SLOW_AFTER {
            LOOK_EVERY
        } else {
            2 * LOOK_EVERY
        };
        if let Some(ending) = run.wait_until(until.min(now + gap)) {
            return Readiness::Ended(ending);
        }
    }
}

/// Once its handlers are installed a program still has to reach its wait (pause(), a blocking
/// read). A signal that lands in between runs the handler before the wait begins, and a `pause()`
/// entered afterwards sleeps for ever: the classic race of C listeners, which a person typing
/// `kill` never hits but a tester firing within a millisecond sometimes does. So the signal waits,
/// briefly, until the main thread sleeps in the kernel; a program that never sleeps (a busy loop)
/// gets it after `SETTLE` anyway.
const SETTLE: Duration = Duration::from_millis(250);

fn settle(run: &mut Running, until: Instant) {
    let until = until.min(Instant::now() + SETTLE);
    loop {
        if run.end.is_some()
            || procfs::stat(run.pid).is_some_and(|stat| matches!(stat.state, b'S' | b'D'))
        {
            return;
        }
        let now = Instant::now();
        if now >= until || run.wait_until(until.min(now + LOOK_EVERY)).is_some() {
            return;
        }
    }
}

/// Bit N-1 for signal N, as in the /proc masks.
fn mask_of(signals: &[Signal]) -> u64 {
    signals
        .iter()
        .map(|signal| *signal as i32)
        .filter(|number| (1..=64).contains(number))
        .fold(0, |mask, number| mask | 1 << (number - 1))
}

/// The signals of `signals` whose bits are set in `mask`, in the given order.
fn signals_in(mask: u64, signals: &[Signal]) -> Vec<Signal> {
    signals
        .iter()
        .copied()
        .filter(|signal| mask & mask_of(&[*signal]) != 0)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_put_signal_n_at_bit_n_minus_one() {
        assert_eq!(mask_of(&[Signal::SIGINT, Signal::SIGUSR1]), 0x202);
        let both = [Signal::SIGUSR1, Signal::SIGINT];
        assert_eq!(signals_in(0x2, &both), vec![Signal::SIGINT]);
        assert_eq!(signals_in(0x202, &both), both.to_vec());
        assert_eq!(signals_in(0x10000, &both), vec![]);
    }
}
