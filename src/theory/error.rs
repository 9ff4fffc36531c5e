//! The one error type of the theory core: every message says what is wrong and what is accepted.

use thiserror::Error;

/// Everything that can go wrong when the theory core is handed a configuration or data.
///
/// Messages are single lines so that the CLI can print them as they are and the page can show them
/// under the control that caused them.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum TheoryError {
    /// A schedule, weighting, target or other named item that does not exist.
    #[error("unknown {what} `{name}`; accepted: {accepted}")]
    UnknownName {
        what: &'static str,
        name: String,
        accepted: String,
    },
    /// A parameter key the named item does not take.
    #[error("unknown parameter `{key}` for {owner}; accepted: {accepted}")]
    UnknownParam {
        owner: String,
        key: String,
        accepted: String,
    },
    /// A parameter whose value is outside its domain.
    #[error("invalid value {value} for parameter `{key}` of {owner}: {reason}")]
    InvalidParam {
        owner: String,
        key: String,
        value: f64,
        reason: String,
    },
    /// A λ range, grid size or t value that cannot be used.
    #[error("invalid range: {0}")]
    InvalidRange(String),
    /// A Gaussian mixture that fails validation (JSON shape, weights, dimensions, stds).
    #[error("invalid Gaussian mixture: {0}")]
    InvalidGmm(String),
    /// A point whose dimension differs from the mixture's.
    #[error("dimension mismatch: {0}")]
    DimensionMismatch(String),
    /// A user weighting expression that does not parse or does not give a valid weighting.
    #[error("invalid expression: {0}")]
    Expression(String),
    /// Any other input that is malformed (a `KEY=VALUE` pair, a list of numbers, ...).
    #[error("invalid input: {0}")]
    InvalidInput(String),
    /// A computation that left f64 (overflow, underflow of all mass) for the given input.
    #[error("numerical failure: {0}")]
    Numerical(String),
}

/// Checks that a user-supplied number is finite, naming it in the error.
pub(crate) fn require_finite(what: &str, value: f64) -> Result<f64, TheoryError> {
    if value.is_finite() {
        Ok(value)
    } else {
        Err(TheoryError::InvalidInput(format!(
            "{what} must be a finite number, got {value}"
        )))
    }
}

/// Checks a λ interval: both ends finite and `lambda_min < lambda_max`.
pub(crate) fn require_lambda_range(lambda_min: f64, lambda_max: f64) -> Result<(), TheoryError> {
    if !lambda_min.is_finite() || !lambda_max.is_finite() {
        return Err(TheoryError::InvalidRange(format!(
            "λ_min and λ_max must be finite numbers, got [{lambda_min}, {lambda_max}]"
        )));
    }
    if lambda_min >= lambda_max {
        return Err(TheoryError::InvalidRange(format!(
            "λ_min must be smaller than λ_max, got λ_min = {lambda_min}, λ_max = {lambda_max}"
        )));
    }
    Ok(())
}
