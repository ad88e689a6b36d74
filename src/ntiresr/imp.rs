// SPDX-License-Identifier: MIT OR Apache-2.0
//! The `ntiresr` subclass of `GstVideoFilter`.

/**
 * element-ntiresr:
 *
 * Super-resolution and H.265 artifact removal for talking-head video: I420 or NV12 in, the
 * same format out at the size downstream asks for, from the input's size to four times its width
 * and height (four times when downstream does not care), by a small causal recurrent network (an
 * ONNX model run by the plugin's own SIMD kernels, or by tract; a trained model is embedded).
 * The network upscales x4; any other size is its output resampled (Lanczos-3, antialiased) to
 * the size asked for. Below x1.5, and for an input larger than `max-network-pixels` (at a size
 * other than exactly x4), the input is resampled without the network. When the input size changes mid-stream, the output size
 * stays what it was (if the new input can reach it): downstream sees no new caps.
 * The output for frame t uses frames up to t only and is pushed before frame t+1 is accepted;
 * the temporal state is reset on a flush, a DISCONT buffer, a timestamp gap of more than 1.5
 * frames, new caps and stop.
 *
 * ## Example pipeline
 * ```bash
 * gst-launch-1.0 filesrc location=call_270p.mp4 ! qtdemux ! h265parse ! avdec_h265 \
 *   ! ntiresr ! x264enc ! mp4mux ! filesink location=call_1080p.mp4
 * ```
 *
 * ## Properties
 * - `preset` (`fidelity` / `detail`, fidelity): which embedded model runs: `fidelity` stays
 *   closest to the original (PSNR), `detail` gives crisper texture (VMAF, LPIPS) for some PSNR.
 * - `model-location` (string, unset): an ONNX model honouring the contract of
 *   `models/README.md` instead of the embedded ones (then `preset` is not used).
 * - `n-threads` (uint, 0 = every core): threads the network runs on, one band of rows each.
 * - `backend` (`cpu` / `tract` / `cuda`): where the network runs (`cpu`: the own kernels where
 *   they cover the model, tract otherwise).
 * - `precision` (`auto` / `fp32` / `bf16`, auto): the own kernels' arithmetic (`bf16`: bf16
 *   weights and activations, f32 sums, on CPUs with AVX512-BF16; `auto`: bf16 where the CPU has
 *   it, its quality gate against f32 holding on val, fp32 otherwise).
 * - `mirror-ensemble` (bool, false): also run each frame mirrored and average the two.
 * - `max-network-pixels` (uint64, 162000 = 480x270 x 1.25): the largest input (width x height) the
 *   network runs on when the output is not exactly x4 (its time grows with the input's area);
 *   larger inputs are resampled alone. 0: only exactly x4 runs the network.
 * - `stats` (GstStructure, read-only): `frames`, `resets`, `mean-ms`, `max-ms`, `failed`,
 *   `dropped`.
 *
 * Since: plugin-0.1.0
 */
use std::path::Path;
use std::sync::{Arc, LazyLock, Mutex};
use std::time::Instant;

use gst::glib;
use gst::prelude::*;
use gst::subclass::prelude::*;
use gst_base::subclass::prelude::*;
use gst_video::prelude::*;
use gst_video::subclass::prelude::*;

use super::caps::{self, FACTOR};
use super::continuity::Continuity;
use super::engine::network::Network;
use super::engine::planes::{Plane, PlaneMut};
use super::engine::scaler::{Scaler, ScalerOptions};
use super::{Backend, Precision, Preset};
use crate::onnx;
use crate::ready_only;
use crate::stats::Stats;

static CAT: LazyLock<gst::DebugCategory> = LazyLock::new(|| {
    gst::DebugCategory::new(
        "ntiresr",
        gst::DebugColorFlags::empty(),
        Some("x4 talking-head super-resolution"),
    )
});

/// Formats on both pads; the output's is the input's. NV12 (hardware decoders and encoders) is
/// read and written in place, its chroma interleaved, at the cost of I420.
const FORMATS: [gst_video::VideoFormat; 2] =
    [gst_video::VideoFormat::I420, gst_video::VideoFormat::Nv12];

