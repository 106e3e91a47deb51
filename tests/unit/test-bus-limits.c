/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The worst case of every message lxcbusd sends because of a request, built from the bounds of
 * bus-limits.h and measured on the wire: each must stay well below dbus-daemon's limits, and each worker
 * request must fit one packet. */
#include <limits.h>
#include <pthread.h>
#include <sys/socket.h>
#include <systemd/sd-bus.h>

#include "auth-details.h"
#include "bus-errors.h"
#include "bus-limits.h"
#include "bus-options.h"
#include "config.h"
#include "manager.h"
#include "macro.h"
#include "metadata.h"
#include "metrics.h"
#include "names.h"
#include "tests.h"
#include "util.h"
#include "worker-proto.h"

/* What a paranoid reader allows polkit's CheckAuthorization (brief: details stay < 1.1 MiB). */
#define POLKIT_QUERY_BUDGET (1100U * 1024)

/* ---------------------------------------------------------------- measuring on the wire */

typedef struct Reader {
        int fd;
        size_t n;
        char head[512];
        size_t head_n;
} Reader;

static void *reader_run(void *p) {
        Reader *r = p;
        char buf[65536];
        ssize_t k;

        while ((k = read(r->fd, buf, sizeof buf)) > 0) {
                if (r->head_n < sizeof r->head) {
                        size_t c = MIN((size_t) k, sizeof r->head - r->head_n);
                        memcpy(r->head + r->head_n, buf, c);
                        r->head_n += c;
                }
                r->n += (size_t) k;
        }
        return NULL;
}

typedef void (*build_t)(sd_bus *bus, sd_bus_message **ret, const void *userdata);

/* A direct (peer-to-peer) sd-bus connection on a socketpair whose far end answered the SASL
 * handshake in advance (sd-bus pipelines AUTH EXTERNAL, DATA, NEGOTIATE_UNIX_FD and BEGIN); after BEGIN, every byte
 * the far end reads is the message. */
static size_t wire_size(build_t build, const void *userdata) {
        static const char answer[] = "DATA\r\nOK 0123456789abcdef0123456789abcdef\r\nAGREE_UNIX_FD\r\n";
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        sd_bus *bus = NULL;
        Reader reader = {};
        pthread_t thread;
        int sv[2];

        ASSERT_OK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv));
        ASSERT_EQ(write(sv[1], answer, strlen(answer)), (ssize_t) strlen(answer));
        ASSERT_OK(sd_bus_new(&bus));
        ASSERT_OK(sd_bus_set_fd(bus, sv[0], sv[0]));
        ASSERT_OK(sd_bus_start(bus));
        build(bus, &m, userdata);
        reader.fd = sv[1];
        ASSERT_EQ(pthread_create(&thread, NULL, reader_run, &reader), 0);
        ASSERT_OK(sd_bus_send(bus, m, NULL));
        ASSERT_OK(sd_bus_flush(bus));
        sd_bus_flush_close_unref(bus);
        ASSERT_EQ(pthread_join(thread, NULL), 0);
        close(sv[1]);

        const char *begin = memmem(reader.head, reader.head_n, "BEGIN\r\n", 7);
        ASSERT_NOT_NULL(begin);
        size_t auth = (size_t) (begin - reader.head) + 7;
        ASSERT_TRUE(reader.n > auth);
        return reader.n - auth;
}

/* A sealed call to answer, as the daemon answers one. */
static sd_bus_message *new_call(sd_bus *bus, const char *member) {
        sd_bus_message *call = NULL;

        ASSERT_OK(sd_bus_message_new_method_call(bus, &call, "org.lxcbus1", "/org/lxcbus1", "org.lxcbus1.Manager",
                                                 member));
        ASSERT_OK(sd_bus_message_seal(call, 1, 0));
        return call;
}

/* Strings used inline in appends, freed at exit. */
static char *pool[64];
static size_t pool_n;

__attribute__((destructor)) static void pool_free(void) {
        for (size_t k = 0; k < pool_n; k++)
                free(pool[k]);
}

static char *filled(size_t n, char c);

static const char *tmp(size_t n, char c) {
        for (size_t k = 0; k < pool_n; k++)
                if (strlen(pool[k]) == n && (n == 0 || pool[k][0] == c))
                        return pool[k];
        ASSERT_TRUE(pool_n < ELEMENTSOF(pool));
        return pool[pool_n++] = filled(n, c);
}

