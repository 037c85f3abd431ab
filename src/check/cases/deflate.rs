//! Categories 12 and 13: permessage-deflate (RFC 7692). Each case sends a
//! run of compressed messages, each the next slice of a generated corpus,
//! and wants every echo back intact. Category 12 varies the data with the
//! default offer; category 13 varies the offer with JSON data. A server
//! that does not agree to permessage-deflate makes them UNIMPLEMENTED.

use std::sync::OnceLock;

use crate::check::case::{Case, Corpus, DeflateOffer, Echoes, ExpectedClose, Step};

/// (message size, count, seconds allowed, fragment size; 0: one frame)
const RUNS: [(usize, usize, f64, usize); 18] = [
    (16, 1000, 60.0, 0),
    (64, 1000, 60.0, 0),
    (256, 1000, 120.0, 0),
    (1024, 1000, 240.0, 0),
    (4096, 1000, 480.0, 0),
    (8192, 1000, 480.0, 0),
    (16384, 1000, 480.0, 0),
    (32768, 1000, 480.0, 0),
    (65536, 1000, 480.0, 0),
    (131072, 1000, 480.0, 0),
    (8192, 1000, 480.0, 256),
    (16384, 1000, 480.0, 256),
    (32768, 1000, 480.0, 256),
    (65536, 1000, 480.0, 256),
    (131072, 1000, 480.0, 256),
    (131072, 1000, 480.0, 1024),
    (131072, 1000, 480.0, 4096),
    (131072, 1000, 480.0, 32768),
];

/// Category 12's data, in the suite's order, with its words for it.
const DATA: [(Corpus, &str); 5] = [
    (Corpus::Json, "JSON records (text)"),
    (Corpus::Bitmap, "a 512x512 black-and-white bitmap (binary)"),
    (Corpus::Prose, "German prose (binary)"),
    (Corpus::Html, "an HTML page (text)"),
    (Corpus::Pdf, "compressed streams, as in a PDF (binary)"),
];

/// The suite's default offer: the client accepts no context takeover and
/// a window size of the server's choosing, and asks for nothing.
fn default_offer() -> DeflateOffer {
    DeflateOffer {
        client_no_context_takeover: true,
        client_max_window_bits: Some(None),
        ..DeflateOffer::default()
    }
}

/// Category 13's offers: (what the client asks: no context takeover,
/// window bits), one list per subcategory.
const ASKS: [&[(bool, u8)]; 7] = [
    &[(false, 0)],
    &[(true, 0)],
    &[(false, 9)],
    &[(false, 15)],
    &[(true, 9)],
    &[(true, 15)],
    &[(true, 9), (true, 0), (false, 0)],
];

fn offer(no_takeover: bool, bits: u8) -> DeflateOffer {
    DeflateOffer {
        server_no_context_takeover: no_takeover,
        server_max_window_bits: (bits != 0).then_some(bits),
        ..default_offer()
    }
}

pub fn cases() -> Vec<Case> {
    let mut all = Vec::new();
    for (j, (corpus, what)) in DATA.iter().enumerate() {
        for (i, run) in RUNS.iter().enumerate() {
            let description = format!(
                "Send {} compressed messages of {} bytes each, slices of {what}, {}. Use the default permessage-deflate offer.",
                run.1,
                run.0,
                fragments(run.3)
            );
            all.push(case(
                format!("12.{}.{}", j + 1, i + 1),
                description,
                *corpus,
                run,
                vec![default_offer()],
            ));
        }
    }
    for (j, asks) in ASKS.iter().enumerate() {
        let offers: Vec<DeflateOffer> = asks.iter().map(|&(n, b)| offer(n, b)).collect();
        let shown = asks
            .iter()
            .map(|(n, b)| format!("({n}, {b})"))
            .collect::<Vec<_>>()
            .join(", ");
        for (i, run) in RUNS.iter().enumerate() {
            let description = format!(
                "Send {} compressed messages of {} bytes each, slices of JSON records, {}. The client offers (server_no_context_takeover, server_max_window_bits): {shown}.",
                run.1,
                run.0,
                fragments(run.3)
            );
            all.push(case(
                format!("13.{}.{}", j + 1, i + 1),
                description,
                Corpus::Json,
                run,
                offers.clone(),
            ));
        }
    }
    all
}

fn fragments(size: usize) -> String {
    match size {
        0 => "each in one frame".into(),
        n => format!("in frames of {n} bytes"),
    }
}

fn case(
    id: String,
    description: String,
    corpus: Corpus,
    run: &(usize, usize, f64, usize),
    offers: Vec<DeflateOffer>,
) -> Case {
    let &(size, count, within_secs, fragment) = run;
    let mut case = Case::new(id, description, "RFC 7692 §7")
        .expectation(format!(
            "Receive each message echoed as it was sent. The case times out after {within_secs} s."
        ))
        .step(Step::Echoes(Echoes {
            binary: matches!(corpus, Corpus::Bitmap | Corpus::Prose | Corpus::Pdf),
            size,
            fill: Vec::new(),
            count,
            fragment: (fragment > 0).then_some(fragment),
            chop: None,
            within_secs,
        }))
        // Judged by the echoes' integrity, not their speed: these run
        // side by side with others.
        .close(ExpectedClose::by_me(&[1000]));
    case.deflate = offers;
    case.corpus = Some(corpus);
    case
}

