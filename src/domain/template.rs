//! Variables in message text: `{{contact.name}}`, `{{operator.name}}`, `{{department.name}}`,
//! `{{ticket.number}}` (spaces inside the braces are allowed). An unknown variable is left as
//! written, so a typo shows up in the sent text instead of silently vanishing.

/// The values a message may refer to.
#[derive(Debug, Clone, Copy)]
pub struct Variables<'a> {
    pub contact_name: &'a str,
    pub contact_phone: &'a str,
    pub operator_name: &'a str,
    pub department_name: &'a str,
    pub ticket_number: i64,
}

impl Variables<'_> {
    fn lookup(&self, name: &str) -> Option<String> {
        Some(match name {
            "contact.name" => self.contact_name.to_owned(),
            "contact.phone" => self.contact_phone.to_owned(),
            "operator.name" => self.operator_name.to_owned(),
            "department.name" => self.department_name.to_owned(),
            "ticket.number" => self.ticket_number.to_string(),
            _ => return None,
        })
    }
}

/// Replaces every known `{{variable}}` in `text`.
pub fn expand(text: &str, vars: &Variables<'_>) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(open) = rest.find("{{") {
        out.push_str(&rest[..open]);
        let after = &rest[open + 2..];
        match after.find("}}") {
            Some(close) => match vars.lookup(after[..close].trim()) {
                Some(value) => {
                    out.push_str(&value);
                    rest = &after[close + 2..];
                }
                None => {
                    out.push_str("{{");
                    rest = after;
                }
            },
            None => {
                out.push_str(&rest[open..]);
                return out;
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const VARS: Variables<'static> = Variables {
        contact_name: "María",
        contact_phone: "+5491100000000",
        operator_name: "Ana",
        department_name: "Ventas",
        ticket_number: 42,
    };

    #[test]
    fn expands_every_variable() {
        assert_eq!(
            expand(
                "Hola {{contact.name}}, soy {{ operator.name }} de {{department.name}}. Trámite {{ticket.number}}.",
                &VARS
            ),
            "Hola María, soy Ana de Ventas. Trámite 42."
        );
    }

    #[test]
    fn unknown_and_unterminated_variables_stay_as_written() {
        assert_eq!(
            expand("{{contact.age}} {{contact.name}}", &VARS),
            "{{contact.age}} María"
        );
        assert_eq!(expand("abc {{contact.name", &VARS), "abc {{contact.name");
        assert_eq!(expand("{{{{contact.name}}}}", &VARS), "{{María}}");
        assert_eq!(expand("no variables", &VARS), "no variables");
    }
}
