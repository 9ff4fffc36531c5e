//! `elbo-lab theory ...`: thin wrappers around [`crate::api`] that print its responses as JSON.

use std::collections::BTreeMap;

use clap::{Args, Subcommand};
use serde::Serialize;

use super::CliError;
use crate::api::{self, CurveRange, ImpliedSpec, ScheduleSpec, WeightingSpec};

#[derive(Debug, Subcommand)]
pub enum TheoryCommand {
    /// A weighting w(λ) on a λ grid, with its monotonicity (Table 1, Sec. 5.1, App. I).
    Weighting(WeightingArgs),
    /// A truncated noise schedule λ(t) and p(λ) on a uniform t grid (Table 4, Eq. 127-132).
    Schedule(ScheduleArgs),
    /// Eq. 31's areas for a data point of a Gaussian mixture under a weighting.
    Identity(IdentityArgs),
    /// -ELBO(x) with its prior, reconstruction and diffusion terms, and -log q(x).
    Density(DensityArgs),
    /// f(λ;x) and L(λ;x) of a data point on a λ grid.
    Elbo(ElboArgs),
    /// The weighting implied by a prediction target, schedule and loss multiplier (App. D).
    Implied(ImpliedArgs),
    /// E_x[L(λ;x)] and E_x[dL/dλ] for uniform n-bit data, n = 1..max-bits (App. I).
    LowBit(LowBitArgs),
    /// Every weighting and schedule with formulas and parameters.
    Catalog,
}

#[derive(Debug, Args)]
pub struct RangeArgs {
    /// Lower end of the λ range.
    #[arg(long, default_value_t = -20.0, allow_negative_numbers = true)]
    pub lambda_min: f64,
    /// Upper end of the λ range.
    #[arg(long, default_value_t = 20.0, allow_negative_numbers = true)]
    pub lambda_max: f64,
    /// Number of grid points (at least 2).
    #[arg(long, default_value_t = 401, allow_negative_numbers = true)]
    pub points: usize,
}

impl RangeArgs {
    fn range(&self) -> CurveRange {
        CurveRange {
            lambda_min: self.lambda_min,
            lambda_max: self.lambda_max,
            points: self.points,
        }
    }
}

#[derive(Debug, Args)]
pub struct LambdaBounds {
    /// λ_min: where the prior N(0, I) takes over.
    #[arg(long, default_value_t = -20.0, allow_negative_numbers = true)]
    pub lambda_min: f64,
    /// λ_max: where the Gaussian decoder takes over.
    #[arg(long, default_value_t = 20.0, allow_negative_numbers = true)]
    pub lambda_max: f64,
}

#[derive(Debug, Args)]
pub struct WeightingArgs {
    /// elbo, iddpm, edm, v-cosine, fm-ot, indi, p2, min-snr, sigmoid, edm-monotonic, low-bit, expr.
    #[arg(long)]
    pub name: String,
    /// A parameter as KEY=VALUE (repeatable), e.g. gamma=5.
    #[arg(long = "param", value_name = "KEY=VALUE", allow_hyphen_values = true)]
    pub params: Vec<String>,
    /// The formula of `--name expr` in lambda (or l), e.g. "sigmoid(-lambda + 2)".
    #[arg(long, allow_hyphen_values = true)]
    pub expression: Option<String>,
    #[command(flatten)]
    pub range: RangeArgs,
}

#[derive(Debug, Args)]
pub struct ScheduleArgs {
    /// cosine, shifted-cosine, linear, edm-train, edm-sample, fm-ot.
    #[arg(long)]
    pub name: String,
    /// A parameter as KEY=VALUE (repeatable), e.g. resolution=256.
    #[arg(long = "param", value_name = "KEY=VALUE", allow_hyphen_values = true)]
    pub params: Vec<String>,
    #[command(flatten)]
    pub range: RangeArgs,
}

#[derive(Debug, Args)]
pub struct PointArgs {
    /// JSON file with {"weights": [...], "means": [[...], ...], "stds": [...]} (`-` for stdin).
    #[arg(long, value_name = "FILE")]
    pub gmm_json: String,
    /// The data point, comma-separated, e.g. -1.5,0.3.
    #[arg(long, value_name = "X1,X2,...", allow_hyphen_values = true)]
    pub x: String,
}

#[derive(Debug, Args)]
pub struct IdentityArgs {
    #[command(flatten)]
    pub point: PointArgs,
    /// The weighting (names as for `theory weighting`).
    #[arg(long)]
    pub weighting: String,
    /// A weighting parameter as KEY=VALUE (repeatable).
    #[arg(long = "param", value_name = "KEY=VALUE", allow_hyphen_values = true)]
    pub params: Vec<String>,
    /// The formula of `--weighting expr`.
    #[arg(long, allow_hyphen_values = true)]
    pub expression: Option<String>,
    #[command(flatten)]
    pub bounds: LambdaBounds,
}

