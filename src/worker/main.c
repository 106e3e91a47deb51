/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "worker.h"

int main(int argc, char *argv[]) {
        return worker_main(argc, argv);
}
