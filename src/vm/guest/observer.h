/* SPDX-License-Identifier: MIT */
#ifndef DAXLAB_OBSERVER_H
#define DAXLAB_OBSERVER_H

/* observer.c: snapshots of watched pages, locks, actors, leases, vmstat. */
void observer_init(void);

#endif
