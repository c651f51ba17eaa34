//! The grading engine: check kinds and their registry, the grading run (users, lock, scratch
//! tree, build cache, fixtures, checks in dependency order), and what it reports. It never knows
//! a lab by name: labs are data, and their own kinds are registered by the binary that uses them.

pub mod build_cache;
pub mod build_seed;
pub mod cache_claim;
pub mod cache_eviction;
pub mod catalog;
pub mod checks;
pub mod copy_walk;
pub mod exit;
pub mod grade;
pub mod isolation;
pub mod kind;
pub mod made;
pub mod nofollow;
pub mod scenario;
pub mod scratch;
pub mod submission;
pub mod tree_removal;
pub mod users_lock;

pub use catalog::{BuiltinLab, Catalog, CatalogError};
pub use kind::{Kind, Registry};
