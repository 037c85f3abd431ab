//! Server mode (`--listen`): bind, say where, accept clients (`accept.rs`)
//! and serve them (`clients.rs`).

use std::net::{SocketAddr, TcpListener};
use std::path::Path;

use super::accept;
use crate::error::{fail, Failure, Stage};
use crate::net::listen::{bind_unix, Door};
use crate::observe::{Event, Observers};
use crate::tls::serve as tls;

pub fn bind(addr: SocketAddr) -> Result<TcpListener, Failure> {
    TcpListener::bind(addr)
        .map_err(|e| fail(Stage::Connect, format!("cannot listen on {addr}: {e}")))
}

/// Listen mode: serve clients, several at once, until a signal (or, with
/// --once, the first client's end).
pub fn run(
    plan: &super::plan::Plan,
    obs: &mut Observers,
    addr: SocketAddr,
) -> Result<crate::error::Exit, Failure> {
    let tls = server_tls(plan.cli)?;
    run_at(plan, obs, Door::Tcp(bind(addr)?), tls)
}

/// Listen mode on a Unix socket (`--listen unix:PATH`).
pub fn run_unix(
    plan: &super::plan::Plan,
    obs: &mut Observers,
    path: &Path,
) -> Result<crate::error::Exit, Failure> {
    let tls = server_tls(plan.cli)?;
    run_at(plan, obs, Door::Unix(bind_unix(path)?), tls)
}

fn run_at(
    plan: &super::plan::Plan,
    obs: &mut Observers,
    mut listener: Door,
    tls: Option<tls::Server>,
) -> Result<crate::error::Exit, Failure> {
    // Kept here, so that the socket file and the made certificate's copy
    // are removed when the run ends.
    let _socket_file = listener.take_socket_file();
    let cli = plan.cli;
    let local = listener.local()?;
    if let Some(made) = tls.as_ref().and_then(|t| t.made.as_ref()) {
        obs.event(&Event::Notice(&format!(
            "self-signed certificate for {}; SHA-256 fingerprint {}; public key (SPKI) SHA-256 {}; PEM copy at {} (trust it with --ca, NODE_EXTRA_CA_CERTS or SSL_CERT_FILE)",
            made.names.join(", "),
            made.fingerprint,
            made.spki_sha256,
            made.pem_path.display()
        )));
    }
    let url = listener.url(tls.is_some(), &local);
    let waiting = format!("listening on {local}; waiting for clients ({url})");
    let mut inputs =
        super::launch::Inputs::start_serving(plan, obs, &format!("listening on {local}"))?;
    let offer = accept::Offer {
        subprotocols: cli.subprotocols.clone(),
        deflate: cli.deflate,
        keep: super::launch::keep(plan, obs),
    };
    let max = if cli.once {
        1
    } else {
        cli.max_clients as usize
    };
    let shared = tls.as_ref().map(tls::Server::shared);
    let acceptor =
        accept::Acceptor::start(listener, shared, offer, max, inputs.waker(), plan.deadline)?;
    let ended = super::clients::serve(plan, obs, &mut inputs, acceptor, waiting, &local);
    inputs.finish(obs);
    ended
}

/// The listener's TLS, when --cert/--key or --self-signed ask for it.
fn server_tls(cli: &crate::cli::Cli) -> Result<Option<tls::Server>, Failure> {
    let identity = match (&cli.cert, &cli.key, &cli.self_signed) {
        (Some(cert), Some(key), _) => tls::Identity::Files { cert, key },
        (_, _, Some(names)) => tls::Identity::SelfSigned(names),
        _ => return Ok(None),
    };
    tls::server_config(identity, cli.client_ca.as_deref()).map(Some)
}
