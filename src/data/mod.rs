//! Data for the trainer: seeded 2D toy sets, user points (CSV), MNIST IDX, standardisation; no I/O.

pub mod dataset;
pub mod error;
pub mod gzip;
pub mod image_out;
pub mod mnist;
pub mod points_csv;
pub mod spectrum;
pub mod standardize;
pub mod toy2d;

pub use dataset::{Dataset, Split, DATASET_NAMES, HOLDOUT_FRACTION, MAX_SAMPLES};
pub use error::DataError;
pub use mnist::{decode_images, decode_labeled, decode_labels, Images, LabeledImages};
pub use points_csv::{parse_points_csv, points_to_csv, MAX_POINTS};
pub use standardize::Standardizer;
