//! credit-recon: a nightly batch job that recomputes what each project should have been charged
//! under the credit rules, reconciles that with the credit ledger, and reports discrepancies and
//! refund candidates. The stages are modules: [`sources`] → [`rules`] → [`reconcile`] →
//! [`reports`], called in order by [`pipeline`]; [`notify`] then mails the results. At month
//! end, [`invoice`] reuses the same stages to write each account's statement of its credits.
#![warn(missing_docs)]

pub mod bench;
pub mod cli;
pub mod config;
pub mod db;
pub mod error;
pub mod exit;
pub mod expr;
pub mod generate;
pub mod invoice;
pub mod job;
pub mod ledger_load;
pub mod nightly;
pub mod notify;
pub mod par;
pub mod pipeline;
pub mod reconcile;
pub mod reports;
pub mod rules;
pub mod schema;
pub mod sources;
pub mod state;
#[cfg(test)]
pub(crate) mod testkit;

pub use error::{Error, Result};
