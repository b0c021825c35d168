// libsystemd's readiness protocol (sd_notify, sd_watchdog_enabled), from the
// system (Debian: libsystemd-dev). Without NOTIFY_SOCKET both are no-ops.
#include <systemd/sd-daemon.h>
