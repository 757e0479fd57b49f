//! Snowflakes from JavaScript.
//!
//! Snowflakes are 64-bit and do not fit a JS `number` (53 bits), so the API takes and returns
//! them as decimal strings; the JS entry also accepts a `bigint` or a safe-integer `number` and
//! turns it into a string before it crosses. The rule is the core's
//! ([`ddiscord::snowflake::parse_snowflake`]).
//! Source: <https://discord.com/developers/docs/reference#snowflakes>.

use ddiscord::client::ClientError;
use napi_derive::napi;

use crate::error::{NodeError, Result};

/// Parses the snowflake named `what` (e.g. `"guild_id"`).
///
/// # Errors
/// `DDISCORD_INVALID_ID` when `value` is not a decimal u64, or is 0.
pub fn snowflake(what: &'static str, value: &str) -> Result<u64> {
    ddiscord::snowflake::parse_snowflake(what, value)
        .map_err(|e| NodeError::from(ClientError::from(e)))
}

/// Parses a list of snowflakes.
///
/// # Errors
/// As [`snowflake`], for the first bad one.
pub fn snowflakes(what: &'static str, values: &[String]) -> Result<Vec<u64>> {
    values.iter().map(|v| snowflake(what, v)).collect()
}

/// The name of an id as the errors show it.
fn id_name(what: &str) -> &'static str {
    match what {
        "guild_id" => "guild_id",
        "channel_id" => "channel_id",
        "role_id" => "role_id",
        "user_id" => "user_id",
        _ => "id",
    }
}

/// Checks the snowflake `what` (`guild_id`, `channel_id`, `role_id`, `user_id`) given as
/// decimal text and returns it in canonical form, so the JS entry refuses a bad id at once.
///
/// Errors: `DDISCORD_INVALID_ID`.
#[napi]
pub fn parse_snowflake(what: String, value: String) -> napi::Result<String, String> {
    Ok(snowflake(id_name(&what), &value)?.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;

    #[test]
    fn uses_the_core_rule() {
        assert_eq!(
            snowflake("guild_id", "81384788765712384").ok(),
            Some(81384788765712384)
        );
        for bad in ["", "0", "-1", "12a", "18446744073709551616", " 1"] {
            let e = snowflake("guild_id", bad).err();
            assert_eq!(e.map(|e| e.kind()), Some(ErrorKind::InvalidId), "{bad:?}");
        }
        assert_eq!(
            parse_snowflake("user_id".into(), "7".into()).ok(),
            Some("7".into())
        );
    }
}
