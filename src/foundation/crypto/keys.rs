//! Signing keys: generation, sealing at rest, and the in-memory keyring.
//!
//! Private keys live in the database sealed with AES-256-GCM under a master key read from
//! `USHER_KEYS_DIR/master.key`, so every instance sharing the database and the master key signs
//! with the same keys, and a database dump alone reveals no private key.

use std::io::Write;
use std::path::Path;

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use rand::rngs::OsRng;
use ring::rand::SystemRandom;
use ring::signature::{
    ECDSA_P256_SHA256_FIXED, ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair,
    RSA_PKCS1_2048_8192_SHA256, RSA_PKCS1_SHA256, RsaKeyPair, RsaPublicKeyComponents, UnparsedPublicKey,
};
use rsa::pkcs1::EncodeRsaPrivateKey;
use rsa::traits::PublicKeyParts;
use serde_json::json;

use crate::foundation::crypto::hashing::sha256;
use crate::foundation::crypto::random;
use crate::foundation::private_files;
use crate::foundation::store::keys::StoredKey;

const MASTER_KEY_FILE: &str = "master.key";

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("cannot use keys directory {path}: {cause}")]
    KeysDir { path: String, cause: String },
    #[error(
        "keys directory {path} is a file, not a directory: point USHER_KEYS_DIR (keys_dir) at a directory"
    )]
    KeysDirIsFile { path: String },
    #[error("{path} does not hold a valid master key (base64 of 32 bytes)")]
    BadMasterKey { path: String },
    #[error(
        "signing key {kid} cannot be unsealed: this instance's master key differs from the one \
         that sealed it (every instance sharing a database needs the same USHER_KEYS_DIR/master.key)"
    )]
    Unseal { kid: String },
    #[error(
        "no master key at {path}: this command does not create one. Point USHER_KEYS_DIR (or \
         --config) at the keys directory of the server that uses this database"
    )]
    NoMasterKey { path: String },
    #[error("key generation failed: {0}")]
    Generate(String),
    #[error("stored key {kid} is invalid: {cause}")]
    Invalid { kid: String, cause: String },
}

/// The symmetric key that seals private signing keys in the database, and keys derived
/// from it for the tokens every instance must derive alike.
pub struct MasterKey {
    sealing: Aes256Gcm,
    successors: ring::hmac::Key,
    csrf: ring::hmac::Key,
}

impl MasterKey {
    /// Reads `keys_dir/master.key`, creating the directory and a fresh key on first start.
    pub fn load_or_create(keys_dir: &Path) -> Result<Self, KeyError> {
        if keys_dir.is_file() {
            return Err(KeyError::KeysDirIsFile {
                path: keys_dir.display().to_string(),
            });
        }
        let path = keys_dir.join(MASTER_KEY_FILE);
        let dir_error = |cause: std::io::Error| KeyError::KeysDir {
            path: keys_dir.display().to_string(),
            cause: cause.to_string(),
        };
        private_files::create_dir(keys_dir).map_err(dir_error)?;
        private_files::warn_if_open_to_others(keys_dir, "the keys directory");
        private_files::warn_if_open_to_others(&path, "the master key");
        match std::fs::read_to_string(&path) {
            Ok(text) => Self::parse(&text).ok_or_else(|| KeyError::BadMasterKey { path: display(&path) }),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Self::create(&path),
            Err(error) => Err(dir_error(error)),
        }
    }