static char *filled(size_t n, char c) {
        char *s = malloc(n + 1);
        ASSERT_NOT_NULL(s);
        memset(s, c, n);
        s[n] = 0;
        return s;
}

/* The longest instance name (63) whose object path label is longest: every '-' is escaped as _2d. */
static const char *worst_name(void) {
        static char name[64];
        name[0] = 'a';
        memset(name + 1, '-', 61);
        name[62] = 'a';
        name[63] = 0;
        return name;
}

static char *worst_instance_path(void) {
        char *p = NULL;
        ASSERT_OK(sd_bus_path_encode(LXCBUS_INSTANCE_PREFIX, worst_name(), &p));
        return p;
}

/* A config at LXCBUS_CONFIG_TOTAL_MAX with the most entries (each costs a dict entry on the bus) and
 * the longest description (which Description repeats). control: fill values with characters that take
 * 6 bytes in JSON (worst for the metadata), else with plain ones (worst raw bytes on the bus). */
static void worst_config(ConfigMap *c, bool control) {
        size_t used = 0;
        char key[32];

        _cleanup_free_ char *desc = filled(CONFIG_DESCRIPTION_MAX, 'd');
        ASSERT_OK(config_map_set(c, "description", desc));
        used += config_map_stored_size(c);
        for (unsigned k = 0; k < CONFIG_KEYS_MAX - 1; k++) {
                snprintf(key, sizeof key, "user.k%03u", k);
                used += strlen(key);
                ASSERT_OK(config_map_set(c, key, ""));
        }
        ASSERT_ERROR(config_map_set(c, "user.one-too-many", "x"), E2BIG);
        /* Spread what is left over the values. */
        size_t left = LXCBUS_CONFIG_TOTAL_MAX - used, per = left / (CONFIG_KEYS_MAX - 1);
        for (unsigned k = 0; k < CONFIG_KEYS_MAX - 1; k++) {
                _cleanup_free_ char *v = control ? filled(per / 6, '\x01') : filled(per, 'v');
                snprintf(key, sizeof key, "user.k%03u", k);
                ASSERT_OK(config_map_set(c, key, v));
        }
        ASSERT_TRUE(config_map_stored_size(c) <= LXCBUS_CONFIG_TOTAL_MAX);
        ASSERT_TRUE(config_map_stored_size(c) > LXCBUS_CONFIG_TOTAL_MAX - CONFIG_KEYS_MAX * 6);
}

/* ---------------------------------------------------------------- the bound itself */

TEST(stored_size_is_json_size) {
        /* config_string_stored_size() must never be below what json-glib writes. */
        _cleanup_(instance_metadata_done) InstanceMetadata a = {}, b = {};
        _cleanup_free_ char *ja = NULL, *jb = NULL;
        char v[256];
        size_t n = 0;

        for (int ch = 1; ch < 128; ch++)
                v[n++] = (char) ch;
        n += (size_t) sprintf(v + n, "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80");     /* é € 😀 */
        a.name = strdup("a");
        b.name = strdup("a");
        ASSERT_OK(config_map_set(&a.config, "user.x", ""));
        ASSERT_OK(config_map_set(&b.config, "user.x", v));
        ASSERT_OK(instance_metadata_to_json(&a, &ja));
        ASSERT_OK(instance_metadata_to_json(&b, &jb));
        printf("  value of %zu bytes: %zu in JSON, counted %zu\n", n, strlen(jb) - strlen(ja),
               config_string_stored_size(v));
        ASSERT_TRUE(strlen(jb) - strlen(ja) <= config_string_stored_size(v));
}