/// How big each generated corpus is (the suite's files are 190-1000 KB).
const CORPUS_SIZE: usize = 256 * 1024;

/// The corpus's bytes, made once. Text corpora are ASCII, so that a slice
/// is valid UTF-8 wherever it is cut.
pub fn corpus(kind: Corpus) -> &'static [u8] {
    static MADE: [OnceLock<Vec<u8>>; 5] = [const { OnceLock::new() }; 5];
    let slot = kind as usize;
    MADE[slot].get_or_init(|| generate(kind))
}

/// A small deterministic generator: the same data every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

const WORDS: [&str; 24] = [
    "Faust",
    "Mephistopheles",
    "Gretchen",
    "Wagner",
    "und",
    "der",
    "die",
    "das",
    "ich",
    "nicht",
    "Geist",
    "Welt",
    "Herz",
    "schön",
    "Nacht",
    "Himmel",
    "Erde",
    "über",
    "Liebe",
    "Zeit",
    "wohl",
    "Mädchen",
    "Studierzimmer",
    "Teufel",
];

fn generate(kind: Corpus) -> Vec<u8> {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ kind as u64);
    let mut out = Vec::with_capacity(CORPUS_SIZE + 256);
    while out.len() < CORPUS_SIZE {
        match kind {
            Corpus::Json => {
                let id = rng.below(100_000);
                let name = WORDS[rng.below(WORDS.len())].replace(['ö', 'ü', 'ä'], "o");
                out.extend_from_slice(
                    format!(
                        "{{\"id\": {id}, \"name\": \"{name}\", \"score\": {}.{:02}, \"tags\": [\"a{}\", \"b{}\"], \"active\": {}}},\n",
                        rng.below(1000),
                        rng.below(100),
                        rng.below(50),
                        rng.below(50),
                        rng.below(2) == 1
                    )
                    .as_bytes(),
                );
            }
            Corpus::Html => {
                let word = WORDS[rng.below(WORDS.len())].replace(['ö', 'ü', 'ä'], "o");
                out.extend_from_slice(
                    format!(
                        "<div class=\"row r{}\"><a href=\"/item/{}\">{word}</a><span>{}</span></div>\n",
                        rng.below(8),
                        rng.below(10_000),
                        rng.below(1_000_000)
                    )
                    .as_bytes(),
                );
            }
            Corpus::Prose => {
                for _ in 0..12 {
                    out.extend_from_slice(WORDS[rng.below(WORDS.len())].as_bytes());
                    out.push(b' ');
                }
                out.extend_from_slice(b".\n");
            }
            Corpus::Bitmap => {
                // Runs of black and white, as a scanned picture has.
                let run = 1 + rng.below(64);
                let byte = if rng.below(2) == 0 { 0x00 } else { 0xFF };
                out.extend(std::iter::repeat_n(byte, run));
                out.push(rng.next() as u8);
            }
            Corpus::Pdf => out.extend_from_slice(&rng.next().to_le_bytes()),
        }
    }
    out.truncate(CORPUS_SIZE);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_and_counts_are_the_suites() {
        let all = cases();
        assert_eq!(all.len(), 90 + 126);
        assert_eq!(all[0].id, "12.1.1");
        assert_eq!(all[89].id, "12.5.18");
        assert_eq!(all[90].id, "13.1.1");
        assert_eq!(all[215].id, "13.7.18");
        assert_eq!(all[215].deflate.len(), 3);
    }

    #[test]
    fn offers_are_the_suites() {
        use crate::check::deflate::offer_text;
        let all = cases();
        assert_eq!(
            offer_text(&all[0].deflate[0]),
            "permessage-deflate; client_no_context_takeover; client_max_window_bits"
        );
        let case_13_5 = all.iter().find(|c| c.id == "13.5.1").unwrap();
        assert_eq!(
            offer_text(&case_13_5.deflate[0]),
            "permessage-deflate; client_no_context_takeover; client_max_window_bits; server_no_context_takeover; server_max_window_bits=9"
        );
    }

    #[test]
    fn corpora_are_stable_and_text_ones_are_ascii() {
        for kind in [
            Corpus::Json,
            Corpus::Bitmap,
            Corpus::Prose,
            Corpus::Html,
            Corpus::Pdf,
        ] {
            assert_eq!(corpus(kind).len(), CORPUS_SIZE);
            assert_eq!(corpus(kind), generate(kind).as_slice());
        }
        assert!(corpus(Corpus::Json).is_ascii());
        assert!(corpus(Corpus::Html).is_ascii());
    }
}
