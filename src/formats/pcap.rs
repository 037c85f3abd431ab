//! `--pcap`: the plaintext WebSocket stream (handshake and frames, both
//! directions) as a pcapng capture of a synthetic TCP connection between
//! the real endpoints, so that Wireshark's WebSocket dissector shows every
//! frame with no key log and no capture privileges. The bytes are the
//! tap's, above TLS: for wss:// the capture says they were decrypted.
//!
//! The TCP connection is made up: a handshake at connect, one segment per
//! chunk (split to fit an IP packet), sequence and acknowledgement numbers
//! that follow the bytes so Wireshark reassembles them, and FINs at the
//! end. Packets are written as they come; nothing is held.

use super::RecordFile;
use std::borrow::Cow;
use std::collections::BTreeMap;
use std::io::{BufWriter, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use pcap_file::pcapng::blocks::enhanced_packet::EnhancedPacketBlock;
use pcap_file::pcapng::blocks::interface_description::{
    InterfaceDescriptionBlock, InterfaceDescriptionOption,
};
use pcap_file::pcapng::blocks::section_header::{SectionHeaderBlock, SectionHeaderOption};
use pcap_file::pcapng::PcapNgWriter;
use pcap_file::DataLink;

use crate::observe::{Clock, Dir, Event, Flow as Go, Interest, Observer, Role};

/// The most TCP payload one synthetic segment carries: an IPv4 packet
/// holds 65535 bytes with its headers.
const SEGMENT: usize = 65_000;
const FIN: u8 = 0x01;
const SYN: u8 = 0x02;
const PSH: u8 = 0x08;
const ACK: u8 = 0x10;

pub struct Pcap {
    /// The file until the connection is known (the section header says
    /// whether TLS was taken off), then the writer.
    file: Option<RecordFile>,
    writer: Option<PcapNgWriter<BufWriter<RecordFile>>>,
    clock: Clock,
    /// Epoch seconds when the clock started.
    wall_base: f64,
    /// One TCP flow per connection, by connection number, while it is
    /// open; `conn` is the one the events being told belong to.
    flows: BTreeMap<u32, Flow>,
    conn: u32,
    /// Connections so far: each gets its own sequence numbers and, where
    /// the ports are made up (Unix sockets), its own client port.
    connections: u32,
    failed: bool,
}

struct Flow {
    tcp: Connection,
    /// The connection's opening (SYN, SYN-ACK, ACK) and when it was
    /// seen, written with the first bytes: with --listen the connect
    /// event comes after the handshake's bytes, which must not precede it.
    opening: Option<(f64, Vec<Vec<u8>>)>,
    /// Our role on it: which end "out" is.
    role: Role,
}

/// One end of the synthetic TCP connection.
struct End {
    addr: SocketAddr,
    /// The sequence number of its next byte.
    next: u32,
}

struct Connection {
    client: End,
    server: End,
}

impl Pcap {
    pub fn new(file: RecordFile, clock: Clock) -> Self {
        Pcap {
            file: Some(file),
            writer: None,
            clock,
            wall_base: clock.wall_base(),
            flows: BTreeMap::new(),
            conn: 0,
            connections: 0,
            failed: false,
        }
    }

    fn timestamp(&self, seconds_since_start: f64) -> Duration {
        Duration::from_secs_f64((self.wall_base + seconds_since_start).max(0.0))
    }

    /// Starts the capture for a new connection: the section header once,
    /// then a TCP handshake between the two ends.
    fn connect(&mut self, role: Role, peer: SocketAddr, local: Option<SocketAddr>, tls: bool) {
        if let Some(file) = self.file.take() {
            let mut comment = "The WebSocket stream as wscope saw it, over a synthetic TCP connection between the real endpoints".to_string();
            if tls {
                comment.push_str(
                    "; the connection used TLS: these are the decrypted bytes, TLS records are not shown",
                );
            }
            let section = SectionHeaderBlock {
                options: vec![
                    SectionHeaderOption::Comment(Cow::Owned(comment)),
                    SectionHeaderOption::UserApplication(Cow::Owned(format!(
                        "wscope {}",
                        env!("CARGO_PKG_VERSION")
                    ))),
                ],
                ..Default::default()
            };
            let interface = InterfaceDescriptionBlock {
                linktype: DataLink::RAW,
                snaplen: 0,
                // Timestamps are written in nanoseconds.
                options: vec![
                    InterfaceDescriptionOption::IfName(Cow::Borrowed("wscope")),
                    InterfaceDescriptionOption::IfTsResol(9),
                ],
            };
            let writer = PcapNgWriter::with_section_header(BufWriter::new(file), section)
                .and_then(|mut w| w.write_pcapng_block(interface).map(|_| w));
            match writer {
                Ok(w) => self.writer = Some(w),
                Err(_) => self.failed = true,
            }
        }
        self.connections = self.connections.wrapping_add(1);
        let n = self.connections;
        // Our end, or one of the same family when the socket did not say.
        let local = local.unwrap_or_else(|| {
            let ip = match peer.ip() {
                IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::LOCALHOST),
                IpAddr::V6(_) => IpAddr::V6(Ipv6Addr::LOCALHOST),
            };
            SocketAddr::new(ip, 1 + (n % 60_000) as u16)
        });
        let (client, server) = match role {
            Role::Client => (local, peer),
            Role::Server => (peer, local),
        };
        // Peers of a pcap often differ in family (IPv4-mapped): keep one.
        let client = same_family(client, server);
        let mut tcp = Connection {
            client: End {
                addr: client,
                next: 0x1000_0000_u32.wrapping_add(n.wrapping_mul(0x0100_0000)),
            },
            server: End {
                addr: server,
                next: 0x2000_0000_u32.wrapping_add(n.wrapping_mul(0x0100_0000)),
            },
        };
        let syn = segment(&tcp.client, &tcp.server, SYN, 0, &[]);
        tcp.client.next = tcp.client.next.wrapping_add(1);
        let syn_ack = segment(&tcp.server, &tcp.client, SYN | ACK, tcp.client.next, &[]);
        tcp.server.next = tcp.server.next.wrapping_add(1);
        let ack = segment(&tcp.client, &tcp.server, ACK, tcp.server.next, &[]);
        let opening = Some((self.clock.now(), vec![syn, syn_ack, ack]));
        self.flows.insert(self.conn, Flow { tcp, opening, role });
    }

    /// Writes the current connection's opening, no later than `at`.
    fn open(&mut self, at: f64) {
        let opening = self
            .flows
            .get_mut(&self.conn)
            .and_then(|f| f.opening.take());
        if let Some((seen, packets)) = opening {
            let at = self.timestamp(seen.min(at));
            for packet in packets {
                self.write(at, &packet);
            }
        }
    }

    /// Bytes that crossed: `dir` is from our side's view.
    fn bytes(&mut self, dir: Dir, at: f64, bytes: &[u8]) {
        self.open(at);
        let Some(Flow { tcp, role, .. }) = self.flows.get_mut(&self.conn) else {
            return;
        };
        let from_client = (dir == Dir::Out) == (*role == Role::Client);
        let mut packets = Vec::new();
        for piece in bytes.chunks(SEGMENT) {
            let (from, to) = if from_client {
                (&mut tcp.client, &tcp.server)
            } else {
                (&mut tcp.server, &tcp.client)
            };
            packets.push(segment(from, to, PSH | ACK, to.next, piece));
            from.next = from.next.wrapping_add(piece.len() as u32);
        }
        let at = self.timestamp(at);
        for packet in packets {
            self.write(at, &packet);
        }
    }

    /// Both sides of the current connection send FIN, as a closed
    /// connection would.
    fn finish(&mut self) {
        let now = self.clock.now();
        self.open(now);
        let Some(Flow { mut tcp, .. }) = self.flows.remove(&self.conn) else {
            return;
        };
        let at = self.timestamp(now);
        let fin = segment(&tcp.client, &tcp.server, FIN | ACK, tcp.server.next, &[]);
        tcp.client.next = tcp.client.next.wrapping_add(1);
        let fin_ack = segment(&tcp.server, &tcp.client, FIN | ACK, tcp.client.next, &[]);
        tcp.server.next = tcp.server.next.wrapping_add(1);
        let ack = segment(&tcp.client, &tcp.server, ACK, tcp.server.next, &[]);
        for packet in [fin, fin_ack, ack] {
            self.write(at, &packet);
        }
    }

    fn write(&mut self, timestamp: Duration, packet: &[u8]) {
        let Some(writer) = &mut self.writer else {
            return;
        };
        let block = EnhancedPacketBlock {
            interface_id: 0,
            timestamp,
            original_len: packet.len() as u32,
            data: Cow::Borrowed(packet),
            options: vec![],
        };
        if writer.write_pcapng_block(block).is_err() {
            self.failed = true;
            self.writer = None;
        }
    }
}

