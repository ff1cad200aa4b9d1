//! Service imports: the machinery behind a request that crosses from the
//! importing account into the exporting one and the responses that come
//! back (design docs/design/accounts.md §4.2, §4.3).
//!
//! - [`reply_token`]: the `_R_.<PRE6>.<RND6>` reply subjects;
//! - [`response_table`]: the pending responses behind them;
//! - [`request_info`]: the `Nats-Request-Info` header responders get;
//! - [`latency`]: the latency samples of exports with `latency`;
//! - [`reply_watch`]: the sampled requests whose requester may go away.

pub mod latency;
pub mod reply_token;
pub mod reply_watch;
pub mod request_info;
pub mod response_table;
pub mod sample_link;