/// Reported processing latency when the framerate is variable or unknown.
const FALLBACK_LATENCY: gst::ClockTime = gst::ClockTime::from_mseconds(40);

const DEFAULT_N_THREADS: u32 = 0;
const DEFAULT_BACKEND: Backend = Backend::Cpu;
const DEFAULT_PRECISION: Precision = Precision::Auto;
const DEFAULT_MIRROR_ENSEMBLE: bool = false;
const DEFAULT_PRESET: Preset = Preset::Fidelity;
/// 480x270 and a quarter more: the network's time grows with its input's area, and on two cores
/// x4 of 480x270 leaves about that much room below 33 ms a frame (640x360, 1.78x, does not fit:
/// `docs/factors.md`).
const DEFAULT_MAX_NETWORK_PIXELS: u64 = 480 * 270 * 5 / 4;

#[derive(Debug, Clone)]
struct Settings {
    preset: Preset,
    model_location: Option<String>,
    n_threads: u32,
    backend: Backend,
    precision: Precision,
    mirror_ensemble: bool,
    max_network_pixels: u64,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            preset: DEFAULT_PRESET,
            model_location: None,
            n_threads: DEFAULT_N_THREADS,
            backend: DEFAULT_BACKEND,
            precision: DEFAULT_PRECISION,
            mirror_ensemble: DEFAULT_MIRROR_ENSEMBLE,
            max_network_pixels: DEFAULT_MAX_NETWORK_PIXELS,
        }
    }
}

/// Consecutive frames whose network step may fail (each falling back to the plain bicubic
/// upscale) before the element gives up with an error: one second of video at 25 fps.
const MAX_FAILED_IN_A_ROW: u32 = 25;

/// What the streaming thread keeps. Its lock is only ever held for moments: never across the
/// network step, planning or a message post (an application's bus sync handler may query or set
/// the element meanwhile).
#[derive(Default)]
struct State {
    network: Option<Arc<Network>>,
    /// Taken out while a frame runs through the network.
    scaler: Option<Scaler>,
    in_info: Option<gst_video::VideoInfo>,
    continuity: Continuity,
    failed_in_a_row: u32,
    /// Whether a warning for a failed step / an invalid buffer was posted since start.
    warned_failed: bool,
    warned_invalid: bool,
}

#[derive(Default)]
pub struct NtireSr {
    settings: Mutex<Settings>,
    state: Mutex<State>,
    /// One frame duration once caps are set: the latency the element adds. Apart from `state`
    /// so that a latency query never waits for anything.
    frame_duration: Mutex<Option<gst::ClockTime>>,
    stats: Mutex<Stats>,
}

#[glib::object_subclass]
impl ObjectSubclass for NtireSr {
    const NAME: &'static str = "GstNtireSr";
    type Type = super::NtireSr;
    type ParentType = gst_video::VideoFilter;
}

