//! The `{{variable}}` expander: never panics, refuses only unknown names, and leaves a text
//! without `{{` exactly as written.
#![no_main]

use libfuzzer_sys::fuzz_target;
use switchboard::domain::template::{Variables, check, check_queue_message, expand};

fuzz_target!(|text: &str| {
    let vars = Variables {
        contact_name: "Ana {{contact.name}}",
        contact_phone: "+5491100000001",
        contact_email: None,
        contact_company: Some("Acme"),
        operator_name: "Beto",
        department_name: "Ventas",
        ticket_number: 42,
        channel_name: "WhatsApp",
        queue: Some((3, 7)),
    };
    let expanded = expand(text, &vars);
    let _ = check(text);
    if !text.contains("{{") {
        assert_eq!(expanded.as_deref(), Ok(text));
    }
    // A text the expander accepts is one the checker accepts, and the other way round.
    assert_eq!(
        expanded.is_ok(),
        check_queue_message(text).is_ok(),
        "{text:?}"
    );
});
