//! What the Bot Framework sends a Teams bot, built the way Teams builds it: activities
//! (personal, channel post, channel thread reply, group chat, the bot added to a team) and the
//! RS256 bearer tokens on them, signed with the test keys in `tests/fixtures/teams/`.
//! Shapes follow msteams-docs ("Conversation basics", "Channel and group chat conversations",
//! "Conversation events") and "Authentication with the Bot Connector API".
#![allow(
    dead_code,
    reason = "shared by Teams tests; each uses a different subset"
)]

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use ring::signature::{RSA_PKCS1_SHA256, RsaKeyPair, RsaPublicKeyComponents};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};

/// The bot's app id (Entra client id), the audience of inbound tokens.
pub const APP_ID: &str = "0b0b0b0b-1111-2222-3333-444444444444";
/// The Entra tenant of the bot and its users.
pub const TENANT_ID: &str = "7e7e7e7e-aaaa-bbbb-cccc-dddddddddddd";
/// The client secret the fake token endpoint accepts.
pub const CLIENT_SECRET: &str = "teams-test-secret";
/// The scope of client-credentials tokens for the Bot Connector.
pub const SCOPE: &str = "https://api.botframework.com/.default";
/// The bot's display name, as people @mention it.
pub const BOT_NAME: &str = "opsbot";
/// The team's id, which is its General channel's id.
pub const TEAM_ID: &str = "19:Gen3ralTeamChannel0000000000000@thread.tacv2";
/// The team's Microsoft 365 group id.
pub const TEAM_AAD_GROUP: &str = "5e5e5e5e-0000-4000-8000-000000000001";
/// A standard channel in the team.
pub const CHANNEL_ID: &str = "19:0psChannelAbcdef0123456789abcdef@thread.tacv2";
/// A group chat with the bot.
pub const GROUP_CHAT_ID: &str = "19:a1b2c3d4e5f60718293a4b5c6d7e8f90@thread.v2";
/// Alice's personal (1:1) chat with the bot.
pub const PERSONAL_ID: &str = "a:1pXqMSYZ1Vqr0y3xJqJ8LQm7n2Uu0b3cC-5t0kqk6Yd3qQxSxv8o9W1zF2aH4jK";

/// A Teams user as activities name them.
#[derive(Debug, Clone, Copy)]
pub struct Person {
    /// Bot Framework user id (`29:…`).
    pub id: &'static str,
    /// Display name.
    pub name: &'static str,
    /// Entra object id.
    pub aad: &'static str,
    /// Email (and, for members, the UPN; guests get an `#EXT#` UPN).
    pub email: &'static str,
}

/// A member of the tenant.
pub const ALICE: Person = Person {
    id: "29:1AliceQ2h3oTq8yV3t5Jr0fH6x9mWcN4bLkPzUuE7sDgRiY",
    name: "Alice Admin",
    aad: "a11ce000-0000-4000-8000-000000000001",
    email: "alice@example.com",
};
/// A guest from another tenant.
pub const BOB: Person = Person {
    id: "29:1BobGuestZx8wV6u4Tt2Rq0Pn9Ml7Kk5Jj3Hh1Gg0Ff8Ee6Dd",
    name: "Bob Guest",
    aad: "b0b00000-0000-4000-8000-000000000002",
    email: "bob@partner.example",
};

/// Where a message is posted.
#[derive(Debug, Clone)]
pub enum Place {
    /// Alice's 1:1 chat with the bot ([`PERSONAL_ID`]).
    Personal,
    /// A new post in [`CHANNEL_ID`] (a thread root).
    ChannelPost,
    /// A reply in the [`CHANNEL_ID`] thread whose root post has id `root`.
    ChannelReply {
        /// The root post's activity id.
        root: String,
    },
    /// The group chat [`GROUP_CHAT_ID`].
    GroupChat,
}

fn key_der(kid: &str) -> &'static [u8] {
    if kid == "key2" {
        include_bytes!("../fixtures/teams/key2.pk8")
    } else {
        include_bytes!("../fixtures/teams/key1.pk8")
    }
}

/// The test key pair behind `kid`: key2 for "key2", key1 otherwise.
pub fn key_pair(kid: &str) -> RsaKeyPair {
    let der = key_der(kid);
    // The fixtures are PKCS#1 `RSAPrivateKey` DER despite the `.pk8` name; accept either.
    RsaKeyPair::from_pkcs8(der)
        .or_else(|_| RsaKeyPair::from_der(der))
        .expect("test RSA key")
}

