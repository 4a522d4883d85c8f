"""Cluster provisioning: kind or a reused cluster, manifests, readiness and port-forwards."""
