//! An ntiresr ONNX network as data: parsed once, its tensors' names and declared channel counts
//! checked against the contract of `models/README.md`. [`super::probe`] loads it (running it
//! once to check what it produces and to measure its [`Locality`]); [`super::session::Session`]
//! runs it frame by frame.

use std::fmt;

use gst::glib;

use tract_onnx::prelude::*;
use tract_onnx::tract_hir::infer::{Factoid, InferenceFact};
use tract_onnx::tract_hir::internal::DimLike;

use super::planes::{IN_CHANNELS, OUT_CHANNELS};
use crate::onnx::{self, ModelError};

/// Input tensor names, in the order the network is fed.
pub const INPUTS: [&str; 3] = ["frame", "prev_frame", "state"];
/// Output tensor names, in the order they are read.
pub const OUTPUTS: [&str; 2] = ["residual", "state_out"];

/// Where the network runs: the engine's choice and the element's `backend` property alike (a
/// GLib enum for the property; its values are the property's and stay as they are).
#[derive(Debug, Eq, PartialEq, Ord, PartialOrd, Hash, Clone, Copy, glib::Enum, Default)]
#[repr(u32)]
#[enum_type(name = "GstNtireSrBackend")]
pub enum Backend {
    #[default]
    #[enum_value(
        name = "CPU: the plugin's own SIMD kernels where they cover the model, tract otherwise",
        nick = "cpu"
    )]
    Cpu = 0,
    #[enum_value(
        name = "CUDA: tract-cuda (needs the `cuda` cargo feature and a CUDA driver)",
        nick = "cuda"
    )]
    Cuda = 1,
    #[enum_value(
        name = "CPU: tract alone (the reference the own kernels are checked against)",
        nick = "tract"
    )]
    Tract = 2,
}

/// The arithmetic of the own kernels (the `precision` property): f32 throughout, or bf16 weights
/// and activations with f32 sums where the CPU has AVX512-BF16 (`fast::Isa::Avx512Bf16`).
#[derive(Debug, Eq, PartialEq, Ord, PartialOrd, Hash, Clone, Copy, glib::Enum, Default)]
#[repr(u32)]
#[enum_type(name = "GstNtireSrPrecision")]
pub enum Precision {
    /// bf16 where the CPU has it and its quality gate holds (`BF16_GATE_HOLDS`), else f32.
    #[default]
    #[enum_value(
        name = "Auto: bf16 where the CPU has AVX512-BF16 and its quality gate holds, else fp32",
        nick = "auto"
    )]
    Auto = 0,
    #[enum_value(name = "fp32: f32 weights, activations and sums", nick = "fp32")]
    Fp32 = 1,
    #[enum_value(
        name = "bf16: bf16 weights and activations, f32 sums (AVX512-BF16; fp32 without it)",
        nick = "bf16"
    )]
    Bf16 = 2,
}

/// Whether `Precision::Auto` takes bf16 where the CPU has it: the bf16 path's quality gate,
/// measured through the plugin on val against the original (PSNR-Y within 0.005 dB of f32 at
/// every QP, VMAF within 0.05, 99.9 % of samples within 1 code value of f32's), holds: on
/// 7 Dec 2026 (20 frames of each val clip, QP 22/27/32/37, `scripts/benchmark --methods
/// ntiresr,ntiresr-avx512bf16`) PSNR-Y -0.0034/-0.0021/-0.0012/-0.0003 dB, VMAF
/// -0.000/-0.016/-0.010/+0.017, and 99.99999 % of samples within 1 code value (QP 32).
pub const BF16_GATE_HOLDS: bool = true;

impl Precision {
    /// Whether the own kernels should take the bf16 path where the CPU has one.
    pub fn wants_bf16(self) -> bool {
        match self {
            Precision::Auto => BF16_GATE_HOLDS,
            Precision::Fp32 => false,
            Precision::Bf16 => true,
        }
    }
}

