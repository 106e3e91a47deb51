/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <assert.h>
#include <dirent.h>
#include <fcntl.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <sys/stat.h>
#include <systemd/sd-daemon.h>

#include "bus-limits.h"
#include "cgroup.h"
#include "create.h"
#include "instance.h"
#include "log.h"
#include "manager.h"
#include "names.h"
#include "operation.h"
#include "scope.h"
#include "snapshot.h"
#include "util.h"
#include "worker.h"

int manager_new(Manager **ret) {
        Manager *m;
        int r;

        assert(ret);

        m = calloc(1, sizeof(Manager));
        if (!m)
                return -ENOMEM;
        m->operation_linger_usec = 300 * USEC_PER_SEC;
        m->polkit_timeout_usec = 25 * USEC_PER_SEC;
        m->max_instances = LXCBUS_INSTANCES_MAX;
        m->subid_uid = UID_INVALID;
        m->operation_limits = (Limiter) {
                .what = "operations running",
                .max = OPERATIONS_MAX,
                .reserve = OPERATIONS_ROOT_RESERVE,
                .per_uid = OPERATIONS_PER_UID_MAX,
        };
        m->wait_limits = (Limiter) {
                .what = "callers waiting",
                .max = WAITS_MAX,
                .reserve = WAITS_ROOT_RESERVE,
                .per_uid = WAITS_PER_UID_MAX,
        };
        m->max_instances_per_owner = INSTANCES_PER_OWNER_DEFAULT;
        r = sd_event_default(&m->event);
        if (r < 0) {
                free(m);
                return r;
        }
        *ret = m;
        return 0;
}

Manager *manager_free(Manager *m) {
        if (!m)
                return NULL;
        while (m->operations)
                operation_free(m->operations);
        while (m->instances) {
                Instance *i = m->instances;
                m->instances = i->next;
                i->linked = false;
                instance_unref(i);
        }
        for (size_t k = 0; k < ELEMENTSOF(m->spare_workers); k++)
                m->spare_workers[k] = worker_free(m->spare_workers[k]);
        while (m->abandoned_workers) {
                Worker *w = m->abandoned_workers;
                m->abandoned_workers = w->next;
                worker_free(w);
        }
        while (m->scope_jobs)
                scope_job_cancel(m->scope_jobs);
        MANAGER_HOOK(m, done, m);
        limiter_done(&m->operation_limits);
        limiter_done(&m->wait_limits);
        sd_event_source_disable_unref(m->flush_source);
        sd_bus_flush_close_unref(m->bus);
        sd_event_unref(m->event);
        for (size_t k = 0; k < m->n_creating; k++)
                free(m->creating[k].name);
        free(m->creating);
        FREE_MANY(m->bus_address, m->state_dir, m->runtime_dir, m->worker_path, m->systemd_owner, m->machined_owner, m->instances_dir,
                  m->staging_dir, m);
        return NULL;
}

Instance *manager_find_instance(Manager *m, const char *name) {
        assert(m);
        assert(name);

        for (Instance *i = m->instances; i; i = i->next)
                if (streq(i->name, name))
                        return i;
        return NULL;
}

/* sd-bus asks for each object while it walks GetManagedObjects, in the order of the enumerator, which is
 * the list's: the one after the last found comes first, so that the walk over every instance costs one
 * comparison each instead of a search each. */
Instance *manager_find_instance_by_path(Manager *m, const char *path) {
        assert(m);
        assert(path);

        if (m->find_hint) {
                if (streq(m->find_hint->path, path))
                        return m->find_hint;
                if (m->find_hint->next && streq(m->find_hint->next->path, path))
                        return (m->find_hint = m->find_hint->next);
        }
        for (Instance *i = m->instances; i; i = i->next)
                if (streq(i->path, path))
                        return (m->find_hint = i);
        return NULL;
}

void manager_add_instance(Manager *m, Instance *i) {
        Instance **p;

        assert(m);
        assert(i);

        /* Sorted by name, so listings need no sort. */
        for (p = &m->instances; *p && strcmp((*p)->name, i->name) < 0; p = &(*p)->next)
                ;
        i->next = *p;
        *p = i;
        i->linked = true;
        m->n_instances++;
        m->dirty_instances = true;
        manager_mark_dirty(m);
        if (m->ready)
                MANAGER_HOOK(m, instance_added, i);
}

bool manager_name_reserved(Manager *m, const char *name) {
        assert(m);
        assert(name);

        for (size_t k = 0; k < m->n_creating; k++)
                if (streq(m->creating[k].name, name))
                        return true;
        return false;
}

unsigned manager_instances_of(Manager *m, uid_t owner) {
        unsigned n = 0;

        for (Instance *i = m->instances; i; i = i->next)
                if (i->md.owner == owner)
                        n++;
        for (size_t k = 0; k < m->n_creating; k++)
                if (m->creating[k].owner == owner)
                        n++;
        return n;
}

