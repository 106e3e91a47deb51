/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <assert.h>
#include <errno.h>
#include <stdlib.h>

#include "limiter.h"
#include "util.h"

static struct LimiterUid *limiter_find(const Limiter *l, uid_t uid) {
        for (size_t k = 0; k < l->n_uids; k++)
                if (l->uids[k].uid == uid)
                        return l->uids + k;
        return NULL;
}

unsigned limiter_count(const Limiter *l, uid_t uid) {
        struct LimiterUid *u;

        assert(l);
        u = limiter_find(l, uid);
        return u ? u->n : 0;
}

LimiterRefusal limiter_check(const Limiter *l, uid_t uid) {
        assert(l);

        if (l->n >= l->max)
                return LIMITER_FULL;
        if (uid != 0 && l->n_users >= l->max - l->reserve)
                return LIMITER_USERS_FULL;
        if (limiter_count(l, uid) >= l->per_uid)
                return LIMITER_UID_FULL;
        return LIMITER_ALLOWED;
}

int limiter_take(Limiter *l, uid_t uid) {
        struct LimiterUid *u;

        assert(l);

        if (limiter_check(l, uid) != LIMITER_ALLOWED)
                return -EUSERS;
        u = limiter_find(l, uid);
        if (!u) {
                /* At most max uids hold a slot: the array never grows beyond that. */
                u = reallocarray(l->uids, l->n_uids + 1, sizeof(struct LimiterUid));
                if (!u)
                        return -ENOMEM;
                l->uids = u;
                u = l->uids + l->n_uids++;
                *u = (struct LimiterUid) { .uid = uid };
        }
        u->n++;
        l->n++;
        if (uid != 0)
                l->n_users++;
        return 0;
}

void limiter_put(Limiter *l, uid_t uid) {
        struct LimiterUid *u;

        assert(l);
        u = limiter_find(l, uid);
        assert(u && u->n > 0 && l->n > 0);
        l->n--;
        if (uid != 0)
                l->n_users--;
        if (--u->n == 0)
                *u = l->uids[--l->n_uids];
}

void limiter_done(Limiter *l) {
        assert(l);
        l->uids = mfree(l->uids);
        l->n_uids = 0;
}