#[derive(Debug, Args)]
pub struct DensityArgs {
    #[command(flatten)]
    pub point: PointArgs,
    #[command(flatten)]
    pub bounds: LambdaBounds,
}

#[derive(Debug, Args)]
pub struct ElboArgs {
    #[command(flatten)]
    pub point: PointArgs,
    #[command(flatten)]
    pub range: RangeArgs,
}

#[derive(Debug, Args)]
pub struct ImpliedArgs {
    /// What the loss predicts: eps, x, v, f, score, o.
    #[arg(long)]
    pub target: String,
    /// A target parameter as KEY=VALUE (f takes sigma_data).
    #[arg(
        long = "target-param",
        value_name = "KEY=VALUE",
        allow_hyphen_values = true
    )]
    pub target_params: Vec<String>,
    /// The training schedule (names as for `theory schedule`).
    #[arg(long)]
    pub schedule: String,
    /// A schedule parameter as KEY=VALUE.
    #[arg(
        long = "schedule-param",
        value_name = "KEY=VALUE",
        allow_hyphen_values = true
    )]
    pub schedule_params: Vec<String>,
    /// An extra per-λ loss factor: none, p2, min-snr, elbo.
    #[arg(long, default_value = "none")]
    pub multiplier: String,
    /// A multiplier parameter as KEY=VALUE.
    #[arg(
        long = "multiplier-param",
        value_name = "KEY=VALUE",
        allow_hyphen_values = true
    )]
    pub multiplier_params: Vec<String>,
    #[command(flatten)]
    pub range: RangeArgs,
}

#[derive(Debug, Args)]
pub struct LowBitArgs {
    /// Largest bit depth (curves for 1..=max-bits; at most 10).
    #[arg(long, default_value_t = 8, allow_negative_numbers = true)]
    pub max_bits: u32,
    #[command(flatten)]
    pub range: RangeArgs,
}

fn to_json<T: Serialize>(value: &T) -> Result<String, CliError> {
    serde_json::to_string(value).map_err(|e| CliError {
        message: format!("cannot encode the result as JSON: {e}"),
        code: 1,
    })
}

fn read_gmm(path: &str) -> Result<String, CliError> {
    let read = if path == "-" {
        std::io::read_to_string(std::io::stdin())
    } else {
        std::fs::read_to_string(path)
    };
    read.map_err(|e| CliError::input(format!("cannot read the mixture file `{path}`: {e}")))
}

fn params(items: &[String]) -> Result<BTreeMap<String, f64>, CliError> {
    Ok(api::parse_params(items)?)
}

pub(super) fn execute(cmd: TheoryCommand) -> Result<String, CliError> {
    match cmd {
        TheoryCommand::Weighting(a) => {
            let spec = WeightingSpec {
                name: a.name,
                params: params(&a.params)?,
                expression: a.expression,
            };
            to_json(&api::weighting_curve(&spec, &a.range.range())?)
        }
        TheoryCommand::Schedule(a) => {
            let spec = ScheduleSpec {
                name: a.name,
                params: params(&a.params)?,
            };
            to_json(&api::schedule_curve(&spec, &a.range.range())?)
        }
        TheoryCommand::Identity(a) => {
            let x = api::parse_point(&a.point.x)?;
            let gmm = read_gmm(&a.point.gmm_json)?;
            let spec = WeightingSpec {
                name: a.weighting,
                params: params(&a.params)?,
                expression: a.expression,
            };
            to_json(&api::identity_terms(
                &gmm,
                &x,
                &spec,
                a.bounds.lambda_min,
                a.bounds.lambda_max,
            )?)
        }
        TheoryCommand::Density(a) => {
            let x = api::parse_point(&a.point.x)?;
            let gmm = read_gmm(&a.point.gmm_json)?;
            to_json(&api::density_terms(
                &gmm,
                &x,
                a.bounds.lambda_min,
                a.bounds.lambda_max,
            )?)
        }
        TheoryCommand::Elbo(a) => {
            let x = api::parse_point(&a.point.x)?;
            let gmm = read_gmm(&a.point.gmm_json)?;
            to_json(&api::elbo_curve(&gmm, &x, &a.range.range())?)
        }
        TheoryCommand::Implied(a) => {
            let spec = ImpliedSpec {
                target: a.target,
                target_params: params(&a.target_params)?,
                schedule: ScheduleSpec {
                    name: a.schedule,
                    params: params(&a.schedule_params)?,
                },
                multiplier: Some(a.multiplier),
                multiplier_params: params(&a.multiplier_params)?,
            };
            to_json(&api::implied_weighting_curve(&spec, &a.range.range())?)
        }
        TheoryCommand::LowBit(a) => to_json(&api::low_bit_curves(a.max_bits, &a.range.range())?),
        TheoryCommand::Catalog => to_json(&serde_json::json!({
            "weightings": api::weighting_catalog(),
            "schedules": api::schedule_catalog(),
        })),
    }
}
