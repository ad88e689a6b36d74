//! What `ntiresr` computes, with no GStreamer types: the network (loaded, checked against the
//! contract and planned by tract), its run in bands of rows, the mirror ensemble, and the packing
//! and bicubic composition of I420 planes.

pub mod bands;
pub mod mirror;
pub mod network;
pub mod planes;
pub mod session;
pub mod stream;
pub mod upscaler;
