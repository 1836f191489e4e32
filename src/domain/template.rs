//! Variables in message text (`{{contact.name}}`, spaces inside the braces allowed), expanded
//! when a message is sent: operator replies, canned responses, the out-of-hours auto-reply.
//! A text naming a variable that does not exist is refused before anything is stored or sent,
//! so a typo never reaches a customer; a known variable without a value (a contact with no
//! e-mail) expands to nothing.

use serde::Serialize;

/// Every variable, with what it stands for (`GET /api/v1/variables`).
pub const CATALOGUE: [Variable; 8] = [
    Variable::new("contact.name", "The contact's name"),
    Variable::new("contact.phone", "The contact's phone number"),
    Variable::new("contact.email", "The contact's e-mail address"),
    Variable::new("contact.company", "The contact's company"),
    Variable::new(
        "operator.name",
        "The name of the operator who sends the message",
    ),
    Variable::new("department.name", "The ticket's department"),
    Variable::new(
        "ticket.number",
        "The ticket number (a reference for the customer)",
    ),
    Variable::new("channel.name", "The line the contact writes on"),
];

/// The variables a department's queue message may also name (and only it).
pub const QUEUE_VARIABLES: [Variable; 2] = [
    Variable::new(
        "queue.position",
        "The customer's place in the waiting list (queue messages only)",
    ),
    Variable::new(
        "queue.wait_minutes",
        "The estimated wait in minutes (queue messages only)",
    ),
];

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Variable {
    pub name: &'static str,
    pub description: &'static str,
}

impl Variable {
    const fn new(name: &'static str, description: &'static str) -> Self {
        Self { name, description }
    }
}

/// The values a message may refer to.
#[derive(Debug, Clone, Copy, Default)]
pub struct Variables<'a> {
    pub contact_name: &'a str,
    pub contact_phone: &'a str,
    pub contact_email: Option<&'a str>,
    pub contact_company: Option<&'a str>,
    pub operator_name: &'a str,
    pub department_name: &'a str,
    pub ticket_number: i64,
    pub channel_name: &'a str,
    /// (position, estimated minutes) when the text is a queue message.
    pub queue: Option<(usize, i64)>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown variable {{{{{0}}}}}; known variables: {list}", list = known_names())]
pub struct UnknownVariable(pub String);

fn known_names() -> String {
    CATALOGUE
        .iter()
        .map(|v| v.name)
        .collect::<Vec<_>>()
        .join(", ")
}

impl Variables<'_> {
    fn lookup(&self, name: &str) -> Option<String> {
        Some(match name {
            "contact.name" => self.contact_name.to_owned(),
            "contact.phone" => self.contact_phone.to_owned(),
            "contact.email" => self.contact_email.unwrap_or_default().to_owned(),
            "contact.company" => self.contact_company.unwrap_or_default().to_owned(),
            "operator.name" => self.operator_name.to_owned(),
            "department.name" => self.department_name.to_owned(),
            "ticket.number" => self.ticket_number.to_string(),
            "channel.name" => self.channel_name.to_owned(),
            "queue.position" => self.queue?.0.to_string(),
            "queue.wait_minutes" => self.queue?.1.to_string(),
            _ => return None,
        })
    }
}

/// The `{{…}}` spans of `text`, each as (byte range, trimmed name). An unterminated `{{`
/// is plain text.
fn spans(text: &str) -> Vec<(std::ops::Range<usize>, &str)> {
    let mut found = Vec::new();
    let mut from = 0;
    while let Some(open) = text[from..].find("{{").map(|o| o + from) {
        let Some(close) = text[open + 2..].find("}}").map(|c| c + open + 2) else {
            break;
        };
        // `{{{{x}}}}`: the innermost braces hold the name.
        let inner_open = text[open..close].rfind("{{").map_or(open, |o| o + open);
        found.push((inner_open..close + 2, text[inner_open + 2..close].trim()));
        from = close + 2;
    }
    found
}

/// Checks that every variable `text` names exists.
pub fn check(text: &str) -> Result<(), UnknownVariable> {
    check_among(text, &CATALOGUE)
}

