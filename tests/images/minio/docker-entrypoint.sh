#!/bin/sh
# The MinIO image's entrypoint contract: arguments that do not start with "minio" are
# arguments of minio (the manifests pass ["server", "/data", ...]).
if [ "${1}" != "minio" ] && [ -n "${1}" ]; then
    set -- minio "$@"
fi
exec "$@"
