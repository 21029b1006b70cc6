//! The parts of `tusk bench` that are not I/O: the key file and key picker, the
//! per-task recorder and its one-second windows, and the report's maths.

pub mod keys;
pub mod record;
pub mod summary;
