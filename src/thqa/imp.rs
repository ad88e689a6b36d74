// SPDX-License-Identifier: MIT OR Apache-2.0
//! The `thqa` subclass of `GstVideoFilter`: buffers pass untouched (in place, never written);
//! every `interval` frames the luma is scored and the running scores go to properties and to
//! `thqa` element messages.

/**
 * element-thqa:
 *
 * A pass-through talking-head quality monitor: buffers go through untouched (in place, never
 * written, never copied) and no latency is added, while every `interval`-th frame's luma is
 * scored from 0 (bad) to 5 (looks like the original) without the original. It predicts VMAF / 20
 * of the picture shown at the original's size (see `models/thqa.md`). By default (v3) the score
 * comes from two estimates read from the pixels, which are also published: the compression level
 * as an H.265 QP-equivalent (`compression`) and the effective resolution (`resolution`, in
 * display lines); `scorer=network` (or a `model-location`) scores with an ONNX network instead
 * (the embedded v2 model, run by tract).
 *
 * Every frame is judged as it is shown: at `display-height` lines (its shorter side; the other
 * side by aspect), a smaller frame brought there by bicubic interpolation of the patches the
 * model reads. So a 270p decode and its x4 upscale are scored on the same footing: set
 * `display-height` to the size the call is shown at (the original's, for the challenge 1080).
 * RGB frames are read as the luma a converter to YUV would make (GStreamer's default matrix for
 * the frame size: BT.601 up to 576 lines, BT.709 above, BT.2020 from 2160).
 *
 * ## Example pipeline
 * ```bash
 * gst-launch-1.0 -m filesrc location=call_270p.mp4 ! qtdemux ! h265parse ! avdec_h265 \
 *   ! thqa name=before ! ntiresr ! thqa name=after ! x264enc ! mp4mux ! filesink location=out.mp4
 * ```
 *
 * ## Properties
 * - `scorer` (enum, auto): `v3`, `network`, or `auto` (the network when `model-location` is
 *   set, else v3).
 * - `model-location` (string, unset): an ONNX quality model instead of the embedded v2 network.
 * - `display-height` (uint, 1080): lines of the display the picture is judged at (0: every
 *   frame at its own size).
 * - `interval` (uint, 1): score one frame out of this many.
 * - `window` (uint, 250): span of the moving average, in scored frames; changing it keeps the
 *   running scores.
 * - `message-interval` (uint, 250): a `thqa` element message every this many scored frames
 *   (0: only the final one at end of stream). The default posts one message per moving-average
 *   window (10 s at 25 fps): a live monitor gets regular updates while a bus nobody drains grows
 *   by about 1.5 bytes per frame instead of 375 (the properties always hold the latest scores).
 * - `score`, `clip-score`, `ema-score` (double, read-only, -1 before the first score).
 * - `compression`, `ema-compression` (double, read-only, -1 before the first frame): the last
 *   frame's QP-equivalent and its moving average over `window` frames.
 * - `resolution` (double, read-only, -1 before the first frame): the last frame's effective
 *   resolution, in lines of the judged picture's shorter side.
 * - `stats` (GstStructure, read-only): `frames`, `resets`, `mean-ms`, `max-ms`.
 *
 * Since: plugin-0.1.0
 */
use std::path::Path;
use std::sync::{LazyLock, Mutex};
use std::time::Instant;

use gst::glib;
use gst::prelude::*;
use gst::subclass::prelude::*;
use gst_base::prelude::*;
use gst_base::subclass::prelude::*;
use gst_video::VideoFormat;
use gst_video::prelude::*;
use gst_video::subclass::prelude::*;

use super::clip_score::ClipScore;
use super::estimate::Estimate;
use super::model::{MAX_SCORE, QualityModel};
use super::patches::{LumaLayout, LumaMatrix, LumaView};
use super::{EMBEDDED_MODEL, Scorer};
use crate::onnx;
use crate::ready_only;
use crate::stats::Stats;

static CAT: LazyLock<gst::DebugCategory> = LazyLock::new(|| {
    gst::DebugCategory::new(
        "thqa",
        gst::DebugColorFlags::empty(),
        Some("talking-head quality monitor"),
    )
});

