//! A ticket's classification (the seed's "Clasificación" tab): won or lost, interests, a
//! rating and the origin of the contact. A department's sales funnel may make some of these
//! mandatory for finalizing.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Won,
    Lost,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Classification {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcome: Option<Outcome>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub interests: Vec<String>,
    /// 1 to 5.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rating: Option<u8>,
    /// Where the contact came from: facebook, google, instagram or the company's own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin: Option<String>,
}

/// The fields a funnel may make mandatory.
pub const FIELDS: [&str; 4] = ["outcome", "interests", "rating", "origin"];

impl Classification {
    /// Checks values, naming the first bad field.
    pub fn validate(&self) -> Result<(), String> {
        if let Some(r) = self.rating
            && !(1..=5).contains(&r)
        {
            return Err(format!("rating: {r} is not between 1 and 5"));
        }
        if self.origin.as_deref().is_some_and(|o| o.trim().is_empty()) {
            return Err("origin: must not be empty".into());
        }
        if self.interests.iter().any(|i| i.trim().is_empty()) {
            return Err("interests: entries must not be empty".into());
        }
        Ok(())
    }

    /// This classification with every field `newer` sets taking its place.
    pub fn merged(&self, newer: &Classification) -> Classification {
        Classification {
            outcome: newer.outcome.or(self.outcome),
            interests: if newer.interests.is_empty() {
                self.interests.clone()
            } else {
                newer.interests.clone()
            },
            rating: newer.rating.or(self.rating),
            origin: newer.origin.clone().or_else(|| self.origin.clone()),
        }
    }

    /// The mandatory fields this classification leaves empty, in the order `required` lists them.
    pub fn missing(&self, required: &[String]) -> Vec<String> {
        required
            .iter()
            .filter(|field| match field.as_str() {
                "outcome" => self.outcome.is_none(),
                "interests" => self.interests.is_empty(),
                "rating" => self.rating.is_none(),
                "origin" => self.origin.is_none(),
                _ => false,
            })
            .cloned()
            .collect()
    }
}

/// Checks a department's list of mandatory fields.
pub fn validate_required(required: &[String]) -> Result<(), String> {
    match required.iter().find(|f| !FIELDS.contains(&f.as_str())) {
        Some(bad) => Err(format!(
            "required_fields: unknown field {bad:?} (expected one of {})",
            FIELDS.join(", ")
        )),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_newer_classification_wins_field_by_field() {
        let saved = Classification {
            outcome: Some(Outcome::Lost),
            interests: vec!["planes".into()],
            rating: Some(3),
            origin: None,
        };
        let newer = Classification {
            outcome: Some(Outcome::Won),
            origin: Some("google".into()),
            ..Classification::default()
        };
        let merged = saved.merged(&newer);
        assert_eq!(merged.outcome, Some(Outcome::Won));
        assert_eq!(merged.interests, ["planes"]);
        assert_eq!(merged.rating, Some(3));
        assert_eq!(merged.origin.as_deref(), Some("google"));
    }

    #[test]
    fn missing_lists_only_empty_required_fields() {
        let c = Classification {
            outcome: Some(Outcome::Won),
            rating: Some(4),
            ..Default::default()
        };
        let required: Vec<String> = ["outcome", "origin", "interests"].map(String::from).into();
        assert_eq!(c.missing(&required), vec!["origin", "interests"]);
        assert!(c.missing(&[]).is_empty());
    }

    #[test]
    fn bad_values_name_the_field() {
        let c = Classification {
            rating: Some(9),
            ..Default::default()
        };
        assert!(c.validate().unwrap_err().starts_with("rating"));
        assert!(
            validate_required(&["color".into()])
                .unwrap_err()
                .contains("\"color\"")
        );
        assert!(validate_required(&["rating".into()]).is_ok());
    }
}
