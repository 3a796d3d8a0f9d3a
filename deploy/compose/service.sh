#!/bin/sh
# Entry point of the nianbao services in the pilot (mounted at /usr/local/lib/nianbao/service.sh):
#   service.sh SERVICE [ARGS...]   starts nianbao-SERVICE with its broker and database URLs, which
#                                  carry passwords, composed from the files of the secrets volume
#   service.sh --ready PORT        healthcheck: GET /readyz on the metrics port answers 200
#   service.sh --listening PORT    healthcheck of the console (HTTPS only, no metrics port, and
#                                  no TLS client in the image): something accepts on PORT
set -eu
if [ "$1" = "--ready" ]; then
  exec bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$1" && printf "GET /readyz HTTP/1.0\r\n\r\n" >&3 && head -n 1 <&3 | grep -q " 200 "' _ "$2"
fi
if [ "$1" = "--listening" ]; then
  exec bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$1"' _ "$2"
fi
svc=$1; shift
if [ -f "/secrets/broker-users/$svc" ]; then
  NIANBAO_BUS__URL="amqps://nianbao-$svc:$(cat "/secrets/broker-users/$svc")@rabbitmq:5671/%2f"
  export NIANBAO_BUS__URL
fi
if [ -f "/secrets/db/$svc" ]; then
  NIANBAO_DATABASE_URL="postgres://nianbao_$svc:$(cat "/secrets/db/$svc")@postgres:5432/$svc?sslmode=verify-full&sslrootcert=/secrets/pki/ca.pem"
  export NIANBAO_DATABASE_URL
fi
exec "nianbao-$svc" "$@"