TEST(arguments_size) {
        sd_bus *bus = NULL;
        sd_bus_message *m = NULL;
        int sv[2];
        size_t n;

        ASSERT_OK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv));
        ASSERT_OK(sd_bus_new(&bus));
        ASSERT_OK(sd_bus_set_fd(bus, sv[0], sv[0]));
        ASSERT_OK(sd_bus_start(bus));
        _cleanup_free_ char *big = filled(LXCBUS_REQUEST_MAX, '\'');

        ASSERT_OK(sd_bus_message_new_method_call(bus, &m, "org.lxcbus1", "/", "org.lxcbus1.Instance", "Exec"));
        ASSERT_OK(sd_bus_message_append(m, "asa{ss}", 2, "ab", "c", 1, "K", "V"));
        ASSERT_OK(sd_bus_message_append(m, "a{sv}", 1, "uid", "u", 5));
        ASSERT_OK(sd_bus_message_append_array(m, 'y', big, 1000));
        ASSERT_OK(sd_bus_message_seal(m, 1, 0));
        ASSERT_OK(bus_message_arguments_size(m, LXCBUS_REQUEST_MAX, &n));
        /* as: 4 + 7 + 6; a{ss}: 4 + 6 + 6; a{sv}: 4 + 8 + 3 (variant "u") + 4; ay: 4 + 1000 */
        ASSERT_EQ_U(n, 17 + 16 + 19 + 1004);
        /* Rewound: a handler reads it from the start. */
        char **argv = NULL;
        ASSERT_OK(sd_bus_message_read_strv(m, &argv));
        ASSERT_STREQ(argv[0], "ab");
        strv_free(argv);
        m = sd_bus_message_unref(m);

        ASSERT_OK(sd_bus_message_new_method_call(bus, &m, "org.lxcbus1", "/", "org.lxcbus1.Instance", "Exec"));
        ASSERT_OK(sd_bus_message_append(m, "as", 2, big, big));
        ASSERT_OK(sd_bus_message_seal(m, 1, 0));
        ASSERT_OK(bus_message_arguments_size(m, LXCBUS_REQUEST_MAX, &n));
        ASSERT_TRUE(n > LXCBUS_REQUEST_MAX);
        m = sd_bus_message_unref(m);
        sd_bus_close_unref(bus);
        close(sv[1]);
}

TEST(utf8_truncate) {
        char s[] = "ab\xc3\xa9";
        utf8_truncate(s, 3);
        ASSERT_STREQ(s, "ab");
        char t[] = "abc";
        utf8_truncate(t, 3);
        ASSERT_STREQ(t, "abc");
}

/* ---------------------------------------------------------------- polkit */

/* polkit's CheckAuthorization as the daemon sends it, with the longest subject and cancellation id:
 * polkit_query_begin() up to the details (an open a{ss}), polkit_query_end() after them. */
static sd_bus_message *polkit_query_begin(sd_bus *bus, const char *action) {
        sd_bus_message *pk = NULL;

        ASSERT_OK(sd_bus_message_new_method_call(bus, &pk, "org.freedesktop.PolicyKit1",
                                                 "/org/freedesktop/PolicyKit1/Authority",
                                                 "org.freedesktop.PolicyKit1.Authority", "CheckAuthorization"));
        ASSERT_OK(sd_bus_message_append(pk, "(sa{sv})s", "system-bus-name", 1, "name", "s", ":1.4294967295",
                                        action));
        ASSERT_OK(sd_bus_message_open_container(pk, 'a', "{ss}"));
        return pk;
}

static sd_bus_message *polkit_query_end(sd_bus_message *pk) {
        ASSERT_OK(sd_bus_message_close_container(pk));
        ASSERT_OK(sd_bus_message_append(pk, "us", 1, "lxcbus-18446744073709551615"));
        return pk;
}

static void build_polkit_exec(sd_bus *bus, sd_bus_message **ret, const void *userdata) {
        sd_bus_message *pk = NULL;
        /* The worst the bounds allow, through the real details builder: argv and env share
         * LXCBUS_EXEC_STRINGS_MAX, and both are shown shell-quoted, where a quote becomes '\'' (4 bytes);
         * the longest cwd, of quotes too; the longest terminal type. */
        size_t half = LXCBUS_EXEC_STRINGS_MAX / 2 - 8;
        _cleanup_free_ char *arg = filled(half, '\'');
        _cleanup_free_ char *var = filled(half, '\'');
        _cleanup_free_ char *cwd = filled(BUS_OPTIONS_VALUE_MAX, '\'');
        _cleanup_free_ char *term = filled(128, 'x');
        _cleanup_strv_free_ char **details = NULL;

        memcpy(var, "A=", 2);
        char *argv[] = { arg, NULL }, *env[] = { var, NULL };
        ASSERT_OK(auth_details_build(&(AuthRequest) { .verb = "exec-pty", .instance = worst_name(),
                                                      .owner = 4294967294u, .owner_name = tmp(256, 'o'),
                                                      .argv = argv, .env = env, .uid = 4294967294u,
                                                      .gid = 4294967294u, .cwd = cwd, .term = term },
                                     &details));
        pk = polkit_query_begin(bus, "org.lxcbus1.exec");
        for (char **d = details; d && d[0] && d[1]; d += 2)
                ASSERT_OK(sd_bus_message_append(pk, "{ss}", d[0], d[1]));
        *ret = polkit_query_end(pk);
}

