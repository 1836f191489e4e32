//! WhatsApp formatting rendered to HTML: never panics, and no markup of the input survives.
#![no_main]

use libfuzzer_sys::fuzz_target;
use switchboard::domain::formatting::to_html;

fuzz_target!(|text: &str| {
    let html = to_html(text);
    // Only the renderer's own tags may appear; every `<` of the input is escaped.
    let mut rest = html.as_str();
    while let Some(at) = rest.find('<') {
        rest = &rest[at..];
        let tag = [
            "<strong>",
            "</strong>",
            "<em>",
            "</em>",
            "<s>",
            "</s>",
            "<code>",
            "</code>",
            "<br>",
        ]
        .iter()
        .find(|t| rest.starts_with(**t))
        .unwrap_or_else(|| panic!("unexpected markup in {html:?} from {text:?}"));
        rest = &rest[tag.len()..];
    }
    // Quotes never survive either: the HTML is safe inside an attribute too.
    assert!(!html.contains('"') && !html.contains('\''), "{html:?}");
});
