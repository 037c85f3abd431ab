
using namespace System.Management.Automation
using namespace System.Management.Automation.Language

Register-ArgumentCompleter -Native -CommandName 'wscope' -ScriptBlock {
    param($wordToComplete, $commandAst, $cursorPosition)

    $commandElements = $commandAst.CommandElements
    $command = @(
        'wscope'
        for ($i = 1; $i -lt $commandElements.Count; $i++) {
            $element = $commandElements[$i]
            if ($element -isnot [StringConstantExpressionAst] -or
                $element.StringConstantType -ne [StringConstantType]::BareWord -or
                $element.Value.StartsWith('-') -or
                $element.Value -eq $wordToComplete) {
                break
        }
        $element.Value
    }) -join ';'

    $completions = @(switch ($command) {
        'wscope' {
            [CompletionResult]::new('-l', '-l', [CompletionResultType]::ParameterName, 'Be the server: wait on [ADDR:]PORT (a bare port means 127.0.0.1), or on a Unix socket with unix:PATH (removed on exit), for clients, and show their sessions the same way, each with its number. Several are served at once (--max-clients), until Ctrl-C or SIGTERM (--once: one client). With --cert/--key or --self-signed it serves wss://')
            [CompletionResult]::new('--listen', '--listen', [CompletionResultType]::ParameterName, 'Be the server: wait on [ADDR:]PORT (a bare port means 127.0.0.1), or on a Unix socket with unix:PATH (removed on exit), for clients, and show their sessions the same way, each with its number. Several are served at once (--max-clients), until Ctrl-C or SIGTERM (--once: one client). With --cert/--key or --self-signed it serves wss://')
            [CompletionResult]::new('--max-clients', '--max-clients', [CompletionResultType]::ParameterName, 'With --listen: how many clients are served at once; one more is answered 503')
            [CompletionResult]::new('-H', '-H ', [CompletionResultType]::ParameterName, 'Add a request header, ''Name: value'' (repeatable, order kept); one named like a header wscope writes replaces it')
            [CompletionResult]::new('--header', '--header', [CompletionResultType]::ParameterName, 'Add a request header, ''Name: value'' (repeatable, order kept); one named like a header wscope writes replaces it')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Send this Origin header')
            [CompletionResult]::new('--origin', '--origin', [CompletionResultType]::ParameterName, 'Send this Origin header')
            [CompletionResult]::new('-s', '-s', [CompletionResultType]::ParameterName, 'Offer this subprotocol (repeatable); a server that picks one not offered fails the handshake')
            [CompletionResult]::new('--subprotocol', '--subprotocol', [CompletionResultType]::ParameterName, 'Offer this subprotocol (repeatable); a server that picks one not offered fails the handshake')
            [CompletionResult]::new('--auth', '--auth', [CompletionResultType]::ParameterName, 'HTTP Basic credentials, USER:PASS (also taken from the URL)')
            [CompletionResult]::new('--user-agent', '--user-agent', [CompletionResultType]::ParameterName, 'The User-Agent header ('''' sends none)')
            [CompletionResult]::new('-x', '-x', [CompletionResultType]::ParameterName, 'Send TEXT as a text message (repeatable, sent in order)')
            [CompletionResult]::new('--execute', '--execute', [CompletionResultType]::ParameterName, 'Send TEXT as a text message (repeatable, sent in order)')
            [CompletionResult]::new('-w', '-w', [CompletionResultType]::ParameterName, 'After the input is used up, stay open until SECS seconds pass with nothing received, then close. Without it: until the peer is quiet for two round trips once it answered everything (1-250 ms), up to 1 s while it still owes answers, 0.25-1 s before any answer. -w 0 closes at once')
            [CompletionResult]::new('--wait', '--wait', [CompletionResultType]::ParameterName, 'After the input is used up, stay open until SECS seconds pass with nothing received, then close. Without it: until the peer is quiet for two round trips once it answered everything (1-250 ms), up to 1 s while it still owes answers, 0.25-1 s before any answer. -w 0 closes at once')
            [CompletionResult]::new('--chunk-size', '--chunk-size', [CompletionResultType]::ParameterName, 'Size of each binary message with --binary')
            [CompletionResult]::new('-n', '-n', [CompletionResultType]::ParameterName, 'Close and exit after N incoming data messages')
            [CompletionResult]::new('--count', '--count', [CompletionResultType]::ParameterName, 'Close and exit after N incoming data messages')
            [CompletionResult]::new('--until', '--until', [CompletionResultType]::ParameterName, 'Close and exit after an incoming message that matches REGEX (binary messages are matched as hex)')
            [CompletionResult]::new('--reply', '--reply', [CompletionResultType]::ParameterName, 'Answer an incoming message that matches REGEX with TEXT, at once (`$1`, `${name}`: the match''s groups; `$$`: a `$`; binary messages are matched as hex). Repeatable: the first rule that matches answers. For example ''^2$=>3'' keeps an Engine.IO (socket.io) session alive')
            [CompletionResult]::new('--ping-interval', '--ping-interval', [CompletionResultType]::ParameterName, 'Send a ping every SECS seconds')
            [CompletionResult]::new('--ping-timeout', '--ping-timeout', [CompletionResultType]::ParameterName, 'With --ping-interval: give up (exit 3) when a pong takes longer')
            [CompletionResult]::new('--layout', '--layout', [CompletionResultType]::ParameterName, 'How frame lines are laid out: `wide` decodes every header field; `compact` keeps each frame on one terminal line (direction, kind, flags only when unusual, length, preview); `auto` is compact on a terminal narrower than 100 columns')
            [CompletionResult]::new('--time', '--time', [CompletionResultType]::ParameterName, 'The time at the start of each line: seconds since the start (`rel`), the wall clock (`abs`), or seconds since the line before (`delta`)')
            [CompletionResult]::new('--only', '--only', [CompletionResultType]::ParameterName, 'Show only what goes this way (the human view; --json stays whole)')
            [CompletionResult]::new('--hide', '--hide', [CompletionResultType]::ParameterName, 'Leave these kinds of frame out of the human view, comma-separated (ping,pong,close,text,binary,continuation); they are still handled')
            [CompletionResult]::new('--grep', '--grep', [CompletionResultType]::ParameterName, 'Show only the messages that match REGEX (binary as hex), with their frames (the human view; --json stays whole)')
            [CompletionResult]::new('--rtt-json-id', '--rtt-json-id', [CompletionResultType]::ParameterName, 'Pair the JSON messages sent and received that carry the same value in FIELD (`id`, or a dotted path such as `meta.id`), in whatever order the answers come, and show each answer''s delay')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to colour the output')
            [CompletionResult]::new('--ca', '--ca', [CompletionResultType]::ParameterName, 'Trust the CA certificates in this PEM file, besides the built-in roots')
            [CompletionResult]::new('--cert', '--cert', [CompletionResultType]::ParameterName, 'Certificate chain (PEM): the client''s for mutual TLS, or with --listen the server''s, which then serves wss://. Needs --key')
            [CompletionResult]::new('--key', '--key', [CompletionResultType]::ParameterName, 'Private key (PEM) for --cert')
            [CompletionResult]::new('--self-signed', '--self-signed', [CompletionResultType]::ParameterName, 'With --listen: serve wss:// with a certificate made at start for localhost, 127.0.0.1 and ::1, or for the names given (--self-signed=NAME,...). Prints its fingerprints and where a PEM copy was written')
            [CompletionResult]::new('--client-ca', '--client-ca', [CompletionResultType]::ParameterName, 'With --listen and TLS: require a client certificate issued by a CA in this PEM file')
            [CompletionResult]::new('--tls-server-name', '--tls-server-name', [CompletionResultType]::ParameterName, 'Send and verify this name in TLS instead of the URL''s host')
            [CompletionResult]::new('--tls-min', '--tls-min', [CompletionResultType]::ParameterName, 'Lowest TLS version to accept')
            [CompletionResult]::new('--preview', '--preview', [CompletionResultType]::ParameterName, 'Show at most BYTES of each frame''s payload')
            [CompletionResult]::new('--max-message-size', '--max-message-size', [CompletionResultType]::ParameterName, 'Largest incoming message accepted (64 MiB; inflated size when compressed); a bigger one fails the connection with Close 1009 instead of growing memory')
            [CompletionResult]::new('--max-frame-size', '--max-frame-size', [CompletionResultType]::ParameterName, 'Largest incoming frame accepted (16 MiB)')
            [CompletionResult]::new('--close-timeout', '--close-timeout', [CompletionResultType]::ParameterName, 'How long to wait for the server''s Close after sending ours')
            [CompletionResult]::new('--proxy', '--proxy', [CompletionResultType]::ParameterName, 'Connect through this proxy: http://[USER:PASS@]HOST:PORT (CONNECT), socks5://HOST:PORT or socks5h://HOST:PORT (the proxy resolves the name). Without it HTTPS_PROXY/HTTP_PROXY, ALL_PROXY and NO_PROXY are honoured; --proxy '''' ignores them')
            [CompletionResult]::new('--max-redirects', '--max-redirects', [CompletionResultType]::ParameterName, 'How many redirects -L follows')
            [CompletionResult]::new('--max-time', '--max-time', [CompletionResultType]::ParameterName, 'Bound the whole run, connecting included, to SECS seconds, as curl''s --max-time does: when it is reached wscope sends a Close and exits 3 at once')
            [CompletionResult]::new('--reconnect', '--reconnect', [CompletionResultType]::ParameterName, 'Open the connection again when it is lost (an error, a reset, a refused connection, an upgrade answered 502, 503 or 504, or a Close the server started with 1001, 1011, 1012 or 1013), up to N more times, or `always`. The -x messages go out again on each connection; stdin or the prompt carries on')
            [CompletionResult]::new('--reconnect-delay', '--reconnect-delay', [CompletionResultType]::ParameterName, 'With --reconnect: the first wait before connecting again; it doubles after each attempt that fails to open, up to --reconnect-max-delay')
            [CompletionResult]::new('--reconnect-max-delay', '--reconnect-max-delay', [CompletionResultType]::ParameterName, 'With --reconnect: the longest wait between attempts')
            [CompletionResult]::new('--connect-timeout', '--connect-timeout', [CompletionResultType]::ParameterName, 'Give up connecting (TCP, TLS and the upgrade) after SECS seconds')
            [CompletionResult]::new('--log', '--log', [CompletionResultType]::ParameterName, 'Also write the --json event stream, each event with its wall-clock time, to FILE (a tape, see docs/tape.md), whatever the screen shows')
            [CompletionResult]::new('--har', '--har', [CompletionResultType]::ParameterName, 'Write the session to FILE as HAR 1.2, the way Chrome DevTools saves a WebSocket (the upgrade as an entry, messages in _webSocketMessages)')
            [CompletionResult]::new('--pcap', '--pcap', [CompletionResultType]::ParameterName, 'Write the WebSocket stream (handshake and frames, both ways) to FILE as a pcapng capture for Wireshark; for wss:// the decrypted bytes')
            [CompletionResult]::new('--replay', '--replay', [CompletionResultType]::ParameterName, 'Play a tape (--log) or a HAR again: with a URL, send its messages and compare what comes back (exit 5 when it differs); with --listen, answer a client with the messages its server sent')
            [CompletionResult]::new('--timing', '--timing', [CompletionResultType]::ParameterName, 'With --replay: wait before each message for as many messages as the recording had received by then (paced), keep the recording''s gaps (original), or send at once (none)')
            [CompletionResult]::new('--replay-timeout', '--replay-timeout', [CompletionResultType]::ParameterName, 'With --replay, paced: how long to wait for each awaited message')
            [CompletionResult]::new('--ignore', '--ignore', [CompletionResultType]::ParameterName, 'With --replay: mask what matches REGEX in both the recorded and the received messages before comparing (repeatable; binary as hex)')
            [CompletionResult]::new('--entry', '--entry', [CompletionResultType]::ParameterName, 'With --replay of a HAR or a tape of several connections: the WebSocket entry (or connection) whose URL contains this, or the Nth (from 1)')
            [CompletionResult]::new('--echo', '--echo', [CompletionResultType]::ParameterName, 'With --listen: send every message back to the client')
            [CompletionResult]::new('--once', '--once', [CompletionResultType]::ParameterName, 'With --listen: serve one client, then exit with that session''s exit code (without it, wscope keeps serving until Ctrl-C or SIGTERM)')
            [CompletionResult]::new('--slash', '--slash', [CompletionResultType]::ParameterName, 'Treat stdin lines that start with ''/'' as commands, as at the prompt (/ping, /close 4000 bye, /frame ...)')
            [CompletionResult]::new('--binary', '--binary', [CompletionResultType]::ParameterName, 'Send stdin as binary messages of --chunk-size bytes instead of lines')
            [CompletionResult]::new('--hex', '--hex', [CompletionResultType]::ParameterName, 'Each stdin line is hex for one binary message (48656c, 48 65 6c, ...)')
            [CompletionResult]::new('--raw', '--raw', [CompletionResultType]::ParameterName, 'Write incoming payloads as they are: no newline after each message, binary not turned into hex')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print every event as one JSON object per line')
            [CompletionResult]::new('--frames', '--frames', [CompletionResultType]::ParameterName, 'Show the handshake and frame view even when stdout is not a terminal (by default a pipe gets only the payload of each incoming message)')
            [CompletionResult]::new('--pretty', '--pretty', [CompletionResultType]::ParameterName, 'Show JSON text payloads (objects and arrays) indented on the lines after their message; by default they are shown on one line, coloured')
            [CompletionResult]::new('--no-pretty', '--no-pretty', [CompletionResultType]::ParameterName, 'Show JSON text payloads exactly as they were sent')
            [CompletionResult]::new('-k', '-k', [CompletionResultType]::ParameterName, 'Do not verify the server''s certificate (dangerous; warns)')
            [CompletionResult]::new('--insecure', '--insecure', [CompletionResultType]::ParameterName, 'Do not verify the server''s certificate (dangerous; warns)')
            [CompletionResult]::new('-4', '-4', [CompletionResultType]::ParameterName, 'Use IPv4 addresses only')
            [CompletionResult]::new('--ipv4', '--ipv4', [CompletionResultType]::ParameterName, 'Use IPv4 addresses only')
            [CompletionResult]::new('-6', '-6', [CompletionResultType]::ParameterName, 'Use IPv6 addresses only')
            [CompletionResult]::new('--ipv6', '--ipv6', [CompletionResultType]::ParameterName, 'Use IPv6 addresses only')
            [CompletionResult]::new('-L', '-L ', [CompletionResultType]::ParameterName, 'Follow 3xx redirects (each hop is shown)')
            [CompletionResult]::new('--location', '--location', [CompletionResultType]::ParameterName, 'Follow 3xx redirects (each hop is shown)')
            [CompletionResult]::new('--deflate', '--deflate', [CompletionResultType]::ParameterName, 'Offer permessage-deflate (compression), as browsers do; with --listen, accept a client''s offer')
            [CompletionResult]::new('--location-trusted', '--location-trusted', [CompletionResultType]::ParameterName, 'With -L, trust redirects as curl does: credentials (Authorization, Cookie, Proxy-Authorization) follow them to other origins, and a redirect from wss:// to ws:// is followed')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('check', 'check', [CompletionResultType]::ParameterValue, 'Test a WebSocket server (or, with --listen, clients) against the Autobahn testsuite''s cases')
            [CompletionResult]::new('proxy', 'proxy', [CompletionResultType]::ParameterValue, 'Carry WebSocket connections through, showing both legs frame by frame')
            break
        }
        'wscope;check' {
            [CompletionResult]::new('--listen', '--listen', [CompletionResultType]::ParameterName, 'Test clients instead: serve the suite''s fuzzingserver control URLs (/getCaseCount, /runCase, ...) on [ADDR:]PORT for client harnesses, and a page at / that runs the cases in a browser')
            [CompletionResult]::new('--cases', '--cases', [CompletionResultType]::ParameterName, 'Run only these cases: the suite''s ids with * globs, comma-separated (''1.*,6.4.*'')')
            [CompletionResult]::new('--exclude', '--exclude', [CompletionResultType]::ParameterName, 'Leave these cases out (same form as --cases)')
            [CompletionResult]::new('--report', '--report', [CompletionResultType]::ParameterName, 'Write the suite''s index.json, a JSON file per case with its wire log, and an HTML report (index.html) to DIR, as cases end')
            [CompletionResult]::new('--agent', '--agent', [CompletionResultType]::ParameterName, 'The server''s name in the report [default: its Server header, or the host]')
            [CompletionResult]::new('--parallel', '--parallel', [CompletionResultType]::ParameterName, 'Run up to N cases side by side (timed cases always run alone)')
            [CompletionResult]::new('--connect-timeout', '--connect-timeout', [CompletionResultType]::ParameterName, 'Seconds to wait for each connection and opening handshake')
            [CompletionResult]::new('--ca', '--ca', [CompletionResultType]::ParameterName, 'Trust the CA certificates in this PEM file, besides the built-in roots')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to colour the output')
            [CompletionResult]::new('--until-reports', '--until-reports', [CompletionResultType]::ParameterName, 'With --listen: end after the first /updateReports, with the exit code (6 if a case FAILED), so that a CI job needs no kill')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'One JSON line per case as it ends, then a summary line')
            [CompletionResult]::new('-k', '-k', [CompletionResultType]::ParameterName, 'Do not verify the server''s certificate')
            [CompletionResult]::new('--insecure', '--insecure', [CompletionResultType]::ParameterName, 'Do not verify the server''s certificate')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'wscope;proxy' {
            [CompletionResult]::new('-l', '-l', [CompletionResultType]::ParameterName, 'Where clients connect: [ADDR:]PORT (the address defaults to 127.0.0.1)')
            [CompletionResult]::new('--listen', '--listen', [CompletionResultType]::ParameterName, 'Where clients connect: [ADDR:]PORT (the address defaults to 127.0.0.1)')
            [CompletionResult]::new('--mitm', '--mitm', [CompletionResultType]::ParameterName, 'Intercept TLS tunnels with a CA kept in DIR (made on first use): ca.pem to trust, ca.key (mode 0600) never printed')
            [CompletionResult]::new('--fault', '--fault', [CompletionResultType]::ParameterName, 'A fault to apply: KIND[:up|down][,key=value...], repeatable. Kinds: delay (ms, jitter), drop (every, match, p), corrupt (every, bits), close (code, reason, after), reset (after), stall (of=ping|pong, after), throttle (rate), hold (ms, after)')
            [CompletionResult]::new('--seed', '--seed', [CompletionResultType]::ParameterName, 'Seed for the random faults (p=, jitter=, corrupt), to repeat a run')
            [CompletionResult]::new('--max-clients', '--max-clients', [CompletionResultType]::ParameterName, 'How many clients are carried at once; one more is refused with 503')
            [CompletionResult]::new('--max-time', '--max-time', [CompletionResultType]::ParameterName, 'Stop after this many seconds')
            [CompletionResult]::new('--connect-timeout', '--connect-timeout', [CompletionResultType]::ParameterName, 'Seconds to wait for the upstream connection and its handshake')
            [CompletionResult]::new('--ca', '--ca', [CompletionResultType]::ParameterName, 'Trust the CA certificates in this PEM file upstream, besides the built-in roots')
            [CompletionResult]::new('--preview', '--preview', [CompletionResultType]::ParameterName, 'Payload bytes shown per frame')
            [CompletionResult]::new('--log', '--log', [CompletionResultType]::ParameterName, 'Record both legs as JSON Lines (a tape) to FILE')
            [CompletionResult]::new('--har', '--har', [CompletionResultType]::ParameterName, 'Record both legs as a HAR file')
            [CompletionResult]::new('--pcap', '--pcap', [CompletionResultType]::ParameterName, 'Record both legs as pcapng (two TCP flows per client)')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to colour the output')
            [CompletionResult]::new('--strict', '--strict', [CompletionResultType]::ParameterName, 'Fail a connection whose peer breaks the protocol (1002), instead of naming the violation and passing it on')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'JSON Lines output: every event carries conn and leg')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Show connections, handshakes, faults and notices, but no frames or messages (the fastest way through)')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Show connections, handshakes, faults and notices, but no frames or messages (the fastest way through)')
            [CompletionResult]::new('--once', '--once', [CompletionResultType]::ParameterName, 'End after the first client''s connection ends')
            [CompletionResult]::new('-k', '-k', [CompletionResultType]::ParameterName, 'Do not verify the upstream server''s certificate')
            [CompletionResult]::new('--insecure', '--insecure', [CompletionResultType]::ParameterName, 'Do not verify the upstream server''s certificate')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
    })

    $completions.Where{ $_.CompletionText -like "$wordToComplete*" } |
        Sort-Object -Property ListItemText
}
