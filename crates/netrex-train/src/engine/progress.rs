//! A progress bar per epoch on stderr (hidden when stderr is not a terminal).

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

pub(crate) struct Progress(Option<ProgressBar>);

impl Progress {
    pub(crate) fn new(show: bool, total: usize, epoch: usize) -> Self {
        if !show {
            return Progress(None);
        }
        let bar = ProgressBar::with_draw_target(Some(total as u64), ProgressDrawTarget::stderr());
        let style = ProgressStyle::with_template("epoch {prefix:>3} [{bar:30}] {pos}/{len} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> ");
        bar.set_style(style);
        bar.set_prefix(epoch.to_string());
        Progress(Some(bar))
    }

    pub(crate) fn advance(&self, n: usize, loss: f64) {
        if let Some(bar) = &self.0 {
            bar.inc(n as u64);
            bar.set_message(format!("loss {loss:.4}"));
        }
    }

    pub(crate) fn finish(&self) {
        if let Some(bar) = &self.0 {
            bar.finish();
        }
    }
}
