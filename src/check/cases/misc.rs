//! Category 10, miscellaneous: a 64 KiB text message in fragments of 1300
//! octets (the suite's auto-fragmentation) is echoed whole.

use crate::check::case::{Behavior, Case, Event, ExpectedClose, Step};

pub fn cases() -> Vec<Case> {
    let payload = vec![b'*'; 65536];
    vec![Case::new(
        "10.1.1",
        "Send text message with payload of length 65536 auto-fragmented with autoFragmentSize = 1300.",
        "RFC 6455 §5.4",
    )
    .expectation("Receive echo'ed text message (with payload as sent and transmitted frame counts as expected). Clean close with normal code.")
    .step(Step::Message {
        binary: false,
        payload: payload.clone(),
        fragment: Some(1300),
    })
    .kill_after(10.0)
    .expect(Behavior::Ok, vec![Event::text(payload)])
    .close(ExpectedClose::by_me(&[1000]))]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_case_of_51_fragments() {
        let cases = cases();
        assert_eq!(cases.len(), 1);
        assert_eq!(cases[0].id, "10.1.1");
        let Step::Message {
            payload, fragment, ..
        } = &cases[0].steps[0]
        else {
            panic!("{:?}", cases[0].steps);
        };
        assert_eq!(payload.len().div_ceil(fragment.unwrap()), 51);
    }
}
