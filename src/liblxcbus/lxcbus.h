/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The one header of liblxcbus: the generated proxies (LxcbusManager, LxcbusInstance, LxcbusOperation,
 * LxcbusProcess, LxcbusObject, LxcbusObjectManagerClient) and LxcbusClient. */

#include "lxcbus-generated.h"
#include "lxcbus-client.h"
