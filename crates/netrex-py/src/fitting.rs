//! Training from Python: the fit runs on its own thread with the GIL released, while the
//! calling thread waits and checks for signals, so that Ctrl-C stops the fit at the end of the
//! epoch under way (the model keeps every finished epoch) and other Python threads run.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Mutex};
use std::time::Duration;

use pyo3::prelude::*;

use netrex::NetrexError;

use crate::errors::err;

/// How often the waiting thread looks for a signal.
const SIGNAL_POLL: Duration = Duration::from_millis(50);

/// Metrics of a model after an epoch, by name.
pub(crate) type Metrics = Vec<(&'static str, f64)>;

/// What training calls after each epoch (or early-stopping round): the model, the epoch, its
/// mean loss and the metrics measured then. An error stops training.
pub(crate) type Hook<'a, M> =
    dyn FnMut(&M, usize, f32, Metrics) -> Result<(), NetrexError> + Send + 'a;

/// Runs `run(model, hook)` on a worker thread with the GIL released. The hook calls
/// `callback(epoch, loss, metrics)` (with the GIL) when given; a signal's exception (Ctrl-C's
/// `KeyboardInterrupt`) or the callback's stops training at the next hook and is raised.
pub(crate) fn train_released<M, R, F>(
    py: Python<'_>,
    model: &mut M,
    callback: Option<&Py<PyAny>>,
    run: F,
) -> PyResult<R>
where
    M: Send,
    R: Send,
    F: FnOnce(&mut M, &mut Hook<'_, M>) -> Result<R, NetrexError> + Send,
{
    let stop = AtomicBool::new(false);
    let raised: Mutex<Option<PyErr>> = Mutex::new(None);
    let (outcome, interrupt) = py.detach(|| {
        let (done, finished) = mpsc::channel::<()>();
        std::thread::scope(|scope| {
            let worker = scope.spawn(|| {
                let mut hook = |_: &M, epoch: usize, loss: f32, metrics: Metrics| {
                    if let Some(callback) = callback {
                        let called = Python::attach(|py| {
                            let dict = pyo3::types::PyDict::new(py);
                            for (name, value) in metrics {
                                dict.set_item(name, value)?;
                            }
                            callback.call1(py, (epoch, loss, dict)).map(|_| ())
                        });
                        if let Err(e) = called {
                            *raised.lock().unwrap_or_else(|p| p.into_inner()) = Some(e);
                            return Err(NetrexError::Training("stopped by the callback".into()));
                        }
                    }
                    if stop.load(Ordering::Relaxed) {
                        return Err(NetrexError::Training("interrupted".into()));
                    }
                    Ok(())
                };
                let outcome = run(model, &mut hook);
                let _ = done.send(());
                outcome
            });
            let mut interrupt = None;
            while let Err(mpsc::RecvTimeoutError::Timeout) = finished.recv_timeout(SIGNAL_POLL) {
                if interrupt.is_none() {
                    if let Err(e) = Python::attach(|py| py.check_signals()) {
                        stop.store(true, Ordering::Relaxed);
                        interrupt = Some(e);
                    }
                }
            }
            (worker.join(), interrupt)
        })
    });
    if let Some(e) = interrupt {
        return Err(e);
    }
    if let Some(e) = raised.into_inner().unwrap_or_else(|p| p.into_inner()) {
        return Err(e);
    }
    match outcome {
        Ok(result) => result.map_err(err),
        Err(_) => Err(err(
            "training stopped on an internal error (a panic); the model may be partly trained",
        )),
    }
}