impl Observer for Pcap {
    fn event(&mut self, event: &Event) -> Go {
        match event {
            Event::Connect { role, facts, .. } => {
                self.finish();
                self.connect(*role, facts.addr, facts.local, facts.tls.is_some());
            }
            Event::Wire(chunk) => {
                let at = self.clock.at(chunk.at);
                self.bytes(chunk.dir, at, &chunk.bytes);
            }
            Event::Gone => self.finish(),
            _ => {}
        }
        Go::Go
    }

    fn set_conn(&mut self, conn: Option<u32>) {
        self.conn = conn.unwrap_or(0);
    }

    /// A proxied connection's two legs are kept apart (its server leg
    /// under the connection's number with the top bit set).
    fn set_leg(&mut self, leg: Option<crate::wire::Role>) {
        self.conn = crate::formats::leg_key(self.conn, leg);
    }

    fn flush(&mut self) -> Go {
        if let Some(writer) = &mut self.writer {
            let _ = writer.get_mut().flush();
        }
        Go::Go
    }

    fn interest(&self) -> Interest {
        Interest {
            chunks: true,
            ..Interest::default()
        }
    }
}

impl Drop for Pcap {
    fn drop(&mut self) {
        while let Some(&conn) = self.flows.keys().next() {
            self.conn = conn;
            self.finish();
        }
        self.flush();
    }
}

