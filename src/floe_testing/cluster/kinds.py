"""The one map from a Kubernetes kind to its pykube class: the API server's own discovery
(``pykube.object_factory``, cached per client), so every kind it serves works the same way,
built-in or custom, whoever asks (apply, release, the in-cluster run's objects)."""

from __future__ import annotations

import pykube


def pykube_class(api: pykube.HTTPClient, api_version: str,
                 kind: str) -> type[pykube.objects.APIObject]:
    """The class of ``kind`` in ``api_version``; ``ValueError`` for a kind the server does not
    serve there (and the API's error for an unknown ``api_version``)."""
    cls: type[pykube.objects.APIObject] = pykube.object_factory(api, api_version, kind)
    return cls


def of_object(api: pykube.HTTPClient, obj: dict[str, object]) -> pykube.objects.APIObject:
    """A pykube object for the manifest-shaped ``obj``."""
    return pykube_class(api, str(obj["apiVersion"]), str(obj["kind"]))(api, obj)
