"""wirework as a CNI plugin (front layer): the CNI protocol in, the `Wirework` facade out.

- `env`: the CNI_* variables of one invocation, validated;
- `config`: the plugin configuration on stdin, validated into a `NetConf`;
- `versions`: the spec versions spoken and which command needs which;
- `result`: ADD/VERSION results and error JSON, per version;
- `handler`: `handle(env, stdin) -> (exit status, stdout)`, the one entry point;
- `install`: the `wirework` launcher that runtimes find in CNI_PATH.

The attachments themselves are made by `wirework.networks.cniops` through `Wirework.cni`.
"""
