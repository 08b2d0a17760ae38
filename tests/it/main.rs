//! kanmon's one integration-test binary (DESIGN.md `tests/it/`): each module drives one
//! front-end or area against real servers on loopback.

mod cases;
mod cli;
mod dkim_verifiers;
mod postfix;
mod serve;
mod web;