/// The JWK the Bot Framework would publish for `kid` (signing with [`key_pair`]`(which)`).
pub fn jwk(kid: &str, which: &str, endorsements: &[String]) -> Value {
    let c = RsaPublicKeyComponents::<Vec<u8>>::from(key_pair(which).public());
    json!({"kty": "RSA", "use": "sig", "kid": kid, "n": B64.encode(&c.n), "e": B64.encode(&c.e),
        "endorsements": endorsements})
}

/// Seconds since the epoch.
pub fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// Valid connector-to-bot claims for `app_id` and `service_url`.
pub fn claims(app_id: &str, service_url: &str) -> Value {
    let t = now();
    json!({"serviceurl": service_url, "nbf": t - 60, "exp": t + 3600,
        "iss": "https://api.botframework.com", "aud": app_id})
}

/// An RS256 JWT over `claims` with header `kid`, signed with key1 for "key1" and key2 for
/// "key2" (any other kid signs with key1). Without the `Bearer ` prefix.
pub fn sign(claims: &Value, kid: &str) -> String {
    let header = json!({"alg": "RS256", "kid": kid, "x5t": kid, "typ": "JWT"});
    let input = format!(
        "{}.{}",
        B64.encode(header.to_string()),
        B64.encode(claims.to_string())
    );
    let kp = key_pair(kid);
    let mut sig = vec![0; kp.public().modulus_len()];
    kp.sign(
        &RSA_PKCS1_SHA256,
        &ring::rand::SystemRandom::new(),
        input.as_bytes(),
        &mut sig,
    )
    .unwrap();
    format!("{input}.{}", B64.encode(sig))
}

/// An unsigned `alg: none` token over `claims` (empty signature), as forgers send.
pub fn forged_alg_none(claims: &Value) -> String {
    let header = json!({"alg": "none", "typ": "JWT"});
    format!(
        "{}.{}.",
        B64.encode(header.to_string()),
        B64.encode(claims.to_string())
    )
}

static NEXT_ID: AtomicU64 = AtomicU64::new(1_700_000_000_000);

/// A fresh activity id (Teams uses millisecond timestamps).
pub fn next_id() -> String {
    NEXT_ID.fetch_add(1, Ordering::Relaxed).to_string()
}

fn timestamp() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

fn bot_account() -> Value {
    json!({"id": format!("28:{APP_ID}"), "name": BOT_NAME})
}

/// The `<at>opsbot</at>` mention entity Teams adds when someone @mentions the bot.
pub fn mention_entity() -> Value {
    json!({"type": "mention", "mentioned": {"id": format!("28:{APP_ID}"), "name": BOT_NAME},
        "text": format!("<at>{BOT_NAME}</at>")})
}

/// A message from `from` at `place`, as Teams posts it to the bot's endpoint. In channels and
/// group chats the text starts with `<at>opsbot</at> ` and carries the mention entity; in a
/// personal chat it is the bare text. The activity's `id` is fresh; for a channel post the
/// conversation id ends in `;messageid=<that id>`.
pub fn message(place: &Place, from: &Person, text: &str, service_url: &str) -> Value {
    let id = next_id();
    let tenant = json!({"id": TENANT_ID});
    let channel_data = json!({"teamsChannelId": CHANNEL_ID, "teamsTeamId": TEAM_ID,
        "channel": {"id": CHANNEL_ID}, "team": {"id": TEAM_ID}, "tenant": tenant});
    let (conversation, channel_data, mentioned) = match place {
        Place::Personal => (
            json!({"conversationType": "personal", "tenantId": TENANT_ID, "id": PERSONAL_ID}),
            json!({"tenant": tenant}),
            false,
        ),
        Place::ChannelPost | Place::ChannelReply { .. } => {
            let root = match place {
                Place::ChannelReply { root } => root.clone(),
                _ => id.clone(),
            };
            (
                json!({"isGroup": true, "conversationType": "channel", "tenantId": TENANT_ID,
                    "id": format!("{CHANNEL_ID};messageid={root}")}),
                channel_data,
                true,
            )
        }
        Place::GroupChat => (
            json!({"isGroup": true, "conversationType": "groupChat", "tenantId": TENANT_ID,
                "id": GROUP_CHAT_ID}),
            json!({"tenant": tenant}),
            true,
        ),
    };
    let client_info = json!({"type": "clientInfo", "locale": "en-US", "country": "US",
        "platform": "Web", "timezone": "Europe/Berlin"});
    let (text, entities) = if mentioned {
        (
            format!("<at>{BOT_NAME}</at> {text}"),
            json!([mention_entity(), client_info]),
        )
    } else {
        (text.to_string(), json!([client_info]))
    };
    let html = format!("<p>{}</p>", text.replace('&', "&amp;"));
    json!({
        "text": text, "textFormat": "plain",
        "attachments": [{"contentType": "text/html", "content": html}],
        "type": "message", "timestamp": timestamp(), "localTimestamp": timestamp(),
        "id": id, "channelId": "msteams", "serviceUrl": service_url,
        "from": {"id": from.id, "name": from.name, "aadObjectId": from.aad},
        "conversation": conversation, "recipient": bot_account(),
        "entities": entities, "channelData": channel_data,
        "locale": "en-US", "localTimezone": "Europe/Berlin"
    })
}

