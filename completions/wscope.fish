# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_wscope_global_optspecs
    string join \n l/listen= echo once max-clients= H/header= o/origin= s/subprotocol= auth= user-agent= x/execute= w/wait= slash binary chunk-size= hex raw n/count= until= reply= ping-interval= ping-timeout= json frames layout= time= pretty no-pretty only= hide= grep= rtt-json-id= color= ca= cert= key= self-signed= client-ca= tls-server-name= tls-min= k/insecure preview= max-message-size= max-frame-size= close-timeout= proxy= 4/ipv4 6/ipv6 L/location deflate location-trusted max-redirects= max-time= reconnect= reconnect-delay= reconnect-max-delay= connect-timeout= log= har= pcap= replay= timing= replay-timeout= ignore= entry= h/help V/version
end

function __fish_wscope_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_wscope_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_wscope_using_subcommand
    set -l cmd (__fish_wscope_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c wscope -n "__fish_wscope_needs_command" -s l -l listen -d 'Be the server: wait on [ADDR:]PORT (a bare port means 127.0.0.1), or on a Unix socket with unix:PATH (removed on exit), for clients, and show their sessions the same way, each with its number. Several are served at once (--max-clients), until Ctrl-C or SIGTERM (--once: one client). With --cert/--key or --self-signed it serves wss://' -r
complete -c wscope -n "__fish_wscope_needs_command" -l max-clients -d 'With --listen: how many clients are served at once; one more is answered 503' -r
complete -c wscope -n "__fish_wscope_needs_command" -s H -l header -d 'Add a request header, \'Name: value\' (repeatable, order kept); one named like a header wscope writes replaces it' -r
complete -c wscope -n "__fish_wscope_needs_command" -s o -l origin -d 'Send this Origin header' -r
complete -c wscope -n "__fish_wscope_needs_command" -s s -l subprotocol -d 'Offer this subprotocol (repeatable); a server that picks one not offered fails the handshake' -r
complete -c wscope -n "__fish_wscope_needs_command" -l auth -d 'HTTP Basic credentials, USER:PASS (also taken from the URL)' -r
complete -c wscope -n "__fish_wscope_needs_command" -l user-agent -d 'The User-Agent header (\'\' sends none)' -r
complete -c wscope -n "__fish_wscope_needs_command" -s x -l execute -d 'Send TEXT as a text message (repeatable, sent in order)' -r
complete -c wscope -n "__fish_wscope_needs_command" -s w -l wait -d 'After the input is used up, stay open until SECS seconds pass with nothing received, then close. Without it: until the peer is quiet for two round trips once it answered everything (1-250 ms), up to 1 s while it still owes answers, 0.25-1 s before any answer. -w 0 closes at once' -r
complete -c wscope -n "__fish_wscope_needs_command" -l chunk-size -d 'Size of each binary message with --binary' -r
complete -c wscope -n "__fish_wscope_needs_command" -s n -l count -d 'Close and exit after N incoming data messages' -r
complete -c wscope -n "__fish_wscope_needs_command" -l until -d 'Close and exit after an incoming message that matches REGEX (binary messages are matched as hex)' -r
complete -c wscope -n "__fish_wscope_needs_command" -l reply -d 'Answer an incoming message that matches REGEX with TEXT, at once (`$1`, `${name}`: the match\'s groups; `$$`: a `$`; binary messages are matched as hex). Repeatable: the first rule that matches answers. For example \'^2$=>3\' keeps an Engine.IO (socket.io) session alive' -r
complete -c wscope -n "__fish_wscope_needs_command" -l ping-interval -d 'Send a ping every SECS seconds' -r
complete -c wscope -n "__fish_wscope_needs_command" -l ping-timeout -d 'With --ping-interval: give up (exit 3) when a pong takes longer' -r
complete -c wscope -n "__fish_wscope_needs_command" -l layout -d 'How frame lines are laid out: `wide` decodes every header field; `compact` keeps each frame on one terminal line (direction, kind, flags only when unusual, length, preview); `auto` is compact on a terminal narrower than 100 columns' -r -f -a "auto\t''
wide\t''
compact\t''"
complete -c wscope -n "__fish_wscope_needs_command" -l time -d 'The time at the start of each line: seconds since the start (`rel`), the wall clock (`abs`), or seconds since the line before (`delta`)' -r -f -a "rel\t'Seconds since wscope started'
abs\t'The wall clock, local time'
delta\t'Seconds since the line before'"
complete -c wscope -n "__fish_wscope_needs_command" -l only -d 'Show only what goes this way (the human view; --json stays whole)' -r -f -a "in\t'What the peer sent'
out\t'What wscope sent'"
complete -c wscope -n "__fish_wscope_needs_command" -l hide -d 'Leave these kinds of frame out of the human view, comma-separated (ping,pong,close,text,binary,continuation); they are still handled' -r -f -a "ping\t''
pong\t''
close\t''
text\t''
binary\t''
continuation\t''"
complete -c wscope -n "__fish_wscope_needs_command" -l grep -d 'Show only the messages that match REGEX (binary as hex), with their frames (the human view; --json stays whole)' -r
complete -c wscope -n "__fish_wscope_needs_command" -l rtt-json-id -d 'Pair the JSON messages sent and received that carry the same value in FIELD (`id`, or a dotted path such as `meta.id`), in whatever order the answers come, and show each answer\'s delay' -r
complete -c wscope -n "__fish_wscope_needs_command" -l color -d 'When to colour the output' -r -f -a "auto\t''
always\t''
never\t''"
complete -c wscope -n "__fish_wscope_needs_command" -l ca -d 'Trust the CA certificates in this PEM file, besides the built-in roots' -r -F
complete -c wscope -n "__fish_wscope_needs_command" -l cert -d 'Certificate chain (PEM): the client\'s for mutual TLS, or with --listen the server\'s, which then serves wss://. Needs --key' -r -F
complete -c wscope -n "__fish_wscope_needs_command" -l key -d 'Private key (PEM) for --cert' -r -F
complete -c wscope -n "__fish_wscope_needs_command" -l self-signed -d 'With --listen: serve wss:// with a certificate made at start for localhost, 127.0.0.1 and ::1, or for the names given (--self-signed=NAME,...). Prints its fingerprints and where a PEM copy was written' -r
complete -c wscope -n "__fish_wscope_needs_command" -l client-ca -d 'With --listen and TLS: require a client certificate issued by a CA in this PEM file' -r -F
complete -c wscope -n "__fish_wscope_needs_command" -l tls-server-name -d 'Send and verify this name in TLS instead of the URL\'s host' -r
complete -c wscope -n "__fish_wscope_needs_command" -l tls-min -d 'Lowest TLS version to accept' -r -f -a "1.2\t''
1.3\t''"
complete -c wscope -n "__fish_wscope_needs_command" -l preview -d 'Show at most BYTES of each frame\'s payload' -r
complete -c wscope -n "__fish_wscope_needs_command" -l max-message-size -d 'Largest incoming message accepted (64 MiB; inflated size when compressed); a bigger one fails the connection with Close 1009 instead of growing memory' -r
complete -c wscope -n "__fish_wscope_needs_command" -l max-frame-size -d 'Largest incoming frame accepted (16 MiB)' -r
complete -c wscope -n "__fish_wscope_needs_command" -l close-timeout -d 'How long to wait for the server\'s Close after sending ours' -r
complete -c wscope -n "__fish_wscope_needs_command" -l proxy -d 'Connect through this proxy: http://[USER:PASS@]HOST:PORT (CONNECT), socks5://HOST:PORT or socks5h://HOST:PORT (the proxy resolves the name). Without it HTTPS_PROXY/HTTP_PROXY, ALL_PROXY and NO_PROXY are honoured; --proxy \'\' ignores them' -r
complete -c wscope -n "__fish_wscope_needs_command" -l max-redirects -d 'How many redirects -L follows' -r
complete -c wscope -n "__fish_wscope_needs_command" -l max-time -d 'Bound the whole run, connecting included, to SECS seconds, as curl\'s --max-time does: when it is reached wscope sends a Close and exits 3 at once' -r
complete -c wscope -n "__fish_wscope_needs_command" -l reconnect -d 'Open the connection again when it is lost (an error, a reset, a refused connection, an upgrade answered 502, 503 or 504, or a Close the server started with 1001, 1011, 1012 or 1013), up to N more times, or `always`. The -x messages go out again on each connection; stdin or the prompt carries on' -r
complete -c wscope -n "__fish_wscope_needs_command" -l reconnect-delay -d 'With --reconnect: the first wait before connecting again; it doubles after each attempt that fails to open, up to --reconnect-max-delay' -r
complete -c wscope -n "__fish_wscope_needs_command" -l reconnect-max-delay -d 'With --reconnect: the longest wait between attempts' -r
complete -c wscope -n "__fish_wscope_needs_command" -l connect-timeout -d 'Give up connecting (TCP, TLS and the upgrade) after SECS seconds' -r
complete -c wscope -n "__fish_wscope_needs_command" -l log -d 'Also write the --json event stream, each event with its wall-clock time, to FILE (a tape, see docs/tape.md), whatever the screen shows' -r -F
complete -c wscope -n "__fish_wscope_needs_command" -l har -d 'Write the session to FILE as HAR 1.2, the way Chrome DevTools saves a WebSocket (the upgrade as an entry, messages in _webSocketMessages)' -r -F
complete -c wscope -n "__fish_wscope_needs_command" -l pcap -d 'Write the WebSocket stream (handshake and frames, both ways) to FILE as a pcapng capture for Wireshark; for wss:// the decrypted bytes' -r -F
complete -c wscope -n "__fish_wscope_needs_command" -l replay -d 'Play a tape (--log) or a HAR again: with a URL, send its messages and compare what comes back (exit 5 when it differs); with --listen, answer a client with the messages its server sent' -r -F
complete -c wscope -n "__fish_wscope_needs_command" -l timing -d 'With --replay: wait before each message for as many messages as the recording had received by then (paced), keep the recording\'s gaps (original), or send at once (none)' -r -f -a "paced\t''
original\t''
none\t''"
complete -c wscope -n "__fish_wscope_needs_command" -l replay-timeout -d 'With --replay, paced: how long to wait for each awaited message' -r
complete -c wscope -n "__fish_wscope_needs_command" -l ignore -d 'With --replay: mask what matches REGEX in both the recorded and the received messages before comparing (repeatable; binary as hex)' -r
complete -c wscope -n "__fish_wscope_needs_command" -l entry -d 'With --replay of a HAR or a tape of several connections: the WebSocket entry (or connection) whose URL contains this, or the Nth (from 1)' -r
complete -c wscope -n "__fish_wscope_needs_command" -l echo -d 'With --listen: send every message back to the client'
complete -c wscope -n "__fish_wscope_needs_command" -l once -d 'With --listen: serve one client, then exit with that session\'s exit code (without it, wscope keeps serving until Ctrl-C or SIGTERM)'
complete -c wscope -n "__fish_wscope_needs_command" -l slash -d 'Treat stdin lines that start with \'/\' as commands, as at the prompt (/ping, /close 4000 bye, /frame ...)'
complete -c wscope -n "__fish_wscope_needs_command" -l binary -d 'Send stdin as binary messages of --chunk-size bytes instead of lines'
complete -c wscope -n "__fish_wscope_needs_command" -l hex -d 'Each stdin line is hex for one binary message (48656c, 48 65 6c, ...)'
complete -c wscope -n "__fish_wscope_needs_command" -l raw -d 'Write incoming payloads as they are: no newline after each message, binary not turned into hex'
complete -c wscope -n "__fish_wscope_needs_command" -l json -d 'Print every event as one JSON object per line'
complete -c wscope -n "__fish_wscope_needs_command" -l frames -d 'Show the handshake and frame view even when stdout is not a terminal (by default a pipe gets only the payload of each incoming message)'
complete -c wscope -n "__fish_wscope_needs_command" -l pretty -d 'Show JSON text payloads (objects and arrays) indented on the lines after their message; by default they are shown on one line, coloured'
complete -c wscope -n "__fish_wscope_needs_command" -l no-pretty -d 'Show JSON text payloads exactly as they were sent'
complete -c wscope -n "__fish_wscope_needs_command" -s k -l insecure -d 'Do not verify the server\'s certificate (dangerous; warns)'
complete -c wscope -n "__fish_wscope_needs_command" -s 4 -l ipv4 -d 'Use IPv4 addresses only'
complete -c wscope -n "__fish_wscope_needs_command" -s 6 -l ipv6 -d 'Use IPv6 addresses only'
complete -c wscope -n "__fish_wscope_needs_command" -s L -l location -d 'Follow 3xx redirects (each hop is shown)'
complete -c wscope -n "__fish_wscope_needs_command" -l deflate -d 'Offer permessage-deflate (compression), as browsers do; with --listen, accept a client\'s offer'
complete -c wscope -n "__fish_wscope_needs_command" -l location-trusted -d 'With -L, trust redirects as curl does: credentials (Authorization, Cookie, Proxy-Authorization) follow them to other origins, and a redirect from wss:// to ws:// is followed'
complete -c wscope -n "__fish_wscope_needs_command" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c wscope -n "__fish_wscope_needs_command" -s V -l version -d 'Print version'
complete -c wscope -n "__fish_wscope_needs_command" -a "check" -d 'Test a WebSocket server (or, with --listen, clients) against the Autobahn testsuite\'s cases'
complete -c wscope -n "__fish_wscope_needs_command" -a "proxy" -d 'Carry WebSocket connections through, showing both legs frame by frame'
complete -c wscope -n "__fish_wscope_using_subcommand check" -l listen -d 'Test clients instead: serve the suite\'s fuzzingserver control URLs (/getCaseCount, /runCase, ...) on [ADDR:]PORT for client harnesses, and a page at / that runs the cases in a browser' -r
complete -c wscope -n "__fish_wscope_using_subcommand check" -l cases -d 'Run only these cases: the suite\'s ids with * globs, comma-separated (\'1.*,6.4.*\')' -r
complete -c wscope -n "__fish_wscope_using_subcommand check" -l exclude -d 'Leave these cases out (same form as --cases)' -r
complete -c wscope -n "__fish_wscope_using_subcommand check" -l report -d 'Write the suite\'s index.json, a JSON file per case with its wire log, and an HTML report (index.html) to DIR, as cases end' -r -F
complete -c wscope -n "__fish_wscope_using_subcommand check" -l agent -d 'The server\'s name in the report [default: its Server header, or the host]' -r
complete -c wscope -n "__fish_wscope_using_subcommand check" -l parallel -d 'Run up to N cases side by side (timed cases always run alone)' -r
complete -c wscope -n "__fish_wscope_using_subcommand check" -l connect-timeout -d 'Seconds to wait for each connection and opening handshake' -r
complete -c wscope -n "__fish_wscope_using_subcommand check" -l ca -d 'Trust the CA certificates in this PEM file, besides the built-in roots' -r -F
complete -c wscope -n "__fish_wscope_using_subcommand check" -l color -d 'When to colour the output' -r -f -a "auto\t''
always\t''
never\t''"
complete -c wscope -n "__fish_wscope_using_subcommand check" -l until-reports -d 'With --listen: end after the first /updateReports, with the exit code (6 if a case FAILED), so that a CI job needs no kill'
complete -c wscope -n "__fish_wscope_using_subcommand check" -l json -d 'One JSON line per case as it ends, then a summary line'
complete -c wscope -n "__fish_wscope_using_subcommand check" -s k -l insecure -d 'Do not verify the server\'s certificate'
complete -c wscope -n "__fish_wscope_using_subcommand check" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c wscope -n "__fish_wscope_using_subcommand check" -s V -l version -d 'Print version'
complete -c wscope -n "__fish_wscope_using_subcommand proxy" -s l -l listen -d 'Where clients connect: [ADDR:]PORT (the address defaults to 127.0.0.1)' -r
complete -c wscope -n "__fish_wscope_using_subcommand proxy" -l mitm -d 'Intercept TLS tunnels with a CA kept in DIR (made on first use): ca.pem to trust, ca.key (mode 0600) never printed' -r -F
complete -c wscope -n "__fish_wscope_using_subcommand proxy" -l fault -d 'A fault to apply: KIND[:up|down][,key=value...], repeatable. Kinds: delay (ms, jitter), drop (every, match, p), corrupt (every, bits), close (code, reason, after), reset (after), stall (of=ping|pong, after), throttle (rate), hold (ms, after)' -r
complete -c wscope -n "__fish_wscope_using_subcommand proxy" -l seed -d 'Seed for the random faults (p=, jitter=, corrupt), to repeat a run' -r
complete -c wscope -n "__fish_wscope_using_subcommand proxy" -l max-clients -d 'How many clients are carried at once; one more is refused with 503' -r
complete -c wscope -n "__fish_wscope_using_subcommand proxy" -l max-time -d 'Stop after this many seconds' -r
complete -c wscope -n "__fish_wscope_using_subcommand proxy" -l connect-timeout -d 'Seconds to wait for the upstream connection and its handshake' -r
complete -c wscope -n "__fish_wscope_using_subcommand proxy" -l ca -d 'Trust the CA certificates in this PEM file upstream, besides the built-in roots' -r -F
complete -c wscope -n "__fish_wscope_using_subcommand proxy" -l preview -d 'Payload bytes shown per frame' -r
complete -c wscope -n "__fish_wscope_using_subcommand proxy" -l log -d 'Record both legs as JSON Lines (a tape) to FILE' -r -F
complete -c wscope -n "__fish_wscope_using_subcommand proxy" -l har -d 'Record both legs as a HAR file' -r -F
complete -c wscope -n "__fish_wscope_using_subcommand proxy" -l pcap -d 'Record both legs as pcapng (two TCP flows per client)' -r -F
complete -c wscope -n "__fish_wscope_using_subcommand proxy" -l color -d 'When to colour the output' -r -f -a "auto\t''
always\t''
never\t''"
complete -c wscope -n "__fish_wscope_using_subcommand proxy" -l strict -d 'Fail a connection whose peer breaks the protocol (1002), instead of naming the violation and passing it on'
complete -c wscope -n "__fish_wscope_using_subcommand proxy" -l json -d 'JSON Lines output: every event carries conn and leg'
complete -c wscope -n "__fish_wscope_using_subcommand proxy" -s q -l quiet -d 'Show connections, handshakes, faults and notices, but no frames or messages (the fastest way through)'
complete -c wscope -n "__fish_wscope_using_subcommand proxy" -l once -d 'End after the first client\'s connection ends'
complete -c wscope -n "__fish_wscope_using_subcommand proxy" -s k -l insecure -d 'Do not verify the upstream server\'s certificate'
complete -c wscope -n "__fish_wscope_using_subcommand proxy" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c wscope -n "__fish_wscope_using_subcommand proxy" -s V -l version -d 'Print version'
