//! `X-Hub-Signature-256`: `sha256=` and the lowercase hex HMAC-SHA256 of the raw body, keyed
//! with the app secret. Checked over the bytes exactly as received (Meta signs its escaped
//! form, `\/` and `\uXXXX` included) and before anything is parsed; the comparison is constant
//! time (`Mac::verify_slice`).

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// Why a delivery was not accepted as Meta's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("the X-Hub-Signature-256 header is missing")]
    Missing,
    #[error("the X-Hub-Signature-256 header is not sha256=<64 hex digits>")]
    Malformed,
    #[error("the X-Hub-Signature-256 header does not match the body")]
    Mismatch,
}

/// Checks `header` (the header's value, if any) against `body` signed with `app_secret`.
pub fn verify(app_secret: &[u8], header: Option<&str>, body: &[u8]) -> Result<(), SignatureError> {
    let header = header.ok_or(SignatureError::Missing)?;
    let hex_digest = header
        .trim()
        .strip_prefix("sha256=")
        .ok_or(SignatureError::Malformed)?;
    let expected = hex::decode(hex_digest).map_err(|_| SignatureError::Malformed)?;
    if expected.len() != 32 {
        return Err(SignatureError::Malformed);
    }
    let mut mac =
        Hmac::<Sha256>::new_from_slice(app_secret).expect("HMAC takes keys of any length");
    mac.update(body);
    mac.verify_slice(&expected)
        .map_err(|_| SignatureError::Mismatch)
}

/// The header value Meta would send for `body` (tests and the load generator sign with it).
pub fn sign(app_secret: &[u8], body: &[u8]) -> String {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(app_secret).expect("HMAC takes keys of any length");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The vectors of `../shared/fixtures/whatsapp/signature_vectors.json`.
    fn vectors() -> Vec<(String, Vec<u8>, String)> {
        let dir =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/fixtures/whatsapp");
        let file: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(dir.join("signature_vectors.json")).unwrap(),
        )
        .unwrap();
        file["vectors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| {
                let body = match (
                    v["body"].as_str(),
                    v["body_utf8"].as_str(),
                    v["body_file"].as_str(),
                ) {
                    (Some(b), _, _) | (None, Some(b), _) => b.as_bytes().to_vec(),
                    (None, None, Some(f)) => std::fs::read(dir.join(f)).unwrap(),
                    _ => panic!("vector without a body: {v}"),
                };
                (
                    v["app_secret"].as_str().unwrap().to_owned(),
                    body,
                    v["x_hub_signature_256"].as_str().unwrap().to_owned(),
                )
            })
            .collect()
    }

    #[test]
    fn every_published_vector_verifies_and_signs_the_same() {
        let vectors = vectors();
        assert_eq!(vectors.len(), 7);
        for (secret, body, header) in vectors {
            assert_eq!(
                verify(secret.as_bytes(), Some(&header), &body),
                Ok(()),
                "{header}"
            );
            assert_eq!(sign(secret.as_bytes(), &body), header);
        }
    }

    #[test]
    fn other_bytes_another_secret_or_a_bad_header_fail() {
        let body = br#"{"object":"whatsapp_business_account","entry":[]}"#;
        let good = sign(b"test_app_secret", body);
        assert_eq!(
            verify(b"otro_secreto", Some(&good), body),
            Err(SignatureError::Mismatch)
        );
        let spaced = br#"{"object": "whatsapp_business_account", "entry": []}"#;
        assert_eq!(
            verify(b"test_app_secret", Some(&good), spaced),
            Err(SignatureError::Mismatch)
        );
        // The same text, escaped differently, is other bytes.
        let escaped = br#"{"text":{"body":"\u00e4"}}"#;
        let raw = "{\"text\":{\"body\":\"ä\"}}".as_bytes();
        assert_eq!(
            verify(b"s", Some(&sign(b"s", escaped)), raw),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify(b"test_app_secret", None, body),
            Err(SignatureError::Missing)
        );
        for bad in ["sha1=abc", "sha256=zz", "sha256=abcd", ""] {
            assert_eq!(
                verify(b"test_app_secret", Some(bad), body),
                Err(SignatureError::Malformed),
                "{bad}"
            );
        }
        assert_eq!(
            verify(
                b"test_app_secret",
                Some(&good.to_uppercase().replace("SHA256=", "sha256=")),
                body
            ),
            Ok(())
        );
    }
}
