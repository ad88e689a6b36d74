// SPDX-License-Identifier: MIT OR Apache-2.0
//! The `ntiresr` subclass of `GstVideoFilter`.

/**
 * element-ntiresr:
 *
 * x4 super-resolution and H.265 artifact removal for talking-head video: I420 in, I420 at four
 * times the width and height out, by a small causal recurrent network (an ONNX model run by
 * tract; a trained model is embedded). The output for frame t uses frames up to t only and is
 * pushed before frame t+1 is accepted; the temporal state is reset on a flush, a DISCONT buffer,
 * a timestamp gap of more than 1.5 frames, new caps and stop.
 *
 * ## Example pipeline
 * ```bash
 * gst-launch-1.0 filesrc location=call_270p.mp4 ! qtdemux ! h265parse ! avdec_h265 \
 *   ! ntiresr ! x264enc ! mp4mux ! filesink location=call_1080p.mp4
 * ```
 *
 * ## Properties
 * - `model-location` (string, unset): an ONNX model honouring the contract of
 *   `models/README.md` instead of the embedded one.
 * - `n-threads` (uint, 0 = every core): threads the network runs on, one band of rows each.
 * - `backend` (`cpu` / `cuda`): where the network runs.
 * - `mirror-ensemble` (bool, false): also run each frame mirrored and average the two.
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
use gst_base::subclass::prelude::*;
use gst_video::prelude::*;
use gst_video::subclass::prelude::*;

use super::caps::{self, FACTOR};
use super::continuity::Continuity;
use super::engine::network::{self, Network};
use super::engine::planes::{Plane, PlaneMut};
use super::engine::upscaler::Upscaler;
use super::{Backend, EMBEDDED_MODEL};
use crate::onnx;
use crate::stats::Stats;

static CAT: LazyLock<gst::DebugCategory> = LazyLock::new(|| {
    gst::DebugCategory::new(
        "ntiresr",
        gst::DebugColorFlags::empty(),
        Some("x4 talking-head super-resolution"),
    )
});

/// Reported processing latency when the framerate is variable or unknown.
const FALLBACK_LATENCY: gst::ClockTime = gst::ClockTime::from_mseconds(40);

const DEFAULT_N_THREADS: u32 = 0;
const DEFAULT_BACKEND: Backend = Backend::Cpu;
const DEFAULT_MIRROR_ENSEMBLE: bool = false;

#[derive(Debug, Clone)]
struct Settings {
    model_location: Option<String>,
    n_threads: u32,
    backend: Backend,
    mirror_ensemble: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            model_location: None,
            n_threads: DEFAULT_N_THREADS,
            backend: DEFAULT_BACKEND,
            mirror_ensemble: DEFAULT_MIRROR_ENSEMBLE,
        }
    }
}

#[derive(Default)]
struct State {
    network: Option<Network>,
    upscaler: Option<Upscaler>,
    continuity: Continuity,
    frame_duration: Option<gst::ClockTime>,
}

#[derive(Default)]
pub struct NtireSr {
    settings: Mutex<Settings>,
    state: Mutex<State>,
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
                glib::ParamSpecString::builder("model-location")
                    .nick("Model location")
                    .blurb(
                        "Path of an ONNX model that honours the ntiresr contract \
                         (models/README.md); unset: the embedded default model",
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
                glib::ParamSpecBoxed::builder::<gst::Structure>("stats")
                    .nick("Statistics")
                    .blurb(
                        "frames (processed), resets (of the temporal state), mean-ms and \
                         max-ms (network + composition time per frame)",
                    )
                    .read_only()
                    .build(),
            ]
        });
        PROPS.as_ref()
    }

    fn set_property(&self, _id: usize, value: &glib::Value, pspec: &glib::ParamSpec) {
        let mut settings = self.settings.lock().unwrap();
        match pspec.name() {
            "model-location" => settings.model_location = value.get().expect("type checked"),
            "n-threads" => settings.n_threads = value.get().expect("type checked"),
            "backend" => settings.backend = value.get().expect("type checked"),
            "mirror-ensemble" => settings.mirror_ensemble = value.get().expect("type checked"),
            _ => unreachable!("unknown property {}", pspec.name()),
        }
    }

    fn property(&self, _id: usize, pspec: &glib::ParamSpec) -> glib::Value {
        let settings = self.settings.lock().unwrap();
        match pspec.name() {
            "model-location" => settings.model_location.to_value(),
            "n-threads" => settings.n_threads.to_value(),
            "backend" => settings.backend.to_value(),
            "mirror-ensemble" => settings.mirror_ensemble.to_value(),
            "stats" => self
                .stats
                .lock()
                .unwrap()
                .to_structure("application/x-ntiresr-stats")
                .to_value(),
            _ => unreachable!("unknown property {}", pspec.name()),
        }
    }
}

impl GstObjectImpl for NtireSr {}

impl ElementImpl for NtireSr {
    fn metadata() -> Option<&'static gst::subclass::ElementMetadata> {
        static META: LazyLock<gst::subclass::ElementMetadata> = LazyLock::new(|| {
            gst::subclass::ElementMetadata::new(
                "NTIRE talking-head x4 super-resolution",
                "Filter/Effect/Converter/Video/Scaler",
                "Upscales I420 video x4 and removes H.265 artifacts with a causal recurrent \
                 network (tract)",
                "ntiresr developers",
            )
        });
        Some(&*META)
    }

    fn pad_templates() -> &'static [gst::PadTemplate] {
        static TEMPLATES: LazyLock<Vec<gst::PadTemplate>> = LazyLock::new(|| {
            let template_caps = |min: i32, max: i32| {
                gst_video::VideoCapsBuilder::new()
                    .format(gst_video::VideoFormat::I420)
                    .width_range(min..=max)
                    .height_range(min..=max)
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
                    &template_caps(caps::MIN_IN * FACTOR, caps::MAX_IN * FACTOR),
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
        let location = self.settings.lock().unwrap().model_location.clone();
        let network = onnx::load(
            location.as_deref().map(Path::new),
            EMBEDDED_MODEL,
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
            network: Some(network),
            ..Default::default()
        };
        *self.stats.lock().unwrap() = Stats::default();
        Ok(())
    }

    fn stop(&self) -> Result<(), gst::ErrorMessage> {
        *self.state.lock().unwrap() = State::default();
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

    fn query(&self, direction: gst::PadDirection, query: &mut gst::QueryRef) -> bool {
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
        let mut state = self.state.lock().unwrap();
        let (w, h) = (in_info.width() as usize, in_info.height() as usize);
        let network = state
            .network
            .as_ref()
            .ok_or_else(|| gst::loggable_error!(CAT, "set_info before start"))?;
        let backend = match settings.backend {
            Backend::Cpu => network::Backend::Cpu,
            Backend::Cuda => network::Backend::Cuda,
        };
        let upscaler = Upscaler::new(
            network,
            w,
            h,
            backend,
            settings.n_threads as usize,
            settings.mirror_ensemble,
        )
        .map_err(|e| {
            gst::element_imp_error!(
                self,
                gst::LibraryError::Settings,
                ["{} (caps {})", e, incaps]
            );
            gst::loggable_error!(CAT, "{e}")
        })?;
        let fps = in_info.fps();
        state.frame_duration = (fps.numer() > 0)
            .then(|| gst::ClockTime::SECOND.mul_div_floor(fps.denom() as u64, fps.numer() as u64))
            .flatten();
        state.continuity = Continuity::new(state.frame_duration.map(|d| d.nseconds()));
        let bands = upscaler.band_count();
        let mirror = if upscaler.mirrored() {
            ", and mirrored"
        } else {
            ""
        };
        state.upscaler = Some(upscaler);
        gst::info!(
            CAT,
            imp = self,
            "planned {w}x{h} in {bands} band(s) of rows{mirror}: {incaps} -> {outcaps}"
        );
        debug_assert_eq!(
            (out_info.width() as usize, out_info.height() as usize),
            (w * FACTOR as usize, h * FACTOR as usize)
        );
        drop(state);
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
        let mut state = self.state.lock().unwrap();
        let state = &mut *state;
        let upscaler = state
            .upscaler
            .as_mut()
            .ok_or(gst::FlowError::NotNegotiated)?;
        let buffer = inframe.buffer();
        let reset = state.continuity.next(
            buffer.pts().map(|t| t.nseconds()),
            buffer.duration().map(|t| t.nseconds()),
            buffer.flags().contains(gst::BufferFlags::DISCONT),
        );
        if let Some(reason) = reset {
            gst::debug!(CAT, imp = self, "temporal state reset: {reason:?}");
            upscaler.reset();
            self.stats.lock().unwrap().resets += 1;
        }
        let planes: [Plane; 3] = std::array::from_fn(|i| plane(inframe, i as u32));
        upscaler.step(planes).map_err(|e| {
            gst::element_imp_error!(self, gst::StreamError::Failed, ["{}", e]);
            gst::FlowError::Error
        })?;
        for (i, src) in planes.into_iter().enumerate() {
            let i = i as u32;
            let (width, height) = (outframe.comp_width(i), outframe.comp_height(i));
            let stride = outframe.plane_stride()[i as usize] as usize;
            let data = outframe
                .plane_data_mut(i)
                .map_err(|_| gst::FlowError::Error)?;
            let mut dst = PlaneMut {
                data,
                stride,
                width: width as usize,
                height: height as usize,
            };
            upscaler.compose(i as usize, src, &mut dst);
        }
        self.stats.lock().unwrap().record(started.elapsed());
        Ok(gst::FlowSuccess::Ok)
    }
}

impl NtireSr {
    /// One frame duration: the element finishes frame t before it accepts frame t+1.
    fn own_latency(&self) -> gst::ClockTime {
        self.state
            .lock()
            .unwrap()
            .frame_duration
            .unwrap_or(FALLBACK_LATENCY)
    }
}

/// Borrows plane `i` of a mapped I420 frame.
fn plane<'a>(frame: &'a gst_video::VideoFrameRef<&gst::BufferRef>, i: u32) -> Plane<'a> {
    Plane {
        data: frame.plane_data(i).expect("mapped I420 plane"),
        stride: frame.plane_stride()[i as usize] as usize,
        width: frame.comp_width(i) as usize,
        height: frame.comp_height(i) as usize,
    }
}