    /// Reads `keys_dir/master.key`, which must exist: for commands that add keys sealed with
    /// it, which a server with another key could not open.
    pub fn load_existing(keys_dir: &Path) -> Result<Self, KeyError> {
        if keys_dir.is_file() {
            return Err(KeyError::KeysDirIsFile {
                path: keys_dir.display().to_string(),
            });
        }
        let path = keys_dir.join(MASTER_KEY_FILE);
        match std::fs::read_to_string(&path) {
            Ok(text) => Self::parse(&text).ok_or_else(|| KeyError::BadMasterKey { path: display(&path) }),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                Err(KeyError::NoMasterKey { path: display(&path) })
            }
            Err(error) => Err(KeyError::KeysDir {
                path: keys_dir.display().to_string(),
                cause: error.to_string(),
            }),
        }
    }

    fn parse(text: &str) -> Option<Self> {
        let bytes = STANDARD.decode(text.trim()).ok()?;
        Self::from_secret(&bytes)
    }

    fn from_secret(secret: &[u8]) -> Option<Self> {
        let sealing = Aes256Gcm::new_from_slice(secret).ok()?;
        let derivation = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret);
        let successor_secret = ring::hmac::sign(&derivation, b"usher refresh-token successors v1");
        let csrf_secret = ring::hmac::sign(&derivation, b"usher csrf tokens v1");
        Some(Self {
            sealing,
            successors: ring::hmac::Key::new(ring::hmac::HMAC_SHA256, successor_secret.as_ref()),
            csrf: ring::hmac::Key::new(ring::hmac::HMAC_SHA256, csrf_secret.as_ref()),
        })
    }

    /// The refresh token that replaces `token` when it is rotated. Derived, not random, so a
    /// token presented twice within the reuse grace yields the same successor instead of a
    /// second live branch; only the server can compute it.
    pub(crate) fn successor_token(&self, token: &str) -> String {
        URL_SAFE_NO_PAD.encode(ring::hmac::sign(&self.successors, token.as_bytes()))
    }

    /// The CSRF token of the browser `binding` names. Only the server can compute it, so a
    /// token carried off from one browser, or planted with a cookie, fits no other binding.
    pub(crate) fn csrf_token(&self, binding: &str) -> String {
        URL_SAFE_NO_PAD.encode(ring::hmac::sign(&self.csrf, binding.as_bytes()))
    }

    /// Whether `token` is [`Self::csrf_token`] of `binding`, compared in constant time.
    pub(crate) fn is_csrf_token(&self, binding: &str, token: &str) -> bool {
        URL_SAFE_NO_PAD
            .decode(token)
            .is_ok_and(|tag| ring::hmac::verify(&self.csrf, binding.as_bytes(), &tag).is_ok())
    }

    /// Writes a fresh key to a private temporary file, then links it into place: the link
    /// either creates `master.key` complete or fails because another instance sharing the
    /// directory got there first, whose key is then used. No reader sees a half-written file.
    fn create(path: &Path) -> Result<Self, KeyError> {
        let file_error = |cause: std::io::Error| KeyError::KeysDir {
            path: display(path),
            cause: cause.to_string(),
        };
        let secret = random::bytes::<32>();
        let temporary = path.with_extension(format!("tmp-{}", random::token::<6>()));
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let written = options.open(&temporary).and_then(|mut file| {
            file.write_all(STANDARD.encode(secret).as_bytes())?;
            file.sync_all()
        });
        let linked = written.and_then(|()| std::fs::hard_link(&temporary, path));
        let _ = std::fs::remove_file(&temporary);
        match linked {
            Ok(()) => {
                Self::from_secret(&secret).ok_or_else(|| KeyError::BadMasterKey { path: display(path) })
            }
            Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => {
                let text = std::fs::read_to_string(path).map_err(file_error)?;
                Self::parse(&text).ok_or_else(|| KeyError::BadMasterKey { path: display(path) })
            }
            Err(error) => Err(file_error(error)),
        }
    }

    /// Encrypts `plaintext` bound to `kid` (the associated data: a sealed value only opens
    /// under the name it was sealed for).
    pub(crate) fn seal(&self, kid: &str, plaintext: &[u8]) -> Result<String, KeyError> {
        let nonce_bytes = random::bytes::<12>();
        let sealed = self
            .sealing
            .encrypt(
                &Nonce::from(nonce_bytes),
                Payload {
                    msg: plaintext,
                    aad: kid.as_bytes(),
                },
            )
            .map_err(|_| KeyError::Generate("sealing failed".into()))?;
        let mut blob = nonce_bytes.to_vec();
        blob.extend_from_slice(&sealed);
        Ok(STANDARD.encode(blob))
    }

    pub fn unseal(&self, kid: &str, sealed: &str) -> Result<Vec<u8>, KeyError> {
        let blob = STANDARD
            .decode(sealed)
            .map_err(|_| KeyError::Unseal { kid: kid.to_owned() })?;
        let (Some(nonce), Some(ciphertext)) = (blob.get(..12), blob.get(12..)) else {
            return Err(KeyError::Unseal { kid: kid.to_owned() });
        };
        let nonce: [u8; 12] = nonce
            .try_into()
            .map_err(|_| KeyError::Unseal { kid: kid.to_owned() })?;
        self.sealing
            .decrypt(
                &Nonce::from(nonce),
                Payload {
                    msg: ciphertext,
                    aad: kid.as_bytes(),
                },
            )
            .map_err(|_| KeyError::Unseal { kid: kid.to_owned() })
    }
}