TEST(polkit_query_exec) {
        size_t n = wire_size(build_polkit_exec, NULL);
        printf("  CheckAuthorization for Exec, worst case: %zu bytes (budget %u, bus %u)\n", n,
               POLKIT_QUERY_BUDGET, LXCBUS_BUS_MESSAGE_MAX);
        ASSERT_TRUE(n < POLKIT_QUERY_BUDGET);
}

static void build_polkit_set_config(sd_bus *bus, sd_bus_message **ret, const void *userdata) {
        _cleanup_(config_map_done) ConfigMap c = {};
        sd_bus_message *pk = NULL;

        worst_config(&c, false);
        pk = polkit_query_begin(bus, "org.lxcbus1.manage");
        ASSERT_OK(sd_bus_message_append(pk, "{ss}{ss}", "verb", "set-config", "instance", worst_name()));
        /* Every key set and unset, and every value, as details: more than any detail builder sends. */
        for (size_t k = 0; k < c.n; k++)
                ASSERT_OK(sd_bus_message_append(pk, "{ss}{ss}", c.entries[k].key, c.entries[k].value, "unset",
                                                c.entries[k].key));
        *ret = polkit_query_end(pk);
}

TEST(polkit_query_set_config) {
        size_t n = wire_size(build_polkit_set_config, NULL);
        printf("  CheckAuthorization for SetConfig, worst case: %zu bytes\n", n);
        ASSERT_TRUE(n < POLKIT_QUERY_BUDGET);
}

/* ---------------------------------------------------------------- worker requests */

/* The bytes of a NULL-terminated list of strings, each with its NUL. */
static size_t request_size(char *const *args) {
        size_t n = 0;
        for (char *const *a = args; *a; a++)
                n += strlen(*a) + 1;
        return n;
}

/* The packet worker_spawn() sends for req, as the encoder writes it (which also checks that the worker
 * would take it). */
static size_t packet_size(const WorkerRequest *req) {
        _cleanup_free_ char *packet = NULL;
        size_t len = 0;

        ASSERT_OK(worker_request_encode(req, &packet, &len));
        return len;
}

TEST(worker_request_create) {
        _cleanup_(instance_metadata_done) InstanceMetadata md = {};
        _cleanup_free_ char *json = NULL, *dir1 = filled(PATH_MAX - 1, 'p'), *dir2 = filled(PATH_MAX - 1, 'q');

        worst_config(&md.config, true);
        md.name = strdup(worst_name());
        md.owner = 4294967294U;
        md.created_at = md.last_used_at = md.generation = UINT64_MAX / 2;
        md.idmap = (InstanceIdmap) { 4294901760U, 4294901760U, 65536 };
        ASSERT_OK(instance_metadata_to_json(&md, &json));
        printf("  metadata JSON of the worst config: %zu bytes\n", strlen(json));

        /* Template arguments at their byte bound. */
        _cleanup_free_ char *targ = filled(LXCBUS_TEMPLATE_ARGS_TOTAL_MAX - 1, 't');
        char *targs[] = { targ, NULL };
        WorkerRequest req = {
                .verb = WORKER_VERB_CREATE,
                .lxcpath = dir1,
                .name = worst_name(),
                .create = {
                        .placement = {
                                .final_lxcpath = dir2,
                                .metadata_json = json,
                                .idmap_uid = md.idmap.uid,
                                .idmap_gid = md.idmap.gid,
                                .idmap_count = md.idmap.count,
                        },
                        .template = "busybox",
                        .template_args = targs,
                },
        };
        size_t size = packet_size(&req);
        printf("  create request, worst case: %zu bytes (packet %u)\n", size, WORKER_MSG_MAX);
        ASSERT_TRUE(size <= WORKER_MSG_MAX);
}

