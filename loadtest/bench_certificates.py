"""How long service certificates take to lay out: one PDF alone, and many in one file (no servers).

    .venv/bin/python -m loadtest.bench_certificates [--count 1000]

Synthetic certificates of three service days each, as `checkin certificate issue --all` writes them.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from checkin.certificates.content import CertDay, CertificateContent, fingerprint, new_cert_id, verify_url
from checkin.certificates.pdf import certificate_pdf, certificates_pdf
from checkin.certificates.store import Certificate

BASE_URL = "https://checkin.example.org"


def synthetic(index: int) -> tuple[Certificate, str]:
    content = CertificateContent("bench", "2023 台灣燈會在臺北", f"V-{index:05d}", f"志工{index:05d}號", f"RB-{index:06d}",
                                 "交通引導組", "臺北市政府觀光傳播局",
                                 (CertDay("2023-02-05", 480), CertDay("2023-02-06", 450), CertDay("2023-02-07", 270)))
    cert_id = new_cert_id()
    cert = Certificate(cert_id, "bench", content.volunteer_id, content, fingerprint(cert_id, content.canonical()),
                       "U-bench", datetime.now(UTC), None, None, None, None)
    return cert, verify_url(BASE_URL, cert_id)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1000)
    args = parser.parse_args()
    one = [synthetic(0) for _ in range(3)]
    single = []
    for cert, url in one:
        began = time.perf_counter()
        certificate_pdf(cert, url)
        single.append(time.perf_counter() - began)
    print(f"one certificate, one PDF: {', '.join(f'{s:.2f}' for s in single)} s (3 runs; the font subset is most of it)")
    many = [synthetic(i) for i in range(args.count)]
    with tempfile.TemporaryDirectory() as folder:
        began = time.perf_counter()
        pages = certificates_pdf(many, Path(folder) / "all.pdf", progress=False)
        seconds = time.perf_counter() - began
        size = (Path(folder) / "all.pdf").stat().st_size
    print(f"{args.count:,} certificates in one PDF: {pages:,} pages in {seconds:.1f} s "
          f"({seconds / pages * 1000:.1f} ms a page), {size / 1e6:.1f} MB")


if __name__ == "__main__":
    main()