/// Formats the element accepts and where their luma is.
const FORMATS: &[(VideoFormat, LumaLayout)] = {
    const PLANAR: LumaLayout = LumaLayout::Direct { step: 1, offset: 0 };
    const fn rgb(step: usize, r: usize, g: usize, b: usize) -> LumaLayout {
        // The matrix is chosen from the caps in `set_info`.
        LumaLayout::Rgb {
            step,
            r,
            g,
            b,
            matrix: LumaMatrix::Bt601,
        }
    }
    &[
        (VideoFormat::I420, PLANAR),
        (VideoFormat::Yv12, PLANAR),
        (VideoFormat::Nv12, PLANAR),
        (VideoFormat::Nv21, PLANAR),
        (VideoFormat::Y42b, PLANAR),
        (VideoFormat::Y444, PLANAR),
        (VideoFormat::Y41b, PLANAR),
        (VideoFormat::Nv16, PLANAR),
        (VideoFormat::Nv24, PLANAR),
        (VideoFormat::A420, PLANAR),
        (VideoFormat::Gray8, PLANAR),
        (VideoFormat::Yuy2, LumaLayout::Direct { step: 2, offset: 0 }),
        (VideoFormat::Yvyu, LumaLayout::Direct { step: 2, offset: 0 }),
        (VideoFormat::Uyvy, LumaLayout::Direct { step: 2, offset: 1 }),
        (VideoFormat::Rgbx, rgb(4, 0, 1, 2)),
        (VideoFormat::Rgba, rgb(4, 0, 1, 2)),
        (VideoFormat::Bgrx, rgb(4, 2, 1, 0)),
        (VideoFormat::Bgra, rgb(4, 2, 1, 0)),
        (VideoFormat::Xrgb, rgb(4, 1, 2, 3)),
        (VideoFormat::Argb, rgb(4, 1, 2, 3)),
        (VideoFormat::Xbgr, rgb(4, 3, 2, 1)),
        (VideoFormat::Abgr, rgb(4, 3, 2, 1)),
        (VideoFormat::Rgb, rgb(3, 0, 1, 2)),
        (VideoFormat::Bgr, rgb(3, 2, 1, 0)),
    ]
};

const DEFAULT_DISPLAY_HEIGHT: u32 = 1080;
const DEFAULT_INTERVAL: u32 = 1;
const DEFAULT_WINDOW: u32 = 250;
/// One message per moving-average window (see the doc block).
const DEFAULT_MESSAGE_INTERVAL: u32 = DEFAULT_WINDOW;
/// The value of the score properties before the first scored frame.
const NO_SCORE: f64 = -1.0;

#[derive(Debug, Clone)]
struct Settings {
    scorer: Scorer,
    model_location: Option<String>,
    display_height: u32,
    interval: u32,
    window: u32,
    message_interval: u32,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            scorer: Scorer::Auto,
            model_location: None,
            display_height: DEFAULT_DISPLAY_HEIGHT,
            interval: DEFAULT_INTERVAL,
            window: DEFAULT_WINDOW,
            message_interval: DEFAULT_MESSAGE_INTERVAL,
        }
    }
}

#[derive(Default)]
struct State {
    /// The network, when it gives the score.
    model: Option<QualityModel>,
    layout: Option<LumaLayout>,
    /// Frames seen since the last reset (scored or not).
    frames: u64,
    /// Running time and index of the last scored frame.
    last_scored: Option<(Option<gst::ClockTime>, u64)>,
    /// Whether a runtime scoring failure was already reported.
    warned: bool,
}

/// Running v3 estimates: the QP-equivalent and the effective resolution (lines).
struct Estimates {
    compression: ClipScore,
    resolution: Option<f64>,
}

impl Estimates {
    fn new(window: u32) -> Self {
        Estimates {
            compression: ClipScore::new(window),
            resolution: None,
        }
    }
}

pub struct Thqa {
    settings: Mutex<Settings>,
    state: Mutex<State>,
    scores: Mutex<ClipScore>,
    estimates: Mutex<Estimates>,
    stats: Mutex<Stats>,
}

