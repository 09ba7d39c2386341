//! Generated user/password credentials for a managed nats-server.
//!
//! Owns [`Credentials`]: the random password comes from the kernel (`/dev/urandom`) and never
//! shows in `Debug` output.

use std::fmt;
use std::io::Read;

/// The user name of generated credentials.
pub const GENERATED_USER: &str = "parti-top";

/// Length of a generated password, in characters.
pub const PASSWORD_LENGTH_CHARS: usize = 32;

const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/// A user name and password accepted by a managed server.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    pub user: String,
    pub password: String,
}

impl Credentials {
    /// The user [`GENERATED_USER`] with a random alphanumeric password of
    /// [`PASSWORD_LENGTH_CHARS`] characters (about 190 bits).
    pub fn generate() -> Self {
        Self {
            user: GENERATED_USER.to_string(),
            password: random_alphanumeric(PASSWORD_LENGTH_CHARS),
        }
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("user", &self.user)
            .field("password", &"<redacted>")
            .finish()
    }
}

/// `len` characters drawn uniformly from `[A-Za-z0-9]`.
fn random_alphanumeric(len: usize) -> String {
    // Rejection sampling keeps the distribution uniform: 248 = 4 × 62.
    let limit = (256 / ALPHABET.len() * ALPHABET.len()) as u8;
    let mut out = String::with_capacity(len);
    while out.len() < len {
        for byte in random_bytes(len * 2) {
            if byte < limit && out.len() < len {
                out.push(char::from(ALPHABET[usize::from(byte) % ALPHABET.len()]));
            }
        }
    }
    out
}

fn random_bytes(count: usize) -> Vec<u8> {
    let mut buf = vec![0u8; count];
    let from_kernel = std::fs::File::open("/dev/urandom").and_then(|mut f| f.read_exact(&mut buf));
    if let Err(err) = from_kernel {
        tracing::warn!("cannot read /dev/urandom ({err}); using the std hasher's random keys");
        fallback_bytes(&mut buf);
    }
    buf
}

/// Bytes from std's randomly keyed SipHash, mixed with the clock and a counter.
fn fallback_bytes(buf: &mut [u8]) {
    use std::hash::{BuildHasher, Hasher};
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    for (index, chunk) in buf.chunks_mut(8).enumerate() {
        let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
        hasher.write_u128(nanos);
        hasher.write_usize(index);
        hasher.write_u32(std::process::id());
        let word = hasher.finish().to_le_bytes();
        chunk.copy_from_slice(&word[..chunk.len()]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_passwords_are_long_alphanumeric_and_distinct() {
        let a = Credentials::generate();
        let b = Credentials::generate();
        assert_eq!(a.user, GENERATED_USER);
        assert!(a.password.len() >= 24);
        assert!(a.password.chars().all(|c| c.is_ascii_alphanumeric()));
        assert_ne!(a.password, b.password);
    }

    #[test]
    fn debug_redacts_the_password() {
        let creds = Credentials {
            user: "alice".into(),
            password: "s3cret-value".into(),
        };
        let text = format!("{creds:?}");
        assert!(text.contains("alice"), "{text}");
        assert!(text.contains("<redacted>"), "{text}");
        assert!(!text.contains("s3cret"), "{text}");
    }

    #[test]
    fn fallback_fills_every_byte() {
        let mut buf = [0u8; 21];
        fallback_bytes(&mut buf);
        assert!(buf.iter().any(|&b| b != 0));
    }
}
