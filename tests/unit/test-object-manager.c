/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* bus_reply_managed_objects() (object-manager-dbus.c) against sd-bus's own GetManagedObjects(): the same
 * objects registered both ways on a direct connection, the two replies compared as sd-bus dumps them
 * (every value with its type, in order). Two prefixes, one with two interfaces of which one claims only
 * some objects; properties with and without getters, of every kind the daemon uses, hidden and
 * "explicit" ones left out. */
#include <poll.h>
#include <stdio.h>
#include <sys/socket.h>
#include <systemd/sd-bus.h>
#include <systemd/sd-id128.h>

#include "daemon-dbus.h"
#include "macro.h"
#include "object-manager-dbus.h"
#include "tests.h"
#include "util.h"

typedef struct Obj {
        char *path;
        char *name;
        char *optional;         /* NULL: "" */
        uint32_t u;
        bool b;
        int32_t i;
        uint64_t t;
        double d;
        char **strv;
        bool has_extra;         /* claimed by org.test.Extra too */
} Obj;

#define N_OBJ 5
static Obj objs[N_OBJ];

static Obj *find_obj(const char *path, const char *prefix) {
        for (size_t k = 0; k < N_OBJ; k++)
                if (streq(objs[k].path, path) && strncmp(path, prefix, strlen(prefix)) == 0)
                        return &objs[k];
        return NULL;
}

static int find_a(sd_bus *bus, const char *path, const char *interface, void *userdata, void **found,
                  sd_bus_error *error) {
        return (*found = find_obj(path, "/t/a/")) != NULL;
}

static int find_b(sd_bus *bus, const char *path, const char *interface, void *userdata, void **found,
                  sd_bus_error *error) {
        return (*found = find_obj(path, "/t/b/")) != NULL;
}

static int find_extra(sd_bus *bus, const char *path, const char *interface, void *userdata, void **found,
                      sd_bus_error *error) {
        Obj *o = find_obj(path, "/t/b/");

        if (!o || !o->has_extra)
                return 0;
        *found = o;
        return 1;
}

static int enumerate(const char *prefix, char ***ret) {
        char **l = NULL;

        for (size_t k = N_OBJ; k-- > 0;)
                if (strncmp(objs[k].path, prefix, strlen(prefix)) == 0)
                        ASSERT_OK(strv_extend(&l, objs[k].path));
        *ret = l;
        return 0;
}

static int enumerate_a(sd_bus *bus, const char *prefix, void *userdata, char ***ret, sd_bus_error *error) {
        return enumerate("/t/a/", ret);
}

static int enumerate_b(sd_bus *bus, const char *prefix, void *userdata, char ***ret, sd_bus_error *error) {
        return enumerate("/t/b/", ret);
}

static int get_map(sd_bus *bus, const char *path, const char *interface, const char *property,
                   sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Obj *o = userdata;
        return sd_bus_message_append(reply, "a{ss}", 2, "name", o->name, "path", o->path);
}

static int get_upper(sd_bus *bus, const char *path, const char *interface, const char *property,
                     sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        return sd_bus_message_append(reply, "s", *(char **) userdata);
}

static int set_nothing(sd_bus *bus, const char *path, const char *interface, const char *property,
                       sd_bus_message *value, void *userdata, sd_bus_error *error) {
        return 0;
}

