//! `proxy-trace diff CLEAN FAULTY [--truth CLEAN FAULTY]`: prints where the faulty trace first
//! departs; exit 0 same, 1 departed, 2 a trace cannot be read.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::diff::{departures, explain, first_departure, first_truth_departure};
use crate::trace::{read_proxy_log, read_truth};

/// Compare two runs of the same input.
#[derive(Debug, Parser)]
#[command(version)]
struct Args {
    #[command(subcommand)]
    what: What,
}

#[derive(Debug, Subcommand)]
enum What {
    /// first departure of FAULTY from CLEAN (proxy logs), and of the ground truths if given
    Diff {
        clean: PathBuf,
        faulty: PathBuf,
        /// the two servers' ground-truth logs, clean then faulty
        #[arg(long, num_args = 2, value_names = ["CLEAN_TRUTH", "FAULTY_TRUTH"])]
        truth: Option<Vec<PathBuf>>,
    },
}

pub fn main() -> ExitCode {
    let What::Diff {
        clean,
        faulty,
        truth,
    } = Args::parse().what;
    let read = |p: &PathBuf| read_proxy_log(p).map_err(|e| e.to_string());
    let (a, b) = match (read(&clean), read(&faulty)) {
        (Ok(a), Ok(b)) => (a, b),
        (Err(e), _) | (_, Err(e)) => {
            eprintln!("proxy-trace: {e}");
            return ExitCode::from(2);
        }
    };
    let departure = first_departure(&a, &b);
    println!("proxy log: {}", explain(&departure));
    for d in departures(&a, &b) {
        if Some(&d) != departure.as_ref() {
            println!("then {}", explain(&Some(d)));
        }
    }
    let mut departed = departure.is_some();
    if let Some(paths) = truth {
        match (read_truth(&paths[0]), read_truth(&paths[1])) {
            (Ok(ta), Ok(tb)) => match first_truth_departure(&ta, &tb) {
                None => println!("ground truth: the same"),
                Some((line, c, f)) => {
                    departed = true;
                    let show = |r: &Option<crate::kvstore::TruthRecord>| {
                        r.as_ref()
                            .and_then(|r| serde_json::to_string(r).ok())
                            .unwrap_or_else(|| "(truth ended)".to_owned())
                    };
                    println!(
                        "ground truth: first departure at line {line}\n  clean:  {}\n  faulty: {}",
                        show(&c),
                        show(&f)
                    );
                }
            },
            (Err(e), _) | (_, Err(e)) => {
                eprintln!("proxy-trace: {e}");
                return ExitCode::from(2);
            }
        }
    }
    if departed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}
