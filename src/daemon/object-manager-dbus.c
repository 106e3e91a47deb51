/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* GetManagedObjects() of org.freedesktop.DBus.ObjectManager, answered from the vtables themselves
 * (object-manager-dbus.h).
 *
 * sd-bus's own answer (bus-objects.c) is correct but, for every path, looks up every prefix of it in its
 * node table, puts every path in a set first, and appends each value through a format string: with 1000
 * instances that walk, not the values, was most of the daemon's 12 ms per call. This builds the same
 * message in one pass, in sd-bus's order:
 *
 *   - the children of the manager's node are the prefixes, newest first (sd-bus prepends nodes), each
 *     followed by what its enumerator lists (one enumerator per prefix);
 *   - a path is an object when a find callback of its prefix claims it; it lists
 *     org.freedesktop.DBus.Peer, .Introspectable and .Properties with no properties, then each interface
 *     of its prefix that claims it, newest registration first (sd-bus prepends a vtable with a new
 *     interface), with every property that is neither hidden nor "explicit", in vtable order;
 *   - a property with no getter is read from the object at its offset as sd-bus does: a string (or
 *     signature) NULL is "", "as" is a strv, any other basic type its bytes.
 *
 * tests/unit/test-object-manager.c compares the result with sd-bus's own, value for value. */
#include <assert.h>
#include <errno.h>
#include <stdint.h>

#include "bus-options.h"
#include "daemon-dbus.h"
#include "macro.h"
#include "object-manager-dbus.h"
#include "util.h"

#define OBJECT_MANAGER_INTERFACE "org.freedesktop.DBus.ObjectManager"

bool bus_is_get_managed_objects(sd_bus_message *message, const char *path) {
        assert(message);
        assert(path);

        return sd_bus_message_is_method_call(message, OBJECT_MANAGER_INTERFACE, "GetManagedObjects") > 0 &&
               streq_ptr(sd_bus_message_get_path(message), path) &&
               sd_bus_message_has_signature(message, "") > 0;
}

static int append_property(sd_bus_message *reply, const char *path, const char *interface,
                           const sd_bus_vtable *v, void *object, sd_bus_error *error) {
        const char *sig = v->x.property.signature;
        void *p = (uint8_t *) object + v->x.property.offset;
        int r;

        r = bus_open_keyed_variant(reply, 'e', v->x.property.member, sig);
        if (r < 0)
                return r;
        if (v->x.property.get) {
                r = v->x.property.get(sd_bus_message_get_bus(reply), path, interface, v->x.property.member,
                                      reply, p, error);
                if (r >= 0 && sd_bus_error_is_set(error))
                        r = -sd_bus_error_get_errno(error);
        } else if (streq(sig, "as"))
                r = sd_bus_message_append_strv(reply, *(char ***) p);
        else {
                assert(sig[0] && !sig[1]);
                if (IN_SET(sig[0], 's', 'g'))
                        p = (void *) strempty(*(char **) p);
                else if (sig[0] == 'o')
                        p = *(char **) p;
                r = sd_bus_message_append_basic(reply, sig[0], p);
        }
        return r < 0 ? r : bus_close_containers(reply, 2);
}

/* Opens an interface's entry of an object, {sa{sv}}, ready for its properties; two containers to close. */
static int open_interface(sd_bus_message *reply, const char *interface) {
        int r;

        r = sd_bus_message_open_container(reply, 'e', "sa{sv}");
        if (r >= 0)
                r = sd_bus_message_append_basic(reply, 's', interface);
        return r < 0 ? r : sd_bus_message_open_container(reply, 'a', "{sv}");
}

static int append_interface(sd_bus_message *reply, const char *path, const BusObjectKind *kind, void *object,
                            sd_bus_error *error) {
        int r;

        r = open_interface(reply, kind->interface);
        if (r < 0)
                return r;
        /* Our vtables are of this build's sd_bus_vtable, so plain indexing walks them. */
        for (const sd_bus_vtable *v = kind->vtable + 1; v->type != _SD_BUS_VTABLE_END; v++) {
                if (!IN_SET((int) v->type, _SD_BUS_VTABLE_PROPERTY, _SD_BUS_VTABLE_WRITABLE_PROPERTY) ||
                    (v->flags & (SD_BUS_VTABLE_HIDDEN | SD_BUS_VTABLE_PROPERTY_EXPLICIT)))
                        continue;
                r = append_property(reply, path, kind->interface, v, object, error);
                if (r < 0)
                        return r;
        }
        return bus_close_containers(reply, 2);
}

