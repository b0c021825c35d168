// __builtin_prefetch for Swift, which has no spelling of it. The reference
// decision's dry-run reads its prefix tables ahead for a batch of frames: a
// plain load there waits for the line whenever a branch depends on it, a
// prefetch never waits and never faults.
#ifndef CPREFETCH_H
#define CPREFETCH_H

static inline void fg_prefetch(const void *address) { __builtin_prefetch(address, 0, 3); }

#endif