#define P(name, sig, get, field, flags) SD_BUS_PROPERTY(name, sig, get, offsetof(Obj, field), flags)
static const sd_bus_vtable vtable_a[] = {
        SD_BUS_VTABLE_START(0),
        P("Name", "s", NULL, name, SD_BUS_VTABLE_PROPERTY_CONST),
        P("Optional", "s", NULL, optional, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        P("Path", "o", NULL, path, SD_BUS_VTABLE_PROPERTY_CONST),
        P("U", "u", NULL, u, 0),
        P("B", "b", bus_property_get_bool, b, SD_BUS_VTABLE_PROPERTY_EMITS_INVALIDATION),
        P("Hidden", "s", NULL, name, SD_BUS_VTABLE_HIDDEN),
        P("Explicit", "u", NULL, u, SD_BUS_VTABLE_PROPERTY_EXPLICIT),
        P("I", "i", NULL, i, 0),
        SD_BUS_METHOD("Nothing", NULL, NULL, NULL, 0),
        P("T", "t", NULL, t, 0),
        P("D", "d", NULL, d, 0),
        P("Strv", "as", NULL, strv, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("Map", "a{ss}", get_map, 0, 0),
        SD_BUS_WRITABLE_PROPERTY("Upper", "s", get_upper, set_nothing, offsetof(Obj, name), 0),
        SD_BUS_SIGNAL("Changed", "", 0),
        SD_BUS_VTABLE_END
};

static const sd_bus_vtable vtable_extra[] = {
        SD_BUS_VTABLE_START(0),
        P("T", "t", NULL, t, 0),
        P("Strv", "as", NULL, strv, 0),
        SD_BUS_VTABLE_END
};

static const sd_bus_vtable vtable_empty[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_METHOD("Nothing", NULL, NULL, NULL, 0),
        SD_BUS_VTABLE_END
};

/* Registered in this order, as daemon-dbus.c registers its kinds. */
static const BusObjectKind kinds[] = {
        { "/t/a", "org.test.A", vtable_a, find_a, enumerate_a },
        { "/t/b", "org.test.B", vtable_a, find_b, enumerate_b },
        { "/t/b", "org.test.Extra", vtable_extra, find_extra, NULL },
        { "/t/b", "org.test.Empty", vtable_empty, find_extra, NULL },
};

static int on_message(sd_bus_message *message, void *userdata, sd_bus_error *ret_error) {
        if (bus_is_get_managed_objects(message, "/t"))
                return bus_reply_managed_objects(message, kinds, ELEMENTSOF(kinds), NULL, ret_error);
        return 0;
}

static int on_reply(sd_bus_message *reply, void *userdata, sd_bus_error *ret_error) {
        char **dump = userdata;
        size_t size = 0;
        FILE *f = open_memstream(dump, &size);

        ASSERT_NOT_NULL(f);
        ASSERT_NULL(sd_bus_message_get_error(reply));
        ASSERT_OK(sd_bus_message_dump(reply, f, SD_BUS_MESSAGE_DUMP_SUBTREE_ONLY));
        ASSERT_EQ(fclose(f), 0);
        return 0;
}

/* GetManagedObjects() on /t from the client, answered by the server: the reply as sd-bus dumps it. */
static char *call(sd_bus *server, sd_bus *client) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        char *dump = NULL;

        ASSERT_OK(sd_bus_message_new_method_call(client, &m, NULL, "/t",
                                                 "org.freedesktop.DBus.ObjectManager", "GetManagedObjects"));
        ASSERT_OK(sd_bus_call_async(client, NULL, m, on_reply, &dump, 10 * 1000000ULL));
        for (int k = 0; !dump && k < 10000; k++) {
                struct pollfd p[2] = { { sd_bus_get_fd(server), POLLIN },
                                       { sd_bus_get_fd(client), POLLIN } };
                int a, b;

                ASSERT_OK(a = sd_bus_process(server, NULL));
                ASSERT_OK(b = sd_bus_process(client, NULL));
                if (a == 0 && b == 0 && !dump)
                        (void) poll(p, 2, 10);
        }
        ASSERT_NOT_NULL(dump);
        return dump;
}

static void make_objects(void) {
        static const char *paths[N_OBJ] = { "/t/a/one", "/t/b/x_2d1", "/t/a/two", "/t/b/y", "/t/b/z" };

        for (size_t k = 0; k < N_OBJ; k++) {
                char name[32];

                snprintf(name, sizeof name, "obj-%zu", k);
                objs[k] = (Obj) { .path = strdup(paths[k]), .name = strdup(name),
                                  .optional = k % 2 ? strdup("set") : NULL, .u = 7 * k, .b = k % 2,
                                  .i = -(int32_t) k, .t = UINT64_MAX - k, .d = k / 3.0,
                                  .has_extra = k != 3 };
                for (size_t j = 0; j < k; j++)
                        ASSERT_OK(strv_extend(&objs[k].strv, name));
        }
}

TEST(same_as_sd_bus) {
        _cleanup_free_ char *theirs = NULL, *ours = NULL;
        sd_bus *server = NULL, *client = NULL;
        sd_id128_t id;
        int sv[2];

        make_objects();
        ASSERT_OK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, sv));
        ASSERT_OK(sd_id128_randomize(&id));
        ASSERT_OK(sd_bus_new(&server));
        ASSERT_OK(sd_bus_set_fd(server, sv[0], sv[0]));
        ASSERT_OK(sd_bus_set_server(server, 1, id));
        ASSERT_OK(sd_bus_set_anonymous(server, 1));
        ASSERT_OK(sd_bus_start(server));
        ASSERT_OK(sd_bus_new(&client));
        ASSERT_OK(sd_bus_set_fd(client, sv[1], sv[1]));
        ASSERT_OK(sd_bus_set_anonymous(client, 1));
        ASSERT_OK(sd_bus_start(client));

        ASSERT_OK(sd_bus_add_object_manager(server, NULL, "/t"));
        for (size_t k = 0; k < ELEMENTSOF(kinds); k++) {
                ASSERT_OK(sd_bus_add_fallback_vtable(server, NULL, kinds[k].prefix, kinds[k].interface,
                                                     kinds[k].vtable, kinds[k].find, NULL));
                if (kinds[k].enumerate)
                        ASSERT_OK(sd_bus_add_node_enumerator(server, NULL, kinds[k].prefix,
                                                             kinds[k].enumerate, NULL));
        }

        theirs = call(server, client);
        ASSERT_OK(sd_bus_add_filter(server, NULL, on_message, NULL));
        ours = call(server, client);
        /* Every object is there, with its interfaces. */
        for (size_t k = 0; k < N_OBJ; k++)
                ASSERT_CONTAINS(ours, objs[k].path);
        ASSERT_CONTAINS(ours, "org.test.Extra");
        ASSERT_TRUE(!strstr(ours, "Hidden") && !strstr(ours, "Explicit"));
        ASSERT_STREQ(ours, theirs);

        sd_bus_flush_close_unref(client);
        sd_bus_flush_close_unref(server);
        for (size_t k = 0; k < N_OBJ; k++) {
                FREE_MANY(objs[k].path, objs[k].name, objs[k].optional);
                strv_free(objs[k].strv);
        }
}