/* The object at path, if a kind of its prefix claims it: returns 1 when appended, 0 when nothing claims
 * it. */
static int append_object(sd_bus_message *reply, const char *path, const BusObjectKind *kinds, size_t n_kinds,
                         const char *prefix, void *userdata, sd_bus_error *error) {
        sd_bus *bus = sd_bus_message_get_bus(reply);
        bool opened = false;
        int r;

        for (size_t k = n_kinds; k-- > 0;) {
                void *object = userdata;

                if (!streq(kinds[k].prefix, prefix))
                        continue;
                if (kinds[k].find) {
                        r = kinds[k].find(bus, path, kinds[k].interface, userdata, &object, error);
                        if (r < 0)
                                return r;
                        if (sd_bus_error_is_set(error))
                                return -sd_bus_error_get_errno(error);
                        if (r == 0)
                                continue;
                }
                if (!opened) {
                        r = sd_bus_message_open_container(reply, 'e', "oa{sa{sv}}");
                        if (r >= 0)
                                r = sd_bus_message_append_basic(reply, 'o', path);
                        if (r >= 0)
                                r = sd_bus_message_open_container(reply, 'a', "{sa{sv}}");
                        /* Without a format string to parse: three times per object. */
                        FOREACH_STRING(standard, "org.freedesktop.DBus.Peer",
                                       "org.freedesktop.DBus.Introspectable", "org.freedesktop.DBus.Properties") {
                                if (r >= 0)
                                        r = open_interface(reply, standard);
                                if (r >= 0)
                                        r = bus_close_containers(reply, 2);
                        }
                        if (r < 0)
                                return r;
                        opened = true;
                }
                r = append_interface(reply, path, &kinds[k], object, error);
                if (r < 0)
                        return r;
        }
        if (!opened)
                return 0;
        r = bus_close_containers(reply, 2);
        return r < 0 ? r : 1;
}

/* Whether kinds[k] is the first of its prefix (the one that made sd-bus's node). */
static bool first_of_prefix(const BusObjectKind *kinds, size_t k) {
        for (size_t j = 0; j < k; j++)
                if (streq(kinds[j].prefix, kinds[k].prefix))
                        return false;
        return true;
}

static int append_objects(sd_bus_message *reply, const BusObjectKind *kinds, size_t n_kinds, void *userdata,
                          sd_bus_error *error) {
        sd_bus *bus = sd_bus_message_get_bus(reply);
        int r;

        for (size_t k = n_kinds; k-- > 0;) {
                _cleanup_strv_free_ char **paths = NULL;

                if (!first_of_prefix(kinds, k))
                        continue;
                /* The enumerator of this prefix (one per prefix: no two lists to merge). */
                for (size_t e = 0; e < n_kinds && !paths; e++)
                        if (kinds[e].enumerate && streq(kinds[e].prefix, kinds[k].prefix)) {
                                r = kinds[e].enumerate(bus, kinds[k].prefix, userdata, &paths, error);
                                if (r < 0)
                                        return r;
                                if (sd_bus_error_is_set(error))
                                        return -sd_bus_error_get_errno(error);
                        }
                STRV_FOREACH(p, paths) {
                        r = append_object(reply, *p, kinds, n_kinds, kinds[k].prefix, userdata, error);
                        if (r < 0)
                                return r;
                }
        }
        return 0;
}

typedef struct Fill {
        const BusObjectKind *kinds;
        size_t n_kinds;
        void *userdata;
        sd_bus_error *error;
} Fill;

static int fill_managed_objects(sd_bus_message *reply, void *userdata) {
        Fill *f = userdata;
        int r;

        r = sd_bus_message_open_container(reply, 'a', "{oa{sa{sv}}}");
        if (r >= 0)
                r = append_objects(reply, f->kinds, f->n_kinds, f->userdata, f->error);
        return r < 0 ? r : sd_bus_message_close_container(reply);
}

int bus_reply_managed_objects(sd_bus_message *message, const BusObjectKind *kinds, size_t n_kinds,
                              void *userdata, sd_bus_error *error) {
        assert(message);
        assert(kinds);

        int r = bus_reply_filled(message, fill_managed_objects,
                                 &(Fill) { kinds, n_kinds, userdata, error });
        return r < 0 ? r : 1;
}
