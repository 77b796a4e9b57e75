#!/usr/bin/python3
"""Checking S3 proxy for bkp's tests (run with Debian's /usr/bin/python3).

Sits on 127.0.0.1 in front of s3rver and, for every request:
  * recomputes the SigV4 signature with botocore (AWS's own implementation)
    from the known test credentials and answers 403 SignatureDoesNotMatch /
    InvalidAccessKeyId like S3 on a mismatch;
  * checks x-amz-content-sha256 (unless UNSIGNED-PAYLOAD), x-amz-checksum-
    sha256 and Content-MD5 against the body (400 XAmzContentSHA256Mismatch /
    BadDigest);
  * appends one JSON line per request to the log file (method, path, query,
    status, Object Lock and storage-class headers, fault injected, and for
    a served GET "resp_bytes", the length of the body answered);
  * implements what s3rver lacks: AbortMultipartUpload (DELETE ?uploadId),
    If-None-Match: * on PutObject / CompleteMultipartUpload (412), suffix
    ranges (bytes=-N);
  * injects faults on demand.  POST /__fault with a JSON object
      {"method": "PUT", "path": "regex", "query": "regex",
       "action": "500"|"501"|"503"|"200error"|"drop"|"drop_response"|
                 "delay"|"skew",
       "count": N, "header": "If-None-Match",
       "delay": seconds, "after": N}
    adds a rule: the first `count` matching requests (carrying the named
    header, if "header" is given; after skipping
    `after` matches) get the fault.  "drop" closes the connection: after
    the request body for uploads, mid-body for GET answers.
    "drop_response" lets the request reach s3rver, then closes the
    connection instead of answering (a lost answer).  "delay" waits then
    serves normally.  "skew" answers 403 RequestTimeTooSkewed; "200error"
    answers 200 with an InternalError body, as S3 may for
    CompleteMultipartUpload.  DELETE /__fault clears all rules;
    GET /__fault lists them with the counts left.
The s3rver behind it runs with --allow-mismatched-signatures: this proxy is
the signature checker.
"""

import argparse
import base64
import hashlib
import hmac
import http.client
import json
import re
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest, HTTPHeaders
from botocore.credentials import Credentials

MAX_BODY = 512 << 20

ARGS = None
RULES = []
RULES_LOCK = threading.Lock()
LOG_LOCK = threading.Lock()
ABORTED = set()


def xml_error(code, message, resource=""):
    return ('<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>%s</Code>'
            '<Message>%s</Message><Resource>%s</Resource></Error>' %
            (code, message, resource)).encode()


def s3_quote(s, safe):
    return urllib.parse.quote(s, safe=safe)


def canonical_query(raw):
    """S3's view: decode each name and value, re-encode, sort."""
    pairs = []
    if raw:
        for part in raw.split("&"):
            if part == "":
                continue
            k, _, v = part.partition("=")
            k = s3_quote(urllib.parse.unquote(k), "-_.~")
            v = s3_quote(urllib.parse.unquote(v), "-_.~")
            pairs.append((k, v))
    return "&".join("%s=%s" % kv for kv in sorted(pairs))


AUTH_RE = re.compile(
    r"^AWS4-HMAC-SHA256 Credential=([^/]+)/(\d{8})/([^/]+)/([^/]+)/aws4_request,"
    r"\s*SignedHeaders=([a-z0-9;\-]+),\s*Signature=([0-9a-f]{64})$")


