//! Envelope encryption: each secret has its own random data key; values are sealed
//! with it (AES-256-GCM) and the data key is sealed with a master key of the keyring.
//! Sealed bytes are `nonce (12) || ciphertext || tag`; the associated data binds each
//! ciphertext to its secret (and key name), so rows cannot be swapped unnoticed.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Key, Nonce};
use rand::RngCore;
use secrecy::{ExposeSecret, SecretBox, SecretString};
use uuid::Uuid;

use super::keyring::{KEY_LEN, Keyring};

const NONCE_LEN: usize = 12;

/// A secret's data key, in memory only while it is used.
pub struct DataKey(SecretBox<[u8; KEY_LEN]>);

impl DataKey {
    pub fn generate() -> Self {
        let mut key = Box::new([0u8; KEY_LEN]);
        rand::rngs::OsRng.fill_bytes(key.as_mut());
        DataKey(SecretBox::new(key))
    }

    fn cipher(&self) -> Aes256Gcm {
        Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(self.0.expose_secret()))
    }
}

#[derive(Debug, thiserror::Error)]
pub enum CryptoError {
    #[error("the keyring holds no key of version v{0}; add it back to read this secret")]
    MissingKey(u32),
    #[error("a sealed value failed authentication (wrong key or altered data)")]
    Tampered,
}

fn seal(cipher: &Aes256Gcm, plaintext: &[u8], aad: &[u8]) -> Vec<u8> {
    let mut nonce = [0u8; NONCE_LEN];
    rand::rngs::OsRng.fill_bytes(&mut nonce);
    let sealed = cipher
        .encrypt(
            Nonce::from_slice(&nonce),
            Payload {
                msg: plaintext,
                aad,
            },
        )
        .expect("BUG: AES-GCM encryption of a bounded message cannot fail");
    let mut out = nonce.to_vec();
    out.extend_from_slice(&sealed);
    out
}

fn open(cipher: &Aes256Gcm, sealed: &[u8], aad: &[u8]) -> Result<Vec<u8>, CryptoError> {
    if sealed.len() < NONCE_LEN {
        return Err(CryptoError::Tampered);
    }
    let (nonce, body) = sealed.split_at(NONCE_LEN);
    cipher
        .decrypt(Nonce::from_slice(nonce), Payload { msg: body, aad })
        .map_err(|_| CryptoError::Tampered)
}

fn key_aad(secret_id: Uuid) -> Vec<u8> {
    [b"weir-data-key:".as_slice(), secret_id.as_bytes()].concat()
}

fn value_aad(secret_id: Uuid, key: &str) -> Vec<u8> {
    [
        b"weir-secret-value:".as_slice(),
        secret_id.as_bytes(),
        key.as_bytes(),
    ]
    .concat()
}

/// Wraps `data_key` under the keyring's newest key: (version, sealed key).
pub fn wrap(keyring: &Keyring, secret_id: Uuid, data_key: &DataKey) -> (u32, Vec<u8>) {
    let master = keyring.current();
    let cipher = Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(master.expose()));
    (
        master.version(),
        seal(&cipher, data_key.0.expose_secret(), &key_aad(secret_id)),
    )
}

/// Unwraps a data key sealed under master key `version`.
pub fn unwrap(
    keyring: &Keyring,
    secret_id: Uuid,
    version: u32,
    sealed: &[u8],
) -> Result<DataKey, CryptoError> {
    let master = keyring
        .get(version)
        .ok_or(CryptoError::MissingKey(version))?;
    let cipher = Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(master.expose()));
    let bytes = open(&cipher, sealed, &key_aad(secret_id))?;
    let key: [u8; KEY_LEN] = bytes.try_into().map_err(|_| CryptoError::Tampered)?;
    Ok(DataKey(SecretBox::new(Box::new(key))))
}

/// Seals one value of a secret.
pub fn seal_value(data_key: &DataKey, secret_id: Uuid, key: &str, value: &SecretString) -> Vec<u8> {
    seal(
        &data_key.cipher(),
        value.expose_secret().as_bytes(),
        &value_aad(secret_id, key),
    )
}

/// Opens one value of a secret.
pub fn open_value(
    data_key: &DataKey,
    secret_id: Uuid,
    key: &str,
    sealed: &[u8],
) -> Result<SecretString, CryptoError> {
    let bytes = open(&data_key.cipher(), sealed, &value_aad(secret_id, key))?;
    String::from_utf8(bytes)
        .map(SecretString::from)
        .map_err(|_| CryptoError::Tampered)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keyring(spec: &str) -> Keyring {
        Keyring::parse(spec).expect("valid keyring")
    }

    #[test]
    fn values_round_trip_and_do_not_appear_in_the_sealed_bytes() {
        let ring = keyring(&Keyring::generate_entry(1));
        let id = Uuid::new_v4();
        let data = DataKey::generate();
        let (version, wrapped) = wrap(&ring, id, &data);
        assert_eq!(version, 1);
        let sealed = seal_value(&data, id, "password", &"marker-4711".to_string().into());
        assert!(!sealed.windows(11).any(|w| w == b"marker-4711"));
        let again = unwrap(&ring, id, version, &wrapped).expect("unwraps");
        let value = open_value(&again, id, "password", &sealed).expect("opens");
        assert_eq!(value.expose_secret(), "marker-4711");
    }

    #[test]
    fn swapped_rows_and_missing_keys_are_refused() {
        let ring = keyring(&Keyring::generate_entry(1));
        let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
        let data = DataKey::generate();
        let (version, wrapped) = wrap(&ring, a, &data);
        assert!(matches!(
            unwrap(&ring, b, version, &wrapped),
            Err(CryptoError::Tampered)
        ));
        let sealed = seal_value(&data, a, "user", &"x".to_string().into());
        assert!(
            open_value(&data, a, "password", &sealed).is_err(),
            "key names are bound"
        );
        assert!(matches!(
            unwrap(&ring, a, 7, &wrapped),
            Err(CryptoError::MissingKey(7))
        ));
    }

    #[test]
    fn a_newer_key_wraps_and_the_older_still_unwraps() {
        let v1 = Keyring::generate_entry(1);
        let old = keyring(&v1);
        let id = Uuid::new_v4();
        let data = DataKey::generate();
        let (_, wrapped_v1) = wrap(&old, id, &data);
        let both = keyring(&format!("{},{v1}", Keyring::generate_entry(2)));
        let key = unwrap(&both, id, 1, &wrapped_v1).expect("old key kept");
        let (version, wrapped_v2) = wrap(&both, id, &key);
        assert_eq!(version, 2);
        let only_new = keyring(&Keyring::generate_entry(2));
        assert!(
            unwrap(&only_new, id, 2, &wrapped_v2).is_err(),
            "a different v2 key cannot open it"
        );
        assert!(unwrap(&both, id, 2, &wrapped_v2).is_ok());
    }
}