fn display(path: &Path) -> String {
    path.display().to_string()
}

/// The JWS algorithms Usher signs with.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SigningAlg {
    Es256,
    Rs256,
}

impl SigningAlg {
    pub(crate) const ALL: [Self; 2] = [Self::Es256, Self::Rs256];

    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::Es256 => "ES256",
            Self::Rs256 => "RS256",
        }
    }

    pub(crate) fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|alg| alg.name() == name)
    }
}

/// The private half, parsed once when the key is loaded: signing then costs one signature,
/// not a key decoding and public-key derivation per token.
enum PrivateKey {
    Ecdsa(EcdsaKeyPair),
    Rsa(RsaKeyPair),
}

enum PublicKey {
    Ecdsa(UnparsedPublicKey<Vec<u8>>),
    Rsa(RsaPublicKeyComponents<Vec<u8>>),
}

/// A key ready to sign and verify JWS compact serialisations.
pub struct SigningKey {
    pub kid: String,
    pub alg: SigningAlg,
    pub public_jwk: serde_json::Value,
    pub retired_at: Option<i64>,
    private: PrivateKey,
    public: PublicKey,
}

#[derive(Debug, thiserror::Error)]
#[error("signing with key {0} failed")]
pub(crate) struct SigningFailed(String);

impl SigningKey {
    /// Generates a key pair, returning it with the row that stores it sealed.
    pub(crate) fn generate(
        alg: SigningAlg,
        master: &MasterKey,
        now: i64,
    ) -> Result<(Self, StoredKey), KeyError> {
        let generate_error = |error: &dyn std::fmt::Display| KeyError::Generate(error.to_string());
        let (private_der, mut public_jwk) = match alg {
            SigningAlg::Es256 => {
                let pkcs8 =
                    EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &SystemRandom::new())
                        .map_err(|error| generate_error(&error))?;
                let pair = EcdsaKeyPair::from_pkcs8(
                    &ECDSA_P256_SHA256_FIXED_SIGNING,
                    pkcs8.as_ref(),
                    &SystemRandom::new(),
                )
                .map_err(|error| generate_error(&error))?;
                // An uncompressed SEC1 point: 0x04, then x and y, 32 bytes each.
                let point = pair.public_key().as_ref();
                let (Some(x), Some(y)) = (point.get(1..33), point.get(33..65)) else {
                    return Err(KeyError::Generate("unexpected P-256 public key encoding".into()));
                };
                (
                    pkcs8.as_ref().to_vec(),
                    json!({"kty": "EC", "crv": "P-256", "x": URL_SAFE_NO_PAD.encode(x), "y": URL_SAFE_NO_PAD.encode(y)}),
                )
            }
            SigningAlg::Rs256 => {
                let private =
                    rsa::RsaPrivateKey::new(&mut OsRng, 2048).map_err(|error| generate_error(&error))?;
                let der = private.to_pkcs1_der().map_err(|error| generate_error(&error))?;
                (
                    der.as_bytes().to_vec(),
                    json!({
                        "kty": "RSA",
                        "n": URL_SAFE_NO_PAD.encode(private.n().to_bytes_be()),
                        "e": URL_SAFE_NO_PAD.encode(private.e().to_bytes_be()),
                    }),
                )
            }
        };
        let kid = thumbprint(&public_jwk);
        public_jwk["kid"] = json!(kid);
        public_jwk["alg"] = json!(alg.name());
        public_jwk["use"] = json!("sig");
        let stored = StoredKey {
            kid: kid.clone(),
            alg: alg.name().to_owned(),
            public_jwk: public_jwk.to_string(),
            sealed_private_key: master.seal(&kid, &private_der)?,
            created_at: now,
            retired_at: None,
            publish_until: None,
        };
        Ok((Self::assemble(kid, alg, &private_der, public_jwk, None)?, stored))
    }

    pub(crate) fn from_stored(stored: &StoredKey, master: &MasterKey) -> Result<Self, KeyError> {
        let invalid = |cause: &str| KeyError::Invalid {
            kid: stored.kid.clone(),
            cause: cause.to_owned(),
        };
        let alg = SigningAlg::parse(&stored.alg).ok_or_else(|| invalid("unknown algorithm"))?;
        let public_jwk: serde_json::Value =
            serde_json::from_str(&stored.public_jwk).map_err(|error| invalid(&error.to_string()))?;
        let private_der = master.unseal(&stored.kid, &stored.sealed_private_key)?;
        Self::assemble(
            stored.kid.clone(),
            alg,
            &private_der,
            public_jwk,
            stored.retired_at,
        )
    }

    fn assemble(
        kid: String,
        alg: SigningAlg,
        private_der: &[u8],
        public_jwk: serde_json::Value,
        retired_at: Option<i64>,
    ) -> Result<Self, KeyError> {
        let invalid = |cause: &dyn std::fmt::Display| KeyError::Invalid {
            kid: kid.clone(),
            cause: cause.to_string(),
        };
        let member = |name: &str| {
            public_jwk[name]
                .as_str()
                .and_then(|text| URL_SAFE_NO_PAD.decode(text).ok())
                .ok_or_else(|| invalid(&format!("public key member {name} is missing")))
        };
        if thumbprint(&public_jwk) != kid {
            return Err(invalid(&"the key id is not the thumbprint of the published key"));
        }
        let (private, public) = match alg {
            SigningAlg::Es256 => {
                let pair = EcdsaKeyPair::from_pkcs8(
                    &ECDSA_P256_SHA256_FIXED_SIGNING,
                    private_der,
                    &SystemRandom::new(),
                )
                .map_err(|error| invalid(&error))?;
                let mut point = vec![0x04];
                point.extend(member("x")?);
                point.extend(member("y")?);
                if point != pair.public_key().as_ref() {
                    return Err(invalid(
                        &"the published public key does not match the private key",
                    ));
                }
                (
                    PrivateKey::Ecdsa(pair),
                    PublicKey::Ecdsa(UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, point)),
                )
            }
            SigningAlg::Rs256 => {
                let pair = RsaKeyPair::from_der(private_der).map_err(|error| invalid(&error))?;
                // The public half comes from the sealed private key; the stored JWK must agree,
                // so a row edited without the master key cannot bring its own modulus.
                let components = RsaPublicKeyComponents::<Vec<u8>>::from(pair.public());
                if components.n != member("n")? || components.e != member("e")? {
                    return Err(invalid(
                        &"the published public key does not match the private key",
                    ));
                }
                (PrivateKey::Rsa(pair), PublicKey::Rsa(components))
            }
        };
        Ok(Self {
            kid,
            alg,
            public_jwk,
            retired_at,
            private,
            public,
        })
    }

    /// The JWS signature over `signing_input` (`BASE64URL(header) || '.' || BASE64URL(payload)`).
    pub(crate) fn sign(&self, signing_input: &[u8]) -> Result<Vec<u8>, SigningFailed> {
        let failed = |_| SigningFailed(self.kid.clone());
        let rng = SystemRandom::new();
        match &self.private {
            PrivateKey::Ecdsa(pair) => pair
                .sign(&rng, signing_input)
                .map(|signature| signature.as_ref().to_vec())
                .map_err(failed),
            PrivateKey::Rsa(pair) => {
                let mut signature = vec![0; pair.public().modulus_len()];
                pair.sign(&RSA_PKCS1_SHA256, &rng, signing_input, &mut signature)
                    .map_err(failed)?;
                Ok(signature)
            }
        }
    }

    pub(crate) fn verify(&self, signing_input: &[u8], signature: &[u8]) -> bool {
        match &self.public {
            PublicKey::Ecdsa(key) => key.verify(signing_input, signature).is_ok(),
            PublicKey::Rsa(key) => key
                .verify(&RSA_PKCS1_2048_8192_SHA256, signing_input, signature)
                .is_ok(),
        }
    }
}

