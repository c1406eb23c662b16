//! Outbound calls with a deadline: the request races a WASI timer
//! (`wasi:clocks/monotonic-clock`), and a call that loses is dropped, which
//! cancels it on the host. The gateway's calls to the services and the
//! movies service's to Cloudinary go through it.

use std::future::{poll_fn, Future};
use std::pin::pin;
use std::task::Poll;

use spin_sdk::http::{Request, Response, SendError};
use wasi::clocks::monotonic_clock;

/// How a call ended.
pub enum Reply {
    Answered(Response),
    Unreachable(SendError),
    TimedOut,
}

/// Sends `req`, giving up after `timeout_ms`.
pub async fn send(req: Request, timeout_ms: u64) -> Reply {
    let mut call = pin!(spin_sdk::http::send::<_, Response>(req));
    let mut deadline = pin!(sleep(timeout_ms));
    poll_fn(|cx| {
        if let Poll::Ready(result) = call.as_mut().poll(cx) {
            return Poll::Ready(match result {
                Ok(resp) => Reply::Answered(resp),
                Err(e) => Reply::Unreachable(e),
            });
        }
        match deadline.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Reply::TimedOut),
            Poll::Pending => Poll::Pending,
        }
    })
    .await
}

/// Waits `ms` milliseconds (on the host's timer: the instance does no work meanwhile).
pub async fn pause(ms: u64) {
    sleep(ms).await
}

/// Ready `ms` milliseconds from now.
fn sleep(ms: u64) -> Sleep {
    Sleep {
        deadline: monotonic_clock::now().saturating_add(ms.saturating_mul(1_000_000)),
        timer: None,
    }
}

struct Sleep {
    deadline: monotonic_clock::Instant,
    /// The timer registered with spin-sdk's executor; dropping it cancels it.
    timer: Option<spin_executor::CancelOnDropToken>,
}

impl Future for Sleep {
    type Output = ();

    fn poll(mut self: std::pin::Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> Poll<()> {
        if monotonic_clock::now() >= self.deadline {
            self.timer = None;
            return Poll::Ready(());
        }
        let timer = monotonic_clock::subscribe_instant(self.deadline);
        self.timer = Some(spin_executor::push_waker_and_get_token(timer, cx.waker().clone()).into());
        Poll::Pending
    }
}
