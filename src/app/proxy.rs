//! `wscope proxy`, lowered: the command line becomes a listener, where
//! clients are carried, the faults, and what the run shows and records.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::cli::ProxyCli;
use crate::error::{fail, Exit, Failure, Stage};
use crate::formats::Recordings;
use crate::net::target::Target;
use crate::observe::{Clock, Event, Human, Json, Observers, Out, Screen};
use crate::proxy::faults;
use crate::proxy::open::Upstream;
use crate::proxy::relay::Settings;
use crate::proxy::{self, Options};
use crate::tls;

pub fn run(cli: &ProxyCli, clock: Clock) -> Result<Exit, Failure> {
    let usage = |m: String| fail(Stage::Usage, m);
    let addr = super::plan::parse_listen_addr(&cli.listen)?;
    let url = cli.url.as_deref().map(Target::parse).transpose()?;
    if url.as_ref().is_some_and(|u| u.unix.is_some()) {
        return Err(usage(
            "wscope proxy carries to ws:// or wss:// URLs, not Unix sockets".into(),
        ));
    }
    let faults = cli
        .fault
        .iter()
        .map(|spec| faults::parse(spec).map_err(|why| usage(format!("--fault '{spec}': {why}"))))
        .collect::<Result<Vec<_>, _>>()?;
    for file in &cli.ca {
        tls::check_ca_file(file)?;
    }
    let colour = super::output::colour(cli.color);
    colored::control::set_override(colour);
    let screen: Box<dyn Screen> = if cli.json {
        Box::new(Json::new(Out::stdout(), clock))
    } else {
        Box::new(Human::new(Out::stdout(), clock, true, cli.preview).with_colour(colour))
    };
    let obs = Observers::new(screen);
    let recorders = crate::formats::open(
        &Recordings {
            log: cli.log.clone(),
            har: cli.har.clone(),
            pcap: cli.pcap.clone(),
            replayed: None,
        },
        clock,
    )?;
    recorders.into_iter().for_each(|r| obs.add(r));
    let needs_tls = url.as_ref().is_none_or(|u| u.tls);
    let tls = match needs_tls {
        true => Some(tls::client_config(&tls::TlsOptions {
            ca_files: &cli.ca,
            insecure: cli.insecure,
            client_cert: None,
            tls13_only: false,
        })?),
        false => None,
    };
    let mitm = cli
        .mitm
        .as_deref()
        .map(tls::mitm::Mitm::open)
        .transpose()?
        .map(Arc::new);
    let listener = super::server::bind(addr)?;
    let local = listener
        .local_addr()
        .map_or_else(|_| cli.listen.clone(), |a| a.to_string());
    let strip_deflate = faults.iter().any(faults::Fault::alters_messages);
    let interest = obs.interest();
    let settings = Settings {
        faults,
        seed: cli.seed.unwrap_or_else(random_seed),
        strict: cli.strict,
        preview: cli.preview,
        // --quiet: recorders that want frames (a tape, a HAR) still get them.
        watching: (interest.frames && !cli.quiet) || cli.log.is_some() || cli.har.is_some(),
        chunks: interest.chunks,
    };
    let what = match &url {
        Some(u) => format!("listening on {local}, carrying clients to {}", u.shown()),
        None => format!(
            "listening on {local} as an HTTP proxy: set HTTP_PROXY=http://{local} or --proxy-server=http://{local}"
        ),
    };
    obs.event(&Event::Notice(&format!("wscope proxy: {what}")));
    if let Some(m) = &mitm {
        obs.event(&Event::Notice(&m.trust_notice()));
    }
    if !settings.faults.is_empty() {
        let list: Vec<&str> = settings.faults.iter().map(|f| f.spec.as_str()).collect();
        obs.event(&Event::Notice(&format!(
            "faults: {} (seed {})",
            list.join(" · "),
            settings.seed
        )));
    }
    obs.flush();
    let options = Options {
        listener,
        upstream: Upstream {
            url,
            tls,
            mitm,
            timeout: Duration::from_secs_f64(cli.connect_timeout),
            strip_deflate,
            local,
        },
        settings,
        max_clients: cli.max_clients as usize,
        once: cli.once,
        max_time: cli
            .max_time
            .map(|s| Instant::now() + Duration::from_secs_f64(s)),
        input: true,
    };
    proxy::run(options, &obs)
}

fn random_seed() -> u64 {
    let mut b = [0u8; 8];
    let _ = getrandom::fill(&mut b);
    u64::from_le_bytes(b) % 1_000_000
}
