"""A tiny authoritative DNS server (Python standard library only) that serves
the TXT records of a kanmon zone file on a loopback address.

Only what OpenDKIM's resolver needs is implemented: one question per query,
TXT (and ANY) answers for names in the zone, NOERROR/NODATA for other types
of a known name, NXDOMAIN for unknown names, UDP and TCP. TXT values longer
than 255 bytes are split into several <character-string>s of at most 255
bytes, as RFC 1035 section 3.3.14 requires; resolvers concatenate them.
"""

import socket
import socketserver
import struct
import threading

TYPE_TXT = 16
TYPE_ANY = 255
CLASS_IN = 1


def load_zone(path):
    """Parse the kanmon zone format: `<name> <TXT value>` per line."""
    zone = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.rstrip("\r\n")
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            name, _, value = line.strip().partition(" ")
            zone.setdefault(name.rstrip(".").lower(), []).append(value.lstrip(" \t"))
    return zone


def split_txt(value):
    """Split a TXT value into <character-string>s of at most 255 bytes."""
    data = value.encode("ascii")
    parts = [data[i:i + 255] for i in range(0, len(data), 255)] or [b""]
    return parts


def encode_txt_rdata(value):
    return b"".join(bytes([len(p)]) + p for p in split_txt(value))


def _read_name(msg, off):
    labels = []
    while True:
        n = msg[off]
        if n == 0:
            return ".".join(labels), off + 1
        if n & 0xC0:
            raise ValueError("compressed name in question")
        labels.append(msg[off + 1:off + 1 + n].decode("ascii", "replace"))
        off += 1 + n


def answer(zone, query):
    """Build the response packet for one query packet (bytes -> bytes)."""
    qid, flags, qd, _an, _ns, _ar = struct.unpack("!6H", query[:12])
    name, off = _read_name(query, 12)
    qtype, qclass = struct.unpack("!2H", query[off:off + 4])
    question = query[12:off + 4]
    rd = flags & 0x0100
    key = name.rstrip(".").lower()
    answers = []
    rcode = 0
    if key in zone:
        if qtype in (TYPE_TXT, TYPE_ANY) and qclass == CLASS_IN:
            for value in zone[key]:
                rdata = encode_txt_rdata(value)
                # 0xC00C: pointer to the name in the question.
                answers.append(struct.pack("!HHHIH", 0xC00C, TYPE_TXT, CLASS_IN, 300, len(rdata)) + rdata)
    else:
        rcode = 3  # NXDOMAIN
    rflags = 0x8000 | 0x0400 | rd | rcode  # QR, AA, RD copied, RCODE
    header = struct.pack("!6H", qid, rflags, 1, len(answers), 0, 0)
    return header + question + b"".join(answers)


class DnsServer:
    """Serve `zone` on 127.0.0.1:port over UDP and TCP in daemon threads."""

    def __init__(self, zone, host="127.0.0.1", port=0):
        self.zone = zone
        self.queries = []
        outer = self

        class Udp(socketserver.BaseRequestHandler):
            def handle(self):
                data, sock = self.request
                outer.queries.append(data)
                try:
                    sock.sendto(answer(outer.zone, data), self.client_address)
                except Exception:  # malformed query: ignore it
                    pass

        class Tcp(socketserver.BaseRequestHandler):
            def handle(self):
                hdr = self.request.recv(2)
                if len(hdr) < 2:
                    return
                (n,) = struct.unpack("!H", hdr)
                data = b""
                while len(data) < n:
                    chunk = self.request.recv(n - len(data))
                    if not chunk:
                        return
                    data += chunk
                resp = answer(outer.zone, data)
                self.request.sendall(struct.pack("!H", len(resp)) + resp)

        socketserver.UDPServer.allow_reuse_address = True
        socketserver.TCPServer.allow_reuse_address = True
        self.udp = socketserver.ThreadingUDPServer((host, port), Udp)
        self.port = self.udp.server_address[1]
        self.tcp = socketserver.ThreadingTCPServer((host, self.port), Tcp)
        self.host = host
        for srv in (self.udp, self.tcp):
            threading.Thread(target=srv.serve_forever, daemon=True).start()

    def close(self):
        for srv in (self.udp, self.tcp):
            srv.shutdown()
            srv.server_close()


def query_txt(host, port, name, timeout=2.0):
    """Minimal stub resolver used by the self-test: returns the list of
    <character-string>s of the first TXT answer, or None on NXDOMAIN."""
    qname = b"".join(bytes([len(l)]) + l.encode() for l in name.split(".") if l) + b"\0"
    q = struct.pack("!6H", 0x1234, 0x0100, 1, 0, 0, 0) + qname + struct.pack("!2H", TYPE_TXT, CLASS_IN)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(timeout)
    s.sendto(q, (host, port))
    resp, _ = s.recvfrom(4096)
    s.close()
    flags, _qd, an = struct.unpack("!3H", resp[2:8])
    if flags & 0xF == 3 or an == 0:
        return None
    off = 12 + len(qname) + 4
    _ptr, _t, _c, _ttl, rdlen = struct.unpack("!HHHIH", resp[off:off + 12])
    rdata = resp[off + 12:off + 12 + rdlen]
    strings, i = [], 0
    while i < len(rdata):
        n = rdata[i]
        strings.append(rdata[i + 1:i + 1 + n])
        i += 1 + n
    return strings