impl Default for Thqa {
    fn default() -> Self {
        Thqa {
            settings: Mutex::default(),
            state: Mutex::default(),
            scores: Mutex::new(ClipScore::new(DEFAULT_WINDOW)),
            estimates: Mutex::new(Estimates::new(DEFAULT_WINDOW)),
            stats: Mutex::default(),
        }
    }
}

#[glib::object_subclass]
impl ObjectSubclass for Thqa {
    const NAME: &'static str = "GstThqa";
    type Type = super::Thqa;
    type ParentType = gst_video::VideoFilter;
}

impl ObjectImpl for Thqa {
    fn properties() -> &'static [glib::ParamSpec] {
        static PROPS: LazyLock<Vec<glib::ParamSpec>> = LazyLock::new(|| {
            let score = |name: &str, nick: &str, blurb: &str| {
                glib::ParamSpecDouble::builder(name)
                    .nick(nick)
                    .blurb(blurb)
                    .minimum(NO_SCORE)
                    .maximum(MAX_SCORE as f64)
                    .default_value(NO_SCORE)
                    .read_only()
                    .build()
            };
            let estimate = |name: &str, nick: &str, blurb: &str| {
                glib::ParamSpecDouble::builder(name)
                    .nick(nick)
                    .blurb(blurb)
                    .minimum(NO_SCORE)
                    .default_value(NO_SCORE)
                    .read_only()
                    .build()
            };
            vec![
                glib::ParamSpecEnum::builder_with_default("scorer", Scorer::Auto)
                    .nick("Scorer")
                    .blurb(
                        "What gives the score: v3 (compression and resolution read from the \
                         pixels), network (the ONNX model: model-location, else the embedded v2) \
                         or auto (network when model-location is set, else v3)",
                    )
                    .mutable_ready()
                    .build(),
                glib::ParamSpecString::builder("model-location")
                    .nick("Model location")
                    .blurb(
                        "Path of an ONNX quality model that honours the thqa contract \
                         (models/thqa.md); unset: the embedded default model",
                    )
                    .mutable_ready()
                    .build(),
                glib::ParamSpecUInt::builder("display-height")
                    .nick("Display height")
                    .blurb(
                        "Lines of the display the picture is judged at: a frame's shorter side \
                         is brought to this many (bicubic), the other by aspect; a larger frame \
                         is judged at its own size (0: every frame at its own size)",
                    )
                    .default_value(DEFAULT_DISPLAY_HEIGHT)
                    .mutable_playing()
                    .build(),
                glib::ParamSpecUInt::builder("interval")
                    .nick("Interval")
                    .blurb("Score one frame out of this many")
                    .minimum(1)
                    .default_value(DEFAULT_INTERVAL)
                    .mutable_playing()
                    .build(),
                glib::ParamSpecUInt::builder("window")
                    .nick("Window")
                    .blurb(
                        "Span in scored frames of the moving average (ema-score); changing it \
                         keeps the running scores",
                    )
                    .minimum(1)
                    .default_value(DEFAULT_WINDOW)
                    .mutable_playing()
                    .build(),
                glib::ParamSpecUInt::builder("message-interval")
                    .nick("Message interval")
                    .blurb(
                        "Post a \"thqa\" element message every this many scored frames \
                         (0: only the final one at end of stream)",
                    )
                    .default_value(DEFAULT_MESSAGE_INTERVAL)
                    .mutable_playing()
                    .build(),
                score(
                    "score",
                    "Score",
                    "Score of the last scored frame, 0 (bad) to 5 (as the original); \
                     -1 before the first",
                ),
                score(
                    "clip-score",
                    "Clip score",
                    "Mean score of every frame scored since the stream started; -1 before the first",
                ),
                score(
                    "ema-score",
                    "Moving score",
                    "Exponential moving average of the frame scores over `window` frames; \
                     -1 before the first",
                ),
                estimate(
                    "compression",
                    "Compression",
                    "Compression of the last scored frame as an H.265 QP-equivalent (about \
                     17..45: higher is more compressed); -1 before the first",
                ),
                estimate(
                    "ema-compression",
                    "Moving compression",
                    "Exponential moving average of the compression over `window` frames; \
                     -1 before the first",
                ),
                estimate(
                    "resolution",
                    "Effective resolution",
                    "Effective resolution of the last scored frame, in lines of the judged \
                     picture's shorter side (a 270p decode on a 1080-line display: about 270); \
                     -1 before the first",
                ),
                glib::ParamSpecBoxed::builder::<gst::Structure>("stats")
                    .nick("Statistics")
                    .blurb(
                        "frames (scored), resets (of the running scores), mean-ms and max-ms \
                         (time to score one frame)",
                    )
                    .read_only()
                    .build(),
            ]
        });
        PROPS.as_ref()
    }

    fn set_property(&self, _id: usize, value: &glib::Value, pspec: &glib::ParamSpec) {
        // The model is loaded when the element starts: a change once it runs would name a model
        // that is not running, so it is refused. The other properties apply at once.
        if matches!(pspec.name(), "model-location" | "scorer")
            && ready_only::refuse_while_running(self.obj().upcast_ref(), *CAT, pspec.name())
        {
            return;
        }
        let mut settings = self.settings.lock().unwrap();
        match pspec.name() {
            "scorer" => settings.scorer = value.get().expect("type checked"),
            "model-location" => settings.model_location = value.get().expect("type checked"),
            "display-height" => settings.display_height = value.get().expect("type checked"),
            "interval" => settings.interval = value.get().expect("type checked"),
            "window" => {
                settings.window = value.get().expect("type checked");
                self.scores.lock().unwrap().set_window(settings.window);
                let mut estimates = self.estimates.lock().unwrap();
                estimates.compression.set_window(settings.window);
            }
            "message-interval" => settings.message_interval = value.get().expect("type checked"),
            _ => unreachable!("unknown property {}", pspec.name()),
        }
    }

    fn property(&self, _id: usize, pspec: &glib::ParamSpec) -> glib::Value {
        let or_none = |v: Option<f64>| v.unwrap_or(NO_SCORE).to_value();
        match pspec.name() {
            "scorer" => self.settings.lock().unwrap().scorer.to_value(),
            "model-location" => self.settings.lock().unwrap().model_location.to_value(),
            "display-height" => self.settings.lock().unwrap().display_height.to_value(),
            "interval" => self.settings.lock().unwrap().interval.to_value(),
            "window" => self.settings.lock().unwrap().window.to_value(),
            "message-interval" => self.settings.lock().unwrap().message_interval.to_value(),
            "score" => or_none(self.scores.lock().unwrap().last),
            "clip-score" => or_none(self.scores.lock().unwrap().mean()),
            "ema-score" => or_none(self.scores.lock().unwrap().ema()),
            "compression" => or_none(self.estimates.lock().unwrap().compression.last),
            "ema-compression" => or_none(self.estimates.lock().unwrap().compression.ema()),
            "resolution" => or_none(self.estimates.lock().unwrap().resolution),
            "stats" => self
                .stats
                .lock()
                .unwrap()
                .to_structure("application/x-thqa-stats")
                .to_value(),
            _ => unreachable!("unknown property {}", pspec.name()),
        }
    }

    fn constructed(&self) {
        self.parent_constructed();
        // Buffers are only read: never made writable, never copied, never dropped for QoS.
        self.obj().set_passthrough(true);
        self.obj().set_property("qos", false);
    }
}

