//! Discord's gateway close codes, from
//! <https://discord.com/developers/docs/topics/opcodes-and-status-codes#gateway-gateway-close-event-codes>.

/// A close code the simulator sends, with the reason text Discord uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloseCode {
    /// 4000: unknown error; reconnect.
    UnknownError = 4000,
    /// 4001: an invalid opcode or payload for an opcode was sent.
    UnknownOpcode = 4001,
    /// 4002: an invalid payload was sent (not JSON, too large, missing fields).
    DecodeError = 4002,
    /// 4003: a payload was sent before IDENTIFY.
    NotAuthenticated = 4003,
    /// 4004: the token in IDENTIFY or RESUME is wrong (fatal).
    AuthenticationFailed = 4004,
    /// 4005: more than one IDENTIFY or RESUME on one connection.
    AlreadyAuthenticated = 4005,
    /// 4007: the sequence sent when resuming was invalid.
    InvalidSeq = 4007,
    /// 4008: more than 120 commands in 60 s.
    RateLimited = 4008,
    /// 4009: the session timed out (no heartbeat).
    SessionTimedOut = 4009,
    /// 4010: invalid `shard` in IDENTIFY (fatal).
    InvalidShard = 4010,
    /// 4011: the session would hold too many guilds; shard (fatal).
    ShardingRequired = 4011,
    /// 4012: invalid API version (fatal).
    InvalidApiVersion = 4012,
    /// 4013: invalid intents (fatal).
    InvalidIntents = 4013,
    /// 4014: disallowed (privileged, not enabled) intents (fatal).
    DisallowedIntents = 4014,
}

impl CloseCode {
    /// The numeric code.
    pub fn code(self) -> u16 {
        self as u16
    }

    /// Discord's reason text for the code.
    pub fn reason(self) -> &'static str {
        match self {
            Self::UnknownError => "Unknown error.",
            Self::UnknownOpcode => "Unknown opcode.",
            Self::DecodeError => "Error while decoding payload.",
            Self::NotAuthenticated => "Not authenticated.",
            Self::AuthenticationFailed => "Authentication failed.",
            Self::AlreadyAuthenticated => "Already authenticated.",
            Self::InvalidSeq => "Invalid seq.",
            Self::RateLimited => "Rate limited.",
            Self::SessionTimedOut => "Session timed out.",
            Self::InvalidShard => "Invalid shard.",
            Self::ShardingRequired => "Sharding required.",
            Self::InvalidApiVersion => "Invalid API version.",
            Self::InvalidIntents => "Invalid intent(s).",
            Self::DisallowedIntents => "Disallowed intent(s).",
        }
    }
}
