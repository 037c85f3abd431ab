
use builtin;
use str;

set edit:completion:arg-completer[wscope] = {|@words|
    fn spaces {|n|
        builtin:repeat $n ' ' | str:join ''
    }
    fn cand {|text desc|
        edit:complex-candidate $text &display=$text' '(spaces (- 14 (wcswidth $text)))$desc
    }
    var command = 'wscope'
    for word $words[1..-1] {
        if (str:has-prefix $word '-') {
            break
        }
        set command = $command';'$word
    }
    var completions = [
        &'wscope'= {
            cand -l 'Be the server: wait on [ADDR:]PORT (a bare port means 127.0.0.1), or on a Unix socket with unix:PATH (removed on exit), for clients, and show their sessions the same way, each with its number. Several are served at once (--max-clients), until Ctrl-C or SIGTERM (--once: one client). With --cert/--key or --self-signed it serves wss://'
            cand --listen 'Be the server: wait on [ADDR:]PORT (a bare port means 127.0.0.1), or on a Unix socket with unix:PATH (removed on exit), for clients, and show their sessions the same way, each with its number. Several are served at once (--max-clients), until Ctrl-C or SIGTERM (--once: one client). With --cert/--key or --self-signed it serves wss://'
            cand --max-clients 'With --listen: how many clients are served at once; one more is answered 503'
            cand -H 'Add a request header, ''Name: value'' (repeatable, order kept); one named like a header wscope writes replaces it'
            cand --header 'Add a request header, ''Name: value'' (repeatable, order kept); one named like a header wscope writes replaces it'
            cand -o 'Send this Origin header'
            cand --origin 'Send this Origin header'
            cand -s 'Offer this subprotocol (repeatable); a server that picks one not offered fails the handshake'
            cand --subprotocol 'Offer this subprotocol (repeatable); a server that picks one not offered fails the handshake'
            cand --auth 'HTTP Basic credentials, USER:PASS (also taken from the URL)'
            cand --user-agent 'The User-Agent header ('''' sends none)'
            cand -x 'Send TEXT as a text message (repeatable, sent in order)'
            cand --execute 'Send TEXT as a text message (repeatable, sent in order)'
            cand -w 'After the input is used up, stay open until SECS seconds pass with nothing received, then close. Without it: until the peer is quiet for two round trips once it answered everything (1-250 ms), up to 1 s while it still owes answers, 0.25-1 s before any answer. -w 0 closes at once'
            cand --wait 'After the input is used up, stay open until SECS seconds pass with nothing received, then close. Without it: until the peer is quiet for two round trips once it answered everything (1-250 ms), up to 1 s while it still owes answers, 0.25-1 s before any answer. -w 0 closes at once'
            cand --chunk-size 'Size of each binary message with --binary'
            cand -n 'Close and exit after N incoming data messages'
            cand --count 'Close and exit after N incoming data messages'
            cand --until 'Close and exit after an incoming message that matches REGEX (binary messages are matched as hex)'
            cand --reply 'Answer an incoming message that matches REGEX with TEXT, at once (`$1`, `${name}`: the match''s groups; `$$`: a `$`; binary messages are matched as hex). Repeatable: the first rule that matches answers. For example ''^2$=>3'' keeps an Engine.IO (socket.io) session alive'
            cand --ping-interval 'Send a ping every SECS seconds'
            cand --ping-timeout 'With --ping-interval: give up (exit 3) when a pong takes longer'
            cand --layout 'How frame lines are laid out: `wide` decodes every header field; `compact` keeps each frame on one terminal line (direction, kind, flags only when unusual, length, preview); `auto` is compact on a terminal narrower than 100 columns'
            cand --time 'The time at the start of each line: seconds since the start (`rel`), the wall clock (`abs`), or seconds since the line before (`delta`)'
            cand --only 'Show only what goes this way (the human view; --json stays whole)'
            cand --hide 'Leave these kinds of frame out of the human view, comma-separated (ping,pong,close,text,binary,continuation); they are still handled'
            cand --grep 'Show only the messages that match REGEX (binary as hex), with their frames (the human view; --json stays whole)'
            cand --rtt-json-id 'Pair the JSON messages sent and received that carry the same value in FIELD (`id`, or a dotted path such as `meta.id`), in whatever order the answers come, and show each answer''s delay'
            cand --color 'When to colour the output'
            cand --ca 'Trust the CA certificates in this PEM file, besides the built-in roots'
            cand --cert 'Certificate chain (PEM): the client''s for mutual TLS, or with --listen the server''s, which then serves wss://. Needs --key'
            cand --key 'Private key (PEM) for --cert'
            cand --self-signed 'With --listen: serve wss:// with a certificate made at start for localhost, 127.0.0.1 and ::1, or for the names given (--self-signed=NAME,...). Prints its fingerprints and where a PEM copy was written'
            cand --client-ca 'With --listen and TLS: require a client certificate issued by a CA in this PEM file'
            cand --tls-server-name 'Send and verify this name in TLS instead of the URL''s host'
            cand --tls-min 'Lowest TLS version to accept'
            cand --preview 'Show at most BYTES of each frame''s payload'
            cand --max-message-size 'Largest incoming message accepted (64 MiB; inflated size when compressed); a bigger one fails the connection with Close 1009 instead of growing memory'
            cand --max-frame-size 'Largest incoming frame accepted (16 MiB)'
            cand --close-timeout 'How long to wait for the server''s Close after sending ours'
            cand --proxy 'Connect through this proxy: http://[USER:PASS@]HOST:PORT (CONNECT), socks5://HOST:PORT or socks5h://HOST:PORT (the proxy resolves the name). Without it HTTPS_PROXY/HTTP_PROXY, ALL_PROXY and NO_PROXY are honoured; --proxy '''' ignores them'
            cand --max-redirects 'How many redirects -L follows'
            cand --max-time 'Bound the whole run, connecting included, to SECS seconds, as curl''s --max-time does: when it is reached wscope sends a Close and exits 3 at once'
            cand --reconnect 'Open the connection again when it is lost (an error, a reset, a refused connection, an upgrade answered 502, 503 or 504, or a Close the server started with 1001, 1011, 1012 or 1013), up to N more times, or `always`. The -x messages go out again on each connection; stdin or the prompt carries on'
            cand --reconnect-delay 'With --reconnect: the first wait before connecting again; it doubles after each attempt that fails to open, up to --reconnect-max-delay'
            cand --reconnect-max-delay 'With --reconnect: the longest wait between attempts'
            cand --connect-timeout 'Give up connecting (TCP, TLS and the upgrade) after SECS seconds'
            cand --log 'Also write the --json event stream, each event with its wall-clock time, to FILE (a tape, see docs/tape.md), whatever the screen shows'
            cand --har 'Write the session to FILE as HAR 1.2, the way Chrome DevTools saves a WebSocket (the upgrade as an entry, messages in _webSocketMessages)'
            cand --pcap 'Write the WebSocket stream (handshake and frames, both ways) to FILE as a pcapng capture for Wireshark; for wss:// the decrypted bytes'
            cand --replay 'Play a tape (--log) or a HAR again: with a URL, send its messages and compare what comes back (exit 5 when it differs); with --listen, answer a client with the messages its server sent'
            cand --timing 'With --replay: wait before each message for as many messages as the recording had received by then (paced), keep the recording''s gaps (original), or send at once (none)'
            cand --replay-timeout 'With --replay, paced: how long to wait for each awaited message'
            cand --ignore 'With --replay: mask what matches REGEX in both the recorded and the received messages before comparing (repeatable; binary as hex)'
            cand --entry 'With --replay of a HAR or a tape of several connections: the WebSocket entry (or connection) whose URL contains this, or the Nth (from 1)'
            cand --echo 'With --listen: send every message back to the client'
            cand --once 'With --listen: serve one client, then exit with that session''s exit code (without it, wscope keeps serving until Ctrl-C or SIGTERM)'
            cand --slash 'Treat stdin lines that start with ''/'' as commands, as at the prompt (/ping, /close 4000 bye, /frame ...)'
            cand --binary 'Send stdin as binary messages of --chunk-size bytes instead of lines'
            cand --hex 'Each stdin line is hex for one binary message (48656c, 48 65 6c, ...)'
            cand --raw 'Write incoming payloads as they are: no newline after each message, binary not turned into hex'
            cand --json 'Print every event as one JSON object per line'
            cand --frames 'Show the handshake and frame view even when stdout is not a terminal (by default a pipe gets only the payload of each incoming message)'
            cand --pretty 'Show JSON text payloads (objects and arrays) indented on the lines after their message; by default they are shown on one line, coloured'
            cand --no-pretty 'Show JSON text payloads exactly as they were sent'
            cand -k 'Do not verify the server''s certificate (dangerous; warns)'
            cand --insecure 'Do not verify the server''s certificate (dangerous; warns)'
            cand -4 'Use IPv4 addresses only'
            cand --ipv4 'Use IPv4 addresses only'
            cand -6 'Use IPv6 addresses only'
            cand --ipv6 'Use IPv6 addresses only'
            cand -L 'Follow 3xx redirects (each hop is shown)'
            cand --location 'Follow 3xx redirects (each hop is shown)'
            cand --deflate 'Offer permessage-deflate (compression), as browsers do; with --listen, accept a client''s offer'
            cand --location-trusted 'With -L, trust redirects as curl does: credentials (Authorization, Cookie, Proxy-Authorization) follow them to other origins, and a redirect from wss:// to ws:// is followed'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
            cand check 'Test a WebSocket server against the Autobahn testsuite''s cases'
        }
        &'wscope;check'= {
            cand --cases 'Run only these cases: the suite''s ids with * globs, comma-separated (''1.*,6.4.*'')'
            cand --exclude 'Leave these cases out (same form as --cases)'
            cand --report 'Write the suite''s index.json, a JSON file per case with its wire log, and an HTML report (index.html) to DIR, as cases end'
            cand --agent 'The server''s name in the report [default: its Server header, or the host]'
            cand --parallel 'Run up to N cases side by side (timed cases always run alone)'
            cand --connect-timeout 'Seconds to wait for each connection and opening handshake'
            cand --ca 'Trust the CA certificates in this PEM file, besides the built-in roots'
            cand --color 'When to colour the output'
            cand --json 'One JSON line per case as it ends, then a summary line'
            cand -k 'Do not verify the server''s certificate'
            cand --insecure 'Do not verify the server''s certificate'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
    ]
    $completions[$command]
}
