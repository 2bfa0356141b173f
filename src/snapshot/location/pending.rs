//! Clean-up that a `Drop` cannot await: aborting an unfinished multipart upload,
//! releasing a lease. `Drop` spawns the request and leaves its handle here; `seed`
//! waits for all of them (bounded) when the command ends, however it ended — also
//! after SIGINT/SIGTERM, when the command's future was dropped half-way.

use std::sync::Mutex;
use std::time::Duration;

use tokio::task::JoinHandle;

static PENDING: Mutex<Vec<JoinHandle<()>>> = Mutex::new(Vec::new());

/// Runs `cleanup` now in the background; [`settle`] waits for it.
pub fn spawn(cleanup: impl Future<Output = ()> + Send + 'static) {
    let Ok(handle) = tokio::runtime::Handle::try_current() else { return };
    let task = handle.spawn(cleanup);
    PENDING.lock().unwrap_or_else(std::sync::PoisonError::into_inner).push(task);
}

/// Waits up to `limit` for every clean-up spawned so far.
pub async fn settle(limit: Duration) {
    let tasks: Vec<JoinHandle<()>> =
        std::mem::take(&mut *PENDING.lock().unwrap_or_else(std::sync::PoisonError::into_inner));
    if tasks.is_empty() {
        return;
    }
    let _ = tokio::time::timeout(limit, futures_util::future::join_all(tasks)).await;
}
