#include "lock.h"

#include "statx.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <pthread.h>
#include <map>
#include <mutex>
#include <utility>

namespace daxfs {

// --- device claims ---------------------------------------------------------------------

struct Claim {
  int fd;
  int count;
};

static std::mutex g_claims_mutex;
static std::map<uint64_t, Claim> g_claims;

static uint64_t identity(const FileIdentity &st) {
  // Mix the device into the high bits: inode numbers stay well below 2^40 in practice.
  return (static_cast<uint64_t>(st.dev) << 40) ^ static_cast<uint64_t>(st.ino);
}

int device_claim(const char *path, uint64_t *id) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return errno;
  FileIdentity st;
  if (int err = identify(fd, st)) {
    close(fd);
    return err;
  }
  // Keep ids within JavaScript's safe integers.
  uint64_t key = identity(st) & ((1ull << 53) - 1);
  std::lock_guard<std::mutex> lock(g_claims_mutex);
  auto it = g_claims.find(key);
  if (it != g_claims.end()) {
    close(fd);
    it->second.count++;
    *id = key;
    return 0;
  }
  if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
    int err = errno == EWOULDBLOCK ? EBUSY : errno;
    close(fd);
    return err;
  }
  g_claims[key] = Claim{fd, 1};
  *id = key;
  return 0;
}

void device_release(uint64_t id) {
  std::lock_guard<std::mutex> lock(g_claims_mutex);
  auto it = g_claims.find(id);
  if (it == g_claims.end()) return;
  if (--it->second.count == 0) {
    close(it->second.fd);  // closing the last descriptor drops the flock
    g_claims.erase(it);
  }
}

int device_claims(uint64_t id) {
  std::lock_guard<std::mutex> lock(g_claims_mutex);
  auto it = g_claims.find(id);
  return it == g_claims.end() ? 0 : it->second.count;
}

// --- reader/writer locks -----------------------------------------------------------------

// pthread primitives rather than std::condition_variable: its wait() would tie the addon
// to a newer libstdc++ than Node itself needs.
struct RwEntry {
  int readers = 0;
  bool writer = false;
  int waitingWriters = 0;
  int users = 0;  // threads holding or waiting: the entry is freed at 0
  pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
  ~RwEntry() { pthread_cond_destroy(&cv); }
};

static pthread_mutex_t g_rw_mutex = PTHREAD_MUTEX_INITIALIZER;

struct RwGuard {
  RwGuard() { pthread_mutex_lock(&g_rw_mutex); }
  ~RwGuard() { pthread_mutex_unlock(&g_rw_mutex); }
};
static std::map<std::pair<uint64_t, uint64_t>, RwEntry> g_rw;

static bool can_take(const RwEntry &e, bool exclusive) {
  return exclusive ? (!e.writer && e.readers == 0) : (!e.writer && e.waitingWriters == 0);
}

static void take(RwEntry &e, bool exclusive) {
  if (exclusive) e.writer = true; else e.readers++;
}

void rw_lock(uint64_t domain, uint64_t key, bool exclusive) {
  RwGuard guard;
  RwEntry &e = g_rw[{domain, key}];
  e.users++;
  if (exclusive) e.waitingWriters++;
  while (exclusive ? (e.writer || e.readers != 0) : (e.writer || e.waitingWriters != 0)) pthread_cond_wait(&e.cv, &g_rw_mutex);
  if (exclusive) e.waitingWriters--;
  take(e, exclusive);
}

bool rw_try_lock(uint64_t domain, uint64_t key, bool exclusive) {
  RwGuard guard;
  RwEntry &e = g_rw[{domain, key}];
  if (!can_take(e, exclusive)) {
    if (e.users == 0) g_rw.erase({domain, key});
    return false;
  }
  e.users++;
  take(e, exclusive);
  return true;
}

bool rw_unlock(uint64_t domain, uint64_t key, bool exclusive) {
  RwGuard guard;
  auto it = g_rw.find({domain, key});
  if (it == g_rw.end()) return false;
  RwEntry &e = it->second;
  if (exclusive ? !e.writer : e.readers == 0) return false;
  if (exclusive) e.writer = false; else e.readers--;
  if (--e.users == 0) {
    g_rw.erase(it);
  } else {
    pthread_cond_broadcast(&e.cv);
  }
  return true;
}

// --- counters ----------------------------------------------------------------------------

// Entries are never erased, so a cell's address holds for the life of the process.
static std::mutex g_counter_mutex;
static std::map<std::pair<uint64_t, uint64_t>, std::atomic<int64_t>> g_counters;

bool counter_add(uint64_t domain, uint64_t key, int64_t delta, int64_t limit, int64_t *out) {
  std::lock_guard<std::mutex> lock(g_counter_mutex);
  // Every add holds the mutex, so load-check-store cannot lose an update; the cell is atomic
  // for the threads that read it through counter_cell without a call.
  std::atomic<int64_t> &value = g_counters[{domain, key}];
  int64_t sum;
  if (__builtin_add_overflow(value.load(), delta, &sum) || sum > limit || sum < -limit) return false;
  value.store(sum);
  *out = sum;
  return true;
}

std::atomic<int64_t> *counter_cell(uint64_t domain, uint64_t key) {
  std::lock_guard<std::mutex> lock(g_counter_mutex);
  return &g_counters[{domain, key}];
}

}  // namespace daxfs
