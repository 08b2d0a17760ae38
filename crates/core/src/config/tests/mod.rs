//! Tests of the configuration as an administrator meets it: the shipped default file, the
//! error messages for common mistakes, and the checks on values.

mod default_file;
mod errors;
mod values;
