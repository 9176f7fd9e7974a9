//! Who owns an AWS object, and the names we give it.
//!
//! Every object the operator creates carries the ownership tags below; lookups go by
//! those tags (or by a deterministic name derived from the owner's uid and then
//! checked against the tags), never by an ID kept only in `.status`.

use std::collections::BTreeMap;

use sha2::{Digest, Sha256};

pub const TAG_OWNER: &str = "privateapi.io/owner";
pub const TAG_UID: &str = "privateapi.io/uid";
pub const TAG_PART: &str = "privateapi.io/part";
pub const TAG_MANAGED_BY: &str = "privateapi.io/managed-by";
pub const MANAGED_BY: &str = "privateapi-operator";
/// AWS's limit for a tag value (every service we tag).
pub const MAX_TAG_VALUE: usize = 256;

/// The identity of one `PrivateApi`: `namespace/name` plus its uid, which never
/// changes for the life of the object (tags derived from it cannot drift).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Owner {
    pub namespace: String,
    pub name: String,
    pub uid: String,
}

impl Owner {
    pub fn new(namespace: impl Into<String>, name: impl Into<String>, uid: impl Into<String>) -> Self {
        Owner {
            namespace: namespace.into(),
            name: name.into(),
            uid: uid.into(),
        }
    }

    /// Without Kubernetes there is no uid: derive a stable one from the key, so
    /// `apply`, `plan` and `delete` of the same file agree.
    pub fn offline(namespace: &str, name: &str) -> Self {
        let digest = hex(&Sha256::digest(format!("{namespace}/{name}").as_bytes()));
        Owner::new(namespace, name, format!("offline-{}", &digest[..24]))
    }

    pub fn key(&self) -> String {
        format!("{}/{}", self.namespace, self.name)
    }

    /// The value of the owner tag: `namespace/name`, or, when that is longer than AWS
    /// allows a tag value (a 63-character namespace and a 253-character name make
    /// 317), its head and a hash of the whole. The same key always gives the same value
    /// (the CLI finds stacks by it); the uid tag keeps stacks apart.
    pub fn key_tag(&self) -> String {
        shorten(&self.key(), MAX_TAG_VALUE)
    }

    /// 8 hex characters of the uid's hash: short names stay unique per object.
    pub fn short_hash(&self) -> String {
        hex(&Sha256::digest(self.uid.as_bytes()))[..8].to_owned()
    }

    /// `papi-<namespace>-<name>` cut to fit `max_len` with the hash kept whole, in
    /// `[a-z0-9-]` (the strictest rule among ALB, target group and role names).
    pub fn resource_name(&self, suffix: &str, max_len: usize) -> String {
        let hash = self.short_hash();
        let tail = if suffix.is_empty() {
            format!("-{hash}")
        } else {
            format!("-{hash}-{suffix}")
        };
        let room = max_len.saturating_sub(tail.len());
        let stem: String = format!("papi-{}-{}", self.namespace, self.name)
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() {
                    c.to_ascii_lowercase()
                } else {
                    '-'
                }
            })
            .take(room)
            .collect();
        let stem = stem.trim_end_matches('-');
        format!("{stem}{tail}")
    }

    /// Tags for one part: the user's tags, then ours (ours win on a clash).
    pub fn tags(&self, part: &str, user_tags: &BTreeMap<String, String>) -> BTreeMap<String, String> {
        let mut tags: BTreeMap<String, String> = user_tags
            .iter()
            // AWS reserves `aws:` in any case; the CRD refuses it, objects made before may have it.
            .filter(|(k, _)| {
                !k.starts_with("privateapi.io/") && !k.get(..4).is_some_and(|p| p.eq_ignore_ascii_case("aws:"))
            })
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        tags.insert(TAG_OWNER.into(), self.key_tag());
        tags.insert(TAG_UID.into(), self.uid.clone());
        tags.insert(TAG_PART.into(), part.into());
        tags.insert(TAG_MANAGED_BY.into(), MANAGED_BY.into());
        tags
    }

    /// Do these tags say the object is ours?
    pub fn owns<'a>(&self, tags: impl IntoIterator<Item = (&'a str, &'a str)>) -> bool {
        tags.into_iter().any(|(k, v)| k == TAG_UID && v == self.uid)
    }
}

