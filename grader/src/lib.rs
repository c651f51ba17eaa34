//! The ipc-lab grader: grades a student's submission of a lab described by a data file.

pub mod batch;
pub mod checks;
pub mod cli;
pub mod depth;
pub mod grade;
pub mod lab;
pub mod model;
pub mod privilege;
pub mod reliability;
pub mod report;
pub mod sandbox;
pub mod scratch;
pub mod submission;