TEST(worker_request_exec) {
        _cleanup_free_ char *dir = filled(PATH_MAX - 1, 'p'), *cwd = filled(BUS_OPTIONS_VALUE_MAX, 'c');
        _cleanup_free_ char *inst_env = filled(LXCBUS_CONFIG_TOTAL_MAX - 1, 'e');
        _cleanup_free_ char *call = filled(LXCBUS_EXEC_STRINGS_MAX - 1, 'a');
        _cleanup_free_ char *term = NULL;

        ASSERT_TRUE(asprintf(&term, "TERM=%s", tmp(128, 't')) > 0);
        /* The defaults, the instance's environment.* keys (as NAME=VALUE never longer than the key
         * "environment.NAME" and its value), and the call's argv + env. NENV counts 1283 (the bound of
         * the environment) in the worst case: four digits, as here. */
        char *env[] = { (char *) "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                        (char *) "HOME=/root", term, inst_env, NULL };
        char *argv[] = { call, NULL };
        WorkerRequest req = {
                .verb = WORKER_VERB_EXEC,
                .lxcpath = dir,
                .name = worst_name(),
                .exec = {
                        .cwd = cwd,
                        .uid = 4294967294U,
                        .gid = 4294967294U,
                        .pty = true,
                        .rows = 10000,
                        .cols = 10000,
                        .env = env,
                        .argv = argv,
                },
        };
        size_t size = packet_size(&req) + STRLEN("1283") - STRLEN("4");
        printf("  exec request, worst case: %zu bytes (packet %u)\n", size, WORKER_MSG_MAX);
        ASSERT_TRUE(size <= WORKER_MSG_MAX);
}

/* ---------------------------------------------------------------- GetManagedObjects */

static void append_empty_interfaces(sd_bus_message *m) {
        FOREACH_STRING(i, "org.freedesktop.DBus.Peer", "org.freedesktop.DBus.Introspectable",
                       "org.freedesktop.DBus.Properties", "org.freedesktop.DBus.ObjectManager")
                ASSERT_OK(sd_bus_message_append(m, "{sa{sv}}", i, 0));
}

/* An instance with config c and n_snapshots of the longest names. */
static void append_instance(sd_bus_message *m, const ConfigMap *c, unsigned n_snapshots) {
        _cleanup_free_ char *path = worst_instance_path();

        ASSERT_OK(sd_bus_message_open_container(m, 'e', "oa{sa{sv}}"));
        ASSERT_OK(sd_bus_message_append(m, "o", path));
        ASSERT_OK(sd_bus_message_open_container(m, 'a', "{sa{sv}}"));
        append_empty_interfaces(m);
        ASSERT_OK(sd_bus_message_open_container(m, 'e', "sa{sv}"));
        ASSERT_OK(sd_bus_message_append(m, "s", "org.lxcbus1.Instance"));
        ASSERT_OK(sd_bus_message_open_container(m, 'a', "{sv}"));
        ASSERT_OK(sd_bus_message_append(m, "{sv}{sv}{sv}{sv}{sv}{sv}{sv}{sv}{sv}{sv}{sv}{sv}",
                                        "Name", "s", worst_name(), "State", "s", "unfreezing-or-longer",
                                        "Pid", "u", 4294967295U, "Unit", "s", tmp(255, 'u'),
                                        "Owner", "u", 4294967295U, "Ephemeral", "b", 1,
                                        "Autostart", "b", 1, "AutostartPriority", "i", -1000,
                                        "Description", "s", strempty(config_map_get(c, "description")),
                                        "CreatedAt", "t", UINT64_MAX, "LastUsedAt", "t", UINT64_MAX,
                                        "Generation", "t", UINT64_MAX));
        ASSERT_OK(sd_bus_message_open_container(m, 'e', "sv"));
        ASSERT_OK(sd_bus_message_append(m, "s", "Config"));
        ASSERT_OK(sd_bus_message_open_container(m, 'v', "a{ss}"));
        ASSERT_OK(sd_bus_message_open_container(m, 'a', "{ss}"));
        for (size_t k = 0; k < c->n; k++)
                ASSERT_OK(sd_bus_message_append(m, "{ss}", c->entries[k].key, c->entries[k].value));
        for (int k = 0; k < 3; k++)
                ASSERT_OK(sd_bus_message_close_container(m));
        /* Snapshots: the most, with the longest names. */
        ASSERT_OK(sd_bus_message_open_container(m, 'e', "sv"));
        ASSERT_OK(sd_bus_message_append(m, "s", "Snapshots"));
        ASSERT_OK(sd_bus_message_open_container(m, 'v', "a(st)"));
        ASSERT_OK(sd_bus_message_open_container(m, 'a', "(st)"));
        for (unsigned k = 0; k < n_snapshots; k++)
                ASSERT_OK(sd_bus_message_append(m, "(st)", worst_name(), UINT64_MAX));
        for (int k = 0; k < 4; k++)
                ASSERT_OK(sd_bus_message_close_container(m));
        for (int k = 0; k < 3; k++)
                ASSERT_OK(sd_bus_message_close_container(m));
}

static void append_operation(sd_bus_message *m, uint64_t id, char **command) {
        _cleanup_free_ char *text = filled(LXCBUS_OPERATION_TEXT_MAX, 'x'), *ipath = worst_instance_path();
        char path[128];

        snprintf(path, sizeof path, LXCBUS_OPERATION_PREFIX "/%" PRIu64, id);
        ASSERT_OK(sd_bus_message_open_container(m, 'e', "oa{sa{sv}}"));
        ASSERT_OK(sd_bus_message_append(m, "o", path));
        ASSERT_OK(sd_bus_message_open_container(m, 'a', "{sa{sv}}"));
        append_empty_interfaces(m);
        ASSERT_OK(sd_bus_message_append(m, "{sa{sv}}", "org.lxcbus1.Operation", 14,
                                        "Kind", "s", "exec", "Instance", "o", ipath, "Status", "s", "cancelled",
                                        "Progress", "d", 1.0, "ProgressValid", "b", 1, "Stage", "s", text,
                                        "Bytes", "t", UINT64_MAX, "Rate", "t", UINT64_MAX, "CreatedAt", "t",
                                        UINT64_MAX, "FinishedAt", "t", UINT64_MAX, "Cancelable", "b", 1,
                                        "StartedByUID", "u", 4294967295U, "ErrorName", "s",
                                        "org.lxcbus1.Error.LimitsExceeded", "ErrorMessage", "s", text));
        ASSERT_OK(sd_bus_message_open_container(m, 'e', "sa{sv}"));
        ASSERT_OK(sd_bus_message_append(m, "s", "org.lxcbus1.Process"));
        ASSERT_OK(sd_bus_message_open_container(m, 'a', "{sv}"));
        ASSERT_OK(sd_bus_message_append(m, "{sv}{sv}{sv}", "Pid", "u", 4294967295U, "ExitStatus", "i", -1,
                                        "ExitSignal", "i", 9));
        ASSERT_OK(sd_bus_message_open_container(m, 'e', "sv"));
        ASSERT_OK(sd_bus_message_append(m, "s", "Command"));
        ASSERT_OK(sd_bus_message_open_container(m, 'v', "as"));
        ASSERT_OK(sd_bus_message_append_strv(m, command));
        for (int k = 0; k < 3; k++)
                ASSERT_OK(sd_bus_message_close_container(m));
        for (int k = 0; k < 3; k++)
                ASSERT_OK(sd_bus_message_close_container(m));
}

/* Room for a reserve of operations on top of OPERATIONS_MAX (root's), should one be added. */
#define OPERATIONS_RUNNING_WORST (2 * OPERATIONS_MAX)

/* The most instances, as many with a full config as LXCBUS_INSTANCES_DATA_MAX allows and the rest with
 * none: a config brings more bytes to the bus for each byte it counts than snapshots do (~80 for 128). */
static void build_managed_objects(sd_bus *bus, sd_bus_message **ret, const void *userdata) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *call = new_call(bus, "GetManagedObjects");
        _cleanup_(config_map_done) ConfigMap c = {}, empty = {};
        _cleanup_strv_free_ char **command = calloc(LXCBUS_EXEC_ARGV_MAX + 1, sizeof(char *));
        sd_bus_message *m = NULL;

        worst_config(&c, false);
        /* The most arguments (each costs a length and padding) that fit the byte bound. */
        ASSERT_NOT_NULL(command);
        for (unsigned k = 0; k < LXCBUS_EXEC_ARGV_MAX; k++)
                command[k] = filled(LXCBUS_EXEC_STRINGS_MAX / LXCBUS_EXEC_ARGV_MAX - 1, 'a');
        ASSERT_TRUE(request_size(command) <= LXCBUS_EXEC_STRINGS_MAX);

        ASSERT_OK(sd_bus_message_new_method_return(call, &m));
        ASSERT_OK(sd_bus_message_open_container(m, 'a', "{oa{sa{sv}}}"));
        /* The manager, listing everything. */
        ASSERT_OK(sd_bus_message_open_container(m, 'e', "oa{sa{sv}}"));
        ASSERT_OK(sd_bus_message_append(m, "o", "/org/lxcbus1"));
        ASSERT_OK(sd_bus_message_open_container(m, 'a', "{sa{sv}}"));
        append_empty_interfaces(m);
        ASSERT_OK(sd_bus_message_open_container(m, 'e', "sa{sv}"));
        ASSERT_OK(sd_bus_message_append(m, "s", "org.lxcbus1.Manager"));
        ASSERT_OK(sd_bus_message_open_container(m, 'a', "{sv}"));
        ASSERT_OK(sd_bus_message_append(m, "{sv}{sv}{sv}", "Version", "s", "0.0.0-some-long-version",
                                        "Features", "as", 1, tmp(256, 'f'), "StateDirectory", "s",
                                        tmp(PATH_MAX - 1, 's')));
        FOREACH_STRING(prop, "Instances", "Operations") {
                bool instances = streq(prop, "Instances");
                unsigned count = instances ? LXCBUS_INSTANCES_MAX : OPERATIONS_RUNNING_WORST + OPERATIONS_FINISHED_MAX;
                _cleanup_free_ char *ipath = worst_instance_path();

                ASSERT_OK(sd_bus_message_open_container(m, 'e', "sv"));
                ASSERT_OK(sd_bus_message_append(m, "s", prop));
                ASSERT_OK(sd_bus_message_open_container(m, 'v', "ao"));
                ASSERT_OK(sd_bus_message_open_container(m, 'a', "o"));
                for (unsigned k = 0; k < count; k++)
                        ASSERT_OK(sd_bus_message_append(m, "o", instances ? ipath :
                                                        LXCBUS_OPERATION_PREFIX "/18446744073709551615"));
                for (int k = 0; k < 3; k++)
                        ASSERT_OK(sd_bus_message_close_container(m));
        }
        for (int k = 0; k < 4; k++)
                ASSERT_OK(sd_bus_message_close_container(m));

        size_t full = LXCBUS_INSTANCES_DATA_MAX / config_map_stored_size(&c);
        ASSERT_TRUE(full < LXCBUS_INSTANCES_MAX);
        for (unsigned k = 0; k < LXCBUS_INSTANCES_MAX; k++)
                append_instance(m, k < full ? &c : &empty, 0);
        for (unsigned k = 0; k < OPERATIONS_RUNNING_WORST + OPERATIONS_FINISHED_MAX; k++)
                append_operation(m, UINT64_MAX - k, command);
        ASSERT_OK(sd_bus_message_close_container(m));
        *ret = m;
}

