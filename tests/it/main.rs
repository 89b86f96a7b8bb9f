//! Integration tests: one binary (as delta-rs does), one module per area.
#![allow(clippy::unwrap_used, reason = "tests fail loudly on any unexpected error")]

mod generate;
mod samples;
mod util;
