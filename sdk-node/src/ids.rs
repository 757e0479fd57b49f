//! Snowflakes from JavaScript.
//!
//! Snowflakes are 64-bit and do not fit a JS `number` (53 bits), so the API takes and returns
//! them as decimal strings; the JS entry also accepts a `bigint` or a safe-integer `number` and
//! turns it into a string before it crosses.
//! Source: <https://discord.com/developers/docs/reference#snowflakes>.

use crate::error::{ErrorKind, NodeError, Result};

/// Parses the snowflake named `what` (e.g. `"guild id"`).
///
/// # Errors
/// [`ErrorKind::InvalidId`] when `value` is not a decimal u64, or is 0.
pub fn snowflake(what: &str, value: &str) -> Result<u64> {
    match value.parse::<u64>() {
        Ok(0) | Err(_) => {
            let shown: String = value.chars().take(40).collect();
            Err(NodeError::new(
                ErrorKind::InvalidId,
                format!(
                    "{what} {shown:?} is not a snowflake: Discord ids are non-zero unsigned 64-bit integers; pass a decimal string such as \"81384788765712384\" or a bigint"
                ),
            ))
        }
        Ok(id) => Ok(id),
    }
}

/// Parses a list of snowflakes.
///
/// # Errors
/// As [`snowflake`], for the first bad one.
pub fn snowflakes(what: &str, values: &[String]) -> Result<Vec<u64>> {
    values.iter().map(|v| snowflake(what, v)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_decimal_u64_only() {
        assert_eq!(
            snowflake("guild id", "81384788765712384").ok(),
            Some(81384788765712384)
        );
        for bad in ["", "0", "-1", "12a", "18446744073709551616", " 1"] {
            let e = snowflake("guild id", bad).err();
            assert_eq!(e.map(|e| e.kind()), Some(ErrorKind::InvalidId), "{bad:?}");
        }
    }
}
