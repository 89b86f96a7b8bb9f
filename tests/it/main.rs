//! Integration tests: one binary (as delta-rs does), one module per area.

mod samples;
mod util;
