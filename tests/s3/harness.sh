# Test S3 server for bkp: s3rver (pinned in package.json) behind the
# checking proxy (proxy.py).  Source this file, then:
#   s3_start DIR     start both on free 127.0.0.1 ports, data and logs in DIR,
#                    create bucket $S3_BUCKET (default "bkp-test") and export
#                    BKP_TEST_S3_ENDPOINT / AWS_ENDPOINT_URL (the proxy),
#                    AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (S3RVER),
#                    AWS_REGION (us-east-1) and S3_PROXY_LOG; for
#                    virtual-hosted addressing use the endpoint
#                    http://s3.localhost:$S3_PROXY_PORT (BUCKET.s3.localhost
#                    resolves to 127.0.0.1 in libcurl)
#   s3_stop          stop both
#   s3_kill          kill both at once (kill -9), as a crash would
#   s3_restart       start them again on the same ports and data
#   s3_fault JSON    add a fault rule (see proxy.py), e.g.
#                    s3_fault '{"method":"PUT","path":"/data/","action":"503","count":2}'
#   s3_faults_clear  drop all fault rules
#   s3_aws ARGS...   Debian's awscli (/usr/bin/aws) against the proxy
# Needs: node + tests/s3/node_modules (scripts/deps.sh runs npm ci),
# /usr/bin/python3 with python3-botocore, /usr/bin/aws, openssl (for
# s3_start_tls).

S3_HARNESS_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
: "${S3_BUCKET:=bkp-test}"

# _s3_http METHOD URL [DATA [CAFILE]]: a plain request; status 0 if answered
# (any HTTP status) for GET, or 2xx for the others.
_s3_http() {
	/usr/bin/python3 - "$@" <<'PY'
import ssl, sys, urllib.error, urllib.request
method, url = sys.argv[1], sys.argv[2]
data = sys.argv[3].encode() if len(sys.argv) > 3 and sys.argv[3] else None
ctx = ssl.create_default_context(cafile=sys.argv[4]) if len(sys.argv) > 4 else None
try:
    urllib.request.urlopen(urllib.request.Request(url, data=data, method=method), timeout=10, context=ctx).read()
except urllib.error.HTTPError:
    sys.exit(0 if method == "GET" else 1)
except Exception:
    sys.exit(1)
PY
}

