#!/bin/sh
# ryu-kovn's container entry point for the DaemonSet (deploy/speaker.yaml).
#
# It builds ryu-manager's --config-file list from the files that are there, in
# this order (oslo.config merges them; a later file wins for an option set twice):
#
#   1. $CONFIG_DIR/ryu_kovn.conf              the ConfigMap's shared file: required
#   2. $CONFIG_DIR/node-$NODE_NAME.conf       the ConfigMap's file for this node: optional
#   3. $SECRET_FILE                           the Secret's file (only auth_password): optional
#
# then replaces itself with `ryu-manager ryu_kovn.app --config-file ... "$@"`, so
# arguments given to the container (the DaemonSet's `args:`) come last and win.
#
# It prints paths, never the contents of a file: the Secret's password stays out of
# the pod's log.  The kube-ovn NAT-gateway sidecar does not use this script: kube-ovn
# runs /kube-ovn/kube-ovn-speaker with flags instead (see deploy/Dockerfile).
#
# Environment (the defaults are where deploy/speaker.yaml mounts things):
#   CONFIG_DIR   the ConfigMap's mount point            (default /etc/ryu_kovn)
#   SECRET_FILE  the Secret's config file               (default /run/secrets/ryu_kovn/auth.conf)
#   NODE_NAME    this node's name, from the downward API (unset: no per-node file)
set -eu

PROG=ryu-kovn-entrypoint
CONFIG_DIR=${CONFIG_DIR:-/etc/ryu_kovn}
SECRET_FILE=${SECRET_FILE:-/run/secrets/ryu_kovn/auth.conf}
NODE_NAME=${NODE_NAME:-}

die() {
    printf '%s: error: %s\n' "$PROG" "$*" >&2
    exit 2
}

say() {
    printf '%s: %s\n' "$PROG" "$*" >&2
}

# A file that is present must be usable: a directory or an unreadable file is a
# deployment mistake, reported here by name rather than as an oslo.config traceback.
check_file() {  # check_file PATH WHAT
    [ -f "$1" ] || die "$2 $1 exists but is not a regular file"
    [ -r "$1" ] || die "$2 $1 is not readable by uid $(id -u 2>/dev/null || echo '?') (check the volume's defaultMode and the pod's fsGroup)"
}

# The password belongs in the Secret; a ConfigMap is readable by whoever may read
# ConfigMaps in the namespace.  Warn without echoing the line.
warn_password() {  # warn_password PATH
    if grep -Eq '^[[:space:]]*auth_password[[:space:]]*=' "$1"; then
        say "warning: auth_password is set in $1, which comes from a ConfigMap; move it to the Secret (deploy/README.md)"
    fi
}

command -v ryu-manager >/dev/null 2>&1 || die "ryu-manager is not on PATH ($PATH)"

main_conf=$CONFIG_DIR/ryu_kovn.conf
[ -e "$main_conf" ] || die "$main_conf not found: mount the ConfigMap holding ryu_kovn.conf at $CONFIG_DIR (deploy/speaker.yaml), or set CONFIG_DIR"
check_file "$main_conf" "config file"
warn_password "$main_conf"

node_conf=
case $NODE_NAME in
    '')
        say "NODE_NAME is not set: no per-node config file is looked for" ;;
    */* | . | ..)
        die "NODE_NAME '$NODE_NAME' is not a Kubernetes node name" ;;
    *)
        node_conf=$CONFIG_DIR/node-$NODE_NAME.conf
        if [ -e "$node_conf" ]; then
            check_file "$node_conf" "per-node config file"
            warn_password "$node_conf"
        else
            node_conf=
        fi ;;
esac

secret_conf=
if [ -e "$SECRET_FILE" ]; then
    check_file "$SECRET_FILE" "secret config file"
    secret_conf=$SECRET_FILE
else
    say "no $SECRET_FILE: no auth_password from a Secret (sessions without TCP MD5 unless a config file sets it)"
fi

# POSIX sh has no arrays: prepend to "$@" in reverse order, which keeps every path
# one argument whatever it contains and leaves the container's own arguments last.
if [ -n "$secret_conf" ]; then
    set -- --config-file "$secret_conf" "$@"
fi
if [ -n "$node_conf" ]; then
    set -- --config-file "$node_conf" "$@"
fi
set -- ryu_kovn.app --config-file "$main_conf" "$@"

say "config files: $main_conf${node_conf:+ $node_conf}${secret_conf:+ $secret_conf}"
exec ryu-manager "$@"
