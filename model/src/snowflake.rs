//! Snowflakes: Discord's ids, non-zero unsigned 64-bit integers that Discord's JSON writes as
//! decimal strings. Every SDK reads ids given as text through [`parse_snowflake`], so a bad id is
//! refused with the same rule and the same message in Rust, Python and Node.
//! Source: <https://discord.com/developers/docs/reference#snowflakes>.

/// Longest part of a refused value repeated in the error message.
const SHOWN_CHARS: usize = 40;

/// An id that is not a snowflake.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{what} {value:?} is not a snowflake: Discord ids are non-zero unsigned 64-bit integers")]
pub struct SnowflakeError {
    /// Which id (`guild_id`, `user_id`, ...).
    pub what: &'static str,
    /// The value as given (its first 40 characters).
    pub value: String,
}

impl SnowflakeError {
    /// The error for `value` given as the id `what`.
    pub fn new(what: &'static str, value: &str) -> Self {
        Self {
            what,
            value: value.chars().take(SHOWN_CHARS).collect(),
        }
    }
}

/// Parses the id `what` given as decimal text: digits only (no sign, no spaces), at most
/// `u64::MAX`, not zero.
///
/// # Errors
/// [`SnowflakeError`] naming `what` and the value.
pub fn parse_snowflake(what: &'static str, value: &str) -> Result<u64, SnowflakeError> {
    let digits = !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit());
    match value.parse::<u64>() {
        Ok(id) if digits && id > 0 => Ok(id),
        _ => Err(SnowflakeError::new(what, value)),
    }
}

/// Checks the id `what` given as a number: not zero.
///
/// # Errors
/// [`SnowflakeError`] for 0.
pub fn check_snowflake(what: &'static str, value: u64) -> Result<u64, SnowflakeError> {
    if value == 0 {
        return Err(SnowflakeError::new(what, "0"));
    }
    Ok(value)
}

/// Parses a list of ids named `what`.
///
/// # Errors
/// As [`parse_snowflake`], for the first bad one.
pub fn parse_snowflakes<S: AsRef<str>>(
    what: &'static str,
    values: &[S],
) -> Result<Vec<u64>, SnowflakeError> {
    values
        .iter()
        .map(|v| parse_snowflake(what, v.as_ref()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_decimal_non_zero_u64_only() {
        assert_eq!(
            parse_snowflake("guild_id", "81384788765712384"),
            Ok(81384788765712384)
        );
        assert_eq!(
            parse_snowflake("guild_id", "18446744073709551615"),
            Ok(u64::MAX)
        );
        for bad in [
            "",
            "0",
            "-1",
            "+1",
            "12a",
            "18446744073709551616",
            " 1",
            "1 ",
        ] {
            let e = parse_snowflake("guild_id", bad);
            assert_eq!(e, Err(SnowflakeError::new("guild_id", bad)), "{bad:?}");
        }
        assert_eq!(
            check_snowflake("user_id", 0).map_err(|e| e.what),
            Err("user_id")
        );
    }

    #[test]
    fn the_message_names_the_id_and_a_short_value() {
        let e = parse_snowflake("user_id", &"9".repeat(100)).expect_err("too long");
        assert_eq!(e.value.len(), 40);
        assert!(e.to_string().starts_with("user_id \"9999"), "{e}");
        assert!(e.to_string().contains("not a snowflake"), "{e}");
        assert_eq!(parse_snowflakes("user_id", &["1", "2"]), Ok(vec![1, 2]));
    }
}
