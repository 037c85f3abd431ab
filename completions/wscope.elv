
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
            cand -l 'Be the server: wait on [ADDR:]PORT (a bare port means 127.0.0.1) for one client and show its session the same way. A second client meanwhile is turned away with 503'
            cand --listen 'Be the server: wait on [ADDR:]PORT (a bare port means 127.0.0.1) for one client and show its session the same way. A second client meanwhile is turned away with 503'
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
            cand -w 'After the input is used up, stay open until SECS seconds pass with nothing received, then close. Without it: until the peer is quiet for four round trips (5-250 ms), or up to 1 s while it still owes answers. -w 0 closes at once'
            cand --wait 'After the input is used up, stay open until SECS seconds pass with nothing received, then close. Without it: until the peer is quiet for four round trips (5-250 ms), or up to 1 s while it still owes answers. -w 0 closes at once'
            cand --chunk-size 'Size of each binary message with --binary'
            cand -n 'Close and exit after N incoming data messages'
            cand --count 'Close and exit after N incoming data messages'
            cand --until 'Close and exit after an incoming message that matches REGEX (binary messages are matched as hex)'
            cand --ping-interval 'Send a ping every SECS seconds'
            cand --ping-timeout 'With --ping-interval: give up (exit 3) when a pong takes longer'
            cand --color 'When to colour the output'
            cand --ca 'Trust the CA certificates in this PEM file, besides the built-in roots'
            cand --cert 'Client certificate chain (PEM) for mutual TLS; needs --key'
            cand --key 'Private key (PEM) for --cert'
            cand --tls-server-name 'Send and verify this name in TLS instead of the URL''s host'
            cand --tls-min 'Lowest TLS version to accept'
            cand --preview 'Show at most BYTES of each frame''s payload'
            cand --max-message-size 'Largest incoming message accepted; a bigger one fails the connection with Close 1009 instead of growing memory'
            cand --max-frame-size 'Largest incoming frame accepted'
            cand --close-timeout 'How long to wait for the server''s Close after sending ours'
            cand --proxy 'Connect through this proxy: http://[USER:PASS@]HOST:PORT (CONNECT), socks5://HOST:PORT or socks5h://HOST:PORT (the proxy resolves the name). Without it HTTPS_PROXY/HTTP_PROXY, ALL_PROXY and NO_PROXY are honoured; --proxy '''' ignores them'
            cand --max-redirects 'How many redirects -L follows'
            cand --connect-timeout 'Give up connecting (TCP, TLS and the upgrade) after SECS seconds'
            cand --echo 'With --listen: send every message back to the client'
            cand --slash 'Treat stdin lines that start with ''/'' as commands, as at the prompt (/ping, /close 4000 bye, /frame ...)'
            cand --binary 'Send stdin as binary messages of --chunk-size bytes instead of lines'
            cand --hex 'Each stdin line is hex for one binary message (48656c, 48 65 6c, ...)'
            cand --raw 'Write incoming payloads as they are: no newline after each message, binary not turned into hex'
            cand --json 'Print every event as one JSON object per line'
            cand --frames 'Show the handshake and frame view even when stdout is not a terminal (by default a pipe gets only the payload of each incoming message)'
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
        }
    ]
    $completions[$command]
}
