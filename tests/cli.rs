//! The `elbo-lab` binary end to end: JSON on stdout for every theory subcommand, and one-line
//! errors with exit code 2 for bad input.
#![cfg(not(target_arch = "wasm32"))]

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

use serde_json::Value;

const GMM_1D: &str = r#"{"weights": [0.3, 0.7], "means": [[-1.5], [2.0]], "stds": [0.4, 0.6]}"#;
const GMM_2D: &str = r#"{"weights": [0.5, 0.3, 0.2], "means": [[-1.5, 0.0], [1.5, 1.0], [0.0, -2.0]], "stds": [0.5, 0.4, 0.3]}"#;

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_elbo-lab"))
        .args(args)
        .output()
        .unwrap()
}

fn json(args: &[&str]) -> Value {
    let out = run(args);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{args:?} failed: {stderr}");
    assert!(stderr.is_empty(), "{args:?} wrote to stderr: {stderr}");
    serde_json::from_slice(&out.stdout).unwrap()
}

fn file(name: &str, content: &str) -> PathBuf {
    let path = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("cli-{}-{name}", std::process::id()));
    std::fs::write(&path, content).unwrap();
    path
}

/// Every field is a finite number.
fn assert_finite(v: &Value, fields: &[&str]) {
    for field in fields {
        assert!(v[field].as_f64().unwrap().is_finite(), "{field}: {v}");
    }
}

fn numbers(v: &Value) -> Vec<f64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect()
}

/// Runs a bad command: non-zero exit (2), nothing on stdout, exactly one line on stderr that
/// starts with `error:` and contains every needle, and no panic.
fn refused(args: &[&str], needles: &[&str]) {
    let out = run(args);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
    assert!(out.stdout.is_empty(), "{args:?}");
    assert_eq!(stderr.lines().count(), 1, "{args:?}: {stderr}");
    assert!(stderr.starts_with("error: "), "{stderr}");
    assert!(
        !stderr.contains("panicked") && !stderr.contains("RUST_BACKTRACE"),
        "{stderr}"
    );
    for needle in needles {
        assert!(
            stderr.contains(needle),
            "{args:?}: `{needle}` not in {stderr}"
        );
    }
}

#[test]
fn weighting_prints_the_curve_and_table_1_flags() {
    let v = json(&["theory", "weighting", "--name", "sigmoid"]);
    assert_eq!(v["name"], "sigmoid");
    let lambda = numbers(&v["lambda"]);
    assert_eq!(lambda.len(), 401);
    assert_eq!((lambda[0], lambda[400]), (-20.0, 20.0));
    assert_eq!(numbers(&v["w"]).len(), 401);
    let monotone = [
        "elbo",
        "v-cosine",
        "fm-ot",
        "indi",
        "sigmoid",
        "edm-monotonic",
        "low-bit",
    ];
    for name in monotone
        .iter()
        .chain(["iddpm", "edm", "p2", "min-snr"].iter())
    {
        let v = json(&["theory", "weighting", "--name", name, "--points", "11"]);
        assert_eq!(v["monotonic"], monotone.contains(name), "{name}");
    }
    // Parameters, negative numbers in both spellings, and expressions starting with a minus.
    let v = json(&[
        "theory",
        "weighting",
        "--name",
        "min-snr",
        "--param",
        "gamma=2",
        "--lambda-min",
        "-5",
        "--lambda-max=-1",
        "--points",
        "5",
    ]);
    assert_eq!(numbers(&v["lambda"]), vec![-5.0, -4.0, -3.0, -2.0, -1.0]);
    let v = json(&[
        "theory",
        "weighting",
        "--name",
        "expr",
        "--expression",
        "-lambda/100 + 1",
        "--points",
        "3",
    ]);
    assert_eq!(numbers(&v["w"]), vec![1.2, 1.0, 0.8]);
    assert_eq!(v["monotonic"], true);
}

#[test]
fn schedule_prints_t_lambda_and_p() {
    let v = json(&[
        "theory",
        "schedule",
        "--name",
        "shifted-cosine",
        "--param",
        "resolution=256",
        "--lambda-min",
        "-15",
        "--lambda-max",
        "15",
        "--points",
        "21",
    ]);
    let (t, lambda, p) = (
        numbers(&v["t"]),
        numbers(&v["lambda"]),
        numbers(&v["p_lambda"]),
    );
    assert_eq!((t.len(), t[0], t[20]), (21, 0.0, 1.0));
    assert_eq!((lambda[0], lambda[20]), (15.0, -15.0));
    assert!(p.iter().all(|x| *x > 0.0));
    let v = json(&["theory", "schedule", "--name", "edm-train"]);
    assert_eq!(numbers(&v["t"]).len(), 401);
}

