//! The sans-IO sync engine (to be written).
