//! E-mail addresses as the daemon keeps them (operators' logins, contacts' profiles): trimmed,
//! lower-cased and checked in one place, so every way in refuses the same addresses.

/// The longest address kept (RFC 5321's limit on a forward path, in bytes).
pub const MAX_BYTES: usize = 320;

/// The address as stored, or why it is refused: a phrase that quotes what was given.
pub fn normalize(raw: &str) -> Result<String, String> {
    let email = raw.trim().to_lowercase();
    if email.len() > MAX_BYTES || !email_address::EmailAddress::is_valid(&email) {
        return Err(format!("{raw:?} is not an e-mail address"));
    }
    Ok(email)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_trimmed_and_lower_cased() {
        assert_eq!(normalize("  Ana@Example.COM ").unwrap(), "ana@example.com");
    }

    #[test]
    fn what_is_not_an_address_is_refused_by_its_own_text() {
        for bad in ["", "ana", "@", "ana@", "a b@example.com"] {
            assert_eq!(
                normalize(bad),
                Err(format!("{bad:?} is not an e-mail address")),
                "{bad:?}"
            );
        }
        let long = format!("{}@example.com", "a".repeat(MAX_BYTES));
        assert!(normalize(&long).is_err(), "longer than {MAX_BYTES} bytes");
    }
}