impl ObjectImpl for NtireSr {
    fn properties() -> &'static [glib::ParamSpec] {
        static PROPS: LazyLock<Vec<glib::ParamSpec>> = LazyLock::new(|| {
            vec![
                glib::ParamSpecEnum::builder_with_default("preset", DEFAULT_PRESET)
                    .nick("Preset")
                    .blurb(
                        "Which embedded model runs: fidelity (closest to the original) or detail \
                         (crisper texture, some PSNR lost); not used when model-location is set",
                    )
                    .mutable_ready()
                    .build(),
                glib::ParamSpecString::builder("model-location")
                    .nick("Model location")
                    .blurb(
                        "Path of an ONNX model that honours the ntiresr contract \
                         (models/README.md); unset: the embedded model of `preset`",
                    )
                    .mutable_ready()
                    .build(),
                glib::ParamSpecUInt::builder("n-threads")
                    .nick("Threads")
                    .blurb(
                        "Threads the network runs on (0: all cores); on the CPU each runs its own band of rows",
                    )
                    .maximum(256)
                    .default_value(DEFAULT_N_THREADS)
                    .mutable_ready()
                    .build(),
                glib::ParamSpecEnum::builder_with_default("backend", DEFAULT_BACKEND)
                    .nick("Backend")
                    .blurb("Where the network runs")
                    .mutable_ready()
                    .build(),
                glib::ParamSpecEnum::builder_with_default("precision", DEFAULT_PRECISION)
                    .nick("Precision")
                    .blurb(
                        "The own kernels' arithmetic: fp32, or bf16 weights and activations with \
                         fp32 sums on CPUs with AVX512-BF16 (about 1.5x faster; fp32 without it); \
                         auto: bf16 where the CPU has it (its quality gate holds), else fp32",
                    )
                    .mutable_ready()
                    .build(),
                glib::ParamSpecBoolean::builder("mirror-ensemble")
                    .nick("Mirror ensemble")
                    .blurb(
                        "Also run the network on the left-right mirror image of every frame (with \
                         its own temporal state) and average the two: slightly better quality \
                         (about +0.03 dB PSNR-Y) for twice the network time",
                    )
                    .default_value(DEFAULT_MIRROR_ENSEMBLE)
                    .mutable_ready()
                    .build(),
                glib::ParamSpecUInt64::builder("max-network-pixels")
                    .nick("Largest network input")
                    .blurb(
                        "The largest input (width x height) the network runs on when the output \
                         is not exactly x4 (its time grows with the input's area); larger inputs \
                         are resampled without it (0: only exactly x4 runs the network)",
                    )
                    .default_value(DEFAULT_MAX_NETWORK_PIXELS)
                    .mutable_ready()
                    .build(),
                glib::ParamSpecBoxed::builder::<gst::Structure>("stats")
                    .nick("Statistics")
                    .blurb(
                        "frames (processed), resets (of the temporal state), mean-ms and \
                         max-ms (network + composition time per frame), failed (frames \
                         upscaled by plain bicubic because the network step failed), dropped \
                         (input buffers that held no whole frame)",
                    )
                    .read_only()
                    .build(),
            ]
        });
        PROPS.as_ref()
    }

    fn set_property(&self, _id: usize, value: &glib::Value, pspec: &glib::ParamSpec) {
        // Every writable property is read when the element starts (`mutable_ready`): once it
        // runs, a change would silently do nothing, so it is refused.
        if ready_only::refuse_while_running(self.obj().upcast_ref(), *CAT, pspec.name()) {
            return;
        }
        let mut settings = self.settings.lock().unwrap();
        match pspec.name() {
            "preset" => settings.preset = value.get().expect("type checked"),
            "model-location" => settings.model_location = value.get().expect("type checked"),
            "n-threads" => settings.n_threads = value.get().expect("type checked"),
            "backend" => settings.backend = value.get().expect("type checked"),
            "precision" => settings.precision = value.get().expect("type checked"),
            "mirror-ensemble" => settings.mirror_ensemble = value.get().expect("type checked"),
            "max-network-pixels" => {
                settings.max_network_pixels = value.get().expect("type checked")
            }
            _ => unreachable!("unknown property {}", pspec.name()),
        }
    }

    fn property(&self, _id: usize, pspec: &glib::ParamSpec) -> glib::Value {
        let settings = self.settings.lock().unwrap();
        match pspec.name() {
            "preset" => settings.preset.to_value(),
            "model-location" => settings.model_location.to_value(),
            "n-threads" => settings.n_threads.to_value(),
            "backend" => settings.backend.to_value(),
            "precision" => settings.precision.to_value(),
            "mirror-ensemble" => settings.mirror_ensemble.to_value(),
            "max-network-pixels" => settings.max_network_pixels.to_value(),
            "stats" => {
                let stats = self.stats.lock().unwrap();
                let mut s = stats.to_structure("application/x-ntiresr-stats");
                s.set("failed", stats.failed);
                s.set("dropped", stats.dropped);
                s.to_value()
            }
            _ => unreachable!("unknown property {}", pspec.name()),
        }
    }
}

