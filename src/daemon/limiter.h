/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <sys/types.h>

#include "forward.h"

/* A resource callers share: at most max in all, of which the last reserve only root may take, and
 * per_uid for any one uid (root included). The daemon's own work takes no slot: it is bounded by the
 * number of instances (one lock each). */
struct Limiter {
        const char *what;           /* "operations running", for the error message */
        unsigned max, reserve, per_uid;
        unsigned n, n_users;        /* taken, and of those by uids other than root */
        struct LimiterUid {
                uid_t uid;
                unsigned n;
        } *uids;
        size_t n_uids;
};

/* Which bound refuses uid a slot, checked in this order. */
typedef enum LimiterRefusal {
        LIMITER_ALLOWED,
        LIMITER_FULL,               /* max taken in all */
        LIMITER_USERS_FULL,         /* all but the root reserve taken by users */
        LIMITER_UID_FULL,           /* per_uid taken by uid */
} LimiterRefusal;

LimiterRefusal limiter_check(const Limiter *l, uid_t uid);
/* 0 and a slot; -EUSERS when limiter_check() refuses; -ENOMEM. */
int limiter_take(Limiter *l, uid_t uid);
void limiter_put(Limiter *l, uid_t uid);
unsigned limiter_count(const Limiter *l, uid_t uid);
void limiter_done(Limiter *l);
