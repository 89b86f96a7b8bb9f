//! Integration tests: one binary (as delta-rs does), one module per area.
#![allow(clippy::unwrap_used, reason = "test code, helpers included: a panic is the failure message")]

mod postgres;
mod samples;
mod util;