impl GstObjectImpl for Thqa {}

impl ElementImpl for Thqa {
    fn metadata() -> Option<&'static gst::subclass::ElementMetadata> {
        static META: LazyLock<gst::subclass::ElementMetadata> = LazyLock::new(|| {
            gst::subclass::ElementMetadata::new(
                "Talking-head quality monitor",
                "Filter/Analyzer/Video",
                "Scores video quality on a 0-5 scale without the original (from its compression \
                 and resolution estimated from the pixels, or a small network run by tract) and \
                 posts frame and clip scores; buffers pass untouched",
                "ntiresr developers",
            )
        });
        Some(&*META)
    }

    fn pad_templates() -> &'static [gst::PadTemplate] {
        static TEMPLATES: LazyLock<Vec<gst::PadTemplate>> = LazyLock::new(|| {
            let caps = gst_video::VideoCapsBuilder::new()
                .format_list(FORMATS.iter().map(|(f, _)| *f))
                .build();
            vec![
                gst::PadTemplate::new(
                    "sink",
                    gst::PadDirection::Sink,
                    gst::PadPresence::Always,
                    &caps,
                )
                .unwrap(),
                gst::PadTemplate::new(
                    "src",
                    gst::PadDirection::Src,
                    gst::PadPresence::Always,
                    &caps,
                )
                .unwrap(),
            ]
        });
        TEMPLATES.as_ref()
    }
}

