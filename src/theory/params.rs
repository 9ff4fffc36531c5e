//! Reading named numeric parameters (`KEY=VALUE` maps) with defaults, validation and messages
//! that list the accepted keys.

use std::collections::BTreeMap;

use super::error::TheoryError;

/// One parameter an item accepts: its key, default and what it means.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ParamInfo {
    pub key: String,
    pub default: f64,
    pub description: String,
}

impl ParamInfo {
    pub fn new(key: &str, default: f64, description: &str) -> Self {
        Self {
            key: key.to_string(),
            default,
            description: description.to_string(),
        }
    }
}

/// Looks parameters up in a user map, rejecting keys the owner does not accept.
pub(crate) struct ParamReader<'a> {
    owner: String,
    params: &'a BTreeMap<String, f64>,
    accepted: Vec<&'static str>,
}

impl<'a> ParamReader<'a> {
    /// Fails on the first key of `params` not in `accepted`.
    pub fn new(
        owner: &str,
        params: &'a BTreeMap<String, f64>,
        accepted: &[&'static str],
    ) -> Result<Self, TheoryError> {
        for key in params.keys() {
            if !accepted.contains(&key.as_str()) {
                return Err(TheoryError::UnknownParam {
                    owner: owner.to_string(),
                    key: key.clone(),
                    accepted: if accepted.is_empty() {
                        "none (this one takes no parameters)".to_string()
                    } else {
                        accepted.join(", ")
                    },
                });
            }
        }
        Ok(Self {
            owner: owner.to_string(),
            params,
            accepted: accepted.to_vec(),
        })
    }

    /// The value of `key` (or `default`), checked finite and by `check`, which returns the reason
    /// a value is refused.
    pub fn get(
        &self,
        key: &'static str,
        default: f64,
        check: impl Fn(f64) -> Option<&'static str>,
    ) -> Result<f64, TheoryError> {
        debug_assert!(self.accepted.contains(&key));
        let value = self.params.get(key).copied().unwrap_or(default);
        let reason = if value.is_finite() {
            check(value)
        } else {
            Some("it must be a finite number")
        };
        match reason {
            None => Ok(value),
            Some(reason) => Err(TheoryError::InvalidParam {
                owner: self.owner.clone(),
                key: key.to_string(),
                value,
                reason: reason.to_string(),
            }),
        }
    }
}

/// Accepts any finite value.
pub(crate) fn any(_: f64) -> Option<&'static str> {
    None
}

/// Accepts values > 0.
pub(crate) fn positive(v: f64) -> Option<&'static str> {
    (v <= 0.0).then_some("it must be > 0")
}

/// Accepts values ≥ 0.
pub(crate) fn non_negative(v: f64) -> Option<&'static str> {
    (v < 0.0).then_some("it must be ≥ 0")
}
