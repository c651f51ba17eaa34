//! The exit statuses every grader command documents, in one place.

/// Every check passed.
pub const EXIT_PASSED: u8 = 0;
/// Some check failed or was skipped.
pub const EXIT_FAILED: u8 = 1;
/// The grader could not grade: bad lab file, missing directory, missing tool, unwritable report.
pub const EXIT_ERROR: u8 = 2;
