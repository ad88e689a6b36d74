//! The model runner against PyTorch's own outputs, and its contract checks.

mod common;

use std::path::Path;

use common::{data, read_sample};
use gstntiresr::testing::{Backend, ModelError, Network, Precision, Session};

/// Replays `<model>.sample.bin` (written by `training/export.py`): two recurrent steps from an
/// empty state, compared with what PyTorch gave (max abs error <= 1e-3 in 0..1 units).
fn check_parity(network: &Network, sample: &Path) {
    let (words, floats) = read_sample(sample, 3);
    let (h, w, c) = (words[0], words[1], words[2]);
    assert_eq!(c, network.state_channels());
    let (nf, nr, ns) = (6 * h * w, 96 * h * w, c * h * w);
    assert_eq!(floats.len(), 2 * nf + 2 * (nr + ns));
    let (f0, rest) = floats.split_at(nf);
    let (f1, rest) = rest.split_at(nf);
    let (r0, rest) = rest.split_at(nr);
    let (s1, rest) = rest.split_at(ns);
    let (r1, s2) = rest.split_at(nr);

    let mut session = Session::new(network, (w, h), Backend::Cpu, Precision::Fp32, None).unwrap();
    let max_err = |a: &[f32], b: &[f32]| {
        a.iter()
            .zip(b)
            .map(|(x, y)| (x - y).abs())
            .fold(0.0f32, f32::max)
    };
    for (frame, residual, state) in [(f0, r0, s1), (f1, r1, s2)] {
        session.pack_with(|buf| buf.copy_from_slice(frame));
        session.step().unwrap();
        let er = max_err(session.residual().unwrap(), residual);
        let es = max_err(session.recurrent_state().unwrap(), state);
        assert!(
            er <= 1e-3 && es <= 1e-3,
            "residual err {er}, state err {es}"
        );
    }
}

/// An embedded model against the parity sample `models/<sample>` exported with it.
fn check_embedded(bytes: &[u8], sample: &str) {
    let network = Network::from_bytes("embedded", bytes).unwrap();
    check_parity(
        &network,
        &Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("models")
            .join(sample),
    );
}

#[test]
fn shipped_model_matches_pytorch() {
    check_embedded(gstntiresr::testing::EMBEDDED_MODEL, "ntiresr.sample.bin");
}

#[test]
fn detail_model_matches_pytorch() {
    check_embedded(
        gstntiresr::testing::EMBEDDED_DETAIL_MODEL,
        "ntiresr-detail.sample.bin",
    );
}

#[test]
fn test_model_matches_pytorch() {
    let network = Network::from_file(&data("tiny.onnx")).unwrap();
    check_parity(&network, &data("tiny.sample.bin"));
}

#[test]
fn bad_models_are_named_and_explained() {
    let missing = Network::from_file(&data("no-such-model.onnx")).unwrap_err();
    assert!(
        matches!(
            missing,
            ModelError::Io {
                not_found: true,
                ..
            }
        ),
        "{missing:?}"
    );
    let missing = missing.to_string();
    assert!(
        missing.contains("no-such-model.onnx") && missing.contains("cannot read"),
        "{missing}"
    );

    let corrupt = Network::from_bytes("garbage.onnx", b"this is not a protobuf").unwrap_err();
    assert!(matches!(corrupt, ModelError::Parse(_)), "{corrupt:?}");
    let corrupt = corrupt.to_string();
    assert!(
        corrupt.contains("garbage.onnx") && corrupt.contains("ONNX"),
        "{corrupt}"
    );

    let wrong = Network::from_file(&data("wrong_contract.onnx")).unwrap_err();
    assert!(matches!(wrong, ModelError::Contract(_)), "{wrong:?}");
    let wrong = wrong.to_string();
    assert!(
        wrong.contains("wrong_contract.onnx") && wrong.contains("\"state\""),
        "{wrong}"
    );
}

#[test]
fn wrong_channel_counts_are_contract_errors_that_name_the_file_and_tensor() {
    // Declared: residual [1, 48, h, w]. Undeclared: state_out [1, c, h, w], 8 when run.
    for (file, tensor, count) in [
        ("wrong_residual.onnx", "\"residual\"", "48"),
        ("wrong_state_out.onnx", "\"state_out\"", "8"),
    ] {
        let err = Network::from_file(&data(file)).unwrap_err();
        assert!(matches!(err, ModelError::Contract(_)), "{err:?}");
        let err = err.to_string();
        assert!(
            err.contains(file) && err.contains(tensor) && err.contains(count),
            "{err}"
        );
    }
}

// With the `cuda` feature the backend exists: these check the build without it.
#[cfg(not(feature = "cuda"))]
#[test]
fn cuda_backend_fails_cleanly_without_cuda() {
    let network = Network::from_file(&data("tiny.onnx")).unwrap();
    let err = Session::new(&network, (4, 4), Backend::Cuda, Precision::Fp32, None)
        .unwrap_err()
        .to_string();
    assert!(err.contains("cuda"), "{err}");
}
