//! Part 2 of the IPC lab: a `cat` that means to print only files inside ./litterbox.
//!
//! When it is finished, it:
//! 1. reads a file name from stdin, up to the end of input, and trims the whitespace around it
//!    (such as the newline `echo` adds);
//! 2. prints the contents of ./litterbox/<name>, relative to the working directory, on stdout;
//! 3. when the file cannot be printed, prints one line on stdout instead,
//!    `MEOW <reason>: <path it tried>`, and still exits with status 0.
//!
//! It is vulnerable on purpose: the name is glued onto ./litterbox/ unchecked, so
//! `../secret.txt` gets out. Keep it that way; Part 2 shows what stops it anyway.
//!
//! Each TODO names the section of the handout that explains it.

use std::process::ExitCode;

fn main() -> ExitCode {
    // TODO (handout: 2.2 Read the name): read all of stdin and trim it.

    // TODO (handout: 2.3 Print the file, or MEOW): open ./litterbox/<name> and print what it
    // holds, or print `MEOW <reason>: <path>` when that fails.

    ExitCode::SUCCESS
}
