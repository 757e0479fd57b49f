//! Mesh throughput benchmark (see the end of this file once written).
#![allow(missing_docs)]
fn main() {}
