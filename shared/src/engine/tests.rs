//! Engine tests on a deterministic in-memory network: scenarios, one per function, and a
//! convergence property test.

mod convergence;
mod network;
mod robustness;
mod scenarios;