def check_signature(handler, path, query, body):
    """Return None if the signature is right, else (status, code, msg)."""
    auth = handler.headers.get("Authorization")
    if auth is None:
        return (403, "AccessDenied", "Anonymous access is forbidden")
    m = AUTH_RE.match(auth)
    if not m:
        return (400, "AuthorizationHeaderMalformed", "Malformed Authorization")
    akid, date, region, service, signed, sig = m.groups()
    if akid != ARGS.access_key:
        return (403, "InvalidAccessKeyId",
                "The AWS Access Key Id you provided does not exist in our records.")
    amzdate = handler.headers.get("X-Amz-Date", "")
    if not amzdate.startswith(date) or service != "s3":
        return (400, "AuthorizationHeaderMalformed", "Bad credential scope")
    if region != ARGS.region:
        return (400, "AuthorizationHeaderMalformed",
                "the region '%s' is wrong; expecting '%s'" % (region, ARGS.region))
    try:
        t = time.mktime(time.strptime(amzdate, "%Y%m%dT%H%M%SZ")) - time.timezone
    except ValueError:
        return (403, "AccessDenied", "Bad X-Amz-Date")
    if abs(time.time() - t) > 900:
        return (403, "RequestTimeTooSkewed",
                "The difference between the request time and the current time is too large.")
    names = signed.split(";")
    if "host" not in names:
        return (403, "AccessDenied", "host must be signed")
    for name in handler.headers.keys():
        if name.lower().startswith("x-amz-") and name.lower() not in names:
            return (403, "AccessDenied",
                    "There were headers present in the request which were not signed")
    hdrs = HTTPHeaders()
    for name in names:
        values = handler.headers.get_all(name)
        if values is None:
            return (403, "AccessDenied", "signed header %s missing" % name)
        for v in values:
            hdrs[name] = v
    creds = Credentials(ARGS.access_key, ARGS.secret_key)
    signer = S3SigV4Auth(creds, "s3", region)
    url = "http://%s%s" % (handler.headers.get("Host", ""),
                           s3_quote(urllib.parse.unquote(path), "/~"))
    req = AWSRequest(method=handler.command, url=url, data=body)
    req.context["timestamp"] = amzdate
    payload = handler.headers.get("x-amz-content-sha256")
    if payload is None:
        return (400, "InvalidRequest", "Missing required header for this request: x-amz-content-sha256")
    creq = "\n".join([handler.command.upper(),
                      s3_quote(urllib.parse.unquote(path), "/~"),
                      canonical_query(query),
                      signer.canonical_headers(hdrs) + "\n",
                      ";".join(sorted(set(names))),
                      payload])
    sts = signer.string_to_sign(req, creq)
    want = signer.signature(sts, req)
    if not hmac.compare_digest(want, sig):
        sys.stderr.write("proxy: signature mismatch; canonical request:\n%s\n" % creq)
        return (403, "SignatureDoesNotMatch",
                "The request signature we calculated does not match the "
                "signature you provided. Check your key and signing method.")
    return None


def check_body(handler, body):
    h = handler.headers
    sha = h.get("x-amz-content-sha256")
    if sha and sha != "UNSIGNED-PAYLOAD" and not sha.startswith("STREAMING-"):
        if hashlib.sha256(body).hexdigest() != sha.lower():
            return (400, "XAmzContentSHA256Mismatch",
                    "The provided 'x-amz-content-sha256' header does not match what was computed.")
    c = h.get("x-amz-checksum-sha256")
    if c is not None and base64.b64encode(hashlib.sha256(body).digest()).decode() != c:
        return (400, "BadDigest", "The SHA256 you specified did not match the calculated checksum.")
    c = h.get("Content-MD5")
    if c is not None and base64.b64encode(hashlib.md5(body).digest()).decode() != c:
        return (400, "BadDigest", "The Content-MD5 you specified did not match what we received.")
    return None


def take_fault(method, path, query, headers):
    with RULES_LOCK:
        for r in RULES:
            if r["count"] <= 0:
                continue
            if r.get("method") and r["method"] != method:
                continue
            if r.get("path") and not re.search(r["path"], path):
                continue
            if r.get("query") is not None and not re.search(r["query"], query):
                continue
            if r.get("header") and headers.get(r["header"]) is None:
                continue
            if r.get("after", 0) > 0:
                r["after"] -= 1
                continue
            r["count"] -= 1
            r["hits"] = r.get("hits", 0) + 1
            return dict(r)
    return None


def log(entry):
    if not ARGS.log:
        return
    with LOG_LOCK:
        with open(ARGS.log, "a") as f:
            f.write(json.dumps(entry, sort_keys=True) + "\n")


def upstream(method, path_query, headers, body):
    conn = http.client.HTTPConnection(ARGS.upstream_host, ARGS.upstream_port, timeout=120)
    try:
        conn.request(method, path_query, body=body if body else None, headers=headers)
        resp = conn.getresponse()
        data = resp.read() if method != "HEAD" else b""
        return resp.status, resp.getheaders(), data
    finally:
        conn.close()


