//! Signing keys: generation, sealing at rest, and the in-memory keyring.
//!
//! Private keys live in the database sealed with AES-256-GCM under a master key read from
//! `USHER_KEYS_DIR/master.key`, so every instance sharing the database and the master key signs
//! with the same keys, and a database dump alone reveals no private key.

use std::io::Write;
use std::path::{Path, PathBuf};

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey};
use p256::elliptic_curve::sec1::ToEncodedPoint;
use p256::pkcs8::EncodePrivateKey;
use rand::rngs::OsRng;
use rsa::pkcs1::EncodeRsaPrivateKey;
use rsa::traits::PublicKeyParts;
use serde_json::json;

use super::hashing::sha256;
use super::random;
use crate::store::keys::StoredKey;

const MASTER_KEY_FILE: &str = "master.key";

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("cannot use keys directory {path}: {cause}")]
    KeysDir { path: String, cause: String },
    #[error("{path} does not hold a valid master key (base64 of 32 bytes)")]
    BadMasterKey { path: String },
    #[error(
        "signing key {kid} cannot be unsealed: this instance's master key differs from the one \
         that sealed it (every instance sharing a database needs the same USHER_KEYS_DIR/master.key)"
    )]
    Unseal { kid: String },
    #[error("key generation failed: {0}")]
    Generate(String),
    #[error("stored key {kid} is invalid: {cause}")]
    Invalid { kid: String, cause: String },
}

/// The symmetric key that seals private signing keys in the database.
pub struct MasterKey(Aes256Gcm);

impl MasterKey {
    /// Reads `keys_dir/master.key`, creating the directory and a fresh key on first start.
    pub fn load_or_create(keys_dir: &Path) -> Result<Self, KeyError> {
        let path = keys_dir.join(MASTER_KEY_FILE);
        let dir_error = |cause: std::io::Error| KeyError::KeysDir {
            path: keys_dir.display().to_string(),
            cause: cause.to_string(),
        };
        std::fs::create_dir_all(keys_dir).map_err(dir_error)?;
        match std::fs::read_to_string(&path) {
            Ok(text) => Self::parse(&text).ok_or_else(|| KeyError::BadMasterKey { path: display(&path) }),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Self::create(&path),
            Err(error) => Err(dir_error(error)),
        }
    }

    fn parse(text: &str) -> Option<Self> {
        let bytes = STANDARD.decode(text.trim()).ok()?;
        Aes256Gcm::new_from_slice(&bytes).ok().map(Self)
    }

    fn create(path: &PathBuf) -> Result<Self, KeyError> {
        let file_error = |cause: std::io::Error| KeyError::KeysDir {
            path: display(path),
            cause: cause.to_string(),
        };
        let secret = random::bytes::<32>();
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        match options.open(path) {
            Ok(mut file) => {
                file.write_all(STANDARD.encode(secret).as_bytes())
                    .map_err(file_error)?;
                file.sync_all().map_err(file_error)?;
                Aes256Gcm::new_from_slice(&secret)
                    .map(Self)
                    .map_err(|_| KeyError::BadMasterKey { path: display(path) })
            }
            // Another instance sharing this directory created it first: use theirs.
            Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => {
                let text = std::fs::read_to_string(path).map_err(file_error)?;
                Self::parse(&text).ok_or_else(|| KeyError::BadMasterKey { path: display(path) })
            }
            Err(error) => Err(file_error(error)),
        }
    }

    fn seal(&self, kid: &str, plaintext: &[u8]) -> Result<String, KeyError> {
        let nonce_bytes = random::bytes::<12>();
        let sealed = self
            .0
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

    fn unseal(&self, kid: &str, sealed: &str) -> Result<Vec<u8>, KeyError> {
        let blob = STANDARD
            .decode(sealed)
            .map_err(|_| KeyError::Unseal { kid: kid.to_owned() })?;
        let (Some(nonce), Some(ciphertext)) = (blob.get(..12), blob.get(12..)) else {
            return Err(KeyError::Unseal { kid: kid.to_owned() });
        };
        let nonce: [u8; 12] = nonce
            .try_into()
            .map_err(|_| KeyError::Unseal { kid: kid.to_owned() })?;
        self.0
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
    pub const ALL: [Self; 2] = [Self::Es256, Self::Rs256];

    pub fn name(self) -> &'static str {
        match self {
            Self::Es256 => "ES256",
            Self::Rs256 => "RS256",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|alg| alg.name() == name)
    }

    pub fn jwt_algorithm(self) -> Algorithm {
        match self {
            Self::Es256 => Algorithm::ES256,
            Self::Rs256 => Algorithm::RS256,
        }
    }
}

/// A key ready to sign and verify.
pub struct SigningKey {
    pub kid: String,
    pub alg: SigningAlg,
    pub encoding: EncodingKey,
    pub decoding: DecodingKey,
    pub public_jwk: serde_json::Value,
    pub retired_at: Option<i64>,
}

impl SigningKey {
    /// Generates a key pair, returning it with the row that stores it sealed.
    pub fn generate(alg: SigningAlg, master: &MasterKey, now: i64) -> Result<(Self, StoredKey), KeyError> {
        let (private_der, mut public_jwk) = match alg {
            SigningAlg::Es256 => {
                let secret = p256::SecretKey::random(&mut OsRng);
                let der = secret
                    .to_pkcs8_der()
                    .map_err(|error| KeyError::Generate(error.to_string()))?;
                let point = secret.public_key().to_encoded_point(false);
                let (Some(x), Some(y)) = (point.x(), point.y()) else {
                    return Err(KeyError::Generate(
                        "P-256 public key has no affine coordinates".into(),
                    ));
                };
                (
                    der.as_bytes().to_vec(),
                    json!({"kty": "EC", "crv": "P-256", "x": URL_SAFE_NO_PAD.encode(x), "y": URL_SAFE_NO_PAD.encode(y)}),
                )
            }
            SigningAlg::Rs256 => {
                let private = rsa::RsaPrivateKey::new(&mut OsRng, 2048)
                    .map_err(|error| KeyError::Generate(error.to_string()))?;
                let der = private
                    .to_pkcs1_der()
                    .map_err(|error| KeyError::Generate(error.to_string()))?;
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

    pub fn from_stored(stored: &StoredKey, master: &MasterKey) -> Result<Self, KeyError> {
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
        let member = |name: &str| public_jwk[name].as_str().unwrap_or_default().to_owned();
        let (encoding, decoding) = match alg {
            SigningAlg::Es256 => (
                EncodingKey::from_ec_der(private_der),
                DecodingKey::from_ec_components(&member("x"), &member("y")),
            ),
            SigningAlg::Rs256 => (
                EncodingKey::from_rsa_der(private_der),
                DecodingKey::from_rsa_components(&member("n"), &member("e")),
            ),
        };
        let decoding = decoding.map_err(|error| KeyError::Invalid {
            kid: kid.clone(),
            cause: error.to_string(),
        })?;
        Ok(Self {
            kid,
            alg,
            encoding,
            decoding,
            public_jwk,
            retired_at,
        })
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
