#!/bin/sh
# Run a command inside a private D-Bus session with an unlocked gnome-keyring: the real Secret Service that the
# agent and keychain tests use. Used by `npm test`; .ci/run installs dbus-x11, gnome-keyring and libsecret-tools.
set -eu
if command -v dbus-run-session >/dev/null 2>&1 && command -v gnome-keyring-daemon >/dev/null 2>&1; then
    # The daemon keeps its keyrings in a throw-away folder: tests never touch the user's own login keyring.
    KSOPS_TEST_KEYRING_DIR=$(mktemp -d)
    export KSOPS_TEST_KEYRING_DIR
    trap 'rm -rf "$KSOPS_TEST_KEYRING_DIR"' EXIT
    dbus-run-session -- sh -c 'printf %s "kubectl-sops-tests" | XDG_DATA_HOME="$KSOPS_TEST_KEYRING_DIR" gnome-keyring-daemon --unlock --components=secrets >/dev/null; exec "$0" "$@"' "$@"
    exit $?
fi
if [ "${CI:-}" = "true" ]; then
    echo "with-keyring: dbus-run-session and gnome-keyring-daemon are required in CI" >&2
    exit 1
fi
echo "with-keyring: no dbus-run-session/gnome-keyring-daemon here; the Secret Service tests will fail" >&2
echo "with-keyring: hint: apt-get install -y --no-install-recommends gnome-keyring dbus-x11 libsecret-tools" >&2
exec "$@"
