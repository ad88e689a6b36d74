//! What `ntiresr` computes, with no GStreamer types: the network (loaded, checked against the
//! contract, run by the plugin's own SIMD kernels or by tract), its run in bands of rows, the
//! mirror ensemble, and the packing and bicubic composition of I420 and NV12 planes.

pub mod bands;
pub mod fast;
pub mod fast_session;
pub mod mirror;
pub mod network;
pub mod planes;
pub mod probe;
pub mod resample;
pub mod scaler;
pub mod session;
pub mod stream;
pub mod tract_session;
pub mod upscaler;
pub mod workers;
