/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "macro.h"

/* An instance's network (config keys network.*), as the start worker renders it into lxc.net.0.*. */

/* The bridge of Debian's lxc-net (lxc package, /etc/default/lxc-net): docs/architecture.md "Network". */
#define NETWORK_BRIDGE_DEFAULT "lxcbr0"
#define NETWORK_MTU_MIN 68
#define NETWORK_MTU_MAX 65535
/* "xx:xx:xx:xx:xx:xx" and its NUL */
#define NETWORK_HWADDR_LEN 18

typedef enum NetworkMode {
        NETWORK_MODE_BRIDGE,
        NETWORK_MODE_NONE,
        NETWORK_MODE_MACVLAN,
        _NETWORK_MODE_MAX,
        _NETWORK_MODE_INVALID = -EINVAL,
} NetworkMode;

DECLARE_STRING_TABLE_LOOKUP(network_mode, NetworkMode);

/* A Linux interface name as the kernel's dev_valid_name() takes it: 1..15 bytes, not "." or "..", no
 * '/', ':' or white space; we also refuse anything but printable ASCII. */
bool ifname_is_valid(const char *s);
/* "xx:xx:xx:xx:xx:xx" in hex, unicast (bit 0 of the first octet clear), not all zero. */
bool hwaddr_is_valid(const char *s);
/* The address of an instance without network.hwaddr: 00:16:3e:xx:xx:xx (LXC's prefix), xx from seed, the
 * instance's creation time in µs (new for every instance, a copy and an import included; the same at
 * every start). */
void hwaddr_derive(uint64_t seed, char ret[static NETWORK_HWADDR_LEN]);

/* What the start worker needs: type is the lxc.net.0.type ("veth", "macvlan", "empty"); link and
 * hwaddr are NULL where they do not apply; mtu 0 leaves the kernel's. Pointers into the config. */
typedef struct NetworkSettings {
        const char *type;
        const char *link;
        const char *hwaddr;
        unsigned mtu;
} NetworkSettings;

/* The settings of a config whose keys each passed config_validate(); -EINVAL and a message naming the key
 * where they do not fit together (macvlan without network.parent). */
int network_settings_from_config(const ConfigMap *config, NetworkSettings *ret, char **ret_message);

/* Whether the link of s is on the host: -ENODEV if not, -ENOTDIR if a veth's link is no bridge. */
int network_link_check(const NetworkSettings *s);
