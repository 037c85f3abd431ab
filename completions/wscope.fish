complete -c wscope -s l -l listen -d 'Be the server: wait on [ADDR:]PORT (a bare port means 127.0.0.1), or on a Unix socket with unix:PATH (removed on exit), for clients, and show their sessions the same way, each with its number. Several are served at once (--max-clients), until Ctrl-C or SIGTERM (--once: one client). With --cert/--key or --self-signed it serves wss://' -r
complete -c wscope -l max-clients -d 'With --listen: how many clients are served at once; one more is answered 503' -r
complete -c wscope -s H -l header -d 'Add a request header, \'Name: value\' (repeatable, order kept); one named like a header wscope writes replaces it' -r
complete -c wscope -s o -l origin -d 'Send this Origin header' -r
complete -c wscope -s s -l subprotocol -d 'Offer this subprotocol (repeatable); a server that picks one not offered fails the handshake' -r
complete -c wscope -l auth -d 'HTTP Basic credentials, USER:PASS (also taken from the URL)' -r
complete -c wscope -l user-agent -d 'The User-Agent header (\'\' sends none)' -r
complete -c wscope -s x -l execute -d 'Send TEXT as a text message (repeatable, sent in order)' -r
complete -c wscope -s w -l wait -d 'After the input is used up, stay open until SECS seconds pass with nothing received, then close. Without it: until the peer is quiet for two round trips once it answered everything (1-250 ms), up to 1 s while it still owes answers, 0.25-1 s before any answer. -w 0 closes at once' -r
complete -c wscope -l chunk-size -d 'Size of each binary message with --binary' -r
complete -c wscope -s n -l count -d 'Close and exit after N incoming data messages' -r
complete -c wscope -l until -d 'Close and exit after an incoming message that matches REGEX (binary messages are matched as hex)' -r
complete -c wscope -l reply -d 'Answer an incoming message that matches REGEX with TEXT, at once (`$1`, `${name}`: the match\'s groups; `$$`: a `$`; binary messages are matched as hex). Repeatable: the first rule that matches answers. For example \'^2$=>3\' keeps an Engine.IO (socket.io) session alive' -r
complete -c wscope -l ping-interval -d 'Send a ping every SECS seconds' -r
complete -c wscope -l ping-timeout -d 'With --ping-interval: give up (exit 3) when a pong takes longer' -r
complete -c wscope -l layout -d 'How frame lines are laid out: `wide` decodes every header field; `compact` keeps each frame on one terminal line (direction, kind, flags only when unusual, length, preview); `auto` is compact on a terminal narrower than 100 columns' -r -f -a "auto\t''
wide\t''
compact\t''"
complete -c wscope -l time -d 'The time at the start of each line: seconds since the start (`rel`), the wall clock (`abs`), or seconds since the line before (`delta`)' -r -f -a "rel\t'Seconds since wscope started'
abs\t'The wall clock, local time'
delta\t'Seconds since the line before'"
complete -c wscope -l only -d 'Show only what goes this way (the human view; --json stays whole)' -r -f -a "in\t'What the peer sent'
out\t'What wscope sent'"
complete -c wscope -l hide -d 'Leave these kinds of frame out of the human view, comma-separated (ping,pong,close,text,binary,continuation); they are still handled' -r -f -a "ping\t''
pong\t''
close\t''
text\t''
binary\t''
continuation\t''"
complete -c wscope -l grep -d 'Show only the messages that match REGEX (binary as hex), with their frames (the human view; --json stays whole)' -r
complete -c wscope -l rtt-json-id -d 'Pair the JSON messages sent and received that carry the same value in FIELD (`id`, or a dotted path such as `meta.id`), in whatever order the answers come, and show each answer\'s delay' -r
complete -c wscope -l color -d 'When to colour the output' -r -f -a "auto\t''
always\t''
never\t''"
complete -c wscope -l ca -d 'Trust the CA certificates in this PEM file, besides the built-in roots' -r -F
complete -c wscope -l cert -d 'Certificate chain (PEM): the client\'s for mutual TLS, or with --listen the server\'s, which then serves wss://. Needs --key' -r -F
complete -c wscope -l key -d 'Private key (PEM) for --cert' -r -F
complete -c wscope -l self-signed -d 'With --listen: serve wss:// with a certificate made at start for localhost, 127.0.0.1 and ::1, or for the names given (--self-signed=NAME,...). Prints its fingerprints and where a PEM copy was written' -r
complete -c wscope -l client-ca -d 'With --listen and TLS: require a client certificate issued by a CA in this PEM file' -r -F
complete -c wscope -l tls-server-name -d 'Send and verify this name in TLS instead of the URL\'s host' -r
complete -c wscope -l tls-min -d 'Lowest TLS version to accept' -r -f -a "1.2\t''
1.3\t''"
complete -c wscope -l preview -d 'Show at most BYTES of each frame\'s payload' -r
complete -c wscope -l max-message-size -d 'Largest incoming message accepted (64 MiB; inflated size when compressed); a bigger one fails the connection with Close 1009 instead of growing memory' -r
complete -c wscope -l max-frame-size -d 'Largest incoming frame accepted (16 MiB)' -r
complete -c wscope -l close-timeout -d 'How long to wait for the server\'s Close after sending ours' -r
complete -c wscope -l proxy -d 'Connect through this proxy: http://[USER:PASS@]HOST:PORT (CONNECT), socks5://HOST:PORT or socks5h://HOST:PORT (the proxy resolves the name). Without it HTTPS_PROXY/HTTP_PROXY, ALL_PROXY and NO_PROXY are honoured; --proxy \'\' ignores them' -r
complete -c wscope -l max-redirects -d 'How many redirects -L follows' -r
complete -c wscope -l max-time -d 'Bound the whole run, connecting included, to SECS seconds, as curl\'s --max-time does: when it is reached wscope sends a Close and exits 3 at once' -r
complete -c wscope -l reconnect -d 'Open the connection again when it is lost (an error, a reset, a refused connection, an upgrade answered 502, 503 or 504, or a Close the server started with 1001, 1011, 1012 or 1013), up to N more times, or `always`. The -x messages go out again on each connection; stdin or the prompt carries on' -r
complete -c wscope -l reconnect-delay -d 'With --reconnect: the first wait before connecting again; it doubles after each attempt that fails to open, up to --reconnect-max-delay' -r
complete -c wscope -l reconnect-max-delay -d 'With --reconnect: the longest wait between attempts' -r
complete -c wscope -l connect-timeout -d 'Give up connecting (TCP, TLS and the upgrade) after SECS seconds' -r
complete -c wscope -l log -d 'Also write the --json event stream, each event with its wall-clock time, to FILE (a tape, see docs/tape.md), whatever the screen shows' -r -F
complete -c wscope -l har -d 'Write the session to FILE as HAR 1.2, the way Chrome DevTools saves a WebSocket (the upgrade as an entry, messages in _webSocketMessages)' -r -F
complete -c wscope -l pcap -d 'Write the WebSocket stream (handshake and frames, both ways) to FILE as a pcapng capture for Wireshark; for wss:// the decrypted bytes' -r -F
complete -c wscope -l replay -d 'Play a tape (--log) or a HAR again: with a URL, send its messages and compare what comes back (exit 5 when it differs); with --listen, answer a client with the messages its server sent' -r -F
complete -c wscope -l timing -d 'With --replay: wait before each message for as many messages as the recording had received by then (paced), keep the recording\'s gaps (original), or send at once (none)' -r -f -a "paced\t''
original\t''
none\t''"
complete -c wscope -l replay-timeout -d 'With --replay, paced: how long to wait for each awaited message' -r
complete -c wscope -l ignore -d 'With --replay: mask what matches REGEX in both the recorded and the received messages before comparing (repeatable; binary as hex)' -r
complete -c wscope -l entry -d 'With --replay of a HAR or a tape of several connections: the WebSocket entry (or connection) whose URL contains this, or the Nth (from 1)' -r
complete -c wscope -l echo -d 'With --listen: send every message back to the client'
complete -c wscope -l once -d 'With --listen: serve one client, then exit with that session\'s exit code (without it, wscope keeps serving until Ctrl-C or SIGTERM)'
complete -c wscope -l slash -d 'Treat stdin lines that start with \'/\' as commands, as at the prompt (/ping, /close 4000 bye, /frame ...)'
complete -c wscope -l binary -d 'Send stdin as binary messages of --chunk-size bytes instead of lines'
complete -c wscope -l hex -d 'Each stdin line is hex for one binary message (48656c, 48 65 6c, ...)'
complete -c wscope -l raw -d 'Write incoming payloads as they are: no newline after each message, binary not turned into hex'
complete -c wscope -l json -d 'Print every event as one JSON object per line'
complete -c wscope -l frames -d 'Show the handshake and frame view even when stdout is not a terminal (by default a pipe gets only the payload of each incoming message)'
complete -c wscope -l pretty -d 'Show JSON text payloads (objects and arrays) indented on the lines after their message; by default they are shown on one line, coloured'
complete -c wscope -l no-pretty -d 'Show JSON text payloads exactly as they were sent'
complete -c wscope -s k -l insecure -d 'Do not verify the server\'s certificate (dangerous; warns)'
complete -c wscope -s 4 -l ipv4 -d 'Use IPv4 addresses only'
complete -c wscope -s 6 -l ipv6 -d 'Use IPv6 addresses only'
complete -c wscope -s L -l location -d 'Follow 3xx redirects (each hop is shown)'
complete -c wscope -l deflate -d 'Offer permessage-deflate (compression), as browsers do; with --listen, accept a client\'s offer'
complete -c wscope -l location-trusted -d 'With -L, trust redirects as curl does: credentials (Authorization, Cookie, Proxy-Authorization) follow them to other origins, and a redirect from wss:// to ws:// is followed'
complete -c wscope -s h -l help -d 'Print help (see more with \'--help\')'
complete -c wscope -s V -l version -d 'Print version'