/// An IPv4 address beside an IPv6 one becomes IPv4-mapped.
fn same_family(addr: SocketAddr, like: SocketAddr) -> SocketAddr {
    match (addr.ip(), like.ip()) {
        (IpAddr::V4(v4), IpAddr::V6(_)) => {
            SocketAddr::new(IpAddr::V6(v4.to_ipv6_mapped()), addr.port())
        }
        (IpAddr::V6(v6), IpAddr::V4(_)) => match v6.to_ipv4_mapped() {
            Some(v4) => SocketAddr::new(IpAddr::V4(v4), addr.port()),
            None => addr,
        },
        _ => addr,
    }
}

/// One IP packet with a TCP segment from `from` to `to`.
fn segment(from: &End, to: &End, flags: u8, ack: u32, payload: &[u8]) -> Vec<u8> {
    let mut tcp = Vec::with_capacity(20 + payload.len());
    tcp.extend_from_slice(&from.addr.port().to_be_bytes());
    tcp.extend_from_slice(&to.addr.port().to_be_bytes());
    tcp.extend_from_slice(&from.next.to_be_bytes());
    let ack = if flags & ACK != 0 { ack } else { 0 };
    tcp.extend_from_slice(&ack.to_be_bytes());
    tcp.push(5 << 4); // data offset: 5 words, no options
    tcp.push(flags);
    tcp.extend_from_slice(&65535u16.to_be_bytes()); // window
    tcp.extend_from_slice(&[0, 0, 0, 0]); // checksum, urgent pointer
    tcp.extend_from_slice(payload);
    let mut pseudo = Vec::with_capacity(40);
    let mut packet = Vec::with_capacity(40 + tcp.len());
    match (from.addr.ip(), to.addr.ip()) {
        (IpAddr::V4(src), IpAddr::V4(dst)) => {
            pseudo.extend_from_slice(&src.octets());
            pseudo.extend_from_slice(&dst.octets());
            pseudo.extend_from_slice(&[0, 6]);
            pseudo.extend_from_slice(&(tcp.len() as u16).to_be_bytes());
            let total = (20 + tcp.len()) as u16;
            packet.extend_from_slice(&[0x45, 0]);
            packet.extend_from_slice(&total.to_be_bytes());
            packet.extend_from_slice(&[0, 0, 0x40, 0, 64, 6, 0, 0]); // DF, TTL 64, TCP
            packet.extend_from_slice(&src.octets());
            packet.extend_from_slice(&dst.octets());
            let sum = checksum(&[&packet]);
            packet[10..12].copy_from_slice(&sum.to_be_bytes());
        }
        (src, dst) => {
            let (src, dst) = (v6(src), v6(dst));
            pseudo.extend_from_slice(&src.octets());
            pseudo.extend_from_slice(&dst.octets());
            pseudo.extend_from_slice(&(tcp.len() as u32).to_be_bytes());
            pseudo.extend_from_slice(&[0, 0, 0, 6]);
            packet.extend_from_slice(&[0x60, 0, 0, 0]);
            packet.extend_from_slice(&(tcp.len() as u16).to_be_bytes());
            packet.extend_from_slice(&[6, 64]);
            packet.extend_from_slice(&src.octets());
            packet.extend_from_slice(&dst.octets());
        }
    }
    let sum = checksum(&[&pseudo, &tcp]);
    tcp[16..18].copy_from_slice(&sum.to_be_bytes());
    packet.extend_from_slice(&tcp);
    packet
}

fn v6(ip: IpAddr) -> Ipv6Addr {
    match ip {
        IpAddr::V4(v4) => v4.to_ipv6_mapped(),
        IpAddr::V6(v6) => v6,
    }
}

/// The Internet checksum (RFC 1071) over the parts, as one byte string.
fn checksum(parts: &[&[u8]]) -> u16 {
    let mut sum: u32 = 0;
    let mut odd: Option<u8> = None;
    for byte in parts.iter().flat_map(|p| p.iter().copied()) {
        match odd.take() {
            None => odd = Some(byte),
            Some(high) => sum += u32::from(u16::from_be_bytes([high, byte])),
        }
    }
    if let Some(high) = odd {
        sum += u32::from(u16::from_be_bytes([high, 0]));
    }
    while sum > 0xFFFF {
        sum = (sum & 0xFFFF) + (sum >> 16);
    }
    !(sum as u16)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checksums_verify_to_zero() {
        let from = End {
            addr: "10.0.0.1:40000".parse().unwrap(),
            next: 7,
        };
        let to = End {
            addr: "10.0.0.2:80".parse().unwrap(),
            next: 9,
        };
        let packet = segment(&from, &to, PSH | ACK, 9, b"hello");
        assert_eq!(checksum(&[&packet[..20]]), 0);
        let mut pseudo = Vec::new();
        pseudo.extend_from_slice(&packet[12..20]);
        pseudo.extend_from_slice(&[0, 6, 0, 25]);
        assert_eq!(checksum(&[&pseudo, &packet[20..]]), 0);
        assert_eq!(&packet[40..], b"hello");
    }
}