impl GstObjectImpl for NtireSr {}

impl ElementImpl for NtireSr {
    fn metadata() -> Option<&'static gst::subclass::ElementMetadata> {
        static META: LazyLock<gst::subclass::ElementMetadata> = LazyLock::new(|| {
            gst::subclass::ElementMetadata::new(
                "NTIRE talking-head super-resolution (up to x4)",
                "Filter/Effect/Converter/Video/Scaler",
                "Upscales I420 or NV12 video to the size downstream asks for (1x to 4x, x4 by \
                 default) and removes H.265 artifacts with a causal recurrent network (the \
                 plugin's own SIMD kernels, or tract)",
                "ntiresr developers",
            )
        });
        Some(&*META)
    }

    fn pad_templates() -> &'static [gst::PadTemplate] {
        static TEMPLATES: LazyLock<Vec<gst::PadTemplate>> = LazyLock::new(|| {
            // Progressive only: the network has no notion of fields.
            let template_caps = |min: i32, max: i32| {
                gst_video::VideoCapsBuilder::new()
                    .format_list(FORMATS)
                    .width_range(min..=max)
                    .height_range(min..=max)
                    .field("interlace-mode", "progressive")
                    .build()
            };
            vec![
                gst::PadTemplate::new(
                    "sink",
                    gst::PadDirection::Sink,
                    gst::PadPresence::Always,
                    &template_caps(caps::MIN_IN, caps::MAX_IN),
                )
                .unwrap(),
                gst::PadTemplate::new(
                    "src",
                    gst::PadDirection::Src,
                    gst::PadPresence::Always,
                    &template_caps(caps::MIN_IN, caps::MAX_IN * FACTOR),
                )
                .unwrap(),
            ]
        });
        TEMPLATES.as_ref()
    }
}

impl BaseTransformImpl for NtireSr {
    const MODE: gst_base::subclass::BaseTransformMode =
        gst_base::subclass::BaseTransformMode::NeverInPlace;
    const PASSTHROUGH_ON_SAME_CAPS: bool = false;
    const TRANSFORM_IP_ON_PASSTHROUGH: bool = false;

    fn start(&self) -> Result<(), gst::ErrorMessage> {
        let (location, preset) = {
            let settings = self.settings.lock().unwrap();
            (settings.model_location.clone(), settings.preset)
        };
        let network = onnx::load(
            location.as_deref().map(Path::new),
            preset.embedded_model(),
            Network::from_bytes,
        )
        .map_err(|e| e.to_error_message())?;
        gst::info!(
            CAT,
            imp = self,
            "loaded {} ({} state channels)",
            network.name(),
            network.state_channels()
        );
        *self.state.lock().unwrap() = State {
            network: Some(Arc::new(network)),
            ..Default::default()
        };
        *self.stats.lock().unwrap() = Stats::default();
        Ok(())
    }

    fn stop(&self) -> Result<(), gst::ErrorMessage> {
        *self.state.lock().unwrap() = State::default();
        *self.frame_duration.lock().unwrap() = None;
        Ok(())
    }

    fn transform_caps(
        &self,
        direction: gst::PadDirection,
        caps: &gst::Caps,
        filter: Option<&gst::Caps>,
    ) -> Option<gst::Caps> {
        let out = caps::transform(caps, direction == gst::PadDirection::Sink);
        gst::debug!(CAT, imp = self, "{direction:?} {caps} -> {out}");
        Some(match filter {
            Some(f) => f.intersect_with_mode(&out, gst::CapsIntersectMode::First),
            None => out,
        })
    }

