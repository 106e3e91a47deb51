/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

int worker_main(int argc, char *argv[]);

#include "worker-core.h"
