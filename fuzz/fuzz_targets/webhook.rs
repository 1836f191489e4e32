//! The WhatsApp webhook body parser, on any bytes (a verified signature says who sent them,
//! not that they are well formed), and the signature check itself.
#![no_main]

use libfuzzer_sys::fuzz_target;
use switchboard::channels::whatsapp::{payload, signature};

fuzz_target!(|data: &[u8]| {
    let _ = payload::parse(data);
    // The first line as a signature header, the rest as the body.
    let (header, body) = match data.iter().position(|b| *b == b'\n') {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (&data[..0], data),
    };
    if let Ok(header) = std::str::from_utf8(header) {
        let _ = signature::verify(b"app-secret", Some(header), body);
    }
});
