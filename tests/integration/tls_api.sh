#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# The HTTP API and signaling over TLS (http.tls): a self-signed certificate
# made here, curl and a WebSocket client that trust only it. TLS 1.2 and
# 1.3 work, TLS 1.1 and plain HTTP on the TLS port do not, a non-AEAD
# TLS 1.2 cipher is refused, and a room call setup works over wss://.
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"
lib_init "$@"
only_sottod "sotto's HTTP API"
only_driver udp "the API listens on loopback"
need_cmd curl openssl
/usr/bin/python3 -c 'import websockets' 2>/dev/null ||
	skip "python3-websockets not installed"

tport=$(free_port 34600) || exit 1
hport=$((tport + 7))
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
	-keyout "$T_DIR/key.pem" -out "$T_DIR/cert.pem" -days 1 \
	-subj "/CN=localhost" -addext "subjectAltName=IP:127.0.0.1,DNS:localhost" \
	>"$T_DIR/openssl.log" 2>&1 || fail "openssl req failed: $(cat "$T_DIR/openssl.log")"

cfg="$T_DIR/sotto.yaml"
cat >"$cfg" <<YAML
dataplane: {driver: udp, workers: 1}
turn:
  listen: ["127.0.0.1:$tport"]
  relay: {addresses: [127.0.0.1], port_min: 51300, port_max: 51399}
  auth: {secrets: ["$T_SECRET"]}
http:
  listen: ["127.0.0.1:$hport"]
  tls: {certificate: "$T_DIR/cert.pem", private_key: "$T_DIR/key.pem"}
signaling:
  origins: ["https://127.0.0.1:$hport"]
  anonymous_rooms: true
metrics: {listen: ""}
control: {socket: ""}
YAML
spawn "$T_DIR/server.log" "$SOTTOD" -c "$cfg"
SERVER_PID=$SPAWN_PID
SERVER_LOG="$T_DIR/server.log"
T_PORT=$tport
base="https://127.0.0.1:$hport"
for _ in $(seq 50); do
	curl -sf --cacert "$T_DIR/cert.pem" "$base/healthz" >/dev/null 2>&1 && break
	server_alive || { show_server_log; fail "sottod exited"; }
	sleep 0.2
done

expect() { # name, then a command that must succeed
	local name=$1
	shift
	if "$@" >"$T_DIR/out.txt" 2>&1; then
		log "ok: $name"
	else
		cat "$T_DIR/out.txt" >&2
		check_fail "$name"
	fi
}
refuse() { # name, then a command that must fail
	local name=$1
	shift
	if "$@" >"$T_DIR/out.txt" 2>&1; then
		cat "$T_DIR/out.txt" >&2
		check_fail "$name (it worked)"
	else
		log "ok: $name"
	fi
}

expect "GET /healthz over TLS 1.3" \
	curl -sf --cacert "$T_DIR/cert.pem" --tlsv1.3 "$base/healthz"
expect "GET /healthz over TLS 1.2" \
	curl -sf --cacert "$T_DIR/cert.pem" --tlsv1.2 --tls-max 1.2 "$base/healthz"
refuse "TLS 1.1 is refused" \
	openssl s_client -connect "127.0.0.1:$hport" -tls1_1 -CAfile "$T_DIR/cert.pem"
refuse "a TLS 1.2 CBC (non-AEAD) suite is refused" \
	openssl s_client -connect "127.0.0.1:$hport" -tls1_2 \
	-cipher ECDHE-ECDSA-AES128-SHA256 -CAfile "$T_DIR/cert.pem"
refuse "plain HTTP on the TLS port" \
	curl -sf --max-time 5 "http://127.0.0.1:$hport/healthz"
expect "the server still answers over TLS" \
	curl -sf --cacert "$T_DIR/cert.pem" "$base/readyz"

# a room over wss://: create, invite, two peers join, an offer is relayed
expect "a room over wss://" /usr/bin/python3 - "$base" "$T_DIR/cert.pem" <<'PY'
import asyncio, json, ssl, sys, urllib.request
base, ca = sys.argv[1], sys.argv[2]
ctx = ssl.create_default_context(cafile=ca)
def post(path, tok=None):
    req = urllib.request.Request(base + path, method="POST", data=b"{}")
    if tok:
        req.add_header("Authorization", "Bearer " + tok)
    return json.load(urllib.request.urlopen(req, context=ctx))
async def main():
    import websockets
    room = post("/v1/rooms")
    inv = post("/v1/rooms/%s/invites" % room["room"], room["token"])
    url = base.replace("https", "wss") + "/v1/ws"
    a = await websockets.connect(url, ssl=ctx, origin=base)
    await a.send(json.dumps({"type": "join", "token": room["token"]}))
    ja = json.loads(await a.recv())
    b = await websockets.connect(url, ssl=ctx, origin=base)
    await b.send(json.dumps({"type": "join", "token": inv["token"]}))
    jb = json.loads(await b.recv())
    assert ja["type"] == "joined" and jb["peers"] == [ja["peer"]], (ja, jb)
    assert json.loads(await a.recv())["type"] == "peer-joined"
    await b.send(json.dumps({"type": "ping"}))
    assert json.loads(await b.recv())["type"] == "pong"
    await a.close(); await b.close()
    print("joined over wss:", ja["peer"], jb["peer"])
asyncio.run(asyncio.wait_for(main(), 20))
PY

server_stop TERM
lib_done
