//! A contact's profile (the side panel's contact data and address), how an edit is read and
//! checked, and who may see a contact at all.
//!
//! An edit (`PATCH`) names only the fields it changes; `null` clears one. Every field is checked
//! before anything changes, and a refusal names the field. The edit yields the list of changes
//! (field, old, new) that storage keeps as the contact's audit trail.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::ids::OperatorId;
use super::visibility::{Placement, Viewer, can_see};

/// The longest value of a free-text profile field.
pub const MAX_FIELD_CHARS: usize = 200;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Address {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub street: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub number: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub neighbourhood: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub city: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub country: Option<String>,
}

const ADDRESS_FIELDS: [&str; 6] = [
    "street",
    "number",
    "neighbourhood",
    "city",
    "state",
    "country",
];

impl Address {
    fn slot(&mut self, field: &str) -> &mut Option<String> {
        match field {
            "street" => &mut self.street,
            "number" => &mut self.number,
            "neighbourhood" => &mut self.neighbourhood,
            "city" => &mut self.city,
            "state" => &mut self.state,
            _ => &mut self.country,
        }
    }

    fn is_empty(&self) -> bool {
        *self == Address::default()
    }
}

/// The editable part of a contact.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Profile {
    pub name: String,
    pub email: Option<String>,
    pub sex: Option<String>,
    pub company: Option<String>,
    pub position: Option<String>,
    pub document: Option<String>,
    pub address: Option<Address>,
}

/// The free-text fields besides `name`, `email` and `address`.
const TEXT_FIELDS: [&str; 4] = ["sex", "company", "position", "document"];

impl Profile {
    fn text_field(&self, field: &str) -> &Option<String> {
        match field {
            "sex" => &self.sex,
            "company" => &self.company,
            "position" => &self.position,
            _ => &self.document,
        }
    }

    fn text_slot(&mut self, field: &str) -> &mut Option<String> {
        match field {
            "sex" => &mut self.sex,
            "company" => &mut self.company,
            "position" => &mut self.position,
            _ => &mut self.document,
        }
    }
}

/// One changed field, as the audit trail keeps it.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldChange {
    pub field: &'static str,
    pub old: Value,
    pub new: Value,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {problem}")]
pub struct FieldError {
    pub field: String,
    pub problem: String,
}

fn refuse(field: impl Into<String>, problem: impl Into<String>) -> FieldError {
    FieldError {
        field: field.into(),
        problem: problem.into(),
    }
}

/// A text value as stored: trimmed, bounded, without control characters (which some
/// databases refuse and no profile needs). An empty text clears the field.
fn text(field: &str, value: &Value) -> Result<Option<String>, FieldError> {
    let text = match value {
        Value::Null => return Ok(None),
        Value::String(s) => s.trim(),
        _ => return Err(refuse(field, "must be a string or null")),
    };
    if text.chars().count() > MAX_FIELD_CHARS {
        return Err(refuse(
            field,
            format!("longer than {MAX_FIELD_CHARS} characters"),
        ));
    }
    if text.chars().any(char::is_control) {
        return Err(refuse(field, "must not contain control characters"));
    }
    Ok((!text.is_empty()).then(|| text.to_owned()))
}

/// Applies an edit (the `PATCH` body) to `current`: the new profile and what changed, or the
/// first field that is wrong (and nothing changes).
pub fn edit(
    current: &Profile,
    patch: &Map<String, Value>,
) -> Result<(Profile, Vec<FieldChange>), FieldError> {
    let mut next = current.clone();
    for (field, value) in patch {
        match field.as_str() {
            "name" => {
                next.name = text("name", value)?
                    .ok_or_else(|| refuse("name", "must not be empty or only spaces"))?;
            }
            "email" => {
                next.email = text("email", value)?
                    .map(|email| super::email::normalize(&email))
                    .transpose()
                    .map_err(|why| refuse("email", why))?;
            }
            "address" => {
                next.address = match value {
                    Value::Null => None,
                    Value::Object(parts) => {
                        let mut address = current.address.clone().unwrap_or_default();
                        for (part, v) in parts {
                            let Some(known) = ADDRESS_FIELDS.iter().find(|f| **f == part) else {
                                return Err(refuse(
                                    format!("address.{part}"),
                                    format!(
                                        "unknown field (expected one of {})",
                                        ADDRESS_FIELDS.join(", ")
                                    ),
                                ));
                            };
                            *address.slot(known) = text(&format!("address.{part}"), v)?;
                        }
                        (!address.is_empty()).then_some(address)
                    }
                    _ => return Err(refuse("address", "must be an object or null")),
                };
            }
            other => match TEXT_FIELDS.iter().find(|f| **f == other) {
                Some(known) => *next.text_slot(known) = text(known, value)?,
                None => {
                    return Err(refuse(
                        other,
                        "unknown field (editable: name, email, sex, company, position, document, address)",
                    ));
                }
            },
        }
    }
    let changes = changes(current, &next);
    Ok((next, changes))
}

