#!/bin/sh
# Bootstraps the compose stack's Vault for sf-broker. Runs on every `docker compose up` (in the
# hashicorp/vault image, as root) and is idempotent:
#   1. initialise Vault once (1 key share) and unseal it on every run;
#   2. KV v2 at secret/, the sf-broker policy, the AppRole sf-broker;
#   3. hand the AppRole role_id/secret_id and a session encryption key to the broker through
#      the broker-credentials volume (files owned by the broker's uid, mode 0400);
#   4. seed the demo connection "demo", which logs in to the simulator.
#
# DEMO ONLY: the unseal key and the root token are kept in plain text in the vault-init-state
# volume, which only this container mounts. A real Vault is initialised by people holding
# separate key shares, auto-unsealed by a KMS, and has no root token lying around.
set -eu

: "${VAULT_ADDR:=http://vault:8200}"
export VAULT_ADDR
STATE_DIR=/vault-init
CREDS_DIR=/run/sf-broker
DEPLOY_DIR=/deploy
BROKER_UID=10001
KV_MOUNT=secret
PATH_PREFIX=sf-broker
ROLE=sf-broker

log () { echo "vault-init: $*"; }
die () { echo "vault-init: $*" >&2; exit 1; }

# `vault status` exits 0 when unsealed, 2 when sealed or not initialised, 1 when unreachable.
tries=0
until vault status >/dev/null 2>&1 || [ $? -eq 2 ]; do
  tries=$((tries + 1))
  [ "$tries" -lt 60 ] || die "Vault at $VAULT_ADDR did not answer"
  sleep 1
done

if ! vault status -format=json 2>/dev/null | grep -q '"initialized": true'; then
  log "initialising Vault (1 key share, kept in the vault-init-state volume: demo only)"
  umask 077
  vault operator init -key-shares=1 -key-threshold=1 > "$STATE_DIR/init.txt"
  umask 022
fi
[ -s "$STATE_DIR/init.txt" ] || die "Vault is initialised but $STATE_DIR/init.txt is gone; reset the stack with: docker compose down -v"
UNSEAL_KEY=$(awk -F': ' '/^Unseal Key 1:/ { print $2 }' "$STATE_DIR/init.txt")
ROOT_TOKEN=$(awk -F': ' '/^Initial Root Token:/ { print $2 }' "$STATE_DIR/init.txt")
[ -n "$UNSEAL_KEY" ] && [ -n "$ROOT_TOKEN" ] || die "$STATE_DIR/init.txt has no unseal key or root token"

if ! vault status >/dev/null 2>&1; then
  log "unsealing"
  vault operator unseal "$UNSEAL_KEY" >/dev/null
fi
export VAULT_TOKEN="$ROOT_TOKEN"

if ! vault secrets list -format=json | grep -q "\"$KV_MOUNT/\""; then
  log "enabling KV v2 at $KV_MOUNT/"
  vault secrets enable -path="$KV_MOUNT" -version=2 kv >/dev/null
fi

vault policy write "$ROLE" "$DEPLOY_DIR/sf-broker-policy.hcl" >/dev/null

if ! vault auth list -format=json | grep -q '"approle/"'; then
  log "enabling AppRole auth"
  vault auth enable approle >/dev/null
fi
# secret_id without expiry or use limit: the broker logs in again with the same one after a
# restart or when its token reaches token_max_ttl.
vault write "auth/approle/role/$ROLE" \
  token_policies="$ROLE" token_ttl=1h token_max_ttl=24h \
  secret_id_ttl=0 secret_id_num_uses=0 >/dev/null

umask 077
vault read -field=role_id "auth/approle/role/$ROLE/role-id" > "$CREDS_DIR/role_id"
# Keep a secret_id that still logs in, so restarts don't pile up secret_ids; issue a new one
# when there is none or Vault no longer knows it (its data volume was reset).
secret_id_works () {
  [ -s "$CREDS_DIR/secret_id" ] || return 1
  token=$(VAULT_TOKEN='' vault write -field=token auth/approle/login \
    role_id="$(cat "$CREDS_DIR/role_id")" secret_id="$(cat "$CREDS_DIR/secret_id")" 2>/dev/null) || return 1
  VAULT_TOKEN="$token" vault token revoke -self >/dev/null 2>&1 || true
}
if ! secret_id_works; then
  log "issuing a secret_id for AppRole $ROLE"
  vault write -f -field=secret_id "auth/approle/role/$ROLE/secret-id" > "$CREDS_DIR/secret_id"
fi
# AES-256 key for the sessions the broker caches in Redis; made once, kept across restarts so
# cached sessions stay readable.
if [ ! -s "$CREDS_DIR/session_encryption_key" ]; then
  head -c 32 /dev/urandom | base64 > "$CREDS_DIR/session_encryption_key"
fi
chown "$BROKER_UID:$BROKER_UID" "$CREDS_DIR/role_id" "$CREDS_DIR/secret_id" "$CREDS_DIR/session_encryption_key"
chmod 0400 "$CREDS_DIR/role_id" "$CREDS_DIR/secret_id" "$CREDS_DIR/session_encryption_key"
umask 022

# -cas=0: written only if absent, so an admin's later rotation is never overwritten.
if vault kv get -mount="$KV_MOUNT" "$PATH_PREFIX/demo" >/dev/null 2>&1; then
  log "demo connection already present"
else
  log "seeding connection demo -> the simulator"
  vault kv put -mount="$KV_MOUNT" -cas=0 "$PATH_PREFIX/demo" "@$DEPLOY_DIR/demo-connection.json" >/dev/null
fi

log "done"
