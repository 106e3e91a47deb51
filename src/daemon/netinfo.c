/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/if_link.h>
#include <linux/net_namespace.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "macro.h"
#include "netinfo.h"
#include "util.h"

/* The most datagrams one dump may take (each up to 32 KiB): a namespace with thousands of interfaces is
 * cut short here. */
#define NETINFO_BATCHES_MAX 32

typedef struct Request {
        struct nlmsghdr h;
        union {
                struct rtgenmsg g;
                struct ifinfomsg i;
                struct ifaddrmsg a;
        };
        char attrs[64];
} Request;

static void request_init(Request *q, uint16_t type, uint16_t flags, size_t body) {
        *q = (Request) {};
        q->h.nlmsg_len = NLMSG_LENGTH(body);
        q->h.nlmsg_type = type;
        q->h.nlmsg_flags = NLM_F_REQUEST | flags;
}

static void request_add_s32(Request *q, uint16_t type, int32_t v) {
        struct rtattr *a = (struct rtattr *) ((char *) &q->h + NLMSG_ALIGN(q->h.nlmsg_len));

        a->rta_type = type;
        a->rta_len = RTA_LENGTH(sizeof v);
        memcpy(RTA_DATA(a), &v, sizeof v);
        q->h.nlmsg_len = NLMSG_ALIGN(q->h.nlmsg_len) + RTA_ALIGN(a->rta_len);
}

/* Calls f on every message of the answer to q until NLMSG_DONE (a dump) or the first message (not a
 * dump). The socket is non-blocking: the kernel queues an answer during send(), a dump's next part
 * during recv(); nothing there ever waits. */
static int netlink_call(int fd, Request *q, int (*f)(const struct nlmsghdr *h, void *userdata), void *userdata) {
        static _Alignas(struct nlmsghdr) uint8_t buf[32 * 1024];
        bool dump = q->h.nlmsg_flags & NLM_F_DUMP;

        if (send(fd, q, q->h.nlmsg_len, 0) < 0)
                return -errno;
        for (unsigned batch = 0; batch < NETINFO_BATCHES_MAX; batch++) {
                ssize_t n = recv(fd, buf, sizeof buf, MSG_DONTWAIT);

                if (n < 0)
                        return -errno;
                for (struct nlmsghdr *h = (struct nlmsghdr *) buf; NLMSG_OK(h, (size_t) n); h = NLMSG_NEXT(h, n)) {
                        if (h->nlmsg_type == NLMSG_DONE)
                                return 0;
                        if (h->nlmsg_type == NLMSG_ERROR) {
                                const struct nlmsgerr *e = NLMSG_DATA(h);
                                return h->nlmsg_len >= NLMSG_LENGTH(sizeof *e) && e->error < 0 ? e->error : -EIO;
                        }
                        int r = f(h, userdata);
                        if (r < 0 || !dump)
                                return r;
                }
        }
        return 0;   /* cut short: what we have */
}

static int on_nsid(const struct nlmsghdr *h, void *userdata) {
        const struct rtgenmsg *g = NLMSG_DATA(h);
        int rem = (int) h->nlmsg_len - NLMSG_LENGTH(NLMSG_ALIGN(sizeof *g));

        if (h->nlmsg_type != RTM_NEWNSID || rem < 0)
                return -EBADMSG;
        for (const struct rtattr *a = (const void *) ((const char *) g + NLMSG_ALIGN(sizeof *g)); RTA_OK(a, rem);
             a = RTA_NEXT(a, rem))
                if (a->rta_type == NETNSA_NSID && RTA_PAYLOAD(a) == sizeof(int32_t)) {
                        memcpy(userdata, RTA_DATA(a), sizeof(int32_t));
                        return 0;
                }
        return -EBADMSG;
}

/* The id our namespace knows the instance's by: liblxc's veth made one already; for an instance without
 * one (network.mode=none) the kernel is asked for one, which lives as long as the namespace. */
static int netns_id(int fd, int netns, int32_t *ret) {
        Request q;
        int32_t id = -1;
        int r;

        for (unsigned attempt = 0; attempt < 2; attempt++) {
                request_init(&q, RTM_GETNSID, 0, sizeof(struct rtgenmsg));
                request_add_s32(&q, NETNSA_FD, netns);
                r = netlink_call(fd, &q, on_nsid, &id);
                if (r < 0)
                        return r;
                if (id >= 0) {
                        *ret = id;
                        return 0;
                }
                request_init(&q, RTM_NEWNSID, NLM_F_ACK, sizeof(struct rtgenmsg));
                request_add_s32(&q, NETNSA_FD, netns);
                request_add_s32(&q, NETNSA_NSID, -1);
                r = netlink_call(fd, &q, on_nsid, &id);
                if (r < 0 && r != -EIO && r != -EEXIST)
                        return r;
        }
        return -ENOENT;
}

/* The kernel's name (len bytes, no NUL) as netinfo.h says: %XX outside printable ASCII and for '%'. */
static void name_encode(const char *raw, size_t len, char ret[static NETINFO_IFNAME_MAX]) {
        size_t n = 0;

        assert(len < IFNAMSIZ);
        for (size_t k = 0; k < len; k++) {
                unsigned char c = (unsigned char) raw[k];

                if (c <= ' ' || c >= 0x7f || c == '%')
                        n += (size_t) snprintf(ret + n, NETINFO_IFNAME_MAX - n, "%%%02X", c);
                else
                        ret[n++] = (char) c;
        }
        ret[n] = 0;
}

