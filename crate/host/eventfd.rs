//! Eventfds as the Host sees them: a counter a writer adds to and a reader drains, with a reference count.
//!
//! The Launcher makes one per virtqueue (`eventfd(0, 0)`) and hands its number to `LHREQ_EVENTFD`;
//! `eventfd_ctx_fdget()` turns that number into a referenced context, `eventfd_signal()` adds to it when the
//! Guest NOTIFYs the matching address, and `eventfd_ctx_put()` drops the reference at `close()`.

use serde::Serialize;

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EventfdCtx {
    /// The 64-bit counter: `eventfd_signal(ctx, 1)` adds one; a `read()` returns it and sets it to 0.
    pub count: u64,
    /// References: one per open file for it, one per `eventfd_ctx_fdget()` not yet put.
    pub refs: u32,
}
