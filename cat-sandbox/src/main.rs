//! Command-line entry of the lab's vulnerable cat: parses arguments (the
//! open mode), runs the library once on stdin/stdout, and maps the result to
//! an exit status. All behaviour lives in the library; this file must never
//! grow any.

use std::io::{self, Write};
use std::process::ExitCode;

use cat_sandbox::litterbox::OpenMode;
use clap::{Parser, ValueEnum};

const EXIT_OUTPUT_FAILED: u8 = 1;
const EXIT_USAGE: u8 = 2;

// clap is built without `wrap_help`, so these texts carry their own breaks.
const LONG_ABOUT: &str = "\
Reads one file name from stdin (at most 4096 bytes; surrounding whitespace
such as echo's newline is trimmed) and prints the file ./litterbox/<name>,
relative to the working directory, adding a final newline if it lacks one.
When the file cannot be printed, it prints one line instead:

    MEOW <reason>: <path tried>

DELIBERATELY VULNERABLE (the default mode): the name is glued onto
./litterbox/ unchecked, so `../secret.txt` escapes the litterbox. The lab
keeps the bug to show that running the cat as an unprivileged user
(garfield) lets the kernel stop the escape even though the code is wrong.

Part 2b's modes (--mode):
  vulnerable  the flaw above (default)
  lexical     the original handout's check: absolute path, `..` removed on
              paper, string-prefix test; still escapes through a sibling
              such as ../litterbox_evil/x and through symbolic links
  beneath     the kernel confines the open to the litterbox (openat2 with
              RESOLVE_BENEATH) and only regular files are printed

In the vulnerable and lexical modes, opening a FIFO waits for a writer, by
design: run the cat under a deadline.";

const EXIT_STATUS: &str = "\
Exit status:
  0  every lab outcome: the file was printed, a MEOW line was printed, or
     the reader closed stdout early. MEOW is not a failure status because
     the lab's test scripts capture the output under `set -e` and judge
     the text.
  1  stdout could not be written for another reason (message on stderr)
  2  usage error (unknown option or argument)";

/// Prints ./litterbox/<name> for a name read from stdin (deliberately
/// vulnerable: `../` escapes).
#[derive(Debug, Parser)]
#[command(version, long_about = LONG_ABOUT, after_help = EXIT_STATUS)]
struct Cli {
    /// How the name is kept inside the litterbox (see above).
    #[arg(long, value_enum, default_value_t = Mode::Vulnerable)]
    mode: Mode,
}

/// The command-line spelling of [`OpenMode`]; kept here so the library
/// needs no command-line parser.
#[derive(Debug, Clone, Copy, ValueEnum)]
enum Mode {
    Vulnerable,
    Lexical,
    Beneath,
}

impl From<Mode> for OpenMode {
    fn from(mode: Mode) -> Self {
        match mode {
            Mode::Vulnerable => OpenMode::Vulnerable,
            Mode::Lexical => OpenMode::Lexical,
            Mode::Beneath => OpenMode::Beneath,
        }
    }
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) => {
            // `--help` and `--version` also arrive here, with status 0.
            let _ignored_if_stdout_is_gone = error.print();
            return match error.exit_code() {
                0 => ExitCode::SUCCESS,
                _ => ExitCode::from(EXIT_USAGE),
            };
        }
    };
    let mut stdout = io::stdout().lock();
    match cat_sandbox::run(io::stdin().lock(), &mut stdout, cli.mode.into()) {
        Ok(_) => ExitCode::SUCCESS,
        Err(error) => {
            let _ignored_nowhere_left_to_report = writeln!(io::stderr(), "cat-sandbox: {error}");
            ExitCode::from(EXIT_OUTPUT_FAILED)
        }
    }
}
