//! Every JSON request body type, parsed and checked as its handler does.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    switchboard::http::fuzz_bodies(data);
});
