//! The race of Part 2b: a link inside the litterbox is swapped, in a tight
//! loop, between a file in the box and the secret while the cat opens it.
//!
//! `beneath` must never print the secret, however the swaps fall: the
//! kernel checks the link it actually follows, inside the open itself.
//! `lexical` and `vulnerable` leak on the runs where the link points out at
//! the moment of the open; their rate is measured and printed (run with
//! `--nocapture` to see it), never asserted, since it depends on scheduling.

mod lab;

use std::fs;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::{self, JoinHandle};
use std::time::Instant;

use lab::{Lab, SECRET, TREASURE};

/// Runs of the cat per mode; the issue asks for 1,000 for `beneath`.
const RUNS: usize = 1000;

/// Swaps `dir/link` between two targets until dropped. Each swap is a new
/// link renamed over the old one, so the name always exists and only its
/// target changes.
struct Swapper {
    stop: Arc<AtomicBool>,
    swaps: Arc<AtomicU64>,
    thread: Option<JoinHandle<()>>,
}

impl Swapper {
    fn start(dir: PathBuf, targets: [PathBuf; 2]) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let swaps = Arc::new(AtomicU64::new(0));
        let thread = {
            let (stop, swaps) = (Arc::clone(&stop), Arc::clone(&swaps));
            thread::spawn(move || {
                let (link, fresh) = (dir.join("link"), dir.join("link.new"));
                while !stop.load(Ordering::Relaxed) {
                    for target in &targets {
                        symlink(target, &fresh).expect("make the new link");
                        fs::rename(&fresh, &link).expect("swap the link");
                        swaps.fetch_add(1, Ordering::Relaxed);
                    }
                }
            })
        };
        Self {
            stop,
            swaps,
            thread: Some(thread),
        }
    }
}

impl Drop for Swapper {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let joined = thread.join();
            // Surface a failed swapper, unless a test is already failing.
            if joined.is_err() && !thread::panicking() {
                panic!("the swapping thread failed");
            }
        }
    }
}

/// What `RUNS` opens of the swapping link in `mode` printed.
#[derive(Debug, Default)]
struct Tally {
    treasure: usize,
    secret: usize,
    refused: usize,
    other: Vec<String>,
}

fn race(mode: &str) -> Tally {
    let lab = Lab::new();
    lab.mkdir("litterbox/swap");
    let secret: &Path = &fs::canonicalize(lab.root().join("secret.txt")).expect("secret");
    lab.link("litterbox/swap/link", "../treasure.txt");
    let swapper = Swapper::start(
        lab.litterbox().join("swap"),
        [PathBuf::from("../treasure.txt"), secret.to_path_buf()],
    );
    let started = Instant::now();
    let mut tally = Tally::default();
    for _ in 0..RUNS {
        let output = lab
            .cat_in(mode)
            .write_stdin("swap/link\n")
            .output()
            .expect("run the cat");
        let out = String::from_utf8_lossy(&output.stdout).into_owned();
        if out == format!("{TREASURE}\n") {
            tally.treasure += 1;
        } else if out.contains(SECRET) {
            tally.secret += 1;
        } else if out.starts_with("MEOW ") && out.lines().count() == 1 {
            tally.refused += 1;
        } else {
            tally.other.push(out);
        }
    }
    let elapsed = started.elapsed();
    let swaps = swapper.swaps.load(Ordering::Relaxed);
    drop(swapper);
    println!(
        "race, {mode}: {RUNS} runs in {:.2} s ({:.2} ms a run), {swaps} swaps; \
         treasure {}, SECRET {} ({:.1}%), MEOW {}, other {}",
        elapsed.as_secs_f64(),
        elapsed.as_secs_f64() * 1000.0 / RUNS as f64,
        tally.treasure,
        tally.secret,
        100.0 * tally.secret as f64 / RUNS as f64,
        tally.refused,
        tally.other.len()
    );
    tally
}

#[test]
fn beneath_never_prints_the_secret_while_a_link_is_swapped() {
    let tally = race("beneath");
    assert_eq!(tally.secret, 0, "{tally:?}");
    assert!(tally.other.is_empty(), "{tally:?}");
    assert_eq!(tally.treasure + tally.refused, RUNS);
}

#[test]
fn lexical_leaks_on_some_runs_measured_not_asserted() {
    let tally = race("lexical");
    // Every run either reads the box's file or the secret: the string check
    // never looks at the link, so it refuses nothing here.
    assert_eq!(tally.refused, 0, "{tally:?}");
    assert!(tally.other.is_empty(), "{tally:?}");
    assert_eq!(tally.treasure + tally.secret, RUNS);
}
