//! Where dfdx runs a model's tensors: the CPU by default, an NVIDIA GPU with the `cuda`
//! feature.
//!
//! Parameter tables and row-wise optimizer state stay in host memory on every device: each
//! batch's rows go to the device, the forward and backward passes run there, and the row
//! gradients come back. The fused CPU kernel of bilinear models is used only on [`Cpu`].

use dfdx::prelude::*;

use crate::error::NetrexError;

/// A dfdx device netrex models can run on.
///
/// dfdx's `Cuda` is neither `Send` nor `Sync`, so models on it train on the calling thread
/// and are scored through a CPU copy (`to_cpu`).
pub trait ComputeDevice: Device<f32> + 'static {
    /// `"cpu"` or `"cuda"`.
    const NAME: &'static str;

    /// Whether the device computes on host memory: the hand-written kernels run only there,
    /// and tables stay on the host between batches.
    const HOST: bool;

    /// Opens the device, or says why it cannot be opened.
    fn open() -> Result<Self, NetrexError>;
}

impl ComputeDevice for Cpu {
    const NAME: &'static str = "cpu";
    const HOST: bool = true;

    fn open() -> Result<Self, NetrexError> {
        Ok(cpu())
    }
}

/// dfdx's CPU device. Its buffer cache stays off: dfdx 0.13's cache checks for a free buffer
/// and takes it under two different locks, so threads scoring with one device (evaluation
/// runs on rayon) race and panic.
pub(crate) fn cpu() -> Cpu {
    Cpu::default()
}

#[cfg(feature = "cuda")]
impl ComputeDevice for Cuda {
    const NAME: &'static str = "cuda";
    const HOST: bool = false;

    fn open() -> Result<Self, NetrexError> {
        let failed = |why: String| {
            NetrexError::Device(format!(
                "CUDA was requested but GPU 0 could not be opened ({why}): check the NVIDIA \
                 driver (nvidia-smi), or train with --device cpu"
            ))
        };
        // cudarc 0.9 unwraps the driver's first answers, so a machine without a driver panics
        // inside `try_build`: that panic becomes the error (unprinted, other threads untouched)
        match netrex_data::catch_quietly(|| Cuda::try_build(0, 0)) {
            Ok(Ok(device)) => Ok(device),
            Ok(Err(e)) => Err(failed(format!("{e:?}"))),
            Err(panic) => Err(failed(panic)),
        }
    }
}

/// The device names this build can run on.
pub fn available_devices() -> &'static [&'static str] {
    if cfg!(feature = "cuda") {
        &["cpu", "cuda"]
    } else {
        &["cpu"]
    }
}
