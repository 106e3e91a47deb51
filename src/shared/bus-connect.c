/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <assert.h>

#include "bus-connect.h"
#include "util.h"

int bus_open_client(const char *address, uint64_t creds, sd_bus **ret) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        int r;

        assert(ret);

        if (!address)
                return sd_bus_open_system(ret);

        r = sd_bus_new(&bus);
        if (r < 0)
                return r;
        r = sd_bus_set_address(bus, address);
        if (r < 0)
                return r;
        r = sd_bus_set_bus_client(bus, true);
        if (r < 0)
                return r;
        if (creds != 0)
                (void) sd_bus_negotiate_creds(bus, true, creds);
        r = sd_bus_start(bus);
        if (r < 0)
                return r;

        *ret = TAKE_PTR(bus);
        return 0;
}
