//! Case files (to come).