static const char *link_name(const NetInfo *ni, const int *index, int want) {
        for (size_t k = 0; k < ni->n_links; k++)
                if (index[k] == want)
                        return ni->links[k].ifname;
        return NULL;
}

typedef struct DumpState {
        NetInfo *info;
        int index[NETINFO_LINKS_MAX];
} DumpState;

static int on_link(const struct nlmsghdr *h, void *userdata) {
        DumpState *d = userdata;
        const struct ifinfomsg *ifi = NLMSG_DATA(h);
        int rem = (int) h->nlmsg_len - NLMSG_LENGTH(sizeof *ifi);
        NetInfoLink l = {};

        if (h->nlmsg_type != RTM_NEWLINK || rem < 0 || d->info->n_links >= NETINFO_LINKS_MAX)
                return 0;
        for (const struct rtattr *a = IFLA_RTA(ifi); RTA_OK(a, rem); a = RTA_NEXT(a, rem))
                if (a->rta_type == IFLA_IFNAME && RTA_PAYLOAD(a) > 1 && RTA_PAYLOAD(a) <= IFNAMSIZ)
                        name_encode(RTA_DATA(a), strnlen(RTA_DATA(a), RTA_PAYLOAD(a) - 1), l.ifname);
                else if (a->rta_type == IFLA_STATS64 && RTA_PAYLOAD(a) >= sizeof(struct rtnl_link_stats64)) {
                        struct rtnl_link_stats64 s;

                        memcpy(&s, RTA_DATA(a), sizeof s);
                        l.rx_bytes = s.rx_bytes;
                        l.tx_bytes = s.tx_bytes;
                }
        if (isempty(l.ifname))
                return 0;
        d->index[d->info->n_links] = ifi->ifi_index;
        d->info->links[d->info->n_links++] = l;
        return 0;
}

static int on_address(const struct nlmsghdr *h, void *userdata) {
        DumpState *d = userdata;
        const struct ifaddrmsg *ifa = NLMSG_DATA(h);
        int rem = (int) h->nlmsg_len - NLMSG_LENGTH(sizeof *ifa);
        const void *addr = NULL, *local = NULL;
        char text[INET6_ADDRSTRLEN];
        const char *name;
        size_t len;

        if (h->nlmsg_type != RTM_NEWADDR || rem < 0 || d->info->n_addresses >= NETINFO_ADDRESSES_MAX ||
            !IN_SET(ifa->ifa_family, AF_INET, AF_INET6))
                return 0;
        len = ifa->ifa_family == AF_INET ? 4 : 16;
        for (const struct rtattr *a = IFA_RTA(ifa); RTA_OK(a, rem); a = RTA_NEXT(a, rem))
                if (a->rta_type == IFA_ADDRESS && RTA_PAYLOAD(a) == len)
                        addr = RTA_DATA(a);
                else if (a->rta_type == IFA_LOCAL && RTA_PAYLOAD(a) == len)
                        local = RTA_DATA(a);   /* a point-to-point link's own end; IFA_ADDRESS is the peer */
        name = link_name(d->info, d->index, (int) ifa->ifa_index);
        if (!(local ?: addr) || !name || !inet_ntop(ifa->ifa_family, local ?: addr, text, sizeof text))
                return 0;
        NetInfoAddress *out = &d->info->addresses[d->info->n_addresses++];
        snprintf(out->ifname, sizeof out->ifname, "%s", name);
        out->family = ifa->ifa_family == AF_INET ? "inet" : "inet6";
        snprintf(out->address, sizeof out->address, "%s/%u", text, ifa->ifa_prefixlen);
        return 0;
}

static int netns_open(pid_t pid, int pidfd) {
        _cleanup_close_ int netns = -EBADF;
        struct stat a, b;
        char path[64];

        snprintf(path, sizeof path, "/proc/%i/ns/net", (int) pid);
        netns = open(path, O_RDONLY | O_CLOEXEC);
        if (netns < 0)
                return -errno;
        /* Opened by pid: it was still init if the pidfd says it is alive now. */
        if (pidfd_send_signal(pidfd, 0, NULL, 0) < 0)
                return -errno;
        if (fstat(netns, &a) < 0 || stat("/proc/self/ns/net", &b) < 0)
                return -errno;
        if (a.st_dev == b.st_dev && a.st_ino == b.st_ino)
                return -ENXIO;
        return TAKE_FD(netns);
}

int netinfo_read(pid_t pid, int pidfd, NetInfo *ret) {
        _cleanup_close_ int netns = -EBADF, fd = -EBADF;
        DumpState d = { .info = ret };
        int one = 1, r;
        int32_t id;
        Request q;

        assert(pid > 0);
        assert(ret);

        ret->n_links = ret->n_addresses = 0;
        netns = netns_open(pid, pidfd);
        if (netns < 0)
                return netns;
        fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, NETLINK_ROUTE);
        if (fd < 0)
                return -errno;
        (void) setsockopt(fd, SOL_NETLINK, NETLINK_GET_STRICT_CHK, &one, sizeof one);
        r = netns_id(fd, netns, &id);
        if (r < 0)
                return r;

        request_init(&q, RTM_GETLINK, NLM_F_DUMP, sizeof(struct ifinfomsg));
        request_add_s32(&q, IFLA_TARGET_NETNSID, id);
        r = netlink_call(fd, &q, on_link, &d);
        if (r < 0)
                return r;
        request_init(&q, RTM_GETADDR, NLM_F_DUMP, sizeof(struct ifaddrmsg));
        request_add_s32(&q, IFA_TARGET_NETNSID, id);
        return netlink_call(fd, &q, on_address, &d);
}
