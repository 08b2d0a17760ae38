"""The four source messages of the DKIM interop matrix, built byte by byte.

Every line ends in CRLF. Each header field starts `Name: ` (one space after
the colon) because that is the only form a milter (OpenDKIM) can reproduce:
further whitespace after that one space is kept and is part of the tests.
"""

import base64

CRLF = b"\r\n"


def _msg(headers, body_lines, final_crlf=True):
    """headers: list of raw header lines (continuations included as separate
    list items starting with WSP). body_lines: list of lines (no CRLF)."""
    head = CRLF.join(headers) + CRLF
    body = CRLF.join(body_lines) + (CRLF if final_crlf else b"")
    return head + CRLF + body


def plain():
    return _msg([
        b"From: Alice Example <alice@example.com>",
        b"To: Bob Example <bob@example.org>",
        b"Subject: Plain text interop message",
        b"Date: Tue, 14 Nov 2023 22:13:20 +0000",
        b"Message-ID: <plain.1700000000@example.com>",
        b"MIME-Version: 1.0",
        b"Content-Type: text/plain; charset=us-ascii",
        b"Content-Transfer-Encoding: 7bit",
    ], [
        b"Hello Bob,",
        b"",
        b"This is a plain text message used by kanmon's DKIM interoperability",
        b"tests. It is signed by dkimpy, OpenDKIM and kanmon, and each of them",
        b"verifies the others' signatures.",
        b"",
        b"-- ",
        b"Alice",
    ])


def multipart():
    html = (
        "<!DOCTYPE html>\r\n<html><head><meta charset=\"utf-8\"><title>Interop</title></head>\r\n"
        "<body><p>Hello Bob,</p>\r\n<p>This is the <b>HTML</b> alternative, sent as "
        "base64. Caf\u00e9 cr\u00e8me br\u00fbl\u00e9e &mdash; 3 &times; 4 = 12.</p>\r\n"
        "<p>-- Alice</p></body></html>\r\n"
    ).encode("utf-8")
    b64 = base64.encodebytes(html).replace(b"\n", b"\r\n").rstrip(b"\r\n").split(b"\r\n")
    return _msg([
        b"From: Alice Example <alice@example.com>",
        b"To: Bob Example <bob@example.org>",
        b"Subject: Multipart alternative interop message",
        b"Date: Tue, 14 Nov 2023 22:13:20 +0000",
        b"Message-ID: <multipart.1700000000@example.com>",
        b"MIME-Version: 1.0",
        b"Content-Type: multipart/alternative;",
        b"  boundary=\"=_kanmon_interop_boundary_42\"",
    ], [
        b"This is a multi-part message in MIME format.",
        b"",
        b"--=_kanmon_interop_boundary_42",
        b"Content-Type: text/plain; charset=utf-8",
        b"Content-Transfer-Encoding: quoted-printable",
        b"",
        b"Hello Bob,",
        b"",
        b"This is the plain alternative, sent as quoted-printable. Caf=C3=A9 cr=C3=",
        b"=A8me br=C3=BBl=C3=A9e =E2=80=94 3 =C3=97 4 =3D 12. This line is long enou=",
        b"gh to need soft line breaks.=20",
        b"Trailing space encoded above; an encoded tab at the end here:=09",
        b"",
        b"-- Alice",
        b"",
        b"--=_kanmon_interop_boundary_42",
        b"Content-Type: text/html; charset=utf-8",
        b"Content-Transfer-Encoding: base64",
        b"",
    ] + b64 + [
        b"",
        b"--=_kanmon_interop_boundary_42--",
        b"",
        b"Epilogue text after the closing boundary.",
    ])


def whitespace():
    """Whitespace torture. Header side: runs of spaces after the colon,
    a multi-line folded Subject with tabs and trailing whitespace on folded
    lines, a folded To, trailing WSP at the end of a field. Body side:
    trailing spaces/tabs, runs of WSP inside lines, a line of only WSP in the
    middle, and whitespace-only lines at the END of the body (relaxed body
    canonicalisation must reduce them to empty lines and drop them: the case
    that broke mail-auth 0.13.3)."""
    return _msg([
        b"From: Alice Example <alice@example.com>",
        b"To:    Bob Example <bob@example.org>,",
        b"\t  Carol Example <carol@example.org>",
        b"Subject: Whitespace   torture\t\ttest \t",
        b"\twith a folded subject   ",
        b"  \t spanning   three\t lines",
        b"Date: Tue, 14 Nov 2023 22:13:20 +0000",
        b"Message-ID: <whitespace.1700000000@example.com>",
        b"MIME-Version: 1.0",
        b"Content-Type: text/plain;  charset=us-ascii",
        b"X-Trailing-Whitespace: value with trailing whitespace \t ",
    ], [
        b"Line with trailing spaces   ",
        b"Line with a trailing tab\t",
        b"Runs   of    spaces\tand\t\ttabs  \t inside this line",
        b"\t leading whitespace on this line",
        b"",
        b" \t ",
        b"The line above is whitespace only; the lines below are too.",
        b"  ",
        b"\t",
        b" \t  ",
    ])


def utf8():
    """8-bit UTF-8 body, RFC 2047 encoded-words (B and Q) in headers."""
    subject_words = [
        b"=?UTF-8?B?R3LDvMOfZSBhdXMgTcO8bmNoZW4g4oCUIM6VzrvOu863zr3Ouc66zqwg?=",
        b"=?UTF-8?Q?=D1=80=D1=83=D1=81=D1=81=D0=BA=D0=B8=D0=B9_=E6=97=A5=E6=9C=AC?=",
    ]
    body = (
        "Grüße aus München!\r\n"
        "\r\n"
        "Ελληνικά: Καλημέρα κόσμε.\r\n"
        "Русский: Съешь же ещё этих мягких французских булок.\r\n"
        "日本語: いろはにほへと ちりぬるを\r\n"
        "Emoji: \U0001F4EC \u2709\ufe0f\r\n"
        "Combining: e\u0301 vs \u00e9, NBSP:\u00a0here.\r\n"
    ).encode("utf-8")
    head = CRLF.join([
        b"From: =?UTF-8?Q?J=C3=BCrgen_M=C3=BCller?= <juergen@example.com>",
        b"To: =?UTF-8?B?0JjQstCw0L0g0J/QtdGC0YDQvtCy?= <ivan@example.org>",
        b"Subject: " + subject_words[0],
        b" " + subject_words[1],
        b"Date: Tue, 14 Nov 2023 22:13:20 +0000",
        b"Message-ID: <utf8.1700000000@example.com>",
        b"MIME-Version: 1.0",
        b"Content-Type: text/plain; charset=utf-8",
        b"Content-Transfer-Encoding: 8bit",
    ]) + CRLF
    return head + CRLF + body


ALL = {
    "plain": plain,
    "multipart": multipart,
    "whitespace": whitespace,
    "utf8": utf8,
}