/// The `part` tag of a tag list.
pub fn part_of<'a>(tags: impl IntoIterator<Item = (&'a str, &'a str)>) -> Option<&'a str> {
    tags.into_iter().find(|(k, _)| *k == TAG_PART).map(|(_, v)| v)
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// `text` if it fits in `max_len` characters, else its head, `...` and 16 hex characters
/// of the whole text's hash: exactly `max_len` characters, the same for the same text,
/// and made only of characters AWS allows in tags and descriptions if `text` is.
pub fn shorten(text: &str, max_len: usize) -> String {
    if text.chars().count() <= max_len {
        return text.to_owned();
    }
    let hash = fingerprint(text);
    let head: String = text.chars().take(max_len.saturating_sub(hash.len() + 3)).collect();
    format!("{head}...{hash}")
}

/// A short content hash, for config fingerprints kept in tags and descriptions.
pub fn fingerprint(content: &str) -> String {
    hex(&Sha256::digest(content.as_bytes()))[..16].to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_fit_and_stay_stable() {
        let owner = Owner::new("payments-team-with-a-long-namespace", "orders-api-v2", "0d9c1f6e-uid");
        let alb = owner.resource_name("", 32);
        assert!(alb.len() <= 32, "{alb}");
        assert!(alb.starts_with("papi-payments"));
        assert!(alb.ends_with(&owner.short_hash()));
        assert!(
            alb.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        );
        assert_eq!(alb, owner.resource_name("", 32));
        let role = owner.resource_name("exec", 64);
        assert!(role.ends_with("-exec") && role.len() <= 64);
    }

    #[test]
    fn different_uid_different_name() {
        let a = Owner::new("ns", "api", "uid-1");
        let b = Owner::new("ns", "api", "uid-2");
        assert_ne!(a.resource_name("", 32), b.resource_name("", 32));
    }

    #[test]
    fn ownership_tags_win_over_user_tags() {
        let owner = Owner::new("ns", "api", "uid-1");
        let user = BTreeMap::from([
            ("team".to_string(), "payments".to_string()),
            (TAG_UID.to_string(), "forged".to_string()),
        ]);
        let tags = owner.tags("alb", &user);
        assert_eq!(tags[TAG_UID], "uid-1");
        assert_eq!(tags["team"], "payments");
        assert!(owner.owns(tags.iter().map(|(k, v)| (k.as_str(), v.as_str()))));
        assert!(!Owner::new("ns", "api", "uid-2").owns(tags.iter().map(|(k, v)| (k.as_str(), v.as_str()))));
    }

    /// Kubernetes' longest: a 63-character namespace and a 253-character name.
    fn longest_owner(uid: &str) -> Owner {
        Owner::new("n".repeat(63), format!("{}.{}", "a".repeat(126), "b".repeat(126)), uid)
    }

    #[test]
    fn the_longest_kubernetes_names_fit_aws_limits() {
        let owner = longest_owner("uid-1");
        assert_eq!(owner.key().len(), 317);
        let tags = owner.tags("alb", &BTreeMap::new());
        assert_eq!(tags[TAG_OWNER].chars().count(), MAX_TAG_VALUE);
        assert!(tags.values().all(|v| v.chars().count() <= MAX_TAG_VALUE), "{tags:?}");
        assert!(tags[TAG_OWNER].starts_with(&owner.namespace));
        // the same key, the same tag: the CLI finds a stack by it
        assert_eq!(owner.key_tag(), longest_owner("uid-2").key_tag());
        let other = Owner::new(owner.namespace.clone(), format!("{}c", &owner.name[..252]), "uid-3");
        assert_ne!(
            owner.key_tag(),
            other.key_tag(),
            "a different name shares the head only"
        );
        for (suffix, max) in [("", 32), ("exec", 64), ("", 128), ("", 255)] {
            let name = owner.resource_name(suffix, max);
            assert!(name.len() <= max, "{name}");
        }
    }

    #[test]
    fn user_tags_and_ours_stay_within_aws_fifty() {
        let owner = Owner::new("ns", "api", "uid-1");
        let user: BTreeMap<String, String> = (0..crate::crd::MAX_USER_TAGS)
            .map(|i| (format!("k{i}"), String::new()))
            .chain([
                ("AWS:x".to_string(), String::new()),
                ("aws:y".to_string(), String::new()),
            ])
            .collect();
        let tags = owner.tags("task-definition", &user);
        // one more: the config fingerprint some parts carry (privateapi.io/config)
        assert!(tags.len() < 50, "{}", tags.len());
        assert!(!tags.keys().any(|k| k.to_lowercase().starts_with("aws:")));
    }

    #[test]
    fn short_keys_are_kept_whole() {
        let owner = Owner::new("shop", "orders", "uid-1");
        assert_eq!(owner.key_tag(), "shop/orders");
        assert_eq!(shorten("abc", 3), "abc");
        assert_eq!(shorten(&"x".repeat(40), 30).len(), 30);
    }

    #[test]
    fn offline_uid_is_stable() {
        assert_eq!(Owner::offline("a", "b"), Owner::offline("a", "b"));
        assert_ne!(Owner::offline("a", "b").uid, Owner::offline("a", "c").uid);
    }
}
