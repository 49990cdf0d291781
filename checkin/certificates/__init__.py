"""Service certificates (服務證明): what a certificate says, derived from the credited hours (content), their
issue, supersession and revocation in Postgres (store), and the A4 PDF with its verification QR code (pdf).
"""
