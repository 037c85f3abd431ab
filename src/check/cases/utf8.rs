use crate::check::case::Case;

pub fn cases() -> Vec<Case> {
    Vec::new()
}