fn changes(old: &Profile, new: &Profile) -> Vec<FieldChange> {
    let mut out = Vec::new();
    let mut compare = |field: &'static str, a: Value, b: Value| {
        if a != b {
            out.push(FieldChange {
                field,
                old: a,
                new: b,
            });
        }
    };
    compare(
        "name",
        Value::from(old.name.as_str()),
        Value::from(new.name.as_str()),
    );
    compare("email", json(&old.email), json(&new.email));
    for field in TEXT_FIELDS {
        compare(
            field,
            json(old.text_field(field)),
            json(new.text_field(field)),
        );
    }
    compare("address", json(&old.address), json(&new.address));
    out
}

fn json<T: Serialize>(v: &T) -> Value {
    serde_json::to_value(v).unwrap_or(Value::Null)
}

/// What decides who may see a contact: where its tickets stand, and who ever owned one.
#[derive(Debug, Clone, Default)]
pub struct ContactFacts {
    pub tickets: Vec<Placement>,
    pub served_by: Vec<OperatorId>,
}

/// The contract's rule: whoever may see one of the contact's tickets now (which includes the
/// last owner of a closed one), or served one of them before, plus supervisors of those
/// tickets' departments and admins.
pub fn can_see_contact(viewer: &Viewer, facts: &ContactFacts) -> bool {
    viewer.is_admin()
        || facts.served_by.contains(&viewer.id)
        || facts.tickets.iter().any(|t| can_see(viewer, t))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::domain::ids::DepartmentId;
    use crate::domain::ticket::TicketState;
    use crate::domain::visibility::Role;

    fn patch(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    fn profile() -> Profile {
        Profile {
            name: "Sheena".into(),
            ..Profile::default()
        }
    }

    #[test]
    fn an_edit_sets_clears_and_reports_what_changed() {
        let (next, changes) = edit(
            &profile(),
            &patch(
                json!({"name": "  Sheena Nelson ", "email": "Sheena@Example.com", "company": "Acme",
                          "address": {"city": "Córdoba", "country": "Argentina"}}),
            ),
        )
        .unwrap();
        assert_eq!(next.name, "Sheena Nelson");
        assert_eq!(next.email.as_deref(), Some("sheena@example.com"));
        assert_eq!(
            next.address.as_ref().unwrap().city.as_deref(),
            Some("Córdoba")
        );
        let fields: Vec<&str> = changes.iter().map(|c| c.field).collect();
        assert_eq!(fields, ["name", "email", "company", "address"]);
        assert_eq!(changes[0].old, json!("Sheena"));

        let (cleared, changes) = edit(
            &next,
            &patch(json!({"company": null, "address": {"city": null}})),
        )
        .unwrap();
        assert_eq!(cleared.company, None);
        assert_eq!(
            cleared.address.unwrap().country.as_deref(),
            Some("Argentina"),
            "other parts stay"
        );
        assert_eq!(changes.len(), 2);
        let (same, changes) = edit(&next, &patch(json!({"company": "Acme"}))).unwrap();
        assert_eq!(same, next);
        assert!(changes.is_empty());
    }

    #[test]
    fn a_bad_field_is_named_and_nothing_changes() {
        for (body, field) in [
            (json!({"email": "@"}), "email"),
            (json!({"email": "no-at-sign"}), "email"),
            (json!({"name": "   "}), "name"),
            (json!({"name": null}), "name"),
            (json!({"name": "x".repeat(201)}), "name"),
            (json!({"company": "a\u{0}b"}), "company"),
            (json!({"age": 30}), "age"),
            (json!({"document": 123}), "document"),
            (json!({"address": {"zip": "5000"}}), "address.zip"),
            (json!({"address": "Calle 1"}), "address"),
            (json!({"company": "ok", "email": "bad"}), "email"),
        ] {
            let err = edit(&profile(), &patch(body.clone())).unwrap_err();
            assert_eq!(err.field, field, "{body}");
        }
    }

    #[test]
    fn who_sees_a_contact() {
        let ventas = DepartmentId::new();
        let soporte = DepartmentId::new();
        let viewer = |role, departments: Vec<DepartmentId>| Viewer {
            id: OperatorId::new(),
            role,
            departments,
        };
        let ana = viewer(Role::Operator, vec![ventas]);
        let outsider = viewer(Role::Operator, vec![soporte]);
        let boss = viewer(Role::Supervisor, vec![ventas]);
        let other_boss = viewer(Role::Supervisor, vec![soporte]);
        let admin = viewer(Role::Admin, vec![]);
        let waiting = ContactFacts {
            tickets: vec![Placement {
                state: TicketState::Waiting,
                department_id: ventas,
                operator_id: None,
            }],
            served_by: vec![],
        };
        assert!(can_see_contact(&ana, &waiting));
        assert!(can_see_contact(&boss, &waiting));
        assert!(can_see_contact(&admin, &waiting));
        assert!(!can_see_contact(&outsider, &waiting));
        assert!(!can_see_contact(&other_boss, &waiting));
        let taken_by_someone_else = ContactFacts {
            tickets: vec![Placement {
                state: TicketState::Closed,
                department_id: ventas,
                operator_id: Some(OperatorId::new()),
            }],
            served_by: vec![outsider.id],
        };
        assert!(!can_see_contact(&ana, &taken_by_someone_else));
        assert!(
            can_see_contact(&outsider, &taken_by_someone_else),
            "served it before"
        );
        assert!(can_see_contact(&boss, &taken_by_someone_else));
    }
}
