//! Reading an ONNX model for either element: from a file or embedded bytes, with the names of
//! its input and output tensors, every failure naming the model.

use std::path::Path;

use tract_onnx::prelude::*;
use tract_onnx::tract_hir::internal::InferenceModel;

use crate::network::ModelError;

/// A parsed ONNX model and its tensor names, in the model's order.
pub struct Parsed {
    pub model: InferenceModel,
    pub inputs: Vec<String>,
    pub outputs: Vec<String>,
}

/// Reads the file at `path`; returns the name used in messages and the bytes.
pub fn read(path: &Path) -> Result<(String, Vec<u8>), ModelError> {
    let bytes = std::fs::read(path)
        .map_err(|e| ModelError(format!("cannot read model {}: {e}", path.display())))?;
    Ok((path.display().to_string(), bytes))
}

/// Parses ONNX `bytes`; `err` turns a description into the caller's error (naming the model).
pub fn parse(bytes: &[u8], err: impl Fn(String) -> ModelError) -> Result<Parsed, ModelError> {
    let model = tract_onnx::onnx()
        .model_for_read(&mut &bytes[..])
        .map_err(|e| err(format!("not a readable ONNX model ({e:#})")))?;
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
    let inputs = names(model.input_outlets().map_err(|e| err(e.to_string()))?);
    let outputs = names(model.output_outlets().map_err(|e| err(e.to_string()))?);
    Ok(Parsed {
        model,
        inputs,
        outputs,
    })
}
