# kiln serve over TLS: a self-signed certificate made here (openssl),
# HTTPS and HTTP/2 by ALPN with a real client (curl), plain HTTP refused,
# a renewed certificate read again on SIGHUP (a broken one kept out),
# a key open to others refused, the options' usage, and the warning of a
# daemon listening beyond loopback in clear text.
. "$(dirname "$0")/lib.sh"
command -v openssl >/dev/null || exit 77
curl --version | grep -q 'HTTP2' || exit 77
TOKEN=0123456789abcdef-tls-token
printf '%s\n' "$TOKEN" > "$T/token"
chmod 600 "$T/token"
mkdir -p "$T/p"
cat > "$T/p/tls.yaml" <<'YAML'
pipeline: tls
steps:
  hello: {run: "echo hello"}
YAML
( cd "$T" && openssl req -x509 -newkey rsa:2048 -nodes -subj /CN=localhost \
    -addext subjectAltName=IP:127.0.0.1,DNS:localhost -days 1 \
    -keyout key.pem -out cert.pem ) >/dev/null 2>&1 ||
    { echo "openssl req failed" >&2; exit 1; }
chmod 600 "$T/key.pem"
CURL=(curl -sS --max-time 10 --cacert "$T/cert.pem")

# --- HTTPS and HTTP/2 ---
serve serve.log --token-file "$T/token" --tls-cert "$T/cert.pem" \
    --tls-key "$T/key.pem" "$T/p"
wait_for "the web URL" 10 '[ -n "$(web_url)" ]'
U=$(web_url)
case "$U" in https://127.0.0.1:*/) ok ;; *) fail "web.url is https: [$U]" ;; esac
contains "the log names the https URL" "status page and API on $U" "$(cat "$T/serve.log")"
body=$("${CURL[@]}" "${U}api/v1/pipelines")
contains "pipelines over HTTPS" '"name":"tls"' "$body"
eq "HTTP/2 by ALPN" "2 200" "$("${CURL[@]}" --http2 -o /dev/null -w '%{http_version} %{http_code}' "${U}healthz")"
eq "HTTP/1.1 when the client asks for it" "1.1 200" "$("${CURL[@]}" --http1.1 -o /dev/null -w '%{http_version} %{http_code}' "${U}healthz")"
# TLS 1.2 or later: a client that would take TLS 1.1 and any cipher
# gets no session; TLS 1.2 gets an AEAD cipher and h2.
port=${U##*:}; port=${port%/}
s_client() { echo | timeout 10 openssl s_client -connect "127.0.0.1:$port" -cipher 'DEFAULT@SECLEVEL=0' -alpn h2,http/1.1 "$@" 2>&1; }
contains "TLS 1.1 refused" "Cipher is (NONE)" "$(s_client -tls1_1)"
out=$(s_client -tls1_2)
contains "TLS 1.2 with ECDHE and GCM" "TLSv1.2, Cipher is ECDHE-RSA-AES" "$out"
contains "ALPN h2 over TLS 1.2" "ALPN protocol: h2" "$out"
# The certificate is checked (no -k anywhere): without the CA, curl
# refuses it.
curl -sS --max-time 10 -o /dev/null "${U}healthz" 2>/dev/null
check "an unknown CA is refused by the client" test $? -ne 0
# A write over HTTP/2 with the token, and the run's events on a stream
# over TLS.
"${CURL[@]}" --http2 -N "${U}api/v1/events" > "$T/events" &
sse=$!
wait_for "the event stream opens over TLS" 10 'grep -q connected "$T/events"'
reply=$("${CURL[@]}" --http2 -X POST -H "Authorization: Bearer $TOKEN" -d '{}' -w ' %{http_code}' "${U}api/v1/pipelines/tls/runs")
contains "a POST over HTTP/2" '"status":"started"' "$reply"
contains "answered 201" " 201" "$reply"
id=$(printf '%s' "${reply% *}" | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["run_id"])')
wait_for "the run ends" 10 '[ "$(q "select status from runs where id='"$id"'")" = succeeded ]'
wait_for "its events arrive over TLS" 10 'grep -q "\"run_id\":$id,\"pipeline\":\"tls\",\"status\":\"succeeded\"" "$T/events"'
eq "its log over HTTP/2" "hello" "$("${CURL[@]}" --http2 "${U}api/v1/runs/$id/steps/hello/log")"
kill "$sse" 2>/dev/null; wait "$sse" 2>/dev/null
# kiln trigger --server https://: the certificate is checked, against
# KILN_CACERT when no system CA signed it.
kiln_rc trigger tls --server "$U" --token-file "$T/token"
check "kiln trigger refuses an unknown CA ($rc)" test "$rc" -ne 0
contains "saying why" "certificate" "$err"
KILN_CACERT=$T/cert.pem kiln_rc trigger tls --server "$U" --token-file "$T/token" --wait
eq "kiln trigger --wait over HTTPS with KILN_CACERT" 0 "$rc"
# Plain HTTP to the TLS port gets no answer, and the daemon goes on.
plain="http://${U#https://}healthz"
out=$(curl -sS --max-time 5 "$plain" 2>&1)
check "plain HTTP to the TLS port fails" test $? -ne 0
eq "no HTTP answer in clear" "" "$(printf '%s' "$out" | grep -i 'HTTP/\|status' || true)"
printf 'GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n' > "$T/req"
/usr/bin/python3 - "$port" "$T/req" <<'PY' > "$T/raw"
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5)
s.sendall(open(sys.argv[2], "rb").read())
data = b""
try:
    while True:
        b = s.recv(4096)
        if not b:
            break
        data += b
