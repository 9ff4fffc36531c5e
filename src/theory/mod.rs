//! The paper's mathematics in pure f64: schedules, weightings, parameterisations, Gaussian-mixture
//! data and the identities that tie them together. No I/O, no tensors; compiles for wasm32.

pub mod adaptive;
pub mod area;
pub mod augment;
pub mod error;
pub mod estimator;
pub mod expr;
pub mod gmm;
pub mod identity;
pub mod klfisher;
pub mod losses;
pub mod lowbit;
pub mod numeric;
pub mod param;
pub mod params;
pub mod quadrature;
pub mod schedule;
pub mod weighting;

pub use error::TheoryError;
pub use gmm::Gmm;
pub use param::Target;
pub use schedule::{Schedule, ScheduleKind};
pub use weighting::Weighting;