    /// The other pad's size nearest to: the size it has now (an input that changes size
    /// mid-stream keeps the output's), else 4x the input (a quarter of the output).
    fn fixate_caps(
        &self,
        direction: gst::PadDirection,
        caps: &gst::Caps,
        othercaps: gst::Caps,
    ) -> gst::Caps {
        gst::trace!(
            CAT,
            imp = self,
            "{direction:?} {caps}: to fixate {othercaps}"
        );
        let mut othercaps = othercaps;
        othercaps.truncate();
        let to_output = direction == gst::PadDirection::Sink;
        let other_pad = if to_output { "src" } else { "sink" };
        let current = self
            .obj()
            .static_pad(other_pad)
            .and_then(|pad| pad.current_caps());
        let size = |caps: &gst::Caps| {
            let s = caps.structure(0)?;
            Some((s.get::<i32>("width").ok()?, s.get::<i32>("height").ok()?))
        };
        if let (Some((w, h)), Some(s)) = (size(caps), othercaps.make_mut().structure_mut(0)) {
            let default = if to_output {
                (w.saturating_mul(FACTOR), h.saturating_mul(FACTOR))
            } else {
                ((w + FACTOR - 1) / FACTOR, (h + FACTOR - 1) / FACTOR)
            };
            let fits = |(cw, ch): (i32, i32)| {
                let ok = |field: &str, v: i32| {
                    s.value(field)
                        .is_ok_and(|allowed| v.to_value().intersect(allowed).is_some())
                };
                ok("width", cw) && ok("height", ch)
            };
            let wanted = current
                .as_ref()
                .and_then(size)
                .filter(|&c| fits(c))
                .unwrap_or(default);
            caps::fixate_nearest(s, "width", wanted.0);
            caps::fixate_nearest(s, "height", wanted.1);
        }
        gst::debug!(
            CAT,
            imp = self,
            "{direction:?} {caps}: fixating {othercaps}"
        );
        self.parent_fixate_caps(direction, caps, othercaps)
    }

    fn query(&self, direction: gst::PadDirection, query: &mut gst::QueryRef) -> bool {
        if let gst::QueryViewMut::Caps(_) = query.view_mut() {
            return self.query_caps_within_template(direction, query);
        }
        if direction == gst::PadDirection::Src
            && let gst::QueryViewMut::Latency(q) = query.view_mut()
        {
            let sinkpad = self.obj().static_pad("sink").unwrap();
            let mut upstream = gst::query::Latency::new();
            if !sinkpad.peer_query(&mut upstream) {
                return false;
            }
            let (live, min, max) = upstream.result();
            let ours = self.own_latency();
            gst::debug!(CAT, imp = self, "adding {ours} latency to upstream {min}");
            q.set(live, min + ours, max.map(|m| m + ours));
            return true;
        }
        BaseTransformImplExt::parent_query(self, direction, query)
    }

    /// Drops (and counts) an input buffer that does not hold a whole frame of the negotiated
    /// caps: GstVideoFilter would warn and push its output buffer unwritten, an old picture with a
    /// new timestamp.
    fn transform(
        &self,
        inbuf: &gst::Buffer,
        outbuf: &mut gst::BufferRef,
    ) -> Result<gst::FlowSuccess, gst::FlowError> {
        let info = self.state.lock().unwrap().in_info.clone();
        if let Some(info) = info
            && let Err(e) = gst_video::VideoFrameRef::from_buffer_ref_readable(inbuf, &info)
        {
            let first = {
                let mut state = self.state.lock().unwrap();
                state.continuity.restart();
                !std::mem::replace(&mut state.warned_invalid, true)
            };
            self.stats.lock().unwrap().dropped += 1;
            gst::warning!(
                CAT,
                imp = self,
                "dropped an invalid buffer of {} bytes ({e}) at {:?}",
                inbuf.size(),
                inbuf.pts()
            );
            if first {
                gst::element_imp_warning!(
                    self,
                    gst::StreamError::Format,
                    (
                        "ntiresr: dropped an input buffer of {} bytes that does not hold a \
                         {}x{} frame of {} bytes (warned once per start of the element; `stats` \
                         counts them in `dropped`)",
                        inbuf.size(),
                        info.width(),
                        info.height(),
                        info.size()
                    )
                );
            }
            return Ok(gst_base::BASE_TRANSFORM_FLOW_DROPPED);
        }
        self.parent_transform(inbuf, outbuf)
    }

