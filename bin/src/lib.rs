//! What the command-line tools share.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use anyhow::{Context, Result};

/// Installs the Ctrl-C handler of a long-running command: the first Ctrl-C sets the returned
/// flag (the command stops after the current batch) and prints `message`; a second one exits at
/// once with status 130.
///
/// # Errors
/// When the handler cannot be installed.
pub fn stop_on_ctrl_c(message: &'static str) -> Result<Arc<AtomicBool>> {
    let stop = Arc::new(AtomicBool::new(false));
    let handler_stop = stop.clone();
    ctrlc::set_handler(move || {
        if handler_stop.swap(true, Ordering::SeqCst) {
            std::process::exit(130);
        }
        eprintln!("\n{message}");
    })
    .context("cannot install the Ctrl-C handler")?;
    Ok(stop)
}