#[test]
fn identity_terms_satisfy_eq_31() {
    for (gmm, x) in [(GMM_1D, "-1.5"), (GMM_1D, "0.25"), (GMM_2D, "-1.5,0.3")] {
        let path = file("identity.json", gmm);
        for name in ["elbo", "edm", "edm-monotonic", "min-snr", "low-bit"] {
            let v = json(&[
                "theory",
                "identity",
                "--gmm-json",
                path.to_str().unwrap(),
                "--x",
                x,
                "--weighting",
                name,
            ]);
            let get = |k: &str| v[k].as_f64().unwrap();
            let lhs = get("prior_term") + get("weighted_loss");
            let rhs = get("rect_term") + get("mixture_term");
            assert!(
                (lhs - rhs).abs() <= 1e-6 * lhs.abs(),
                "{name} at {x}: {lhs} vs {rhs}"
            );
        }
        let v = json(&[
            "theory",
            "identity",
            "--gmm-json",
            path.to_str().unwrap(),
            "--x",
            x,
            "--weighting",
            "p2",
            "--param",
            "gamma=0.5",
            "--lambda-min",
            "-12",
            "--lambda-max",
            "16",
        ]);
        assert!(v["weighted_loss"].as_f64().unwrap() > 0.0);
    }
}

#[test]
fn density_terms_match_the_true_log_density() {
    for (gmm, x) in [
        (GMM_1D, "0.25"),
        (GMM_1D, "-4"),
        (GMM_2D, "0,0.5"),
        (GMM_2D, "3,-3"),
    ] {
        let path = file("density.json", gmm);
        let v = json(&[
            "theory",
            "density",
            "--gmm-json",
            path.to_str().unwrap(),
            "--x",
            x,
        ]);
        let get = |k: &str| v[k].as_f64().unwrap();
        assert!(
            (get("neg_elbo") - get("neg_log_q")).abs() < 1e-5,
            "{x}: {v}"
        );
        assert!((get("prior") + get("recon") + get("diffusion") - get("neg_elbo")).abs() < 1e-12);
    }
    // The mixture may come on stdin.
    let mut child = Command::new(env!("CARGO_BIN_EXE_elbo-lab"))
        .args(["theory", "density", "--gmm-json", "-", "--x=-1.5"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(GMM_1D.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!((v["neg_elbo"].as_f64().unwrap() - v["neg_log_q"].as_f64().unwrap()).abs() < 1e-5);
}

#[test]
fn other_theory_subcommands_print_json() {
    let path = file("elbo.json", GMM_1D);
    let v = json(&[
        "theory",
        "elbo",
        "--gmm-json",
        path.to_str().unwrap(),
        "--x",
        "1",
        "--points",
        "9",
    ]);
    assert_eq!(numbers(&v["f"]).len(), 9);
    assert_eq!(numbers(&v["l"]).len(), 9);
    let v = json(&[
        "theory",
        "implied",
        "--target",
        "x",
        "--schedule",
        "cosine",
        "--multiplier",
        "min-snr",
        "--multiplier-param",
        "gamma=5",
        "--points",
        "11",
    ]);
    assert_eq!(v["monotonic"], false);
    let v = json(&["theory", "low-bit", "--max-bits", "2", "--points", "5"]);
    assert_eq!(v["l"].as_array().unwrap().len(), 2);
    let v = json(&["theory", "catalog"]);
    assert_eq!(v["weightings"].as_array().unwrap().len(), 12);
    assert_eq!(v["schedules"].as_array().unwrap().len(), 6);
    let out = run(&["theory", "weighting", "--help"]);
    assert!(out.status.success() && String::from_utf8_lossy(&out.stdout).contains("--lambda-min"));
}

#[test]
fn bad_input_is_one_line_with_code_2() {
    let gmm = file("bad.json", GMM_1D);
    let gmm = gmm.to_str().unwrap();
    let malformed = file("malformed.json", r#"{"weights": [1], "means": [[0]]"#);
    let malformed = malformed.to_str().unwrap();
    refused(
        &["theory", "weighting", "--name", "snr"],
        &["unknown weighting `snr`", "elbo", "min-snr", "low-bit"],
    );
    refused(
        &["theory", "schedule", "--name", "quadratic"],
        &["unknown schedule", "cosine", "edm-sample", "fm-ot"],
    );
    refused(
        &["theory", "weighting", "--name", "min-snr", "--param", "k=1"],
        &["unknown parameter `k`", "accepted: gamma"],
    );
    refused(
        &[
            "theory",
            "weighting",
            "--name",
            "min-snr",
            "--param",
            "gamma",
        ],
        &["KEY=VALUE"],
    );
    refused(
        &[
            "theory",
            "weighting",
            "--name",
            "min-snr",
            "--param",
            "gamma=abc",
        ],
        &["not a number"],
    );
    refused(
        &[
            "theory",
            "weighting",
            "--name",
            "min-snr",
            "--param",
            "gamma=-1",
        ],
        &["gamma", "> 0"],
    );
    refused(
        &[
            "theory",
            "weighting",
            "--name",
            "expr",
            "--expression",
            "1 + * l",
        ],
        &["column 5", "expected"],
    );
    refused(
        &[
            "theory",
            "weighting",
            "--name",
            "elbo",
            "--lambda-min",
            "3",
            "--lambda-max",
            "3",
        ],
        &["λ_min must be smaller than λ_max"],
    );
    refused(
        &["theory", "weighting", "--name", "elbo", "--points", "1"],
        &["between 2 and"],
    );
    refused(
        &["theory", "weighting", "--name", "elbo", "--points", "-4"],
        &["--points"],
    );
    refused(
        &[
            "theory",
            "schedule",
            "--name",
            "cosine",
            "--lambda-min",
            "5",
            "--lambda-max",
            "-5",
        ],
        &["smaller"],
    );
    refused(
        &["theory", "density", "--gmm-json", malformed, "--x", "1"],
        &["invalid Gaussian mixture", "expected JSON like"],
    );
    refused(
        &[
            "theory",
            "density",
            "--gmm-json",
            "/nonexistent/elbo-lab.json",
            "--x",
            "1",
        ],
        &["cannot read the mixture file", "/nonexistent/elbo-lab.json"],
    );
    refused(
        &["theory", "density", "--gmm-json", gmm, "--x", "1,2"],
        &["2 coordinate(s)", "1-dimensional"],
    );
    refused(
        &["theory", "density", "--gmm-json", gmm, "--x", "1,a"],
        &["not a number"],
    );
    refused(
        &[
            "theory",
            "identity",
            "--gmm-json",
            gmm,
            "--x",
            "1",
            "--weighting",
            "nope",
        ],
        &["unknown weighting", "sigmoid"],
    );
    refused(
        &["theory", "bogus"],
        &["bogus", "accepted subcommands", "weighting", "density"],
    );
    refused(&["theory"], &["subcommand is required", "weighting"]);
    refused(&["bogus"], &["accepted subcommands: theory"]);
    refused(&["theory", "weighting"], &["--name"]);
    refused(
        &["theory", "weighting", "--name", "elbo", "--frobnicate"],
        &["--frobnicate"],
    );
}

/// train → sample → eval on one small run: the summary's fields, a CSV in data space, the
/// evaluation's ELBO terms and exact ODE likelihood, and a refused corrupt checkpoint.
#[test]
fn train_sample_and_eval_round_trip_through_files() {
    let dir =
        PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("cli-run-{}", std::process::id()));
    let dir_s = dir.to_str().unwrap();
    let summary = json(&[
        "train",
        "--dataset",
        "8-gaussians",
        "--steps",
        "300",
        "--batch",
        "64",
        "--width",
        "32",
        "--depth",
        "2",
        "--lr",
        "0.005",
        "--seed",
        "3",
        "--out",
        dir_s,
    ]);
    assert_finite(
        &summary,
        &[
            "loss",
            "bpd",
            "bpd_prior",
            "bpd_recon",
            "bpd_diffusion",
            "energy_distance",
            "steps_per_s",
        ],
    );
    assert_eq!(summary["steps"], 300);
    assert!(summary["backend"].as_str().unwrap().len() > 2);
    let written: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("summary.json")).unwrap()).unwrap();
    assert_eq!(written, summary);
    let checkpoint = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "elbolab"))
        .expect("a checkpoint file");
    let ckpt = checkpoint.to_str().unwrap();

    let csv = dir.join("samples.csv");
    let report = json(&[
        "sample",
        "--checkpoint",
        ckpt,
        "--sampler",
        "ode",
        "--steps",
        "16",
        "--n",
        "50",
        "--seed",
        "1",
        "--out",
        csv.to_str().unwrap(),
    ]);
    assert_eq!(report["samples"], 50);
    let text = std::fs::read_to_string(&csv).unwrap();
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("x,y"));
    let points: Vec<Vec<f64>> = lines
        .map(|l| l.split(',').map(|v| v.parse().unwrap()).collect())
        .collect();
    assert_eq!(points.len(), 50);
    // Data space: 8-gaussians sits on a circle of radius 2√2, far outside the standardised scale.
    let radius = points.iter().map(|p| p[0].hypot(p[1])).sum::<f64>() / 50.0;
    assert!(radius > 1.5 && radius < 4.5, "mean radius {radius}");

    let eval = json(&[
        "eval",
        "--checkpoint",
        ckpt,
        "--n",
        "64",
        "--ode-steps",
        "16",
    ]);
    assert_eq!(eval["points"], 64);
    assert_eq!(eval["step"], 300);
    let (bpd, nll) = (
        eval["bpd"].as_f64().unwrap(),
        eval["nll_bpd"].as_f64().unwrap(),
    );
    // Both bound-or-estimate the same data's bits/dim; a Gaussian fit of 8-gaussians is ≈ 3.1.
    assert!(bpd > 1.5 && bpd < 4.0 && nll > 1.5 && nll < 4.5, "{eval}");
    let terms = ["bpd_prior", "bpd_recon", "bpd_diffusion", "bpd_jacobian"]
        .iter()
        .map(|k| eval[k].as_f64().unwrap())
        .sum::<f64>();
    assert!((terms - bpd).abs() < 1e-9, "{eval}");

    let corrupt = file("corrupt.elbolab", "ELBOLAB1 but not really");
    refused(
        &["eval", "--checkpoint", corrupt.to_str().unwrap()],
        &["checkpoint"],
    );
}

