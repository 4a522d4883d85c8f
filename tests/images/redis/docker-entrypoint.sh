#!/bin/sh
# The official redis image's entrypoint contract (docker-library/redis): arguments that start
# with '-' (or a *.conf file) are redis-server's.
set -e
if [ "${1#-}" != "$1" ] || [ "${1%.conf}" != "$1" ]; then
  set -- redis-server "$@"
fi
exec "$@"
