/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>

#include "bus-errors.h"

const sd_bus_error_map lxcbus_bus_error_map[] = {
        SD_BUS_ERROR_MAP(LXCBUS_ERROR_NO_SUCH_INSTANCE, ENOENT),
        SD_BUS_ERROR_MAP(LXCBUS_ERROR_INSTANCE_EXISTS, EEXIST),
        SD_BUS_ERROR_MAP(LXCBUS_ERROR_INVALID_NAME, EINVAL),
        SD_BUS_ERROR_MAP(LXCBUS_ERROR_INVALID_CONFIG, EINVAL),
        SD_BUS_ERROR_MAP(LXCBUS_ERROR_INVALID_STATE, EBADFD),
        SD_BUS_ERROR_MAP(LXCBUS_ERROR_BUSY, EBUSY),
        SD_BUS_ERROR_MAP(LXCBUS_ERROR_CONFLICT, ESTALE),
        SD_BUS_ERROR_MAP(LXCBUS_ERROR_LIMITS_EXCEEDED, EUSERS),
        SD_BUS_ERROR_MAP(LXCBUS_ERROR_CANCELLED, ECANCELED),
        SD_BUS_ERROR_MAP(LXCBUS_ERROR_TIMEOUT, ETIMEDOUT),
        SD_BUS_ERROR_MAP(LXCBUS_ERROR_NOT_SUPPORTED, EOPNOTSUPP),
        SD_BUS_ERROR_MAP(LXCBUS_ERROR_FAILED, EIO),
        SD_BUS_ERROR_MAP_END
};

int lxcbus_bus_errors_register(void) {
        static int registered = 0;
        int r;

        if (registered)
                return 0;
        r = sd_bus_error_add_map(lxcbus_bus_error_map);
        if (r < 0)
                return r;
        registered = 1;
        return 0;
}
