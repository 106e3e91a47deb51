/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "macro.h"
#include "network.h"

static const char *const network_mode_table[_NETWORK_MODE_MAX] = {
        [NETWORK_MODE_BRIDGE] = "bridge",
        [NETWORK_MODE_NONE] = "none",
        [NETWORK_MODE_MACVLAN] = "macvlan",
};

DEFINE_STRING_TABLE_LOOKUP(network_mode, NetworkMode, network_mode_table, _NETWORK_MODE_MAX, _NETWORK_MODE_INVALID);

bool ifname_is_valid(const char *s) {
        size_t n;

        if (isempty(s) || streq(s, ".") || streq(s, ".."))
                return false;
        n = strlen(s);
        if (n >= 16)   /* IFNAMSIZ with its NUL */
                return false;
        for (; *s; s++)
                if ((unsigned char) *s <= ' ' || (unsigned char) *s >= 0x7f || *s == '/' || *s == ':')
                        return false;
        return true;
}

static int hexval(char c) {
        if (c >= '0' && c <= '9')
                return c - '0';
        if (c >= 'a' && c <= 'f')
                return c - 'a' + 10;
        if (c >= 'A' && c <= 'F')
                return c - 'A' + 10;
        return -1;
}

bool hwaddr_is_valid(const char *s) {
        unsigned any = 0;

        if (!s || strlen(s) != NETWORK_HWADDR_LEN - 1)
                return false;
        for (size_t k = 0; k < 6; k++) {
                int hi = hexval(s[3 * k]), lo = hexval(s[3 * k + 1]);

                if (hi < 0 || lo < 0 || (k < 5 && s[3 * k + 2] != ':'))
                        return false;
                if (k == 0 && (lo & 1))   /* multicast */
                        return false;
                any |= (unsigned) (hi | lo);
        }
        return any != 0;
}

void hwaddr_derive(uint64_t seed, char ret[static NETWORK_HWADDR_LEN]) {
        /* splitmix64's finalizer: neighbouring creation times give unrelated addresses. */
        seed += UINT64_C(0x9e3779b97f4a7c15);
        seed = (seed ^ (seed >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
        seed = (seed ^ (seed >> 27)) * UINT64_C(0x94d049bb133111eb);
        seed ^= seed >> 31;
        snprintf(ret, NETWORK_HWADDR_LEN, "00:16:3e:%02x:%02x:%02x", (unsigned) (seed >> 16) & 0xff,
                 (unsigned) (seed >> 8) & 0xff, (unsigned) seed & 0xff);
}

int network_settings_from_config(const ConfigMap *config, NetworkSettings *ret, char **ret_message) {
        const char *mode_s = config_map_get(config, "network.mode"), *mtu_s = config_map_get(config, "network.mtu");
        NetworkMode mode = mode_s ? network_mode_from_string(mode_s) : NETWORK_MODE_BRIDGE;
        NetworkSettings s = {};
        long mtu = 0;

        assert(config);
        assert(ret);

        if (mode < 0 || (mtu_s && config_parse_int(mtu_s, NETWORK_MTU_MIN, NETWORK_MTU_MAX, &mtu) < 0)) {
                if (ret_message)
                        *ret_message = strdup(mode < 0 ? "Invalid config key 'network.mode'."
                                                       : "Invalid config key 'network.mtu'.");
                return -EINVAL;
        }
        switch (mode) {
        case NETWORK_MODE_NONE:
                s.type = "empty";
                break;
        case NETWORK_MODE_MACVLAN:
                s.type = "macvlan";
                s.link = config_map_get(config, "network.parent");
                if (!s.link) {
                        if (ret_message)
                                *ret_message = strdup("Config key 'network.parent' is needed with network.mode=macvlan.");
                        return -EINVAL;
                }
                break;
        default:
                s.type = "veth";
                s.link = config_map_get(config, "network.bridge") ?: NETWORK_BRIDGE_DEFAULT;
        }
        if (mode != NETWORK_MODE_NONE) {
                s.hwaddr = config_map_get(config, "network.hwaddr");
                s.mtu = (unsigned) mtu;
        }
        *ret = s;
        return 0;
}

int network_link_check(const NetworkSettings *s) {
        char path[64];

        assert(s);

        if (!s->link)
                return 0;
        snprintf(path, sizeof path, "/sys/class/net/%s", s->link);   /* ifname_is_valid: no '/', short */
        if (access(path, F_OK) < 0)
                return -ENODEV;
        if (streq(s->type, "veth")) {
                snprintf(path, sizeof path, "/sys/class/net/%s/bridge", s->link);
                if (access(path, F_OK) < 0)
                        return -ENOTDIR;
        }
        return 0;
}
