#!/bin/bash
# make-certs.sh OUTDIR: a throwaway test CA, a server certificate for
# "localhost" (SAN DNS:localhost and IP:127.0.0.1) signed by it, and an
# untrusted self-signed certificate for "localhost". Generated at test time
# so no private key is committed. Files: ca.pem, server.pem, server.key,
# untrusted.pem, untrusted.key.
set -euo pipefail
out=${1:?usage: make-certs.sh OUTDIR}
mkdir -p "$out"
cd "$out"
exec 9>.lock
flock 9 # parallel tests share the folder
if [ -s server.pem ] && [ -s untrusted.pem ]; then
  exit 0
fi
quiet() { "$@" >/dev/null 2>&1 || { "$@"; exit 1; }; }
quiet openssl req -x509 -newkey rsa:2048 -nodes -days 30 -subj "/CN=mailer test CA" \
  -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
  -keyout ca.key -out ca.pem
quiet openssl req -newkey rsa:2048 -nodes -subj "/CN=localhost" -keyout server.key -out server.csr
printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' > server.ext
quiet openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 30 \
  -extfile server.ext -out server.pem
quiet openssl req -x509 -newkey rsa:2048 -nodes -days 30 -subj "/CN=localhost" \
  -addext "subjectAltName=DNS:localhost" -keyout untrusted.key -out untrusted.pem
rm -f server.csr server.ext ca.srl
