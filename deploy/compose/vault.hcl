# Vault for the local compose stack: a real server (not -dev) with file storage, so secrets
# survive `docker compose down` and the broker meets a sealed Vault after a restart, as in
# production. TLS is off because traffic stays on the compose network and 127.0.0.1: DEMO ONLY.
storage "file" {
  path = "/vault/file"
}

listener "tcp" {
  address     = "0.0.0.0:8200"
  tls_disable = true
}

api_addr = "http://vault:8200"
ui       = true

# mlock needs IPC_LOCK; a local demo does not need to keep memory out of swap.
disable_mlock = true