impl BaseTransformImpl for Thqa {
    const MODE: gst_base::subclass::BaseTransformMode =
        gst_base::subclass::BaseTransformMode::AlwaysInPlace;
    const PASSTHROUGH_ON_SAME_CAPS: bool = false;
    const TRANSFORM_IP_ON_PASSTHROUGH: bool = true;

    fn start(&self) -> Result<(), gst::ErrorMessage> {
        let settings = self.settings.lock().unwrap().clone();
        let network = match settings.scorer {
            Scorer::Auto => settings.model_location.is_some(),
            Scorer::V3 => false,
            Scorer::Network => true,
        };
        let model = if network {
            let model = onnx::load(
                settings.model_location.as_deref().map(Path::new),
                (onnx::EMBEDDED_NAME, EMBEDDED_MODEL),
                QualityModel::from_bytes,
            )
            .map_err(|e| e.to_error_message())?;
            gst::info!(
                CAT,
                imp = self,
                "loaded {} (patch grid {:?})",
                model.name(),
                model.grid()
            );
            Some(model)
        } else {
            gst::info!(CAT, imp = self, "scoring with v3");
            None
        };
        *self.state.lock().unwrap() = State {
            model,
            ..Default::default()
        };
        *self.scores.lock().unwrap() = ClipScore::new(settings.window);
        *self.estimates.lock().unwrap() = Estimates::new(settings.window);
        *self.stats.lock().unwrap() = Stats::default();
        Ok(())
    }

    fn stop(&self) -> Result<(), gst::ErrorMessage> {
        *self.state.lock().unwrap() = State::default();
        Ok(())
    }

    fn sink_event(&self, event: gst::Event) -> bool {
        match event.view() {
            gst::EventView::FlushStop(_) | gst::EventView::StreamStart(_) => self.restart(),
            gst::EventView::Eos(_) => {
                let last = self.state.lock().unwrap().last_scored;
                if let Some((running_time, index)) = last {
                    self.post_scores(running_time, index, true);
                }
            }
            _ => {}
        }
        self.parent_sink_event(event)
    }
}

impl VideoFilterImpl for Thqa {
    fn set_info(
        &self,
        incaps: &gst::Caps,
        in_info: &gst_video::VideoInfo,
        _outcaps: &gst::Caps,
        _out_info: &gst_video::VideoInfo,
    ) -> Result<(), gst::LoggableError> {
        let layout = FORMATS
            .iter()
            .find(|(f, _)| *f == in_info.format())
            .map(|(_, l)| *l)
            .ok_or_else(|| gst::loggable_error!(CAT, "unsupported caps {incaps}"))?;
        let matrix = yuv_matrix(in_info.width(), in_info.height());
        self.state.lock().unwrap().layout = Some(layout.with_matrix(matrix));
        Ok(())
    }