#[test]
fn bench_times_the_vdm_colab_network_and_names_the_machine() {
    let report = json(&[
        "bench",
        "--preset",
        "vdm-colab",
        "--steps",
        "2",
        "--backend",
        "cpu",
    ]);
    assert_eq!(report["preset"], "vdm-colab");
    assert_eq!(
        (
            report["model"]["width"].as_u64(),
            report["model"]["depth"].as_u64()
        ),
        (Some(512), Some(2))
    );
    assert!(report["params"].as_u64().unwrap() > 250_000, "{report}");
    assert_eq!(report["batch"].as_u64(), Some(1024));
    assert_eq!(report["backend"], "burn NdArray (CPU)");
    let rate = report["steps_per_s"].as_f64().unwrap();
    assert!(rate > 0.0 && rate.is_finite(), "{report}");
    let projected = report["projected_20k_s"].as_f64().unwrap();
    assert!(
        (projected * rate - 20_000.0).abs() < 1e-6 * 20_000.0,
        "{report}"
    );
    assert!(
        report["machine"].as_str().unwrap().contains("cores"),
        "{report}"
    );
    // The host's share of a step is part of it (on the CPU backend, all of it).
    let host_ms = report["host_ms_per_step"].as_f64().unwrap();
    assert!(
        host_ms > 0.0 && host_ms <= 1e3 / rate * (1.0 + 1e-9),
        "{report}"
    );
    let prepare_ms = report["prepare_ms_per_step"].as_f64().unwrap();
    assert!(prepare_ms > 0.0 && prepare_ms.is_finite(), "{report}");
    // The same timing on the fused WGSL step, which names the adapter its kernels ran on.
    let fused = json(&[
        "bench",
        "--preset",
        "vdm-colab",
        "--steps",
        "1",
        "--backend",
        "fused",
    ]);
    assert!(
        fused["backend"]
            .as_str()
            .unwrap()
            .starts_with("fused WGSL on "),
        "{fused}"
    );
    assert!(fused["steps_per_s"].as_f64().unwrap() > 0.0, "{fused}");
    refused(&["bench", "--steps", "0"], &["--steps"]);
    refused(&["bench", "--preset", "nope", "--steps", "1"], &["preset"]);
}

