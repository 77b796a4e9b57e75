#!/usr/bin/python3
"""Must-fail checks of the test proxy itself: requests signed by botocore,
then spoiled, must be refused the way S3 refuses them.  Usage:
selftest.py ENDPOINT BUCKET PREFIX (credentials from AWS_ACCESS_KEY_ID /
AWS_SECRET_ACCESS_KEY).  Prints one line per check; exit 1 on any failure."""

import base64
import hashlib
import http.client
import os
import sys
import urllib.parse

from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

endpoint, bucket, prefix = sys.argv[1:4]
u = urllib.parse.urlsplit(endpoint)
creds = Credentials(os.environ["AWS_ACCESS_KEY_ID"], os.environ["AWS_SECRET_ACCESS_KEY"])
failed = 0


def send(method, key, body=b"", headers=None, query="", spoil=None, sent=None):
    path = "/%s/%s/%s" % (bucket, prefix, urllib.parse.quote(key))
    url = "%s%s%s" % (endpoint, path, "?" + query if query else "")
    req = AWSRequest(method=method, url=url, data=body, headers=dict(headers or {}))
    S3SigV4Auth(creds, "s3", "us-east-1").add_auth(req)
    hdrs = dict(req.headers.items())
    if spoil:
        spoil(hdrs)
    c = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
    if sent is not None:
        body = sent
    c.request(method, path + ("?" + query if query else ""), body=body or None, headers=hdrs)
    r = c.getresponse()
    data = r.read()
    c.close()
    return r.status, data


def check(name, got, want_status, want_text=None):
    global failed
    st, data = got
    ok = st == want_status and (want_text is None or want_text.encode() in data)
    print("%s %s (HTTP %d%s)" % ("ok  " if ok else "FAIL", name, st,
                                 ", " + data[:120].decode(errors="replace") if not ok else ""))
    failed += not ok


body = b"hello proxy"
sha = hashlib.sha256(body).hexdigest()
check("signed PUT accepted", send("PUT", "a", body, {"x-amz-content-sha256": sha}), 200)
# Signed for one body, another (of the same length) sent.
check("payload hash mismatch refused",
      send("PUT", "b", body, {"x-amz-content-sha256": sha}, sent=b"hello proxz"),
      400, "XAmzContentSHA256Mismatch")
check("Content-MD5 mismatch refused",
      send("PUT", "c", body, {"x-amz-content-sha256": sha,
                              "Content-MD5": base64.b64encode(hashlib.md5(b"x").digest()).decode()}),
      400, "BadDigest")
check("x-amz-checksum-sha256 mismatch refused",
      send("PUT", "d", body, {"x-amz-content-sha256": sha,
                              "x-amz-checksum-sha256": base64.b64encode(hashlib.sha256(b"x").digest()).decode()}),
      400, "BadDigest")
check("right Content-MD5 and checksum accepted",
      send("PUT", "e", body, {"x-amz-content-sha256": sha,
                              "Content-MD5": base64.b64encode(hashlib.md5(body).digest()).decode(),
                              "x-amz-checksum-sha256": base64.b64encode(hashlib.sha256(body).digest()).decode()}),
      200)


def tamper_sig(h):
    a = h["Authorization"]
    h["Authorization"] = a[:-1] + ("0" if a[-1] != "0" else "1")


check("altered signature refused", send("GET", "a", spoil=tamper_sig), 403, "SignatureDoesNotMatch")


def add_unsigned(h):
    h["x-amz-meta-extra"] = "sneaked in"


check("unsigned x-amz header refused", send("GET", "a", spoil=add_unsigned), 403)


def wrong_key(h):
    h["Authorization"] = h["Authorization"].replace("Credential=%s/" % creds.access_key, "Credential=AKIDOTHER/")


check("unknown access key refused", send("GET", "a", spoil=wrong_key), 403, "InvalidAccessKeyId")
check("If-None-Match on an existing object refused",
      send("PUT", "a", body, {"x-amz-content-sha256": sha, "If-None-Match": "*"}), 412, "PreconditionFailed")
check("AbortMultipartUpload answered", send("DELETE", "a", query="uploadId=nonesuch"), 204)
st, data = send("GET", "a", headers={"Range": "bytes=-5"})
check("suffix range", (st, data), 206)
if data != body[-5:]:
    print("FAIL suffix range returned %r, not %r" % (data, body[-5:]))
    failed += 1
sys.exit(1 if failed else 0)
