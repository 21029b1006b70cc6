//! In-process server tests over real sockets.

mod activity;
mod common;
mod damage;
mod exposition;
mod fleet;
mod health;
mod metrics;
mod restart;
mod resume;
mod reuse;
mod serve;
mod swap;
mod tls;
