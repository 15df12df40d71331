//! A run's published outputs, as everything after the run reads them: the
//! run summary (`summary.json`), where the outputs of a run are and whether
//! they are complete, and reading them back with the runs recorded in the
//! state store (for reports and evidence packs). Writing them is the
//! intake's evaluate step; outputs only describes and reads them.
//!
//! - [`summary`]: `Summary` and `FileOutcome`, the contents of `summary.json`.
//! - [`location`]: a run's output folder, `outputs_complete`, `read_summary`.
//! - [`read`]: `RunRef`, the runs of a period, fetching an output file to
//!   scratch, and lazy polars scans of the output files.

pub mod location;
pub mod read;
pub mod summary;
