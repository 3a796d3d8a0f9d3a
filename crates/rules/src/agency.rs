//! What an agency's name says about its place in the administrative hierarchy.
//!
//! The classification lives in `nianbao_model::agency` so that the rules and the directory (deadlines
//! by kind) decide a name's kind and level with one function and cannot disagree; re-exported here
//! for the rules' existing callers.

pub use nianbao_model::agency::{AgencyKind, AgencyLevel, AgencyProfile};
