//! credit-recon: a nightly batch job that recomputes what each project should have been charged
//! under the credit rules, reconciles that with the credit ledger, and reports discrepancies and
//! refund candidates. The stages are modules: [`sources`] → [`rules`] → [`reconcile`] →
//! [`reports`], called in order by [`pipeline`].
#![warn(missing_docs)]

pub mod bench;
pub mod cli;
pub mod config;
pub mod error;
pub mod exit;
pub mod expr;
pub mod generate;
pub mod pipeline;
pub mod reconcile;
pub mod reports;
pub mod rules;
pub mod schema;
pub mod sources;
#[cfg(test)]
pub(crate) mod testkit;

pub use error::{Error, Result};
