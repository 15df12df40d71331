//! CATAIR fixed-width records: the layouts s321d writes and reads, as data.
//!
//! - [`key`]: the record layout key (classes, designations), the
//!   transliteration and cutting rules, and [`key::Record`], the one way to
//!   build or read an 80-character record against a layout.
//! - [`envelope`]: the ABI batch and block envelope (input A/B/Y/Z, output
//!   A/B/Y/Z, X0/X1 batch rejects).
//! - [`cargo_release`]: ACE Cargo Release SE10..SE60 input and the SE90 answer.
//! - [`entry_summary`]: ACE Entry Summary AE input (10, 11, 31, 34, 40,
//!   50, 62, 89, 90) and the AX answer (E0/E1).
//! - [`status`]: SO status notifications, revision 36 (SO10, SO50, SO60), and
//!   what their disposition codes mean for the ledger.
//!
//! The authority is `shared/catair.md` (public transcriptions of the CBP
//! chapters, with sources); each layout names the chapter page it follows.
//! The ACE simulator (`acesim`) keeps a table of its own, so the two can
//! disagree and a test shows it.

pub mod cargo_release;
pub mod entry_summary;
pub mod envelope;
pub mod key;
pub mod status;

pub use key::{Record, WIDTH};
