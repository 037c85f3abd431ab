//! Reading a HAR: Chrome DevTools keeps a WebSocket's handshake as an
//! entry with `_resourceType: "websocket"` and its messages in
//! `_webSocketMessages` (`type` send/receive, `time` in epoch seconds,
//! `opcode` 1 text or 2 binary with base64 `data`).

use base64::Engine;
use serde_json::Value;

use super::{replayable_header, Msg, Recording, Sent, Side, Step};

pub fn read(text: &[u8], entry: Option<&str>) -> Result<Recording, String> {
    let har: Value = serde_json::from_slice(text).map_err(|e| format!("not JSON ({e})"))?;
    let entries = har
        .pointer("/log/entries")
        .and_then(Value::as_array)
        .ok_or("no log.entries: not a HAR")?;
    let all: Vec<(usize, &Value)> = entries
        .iter()
        .enumerate()
        .filter(|(_, e)| {
            e.get("_resourceType").and_then(Value::as_str) == Some("websocket")
                || e.get("_webSocketMessages").is_some()
        })
        .collect();
    // --entry N: the Nth WebSocket entry (a --reconnect run's entries
    // share one URL); otherwise a piece of the URL.
    let by_number = entry
        .and_then(|want| want.parse::<usize>().ok())
        .and_then(|n| all.get(n.wrapping_sub(1)));
    let sockets: Vec<(usize, &Value)> = match (by_number, entry) {
        (Some(one), _) => vec![*one],
        (None, None) => all.clone(),
        // Not a number in range: a piece of the URL (a port, say).
        (None, Some(want)) => all
            .iter()
            .copied()
            .filter(|(_, e)| url(e).contains(want))
            .collect(),
    };
    let (index, socket) = match (sockets.as_slice(), entry) {
        ([one], _) => one,
        ([], None) => return Err("no WebSocket entry (_resourceType \"websocket\")".into()),
        ([], Some(want)) if want.parse::<usize>().is_ok() => {
            return Err(format!(
                "--entry {want}: there are {} WebSocket entries, and none has {want:?} in its URL",
                all.len()
            ))
        }
        ([], Some(want)) => return Err(format!("no WebSocket entry whose URL contains {want:?}")),
        (many, _) => {
            let urls: Vec<String> = many
                .iter()
                .enumerate()
                .map(|(i, (_, e))| format!("{} {}", i + 1, crate::escape::escape(url(e))))
                .collect();
            return Err(format!(
                "{} WebSocket entries ({}); pick one with --entry URL-SUBSTRING or --entry N",
                many.len(),
                urls.join(", ")
            ));
        }
    };
    let at = |what: &str| format!("log.entries[{index}]: {what}");
    let mut rec = Recording {
        url: socket
            .pointer("/request/url")
            .and_then(Value::as_str)
            .map(str::to_string),
        ..Recording::default()
    };
    if let Some(headers) = socket.pointer("/request/headers").and_then(Value::as_array) {
        for header in headers {
            let name = header.get("name").and_then(Value::as_str);
            let value = header.get("value").and_then(Value::as_str);
            if let (Some(name), Some(value)) = (name, value) {
                if replayable_header(name) {
                    rec.headers.push((name.to_string(), value.to_string()));
                }
            }
        }
    }
    let messages = socket
        .get("_webSocketMessages")
        .and_then(Value::as_array)
        .ok_or_else(|| at("no _webSocketMessages"))?;
    for (i, message) in messages.iter().enumerate() {
        let at = |what: &str| at(&format!("_webSocketMessages[{i}]: {what}"));
        let by = match message.get("type").and_then(Value::as_str) {
            Some("send") => Side::Client,
            Some("receive") => Side::Server,
            _ => return Err(at("\"type\" is not \"send\" or \"receive\"")),
        };
        let t = message.get("time").and_then(Value::as_f64).unwrap_or(0.0);
        let data = message
            .get("data")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let step = match message.get("opcode").and_then(Value::as_u64) {
            Some(1) => Step::Message(Msg {
                binary: false,
                data: data.as_bytes().to_vec(),
            }),
            Some(2) => Step::Message(Msg {
                binary: true,
                data: base64::engine::general_purpose::STANDARD
                    .decode(data)
                    .map_err(|e| at(&format!("binary data is not base64 ({e})")))?,
            }),
            Some(9) => Step::Ping(data.as_bytes().to_vec()),
            // Chrome records data messages only; other opcodes are skipped.
            Some(_) => continue,
            None => return Err(at("no \"opcode\"")),
        };
        rec.sent.push(Sent { by, step, t });
    }
    Ok(rec)
}

fn url(entry: &Value) -> &str {
    entry
        .pointer("/request/url")
        .and_then(Value::as_str)
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chrome_shaped_entries_are_read() {
        let har = br#"{"log":{"version":"1.2","entries":[
          {"request":{"url":"https://x/page","headers":[]},"_resourceType":"document"},
          {"request":{"url":"wss://x/socket","headers":[
              {"name":"Host","value":"x"},{"name":"Cookie","value":"s=1"}]},
           "_resourceType":"websocket",
           "_webSocketMessages":[
              {"type":"send","time":1700000000.5,"opcode":1,"data":"hi"},
              {"type":"receive","time":1700000000.6,"opcode":2,"data":"AP8="}]}]}}"#;
        let rec = read(har, None).unwrap();
        assert_eq!(rec.headers, [("Cookie".to_string(), "s=1".to_string())]);
        assert_eq!(rec.messages(Side::Server)[0].data, [0, 255]);
        assert!(read(har, Some("nothing")).is_err());
    }
}
