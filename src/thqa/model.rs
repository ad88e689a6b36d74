//! Loads a `thqa` quality model, checks it against the contract of `models/thqa.md`, and scores
//! frames from their luma patches.

use std::sync::Arc;

use tract_onnx::prelude::*;
use tract_onnx::tract_hir::infer::Factoid;
use tract_onnx::tract_hir::internal::DimLike;

use super::patches::{self, LumaView};
use crate::onnx::{self, ModelError};

/// Input tensor names, in the order the model is fed.
pub const INPUTS: [&str; 2] = ["patches", "scale"];
/// The output tensor: the frame's score.
pub const OUTPUT: &str = "score";
/// Scores are bounded to 0..=MAX_SCORE.
pub const MAX_SCORE: f32 = 5.0;
/// The picture size `scale` is relative to: the judged picture's shorter side / `FULL_HD`.
const FULL_HD: f32 = 1080.0;

/// A planned quality model: `side * side` patches of `size x size` luma in, one score out.
pub struct QualityModel {
    name: String,
    _plan: Arc<TypedSimplePlan>,
    state: TypedSimpleState,
    input_order: [usize; 2],
    side: usize,
    size: usize,
    /// The patch input, reused from frame to frame whenever tract no longer holds it.
    patches: Arc<Tensor>,
}

impl std::fmt::Debug for QualityModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("QualityModel")
            .field("name", &self.name)
            .field("side", &self.side)
            .field("size", &self.size)
            .finish()
    }
}

impl QualityModel {
    /// Parses ONNX `bytes`, checks the contract and plans the model; `name` is used in errors.
    pub fn from_bytes(name: &str, bytes: &[u8]) -> Result<Self, ModelError> {
        let what = format!("quality model {name}");
        let err = |e: String| ModelError::Contract(format!("{what}: {e}"));
        let parsed = onnx::parse(bytes, &what)?;
        let (input_order, _) = parsed.order(INPUTS, [OUTPUT], &what)?;
        let model = parsed.model;
        let dims: Option<Vec<usize>> = model.input_fact(input_order[0]).ok().and_then(|f| {
            f.shape
                .dims()
                .map(|d| d.concretize().and_then(|d| d.to_usize().ok()))
                .collect()
        });
        let (count, size) = match dims.as_deref() {
            Some(&[n, 1, p, q]) if p == q && p > 0 && n > 0 => (n, p),
            other => {
                return Err(err(format!(
                    "input \"patches\" must declare a fixed shape [N, 1, P, P], not {other:?}"
                )));
            }
        };
        let side = (count as f64).sqrt().round() as usize;
        if side * side != count {
            return Err(err(format!(
                "input \"patches\" holds {count} patches, which is not a square grid"
            )));
        }
        let mut model = model;
        let shapes = [vec![count, 1, size, size], vec![count, 1]];
        for (ix, shape) in input_order.iter().zip(&shapes) {
            model
                .set_input_fact(*ix, f32::fact(shape).into())
                .map_err(|e| err(e.to_string()))?;
        }
        let plan = model
            .into_optimized()
            .and_then(|m| m.into_runnable())
            .map_err(|e| err(format!("cannot be planned for inputs {shapes:?}: {e:#}")))?;
        let state = plan.spawn().map_err(|e| err(e.to_string()))?;
        let mut scorer = QualityModel {
            name: name.to_string(),
            _plan: plan,
            state,
            input_order,
            side,
            size,
            patches: Arc::new(Tensor::zero::<f32>(&shapes[0]).expect("f32 zeros")),
        };
        scorer
            .run(0.5)
            .map_err(|e| ModelError::Contract(format!("{e} (on a test input)")))?;
        Ok(scorer)
    }

    /// The model's name as used in messages (its path, or "embedded model").
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Patches per grid side and patch size in pixels.
    pub fn grid(&self) -> (usize, usize) {
        (self.side, self.size)
    }

    /// Scores one frame (0..=5) as shown on a display of `display` lines (`patches`).
    pub fn score(&mut self, frame: &LumaView, display: usize) -> Result<f32, ModelError> {
        let (side, size) = (self.side, self.size);
        self.fill_patches(|buf| patches::extract(frame, display, side, size, buf));
        let (w, h) = patches::display_size(frame.width, frame.height, display);
        self.run(w.min(h) as f32 / FULL_HD)
    }

    /// Scores patches given directly (`N x P x P` values in 0..1), as the parity test does.
    pub fn score_patches(&mut self, patches: &[f32], scale: f32) -> Result<f32, ModelError> {
        let takes = self.fill_patches(|input| {
            if input.len() == patches.len() {
                input.copy_from_slice(patches);
            }
            input.len()
        });
        if takes != patches.len() {
            return Err(ModelError::Run(format!(
                "quality model {}: {} patch values given, the model takes {takes}",
                self.name,
                patches.len(),
            )));
        }
        self.run(scale)
    }

    /// Lets `fill` write the patch input (a new buffer if tract still holds the last one).
    fn fill_patches<R>(&mut self, fill: impl FnOnce(&mut [f32]) -> R) -> R {
        onnx::fill_reused(&mut self.patches, fill)
    }

    /// Scores the patches already in the input buffer, with `scale` for every patch.
    fn run(&mut self, scale: f32) -> Result<f32, ModelError> {
        let err = |what: String| ModelError::Run(format!("quality model {}: {what}", self.name));
        let count = self.side * self.side;
        let scale = Tensor::from_shape(&[count, 1], &vec![scale; count]).expect("scale tensor");
        let mut inputs: TVec<TValue> = tvec![TValue::from_const(Arc::new(scale)); 2];
        inputs[self.input_order[0]] = TValue::from_const(self.patches.clone());
        let outputs = self
            .state
            .run(inputs)
            .map_err(|e| err(format!("failed to run: {e:#}")))?;
        let score = outputs[0]
            .try_as_plain_ram()
            .and_then(|v| v.as_slice::<f32>())
            .map_err(|e| err(format!("output \"score\" is not f32: {e}")))?;
        match score {
            [s] if s.is_finite() => Ok(s.clamp(0.0, MAX_SCORE)),
            [s] => Err(err(format!("output \"score\" is not finite ({s})"))),
            _ => Err(err(format!(
                "output \"score\" has shape {:?}, expected [1, 1]",
                outputs[0].shape()
            ))),
        }
    }
}
