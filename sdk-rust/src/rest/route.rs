//! Which rate-limit bucket a request falls in before Discord names it: the method and path
//! with ids replaced, and the major parameter kept apart
//! (<https://discord.com/developers/docs/topics/rate-limits#rate-limits>: "per-route rate
//! limits ... may include top-level resources within the path", a channel, guild or webhook).

/// A request's route and major parameter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RouteKey {
    /// `METHOD path` with the major parameter as `:major`, other ids as `:id` and tokens as
    /// `:token`: `DELETE channels/:major/messages/:id`.
    pub route: String,
    /// The channel, guild, interaction or webhook id (a webhook's token is hashed in), `0`
    /// for none.
    pub major: String,
    /// Whether the global limit applies: not to interaction and webhook routes
    /// (<https://discord.com/developers/docs/interactions/receiving-and-responding#followup-messages>).
    pub global: bool,
}

/// The key of `method` on `path` (as twilight-http's `Request::path`, with no leading `/`).
pub(crate) fn route_key(method: &str, path: &str) -> RouteKey {
    let path = path.split('?').next().unwrap_or_default();
    let segs: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let top = segs.first().copied().unwrap_or_default();
    let token_at = match top {
        "webhooks" | "interactions" => Some(2),
        _ => None,
    };
    let major = match (top, segs.get(1)) {
        ("channels" | "guilds" | "interactions", Some(id)) => (*id).to_owned(),
        ("webhooks", Some(id)) => {
            let token = segs.get(2).copied().unwrap_or_default();
            format!("{id}-{}", super::short_hash(token))
        }
        _ => "0".to_owned(),
    };
    let mut route = String::from(method);
    route.push(' ');
    for (i, seg) in segs.iter().enumerate() {
        if i > 0 {
            route.push('/');
        }
        if i == 1 && major != "0" {
            route.push_str(":major");
        } else if Some(i) == token_at {
            route.push_str(":token");
        } else if seg.bytes().all(|b| b.is_ascii_digit()) {
            route.push_str(":id");
        } else {
            route.push_str(seg);
        }
    }
    RouteKey {
        route,
        major,
        global: !matches!(top, "webhooks" | "interactions"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_replaced_and_the_major_parameter_kept() {
        let k = route_key("DELETE", "channels/12/messages/34");
        assert_eq!(k.route, "DELETE channels/:major/messages/:id");
        assert_eq!(k.major, "12");
        assert!(k.global);
        let k = route_key("PUT", "guilds/5/members/6/roles/7?x=1");
        assert_eq!(k.route, "PUT guilds/:major/members/:id/roles/:id");
        assert_eq!(k.major, "5");
        let k = route_key("POST", "interactions/9/secret/callback");
        assert_eq!(k.route, "POST interactions/:major/:token/callback");
        assert!(!k.global);
        let k = route_key("POST", "webhooks/1/secret");
        assert!(!k.major.contains("secret"));
        assert!(!k.route.contains("secret"));
        assert_eq!(route_key("GET", "users/@me").major, "0");
    }
}