    fn transform_frame_ip_passthrough(
        &self,
        frame: &gst_video::VideoFrameRef<&gst::BufferRef>,
    ) -> Result<gst::FlowSuccess, gst::FlowError> {
        let (interval, message_interval, display) = {
            let settings = self.settings.lock().unwrap();
            (
                settings.interval as u64,
                settings.message_interval as u64,
                settings.display_height as usize,
            )
        };
        let mut state = self.state.lock().unwrap();
        let state = &mut *state;
        let index = state.frames;
        state.frames += 1;
        if !index.is_multiple_of(interval) {
            return Ok(gst::FlowSuccess::Ok);
        }
        let Some(layout) = state.layout else {
            return Err(gst::FlowError::NotNegotiated);
        };
        let started = Instant::now();
        let view = LumaView {
            data: frame.plane_data(0).map_err(|_| gst::FlowError::Error)?,
            width: frame.width() as usize,
            height: frame.height() as usize,
            stride: frame.plane_stride()[0] as usize,
            layout,
        };
        let estimate = Estimate::of_frame(&view, display);
        let scored = match (state.model.as_mut(), estimate) {
            (Some(model), _) => model
                .score(&view, display)
                .map(|s| s as f64)
                .map_err(|e| e.to_string()),
            (None, Some(e)) => Ok(e.score),
            (None, None) => Err(format!(
                "no v3 estimate for a {}x{} frame",
                view.width, view.height
            )),
        };
        if let Some(e) = estimate {
            let mut estimates = self.estimates.lock().unwrap();
            estimates.compression.add(e.qp);
            let judged = view.width.min(view.height).max(display) as f64;
            estimates.resolution = Some(e.resolution_lines(judged));
        }
        match scored {
            Ok(score) => {
                self.stats.lock().unwrap().record(started.elapsed());
                let scored = {
                    let mut scores = self.scores.lock().unwrap();
                    scores.add(score);
                    scores.frames
                };
                let running_time = self
                    .obj()
                    .segment()
                    .downcast_ref::<gst::ClockTime>()
                    .and_then(|s| s.to_running_time(frame.buffer().pts()));
                state.last_scored = Some((running_time, index));
                if message_interval > 0 && scored.is_multiple_of(message_interval) {
                    self.post_scores(running_time, index, false);
                }
            }
            // A monitor must not stop the stream it watches: the frame passes, the user is told.
            Err(e) if !state.warned => {
                state.warned = true;
                gst::element_imp_warning!(
                    self,
                    gst::StreamError::Failed,
                    ("thqa: a frame could not be scored: {}", e)
                );
            }
            Err(e) => gst::debug!(CAT, imp = self, "{e}"),
        }
        Ok(gst::FlowSuccess::Ok)
    }
}

/// The matrix a converter to YUV uses for a `width x height` frame (GStreamer's default YUV
/// colorimetry for the size, which videoconvert applies): RGB luma is read with it.
fn yuv_matrix(width: u32, height: u32) -> LumaMatrix {
    let matrix = gst_video::VideoInfo::builder(VideoFormat::I420, width, height)
        .build()
        .map(|info| info.colorimetry().matrix());
    match matrix {
        Ok(gst_video::VideoColorMatrix::Bt709) => LumaMatrix::Bt709,
        Ok(gst_video::VideoColorMatrix::Bt2020) => LumaMatrix::Bt2020,
        _ => LumaMatrix::Bt601,
    }
}

impl Thqa {
    /// A new stream or a flush: the running scores start again.
    fn restart(&self) {
        let mut state = self.state.lock().unwrap();
        state.frames = 0;
        state.last_scored = None;
        drop(state);
        {
            let mut estimates = self.estimates.lock().unwrap();
            estimates.compression.reset();
            estimates.resolution = None;
        }
        let mut scores = self.scores.lock().unwrap();
        if scores.frames > 0 {
            scores.reset();
            self.stats.lock().unwrap().resets += 1;
        }
    }

    /// Posts a `thqa` element message after scoring frame `index`; the `last` one, at end of
    /// stream, carries the clip score of the whole stream.
    fn post_scores(&self, running_time: Option<gst::ClockTime>, index: u64, last: bool) {
        let scores = self.scores.lock().unwrap().clone();
        let (Some(score), Some(mean), Some(ema)) = (scores.last, scores.mean(), scores.ema())
        else {
            return;
        };
        let (compression, ema_compression, resolution) = {
            let e = self.estimates.lock().unwrap();
            let or_none = |v: Option<f64>| v.unwrap_or(NO_SCORE);
            (
                or_none(e.compression.last),
                or_none(e.compression.ema()),
                or_none(e.resolution),
            )
        };
        let s = gst::Structure::builder("thqa")
            .field("running-time", running_time)
            .field("frame", index)
            .field("score", score)
            .field("clip-score", mean)
            .field("ema-score", ema)
            .field("compression", compression)
            .field("ema-compression", ema_compression)
            .field("resolution", resolution)
            .field("frames-scored", scores.frames)
            .field("final", last)
            .build();
        let _ = self
            .obj()
            .post_message(gst::message::Element::builder(s).src(&*self.obj()).build());
    }
}
