#!/bin/sh
# Compose only: the broker reads its AppRole credentials and session key from environment
# variables, and vault-init leaves them as files in the broker-credentials volume. This turns
# the files into the variables, then becomes the broker (exec, so SIGTERM reaches node).
# Kubernetes uses Secrets instead (see helm/sf-broker).
set -eu

CREDS_DIR=${SF_BROKER_CREDENTIALS_DIR:-/run/sf-broker}

for file in role_id secret_id session_encryption_key; do
  if [ ! -s "$CREDS_DIR/$file" ]; then
    echo "broker-entrypoint: $CREDS_DIR/$file is missing: has vault-init completed?" >&2
    exit 78
  fi
done

VAULT_ROLE_ID=$(cat "$CREDS_DIR/role_id")
VAULT_SECRET_ID=$(cat "$CREDS_DIR/secret_id")
SESSION_ENCRYPTION_KEY=$(cat "$CREDS_DIR/session_encryption_key")
export VAULT_ROLE_ID VAULT_SECRET_ID SESSION_ENCRYPTION_KEY

exec "$@"