    fn sink_event(&self, event: gst::Event) -> bool {
        if matches!(
            event.view(),
            gst::EventView::FlushStop(_) | gst::EventView::StreamStart(_)
        ) {
            let mut state = self.state.lock().unwrap();
            state.continuity.restart();
        }
        self.parent_sink_event(event)
    }
}

impl VideoFilterImpl for NtireSr {
    fn set_info(
        &self,
        incaps: &gst::Caps,
        in_info: &gst_video::VideoInfo,
        outcaps: &gst::Caps,
        out_info: &gst_video::VideoInfo,
    ) -> Result<(), gst::LoggableError> {
        let settings = self.settings.lock().unwrap().clone();
        let network = self
            .state
            .lock()
            .unwrap()
            .network
            .clone()
            .ok_or_else(|| gst::loggable_error!(CAT, "set_info before start"))?;
        let (w, h) = (in_info.width() as usize, in_info.height() as usize);
        let out = (out_info.width() as usize, out_info.height() as usize);
        // Planning takes a while: no lock is held meanwhile.
        let options = ScalerOptions {
            backend: settings.backend,
            precision: settings.precision,
            threads: settings.n_threads as usize,
            mirror_ensemble: settings.mirror_ensemble,
            max_network_pixels: settings.max_network_pixels,
        };
        let scaler = Scaler::new(&network, (w, h), out, options).map_err(|e| {
            let e = e.with_context(&format!("for caps {incaps}"));
            self.post_error_message(e.to_error_message());
            gst::loggable_error!(CAT, "{e}")
        })?;
        let fps = in_info.fps();
        let frame_duration = (fps.numer() > 0)
            .then(|| gst::ClockTime::SECOND.mul_div_floor(fps.denom() as u64, fps.numer() as u64))
            .flatten();
        match scaler.upscaler() {
            Some(upscaler) => {
                let mirror = if upscaler.mirrored() {
                    ", and mirrored"
                } else {
                    ""
                };
                gst::info!(
                    CAT,
                    imp = self,
                    "network run by {}{mirror}",
                    upscaler.kernels()
                );
                match upscaler.whole_frame_because() {
                    Some(why) => gst::info!(CAT, imp = self, "whole frame at once: {why}"),
                    None => gst::info!(CAT, imp = self, "{} bands of rows", upscaler.band_count()),
                }
            }
            None => gst::info!(
                CAT,
                imp = self,
                "{w}x{h} is more than max-network-pixels={}: resampled without the network",
                settings.max_network_pixels
            ),
        }
        gst::info!(
            CAT,
            imp = self,
            "planned {w}x{h} -> {}x{} ({:?}): {incaps} -> {outcaps}",
            out.0,
            out.1,
            scaler.route()
        );
        {
            let mut state = self.state.lock().unwrap();
            state.scaler = Some(scaler);
            state.in_info = Some(in_info.clone());
            state.continuity = Continuity::new(frame_duration.map(|d| d.nseconds()));
        }
        *self.frame_duration.lock().unwrap() = frame_duration;
        let _ = self
            .obj()
            .post_message(gst::message::Latency::builder().src(&*self.obj()).build());
        Ok(())
    }

