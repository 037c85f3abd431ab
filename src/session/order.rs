//! The view follows the wire: of the next incoming and the next outgoing
//! frame, the one that crossed first is shown first. Pure, so that the
//! rule is tested apart from sockets.

use std::time::Instant;

use crate::wire::Dir;

/// Which side's next frame comes first, given when each crossed; on a tie
/// the outgoing one (we wrote it before we read what answers it).
pub fn first(incoming: Option<Instant>, outgoing: Option<Instant>) -> Option<Dir> {
    match (incoming, outgoing) {
        (Some(i), Some(o)) if o <= i => Some(Dir::Out),
        (Some(_), _) => Some(Dir::In),
        (None, Some(_)) => Some(Dir::Out),
        (None, None) => None,
    }
}

/// Whether an outgoing frame that crossed at `outgoing` goes before an
/// incoming one that crossed at `incoming`.
pub fn goes_before(outgoing: Instant, incoming: Instant) -> bool {
    first(Some(incoming), Some(outgoing)) == Some(Dir::Out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn the_earlier_frame_goes_first_and_a_tie_goes_out_first() {
        let t0 = Instant::now();
        let t1 = t0 + Duration::from_millis(1);
        assert_eq!(first(Some(t0), Some(t1)), Some(Dir::In));
        assert_eq!(first(Some(t1), Some(t0)), Some(Dir::Out));
        assert_eq!(first(Some(t0), Some(t0)), Some(Dir::Out));
        assert!(goes_before(t0, t0));
        assert!(!goes_before(t1, t0));
    }

    #[test]
    fn one_side_alone_goes_first() {
        let t = Instant::now();
        assert_eq!(first(Some(t), None), Some(Dir::In));
        assert_eq!(first(None, Some(t)), Some(Dir::Out));
        assert_eq!(first(None, None), None);
    }
}
