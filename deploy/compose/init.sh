#!/bin/sh
# The pilot's one-shot set-up (compose service `init`, run as root once before everything else):
# makes, on the `secrets` volume and only where missing (a second run changes nothing):
#   pki/            a local CA and one certificate for every name the services, the console,
#                   the broker and the database answer to on the compose network (and
#                   $NIANBAO_PUBLIC_HOSTS, the names the clerks' browsers use for the console)
#   tokens/         the extraction, crawler and operator credentials' tokens
#   credentials.toml  their hashes, read by ingest, validation and notification
#   broker-users/   one broker password per service, broker-definitions.json (their users)
#   broker-admin    the broker administrator's password; rabbitmq/ the broker's config and key
#   db/             one database password per service; postgres/ the database's copies
# and gives each file to the user that reads it: 10001 (the nianbao image), 999 (the rabbitmq
# and postgres images), 100 (the curl image).
set -eu
umask 077
S=/secrets
cd "$S"
mkdir -p pki tokens broker-users db rabbitmq/conf.d postgres curl

rand() { od -An -N24 -tx1 /dev/urandom | tr -d ' \n'; }

if [ ! -f pki/server.pem ]; then
  set --
  for h in ingest extraction validation notification console rabbitmq postgres localhost 127.0.0.1 ${NIANBAO_PUBLIC_HOSTS:-}; do
    set -- "$@" --host "$h"
  done
  nianbao certs init --dir pki "$@"
fi
issue() {  # name args...
  f=tokens/$1; shift
  if [ ! -s "$f" ]; then
    nianbao credentials issue --file credentials.toml "$@" | tail -n 1 >"$f"
  fi
}
issue extraction --role extraction --name extraction
issue crawler --role crawler --name 专栏采集
issue operator --role operator --name 试点运维
nianbao broker definitions --vhost / --secrets broker-users --out broker-definitions.json >/dev/null
[ -s broker-admin ] || rand >broker-admin
for s in ingest validation notification crawler; do
  [ -s "db/$s" ] || rand >"db/$s"
done
[ -s db/postgres ] || rand >db/postgres

# The broker: TLS only (5671; management 15671), its administrator, nianbao's limits.
cp pki/ca.pem pki/server.pem pki/server-key.pem rabbitmq/
cat >rabbitmq/conf.d/90-nianbao.conf <<CONF
listeners.tcp = none
listeners.ssl.default = 5671
ssl_options.cacertfile = /secrets/rabbitmq/ca.pem
ssl_options.certfile = /secrets/rabbitmq/server.pem
ssl_options.keyfile = /secrets/rabbitmq/server-key.pem
ssl_options.verify = verify_none
management.ssl.port = 15671
management.ssl.cacertfile = /secrets/rabbitmq/ca.pem
management.ssl.certfile = /secrets/rabbitmq/server.pem
management.ssl.keyfile = /secrets/rabbitmq/server-key.pem
default_user = admin
default_pass = $(cat broker-admin)
loopback_users = none
max_message_size = 134217728
CONF
# The management API's credential for the curl image (a config file: no password in argv).
printf 'user = "admin:%s"\n' "$(cat broker-admin)" >curl/admin.curlrc

# The database: TLS with the same certificate, its superuser, the services' passwords.
cp pki/server.pem pki/server-key.pem postgres/
for s in ingest validation notification crawler postgres; do cp "db/$s" "postgres/$s"; done

chown -R 10001:10001 pki tokens credentials.toml broker-users broker-definitions.json broker-admin db
chown -R 999:999 rabbitmq postgres
chown -R 100:101 curl
# The volume's top folder and the credentials' lock file too: `nianbao credentials issue` (the
# cli service, uid 10001) takes credentials.toml.lock, writes credentials.tmp beside the file and
# renames it into place. The services mount the volume read-only.
chown 10001:10001 "$S"
[ ! -e credentials.toml.lock ] || chown 10001:10001 credentials.toml.lock
chmod 0755 "$S" rabbitmq rabbitmq/conf.d postgres curl pki
chmod 0644 pki/ca.pem pki/server.pem rabbitmq/conf.d/90-nianbao.conf
echo "init: secrets ready in the volume (operator token: tokens/operator, CA: pki/ca.pem)"