def signed_upstream(method, path):
    """A request of the proxy's own (HEAD for If-None-Match), signed."""
    url = "http://%s:%d%s" % (ARGS.upstream_host, ARGS.upstream_port, path)
    req = AWSRequest(method=method, url=url, data=b"")
    S3SigV4Auth(Credentials(ARGS.access_key, ARGS.secret_key), "s3",
                ARGS.region).add_auth(req)
    hdrs = dict(req.headers.items())
    return upstream(method, path, hdrs, b"")


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "bkp-s3-proxy"

    def log_message(self, fmt, *args):
        if ARGS.verbose:
            sys.stderr.write("proxy: " + (fmt % args) + "\n")

    def reply(self, status, body=b"", headers=(), head=False):
        self.send_response(status)
        seen = set()
        for k, v in headers:
            lk = k.lower()
            if lk in ("connection", "transfer-encoding", "keep-alive", "content-length", "date", "server"):
                if lk == "content-length" and head:
                    self.send_header(k, v)
                    seen.add(lk)
                continue
            self.send_header(k, v)
        if "content-length" not in seen:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if not head and body:
            self.wfile.write(body)

    def error(self, status, code, msg, resource=""):
        body = xml_error(code, msg, resource)
        self.reply(status, b"" if self.command == "HEAD" else body,
                   [("Content-Type", "application/xml")])

    def control(self, body):
        global RULES
        if self.command == "POST":
            rule = json.loads(body or b"{}")
            rule.setdefault("count", 1)
            with RULES_LOCK:
                RULES.append(rule)
            self.reply(200, b"ok\n")
        elif self.command == "DELETE":
            with RULES_LOCK:
                RULES = []
            self.reply(200, b"ok\n")
        else:
            with RULES_LOCK:
                data = json.dumps(RULES).encode()
            self.reply(200, data, [("Content-Type", "application/json")])

    def handle_any(self):
        parts = urllib.parse.urlsplit(self.path)
        path, query = parts.path, parts.query
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            self.error(411, "MissingContentLength", "chunked bodies are not supported by the test proxy")
            self.close_connection = True
            return
        n = int(self.headers.get("Content-Length") or 0)
        if n < 0 or n > MAX_BODY:
            self.error(400, "EntityTooLarge", "too large for the test proxy")
            self.close_connection = True
            return
        body = self.rfile.read(n) if n else b""
        if path.startswith("/__fault"):
            return self.control(body)
        qs = urllib.parse.parse_qs(query, keep_blank_values=True)
        # Virtual-hosted requests (BUCKET.s3.localhost) are logged, matched
        # and emulated under their path-style path "/BUCKET/KEY".
        host = self.headers.get("Host", "").rsplit(":", 1)[0]
        m = re.match(r"^(.+)\.s3\.localhost$", host)
        self.pspath = ("/" + m.group(1) + path) if m else path
        self.vhost = bool(m)
        entry = {"method": self.command, "path": urllib.parse.unquote(self.pspath),
                 "query": query, "bytes": len(body)}
        for h, k in (("x-amz-object-lock-mode", "lock_mode"),
                     ("x-amz-object-lock-retain-until-date", "lock_until"),
                     ("x-amz-storage-class", "storage_class"),
                     ("If-None-Match", "if_none_match"),
                     ("Range", "range"),
                     ("Content-MD5", "content_md5"),
                     ("x-amz-content-sha256", "content_sha256")):
            if self.headers.get(h) is not None:
                entry[k] = self.headers.get(h)
        status = self.serve(path, query, qs, body, entry)
        entry["status"] = status
        if self.vhost:
            entry["vhost"] = True
        log(entry)

    def serve(self, path, query, qs, body, entry):
        bad = check_signature(self, path, query, body)
        if bad:
            self.error(bad[0], bad[1], bad[2], path)
            entry["rejected"] = bad[1]
            return bad[0]
        bad = check_body(self, body)
        if bad:
            self.error(bad[0], bad[1], bad[2], path)
            entry["rejected"] = bad[1]
            return bad[0]
        fault = take_fault(self.command, urllib.parse.unquote(self.pspath), query, self.headers)
        if fault:
            entry["fault"] = fault["action"]
            act = fault["action"]
            if act == "delay":
                time.sleep(float(fault.get("delay", 1)))
            elif act == "500":
                self.error(500, "InternalError", "We encountered an internal error. Please try again.", path)
                return 500
            elif act == "503":
                self.error(503, "SlowDown", "Please reduce your request rate.", path)
                return 503
            elif act == "200error":
                # S3 may start a 200 answer and then report an error in
                # the body (CompleteMultipartUpload, CopyObject).
                body = xml_error("InternalError", "We encountered an internal error. Please try again.", path)
                self.reply(200, body, [("Content-Type", "application/xml")])
                return 200
            elif act == "501":
                self.error(501, "NotImplemented",
                           "A header you provided implies functionality that is not implemented", path)
                return 501
            elif act == "skew":
                self.error(403, "RequestTimeTooSkewed",
                           "The difference between the request time and the current time is too large.", path)
                return 403
            elif act == "reset" or (act == "drop" and self.command != "GET"):
                self.close_connection = True
                try:
                    self.connection.shutdown(2)
                except OSError:
                    pass
                return 0
        # AbortMultipartUpload: s3rver has none.
        if self.command == "DELETE" and "uploadId" in qs:
            ABORTED.add(qs["uploadId"][0])
            self.reply(204)
            return 204
        if "uploadId" in qs and qs["uploadId"][0] in ABORTED:
            self.error(404, "NoSuchUpload", "The specified upload does not exist.", path)
            return 404
        # If-None-Match: * on PutObject and CompleteMultipartUpload.
        if self.headers.get("If-None-Match") == "*" and (
                (self.command == "PUT" and "partNumber" not in qs) or
                (self.command == "POST" and "uploadId" in qs)):
            st, _, _ = signed_upstream("HEAD", self.pspath)
            if st == 200:
                self.error(412, "PreconditionFailed",
                           "At least one of the pre-conditions you specified did not hold", path)
                return 412
        headers = {k: v for k, v in self.headers.items()
                   if k.lower() not in ("connection", "keep-alive", "if-none-match", "expect")}
        # Suffix ranges, which s3rver gets wrong.
        rng = self.headers.get("Range", "")
        m = re.match(r"^bytes=-(\d+)$", rng)
        if self.command == "GET" and m:
            st, hh, _ = signed_upstream("HEAD", self.pspath)
            if st == 200:
                size = int(dict((k.lower(), v) for k, v in hh)["content-length"])
                n = min(int(m.group(1)), size)
                headers["Range"] = "bytes=%d-%d" % (size - n, size - 1) if n else "bytes=0-0"
        pq = path + ("?" + query if query else "")
        try:
            st, hh, data = upstream(self.command, pq, headers, body)
        except OSError as e:
            self.error(502, "BadGateway", "upstream: %s" % e, path)
            return 502
        if fault and fault["action"] == "drop_response":
            self.close_connection = True
            try:
                self.connection.shutdown(2)
            except OSError:
                pass
            return st
        if fault and fault["action"] == "drop" and self.command == "GET":
            # Headers and half the body, then the connection dies.
            self.send_response(st)
            for k, v in hh:
                if k.lower() not in ("connection", "transfer-encoding", "keep-alive", "content-length", "date", "server"):
                    self.send_header(k, v)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data[: len(data) // 2])
            self.wfile.flush()
            self.close_connection = True
            try:
                self.connection.shutdown(2)
            except OSError:
                pass
            return st
        if self.command == "GET":
            entry["resp_bytes"] = len(data)
        self.reply(st, data, hh, head=self.command == "HEAD")
        return st

    do_GET = do_PUT = do_POST = do_HEAD = do_DELETE = handle_any


def main():
    global ARGS
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--port-file")
    ap.add_argument("--upstream", required=True, help="host:port of s3rver")
    ap.add_argument("--log")
    ap.add_argument("--access-key", default="S3RVER")
    ap.add_argument("--secret-key", default="S3RVER")
    ap.add_argument("--region", default="us-east-1")
    ap.add_argument("--verbose", action="store_true")
    ARGS = ap.parse_args()
    host, _, port = ARGS.upstream.rpartition(":")
    ARGS.upstream_host, ARGS.upstream_port = host, int(port)
    srv = ThreadingHTTPServer(("127.0.0.1", ARGS.port), Handler)
    srv.daemon_threads = True
    if ARGS.port_file:
        with open(ARGS.port_file + ".tmp", "w") as f:
            f.write("%d\n" % srv.server_address[1])
        import os
        os.rename(ARGS.port_file + ".tmp", ARGS.port_file)
    srv.serve_forever()


if __name__ == "__main__":
    main()
