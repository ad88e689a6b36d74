//! Reading an ONNX model for either element: from a file or embedded bytes, the names of its
//! input and output tensors checked against a contract, and the errors, each naming the model.

use std::fmt;
use std::path::Path;
use std::sync::Arc;

use tract_onnx::prelude::*;
use tract_onnx::tract_hir::internal::InferenceModel;

/// A model that failed to load, to check or to run; the message names the model and what is
/// wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ModelError {
    /// The file cannot be read; `not_found` when it does not exist.
    Io { message: String, not_found: bool },
    /// The bytes are not an ONNX model tract can read.
    Parse(String),
    /// The model does not honour the element's contract (tensors, shapes, planning).
    Contract(String),
    /// The model failed while running, or the machine could not give it what it needs.
    Run(String),
}

impl ModelError {
    /// The message, naming the model and what is wrong.
    pub fn message(&self) -> &str {
        match self {
            ModelError::Io { message, .. }
            | ModelError::Parse(message)
            | ModelError::Contract(message)
            | ModelError::Run(message) => message,
        }
    }

    /// The same error with `context` added to its message.
    pub fn with_context(self, context: &str) -> ModelError {
        let add = |message: String| format!("{message} ({context})");
        match self {
            ModelError::Io { message, not_found } => ModelError::Io {
                message: add(message),
                not_found,
            },
            ModelError::Parse(m) => ModelError::Parse(add(m)),
            ModelError::Contract(m) => ModelError::Contract(add(m)),
            ModelError::Run(m) => ModelError::Run(add(m)),
        }
    }

    /// The element error to post for it: a missing or unreadable file is a resource error, a
    /// model that cannot be used a library error; the message is the cause.
    pub fn to_error_message(&self) -> gst::ErrorMessage {
        match self {
            ModelError::Io {
                not_found: true, ..
            } => {
                gst::error_msg!(gst::ResourceError::NotFound, ("{}", self))
            }
            ModelError::Io { .. } => gst::error_msg!(gst::ResourceError::OpenRead, ("{}", self)),
            ModelError::Parse(_) | ModelError::Contract(_) => {
                gst::error_msg!(gst::LibraryError::Settings, ("{}", self))
            }
            ModelError::Run(_) => gst::error_msg!(gst::LibraryError::Failed, ("{}", self)),
        }
    }
}

impl fmt::Display for ModelError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.message())
    }
}

impl std::error::Error for ModelError {}

/// A parsed ONNX model and its tensor names, in the model's order.
pub struct Parsed {
    /// The protobuf as read (what the own kernels plan from).
    pub proto: tract_onnx::pb::ModelProto,
    pub model: InferenceModel,
    pub inputs: Vec<String>,
    pub outputs: Vec<String>,
}

/// The name messages give the default model embedded in the plugin.
pub const EMBEDDED_NAME: &str = "(embedded default)";

/// Reads and parses the model file at `location`, or the `embedded` one (its name in messages,
/// its bytes) when it is unset, with `from_bytes` (which names the model in its errors).
pub fn load<M>(
    location: Option<&Path>,
    embedded: (&str, &[u8]),
    from_bytes: impl FnOnce(&str, &[u8]) -> Result<M, ModelError>,
) -> Result<M, ModelError> {
    match location {
        Some(path) => {
            let (name, bytes) = read(path)?;
            from_bytes(&name, &bytes)
        }
        None => from_bytes(embedded.0, embedded.1),
    }
}

/// Reads the file at `path`; returns the name used in messages and the bytes.
pub fn read(path: &Path) -> Result<(String, Vec<u8>), ModelError> {
    let bytes = std::fs::read(path).map_err(|e| ModelError::Io {
        message: format!("cannot read model {}: {e}", path.display()),
        not_found: e.kind() == std::io::ErrorKind::NotFound,
    })?;
    Ok((path.display().to_string(), bytes))
}

/// Parses ONNX `bytes`; `what` names the model in messages ("model X", "quality model X").
pub fn parse(bytes: &[u8], what: &str) -> Result<Parsed, ModelError> {
    let parse_err =
        |e: String| ModelError::Parse(format!("{what}: not a readable ONNX model ({e})"));
    let onnx = tract_onnx::onnx();
    let proto = onnx
        .proto_model_for_read(&mut &bytes[..])
        .map_err(|e| parse_err(format!("{e:#}")))?;
    let model = onnx
        .model_for_proto_model(&proto)
        .map_err(|e| parse_err(format!("{e:#}")))?;
    let names = |outlets: &[OutletId]| -> Vec<String> {
        outlets
            .iter()
            .map(|o| {
                // ONNX graph outputs are outlet labels; inputs are the source nodes' names.
                model
                    .outlet_label(*o)
                    .map_or_else(|| model.node(o.node).name.clone(), str::to_string)
            })
            .collect()
    };
    let inputs = names(
        model
            .input_outlets()
            .map_err(|e| parse_err(e.to_string()))?,
    );
    let outputs = names(
        model
            .output_outlets()
            .map_err(|e| parse_err(e.to_string()))?,
    );
    Ok(Parsed {
        proto,
        model,
        inputs,
        outputs,
    })
}

impl Parsed {
    /// The positions of the contract's `inputs` among the model's inputs and of its `outputs`
    /// among the model's outputs; an error naming the missing tensor when the model has other
    /// tensors than these. `what` names the model.
    pub fn order<const I: usize, const O: usize>(
        &self,
        inputs: [&str; I],
        outputs: [&str; O],
        what: &str,
    ) -> Result<([usize; I], [usize; O]), ModelError> {
        let err = |e: String| ModelError::Contract(format!("{what}: {e}"));
        if self.inputs.len() != I || self.outputs.len() != O {
            return Err(err(format!(
                "has inputs {:?} and outputs {:?}; expected {inputs:?} and {outputs:?}",
                self.inputs, self.outputs
            )));
        }
        let find = |list: &[String], want: &str, kind: &str, expected: &[&str]| {
            list.iter().position(|n| n == want).ok_or_else(|| {
                err(format!(
                    "has no {kind} tensor \"{want}\" (its {kind}s are {list:?}; expected {expected:?})"
                ))
            })
        };
        let mut input_order = [0; I];
        for (slot, want) in input_order.iter_mut().zip(inputs) {
            *slot = find(&self.inputs, want, "input", &inputs)?;
        }
        let mut output_order = [0; O];
        for (slot, want) in output_order.iter_mut().zip(outputs) {
            *slot = find(&self.outputs, want, "output", &outputs)?;
        }
        Ok((input_order, output_order))
    }
}

/// Lets `fill` write an f32 input tensor in place: the same buffer from run to run, or a new
/// one of the same shape while tract still holds the last.
pub fn fill_reused<R>(tensor: &mut Arc<Tensor>, fill: impl FnOnce(&mut [f32]) -> R) -> R {
    if Arc::get_mut(tensor).is_none() {
        let shape = tensor.shape().to_vec();
        *tensor = Arc::new(Tensor::zero::<f32>(&shape).expect("f32 zeros"));
    }
    let unique = Arc::get_mut(tensor).expect("unique input buffer");
    let mut view = unique.try_as_plain_ram_mut().expect("plain tensor");
    fill(view.as_slice_mut::<f32>().expect("f32 tensor"))
}