/// `conversationUpdate` with `eventType: teamMemberAdded`: `by` added the bot to the team
/// (the conversation is the team's General channel).
pub fn conversation_update(by: &Person, service_url: &str) -> Value {
    json!({
        "membersAdded": [{"id": format!("28:{APP_ID}")}],
        "type": "conversationUpdate", "timestamp": timestamp(),
        "id": format!("f:{}", next_id()), "channelId": "msteams", "serviceUrl": service_url,
        "from": {"id": by.id, "aadObjectId": by.aad},
        "conversation": {"isGroup": true, "conversationType": "channel", "tenantId": TENANT_ID,
            "id": TEAM_ID},
        "recipient": bot_account(),
        "channelData": {"team": {"aadGroupId": TEAM_AAD_GROUP, "name": "Platform Ops", "id": TEAM_ID},
            "eventType": "teamMemberAdded", "tenant": {"id": TENANT_ID},
            "settings": {"selectedChannel": {"id": CHANNEL_ID}}}
    })
}

/// The conversation member JSON `GET …/members/{id}` returns for `p` (`guest`: `userRole`).
pub fn member(p: &Person, guest: bool) -> Value {
    let (given, surname) = p.name.split_once(' ').unwrap_or((p.name, ""));
    let upn = if guest {
        format!("{}#EXT#@example.onmicrosoft.com", p.email.replace('@', "_"))
    } else {
        p.email.to_string()
    };
    json!({"id": p.id, "name": p.name, "aadObjectId": p.aad, "objectId": p.aad,
        "givenName": given, "surname": surname, "email": p.email, "userPrincipalName": upn,
        "tenantId": TENANT_ID, "userRole": if guest { "guest" } else { "user" }})
}

/// Why Entra's v2 token endpoint would refuse this client-credentials request for `tenant`:
/// the status and Entra's error body (`error`, `error_description` with the AADSTS code,
/// `error_codes`, ids). `None`: a token is granted.
pub fn entra_refusal(tenant: &str, form: &HashMap<String, String>) -> Option<(u16, Value)> {
    let f = |k: &str| form.get(k).map(String::as_str).unwrap_or("");
    let (status, error, code, text) = if tenant != TENANT_ID {
        (
            400,
            "invalid_request",
            90002,
            format!(
                "Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud."
            ),
        )
    } else if f("grant_type").is_empty() {
        (
            400,
            "invalid_request",
            900144,
            "The request body must contain the following parameter: 'grant_type'.".into(),
        )
    } else if f("grant_type") != "client_credentials" {
        (
            400,
            "unsupported_grant_type",
            70003,
            "The app requested an unsupported grant type.".into(),
        )
    } else if f("client_id") != APP_ID {
        (
            400,
            "unauthorized_client",
            700016,
            format!(
                "Application with identifier '{}' was not found in the directory.",
                f("client_id")
            ),
        )
    } else if f("client_secret") != CLIENT_SECRET {
        (401, "invalid_client", 7000215, "Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID.".into())
    } else if !f("scope").ends_with("/.default") {
        (400, "invalid_scope", 1002012, "The provided value for scope is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI).".into())
    } else if f("scope") != SCOPE {
        (
            400,
            "invalid_resource",
            500011,
            "The resource principal named in the scope was not found in the tenant.".into(),
        )
    } else {
        return None;
    };
    let ids = "00000000-0000-0000-0000-000000000000";
    Some((
        status,
        json!({"error": error,
        "error_description": format!("AADSTS{code}: {text} Trace ID: {ids} Correlation ID: {ids} Timestamp: 2025-01-01 00:00:00Z"),
        "error_codes": [code], "timestamp": "2025-01-01 00:00:00Z", "trace_id": ids, "correlation_id": ids,
        "error_uri": format!("https://login.microsoftonline.com/error?code={code}")}),
    ))
}
