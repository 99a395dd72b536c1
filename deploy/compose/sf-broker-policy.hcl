# What sf-broker may do in Vault: manage the connections under its own KV v2 prefix, nothing
# else. data/ holds each connection's versions; metadata/ lists connections, reads their version
# history and deletes a connection with all its versions.
# (Token self-lookup and renewal come with Vault's built-in "default" policy.)
path "secret/data/sf-broker/*" {
  capabilities = ["create", "read", "update", "delete", "list"]
}

path "secret/metadata/sf-broker/*" {
  capabilities = ["create", "read", "update", "delete", "list"]
}
