"""The stack tier: the packaged default stack, brought up by the plugin itself on plain
``pytest`` (a kind cluster: real kind with Docker, or localkube's kind stand-in that
``.ci/prepare`` puts on PATH), every service real, used through the real fixtures.

Here no image can be pulled: ``.ci/prepare`` builds a stand-in for each image the packaged
manifests name (``tests/images``) under that exact reference, so the stack runs unchanged. A
missing image fails the first test that needs it with the pod's diagnosis (ErrImagePull);
run ``.ci/prepare`` (or ``python tests/images/build.py``).
"""