TEST(get_managed_objects) {
        size_t n = wire_size(build_managed_objects, NULL);
        printf("  GetManagedObjects with %u instances and %u operations, worst case: %zu bytes (%.1f MiB; bus %u)\n",
               LXCBUS_INSTANCES_MAX, OPERATIONS_RUNNING_WORST + OPERATIONS_FINISHED_MAX, n, n / 1048576.0,
               LXCBUS_BUS_MESSAGE_MAX);
        /* Well below: three quarters of the limit at most. */
        ASSERT_TRUE(n < LXCBUS_BUS_MESSAGE_MAX / 4 * 3);
}

/* ---------------------------------------------------------------- GetMetrics */

/* The most instances, each running with every figure at its longest and the most interfaces (32 each,
 * METRICS_NETDEV_TOTAL_MAX in all), each named with 15 bytes that escape to 3 each (%XX). */
static void build_metrics(sd_bus *bus, sd_bus_message **ret, const void *userdata) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *call = new_call(bus, "GetMetrics");
        _cleanup_free_ MetricsInstance *v = calloc(LXCBUS_INSTANCES_MAX, sizeof(MetricsInstance));
        _cleanup_free_ char *text = NULL;
        MetricsDaemon d;
        sd_bus_message *m = NULL;

        ASSERT_NOT_NULL(v);
        for (unsigned k = 0; k < LXCBUS_INSTANCES_MAX; k++) {
                v[k].name = worst_name();
                v[k].state = INSTANCE_RUNNING;
                v[k].has_figures = true;
                v[k].cg = (CgroupFigures) { UINT64_MAX - 1, UINT64_MAX - 1, UINT64_MAX - 1, UINT64_MAX - 1,
                                            UINT64_MAX - 1, UINT64_MAX - 1, UINT64_MAX - 1 };
                v[k].n_netdev = k < METRICS_NETDEV_TOTAL_MAX / METRICS_NETDEV_MAX ? METRICS_NETDEV_MAX : 0;
                for (unsigned j = 0; j < METRICS_NETDEV_MAX; j++) {
                        /* The longest name netinfo.c gives: every byte written %XX. */
                        for (unsigned b = 0; b < IFNAMSIZ - 1; b++)
                                memcpy(v[k].netdev[j].ifname + 3 * b, "%FF", 4);
                        v[k].netdev[j].rx_bytes = v[k].netdev[j].tx_bytes = UINT64_MAX;
                }
        }
        memset(&d, 0xff, sizeof d);
        ASSERT_OK(metrics_format(v, LXCBUS_INSTANCES_MAX, &d, &text));
        ASSERT_OK(sd_bus_message_new_method_return(call, &m));
        /* A D-Bus string must be UTF-8: sd-bus refuses anything else here. */
        ASSERT_OK(sd_bus_message_append(m, "s", text));
        *ret = m;
}

