/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <net/if.h>
#include <netinet/in.h>
#include <stdint.h>
#include <sys/types.h>

/* An instance's interfaces, addresses and byte counters, read from its own network namespace with
 * rtnetlink from the host (IFLA_TARGET_NETNSID, IFA_TARGET_NETNSID): no process of ours enters the
 * namespace, nothing waits on the instance (the kernel answers a dump at once), and nothing the instance
 * writes (a lease file, /proc inside) is believed. */

/* Bounds: an instance may make as many interfaces and addresses as it likes in its namespace. Beyond
 * these the answer is cut short, never the daemon's memory or time. */
#define NETINFO_LINKS_MAX 64
#define NETINFO_ADDRESSES_MAX 256

/* An interface name as the instance's root chose it (any byte but '/', ':', blanks and NUL), with each
 * byte outside printable ASCII, and '%', written %XX: a valid D-Bus string that still tells names apart,
 * so renaming eth0 to "eth\xff" hides nothing. */
#define NETINFO_IFNAME_MAX (3 * (IFNAMSIZ - 1) + 1)

typedef struct NetInfoLink {
        char ifname[NETINFO_IFNAME_MAX];
        uint64_t rx_bytes, tx_bytes;
} NetInfoLink;

typedef struct NetInfoAddress {
        char ifname[NETINFO_IFNAME_MAX];
        const char *family;                       /* "inet" or "inet6" */
        char address[INET6_ADDRSTRLEN + 4];       /* with "/prefix" */
} NetInfoAddress;

typedef struct NetInfo {
        NetInfoLink links[NETINFO_LINKS_MAX];
        size_t n_links;
        NetInfoAddress addresses[NETINFO_ADDRESSES_MAX];
        size_t n_addresses;
} NetInfo;

/* The network of the namespace of pid, which pidfd must still be (so a reused pid is never read).
 * -ENXIO if that namespace is the daemon's own. */
int netinfo_read(pid_t pid, int pidfd, NetInfo *ret);
