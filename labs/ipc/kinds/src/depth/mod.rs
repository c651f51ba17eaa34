//! Part 2b, defense in depth: the traversal corpus (labs/ipc/traversal.toml), running it against
//! a cat's modes, and the table that shows which names escape in which mode, and that none does
//! when the cat runs as the confined user.
//!
//! Two users of this module: `grader depth` ([`command`]), which prints the table the handout
//! shows, and the `traversal` check kind (`checks::traversal`), which grades a student's fixed
//! cat against the same corpus, with fresh random names every run. Both judge a program only by
//! what it prints and how it ends, never by reading its code, and both run it through `sandbox`
//! in a directory of their own, never in the submission.

pub mod command;
pub mod corpus;
pub mod layout;
pub mod run;
pub mod swap;
pub mod table;

pub use command::DepthArgs;
pub use corpus::{Case, Corpus, CorpusError, EMBEDDED_CORPUS, Expectation, Outcome};
pub use layout::Layout;
pub use run::{Observation, Tally};

#[cfg(test)]
mod tests;
