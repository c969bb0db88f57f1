#!/usr/bin/env sh
# Makes what deploy/compose.yaml needs and must never be committed, in deploy/compose/local/:
# a local certificate authority and the proxy's certificate for north.gateway.test and
# south.gateway.test (self-signed: for trying the deployment on one machine, not for
# production), random database passwords, each node's secret key and the metrics token.
# Needs openssl. Safe to run again: it keeps what exists.
set -eu
cd "$(dirname "$0")"
umask 077
mkdir -p local
cd local

secret() { [ -s "$1" ] || openssl rand -base64 48 | tr -d '\n/+=' | cut -c1-48 > "$1"; }

if [ ! -s ca.crt ]; then
  openssl req -x509 -newkey rsa:3072 -nodes -days 365 -subj "/CN=MARAC gateway local CA" \
    -keyout ca.key -out ca.crt 2>/dev/null
fi
if [ ! -s proxy.crt ]; then
  openssl req -newkey rsa:3072 -nodes -subj "/CN=north.gateway.test" \
    -keyout proxy.key -out proxy.csr 2>/dev/null
  printf 'subjectAltName=DNS:north.gateway.test,DNS:south.gateway.test\nextendedKeyUsage=serverAuth\n' > proxy.ext
  openssl x509 -req -in proxy.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 365 \
    -extfile proxy.ext -out proxy.crt 2>/dev/null
  rm -f proxy.csr proxy.ext
fi
for name in postgres north_owner north_app south_owner south_app north_secret_key south_secret_key metrics_token; do
  secret "$name"
done
for node in north south; do
  for role in owner app; do
    printf 'postgresql://%s_%s:%s@postgres:5432/%s' "$node" "$role" "$(cat "${node}_${role}")" "$node" > "${node}_${role}.url"
  done
done
# Compose (outside swarm) bind-mounts secret files as they are, and the gateway (uid
# 10001), PostgreSQL and Caddy read them as other users: readable files in this
# owner-only folder. Only the CA's key stays private.
find . -type f ! -name 'ca.key' ! -name 'ca.srl' -exec chmod 0644 {} +
echo "deploy/compose/local/ is ready (keep it private; it is git-ignored)"
