//! In-process server tests over real sockets.

mod common;
mod restart;
mod serve;
mod swap;
