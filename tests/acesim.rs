//! The ACE simulator on its own (issue 10): batches built by hand from the
//! published CATAIR positions (../shared/catair.md), never by s321d's writer,
//! and the answers a real ACE would give them.
