/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "worker-core.h"

int worker_main(int argc, char *argv[]);
