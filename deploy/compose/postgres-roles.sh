#!/usr/bin/env sh
# Run once by the postgres image on a new data volume: for each node, a database owned by
# its owner role (migrations) and an app role that owns nothing (serve, worker), which
# `marac-gateway db grant` then gives the rows (README, "Deploying").
set -eu
for node in north south; do
  owner_pw=$(cat "/run/secrets/${node}_owner")
  app_pw=$(cat "/run/secrets/${node}_app")
  psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres <<SQL
CREATE ROLE ${node}_owner LOGIN PASSWORD '${owner_pw}';
CREATE ROLE ${node}_app LOGIN PASSWORD '${app_pw}';
CREATE DATABASE ${node} OWNER ${node}_owner;
REVOKE ALL ON DATABASE ${node} FROM PUBLIC;
GRANT CONNECT ON DATABASE ${node} TO ${node}_app;
SQL
done
