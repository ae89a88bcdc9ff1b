//! The credentials broker's aggregates, pure and synchronous: identity pools and the
//! identities in them.

pub mod identity;
pub mod identity_pool;
pub mod validate;

pub use portcullis_aggregate::{Aggregate, Ctx, Event};
pub use portcullis_errors::{ApiError, ErrorCode};

#[cfg(test)]
pub(crate) use portcullis_aggregate::given;
