// Process-wide coordination for the filesystem: every worker thread of a process shares
// these tables, so locks taken in one worker hold against all the others.
#pragma once
#include <atomic>
#include <cstdint>

namespace daxfs {

// Claims the device file at `path` for this process: one flock(LOCK_EX) per device
// identity (st_dev, st_ino), counted, so the process's own workers share the claim and
// another process gets EBUSY. Returns 0 and the identity in *id, or an errno.
int device_claim(const char *path, uint64_t *id);
// Drops one claim; the flock goes with the last.
void device_release(uint64_t id);
// How many claims this process holds on the identity (0 when none).
int device_claims(uint64_t id);

// Reader/writer locks named by (domain, key): domain is a device identity (or any number
// the caller picks), key an inode number or another name. Blocking; fair enough for
// short critical sections. Writers wait for readers to drain and block new readers.
void rw_lock(uint64_t domain, uint64_t key, bool exclusive);
bool rw_try_lock(uint64_t domain, uint64_t key, bool exclusive);
// Returns false when the lock was not held in that mode (a caller bug, reported, not fatal).
bool rw_unlock(uint64_t domain, uint64_t key, bool exclusive);

// Process-wide counters (allocation hints, cache generations): add delta and store the new
// value in *out. A sum past +-limit is refused (false, the counter unchanged): callers keep
// counters within what they can represent (JavaScript: 2^53 - 1), and never overflow int64.
bool counter_add(uint64_t domain, uint64_t key, int64_t delta, int64_t limit, int64_t *out);
// A counter's storage, for the life of the process: any thread may load it without a call.
std::atomic<int64_t> *counter_cell(uint64_t domain, uint64_t key);

}  // namespace daxfs
