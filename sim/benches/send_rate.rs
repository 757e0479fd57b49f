//! Send-rate benchmark (placeholder).
fn main() {}