_s3_free_port() {
	/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

_s3_launch() {
	local dir=$S3_DIR
	node --openssl-legacy-provider "$S3_HARNESS_DIR/node_modules/s3rver/bin/s3rver.js" \
		-d "$dir/data" -a 127.0.0.1 -p "$S3_SERVER_PORT" --silent \
		--allow-mismatched-signatures --service-endpoint localhost \
		>>"$dir/s3rver.log" 2>&1 &
	S3_SERVER_PID=$!
	rm -f "$dir/proxy.port"
	env -u PYTHONPATH -u PYTHONHOME /usr/bin/python3 "$S3_HARNESS_DIR/proxy.py" \
		--port "$S3_PROXY_PORT" --port-file "$dir/proxy.port" \
		--upstream "127.0.0.1:$S3_SERVER_PORT" --log "$dir/proxy.log" \
		>>"$dir/proxy.err" 2>&1 &
	S3_PROXY_PID=$!
	local i
	for i in $(seq 1 100); do
		if [ -s "$dir/proxy.port" ] &&
			_s3_http GET "http://127.0.0.1:$S3_SERVER_PORT/"; then
			return 0
		fi
		sleep 0.1
	done
	echo "s3_start: server did not come up (see $dir/s3rver.log, $dir/proxy.err)" >&2
	return 1
}

s3_start() {
	local dir=${1:?usage: s3_start DIR}
	mkdir -p "$dir/data" || return 1
	S3_DIR=$(cd "$dir" && pwd)
	[ -f "$S3_HARNESS_DIR/node_modules/s3rver/bin/s3rver.js" ] || {
		echo "s3_start: s3rver missing: run scripts/deps.sh (npm ci in tests/s3)" >&2
		return 1
	}
	S3_SERVER_PORT=$(_s3_free_port)
	S3_PROXY_PORT=$(_s3_free_port)
	_s3_launch || return 1
	export S3_DIR S3_SERVER_PORT S3_PROXY_PORT S3_SERVER_PID S3_PROXY_PID
	export BKP_TEST_S3_ENDPOINT="http://127.0.0.1:$S3_PROXY_PORT"
	export AWS_ENDPOINT_URL=$BKP_TEST_S3_ENDPOINT
	export AWS_ACCESS_KEY_ID=S3RVER AWS_SECRET_ACCESS_KEY=S3RVER
	export AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1
	export S3_PROXY_LOG="$S3_DIR/proxy.log"
	# Keep the user's AWS files out of the tests.
	export AWS_CONFIG_FILE="$S3_DIR/aws-config" AWS_SHARED_CREDENTIALS_FILE="$S3_DIR/aws-credentials"
	unset AWS_PROFILE AWS_SESSION_TOKEN AWS_CA_BUNDLE
	local i
	for i in $(seq 1 50); do
		s3_aws s3api create-bucket --bucket "$S3_BUCKET" >/dev/null 2>&1 && return 0
		s3_aws s3api head-bucket --bucket "$S3_BUCKET" >/dev/null 2>&1 && return 0
		sleep 0.2
	done
	echo "s3_start: cannot create bucket $S3_BUCKET" >&2
	return 1
}

s3_stop() {
	local p
	for p in ${S3_PROXY_PID:-} ${S3_SERVER_PID:-}; do
		kill "$p" 2>/dev/null
	done
	for p in ${S3_PROXY_PID:-} ${S3_SERVER_PID:-}; do
		wait "$p" 2>/dev/null
	done
	S3_PROXY_PID= S3_SERVER_PID=
	return 0
}

s3_kill() {
	local p
	for p in ${S3_PROXY_PID:-} ${S3_SERVER_PID:-}; do
		kill -9 "$p" 2>/dev/null
	done
	for p in ${S3_PROXY_PID:-} ${S3_SERVER_PID:-}; do
		wait "$p" 2>/dev/null
	done
	S3_PROXY_PID= S3_SERVER_PID=
	return 0
}

s3_restart() {
	_s3_launch || return 1
	export S3_SERVER_PID S3_PROXY_PID
}

s3_fault() {
	_s3_http POST "http://127.0.0.1:$S3_PROXY_PORT/__fault" "$1"
}

s3_faults_clear() {
	_s3_http DELETE "http://127.0.0.1:$S3_PROXY_PORT/__fault"
}

s3_aws() {
	env -u PYTHONPATH -u PYTHONHOME /usr/bin/aws --endpoint-url "$BKP_TEST_S3_ENDPOINT" "$@"
}

#   s3_start_tls DIR  a second s3rver serving HTTPS (self-signed certificate
#                    for 127.0.0.1 made with openssl), no proxy, bucket
#                    $S3_BUCKET; exports S3_TLS_ENDPOINT, S3_TLS_CA (the
#                    certificate, to use as CA bundle); s3_stop_tls stops it
s3_start_tls() {
	local dir=${1:?usage: s3_start_tls DIR} i
	mkdir -p "$dir/data" || return 1
	S3_TLS_DIR=$(cd "$dir" && pwd)
	openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=127.0.0.1 \
		-addext "subjectAltName=IP:127.0.0.1,DNS:localhost" \
		-keyout "$S3_TLS_DIR/key.pem" -out "$S3_TLS_DIR/cert.pem" 2>/dev/null || return 1
	S3_TLS_PORT=$(_s3_free_port)
	node --openssl-legacy-provider "$S3_HARNESS_DIR/node_modules/s3rver/bin/s3rver.js" \
		-d "$S3_TLS_DIR/data" -a 127.0.0.1 -p "$S3_TLS_PORT" --silent \
		--key "$S3_TLS_DIR/key.pem" --cert "$S3_TLS_DIR/cert.pem" \
		--configure-bucket "$S3_BUCKET" >>"$S3_TLS_DIR/s3rver.log" 2>&1 &
	S3_TLS_PID=$!
	export S3_TLS_ENDPOINT="https://127.0.0.1:$S3_TLS_PORT" S3_TLS_CA="$S3_TLS_DIR/cert.pem" S3_TLS_PID
	for i in $(seq 1 100); do
		_s3_http GET "$S3_TLS_ENDPOINT/" "" "$S3_TLS_CA" && return 0
		sleep 0.1
	done
	echo "s3_start_tls: server did not come up (see $S3_TLS_DIR/s3rver.log)" >&2
	return 1
}

s3_stop_tls() {
	[ -n "${S3_TLS_PID:-}" ] || return 0
	kill "$S3_TLS_PID" 2>/dev/null
	wait "$S3_TLS_PID" 2>/dev/null
	S3_TLS_PID=
	return 0
}
