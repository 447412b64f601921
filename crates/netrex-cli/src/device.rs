//! Opening the dfdx device `--device` names.

use crate::Failure;

/// Runs `$body` with `$dev` bound to the opened dfdx device `$name` (a `DeviceName`).
macro_rules! on_device {
    ($name:expr, $dev:ident => $body:expr) => {
        match $name {
            netrex::plan::DeviceName::Cpu => {
                let $dev = <netrex::losses::dfdx::prelude::Cpu as netrex::ComputeDevice>::open()?;
                $body
            }
            #[cfg(feature = "cuda")]
            netrex::plan::DeviceName::Cuda => {
                let $dev = <netrex::losses::dfdx::prelude::Cuda as netrex::ComputeDevice>::open()?;
                $body
            }
            #[cfg(not(feature = "cuda"))]
            netrex::plan::DeviceName::Cuda => Err($crate::device::without_cuda()),
        }
    };
}
pub(crate) use on_device;

/// `--device cuda` in a build without the `cuda` feature.
#[cfg_attr(feature = "cuda", allow(dead_code))]
pub(crate) fn without_cuda() -> Failure {
    "this netrex was built without CUDA: rebuild with \
     `cargo build --release -p netrex-cli --features cuda` (docs/gpu.md), or use --device cpu"
        .into()
}
