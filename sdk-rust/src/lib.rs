//! DDiscord core crate.