TEST(get_metrics) {
        size_t n = wire_size(build_metrics, NULL);
        printf("  GetMetrics with %u instances, %u interfaces in all, worst case: %zu bytes (%.1f MiB; bus %u)\n",
               LXCBUS_INSTANCES_MAX, METRICS_NETDEV_TOTAL_MAX, n, n / 1048576.0, LXCBUS_BUS_MESSAGE_MAX);
        /* A third of the limit at most (9.5 MiB: 6.2 of them the interfaces, as with 512 instances; the
         * rest grows with the count, ~0.9 KiB an instance). */
        ASSERT_TRUE(n < LXCBUS_BUS_MESSAGE_MAX / 3);
}

/* ---------------------------------------------------------------- replies and signals */

static void build_error_reply(sd_bus *bus, sd_bus_message **ret, const void *userdata) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *call = new_call(bus, "CreateInstance");
        _cleanup_free_ char *quoted = filled(LXCBUS_REQUEST_MAX + LXCBUS_OBJECT_PATH_MAX, 'q');
        sd_bus_message *m = NULL;

        /* An error that quotes everything the call carried, with some words around it. */
        ASSERT_OK(sd_bus_message_new_method_errorf(call, &m, LXCBUS_ERROR_LIMITS_EXCEEDED,
                                                   "Something about '%s' was wrong, and more words around it.",
                                                   quoted));
        *ret = m;
}

