//! Console sessions: a random id in an HttpOnly, SameSite=Strict cookie
//! (Secure under TLS) naming a session kept in this process's memory,
//! with the operator it signed in and the session's CSRF token.
//!
//! Sessions end after [`IDLE`] without a request, [`LIFETIME`] after
//! sign-in, at sign-out, and when the router restarts; each replica keeps
//! its own (a load balancer in front of several consoles needs sticky
//! sessions). The api key itself is checked once, at sign-in, and never
//! kept.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chacha20poly1305::aead::OsRng;
use chacha20poly1305::aead::rand_core::RngCore;
use tokio::time::Instant;

use crate::auth::Caller;

/// A session ends after this long without a request.
pub const IDLE: Duration = Duration::from_secs(30 * 60);
/// And this long after sign-in, whatever its use.
pub const LIFETIME: Duration = Duration::from_secs(12 * 60 * 60);
/// Sessions kept at once; the oldest goes when a new one would pass it.
const MAX_SESSIONS: usize = 10_000;

/// 32 random bytes, URL-safe base64 (43 characters).
pub fn random_token() -> String {
    let mut bytes = [0u8; 32];
    OsRng.fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Equal strings, compared in time independent of where they differ.
pub fn same_secret(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// A one-shot message shown on the next page (after a redirect).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Flash {
    pub ok: bool,
    pub text: String,
}

#[derive(Debug)]
struct Session {
    caller: Caller,
    csrf: String,
    signed_in: Instant,
    seen: Instant,
    flash: Option<Flash>,
}

/// What a page needs of its session.
#[derive(Debug, Clone)]
pub struct Current {
    pub id: String,
    pub caller: Caller,
    pub csrf: String,
    pub flash: Option<Flash>,
}

/// The sessions of this console.
#[derive(Debug, Default)]
pub struct Sessions {
    map: Mutex<HashMap<String, Session>>,
}

impl Sessions {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Session>> {
        self.map.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A new session for `caller`; its id goes in the cookie.
    pub fn start(&self, caller: Caller) -> String {
        let now = Instant::now();
        let id = random_token();
        let mut map = self.lock();
        map.retain(|_, s| alive(s, now));
        if map.len() >= MAX_SESSIONS
            && let Some(oldest) = map
                .iter()
                .min_by_key(|(_, s)| s.seen)
                .map(|(k, _)| k.clone())
        {
            map.remove(&oldest);
        }
        map.insert(
            id.clone(),
            Session {
                caller,
                csrf: random_token(),
                signed_in: now,
                seen: now,
                flash: None,
            },
        );
        id
    }

    /// The live session `id`, touched, its flash taken.
    pub fn current(&self, id: &str) -> Option<Current> {
        let now = Instant::now();
        let mut map = self.lock();
        let s = map.get_mut(id)?;
        if !alive(s, now) {
            map.remove(id);
            return None;
        }
        s.seen = now;
        Some(Current {
            id: id.to_owned(),
            caller: s.caller.clone(),
            csrf: s.csrf.clone(),
            flash: s.flash.take(),
        })
    }

    /// Leaves `flash` for the session's next page.
    pub fn flash(&self, id: &str, flash: Flash) {
        if let Some(s) = self.lock().get_mut(id) {
            s.flash = Some(flash);
        }
    }

    /// Ends session `id`.
    pub fn end(&self, id: &str) {
        self.lock().remove(id);
    }

    /// Sessions alive now.
    pub fn count(&self) -> usize {
        let now = Instant::now();
        self.lock().values().filter(|s| alive(s, now)).count()
    }
}

fn alive(s: &Session, now: Instant) -> bool {
    now.duration_since(s.seen) < IDLE && now.duration_since(s.signed_in) < LIFETIME
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::Roles;

    fn caller() -> Caller {
        Caller {
            key_id: "ops-a".into(),
            tenant: "t".into(),
            roles: Roles {
                router: false,
                operator: true,
                partner: false,
            },
            adapter_id: None,
        }
    }

    #[test]
    fn tokens_are_random_and_compare_as_secrets() {
        let a = random_token();
        assert_eq!(a.len(), 43);
        assert_ne!(a, random_token());
        assert!(same_secret(&a, &a.clone()));
        assert!(!same_secret(&a, &random_token()));
        assert!(!same_secret(&a, &a[..42]));
    }

    #[tokio::test(start_paused = true)]
    async fn a_session_ends_when_idle_and_at_its_lifetime() {
        let s = Sessions::default();
        let id = s.start(caller());
        let cur = s.current(&id).expect("live");
        assert_eq!(cur.caller.key_id, "ops-a");
        assert!(s.current("another").is_none());
        // Used every 20 minutes, it lives up to the lifetime...
        for _ in 0..35 {
            tokio::time::advance(Duration::from_secs(20 * 60)).await;
            assert!(s.current(&id).is_some());
        }
        tokio::time::advance(Duration::from_secs(20 * 60)).await;
        assert!(s.current(&id).is_none(), "past 12 hours");
        // ...and idle, it ends after 30 minutes.
        let id = s.start(caller());
        tokio::time::advance(IDLE).await;
        assert!(s.current(&id).is_none());
        assert_eq!(s.count(), 0);
    }

    #[tokio::test(start_paused = true)]
    async fn flash_shows_once_and_sign_out_ends_the_session() {
        let s = Sessions::default();
        let id = s.start(caller());
        s.flash(
            &id,
            Flash {
                ok: true,
                text: "claimed".into(),
            },
        );
        assert_eq!(
            s.current(&id).and_then(|c| c.flash).map(|f| f.text),
            Some("claimed".into())
        );
        assert_eq!(s.current(&id).and_then(|c| c.flash), None);
        s.end(&id);
        assert!(s.current(&id).is_none());
    }
}
