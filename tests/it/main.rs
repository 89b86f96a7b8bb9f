//! Integration tests: one binary (as delta-rs does), one module per area.
#![allow(clippy::unwrap_used, reason = "tests fail loudly on any unexpected error")]

mod generate;
mod invoice;
mod nightly;
mod notify;
mod postgres;
mod samples;
mod smtp;
mod util;