/// `--backend fused` runs the optimisation steps on the fused WGSL kernels (lavapipe here) and
/// learns what burn learns from the same seed: same batches, same Adam, same EMA, so the two
/// summaries differ only by f32 rounding carried through the run. Its checkpoint is an ordinary
/// one, read back by `eval` on the CPU.
#[test]
fn train_on_the_fused_backend_matches_burn_and_its_checkpoint_evaluates() {
    let run = |backend: &str| {
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("cli-{backend}-{}", std::process::id()));
        let summary = json(&[
            "train",
            "--dataset",
            "8-gaussians",
            "--steps",
            "200",
            "--batch",
            "64",
            "--width",
            "32",
            "--depth",
            "2",
            "--lr",
            "0.005",
            "--seed",
            "5",
            "--backend",
            backend,
            "--out",
            dir.to_str().unwrap(),
        ]);
        (summary, dir)
    };
    let (fused, dir) = run("fused");
    let (burn, _) = run("cpu");
    assert!(
        fused["backend"]
            .as_str()
            .unwrap()
            .starts_with("fused WGSL on "),
        "{fused}"
    );
    let close = |key: &str, tol: f64| {
        let (a, b) = (fused[key].as_f64().unwrap(), burn[key].as_f64().unwrap());
        assert!(
            (a - b).abs() <= tol * b.abs().max(1.0),
            "{key}: fused {a} vs burn {b}"
        );
    };
    close("loss", 0.03);
    close("bpd", 0.02);
    assert_eq!(fused["steps"], 200);
    let ckpt = dir.join("checkpoint.elbolab");
    let eval = json(&[
        "eval",
        "--checkpoint",
        ckpt.to_str().unwrap(),
        "--n",
        "32",
        "--ode-steps",
        "8",
    ]);
    assert_eq!(eval["step"], 200);
    assert!(eval["bpd"].as_f64().unwrap().is_finite(), "{eval}");
}