size_t instance_data_size(const InstanceMetadata *md) {
        assert(md);

        return config_map_stored_size(&md->config) + md->n_snapshots * LXCBUS_SNAPSHOT_DATA;
}

/* Counted when asked (SetConfig, Snapshot, a create): a walk over the instances' configs, ~0.5 ms with
 * 4096, where a running sum would have to follow every change of every config. */
bool manager_data_fits(Manager *m, size_t old, size_t new) {
        size_t total = ASSERT_PTR(m)->n_creating * LXCBUS_INSTANCE_DATA_MAX;

        if (new <= old)
                return true;
        for (Instance *i = m->instances; i; i = i->next)
                total += instance_data_size(&i->md);
        return total - MIN(old, total) + new <= LXCBUS_INSTANCES_DATA_MAX;
}

int manager_reserve_name(Manager *m, const char *name, const InstanceIdmap *idmap, uid_t owner) {
        struct Reservation *l;
        char *s;

        assert(m);
        assert(name);

        s = strdup(name);
        if (!s)
                return -ENOMEM;
        l = realloc(m->creating, (m->n_creating + 1) * sizeof(struct Reservation));
        if (!l) {
                free(s);
                return -ENOMEM;
        }
        m->creating = l;
        m->creating[m->n_creating++] = (struct Reservation) {
                .name = s,
                .ids = idmap ? (SubIdRange) { idmap->uid, idmap->count } : (SubIdRange) {},
                .owner = owner,
        };
        return 0;
}

void manager_release_name(Manager *m, const char *name) {
        assert(m);
        assert(name);

        for (size_t k = 0; k < m->n_creating; k++)
                if (streq(m->creating[k].name, name)) {
                        free(m->creating[k].name);
                        memmove(m->creating + k, m->creating + k + 1,
                                (m->n_creating - k - 1) * sizeof(struct Reservation));
                        m->n_creating--;
                        return;
                }
}

int manager_used_subids(Manager *m, SubIdRange **ret, size_t *ret_n) {
        _cleanup_free_ SubIdRange *l = NULL;
        size_t n = 0, size;
        DIR *d;

        assert(m);
        assert(ret);
        assert(ret_n);

        /* uid and gid ranges in one list: a new block uses the same base for both, so it must overlap
         * neither. */
        size = 2 * (m->n_instances + m->n_creating) + 1;
        l = calloc(size, sizeof(SubIdRange));
        if (!l)
                return -ENOMEM;
        for (Instance *i = m->instances; i; i = i->next)
                if (i->md.idmap.count > 0) {
                        l[n++] = (SubIdRange) { i->md.idmap.uid, i->md.idmap.count };
                        l[n++] = (SubIdRange) { i->md.idmap.gid, i->md.idmap.count };
                }
        for (size_t k = 0; k < m->n_creating; k++)
                if (m->creating[k].ids.count > 0)
                        l[n++] = m->creating[k].ids;

        /* The directories on disk too: an idmapped instance's is root:BASE. One whose lxcbus.json did not
         * load is listed as error without an idmap, but its block is still owned by its files until it is
         * deleted, and two instances sharing ids would share everything. */
        d = opendir(m->instances_dir);
        if (d) {
                struct dirent *de;
                struct stat st;

                while ((de = readdir(d))) {
                        if (de->d_name[0] == '.' ||
                            fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
                            !S_ISDIR(st.st_mode) || st.st_gid == 0)
                                continue;
                        if (n == size) {
                                SubIdRange *t = reallocarray(l, size * 2, sizeof(SubIdRange));
                                if (!t) {
                                        closedir(d);
                                        return -ENOMEM;
                                }
                                l = t;
                                size *= 2;
                        }
                        l[n++] = (SubIdRange) { (uint32_t) st.st_gid, SUBID_BLOCK };
                }
                closedir(d);
        }
        *ret = TAKE_PTR(l);
        *ret_n = n;
        return 0;
}

static int on_flush(sd_event_source *s, void *userdata) {
        manager_flush_changes(userdata);
        return 0;
}

/* Property changes are collected and sent once per object and loop iteration. */
void manager_mark_dirty(Manager *m) {
        assert(m);

        if (!m->flush_source) {
                if (sd_event_add_defer(m->event, &m->flush_source, on_flush, m) < 0)
                        return;
        }
        (void) sd_event_source_set_enabled(m->flush_source, SD_EVENT_ONESHOT);
}

void manager_flush_changes(Manager *m) {
        assert(m);

        if (!m->ready)
                return;
        MANAGER_HOOK(m, flush, m);
        if (m->flush_source)
                (void) sd_event_source_set_enabled(m->flush_source, SD_EVENT_OFF);
}

void manager_set_ready(Manager *m) {
        assert(m);

        m->ready = true;
}

