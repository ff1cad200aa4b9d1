//! The configuration language: file → pest grammar ([`grammar`]) → value tree
//! with spans ([`parse`], [`tree`]) → typed, validated [`crate::options::Options`]
//! ([`build`]), with every problem reported as a positioned [`diag::Diagnostic`].

pub mod diag;
pub mod grammar;
pub mod parse;
pub mod source;
pub mod tree;