/// MNIST through the CLI: a tiny U-Net trains on a few digits (summary and checkpoint), its
/// samples are written as IDX that MNIST's own reader takes back and as a PNG grid, `eval`
/// reports the three terms, and MNIST's mistakes are one line each.
#[test]
fn mnist_trains_samples_and_evaluates_through_files() {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("cli-mnist-{}", std::process::id()));
    let dir_s = dir.to_str().unwrap();
    let summary = json(&[
        "train",
        "--dataset",
        "mnist",
        "--preset",
        "tiny",
        "--base-width",
        "8",
        "--steps",
        "6",
        "--batch",
        "4",
        "--n-train",
        "64",
        "--n-test",
        "8",
        "--eval-n",
        "3",
        "--out",
        dir_s,
    ]);
    assert_finite(
        &summary,
        &[
            "loss",
            "bpd",
            "bpd_prior",
            "bpd_recon",
            "bpd_diffusion",
            "steps_per_s",
        ],
    );
    assert_eq!(summary["steps"], 6);
    assert_eq!(summary["evaluated"], 3);
    assert_eq!(summary["discrete"], true);
    assert!(summary["params"].as_u64().unwrap() > 10_000);
    assert_eq!(summary["config"]["model"]["unet"]["base_width"], 8);
    let checkpoints: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("checkpoint"))
        })
        .collect();
    assert_eq!(checkpoints.len(), 1, "{checkpoints:?}");
    let ckpt = checkpoints[0].to_str().unwrap();

    let idx = dir.join("samples.idx");
    let report = json(&[
        "sample",
        "--checkpoint",
        ckpt,
        "--n",
        "3",
        "--steps",
        "4",
        "--out",
        idx.to_str().unwrap(),
    ]);
    assert_eq!(report["samples"], 3);
    let images = elbo_lab::data::decode_images(&std::fs::read(&idx).unwrap()).unwrap();
    assert_eq!((images.n, images.rows, images.cols), (3, 28, 28));
    let png = dir.join("samples.png");
    json(&[
        "sample",
        "--checkpoint",
        ckpt,
        "--n",
        "3",
        "--steps",
        "4",
        "--out",
        png.to_str().unwrap(),
    ]);
    assert!(std::fs::read(&png)
        .unwrap()
        .starts_with(b"\x89PNG\r\n\x1a\n"));

    let evaluation = json(&[
        "eval",
        "--checkpoint",
        ckpt,
        "--n",
        "2",
        "--samples",
        "4",
        "--sample-steps",
        "3",
    ]);
    assert_eq!(evaluation["points"], 2);
    // Six steps have not taught it digits; real ones score as real digits do.
    let quality = &evaluation["quality"];
    assert_eq!(quality["samples"], 4);
    assert_eq!(quality["real"]["count"], 4);
    assert!(
        quality["real"]["confident_share"].as_f64().unwrap() >= 0.75,
        "{quality}"
    );
    assert!(
        quality["model"]["frechet"].as_f64().unwrap()
            > quality["real"]["frechet"].as_f64().unwrap(),
        "{quality}"
    );
    assert_eq!(evaluation["step"], 6);
    let terms = ["bpd_prior", "bpd_recon", "bpd_diffusion"]
        .map(|t| evaluation[t].as_f64().unwrap())
        .iter()
        .sum::<f64>();
    assert!((terms - evaluation["bpd"].as_f64().unwrap()).abs() < 1e-9);

    let csv = dir.join("samples.csv");
    refused(
        &[
            "sample",
            "--checkpoint",
            ckpt,
            "--out",
            csv.to_str().unwrap(),
        ],
        &[".idx", ".png"],
    );
    refused(
        &[
            "train",
            "--dataset",
            "mnist",
            "--preset",
            "vdm-colab",
            "--out",
            dir_s,
        ],
        &["tiny", "small"],
    );
    refused(
        &[
            "train",
            "--dataset",
            "moons",
            "--preset",
            "tiny",
            "--out",
            dir_s,
        ],
        &["--dataset mnist"],
    );
    refused(
        &[
            "train",
            "--dataset",
            "mnist",
            "--width",
            "64",
            "--out",
            dir_s,
        ],
        &["--width", "MLP"],
    );
    refused(
        &[
            "train",
            "--dataset",
            "mnist",
            "--data-dir",
            "/nonexistent/mnist",
            "--out",
            dir_s,
        ],
        &["make data", "--data-dir"],
    );
}