TEST(error_reply) {
        size_t n = wire_size(build_error_reply, NULL);
        printf("  an error quoting a whole call: %zu bytes\n", n);
        ASSERT_TRUE(n < 1024 * 1024);
}

static void build_config_changed(sd_bus *bus, sd_bus_message **ret, const void *userdata) {
        _cleanup_(config_map_done) ConfigMap c = {};
        _cleanup_free_ char *path = worst_instance_path();
        sd_bus_message *m = NULL;

        worst_config(&c, false);
        ASSERT_OK(sd_bus_message_new_signal(bus, &m, path, "org.freedesktop.DBus.Properties", "PropertiesChanged"));
        ASSERT_OK(sd_bus_message_append(m, "s", "org.lxcbus1.Instance"));
        ASSERT_OK(sd_bus_message_open_container(m, 'a', "{sv}"));
        ASSERT_OK(sd_bus_message_open_container(m, 'e', "sv"));
        ASSERT_OK(sd_bus_message_append(m, "s", "Config"));
        ASSERT_OK(sd_bus_message_open_container(m, 'v', "a{ss}"));
        ASSERT_OK(sd_bus_message_open_container(m, 'a', "{ss}"));
        for (size_t k = 0; k < c.n; k++)
                ASSERT_OK(sd_bus_message_append(m, "{ss}", c.entries[k].key, c.entries[k].value));
        for (int k = 0; k < 3; k++)
                ASSERT_OK(sd_bus_message_close_container(m));
        ASSERT_OK(sd_bus_message_append(m, "{sv}{sv}", "Description", "s", config_map_get(&c, "description"),
                                        "Generation", "t", UINT64_MAX));
        ASSERT_OK(sd_bus_message_close_container(m));
        ASSERT_OK(sd_bus_message_append(m, "as", 0));
        *ret = m;
}

TEST(properties_changed_config) {
        size_t n = wire_size(build_config_changed, NULL);
        printf("  PropertiesChanged of a full Config: %zu bytes\n", n);
        ASSERT_TRUE(n < 1024 * 1024);
}
