//! Hostile operations (issue 11, part C): poison files, temp-file sweeps,
//! audit events after restarts, readiness under a locked store, refused
//! credentials. Each test runs the real binary and checks the named outcome.
