//! `finroute keys new`: a fresh api key and the `[[auth.keys]]` entry that
//! admits it (the router stores only the key's sha256).

use chacha20poly1305::aead::OsRng;
use chacha20poly1305::aead::rand_core::RngCore;
use sha2::{Digest, Sha256};

/// Prefix of keys made here, so a leaked one is recognisable in a scan.
pub const KEY_PREFIX: &str = "frk_";

/// A new api key: `frk_` and 64 hex digits of the operating system's
/// randomness (256 bits), and the hex sha256 to put in the config.
pub fn new_key() -> (String, String) {
    let mut bytes = [0u8; 32];
    OsRng.fill_bytes(&mut bytes);
    let key = format!("{KEY_PREFIX}{}", hex::encode(bytes));
    let digest = hex::encode(Sha256::digest(key.as_bytes()));
    (key, digest)
}

/// The `[[auth.keys]]` entry for a key whose sha256 is `digest` (with
/// the `adapter_id` line of a partner key).
pub fn config_entry(
    id: &str,
    digest: &str,
    tenant: &str,
    role: &str,
    adapter_id: Option<&str>,
) -> String {
    let quote = |s: &str| toml::Value::String(s.to_owned()).to_string();
    let mut entry = format!(
        "[[auth.keys]]\nid = {}\nsha256 = {}\ntenant = {}\nroles = [{}]\n",
        quote(id),
        quote(digest),
        quote(tenant),
        quote(role)
    );
    if let Some(adapter) = adapter_id {
        entry.push_str(&format!("adapter_id = {}\n", quote(adapter)));
    }
    entry
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::Authenticator;
    use crate::config::Config;

    #[test]
    fn a_new_key_is_admitted_by_its_entry_and_keys_differ() {
        let (key, digest) = new_key();
        assert!(key.starts_with(KEY_PREFIX) && key.len() == KEY_PREFIX.len() + 64);
        let entry = config_entry("ops-1", &digest, "platform-a", "operator", None);
        let config = Config::parse(&entry).expect("the entry parses");
        let auth = Authenticator::from_config(&config.auth).expect("a valid key entry");
        let caller = auth
            .authenticate(Some(&format!("Bearer {key}")))
            .expect("the new key is admitted");
        assert_eq!(caller.tenant, "platform-a");
        assert_ne!(new_key().0, key);
        // A name with a quote stays one TOML string.
        let odd = config_entry("a\"b", &digest, "t", "router", None);
        assert!(Config::parse(&odd).is_ok(), "{odd}");
        // A partner key's entry names its channel.
        let partner = config_entry("bank-a", &digest, "t", "partner", Some("bank-a"));
        let config = Config::parse(&partner).expect("the entry parses");
        let auth = Authenticator::from_config(&config.auth).expect("a valid partner key");
        let caller = auth
            .authenticate(Some(&format!("Bearer {key}")))
            .expect("admitted");
        assert_eq!(caller.adapter_id.as_deref(), Some("bank-a"));
    }
}
