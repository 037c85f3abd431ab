//! --rtt-json-id FIELD: requests and responses paired by a JSON id, as
//! JSON-RPC and many APIs do, whatever order the answers come in. Each
//! answer gets the delay since its request.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use serde_json::Value;

/// Requests waiting for their answer, oldest first; bounded, so that a
/// peer that never answers costs a fixed amount.
pub struct ById {
    field: String,
    waiting: VecDeque<(String, Instant)>,
}

const WAITING_MAX: usize = 10_000;

impl ById {
    pub fn new(field: &str) -> ById {
        ById {
            field: field.to_string(),
            waiting: VecDeque::new(),
        }
    }

    /// An outgoing text message: remembered if it carries the id.
    pub fn sent(&mut self, text: &[u8], at: Instant) {
        let Some(id) = self.id_of(text) else { return };
        if self.waiting.len() == WAITING_MAX {
            self.waiting.pop_front();
        }
        self.waiting.push_back((id, at));
    }

    /// An incoming text message: the id and delay of the request it
    /// answers, if it carries a waiting id.
    pub fn received(&mut self, text: &[u8], at: Instant) -> Option<(String, Duration)> {
        let id = self.id_of(text)?;
        let i = self.waiting.iter().position(|(w, _)| *w == id)?;
        let (id, sent) = self.waiting.remove(i)?;
        Some((id, at.saturating_duration_since(sent)))
    }

    /// The id field of a JSON object, as JSON text (`7`, `"abc"`); a dotted
    /// FIELD reaches into nested objects (`params.id`).
    fn id_of(&self, text: &[u8]) -> Option<String> {
        if text.trim_ascii().first() != Some(&b'{') {
            return None;
        }
        let value: Value = serde_json::from_slice(text).ok()?;
        let id = self
            .field
            .split('.')
            .try_fold(&value, |v, key| v.get(key))?;
        (!id.is_null()).then(|| id.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_are_paired_by_id_in_any_order() {
        let t0 = Instant::now();
        let ms = Duration::from_millis;
        let mut p = ById::new("id");
        p.sent(br#"{"id":1,"method":"a"}"#, t0);
        p.sent(br#"{"id":"two","method":"b"}"#, t0 + ms(5));
        p.sent(b"not json", t0);
        assert_eq!(
            p.received(br#"{"id":"two"}"#, t0 + ms(8)),
            Some(("\"two\"".into(), ms(3)))
        );
        assert_eq!(p.received(br#"{"id":3}"#, t0 + ms(9)), None);
        assert_eq!(
            p.received(br#"{"id":1,"result":0}"#, t0 + ms(10)),
            Some(("1".into(), ms(10)))
        );
        assert_eq!(
            p.received(br#"{"id":1}"#, t0 + ms(11)),
            None,
            "answered once"
        );
    }

    #[test]
    fn a_dotted_field_reaches_into_objects() {
        let t0 = Instant::now();
        let mut p = ById::new("meta.rid");
        p.sent(br#"{"meta":{"rid":9}}"#, t0);
        assert!(p.received(br#"{"meta":{"rid":9},"ok":true}"#, t0).is_some());
    }
}