/// A parsed network whose tensor names and channel counts match the contract.
pub struct Network {
    pub(super) name: String,
    /// The ONNX protobuf, which the fast path plans from (parsed once, here).
    pub(super) proto: tract_onnx::pb::ModelProto,
    pub(super) model: InferenceModel,
    /// Positions of `INPUTS` among the model's inputs, and of `OUTPUTS` among its outputs.
    pub(super) input_order: [usize; 3],
    pub(super) output_order: [usize; 2],
    pub(super) state_channels: usize,
    /// How the outputs depend on the grid's rows, if the model is local (measured by
    /// [`super::probe`] when it loads the network).
    pub(super) locality: Option<Locality>,
}

impl fmt::Debug for Network {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Network")
            .field("name", &self.name)
            .field("state_channels", &self.state_channels)
            .finish()
    }
}

impl Network {
    /// Parses ONNX `bytes` and checks what the model declares; `name` (a file name, or
    /// "embedded model") is used in every error. Not yet run: [`Network::from_bytes`] (in
    /// [`super::probe`]) is the loader.
    pub(super) fn parse(name: &str, bytes: &[u8]) -> Result<Self, ModelError> {
        let what = format!("model {name}");
        let parsed = onnx::parse(bytes, &what)?;
        let (input_order, output_order) = parsed.order(INPUTS, OUTPUTS, &what)?;
        let onnx::Parsed { proto, model, .. } = parsed;
        let channels = |fact: TractResult<&InferenceFact>| {
            fact.ok()
                .and_then(|f| f.shape.dims().nth(1).cloned())
                .and_then(|d| d.concretize())
                .and_then(|d| d.to_usize().ok())
        };
        let state_channels = channels(model.input_fact(input_order[2])).ok_or_else(|| {
            ModelError::Contract(format!(
                "{what}: input \"state\" must declare a fixed channel count [1, C, h, w]"
            ))
        })?;
        // Every channel count the model declares, before anything runs it.
        let declared = [
            (
                INPUTS[0],
                channels(model.input_fact(input_order[0])),
                IN_CHANNELS,
            ),
            (
                INPUTS[1],
                channels(model.input_fact(input_order[1])),
                IN_CHANNELS,
            ),
            (
                OUTPUTS[0],
                channels(model.output_fact(output_order[0])),
                OUT_CHANNELS,
            ),
            (
                OUTPUTS[1],
                channels(model.output_fact(output_order[1])),
                state_channels,
            ),
        ];
        for (name, got, want) in declared {
            if let Some(got) = got.filter(|&got| got != want) {
                return Err(ModelError::Contract(format!(
                    "{what}: \"{name}\" declares {got} channels, the contract needs {want} \
                     ([1, {want}, h, w]; \"state\" declares {state_channels})"
                )));
            }
        }
        Ok(Network {
            name: name.to_string(),
            proto,
            model,
            input_order,
            output_order,
            state_channels,
            locality: None,
        })
    }

    /// The model's name as used in messages (its path, or "embedded model").
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Channels of the recurrent state tensor.
    pub fn state_channels(&self) -> usize {
        self.state_channels
    }

    /// How far and with which period the outputs depend on the grid's rows, measured when the
    /// model was loaded; `None` if the model cannot run in bands of rows.
    pub fn locality(&self) -> Option<Locality> {
        self.locality
    }

    /// How many grid rows away one step carries any input's influence to its outputs.
    pub fn reach(&self) -> Option<usize> {
        self.locality.map(|l| l.reach)
    }
}

/// How a model's outputs depend on the grid's rows, measured at load: what running it in bands of
/// rows needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Locality {
    /// How many grid rows away one step carries any input's influence to its outputs.
    pub reach: usize,
    /// The smallest shift, in grid rows, that shifts the outputs alike (1 for a model of plain
    /// convolutions; 2 with a stride-2 convolution on the grid): bands start on its multiples.
    pub period: usize,
}
