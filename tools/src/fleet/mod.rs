//! The fleet view behind `tusk status --servers`: ask every node (concurrently,
//! each under a deadline), reduce the answers to node reports, check them with
//! [`fleet_flags`], and print a table and the flags.

mod collect;
mod flags;
mod render;
mod report;

pub use collect::collect;
pub use flags::{Severity, fleet_flags, has_errors};
pub use render::{print_human, to_json};