/// Checks a queue message: the catalogue's variables and the queue's.
pub fn check_queue_message(text: &str) -> Result<(), UnknownVariable> {
    check_among(
        text,
        &[CATALOGUE.as_slice(), QUEUE_VARIABLES.as_slice()].concat(),
    )
}

fn check_among(text: &str, known: &[Variable]) -> Result<(), UnknownVariable> {
    match spans(text)
        .into_iter()
        .find(|(_, name)| !known.iter().any(|v| v.name == *name))
    {
        Some((_, name)) => Err(UnknownVariable(name.to_owned())),
        None => Ok(()),
    }
}

/// Replaces every `{{variable}}` in `text`; refuses a text naming an unknown one.
pub fn expand(text: &str, vars: &Variables<'_>) -> Result<String, UnknownVariable> {
    let mut out = String::with_capacity(text.len());
    let mut last = 0;
    for (range, name) in spans(text) {
        let value = vars
            .lookup(name)
            .ok_or_else(|| UnknownVariable(name.to_owned()))?;
        out.push_str(&text[last..range.start]);
        out.push_str(&value);
        last = range.end;
    }
    out.push_str(&text[last..]);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const VARS: Variables<'static> = Variables {
        contact_name: "María",
        contact_phone: "+5491100000000",
        contact_email: None,
        contact_company: Some("Acme"),
        operator_name: "Ana",
        department_name: "Ventas",
        ticket_number: 42,
        channel_name: "Línea 1",
        queue: None,
    };

    #[test]
    fn expands_every_variable_of_the_catalogue() {
        assert_eq!(
            expand(
                "Hola {{contact.name}}, soy {{ operator.name }} de {{department.name}} ({{channel.name}}). Trámite {{ticket.number}}. {{contact.company}} {{contact.phone}}",
                &VARS
            )
            .unwrap(),
            "Hola María, soy Ana de Ventas (Línea 1). Trámite 42. Acme +5491100000000"
        );
        for v in CATALOGUE {
            assert!(VARS.lookup(v.name).is_some(), "{} has no value", v.name);
        }
    }

    #[test]
    fn a_variable_without_a_value_expands_to_nothing() {
        assert_eq!(expand("<{{contact.email}}>", &VARS).unwrap(), "<>");
    }

    #[test]
    fn unknown_variables_are_refused_by_name() {
        assert_eq!(
            expand("{{contact.evil}} {{contact.name}}", &VARS),
            Err(UnknownVariable("contact.evil".into()))
        );
        assert_eq!(check("ok {{ contact.name }}"), Ok(()));
        assert_eq!(
            check("{{ticket.id}}"),
            Err(UnknownVariable("ticket.id".into()))
        );
        let message = UnknownVariable("x".into()).to_string();
        assert!(message.starts_with("unknown variable {{x}}"), "{message}");
    }

    #[test]
    fn queue_variables_belong_to_queue_messages_only() {
        let text =
            "Hola {{contact.name}}: sos el {{queue.position}}, unos {{ queue.wait_minutes }} min.";
        assert_eq!(check_queue_message(text), Ok(()));
        assert_eq!(check(text), Err(UnknownVariable("queue.position".into())));
        assert_eq!(
            check_queue_message("{{queue.length}}"),
            Err(UnknownVariable("queue.length".into()))
        );
        let vars = Variables {
            queue: Some((3, 12)),
            ..VARS
        };
        assert_eq!(
            expand(text, &vars).unwrap(),
            "Hola María: sos el 3, unos 12 min."
        );
    }

    #[test]
    fn unterminated_and_nested_braces() {
        assert_eq!(
            expand("abc {{contact.name", &VARS).unwrap(),
            "abc {{contact.name"
        );
        assert_eq!(expand("{{{{contact.name}}}}", &VARS).unwrap(), "{{María}}");
        assert_eq!(expand("no variables", &VARS).unwrap(), "no variables");
        assert_eq!(expand("}} {{", &VARS).unwrap(), "}} {{");
    }
}