/// RFC 7638 JWK thumbprint: SHA-256 over the required members in lexicographic order.
fn thumbprint(jwk: &serde_json::Value) -> String {
    let member = |name: &str| jwk[name].as_str().unwrap_or_default().to_owned();
    let canonical = match jwk["kty"].as_str() {
        Some("EC") => format!(
            r#"{{"crv":"{}","kty":"EC","x":"{}","y":"{}"}}"#,
            member("crv"),
            member("x"),
            member("y")
        ),
        _ => format!(r#"{{"e":"{}","kty":"RSA","n":"{}"}}"#, member("e"), member("n")),
    };
    URL_SAFE_NO_PAD.encode(sha256(canonical.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn master() -> (tempfile::TempDir, MasterKey) {
        let dir = tempfile::tempdir().expect("tempdir");
        let master = MasterKey::load_or_create(dir.path()).expect("master key");
        (dir, master)
    }

    #[test]
    fn a_keys_directory_that_is_a_file_is_reported_as_a_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("keys");
        std::fs::write(&file, "").expect("write");
        let refused = MasterKey::load_or_create(&file)
            .err()
            .map(|error| error.to_string());
        assert!(
            refused
                .as_deref()
                .is_some_and(|message| message.contains("is a file, not a directory")),
            "{refused:?}"
        );
    }

    #[test]
    fn a_csrf_token_fits_only_the_binding_it_was_made_for() {
        let (_dir, master) = master();
        let token = master.csrf_token("session:one");
        assert!(master.is_csrf_token("session:one", &token));
        assert!(!master.is_csrf_token("session:two", &token));
        assert!(!master.is_csrf_token("session:one", "not base64url!"));
        assert!(!master.is_csrf_token("session:one", ""));
    }

    #[test]
    fn another_master_key_makes_other_csrf_tokens() {
        let (_dir, one) = master();
        let (_other_dir, other) = master();
        assert!(!other.is_csrf_token("session:one", &one.csrf_token("session:one")));
    }

    #[test]
    fn a_stored_key_round_trips_through_sealing_and_still_verifies_its_signatures() {
        let (_dir, master) = master();
        for alg in SigningAlg::ALL {
            let (key, stored) = SigningKey::generate(alg, &master, 0).expect("generated");
            let signature = key.sign(b"header.payload").expect("signed");
            let loaded = SigningKey::from_stored(&stored, &master).expect("loaded");
            assert!(loaded.verify(b"header.payload", &signature), "{alg:?}");
            assert!(!loaded.verify(b"header.payloaD", &signature), "{alg:?}");
        }
    }

    #[test]
    fn a_public_key_swapped_in_the_database_is_refused() {
        let (_dir, master) = master();
        let (_, mut rsa) = SigningKey::generate(SigningAlg::Rs256, &master, 0).expect("generated");
        let (_, other) = SigningKey::generate(SigningAlg::Rs256, &master, 0).expect("generated");
        let mut jwk: serde_json::Value = serde_json::from_str(&rsa.public_jwk).expect("json");
        let other_jwk: serde_json::Value = serde_json::from_str(&other.public_jwk).expect("json");
        jwk["n"] = other_jwk["n"].clone();
        rsa.public_jwk = jwk.to_string();
        assert!(matches!(
            SigningKey::from_stored(&rsa, &master),
            Err(KeyError::Invalid { .. })
        ));
    }

    #[test]
    fn a_key_sealed_under_another_master_key_cannot_be_opened() {
        let (_dir, master) = master();
        let (_other_dir, other_master) = self::master();
        let (_, stored) = SigningKey::generate(SigningAlg::Es256, &master, 0).expect("generated");
        assert!(matches!(
            SigningKey::from_stored(&stored, &other_master),
            Err(KeyError::Unseal { .. })
        ));
    }

    #[test]
    fn the_master_key_file_is_private_and_reused() {
        let dir = tempfile::tempdir().expect("tempdir");
        MasterKey::load_or_create(dir.path()).expect("created");
        let path = dir.path().join(MASTER_KEY_FILE);
        let first = std::fs::read_to_string(&path).expect("written");
        MasterKey::load_or_create(dir.path()).expect("reused");
        assert_eq!(std::fs::read_to_string(&path).expect("still there"), first);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).expect("metadata").permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let leftovers = std::fs::read_dir(dir.path()).expect("dir").count();
        assert_eq!(leftovers, 1, "no temporary file is left behind");
        let nested = dir.path().join("keys");
        MasterKey::load_or_create(&nested).expect("created in a new directory");
        assert!(
            !private_files::open_to_others(&nested),
            "the keys directory is 0700"
        );
    }

    #[test]
    fn loading_an_existing_master_key_creates_none() {
        let dir = tempfile::tempdir().expect("temp dir");
        let refused = MasterKey::load_existing(dir.path()).err().expect("refused");
        assert!(refused.to_string().starts_with("no master key at "), "{refused}");
        assert!(!dir.path().join(MASTER_KEY_FILE).exists());
        MasterKey::load_or_create(dir.path()).expect("created");
        MasterKey::load_existing(dir.path()).expect("read");
    }
}