static int load_instances(Manager *m) {
        DIR *d;
        struct dirent *de;

        d = opendir(m->instances_dir);
        if (!d)
                return -errno;
        while ((de = readdir(d))) {
                _cleanup_free_ char *path = NULL, *message = NULL, *why = NULL;
                InstanceMetadata md = {};
                struct stat st;
                Instance *i;
                int r;

                if (de->d_name[0] == '.')
                        continue;
                if (!instance_name_is_valid(de->d_name)) {
                        log_warning("Ignoring '%s/%s': not a valid instance name.", m->instances_dir, de->d_name);
                        continue;
                }
                if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISDIR(st.st_mode)) {
                        log_warning("Ignoring '%s/%s': not a directory.", m->instances_dir, de->d_name);
                        continue;
                }
                if (asprintf(&path, "%s/%s/" METADATA_FILE, m->instances_dir, de->d_name) < 0)
                        break;
                r = instance_metadata_load(path, &md, &message);
                if (r < 0) {
                        if (r == -ENOENT)
                                why = strdup("its metadata file '" METADATA_FILE "' is missing");
                        else if (r == -EFBIG)
                                why = strdup("its metadata file '" METADATA_FILE "' is larger than 1 MiB");
                        else if (asprintf(&why, "its metadata file '" METADATA_FILE "' does not load: %s",
                                          message ?: strerror(-r)) < 0)
                                why = NULL;
                } else if (!streq(md.name, de->d_name)) {
                        if (asprintf(&why, "its metadata file '" METADATA_FILE "' names '%s'", md.name) < 0)
                                why = NULL;
                        instance_metadata_done(&md);
                        r = -EBADMSG;
                }
                if (r < 0) {
                        size_t l;

                        if (!why)
                                break;
                        /* It goes into sentences of its own. */
                        l = strlen(why);
                        if (l > 0 && why[l - 1] == '.')
                                why[l - 1] = 0;
                        /* Listed as "error", not skipped: hidden, it would keep its files and ids while a
                         * create of the same name could take them over. */
                        log_warning("Instance '%s' is broken, listing it as error: %s.", de->d_name, why);
                        r = instance_new_broken(m, de->d_name, why, &i);
                        if (r < 0)
                                break;
                        manager_add_instance(m, i);
                        continue;
                }
                /* An idmapped instance always shows security.privileged=false. */
                if (md.idmap.count > 0 && !config_map_get(&md.config, "security.privileged") &&
                    config_map_set(&md.config, "security.privileged", "false") < 0) {
                        instance_metadata_done(&md);
                        break;
                }
                r = instance_new(m, &md, &i);
                if (r < 0) {
                        instance_metadata_done(&md);
                        continue;
                }
                manager_add_instance(m, i);
        }
        closedir(d);
        return 0;
}

int manager_startup(Manager *m) {
        int r;

        assert(m);

        if (asprintf(&m->instances_dir, "%s/instances", m->state_dir) < 0 ||
            asprintf(&m->staging_dir, "%s/staging", m->state_dir) < 0)
                return log_oom();
        FOREACH_STRING(d, m->state_dir, m->instances_dir, m->staging_dir, m->runtime_dir) {
                r = mkdir_p(d, 0700);
                if (r < 0)
                        return log_error_errno(r, "Failed to create '%s': %m", d);
        }
        /* Traversable by everybody, readable by nobody but root: the user namespace root of an idmapped
         * instance (a plain uid on the host) must reach its rootfs, in staging/ while the template runs
         * and in instances/ afterwards. Each instance's own directory decides who gets further
         * (docs/architecture.md). */
        FOREACH_STRING(d, m->state_dir, m->instances_dir, m->staging_dir)
                if (chmod(d, 0711) < 0)
                        log_warning_errno(errno, "Failed to make '%s' traversable, ignoring: %m", d);

        /* Numeric lines of /etc/subuid name user lxcbus by uid; the user need not exist. Looked up
         * once, here, because NSS may block and the event loop must not. */
        struct passwd *pw = getpwnam(SUBID_USER);
        if (pw)
                m->subid_uid = pw->pw_uid;
        r = create_clean_staging(m);
        if (r < 0)
                log_warning_errno(r, "Failed to clean '%s', ignoring: %m", m->staging_dir);

        r = snapshot_recover_renames(m);
        if (r < 0)
                log_warning_errno(r, "Failed to look for interrupted renames, ignoring: %m");
        r = load_instances(m);
        if (r < 0)
                return log_error_errno(r, "Failed to read '%s': %m", m->instances_dir);
        snapshot_remove_strays(m);

        /* Instances a previous daemon started keep running: pick them up. The scopes of the others go. */
        _cleanup_strv_free_ char **scopes = scope_list_cgroups();
        for (Instance *i = m->instances; i; i = i->next) {
                if (i->load_error)
                        continue;
                r = instance_adopt_running(i);
                if (r < 0)
                        log_warning_errno(r, "Failed to pick up running instance '%s', listing it as stopped: %m", i->name);
                else if (r > 0)
                        log_info("Picked up running instance '%s', init pid %i, %s.", i->name, (int) i->pid, i->unit_name);
                else
                        STRV_FOREACH(u, scopes)
                                if (streq(*u, i->unit_name))
                                        instance_clean_stale_scope(i);
        }
        return 0;
}
