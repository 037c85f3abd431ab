complete -c wscope -s l -l listen -d 'Be the server: wait on [ADDR:]PORT (a bare port means 127.0.0.1) for one client and show its session the same way. A second client meanwhile is turned away with 503' -r
complete -c wscope -s H -l header -d 'Add a request header, \'Name: value\' (repeatable, order kept); one named like a header wscope writes replaces it' -r
complete -c wscope -s o -l origin -d 'Send this Origin header' -r
complete -c wscope -s s -l subprotocol -d 'Offer this subprotocol (repeatable); a server that picks one not offered fails the handshake' -r
complete -c wscope -l auth -d 'HTTP Basic credentials, USER:PASS (also taken from the URL)' -r
complete -c wscope -l user-agent -d 'The User-Agent header (\'\' sends none)' -r
complete -c wscope -s x -l execute -d 'Send TEXT as a text message (repeatable, sent in order)' -r
complete -c wscope -s w -l wait -d 'After the input is used up, stay open until SECS seconds pass with nothing received, then close. Without it: until the peer is quiet for four round trips (5-250 ms), or up to 1 s while it still owes answers. -w 0 closes at once' -r
complete -c wscope -l chunk-size -d 'Size of each binary message with --binary' -r
complete -c wscope -s n -l count -d 'Close and exit after N incoming data messages' -r
complete -c wscope -l until -d 'Close and exit after an incoming message that matches REGEX (binary messages are matched as hex)' -r
complete -c wscope -l ping-interval -d 'Send a ping every SECS seconds' -r
complete -c wscope -l ping-timeout -d 'With --ping-interval: give up (exit 3) when a pong takes longer' -r
complete -c wscope -l color -d 'When to colour the output' -r -f -a "auto\t''
always\t''
never\t''"
complete -c wscope -l ca -d 'Trust the CA certificates in this PEM file, besides the built-in roots' -r -F
complete -c wscope -l cert -d 'Client certificate chain (PEM) for mutual TLS; needs --key' -r -F
complete -c wscope -l key -d 'Private key (PEM) for --cert' -r -F
complete -c wscope -l tls-server-name -d 'Send and verify this name in TLS instead of the URL\'s host' -r
complete -c wscope -l tls-min -d 'Lowest TLS version to accept' -r -f -a "1.2\t''
1.3\t''"
complete -c wscope -l preview -d 'Show at most BYTES of each frame\'s payload' -r
complete -c wscope -l max-message-size -d 'Largest incoming message accepted; a bigger one fails the connection with Close 1009 instead of growing memory' -r
complete -c wscope -l max-frame-size -d 'Largest incoming frame accepted' -r
complete -c wscope -l close-timeout -d 'How long to wait for the server\'s Close after sending ours' -r
complete -c wscope -l proxy -d 'Connect through this proxy: http://[USER:PASS@]HOST:PORT (CONNECT), socks5://HOST:PORT or socks5h://HOST:PORT (the proxy resolves the name). Without it HTTPS_PROXY/HTTP_PROXY, ALL_PROXY and NO_PROXY are honoured; --proxy \'\' ignores them' -r
complete -c wscope -l max-redirects -d 'How many redirects -L follows' -r
complete -c wscope -l connect-timeout -d 'Give up connecting (TCP, TLS and the upgrade) after SECS seconds' -r
complete -c wscope -l echo -d 'With --listen: send every message back to the client'
complete -c wscope -l slash -d 'Treat stdin lines that start with \'/\' as commands, as at the prompt (/ping, /close 4000 bye, /frame ...)'
complete -c wscope -l binary -d 'Send stdin as binary messages of --chunk-size bytes instead of lines'
complete -c wscope -l hex -d 'Each stdin line is hex for one binary message (48656c, 48 65 6c, ...)'
complete -c wscope -l raw -d 'Write incoming payloads as they are: no newline after each message, binary not turned into hex'
complete -c wscope -l json -d 'Print every event as one JSON object per line'
complete -c wscope -l frames -d 'Show the handshake and frame view even when stdout is not a terminal (by default a pipe gets only the payload of each incoming message)'
complete -c wscope -s k -l insecure -d 'Do not verify the server\'s certificate (dangerous; warns)'
complete -c wscope -s 4 -l ipv4 -d 'Use IPv4 addresses only'
complete -c wscope -s 6 -l ipv6 -d 'Use IPv6 addresses only'
complete -c wscope -s L -l location -d 'Follow 3xx redirects (each hop is shown)'
complete -c wscope -l deflate -d 'Offer permessage-deflate (compression), as browsers do; with --listen, accept a client\'s offer'
complete -c wscope -l location-trusted -d 'With -L, trust redirects as curl does: credentials (Authorization, Cookie, Proxy-Authorization) follow them to other origins, and a redirect from wss:// to ws:// is followed'
complete -c wscope -s h -l help -d 'Print help (see more with \'--help\')'
complete -c wscope -s V -l version -d 'Print version'
