//! Our messages in the Cloud API's own JSON (`POST /{version}/{phone-number-id}/messages`),
//! as Meta documents them (`../shared/fixtures/whatsapp/outbound/`). Text goes as written:
//! WhatsApp renders its own `*bold*`, `_italic_` and `~strike~`.

use serde_json::{Value, json};

use crate::domain::message::Content;

/// The request body that sends `content` to `to`, or `None` for content this channel does not
/// send (kinds that only arrive from customers).
pub fn message_body(to: &str, content: &Content) -> Option<Value> {
    let (kind, object) = match content {
        Content::Text(body) => ("text", json!({"preview_url": has_link(body), "body": body})),
        // Meta's own example gives the coordinates as strings.
        Content::Location(l) => {
            let mut location = json!({
                "latitude": l.latitude.to_string(),
                "longitude": l.longitude.to_string(),
            });
            if let Some(name) = &l.name {
                location["name"] = json!(name);
            }
            if let Some(address) = &l.address {
                location["address"] = json!(address);
            }
            ("location", location)
        }
        Content::Contact(c) => (
            "contacts",
            json!([{
                "name": {"formatted_name": c.name, "first_name": c.name},
                "phones": [{"phone": c.phone, "type": "CELL"}],
            }]),
        ),
        Content::Template(template) => ("template", template.clone()),
        Content::Media(_)
        | Content::Reaction(_)
        | Content::Interactive(_)
        | Content::System(_)
        | Content::Unsupported(_) => return None,
    };
    let mut body = json!({
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": to,
        "type": kind,
    });
    body[kind] = object;
    Some(body)
}

/// WhatsApp shows a preview of the first link only when asked to.
fn has_link(text: &str) -> bool {
    text.contains("https://") || text.contains("http://")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::message::{Location, SharedContact};

    fn fixture(name: &str) -> Value {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../shared/fixtures/whatsapp/outbound")
            .join(name);
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
    }

    #[test]
    fn text_and_location_match_metas_examples() {
        let text = "As requested, here's the link to our latest product: https://www.meta.com/quest/quest-3/";
        assert_eq!(
            message_body("+16505551234", &Content::Text(text.into())).unwrap(),
            fixture("text_preview_url.json")
        );
        let location = Content::Location(Location {
            latitude: 37.44216251868683,
            longitude: -122.16153582049394,
            name: Some("Philz Coffee".into()),
            address: Some("101 Forest Ave, Palo Alto, CA 94301".into()),
            url: None,
        });
        assert_eq!(
            message_body("+16505551234", &location).unwrap(),
            fixture("location.json")
        );
    }

    #[test]
    fn a_template_goes_as_given() {
        let expected = fixture("template_utility_named_params.json");
        let sent = message_body(
            "16505551234",
            &Content::Template(expected["template"].clone()),
        )
        .unwrap();
        assert_eq!(sent, expected);
    }

    #[test]
    fn a_contact_card_has_the_fields_meta_requires() {
        let body = message_body(
            "16505551234",
            &Content::Contact(SharedContact {
                name: "Barbara J. Johnson".into(),
                phone: "+16505559999".into(),
            }),
        )
        .unwrap();
        let card = &body["contacts"][0];
        assert_eq!(body["type"], "contacts");
        assert_eq!(card["name"]["formatted_name"], "Barbara J. Johnson");
        assert_eq!(card["phones"][0]["phone"], "+16505559999");
        let no_link = message_body("1", &Content::Text("*hola* _vos_".into())).unwrap();
        assert_eq!(
            no_link["text"],
            json!({"preview_url": false, "body": "*hola* _vos_"})
        );
    }
}