    fn transform_frame(
        &self,
        inframe: &gst_video::VideoFrameRef<&gst::BufferRef>,
        outframe: &mut gst_video::VideoFrameRef<&mut gst::BufferRef>,
    ) -> Result<gst::FlowSuccess, gst::FlowError> {
        let started = Instant::now();
        let buffer = inframe.buffer();
        let (mut scaler, reset) = {
            let mut state = self.state.lock().unwrap();
            let scaler = state.scaler.take().ok_or(gst::FlowError::NotNegotiated)?;
            let reset = state.continuity.next(
                buffer.pts().map(|t| t.nseconds()),
                buffer.duration().map(|t| t.nseconds()),
                buffer.flags().contains(gst::BufferFlags::DISCONT),
            );
            (scaler, reset)
        };
        if let Some(reason) = reset {
            gst::debug!(CAT, imp = self, "temporal state reset: {reason:?}");
            scaler.reset();
            self.stats.lock().unwrap().resets += 1;
        }
        let planes: [Plane; 3] = std::array::from_fn(|c| component(inframe, c as u32));
        let stepped = scaler.step(planes);
        let mut composed = Ok(());
        for (c, src) in planes.into_iter().enumerate() {
            let c = c as u32;
            let (width, height) = (outframe.comp_width(c), outframe.comp_height(c));
            let (stride, step) = (outframe.comp_stride(c), outframe.comp_pstride(c));
            let Ok(data) = outframe.comp_data_mut(c) else {
                composed = Err(gst::FlowError::Error);
                break;
            };
            let mut dst = PlaneMut {
                data,
                stride: stride as usize,
                step: step as usize,
                width: width as usize,
                height: height as usize,
            };
            scaler.compose(c as usize, src, &mut dst);
        }
        let (failed_in_a_row, first_failure) = {
            let mut state = self.state.lock().unwrap();
            state.scaler = Some(scaler);
            state.failed_in_a_row = if stepped.is_ok() {
                0
            } else {
                state.failed_in_a_row + 1
            };
            let first = stepped.is_err() && !std::mem::replace(&mut state.warned_failed, true);
            (state.failed_in_a_row, first)
        };
        {
            let mut stats = self.stats.lock().unwrap();
            stats.record(started.elapsed());
            stats.failed += u64::from(stepped.is_err());
        }
        composed?;
        // No lock is held from here on: posting runs the application's bus sync handlers.
        if let Err(e) = stepped {
            gst::warning!(CAT, imp = self, "frame {:?}: {e}", buffer.pts());
            if failed_in_a_row >= MAX_FAILED_IN_A_ROW {
                gst::element_imp_error!(
                    self,
                    gst::StreamError::Failed,
                    ("ntiresr: the network failed on {failed_in_a_row} frames in a row; \
                         the last: {e}")
                );
                return Err(gst::FlowError::Error);
            }
            if first_failure {
                gst::element_imp_warning!(
                    self,
                    gst::StreamError::Decode,
                    ("ntiresr: a frame was upscaled by plain bicubic and the temporal state \
                         reset, because {e} (warned once per start of the element; `stats` counts them in \
                         `failed`)")
                );
            }
        }
        Ok(gst::FlowSuccess::Ok)
    }
}

impl NtireSr {
    /// A caps query answered as GstBaseTransform does, then kept within the pad's template:
    /// its default puts the peer's own caps first where they meet ours (for passthrough), and
    /// with sizes that differ per pad those may hold sizes the pad cannot take.
    fn query_caps_within_template(
        &self,
        direction: gst::PadDirection,
        query: &mut gst::QueryRef,
    ) -> bool {
        if !BaseTransformImplExt::parent_query(self, direction, query) {
            return false;
        }
        let pad_name = match direction {
            gst::PadDirection::Sink => "sink",
            _ => "src",
        };
        let template = self.obj().static_pad(pad_name).unwrap().pad_template_caps();
        if let gst::QueryViewMut::Caps(q) = query.view_mut()
            && let Some(caps) = q.result()
        {
            let within = caps.intersect_with_mode(&template, gst::CapsIntersectMode::First);
            q.set_result(&within);
        }
        true
    }

    /// One frame duration: the element finishes frame t before it accepts frame t+1.
    fn own_latency(&self) -> gst::ClockTime {
        self.frame_duration
            .lock()
            .unwrap()
            .unwrap_or(FALLBACK_LATENCY)
    }
}

/// Borrows component `c` (0: Y, 1: U, 2: V) of a mapped I420 or NV12 frame.
fn component<'a>(frame: &'a gst_video::VideoFrameRef<&gst::BufferRef>, c: u32) -> Plane<'a> {
    Plane {
        data: frame
            .comp_data(c)
            .expect("a mapped frame has its components"),
        stride: frame.comp_stride(c) as usize,
        step: frame.comp_pstride(c) as usize,
        width: frame.comp_width(c) as usize,
        height: frame.comp_height(c) as usize,
    }
}
