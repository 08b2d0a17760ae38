//! CLI tests (to come).
