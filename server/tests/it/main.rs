//! In-process server tests over real sockets.

mod common;
mod damage;
mod fleet;
mod restart;
mod resume;
mod serve;
mod swap;
mod tls;
