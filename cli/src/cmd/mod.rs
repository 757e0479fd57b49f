//! One module per subcommand.

pub mod dead;
pub mod error;
pub mod mesh_args;
pub mod project;
pub mod publish;
pub mod redis_args;
pub mod tail;