except socket.timeout:
    pass
sys.stdout.write(repr(data[:200]))
PY
case "$(cat "$T/raw")" in *'"status"'*|*ok*) fail "a plain request was answered: $(cat "$T/raw")" ;; *) ok ;; esac
eq "still serving HTTPS" 200 "$("${CURL[@]}" -o /dev/null -w '%{http_code}' "${U}healthz")"
grep -q 'warning: listening' "$T/serve.log"
check "no clear-text warning with TLS on loopback" test $? -ne 0
# A renewed certificate: SIGHUP reads the files again, new connections
# get it, an open stream keeps its connection; a broken one on a later
# SIGHUP changes nothing.
fingerprint() { echo | timeout 10 openssl s_client -connect "127.0.0.1:$port" 2>/dev/null |
    openssl x509 -noout -fingerprint -sha256 2>/dev/null; }
old_fp=$(fingerprint)
"${CURL[@]}" -N "${U}api/v1/events" > "$T/events2" &
sse=$!
wait_for "a stream open before the renewal" 10 'grep -q connected "$T/events2"'
( cd "$T" && openssl req -x509 -newkey rsa:2048 -nodes -subj /CN=localhost \
    -addext subjectAltName=IP:127.0.0.1,DNS:localhost -days 2 \
    -keyout key2.pem -out cert2.pem ) >/dev/null 2>&1
chmod 600 "$T/key2.pem"
cp "$T/cert.pem" "$T/cert-old.pem"
cp "$T/cert2.pem" "$T/cert.pem"
cp "$T/key2.pem" "$T/key.pem"
kill -HUP "$daemon"
wait_for "the reload read them" 10 'grep -q "TLS certificate and key read again" "$T/serve.log"'
new_fp=$(openssl x509 -noout -fingerprint -sha256 -in "$T/cert2.pem")
eq "new connections get the new certificate" "$new_fp" "$(fingerprint)"
check "... not the old one" test "$old_fp" != "$new_fp"
eq "HTTPS checked against the new one" 200 "$(curl -sS --max-time 10 --cacert "$T/cert2.pem" -o /dev/null -w '%{http_code}' "${U}healthz")"
check "the stream opened before goes on" kill -0 "$sse"
kill "$sse" 2>/dev/null; wait "$sse" 2>/dev/null
cp "$T/cert-old.pem" "$T/cert.pem" # the old certificate, the new key
kill -HUP "$daemon"
wait_for "a reload that cannot use them" 10 'grep -q "still serving the certificate read before" "$T/serve.log"'
eq "the certificate read before is still served" "$new_fp" "$(fingerprint)"
cp "$T/cert2.pem" "$T/cert.pem" # the pair, for what follows
stop "$daemon"
eq "a clean stop" 0 "$?"
check "web.url gone" test ! -e "$KILN_STATE/web.url"

