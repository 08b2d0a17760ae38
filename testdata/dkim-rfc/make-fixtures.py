#!/usr/bin/python3
"""Rebuilds the dkimpy-signed fixtures of this directory (see README.md).

Signatures kanmon cannot make itself: RSA keys under 2,048 bits (aws-lc refuses to load
them) and rsa-sha1 (RFC 8301 forbids signing with it). Run with Debian's dkimpy 1.1.x:
    /usr/bin/python3 make-fixtures.py
"""
import subprocess
import dkim

HERE = __file__.rsplit("/", 1)[0] or "."
message = open(f"{HERE}/message.eml", "rb").read()
zone = []
for name, key, algorithm in [
    ("rsa512", "rsa512.pem", b"rsa-sha256"),
    ("rsa1024", "rsa1024.pem", b"rsa-sha256"),
    ("sha1", "rsa2048.pem", b"rsa-sha1"),
]:
    pem = open(f"{HERE}/{key}", "rb").read()
    signature = dkim.sign(message, name.encode(), b"football.example.com", pem,
                          canonicalize=(b"relaxed", b"relaxed"),
                          signature_algorithm=algorithm,
                          include_headers=[b"from", b"to", b"subject", b"date", b"message-id"])
    open(f"{HERE}/signed-{name}.eml", "wb").write(signature + message)
    der = subprocess.run(["openssl", "pkey", "-in", f"{HERE}/{key}", "-pubout", "-outform", "DER"],
                         check=True, capture_output=True).stdout
    import base64
    zone.append(f"{name}._domainkey.football.example.com v=DKIM1; k=rsa; p={base64.b64encode(der).decode()}")
open(f"{HERE}/dkimpy.zone", "w").write(
    "# Key records for the signed-*.eml fixtures, in the dkim example's zone format.\n"
    + "\n".join(zone) + "\n")
