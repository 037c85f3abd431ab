//! Category 15 (wscope's own): what the suite was asked for and never
//! got. 15.1: fail fast on invalid UTF-8 in a Close's reason (the suite's
//! issue #93); 15.2: a compression run whose offer has no
//! client_max_window_bits (issue #112), which a server must then not
//! answer with one.

use crate::check::case::{
    Behavior, Case, Corpus, DeflateOffer, Echoes, Event, ExpectedClose, Step,
};
use crate::wire::raw::encode_frame;

/// "κόσμε", then a surrogate (ED A0 80: invalid UTF-8), then "edited".
const VALID: &[u8] = b"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5";
const INVALID: &[u8] = b"\xed\xa0\x80";
const REST: &[u8] = b"edited";

pub fn cases() -> Vec<Case> {
    vec![
        close_reason_fails_fast(),
        offer_without_client_window_bits(),
    ]
}

fn close_reason_fails_fast() -> Case {
    let mut payload = 1000u16.to_be_bytes().to_vec();
    payload.extend_from_slice(VALID);
    payload.extend_from_slice(INVALID);
    payload.extend_from_slice(REST);
    let frame = encode_frame(
        [true, false, false, false],
        8,
        Some([0x37, 0xfa, 0x21, 0x3d]),
        &payload,
    );
    // Cut just after the invalid byte: header (2 + 4 key), code, valid text.
    let cut = 6 + 2 + VALID.len() + 2;
    Case::new(
        "15.1",
        format!(
            "Send a Close whose reason is invalid UTF-8 ({}), pausing 1 s in the frame right after the first invalid byte.",
            hex(&payload[2..])
        ),
        "RFC 6455 §8.1",
    )
    .expectation(
        "The server fails the connection (1002 or 1007) at the invalid byte, before the pause ends; NON-STRICT when it waits for the whole frame.",
    )
    .step(Step::Raw(frame[..cut].to_vec()))
    .later(1.0, "A")
    .step(Step::Raw(frame[cut..].to_vec()))
    .kill_after(1.0)
    .expect(Behavior::Ok, vec![])
    .expect(Behavior::NonStrict, vec![Event::Timeout("A")])
    .close(ExpectedClose::by_peer(&[1002, 1007]).wrong_endpoint_fatal())
    .wrong_code_fails()
}

fn offer_without_client_window_bits() -> Case {
    let mut case = Case::new(
        "15.2",
        "Send 1000 compressed messages of 1024 bytes each, slices of JSON records, offering 'permessage-deflate' with no client_max_window_bits.",
        "RFC 7692 §7.1.2.2",
    )
    .expectation(
        "The answer has no client_max_window_bits (it was not offered), and each message is echoed as it was sent.",
    )
    .step(Step::Echoes(Echoes {
        binary: false,
        size: 1024,
        fill: Vec::new(),
        count: 1000,
        fragment: None,
        chop: None,
        within_secs: 240.0,
    }))
    .close(ExpectedClose::by_me(&[1000]));
    case.deflate = vec![DeflateOffer::default()];
    case.corpus = Some(Corpus::Json);
    case
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