# --- a key others can read: refused, nothing served ---
chmod 644 "$T/key.pem"
kiln_rc serve --state "$KILN_STATE" --listen 127.0.0.1:0 --tls-cert "$T/cert.pem" --tls-key "$T/key.pem" "$T/p"
eq "a key readable by others: exit 3" 3 "$rc"
contains "saying why" "--tls-key $T/key.pem is readable by its group or others (mode 0644)" "$err"
contains "and what to do" "chmod 600" "$err"
check "no web.url" test ! -e "$KILN_STATE/web.url"
chmod 640 "$T/key.pem"
kiln_rc serve --state "$KILN_STATE" --listen 127.0.0.1:0 --tls-cert "$T/cert.pem" --tls-key "$T/key.pem" "$T/p"
eq "readable by its group: exit 3" "3 (mode 0640)" "$rc $(printf '%s' "$err" | grep -o '(mode 0640)')"
chmod 600 "$T/key.pem"
# A key that is not the certificate's, a certificate that is not one, a
# missing file.
( cd "$T" && openssl genpkey -algorithm rsa -pkeyopt rsa_keygen_bits:2048 -out other.pem ) >/dev/null 2>&1
chmod 600 "$T/other.pem"
kiln_rc serve --state "$KILN_STATE" --listen 127.0.0.1:0 --tls-cert "$T/cert.pem" --tls-key "$T/other.pem" "$T/p"
eq "a key of another certificate: exit 3" 3 "$rc"
contains "saying so" "is not the key of the certificate in $T/cert.pem" "$err"
kiln_rc serve --state "$KILN_STATE" --listen 127.0.0.1:0 --tls-cert "$T/key.pem" --tls-key "$T/key.pem" "$T/p"
eq "a key as the certificate: exit 3" 3 "$rc"
contains "no certificate in it" "--tls-cert $T/key.pem: no PEM certificate in it" "$err"
kiln_rc serve --state "$KILN_STATE" --listen 127.0.0.1:0 --tls-cert "$T/none.pem" --tls-key "$T/key.pem" "$T/p"
eq "a missing certificate: exit 3" 3 "$rc"
contains "named" "--tls-cert $T/none.pem: No such file or directory" "$err"

# --- usage: both options or neither ---
kiln_rc serve --state "$KILN_STATE" --listen 127.0.0.1:0 --tls-cert "$T/cert.pem" "$T/p"
eq "--tls-cert alone: exit 2" 2 "$rc"
contains "says what is missing" "--tls-cert needs --tls-key" "$err"
kiln_rc serve --state "$KILN_STATE" --listen 127.0.0.1:0 --tls-key "$T/key.pem" "$T/p"
eq "--tls-key alone: exit 2" 2 "$rc"
contains "says what is missing" "--tls-key needs --tls-cert" "$err"
kiln_rc serve --state "$KILN_STATE" --listen none --tls-cert "$T/cert.pem" --tls-key "$T/key.pem" "$T/p"
eq "TLS with --listen none: exit 2" 2 "$rc"
kiln_rc serve --help
contains "--help lists --tls-cert" "--tls-cert FILE" "$out"
contains "--help lists --tls-key" "--tls-key FILE" "$out"

# --- beyond loopback: clear text warns, TLS does not ---
# Only as long as it takes to read the log: then it is stopped by pid.
serve wide.log --listen 0.0.0.0:0 "$T/p"
wait_for "the wide daemon starts" 10 'grep -q "pipeline.*loaded" "$T/wide.log"'
kill -TERM "$daemon"; wait "$daemon"
contains "clear text beyond loopback warns" "warning: listening on 0.0.0.0:" "$(cat "$T/wide.log")"
contains "about tokens and cookies in clear text" "tokens and session cookies travel in clear text" "$(cat "$T/wide.log")"
case "$(cat "$T/wide.log")" in *"status page and API on http://0.0.0.0:"*) ok ;; *) fail "wide: http URL: $(cat "$T/wide.log")" ;; esac
serve wide-tls.log --listen 0.0.0.0:0 --tls-cert "$T/cert.pem" --tls-key "$T/key.pem" "$T/p"
wait_for "the wide TLS daemon starts" 10 'grep -q "pipeline.*loaded" "$T/wide-tls.log"'
kill -TERM "$daemon"; wait "$daemon"
contains "an https URL" "status page and API on https://0.0.0.0:" "$(cat "$T/wide-tls.log")"
grep -q 'warning' "$T/wide-tls.log"
check "no warning with TLS" test $? -ne 0

finish
