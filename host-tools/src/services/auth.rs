//! The HSM service's credential: one bearer token, shared by the service and its terminals.
//! It prints redacted, is zeroized on drop, and is compared in constant time (both sides hashed
//! to SHA-256 first, so neither the content nor the length of the token leaks through timing).

use std::path::Path;

use sha2::{Digest, Sha256};
use zeroize::{Zeroize, Zeroizing};

/// The environment variable that may hold the token instead of a file.
pub const TOKEN_ENV: &str = "SSCARD_HSM_TOKEN";
/// Fewer characters are refused: a token must not be guessable.
pub const TOKEN_MIN: usize = 16;
/// More characters are refused (and bounds what is read from a file).
pub const TOKEN_MAX: usize = 256;

/// Why a token cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("cannot read the token file {path}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "the token must be {TOKEN_MIN} to {TOKEN_MAX} printable ASCII characters without spaces"
    )]
    Shape,
}

/// A bearer token.
pub struct AccessToken(Zeroizing<String>);

impl std::fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AccessToken(<redacted>)")
    }
}

impl AccessToken {
    /// A token from its text (surrounding whitespace, such as a file's final newline, ignored).
    pub fn new(text: &str) -> Result<Self, TokenError> {
        let token = text.trim();
        let printable = token.bytes().all(|b| b.is_ascii_graphic());
        if !(TOKEN_MIN..=TOKEN_MAX).contains(&token.len()) || !printable {
            return Err(TokenError::Shape);
        }
        Ok(AccessToken(Zeroizing::new(token.to_owned())))
    }

    /// The token in a file (its first TOKEN_MAX + 2 bytes are read).
    pub fn from_file(path: &Path) -> Result<Self, TokenError> {
        use std::io::Read;
        let read = |source| TokenError::Read {
            path: path.display().to_string(),
            source,
        };
        let mut bytes = Zeroizing::new(Vec::new());
        std::fs::File::open(path)
            .map_err(read)?
            .take(TOKEN_MAX as u64 + 2)
            .read_to_end(&mut bytes)
            .map_err(read)?;
        let mut text = String::from_utf8(bytes.to_vec()).map_err(|e| {
            e.into_bytes().zeroize();
            TokenError::Shape
        })?;
        let token = AccessToken::new(&text);
        text.zeroize();
        token
    }

    /// Whether `presented` is this token, in time independent of where they differ.
    pub fn matches(&self, presented: &str) -> bool {
        let a = Sha256::digest(self.0.as_bytes());
        let b = Sha256::digest(presented.as_bytes());
        a.iter()
            .zip(b.iter())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
    }

    /// The value of an `Authorization` header that carries this token (for clients).
    pub fn header_value(&self) -> Zeroizing<String> {
        Zeroizing::new(format!("Bearer {}", self.0.as_str()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_matches_itself_only_and_prints_redacted() {
        let t = AccessToken::new("  0123456789abcdef-token\n").unwrap();
        assert!(t.matches("0123456789abcdef-token"));
        assert!(!t.matches("0123456789abcdef-tokem"));
        assert!(!t.matches("0123456789abcdef-token "));
        assert!(!t.matches(""));
        assert_eq!(format!("{t:?}"), "AccessToken(<redacted>)");
    }

    #[test]
    fn short_long_or_spaced_tokens_are_refused() {
        for bad in [
            "",
            "short",
            "has a space in the middle",
            &"x".repeat(TOKEN_MAX + 1),
        ] {
            assert!(AccessToken::new(bad).is_err(), "{bad:?}");
        }
    }
}
