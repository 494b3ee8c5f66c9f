//! Runs the async training code to completion on the calling thread, for
//! callers with a CPU device whose read-backs finish at once.

use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::thread::{self, Thread};

/// Wakes the thread blocked in [`block_on`].
struct ThreadWaker(Thread);

impl Wake for ThreadWaker {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.0.unpark();
    }
}

/// Polls `future` until it is ready, parking the thread while it waits.
///
/// Never call it from a browser's main thread or with a WebGPU device:
/// there the read-back completes only once control returns to the event
/// loop.
pub(crate) fn block_on<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    let waker = Waker::from(Arc::new(ThreadWaker(thread::current())));
    let mut context = Context::from_waker(&waker);
    loop {
        if let Poll::Ready(output) = future.as_mut().poll(&mut context) {
            return output;
        }
        thread::park();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ready_future_returns_its_value() {
        assert_eq!(block_on(async { 6 * 7 }), 42);
    }

    #[test]
    fn waits_for_a_wake_from_another_thread() {
        let (sender, receiver) = std::sync::mpsc::channel::<u32>();
        let handle = thread::spawn(move || {
            thread::sleep(std::time::Duration::from_millis(20));
            sender.send(7).expect("receiver alive");
        });
        // A future that is pending until the other thread has sent.
        let value = block_on(std::future::poll_fn(|cx| match receiver.try_recv() {
            Ok(value) => Poll::Ready(value),
            Err(_) => {
                let waker = cx.waker().clone();
                thread::spawn(move || {
                    thread::sleep(std::time::Duration::from_millis(5));
                    waker.wake();
                });
                Poll::Pending
            }
        }));
        handle.join().expect("sender thread");
        assert_eq!(value, 7);
    }
}
