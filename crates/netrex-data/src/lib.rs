//! # netrex-data
//!
//! Implicit-feedback interaction data for netrex: the [`Interactions`] type over dense ids,
//! [`IdMap`]s back to raw ids, seeded [splits](split), left-padded [sequences](sequence),
//! seeded [synthetic] data, and (feature `polars`, on by default) ingestion of MovieLens and
//! any CSV file; feature `parquet` adds Parquet files, feature `download` fetches missing
//! MovieLens archives and verifies their checksums.
//!
//! ```
//! use netrex_data::{split, synthetic};
//!
//! let data = synthetic::tiled(100, 20)?;
//! let parts = split::user_split(&data, 0.2, 42)?;
//! assert_eq!(parts.train.len() + parts.test.len(), 2000);
//! # Ok::<(), netrex_data::DataError>(())
//! ```

#![warn(missing_docs)]

pub mod cold;
pub mod dataset;
#[cfg(feature = "download")]
pub mod download;
pub mod error;
pub mod features;
pub mod ids;
#[cfg(feature = "polars")]
pub mod ingest;
pub mod interactions;
pub mod movielens;
pub mod movielens_features;
pub mod quiet;
pub mod sequence;
pub mod sequence_file;
pub mod split;
pub mod synthetic;

pub use dataset::{Dataset, LoadReport};
pub use error::{DataError, Result};
pub use features::{read_feature_file, Features, FeaturesBuilder, MAX_WEIGHT};
pub use ids::{IdMap, RawId};
pub use interactions::{Interactions, PerUser};
#[cfg(feature = "testing")]
#[doc(hidden)]
pub use movielens::testing_data_dir;
pub use movielens::{MovieLens, OfficialSplit};
pub use movielens_features::{movielens_item_features, movielens_user_features};
pub use quiet::catch_quietly;
pub use sequence::{Sequences, PADDING};
pub use sequence_file::{read_sequence_file, AmazonS3Rec};
pub use split::{LeaveOneOut, TrainTest};