// `elbo-lab classifier`: `eval` prints the accuracy and the real digits' quality score as JSON;
// missing data, bad weights and bad arguments are one-line errors, exit code 2.

#[test]
fn eval_states_accuracy_and_the_real_digits_score() {
    let out = run(&["classifier", "eval", "--n", "500"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.is_empty(), "{stderr}");
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["weights"], "shipped");
    assert_eq!(v["test_count"], 10_000);
    let accuracy = v["accuracy"].as_f64().unwrap();
    assert!(accuracy > 0.95, "{v}");
    let real = &v["real"];
    assert_eq!(real["count"], 500);
    let confident = real["confident_share"].as_f64().unwrap();
    let entropy = real["label_entropy_bits"].as_f64().unwrap();
    let frechet = real["frechet"].as_f64().unwrap();
    assert!(confident > 0.9 && confident <= 1.0, "{v}");
    assert!(entropy > 3.0 && entropy <= 10f64.log2() + 1e-12, "{v}");
    assert!(frechet.is_finite() && frechet >= 0.0, "{v}");
}

#[test]
fn missing_data_says_how_to_fetch_it() {
    refused(
        &["classifier", "eval", "--data-dir", "/nonexistent/mnist"],
        &["make data", "/nonexistent/mnist"],
    );
    refused(
        &[
            "classifier",
            "train",
            "--data-dir",
            "/nonexistent/mnist",
            "--out",
            "/nonexistent/out.bin",
        ],
        &["make data"],
    );
}

#[test]
fn bad_weights_and_arguments_are_refused() {
    let path = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("cli-classifier-{}-weights.bin", std::process::id()));
    std::fs::write(&path, b"not weights at all").unwrap();
    let weights = path.to_str().unwrap();
    refused(
        &["classifier", "eval", "--weights", weights],
        &["not classifier weights", weights],
    );
    refused(
        &["classifier", "eval", "--weights", "/nonexistent/w.bin"],
        &["cannot read the classifier weights"],
    );
    refused(&["classifier", "eval", "--n", "1"], &["--n"]);
    refused(
        &["classifier", "train", "--epochs", "0", "--out", weights],
        &["epochs"],
    );
    refused(&["classifier", "train"], &["--out"]);
    refused(&["classifier"], &["train", "eval"]);
    let _ = std::fs::remove_file(path);
}
